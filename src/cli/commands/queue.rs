//! `vault queue MOUNTPOINT|NAME [--retry]`: a `--cache=full` mount's upload queue.

use std::path::Path;
use std::time::Duration;

use crate::cli::exit::{CliError, CliResult};
use crate::cli::queue_mount::{self, QueueFiles};

/// Prints the queue's figures and its pending ops (oldest first: kind, failed attempts, bytes,
/// storage path); `--retry` asks the daemon to try every waiting op now.
pub fn run(target: &Path, retry: bool) -> CliResult {
    let abs = super::unmount::target(target)?;
    let Some(seen) = queue_mount::read(&abs).filter(|s| s.state != "ended") else {
        return Err(CliError::other(format!(
            "{} is not a mount with an upload queue (mount with --cache=full)",
            abs.display()
        )));
    };
    if retry {
        let files = QueueFiles::of(&abs)
            .ok_or_else(|| CliError::other("cannot find the mount's runtime folder"))?;
        std::fs::write(files.retry(), b"")
            .map_err(|e| CliError::other(format!("{}: {e}", files.retry().display())))?;
        // The daemon takes the request within a second.
        let t = std::time::Instant::now();
        while files.retry().exists() && t.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(100));
        }
        if files.retry().exists() {
            let _ = std::fs::remove_file(files.retry());
            return Err(CliError::other(
                "the mount's daemon did not answer the retry",
            ));
        }
        eprintln!("vault: retrying {} pending uploads now", seen.stats.pending);
    }
    let s = &seen.stats;
    println!(
        "pending={}\tbytes={}\toldest={}\tconflicts={}\tlast_error={}\tqueue={}",
        s.pending,
        s.bytes,
        queue_mount::age(s.oldest),
        s.conflicts,
        s.last_error.as_deref().unwrap_or("-"),
        seen.state
    );
    if seen.state == queue_mount::WAITING_LOGIN {
        eprintln!(
            "vault: the upload queue waits for a login: run `vault auth {}`",
            abs.display()
        );
    }
    for (kind, attempts, len, path) in &seen.ops {
        println!("{kind}\t{attempts}\t{len}\t{path}");
    }
    Ok(())
}
