//! `vault unmount MOUNTPOINT|NAME [--force]`.

use std::path::{Path, PathBuf};

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

/// Where the named vault `name` is mounted: its configured mountpoint, else the mount whose
/// source is its STORAGE.
pub(crate) fn named_mountpoint(name: &str) -> CliResult<PathBuf> {
    let (file, config) = crate::cli::config::load()?;
    let entry = config.vaults.get(name).ok_or_else(|| {
        CliError::usage(format!(
            "{name}: no such mountpoint, and no vault named {name:?} in {}",
            file.display()
        ))
    })?;
    if let Some(mp) = &entry.mountpoint {
        return Ok(mp.clone());
    }
    super::named::mounted_at(entry)
        .ok_or_else(|| CliError::other(format!("vault {name} is not mounted")))
}
