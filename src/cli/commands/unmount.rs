//! `vault unmount MOUNTPOINT [--force]`.

use std::path::Path;

use crate::cli::exit::{CliError, CliResult};

/// Flushes and unmounts; `--force` clears a stale mount whose daemon died.
pub fn run(mountpoint: &Path, force: bool) -> CliResult {
    let s = mountpoint.to_string_lossy();
    let looks_like_path = s.contains('/')
        || s.starts_with('.')
        || s.starts_with('~')
        || !matches!(std::fs::symlink_metadata(mountpoint), Err(e) if e.kind() == std::io::ErrorKind::NotFound);
    if !looks_like_path {
        return Err(CliError::usage(format!(
            "{}: no such mountpoint (named vaults are not configured yet; give the mountpoint's path)",
            mountpoint.display()
        )));
    }
    let abs = std::path::absolute(mountpoint).unwrap_or_else(|_| mountpoint.to_path_buf());
    vault_fs::unmount(&abs, force).map_err(|e| CliError::other(e.to_string()))
}
