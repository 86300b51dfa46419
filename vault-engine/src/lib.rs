//! The vault engine: cleartext paths and bytes over ciphertext in any
//! [`vault_storage::Storage`]. Meets `vault-format` (crypto, layout) and
//! `vault-storage` (bytes somewhere); neither knows the other.
//!
//! CONTRACT: the public signatures below are what the CLI and the filesystem
//! layer code against; change one only together with its callers.
//!
//! Module map (internals):
//! - `core`: shared state of an unlocked vault (storage, cryptor, caches, tables);
//! - `unlock`: create, unlock, change or reset the password (docs/vault-format.md §2, §3, §12, §13);
//! - `names`: cleartext name validation, NFC, ciphertext locations (docs/vault-format.md §6, §8);
//! - `dir_ids`: the `(parent, name) → DirId` LRU cache and per-directory locks;
//! - `detect`: node type detection (docs/vault-format.md §7) and the `Node` it yields (a leaf);
//! - `nodes`: lookup, create/remove/rename;
//! - `new_file`: a new file stored whole by one no-replace write (`vault put`);
//! - `listing`: directory listings (docs/vault-format.md §5–§8) with sync-conflict handling (`conflicts`, docs/vault-format.md §10);
//! - `open_file`: [`OpenFile`]: chunk cache, shadow write path, atomic commit (`shadow`);
//!   the table of open files (`open_table`) is owned by `core` without naming `OpenFile`;
//! - [`check`]: the health check; `backups`: old versions a cut-off replace left aside.

use std::sync::Arc;
use std::time::SystemTime;

use vault_format::CipherCombo;
use vault_storage::Storage;

mod error;
pub use error::{VaultError, VaultErrorKind};
pub use vault_storage::run_io_inline;

/// A directory's ID (docs/vault-format.md §5): `""` for the root, a UUID otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DirId(Arc<str>);

impl DirId {
    /// The root directory's ID, the empty string.
    pub fn root() -> Self {
        DirId(Arc::from(""))
    }
    /// Wraps an ID read from a `dir.c9r`.
    pub fn new(id: &str) -> Self {
        DirId(Arc::from(id))
    }
    /// The ID string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// True for the root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a cleartext node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// A regular file.
    File,
    /// A directory, with the ID its children are encrypted under.
    Dir(DirId),
    /// A symbolic link (target read with [`Vault::read_symlink`]).
    Symlink,
}

/// One cleartext node as found by [`Vault::lookup`] or [`Vault::list`].
#[derive(Debug, Clone)]
pub struct Node {
    /// The directory that contains it.
    pub parent: DirId,
    /// Its cleartext name (NFC, or as stored for foreign NFD names).
    pub name: String,
    /// File, directory or symlink.
    pub kind: NodeKind,
    /// Cleartext size: files from the ciphertext length (no content read);
    /// symlinks the target length when known, else 0; directories 0.
    pub size: u64,
    /// Modification time from storage.
    pub modified: Option<SystemTime>,
    /// True when the file's ciphertext length maps to no cleartext size
    /// (docs/vault-format.md §11): listed with size 0, reads fail with `Corrupt`.
    pub damaged: bool,
    /// Ciphertext location (storage path of the node entry), for logs and `check`.
    pub storage_path: String,
}

/// A listing from [`Vault::list_checked`].
#[derive(Debug)]
pub struct Listed {
    /// The nodes, as [`Vault::list`] returns them.
    pub nodes: Vec<Node>,
    /// Nodes left out because their decrypted name could escape a path.
    pub refused: Vec<VaultError>,
    /// Sync-conflict copies presented (or hidden) that
    /// [`Vault::resolve_conflicts`] would rename or delete.
    pub unresolved_conflicts: usize,
}

/// Options for opening a vault.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Never write to storage: sync-conflict copies are presented, not resolved
    /// (docs/cli.md "Sync conflicts"); every mutation fails with `ReadOnly`.
    pub read_only: bool,
}

/// Options for creating a vault.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// Content cipher; SIV_GCM for new vaults.
    pub cipher_combo: CipherCombo,
    /// scrypt cost N (32768 in production; tests may lower it).
    pub scrypt_cost: u64,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            cipher_combo: CipherCombo::SivGcm,
            scrypt_cost: 32768,
        }
    }
}

