//! The metadata cache of a mount: made persistent once the vault id is known, and the mode it
//! runs with noted for `vault status -l` (a file beside the mount's `vault auth` socket). Apart
//! from `cli::cache` so that the settings depend on no command-level module.

use std::path::PathBuf;

use vault_storage::cached::{CachedStorage, Store, StoreError};

use super::cache::{CacheMode, folder};
use super::exit::{CliError, CliResult};
use super::storage_arg::StorageSpec;

/// How long a mount waits for another process to let go of the cache before refusing.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Makes `cached` persistent for a mount of vault `vault_id` from `storage_arg`. A cache that
/// another mount holds is refused when the mode was asked for (`explicit`), else the mount goes
/// on without persistence (logged).
pub fn persist(
    cached: &CachedStorage,
    vault_id: &str,
    storage_arg: &str,
    spec: &StorageSpec,
    s3: &super::args::S3Args,
    explicit: bool,
) -> CliResult<CacheMode> {
    let key = super::remember::storage_key(storage_arg, spec, Some(s3))
        .unwrap_or_else(|| storage_arg.into());
    let dir = match folder(vault_id, &key) {
        Ok(d) => d,
        Err(e) if explicit => return Err(e),
        Err(e) => {
            tracing::warn!("{}; mounting without a persistent cache", e.message);
            return Ok(CacheMode::Off);
        }
    };
    if cached.store_dir() == Some(dir.as_path()) {
        // Attached already: an offline start found it through the index.
        return Ok(CacheMode::Metadata);
    }
    // A mount of this vault that was just unmounted lets go of the lock when its daemon exits.
    match Store::open_waiting(&dir, LOCK_WAIT) {
        Ok(store) => {
            tracing::info!(cache = %dir.display(), "metadata cache");
            cached.attach(store);
            super::cache::write_index(&key, &dir);
            Ok(CacheMode::Metadata)
        }
        Err(e @ StoreError::Locked { .. }) if explicit => Err(CliError::other(format!(
            "{e}: this vault on {storage_arg} is already mounted with --cache=metadata; unmount it first, or mount with --cache=off"
        ))),
        Err(e) if explicit => Err(CliError::other(e.to_string())),
        Err(e) => {
            tracing::warn!("{e}; mounting without a persistent cache");
            Ok(CacheMode::Off)
        }
    }
}

/// The mode a mount runs with, for `vault status -l`: a file beside the mount's `vault auth`
/// socket, removed when the mount ends.
pub struct ModeNote(Option<PathBuf>);

impl ModeNote {
    fn path(mountpoint: &std::path::Path) -> Option<PathBuf> {
        let socket = super::reauth::socket_path(&super::reauth::mount_key(mountpoint)).ok()?;
        let mut name = socket.file_name()?.to_os_string();
        name.push(".cache");
        Some(socket.with_file_name(name))
    }

    /// Records `mode` for the mount at `mountpoint`.
    pub fn write(mountpoint: &std::path::Path, mode: CacheMode) -> ModeNote {
        let path = Self::path(mountpoint);
        if let Some(p) = &path
            && let Err(e) = std::fs::write(p, mode.as_str())
        {
            tracing::debug!(file = %p.display(), error = %e, "cache mode not recorded");
        }
        ModeNote(path)
    }

    /// The mode recorded for the mount at `mountpoint` (`-` if none is).
    pub fn read(mountpoint: &std::path::Path) -> String {
        Self::path(mountpoint)
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| s == "off" || s == "metadata" || s == "full")
            .unwrap_or_else(|| "-".into())
    }
}

impl Drop for ModeNote {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}
