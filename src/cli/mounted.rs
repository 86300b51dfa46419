//! Where a named vault is mounted: shared by `vault list`, `vault unmount NAME` and `vault auth NAME`.
//!
//! Below the commands and the mount session so both may ask without naming each other.

use std::path::PathBuf;

use super::config::{self, VaultEntry};
use super::exit::{CliError, CliResult};
use super::{remember, storage_arg};

/// Where `entry`'s vault is mounted (the mount list `vault status` prints), if it is: a mount
/// whose source is the entry's STORAGE (compared normalised), preferring its mountpoint.
pub fn mounted_at(entry: &VaultEntry) -> Option<PathBuf> {
    let key = |s: &str| {
        storage_arg::parse(s)
            .ok()
            .and_then(|spec| remember::storage_key(s, &spec, None))
            .unwrap_or_else(|| s.to_string())
    };
    let want = key(&entry.storage);
    let mounts: Vec<_> = vault_fs::mounted_vaults()
        .into_iter()
        .filter(|m| m.source == entry.storage || key(&m.source) == want)
        .collect();
    let configured = entry
        .mountpoint
        .as_ref()
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()));
    mounts
        .iter()
        .find(|m| Some(&m.mountpoint) == configured.as_ref())
        .or_else(|| mounts.first())
        .map(|m| m.mountpoint.clone())
}

/// Where the named vault `name` is mounted: its configured mountpoint, else the mount whose
/// source is its STORAGE.
pub fn named_mountpoint(name: &str) -> CliResult<PathBuf> {
    let (file, config) = config::load()?;
    let entry = config.vaults.get(name).ok_or_else(|| {
        CliError::usage(format!(
            "{name}: no such mountpoint, and no vault named {name:?} in {}",
            file.display()
        ))
    })?;
    if let Some(mp) = &entry.mountpoint {
        return Ok(mp.clone());
    }
    mounted_at(entry).ok_or_else(|| CliError::other(format!("vault {name} is not mounted")))
}