/// What `vault info` shows.
#[derive(Debug, Clone)]
pub struct VaultInfo {
    /// Vault format (8).
    pub format: u32,
    /// Content cipher.
    pub cipher_combo: CipherCombo,
    /// `shorteningThreshold`.
    pub shortening_threshold: usize,
    /// The vault's id (`jti`).
    pub vault_id: String,
    /// The storage backend's description.
    pub storage: String,
}

/// Space figures in cleartext terms (approximate: ciphertext figures).
#[derive(Debug, Clone, Copy, Default)]
pub struct StatFs {
    /// Total bytes, if known.
    pub total: Option<u64>,
    /// Available bytes, if known.
    pub available: Option<u64>,
}

/// An unlocked vault. Cheap to share (`Arc<Vault>`); all methods take `&self`.
pub struct Vault {
    core: Arc<core::Core>,
    /// Unlocked without asking whether the root folder exists
    /// ([`Vault::unlock_prefetched`]): a `NotFound` in the root is checked then.
    root_unchecked: bool,
}

/// A sync-conflict copy (`NAME (conflicted copy …)`) a resolution renamed or deleted, or a
/// read-only listing presented (docs/vault-format.md §10); see [`Vault::on_conflict`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictEvent {
    /// The cleartext name the copy is listed under now (or the original's name when hidden).
    pub name: String,
    /// What was done, in words.
    pub description: String,
    /// True when storage was changed (renamed or deleted), false when only presented.
    pub resolved: bool,
}

/// Called from the resolving (or read-only listing) task: should return quickly and never block.
pub type ConflictObserver = Box<dyn Fn(&ConflictEvent) + Send + Sync>;

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").finish_non_exhaustive()
    }
}

mod background;
mod backups;
mod conflicts;
mod copy_place;
mod core;
mod detect;
mod dir_ids;
mod dir_move;
mod listing;
mod live_temps;
mod names;
mod new_file;
mod node_removal;
mod nodes;
mod open_file;
mod open_table;
mod presented;
mod read_ahead;
mod relink;
mod removals;
mod scan;
mod shadow;
mod unlock;
pub use copy_place::ConflictPlacer;
pub use dir_ids::{DirRepeat, VisitedDirs};
pub use new_file::{StagedFile, Stager};
pub use open_file::OpenFile;
pub use relink::FolderRecoverer;
pub use vault_format::SecretBuf;

pub mod check;

impl Vault {
    /// Registers the one observer of sync-conflict copies (the mount daemon notifies the
    /// desktop); the engine itself knows nothing of how. False if one was registered already.
    pub fn on_conflict(&self, observer: ConflictObserver) -> bool {
        self.core.conflict_observer.set(observer).is_ok()
    }

    /// Creates a new empty vault in an empty (or missing) storage root:
    /// `masterkey.cryptomator`, `vault.cryptomator`, root content dir + `dirid.c9r`.
    pub async fn create(
        storage: Arc<dyn Storage>,
        password: &str,
        options: CreateOptions,
    ) -> Result<Vault, VaultError> {
        let core = unlock::create(storage, password, options).await?;
        Ok(Vault {
            core: Arc::new(core),
            root_unchecked: false,
        })
    }

    /// Opens an existing vault: config → kid → masterkey → verify → root dir must exist.
    pub async fn unlock(
        storage: Arc<dyn Storage>,
        password: &str,
        options: OpenOptions,
    ) -> Result<Vault, VaultError> {
        let core = unlock::unlock(storage, password, options, Default::default()).await?;
        Ok(Vault {
            core: Arc::new(core),
            root_unchecked: false,
        })
    }

    /// As [`Vault::unlock`], for a caller that already read `vault.cryptomator` (`config`, to
    /// tell "not a vault" before asking for the password), and without the request that
    /// checks the root folder exists: the first listing of the root, or creation in it, that
    /// meets `NotFound` checks then and reports a missing root as [`Vault::unlock`] does.
    /// Two requests fewer for a one-shot command on a remote storage.
    pub async fn unlock_prefetched(
        storage: Arc<dyn Storage>,
        config: Vec<u8>,
        password: &str,
        options: OpenOptions,
    ) -> Result<Vault, VaultError> {
        let prefetched = unlock::Prefetched {
            config: Some(config),
            defer_root_check: true,
        };
        let core = unlock::unlock(storage, password, options, prefetched).await?;
        Ok(Vault {
            core: Arc::new(core),
            root_unchecked: true,
        })
    }

