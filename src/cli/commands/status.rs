//! `vault status`: this user's mounted vaults.

use crate::cli::exit::CliResult;

/// One line per mount: `MOUNTPOINT  SOURCE  rw|ro`.
pub fn run() -> CliResult {
    let mounts = vault_fs::mounted_vaults();
    if mounts.is_empty() {
        eprintln!("no vaults mounted");
        return Ok(());
    }
    for m in mounts {
        println!(
            "{}\t{}\t{}",
            m.mountpoint.display(),
            m.source,
            if m.read_only { "ro" } else { "rw" }
        );
    }
    Ok(())
}
