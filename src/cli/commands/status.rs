//! `vault status`: this user's mounted vaults.

use crate::cli::exit::CliResult;

/// One line per mount: `MOUNTPOINT  SOURCE  rw|ro`, with `-l` then `cache=off|metadata|full`
/// (and for `full` the upload queue: `pending=`, `bytes=`, `oldest=`, `conflicts=`,
/// `last_error=`, `queue=running|waiting-login`), plus
/// `upload queue waiting for login (N pending): run `vault auth MOUNTPOINT`` while uploads
/// wait for a reconnect's answer, else
/// `waiting for authentication: run `vault auth MOUNTPOINT`` while a reconnect waits for one.
pub fn run(long: bool) -> CliResult {
    crate::cli::sidebar::sweep();
    let mounts = vault_fs::mounted_vaults();
    if mounts.is_empty() {
        eprintln!("no vaults mounted");
        return Ok(());
    }
    for m in mounts {
        let queue = crate::cli::queue_mount::read(&m.mountpoint).filter(|s| s.state != "ended");
        let cache = if long {
            format!(
                "\tcache={}{}",
                crate::cli::cache_mount::ModeNote::read(&m.mountpoint),
                queue_columns(queue.as_ref())
            )
        } else {
            String::new()
        };
        println!(
            "{}\t{}\t{}{cache}{}",
            m.mountpoint.display(),
            m.source,
            if m.read_only { "ro" } else { "rw" },
            auth_note(&m.mountpoint, queue.as_ref())
        );
    }
    Ok(())
}

/// `-l` columns of a `--cache=full` mount: its upload queue.
fn queue_columns(seen: Option<&crate::cli::queue_mount::Seen>) -> String {
    use crate::cli::queue_mount;
    match seen {
        Some(seen) => {
            let s = &seen.stats;
            format!(
                "\tpending={}\tbytes={}\toldest={}\tconflicts={}\tlast_error={}\tqueue={}",
                s.pending,
                s.bytes,
                queue_mount::age(s.oldest),
                s.conflicts,
                s.last_error.as_deref().unwrap_or("-"),
                seen.state
            )
        }
        None => String::new(),
    }
}

/// The extra column of a mount whose uploads or reconnect wait for `vault auth`.
fn auth_note(
    mountpoint: &std::path::Path,
    queue: Option<&crate::cli::queue_mount::Seen>,
) -> String {
    if let Some(seen) = queue.filter(|s| s.state == crate::cli::queue_mount::WAITING_LOGIN) {
        format!(
            "\tupload queue waiting for login ({} pending): run `vault auth {}`",
            seen.stats.pending,
            mountpoint.display()
        )
    } else if crate::cli::reauth::is_waiting(mountpoint) {
        format!(
            "\twaiting for authentication: run `vault auth {}`",
            mountpoint.display()
        )
    } else {
        String::new()
    }
}