    /// `err` as met by an operation in `dir`: a `NotFound` in the root of a vault opened with
    /// [`Vault::unlock_prefetched`] is "vault is damaged" when the root folder is missing.
    async fn in_dir<T>(&self, dir: &DirId, res: Result<T, VaultError>) -> Result<T, VaultError> {
        match res {
            Err(e)
                if self.root_unchecked && dir.is_root() && e.kind() == VaultErrorKind::NotFound =>
            {
                unlock::check_root(self.core.storage.as_ref(), &self.core.cryptor).await?;
                Err(e)
            }
            other => other,
        }
    }

    /// Changes the password (docs/vault-format.md §13): backup of the old masterkey file,
    /// atomic replace. Keys and data are unchanged.
    pub async fn change_password(
        storage: Arc<dyn Storage>,
        old: &str,
        new: &str,
    ) -> Result<(), VaultError> {
        unlock::change_password(storage, old, new).await
    }

    /// The vault's master key, unlocked with `password` and checked against
    /// `vault.cryptomator` (for the recovery key, docs/vault-format.md §12). Opens nothing else.
    pub async fn unlock_master_key(
        storage: Arc<dyn Storage>,
        password: &str,
    ) -> Result<vault_format::MasterKey, VaultError> {
        unlock::unlock_master_key(storage, password).await
    }

    /// Checks that `key` (e.g. decoded from a recovery key) is this vault's: the
    /// signature of `vault.cryptomator` must verify with it. A key of another vault is
    /// [`VaultError::WrongPassword`]. Writes nothing.
    pub async fn verify_master_key(
        storage: Arc<dyn Storage>,
        key: &vault_format::MasterKey,
    ) -> Result<(), VaultError> {
        unlock::verify_master_key(storage, key).await
    }

    /// Sets a new password from the master key alone (recovery, docs/vault-format.md §12/§13): verifies
    /// `key` against `vault.cryptomator` first (nothing is written otherwise), backs up the
    /// old masterkey file as `<name>.<HEX>.bkup`, then replaces it atomically. Returns the
    /// backup's file name (`None` when there was no masterkey file to back up).
    pub async fn reset_password(
        storage: Arc<dyn Storage>,
        key: &vault_format::MasterKey,
        new: &str,
    ) -> Result<Option<String>, VaultError> {
        unlock::reset_password(storage, key, new).await
    }

    /// Why `storage` holds no vault, when it has no `vault.cryptomator`: `no vault.cryptomator`,
    /// or that it is a Unified Vault Format vault (`vault.uvf`), which is not supported.
    pub async fn missing_config_reason(storage: &dyn Storage) -> String {
        unlock::missing_config_reason(storage).await
    }

    /// Format facts for `vault info`.
    pub fn info(&self) -> VaultInfo {
        let c = &self.core.config;
        VaultInfo {
            format: c.format,
            cipher_combo: c.cipher_combo,
            shortening_threshold: c.shortening_threshold,
            vault_id: c.jti.clone(),
            storage: self.core.storage.describe(),
        }
    }

