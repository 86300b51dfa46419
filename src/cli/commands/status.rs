//! `vault status`: this user's mounted vaults.

use crate::cli::exit::CliResult;

/// One line per mount: `MOUNTPOINT  SOURCE  rw|ro`, with `-l` then `cache=off|metadata|full`
/// (and for `full` the upload queue: `pending=`, `bytes=`, `oldest=`, `conflicts=`,
/// `last_error=`), plus
/// `waiting for authentication: run `vault auth MOUNTPOINT`` while a reconnect waits for an
/// answer.
pub fn run(long: bool) -> CliResult {
    crate::cli::sidebar::sweep();
    let mounts = vault_fs::mounted_vaults();
    if mounts.is_empty() {
        eprintln!("no vaults mounted");
        return Ok(());
    }
    for m in mounts {
        let cache = if long {
            format!(
                "\tcache={}{}",
                crate::cli::cache_mount::ModeNote::read(&m.mountpoint),
                queue_columns(&m.mountpoint)
            )
        } else {
            String::new()
        };
        println!(
            "{}\t{}\t{}{cache}{}",
            m.mountpoint.display(),
            m.source,
            if m.read_only { "ro" } else { "rw" },
            auth_note(&m.mountpoint)
        );
    }
    Ok(())
}

/// `-l` columns of a `--cache=full` mount: its upload queue.
fn queue_columns(mountpoint: &std::path::Path) -> String {
    use crate::cli::queue_mount;
    match queue_mount::read(mountpoint).filter(|s| s.state != "ended") {
        Some(seen) => {
            let s = seen.stats;
            format!(
                "\tpending={}\tbytes={}\toldest={}\tconflicts={}\tlast_error={}",
                s.pending,
                s.bytes,
                queue_mount::age(s.oldest),
                s.conflicts,
                s.last_error.as_deref().unwrap_or("-")
            )
        }
        None => String::new(),
    }
}

/// The extra column of a mount whose reconnect waits for `vault auth`.
fn auth_note(mountpoint: &std::path::Path) -> String {
    if crate::cli::reauth::is_waiting(mountpoint) {
        format!(
            "\twaiting for authentication: run `vault auth {}`",
            mountpoint.display()
        )
    } else {
        String::new()
    }
}
