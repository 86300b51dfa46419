//! `vault unmount MOUNTPOINT|NAME [--force]`.

use std::path::Path;

use crate::cli::exit::{CliError, CliResult};

/// Flushes and unmounts; `--force` clears a stale mount whose daemon died.
pub fn run(mountpoint: &Path, force: bool) -> CliResult {
    let s = mountpoint.to_string_lossy();
    let looks_like_path = s.contains('/')
        || s.starts_with('.')
        || s.starts_with('~')
        || !matches!(std::fs::symlink_metadata(mountpoint), Err(e) if e.kind() == std::io::ErrorKind::NotFound);
    let abs = if looks_like_path {
        std::path::absolute(mountpoint).unwrap_or_else(|_| mountpoint.to_path_buf())
    } else {
        named_mountpoint(&s)?
    };
    crate::cli::sidebar::sweep();
    vault_fs::unmount(&abs, force).map_err(|e| CliError::other(e.to_string()))?;
    crate::cli::sidebar::unmounted(&std::fs::canonicalize(&abs).unwrap_or(abs));
    Ok(())
}

pub(crate) use crate::cli::mounted::named_mountpoint;
