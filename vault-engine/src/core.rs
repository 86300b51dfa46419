//! The shared state of an unlocked vault ([`Core`]): storage, cryptor,
//! configuration, caches and tables. [`crate::Vault`] and every
//! [`crate::OpenFile`] hold an `Arc<Core>`.
//!
//! Also the small helpers every module uses: content-directory paths,
//! node locations, the read-only guard and error mapping.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;
use vault_format::{Cryptor, VaultConfig};
use vault_storage::{Capabilities, Storage, StorageError, StorageErrorKind, StoragePath};

use crate::background::BackgroundCommits;
use crate::dir_ids::{DirCache, DirLocks};
use crate::live_temps::LiveTemps;
use crate::names::{self, NodeLoc};
use crate::open_table::OpenTable;
use crate::presented::Presentations;
use crate::removals::Removals;
use crate::removals::overlay::RemovalsOverlay;
use crate::{DirId, VaultError, VaultErrorKind};

/// Prefix of the hidden shadow objects that hold an unfinished write (docs/vault-format.md §10
/// ignores `.`-prefixed entries; no `.c9r` suffix so no client takes them for nodes).
pub(crate) use vault_storage::TEMP_PREFIX;

/// A fresh hidden temp name in the folder `folder` (a shadow object, a node built or moved
/// aside).
pub(crate) fn temp_path_in(folder: &StoragePath) -> Result<StoragePath, VaultError> {
    Ok(folder.join(&format!(
        "{TEMP_PREFIX}{}",
        vault_format::layout::new_dir_id()
    ))?)
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) struct Core {
    pub storage: Arc<dyn Storage>,
    pub cryptor: Cryptor,
    pub config: VaultConfig,
    pub read_only: bool,
    pub caps: Capabilities,
    pub dir_cache: DirCache,
    pub dir_locks: DirLocks,
    content_dirs: Mutex<LruCache<DirId, StoragePath>>,
    /// Open files by the storage path of their ciphertext.
    pub open_files: OpenTable,
    /// Shadow objects in use (never removed by `check --repair`).
    pub live_temps: LiveTemps,
    /// Commits started by dropping a dirty open file without flushing, by
    /// ciphertext path; awaited before the path is opened, moved or removed.
    pub background_commits: BackgroundCommits,
    /// Removals of removed files' objects still to run (hidden from `storage` already).
    pub removals: Arc<Removals>,
    /// What listings presented under names a lookup cannot compute.
    pub presented: Presentations,
    /// Told of every sync-conflict copy a listing handles ([`crate::Vault::on_conflict`]).
    pub conflict_observer: std::sync::OnceLock<crate::ConflictObserver>,
}

impl Core {
    pub fn new(
        storage: Arc<dyn Storage>,
        cryptor: Cryptor,
        config: VaultConfig,
        read_only: bool,
    ) -> Core {
        let caps = storage.capabilities();
        let removals = Arc::new(Removals::new(Arc::clone(&storage)));
        // Only a local folder removes in the background (`Vault::set_background_removals`).
        let storage: Arc<dyn Storage> = if storage.local_io() {
            Arc::new(RemovalsOverlay::new(storage, Arc::clone(&removals)))
        } else {
            storage
        };
        Core {
            storage,
            cryptor,
            config,
            read_only,
            caps,
            dir_cache: DirCache::new(),
            dir_locks: DirLocks::new(),
            content_dirs: Mutex::new(LruCache::new(
                NonZeroUsize::new(4096).unwrap_or(NonZeroUsize::MIN),
            )),
            open_files: OpenTable::default(),
            live_temps: LiveTemps::default(),
            background_commits: BackgroundCommits::default(),
            removals,
            presented: Presentations::default(),
            conflict_observer: std::sync::OnceLock::new(),
        }
    }

    /// Tells the observer, if any, of a sync-conflict copy a listing handled.
    pub fn conflict_seen(&self, name: &str, description: &str, resolved: bool) {
        if let Some(observer) = self.conflict_observer.get() {
            observer(&crate::ConflictEvent {
                name: name.to_string(),
                description: description.to_string(),
                resolved,
            });
        }
    }

    pub fn threshold(&self) -> usize {
        self.config.shortening_threshold
    }

    /// `d/XX/YYYY…` for a directory.
    pub fn content_dir(&self, dir: &DirId) -> Result<StoragePath, VaultError> {
        if let Some(p) = lock(&self.content_dirs).get(dir) {
            return Ok(p.clone());
        }
        let p = StoragePath::new(&self.cryptor.content_dir_path(dir.as_str()))?;
        lock(&self.content_dirs).put(dir.clone(), p.clone());
        Ok(p)
    }

    /// The directory whose content directory is `path`, if this vault computed it recently.
    pub fn dir_id_of(&self, path: &StoragePath) -> Option<DirId> {
        lock(&self.content_dirs)
            .iter()
            .find(|(_, p)| *p == path)
            .map(|(id, _)| id.clone())
    }

    /// Where `name` (encrypted as given, caller normalises) lives in `dir`.
    pub fn loc_exact(&self, dir: &DirId, name: &str) -> Result<NodeLoc, VaultError> {
        let content_dir = self.content_dir(dir)?;
        let enc = self.cryptor.encrypt_name_exact(name, dir.as_str());
        Ok(NodeLoc::for_encrypted(&content_dir, enc, self.threshold()))
    }

    /// Where `name` (NFC-normalised) lives in `dir`.
    pub fn loc(&self, dir: &DirId, name: &str) -> Result<NodeLoc, VaultError> {
        names::validate(name)?;
        self.loc_exact(dir, &names::nfc(name))
    }

    pub fn check_writable(&self) -> Result<(), VaultError> {
        if self.read_only {
            Err(VaultError::node(VaultErrorKind::ReadOnly, "vault"))
        } else {
            Ok(())
        }
    }

    /// Forgets what listings presented for `dir` (after a mutation in it).
    pub fn invalidate_presented(&self, dir: &DirId) {
        self.presented.invalidate(dir);
    }

    /// Forgets what a listing presented under `name` in `dir` (after we
    /// created, removed or renamed that name; see [`Presentations::forget`]).
    pub fn forget_presented(&self, dir: &DirId, name: &str) {
        self.presented.forget(dir, name);
    }

    pub fn clear_caches(&self) {
        self.dir_cache.clear();
        self.presented.clear();
        lock(&self.content_dirs).clear();
    }

    /// Waits for a background commit of `content_path`, if one runs.
    pub async fn await_background(&self, content_path: &str) {
        self.background_commits.wait_for(content_path).await;
    }

    /// Waits for every background commit.
    pub async fn await_all_background(&self) {
        self.background_commits.wait_all().await;
    }
}

/// True when a storage error is "not found" (or "not a folder" along the way).
pub(crate) fn is_not_found(e: &StorageError) -> bool {
    matches!(
        e.kind(),
        StorageErrorKind::NotFound | StorageErrorKind::NotADirectory
    )
}

/// Maps "not found" to a cleartext-level error naming `name`; everything else as is.
pub(crate) fn not_found_as(e: StorageError, name: &str) -> VaultError {
    if is_not_found(&e) {
        VaultError::node(VaultErrorKind::NotFound, name)
    } else {
        VaultError::Storage(e)
    }
}
