//! `vault unmount MOUNTPOINT|NAME [--force] [--leave-pending]`.

use std::path::Path;
use std::time::Duration;

use crate::cli::exit::{CliError, CliResult};
use crate::cli::queue_mount::{self, QueueFiles};

/// Flushes and unmounts; `--force` clears a stale mount whose daemon died. A `--cache=full`
/// mount's daemon then waits for its upload queue (at most its `drain_timeout`, or until Ctrl-C
/// here), unless `leave_pending`.
pub fn run(mountpoint: &Path, force: bool, leave_pending: bool, quiet: bool) -> CliResult {
    let abs = target(mountpoint)?;
    crate::cli::sidebar::sweep();
    let queued =
        !force && !leave_pending && queue_mount::read(&abs).is_some_and(|s| s.state == "running");
    let files = QueueFiles::of(&abs);
    if queued && let Some(f) = &files {
        // Asked before the unmount: the daemon looks for it once the mount has ended.
        let _ = std::fs::write(f.drain(), b"");
    }
    let unmounted = vault_fs::unmount(&abs, force).map_err(|e| CliError::other(e.to_string()));
    if let Err(e) = unmounted {
        if let Some(f) = &files {
            let _ = std::fs::remove_file(f.drain());
        }
        return Err(e);
    }
    crate::cli::sidebar::unmounted(&std::fs::canonicalize(&abs).unwrap_or(abs.clone()));
    if queued && let Some(f) = &files {
        wait_for_queue(&abs, f, quiet)?;
    }
    if !force {
        wait_for_daemon(&abs, quiet);
    }
    Ok(())
}

/// Returns once the mount's daemon has stored what was written before the unmount (files
/// closed just before are stored after the kernel let go), at most `UNMOUNT_WAIT`.
fn wait_for_daemon(abs: &Path, quiet: bool) {
    use crate::cli::daemon_life::{UNMOUNT_WAIT, Waited, wait_finished};
    let said = |text: String| {
        if !quiet {
            eprintln!("vault: {text}");
        }
    };
    let waited = wait_finished(abs, UNMOUNT_WAIT, || {
        said(format!(
            "{}: storing the last changes (Ctrl-C stops waiting; the daemon goes on)",
            abs.display()
        ))
    });
    if waited == Waited::StillRunning {
        tracing::warn!(mountpoint = %abs.display(), "the daemon is still storing after the unmount wait");
        said(format!(
            "{}: the daemon is still storing changes after {} s; it goes on in the background",
            abs.display(),
            UNMOUNT_WAIT.as_secs()
        ));
    }
}

/// The mountpoint `MOUNTPOINT|NAME` names.
pub(crate) fn target(mountpoint: &Path) -> CliResult<std::path::PathBuf> {
    let s = mountpoint.to_string_lossy();
    let looks_like_path = s.contains('/')
        || s.starts_with('.')
        || s.starts_with('~')
        || !matches!(std::fs::symlink_metadata(mountpoint), Err(e) if e.kind() == std::io::ErrorKind::NotFound);
    Ok(if looks_like_path {
        std::path::absolute(mountpoint).unwrap_or_else(|_| mountpoint.to_path_buf())
    } else {
        named_mountpoint(&s)?
    })
}

/// Shows the daemon's progress until it reports the end; Ctrl-C tells it to stop waiting.
fn wait_for_queue(abs: &Path, files: &QueueFiles, quiet: bool) -> CliResult {
    let rt = crate::cli::runtime()?;
    let interrupted = rt.block_on(async {
        let mut shown = None;
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            // `None` once the daemon is gone without saying it ended.
            match &queue_mount::read(abs) {
                Some(s) if s.state == "ended" => return false,
                Some(s) => {
                    let now = (s.stats.pending, s.stats.bytes);
                    if !quiet && s.stats.pending > 0 && shown != Some(now) {
                        eprintln!(
                            "vault: uploading: {} pending ({} bytes); Ctrl-C leaves them in the journal",
                            now.0, now.1
                        );
                        shown = Some(now);
                    }
                }
                None => return false,
            }
            tokio::select! {
                _ = &mut ctrl_c => return true,
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    });
    if interrupted {
        let _ = std::fs::remove_file(files.drain());
        // The daemon notices within a moment and records what it left.
        std::thread::sleep(Duration::from_millis(800));
    }
    let left = queue_mount::read(abs).map(|s| s.stats).unwrap_or_default();
    let _ = std::fs::remove_file(files.status());
    if left.pending > 0 {
        eprintln!(
            "vault: {} uploads ({} bytes) left pending in the journal; they resume on the next mount of this vault",
            left.pending, left.bytes
        );
    }
    Ok(())
}

pub(crate) use crate::cli::mounted::named_mountpoint;
