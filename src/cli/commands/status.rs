//! `vault status`: this user's mounted vaults.

use crate::cli::exit::CliResult;

/// One line per mount: `MOUNTPOINT  SOURCE  rw|ro`, with `-l` then `cache=off|metadata`, plus
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
                "\tcache={}",
                crate::cli::cache_mount::ModeNote::read(&m.mountpoint)
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