    /// The storage this vault lives on.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.core.storage
    }

    /// The storage answers with local system calls ([`vault_storage::Storage::local_io`]):
    /// a caller may run requests to completion on a thread of its own.
    pub fn local_io(&self) -> bool {
        self.core.storage.local_io()
    }

    /// The storage is known to be unreachable: calls fail without sending anything
    /// ([`vault_storage::Storage::sends_nothing`], a mount started offline). A caller
    /// must not promise a write it could only make later.
    pub fn storage_unreachable(&self) -> bool {
        self.core.storage.sends_nothing()
    }

    /// True when opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.core.read_only
    }

    /// The root directory.
    pub fn root(&self) -> DirId {
        DirId::root()
    }

    /// Links folders the upload queue recreated back into the tree (see [`FolderRecoverer`]).
    pub fn folder_recoverer(&self) -> FolderRecoverer {
        FolderRecoverer::new(Arc::downgrade(&self.core))
    }

    /// Names new nodes for the upload queue's conflict copies of long-named files (see
    /// [`ConflictPlacer`]).
    pub fn conflict_placer(&self) -> ConflictPlacer {
        ConflictPlacer::new(Arc::downgrade(&self.core))
    }

    /// Finds `name` in `dir` by computing its encrypted name and stat-ing it.
    /// Falls back to the exact (NFD) form and to what a listing presents
    /// (conflict copies, foreign name forms). Never writes.
    pub async fn lookup(&self, dir: &DirId, name: &str) -> Result<Node, VaultError> {
        nodes::lookup(&self.core, dir, name).await
    }

    /// Resolves a `/`-separated cleartext path from the root (`/` or `` = root,
    /// which is returned as a `Dir(root)` node named ``).
    pub async fn resolve(&self, path: &str) -> Result<Node, VaultError> {
        let mut node = nodes::root_node(&self.core)?;
        let mut walked = String::new();
        for component in path.split('/').filter(|c| !c.is_empty()) {
            let NodeKind::Dir(id) = &node.kind else {
                return Err(VaultError::node(VaultErrorKind::NotADirectory, walked));
            };
            let id = id.clone();
            walked.push('/');
            walked.push_str(component);
            node = match nodes::lookup(&self.core, &id, component).await {
                Err(e) if e.kind() == VaultErrorKind::NotFound => {
                    return Err(VaultError::node(VaultErrorKind::NotFound, walked));
                }
                other => other?,
            };
        }
        Ok(node)
    }

    /// The directory at a `/`-separated cleartext path, found by reading each component's
    /// `dir.c9r` directly: one request a level where [`Vault::resolve`] stats the node first.
    /// A name that is not a plain directory node there (another stored form, a conflict copy,
    /// a file) falls back to [`Vault::lookup`]; a non-directory is `NotADirectory`.
    pub async fn resolve_dir(&self, path: &str) -> Result<DirId, VaultError> {
        let mut id = DirId::root();
        let mut walked = String::new();
        for component in path.split('/').filter(|c| !c.is_empty()) {
            walked.push('/');
            walked.push_str(component);
            if let Some(child) = self.dir_by_dir_file(&id, component).await? {
                id = child;
                continue;
            }
            id = match nodes::lookup(&self.core, &id, component).await {
                Ok(Node {
                    kind: NodeKind::Dir(child),
                    ..
                }) => child,
                Ok(_) => return Err(VaultError::node(VaultErrorKind::NotADirectory, walked)),
                Err(e) if e.kind() == VaultErrorKind::NotFound => {
                    return Err(VaultError::node(VaultErrorKind::NotFound, walked));
                }
                Err(e) => return Err(e),
            };
        }
        Ok(id)
    }

    /// `name`'s directory ID from its `dir.c9r` at the computed (NFC) location, or from a
    /// lookup cached earlier; `None` when that is not a readable directory node.
    async fn dir_by_dir_file(&self, dir: &DirId, name: &str) -> Result<Option<DirId>, VaultError> {
        let core = &self.core;
        if let Some(Node {
            kind: NodeKind::Dir(id),
            ..
        }) = core.dir_cache.get(dir, name)
        {
            return Ok(Some(id));
        }
        let loc = core.loc(dir, name)?;
        let dir_file = loc.child(vault_format::layout::DIR_FILE)?;
        let bytes = match detect::read_dir_file(core, &dir_file).await {
            Ok(b) => b,
            // A plain file where the node folder would be.
            Err(e) if e.kind() == VaultErrorKind::NotADirectory => None,
            Err(e) => return Err(e),
        };
        Ok(bytes
            .and_then(|b| vault_format::layout::parse_dir_file(&b).ok())
            .map(|id| DirId::new(&id)))
    }

    /// The storage folder holding `dir`'s children (`d/XX/YYYY…`): what a cache keyed by
    /// storage path (keep offline) pins for a folder. Computed, no request made.
    pub fn storage_dir(&self, dir: &DirId) -> Result<String, VaultError> {
        Ok(self.core.content_dir(dir)?.as_str().to_owned())
    }

    /// Lists a directory: names decrypted, sizes from ciphertext lengths, no
    /// content read. Sorted by name. Never writes: sync-conflict copies are
    /// presented under the names docs/vault-format.md §10 gives them (resolving
    /// them on storage is [`Vault::resolve_conflicts`]).
    pub async fn list(&self, dir: &DirId) -> Result<Vec<Node>, VaultError> {
        let res = listing::list(&self.core, dir).await;
        Ok(self.in_dir(dir, res).await?.nodes)
    }

    /// As [`Vault::list`], and also the nodes refused for names that could
    /// escape a path (each a [`VaultError::Refused`] naming its ciphertext
    /// node), for callers that report them (`ls`, `get -r`, `rm -r`).
    pub async fn list_checked(&self, dir: &DirId) -> Result<Listed, VaultError> {
        let res = listing::list(&self.core, dir).await;
        let listing = self.in_dir(dir, res).await?;
        let refused = listing
            .findings
            .into_iter()
            .filter_map(|f| match f.kind {
                listing::FindingKind::BadName(reason) => Some(VaultError::Refused {
                    storage_path: f.storage_path,
                    reason,
                }),
                _ => None,
            })
            .collect();
        Ok(Listed {
            nodes: listing.nodes,
            refused,
            unresolved_conflicts: listing.unresolved,
        })
    }

    /// Resolves the sync-conflict copies in `dir` on storage as docs/vault-format.md §10
    /// says (renames to the names a listing presents, deletes byte-identical
    /// duplicates), holding the directory's lock like every other mutation. A
    /// read-write mount calls it before presenting a directory, `check --repair`
    /// for every directory. Returns how many copies were renamed or deleted.
    /// `ReadOnly` in a read-only vault.
    pub async fn resolve_conflicts(&self, dir: &DirId) -> Result<usize, VaultError> {
        let findings = conflicts::resolve(&self.core, dir).await?;
        Ok(findings.iter().filter(|f| f.repaired).count())
    }

    /// Creates a directory (node, `dir.c9r`, content dir, `dirid.c9r`, `name.c9s` if long).
    pub async fn create_dir(&self, dir: &DirId, name: &str) -> Result<Node, VaultError> {
        let res = nodes::create_dir(&self.core, dir, name).await;
        self.in_dir(dir, res).await
    }

    /// Creates an empty file (header only). `AlreadyExists` if the name is taken.
    pub async fn create_file(&self, dir: &DirId, name: &str) -> Result<Node, VaultError> {
        let res = nodes::create_file(&self.core, dir, name).await;
        self.in_dir(dir, res).await
    }

    /// Something that encrypts a file's content for [`Vault::create_file_staged`] on a
    /// blocking thread.
    pub fn stager(&self) -> Stager {
        Stager::new(Arc::clone(&self.core))
    }

    /// Creates a file holding `staged`'s content with one no-replace storage write (no
    /// listing or lookup first). `AlreadyExists` if the name is taken (by a file or a
    /// directory; sync-conflict copies a listing would present under it are not looked for).
    /// `staged` stays usable for another try.
    pub async fn create_file_staged(
        &self,
        dir: &DirId,
        name: &str,
        staged: &StagedFile,
    ) -> Result<Node, VaultError> {
        let res = new_file::create_staged(&self.core, dir, name, staged, true).await;
        self.in_dir(dir, res).await
    }

    /// [`Vault::create_file_staged`] without waiting for durability, as a close(2) commits
    /// ([`OpenFile::commit`]): the object is in place atomically when this returns and
    /// durable after [`Vault::sync_file`] of the returned node or [`Vault::flush_all`].
    pub async fn create_file_staged_nosync(
        &self,
        dir: &DirId,
        name: &str,
        staged: &StagedFile,
    ) -> Result<Node, VaultError> {
        let res = new_file::create_staged(&self.core, dir, name, staged, false).await;
        self.in_dir(dir, res).await
    }

    /// Makes a file node's stored content and its folder entry durable (fsync(2) of a file
    /// stored by [`Vault::create_file_staged_nosync`]).
    pub async fn sync_file(&self, node: &Node) -> Result<(), VaultError> {
        if self.core.read_only {
            return Ok(());
        }
        let loc = names::NodeLoc::from_storage_path(&node.storage_path)?;
        self.core
            .storage
            .sync_entry(&loc.file_content_path()?)
            .await
            .map_err(Into::into)
    }

    /// Creates a symlink with a verbatim target (≤ 32767 bytes).
    pub async fn create_symlink(
        &self,
        dir: &DirId,
        name: &str,
        target: &str,
    ) -> Result<Node, VaultError> {
        let res = nodes::create_symlink(&self.core, dir, name, target).await;
        self.in_dir(dir, res).await
    }

    /// Reads a symlink's target.
    pub async fn read_symlink(&self, node: &Node) -> Result<String, VaultError> {
        nodes::read_symlink(&self.core, node).await
    }

    /// Lets [`Vault::remove_file`] over a local folder queue a file's unlink and return: the
    /// name is free at once (the engine no longer sees the object, and anything made at its
    /// path first finishes the removal), and [`Vault::flush_all`] waits for the unlinks. For
    /// the drive, which flushes the vault at unmount and lock; off by default. A process
    /// killed before the flush leaves the files it had not unlinked yet in place.
    pub fn set_background_removals(&self, on: bool) {
        self.core
            .removals
            .set_enabled(on && self.core.storage.local_io());
    }

    /// Removes a file or symlink.
    pub async fn remove_file(&self, dir: &DirId, name: &str) -> Result<(), VaultError> {
        nodes::remove_file(&self.core, dir, name).await
    }

    /// Removes a file or symlink `node` as [`Vault::list`] just returned it, without looking
    /// it up again (`rm -r`: one request fewer per file). `NotFound` if it is gone.
    pub async fn remove_listed(&self, node: &Node) -> Result<(), VaultError> {
        nodes::remove_listed(&self.core, node).await
    }

    /// Removes an empty directory: its node and its content directory.
    pub async fn remove_dir(&self, dir: &DirId, name: &str) -> Result<(), VaultError> {
        nodes::remove_dir(&self.core, dir, name).await
    }

    /// Renames/moves a node. Files and symlinks re-encrypt the name only;
    /// directories move their node, never their content. With `replace` an
    /// existing target file (or empty directory, for a directory) is replaced
    /// as rename(2) does; without it the target must not exist.
    pub async fn rename(
        &self,
        from_dir: &DirId,
        from_name: &str,
        to_dir: &DirId,
        to_name: &str,
        replace: bool,
    ) -> Result<(), VaultError> {
        nodes::rename(&self.core, from_dir, from_name, to_dir, to_name, replace).await
    }

    /// Sets a node's modification time (where the storage can).
    pub async fn set_modified(&self, node: &Node, modified: SystemTime) -> Result<(), VaultError> {
        nodes::set_modified(&self.core, node, modified).await
    }

    /// Opens a regular file. Every caller opening the same node gets the same
    /// [`OpenFile`], so handles see each other's writes.
    pub async fn open(&self, node: &Node) -> Result<Arc<OpenFile>, VaultError> {
        open_file::open(&self.core, node).await
    }

    /// As [`Vault::open`], for a one-shot read of a node a listing or lookup just returned:
    /// its size gives the ciphertext length, so no metadata request is made (`vault get -r`
    /// of many small files). A file another client rewrote since then reads as long as the
    /// node says: a shorter or partly rewritten one fails authentication (`Corrupt`); a longer
    /// one is noticed when a read reaches the listed end (storage is asked for the byte after
    /// it when that end is at a chunk boundary, the one case authentication cannot catch) and
    /// read to its new end: the copy is complete or an error, never silently short.
    pub async fn open_listed(&self, node: &Node) -> Result<Arc<OpenFile>, VaultError> {
        open_file::open_with(&self.core, node, true, None).await
    }

    /// As [`Vault::open`], for the node [`Vault::create_file_staged`] (or `_nosync`) just
    /// returned for `staged`: no request (the stored length is `staged`'s).
    pub async fn open_created(
        &self,
        node: &Node,
        staged: &StagedFile,
    ) -> Result<Arc<OpenFile>, VaultError> {
        open_file::open_with(&self.core, node, false, Some(staged.ciphertext_len())).await
    }

    /// Space figures of the storage.
    pub async fn statfs(&self) -> Result<StatFs, VaultError> {
        let space = self.core.storage.space().await?;
        Ok(StatFs {
            total: space.map(|s| s.total),
            available: space.map(|s| s.available),
        })
    }

    /// Flushes every open file and makes every committed version durable (unmount, lock
    /// before suspend, the end of a `put`).
    pub async fn flush_all(&self) -> Result<(), VaultError> {
        self.core.await_all_background().await;
        self.core.removals.wait_all().await;
        let files: Vec<Arc<OpenFile>> = open_file::all_open(&self.core);
        let mut first_err = None;
        for f in &files {
            if let Err(e) = f.flush().await {
                tracing::warn!(error = %e, "flush of an open file failed");
                first_err.get_or_insert(e);
            }
        }
        drop(files);
        if let Some(e) = first_err {
            return Err(e);
        }
        // Files closed earlier were committed without fsync (close is not a durability point,
        // as on a local file system); a whole-vault flush is one.
        if !self.core.read_only {
            self.core.storage.sync_all().await?;
        }
        Ok(())
    }

    /// Forgets every cached directory ID and listing presentation (after
    /// other clients changed the vault, or to measure cold lookups). Open
    /// files are not affected.
    pub fn clear_caches(&self) {
        self.core.clear_caches();
    }

    /// Internal state shared with the health check.
    pub(crate) fn core(&self) -> &Arc<core::Core> {
        &self.core
    }
}
