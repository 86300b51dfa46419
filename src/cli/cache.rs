//! The metadata cache on the CLI side: `--cache=off|metadata|full`, `--dir-cache-time`, which
//! storages get the cache, and the per-vault cache folder
//! `$XDG_CACHE_HOME/vault/<sha256 of vault id and normalised STORAGE>/`.
//!
//! Every command talks to a remote storage through the in-memory cache
//! ([`vault_storage::cached`]): within `--dir-cache-time` the looks one operation takes at a
//! folder cost one request. Only a mount with mode `metadata` persists it; the folder is named
//! after the vault id (known once the vault is unlocked and its config verified) and the
//! normalised STORAGE, so the same vault copied to another storage gets its own cache.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use vault_storage::Storage;
use vault_storage::cached::{CacheOptions, CachedStorage};

use super::exit::{CliError, CliResult};

/// `--cache` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    /// Nothing persistent (an in-memory cache for `--dir-cache-time` only).
    Off,
    /// Listings and attributes kept on disk across remounts and link cuts.
    Metadata,
    /// `metadata`, file content kept on disk (read files, pinned files: keep offline), and
    /// writes go through the upload queue (a journal in the cache folder).
    Full,
}

impl CacheMode {
    /// The word `vault status -l` shows.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheMode::Off => "off",
            CacheMode::Metadata => "metadata",
            CacheMode::Full => "full",
        }
    }
}

/// Parses a `--cache` / `-o cache=` / config `cache` value.
pub fn parse_mode(s: &str) -> Result<CacheMode, String> {
    match s {
        "off" => Ok(CacheMode::Off),
        "metadata" => Ok(CacheMode::Metadata),
        "full" => Ok(CacheMode::Full),
        other => Err(format!(
            "invalid cache mode {other:?} (expected off, metadata or full)"
        )),
    }
}

/// The default mode for a storage (README "Cache" explains the choice): none for a local folder
/// (no network to wait for, and other programs change it), `metadata` for the network ones
/// (sftp, WebDAV, S3).
pub fn default_mode(local: bool) -> CacheMode {
    if local {
        CacheMode::Off
    } else {
        CacheMode::Metadata
    }
}

/// The cache a command asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct CacheChoice {
    /// `--cache` (or the named vault's `cache`); `None`: the storage's default.
    pub mode: Option<CacheMode>,
    /// `--dir-cache-time`; `None`: [`vault_storage::cached::DEFAULT_TTL`].
    pub ttl: Option<Duration>,
}

impl CacheChoice {
    /// The mode for a storage (`local`: a local folder).
    pub fn mode_for(&self, local: bool) -> CacheMode {
        self.mode.unwrap_or_else(|| default_mode(local))
    }

    fn options(&self) -> CacheOptions {
        CacheOptions {
            ttl: self.ttl.unwrap_or(vault_storage::cached::DEFAULT_TTL),
            ..CacheOptions::default()
        }
    }
}

/// `storage` behind the in-memory cache, unless it is a local folder for which neither
/// `--cache=metadata` nor `--dir-cache-time` asked for one (its answers cost a system call, and
/// other programs change it under us), or `--cache=off --dir-cache-time=0` asked for none.
pub fn wrap(
    storage: Arc<dyn Storage>,
    local: bool,
    choice: &CacheChoice,
) -> (Arc<dyn Storage>, Option<Arc<CachedStorage>>) {
    if local && choice.mode_for(local) == CacheMode::Off && choice.ttl.is_none() {
        return (storage, None);
    }
    if choice.ttl == Some(Duration::ZERO) && choice.mode_for(local) == CacheMode::Off {
        return (storage, None);
    }
    let cached = Arc::new(CachedStorage::new(storage, choice.options()));
    (cached.clone(), Some(cached))
}

/// `$XDG_CACHE_HOME/vault` (or `~/.cache/vault`).
fn base() -> CliResult<PathBuf> {
    match std::env::var_os("XDG_CACHE_HOME").filter(|p| !p.is_empty()) {
        Some(x) => Ok(PathBuf::from(x).join("vault")),
        None => match std::env::var_os("HOME").filter(|p| !p.is_empty()) {
            Some(h) => Ok(PathBuf::from(h).join(".cache").join("vault")),
            None => Err(CliError::other(
                "cannot find the cache folder: neither XDG_CACHE_HOME nor HOME is set",
            )),
        },
    }
}

fn hex_sha256(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update([0u8]);
        }
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The cache folder of vault `vault_id` on `storage_key` (the normalised STORAGE).
pub fn folder(vault_id: &str, storage_key: &str) -> CliResult<PathBuf> {
    Ok(base()?.join(hex_sha256(&[vault_id.as_bytes(), storage_key.as_bytes()])))
}

/// The index that finds a storage's cache folder before the vault is unlocked (an offline
/// start cannot learn the vault id from the server): `by-storage/<sha256 of "by-storage" and
/// the normalised STORAGE>`, a file holding the cache folder's name. The last mount with a
/// persistent cache of that STORAGE wrote it.
fn index_file(storage_key: &str) -> CliResult<PathBuf> {
    Ok(base()?
        .join("by-storage")
        .join(hex_sha256(&[b"by-storage", storage_key.as_bytes()])))
}

/// Records that `storage_key`'s cache is `dir` (a folder made by [`folder`]).
pub fn write_index(storage_key: &str, dir: &std::path::Path) {
    let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    let result = index_file(storage_key).and_then(|file| {
        let parent = file.parent().map(PathBuf::from).unwrap_or_default();
        let io = |e: std::io::Error| CliError::other(format!("{}: {e}", file.display()));
        private_dir(&parent).map_err(io)?;
        let tmp = file.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        private_file(&tmp)
            .and_then(|mut f| std::io::Write::write_all(&mut f, name.as_bytes()))
            .map_err(io)?;
        std::fs::rename(&tmp, &file).map_err(io)
    });
    if let Err(e) = result {
        tracing::warn!(
            "cache index not written (an offline start will not find the cache): {}",
            e.message
        );
    }
}

/// `dir` (and its parents) made if missing, `dir` itself only for its owner (0700), as the
/// cache folders are.
fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        b.mode(0o700);
        b.create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    b.create(dir)
}

/// A new file only its owner reads (0600).
fn private_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    o.open(path)
}

/// The cache folder [`write_index`] recorded for `storage_key`, if any (and it still exists).
pub fn read_index(storage_key: &str) -> Option<PathBuf> {
    let name = std::fs::read_to_string(index_file(storage_key).ok()?).ok()?;
    let name = name.trim();
    // Only a name [`folder`] makes: the index cannot point anywhere else.
    if name.len() != 64 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let dir = base().ok()?.join(name);
    dir.is_dir().then_some(dir)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(parse_mode("off"), Ok(CacheMode::Off));
        assert_eq!(parse_mode("metadata"), Ok(CacheMode::Metadata));
        assert_eq!(parse_mode("full"), Ok(CacheMode::Full));
        assert!(
            parse_mode("all")
                .unwrap_err()
                .contains("off, metadata or full")
        );
    }

    #[test]
    fn one_folder_per_vault_and_storage() {
        let a = folder("id-1", "sftp://u@h:22/v").unwrap();
        assert_eq!(a, folder("id-1", "sftp://u@h:22/v").unwrap());
        assert_ne!(a, folder("id-2", "sftp://u@h:22/v").unwrap());
        assert_ne!(a, folder("id-1", "sftp://u@h:22/w").unwrap());
        let name = a.file_name().unwrap().to_str().unwrap();
        assert_eq!(name.len(), 64);
        assert!(!name.contains("id-1"));
    }
}
