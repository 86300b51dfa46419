//! The platform-neutral operations layer: filesystem verbs over the vault
//! engine, addressed by node numbers and handles, answering [`FsError`]s.
//!
//! Both the FUSE adapter and the (later) WinFsp adapter are thin callers of
//! [`VaultFs`]. It knows nothing of fuser, errno or NTSTATUS; it knows the
//! engine (`vault_engine`) and nothing of ciphertext.
//!
//! Split by seam: this file holds the types and the node/attribute bookkeeping;
//! `dir_handles` the directory handles; `file_io` the file-handle verbs; `tree` the
//! namespace mutations. All three are `impl VaultFs` blocks that only look up into this
//! module (and `dir_handles` into `recent_listing`).
//!
//! Decisions (also listed in the README's deviations):
//! - Owner and permission bits come from the mount options (the format stores
//!   none). `chmod`/`chown`/`atime` changes are accepted and ignored, so
//!   `cp -a`, `tar`, `rsync -a` and `git` work; `stat` keeps showing the
//!   mount's owner and modes (files 0644, directories 0755 by default).
//! - Names: non-UTF-8 is refused (`InvalidEncoding`); input is normalised to
//!   NFC; names longer than 255 bytes are refused.
//! - Unlinking (or renaming over) a file that is still open moves it to a
//!   hidden name (`.vault-unlinked-…`) until its last handle closes, as NFS
//!   does, so open handles keep working. Hidden names are never listed.
//! - Every engine call is bounded by `FsConfig::op_timeout` (`TimedOut`).
//! - An exclusive or truncating create in a folder with a known complete
//!   name set is answered locally and stored at the first flush/fsync/release
//!   (`pending`); a name taken on storage meanwhile fails an exclusive
//!   create's close with `AlreadyExists` and is opened and truncated by a
//!   non-exclusive one.
//! - Directory mutations rely on the kernel's per-directory locking (VFS holds
//!   the parent's lock for create/unlink/rename); a path-addressed adapter
//!   without that guarantee must serialise per directory itself.

mod dir_handles;
pub mod error;
mod file_io;
pub mod node_table;
mod pending;
mod recent_listing;
mod retired;
pub mod symlinks;
mod tree;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use unicode_normalization::{UnicodeNormalization, is_nfc};
use vault_engine::{DirId, Node, NodeKind, OpenFile, Vault, VaultError};

pub use error::{FsError, FsErrorKind, FsResult};
pub use node_table::{NodeId, NodeTable, ROOT};
pub use recent_listing::REUSE_FOR as LISTING_REUSE;
pub use symlinks::SymlinkPolicy;

/// A file or directory handle number.
pub type HandleId = u64;

/// Prefix of the hidden names that keep unlinked-but-open files alive.
pub const SILLY_PREFIX: &str = ".vault-unlinked-";

/// Longest accepted cleartext name, in bytes (NAME_MAX).
pub const NAME_MAX: usize = 255;

/// Owner, modes and limits of one mount.
#[derive(Debug, Clone)]
pub struct FsConfig {
    /// Owner reported for every node.
    pub uid: u32,
    /// Group reported for every node.
    pub gid: u32,
    /// Permission bits of regular files.
    pub file_perm: u16,
    /// Permission bits of directories.
    pub dir_perm: u16,
    /// Refuse every mutation with `ReadOnly`.
    pub read_only: bool,
    /// Bound on every engine call; past it the operation fails with `TimedOut`.
    pub op_timeout: Duration,
    /// Which symlink targets `readlink` hands out (`--symlinks`).
    pub symlinks: SymlinkPolicy,
}

impl Default for FsConfig {
    fn default() -> Self {
        FsConfig {
            uid: 0,
            gid: 0,
            file_perm: 0o644,
            dir_perm: 0o755,
            read_only: false,
            op_timeout: Duration::from_secs(120),
            symlinks: SymlinkPolicy::default(),
        }
    }
}

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink,
}

/// Attributes of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    /// Node number.
    pub ino: NodeId,
    /// Kind.
    pub kind: FileKind,
    /// Cleartext size in bytes (includes unflushed writes).
    pub size: u64,
    /// Modification time (also reported as ctime and atime).
    pub mtime: SystemTime,
    /// Permission bits.
    pub perm: u16,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Link count (directories 2, others 1).
    pub nlink: u32,
}

/// Attribute changes requested by `setattr`.
#[derive(Debug, Clone, Default)]
pub struct SetAttr {
    /// Truncate or extend.
    pub size: Option<u64>,
    /// New modification time.
    pub mtime: Option<SystemTime>,
    /// New access time (accepted, not stored: the format has none).
    pub atime: Option<SystemTime>,
    /// New mode (accepted, ignored).
    pub mode: Option<u32>,
    /// New owner (accepted, ignored).
    pub uid: Option<u32>,
    /// New group (accepted, ignored).
    pub gid: Option<u32>,
    /// The handle the change came through, if any.
    pub handle: Option<HandleId>,
}

/// An opened file.
#[derive(Debug, Clone, Copy)]
pub struct Opened {
    /// The handle for read/write/flush/release.
    pub handle: HandleId,
    /// The content is unchanged since the kernel last cached it: keep the page cache.
    pub keep_cache: bool,
}

/// One directory entry of a listing.
#[derive(Debug, Clone)]
pub struct DirEntry {
    /// Name as stored (NFC for names we wrote).
    pub name: String,
    /// Its attributes (with its node number).
    pub attr: Attr,
}

/// Space figures.
#[derive(Debug, Clone, Copy)]
pub struct FsStat {
    /// Block size the figures count in.
    pub block_size: u32,
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks.
    pub blocks_free: u64,
    /// Blocks available to unprivileged users.
    pub blocks_available: u64,
    /// Longest name.
    pub name_max: u32,
}

/// How `rename` may treat an existing target.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenameFlags {
    /// Fail with `AlreadyExists` if the target exists (RENAME_NOREPLACE).
    pub no_replace: bool,
    /// Swap source and target (RENAME_EXCHANGE): unsupported.
    pub exchange: bool,
}

struct FileHandle {
    ino: NodeId,
    /// `None` while the node is pending (see `pending`): opened on demand.
    file: Option<Arc<OpenFile>>,
    /// Truncated on open (O_TRUNC, a create of an existing name) or by a
    /// setattr(size) through this handle, and not written through since. A
    /// FUSE flush then leaves the truncation in the shadow (see
    /// [`VaultFs::flush`]); fsync and release commit it.
    truncated_unwritten: bool,
}

#[derive(Default)]
struct HandleTable {
    files: HashMap<HandleId, FileHandle>,
    dirs: HashMap<HandleId, (NodeId, Arc<Vec<DirEntry>>)>,
}

/// How [`VaultFs::write_back`] writes a file's changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteBack {
    /// close(2) (FUSE flush, release): only if changed; atomically visible on
    /// storage without waiting for durability (`OpenFile::commit`).
    Close,
    /// fsync(2): always asks the engine; returns once storage has every
    /// write durably, also one an earlier close committed (`OpenFile::flush`).
    Fsync,
    /// Unmount, signals: only if changed, durably (`OpenFile::flush`).
    Unmount,
}

/// The filesystem over one unlocked vault.
pub struct VaultFs {
    vault: Arc<Vault>,
    config: FsConfig,
    nodes: Mutex<NodeTable>,
    handles: Mutex<HandleTable>,
    next_handle: AtomicU64,
    silly_counter: AtomicU64,
    mounted_at: SystemTime,
    names: Mutex<HashMap<NodeId, KnownNames>>,
    /// Files whose write-back on close failed: kept until a retry succeeds.
    unwritten: Mutex<Vec<Arc<OpenFile>>>,
    /// Files created locally and not yet stored (see `pending`).
    pending: Mutex<HashMap<NodeId, Arc<pending::Pending>>>,
    /// The last listing, for a reopen; every change goes through it (`begin_change`).
    recent_listing: recent_listing::RecentListing,
}

/// Every name of one directory, as of a listing plus our own changes since.
/// Lets a lookup of a name that does not exist (the kernel asks before every
/// create) be answered without a storage round trip. The engine's miss path
/// is a pure read now (no conflict resolution) and lists only when its
/// presentation of the directory is older than 2 s, but it still stats the
/// computed name: measured on `MemoryStorage`, 200 × (lookup miss + create)
/// cost 600 storage requests without this set and 400 with it, one round
/// trip per created file on a remote backend.
struct KnownNames {
    names: std::collections::HashSet<String>,
    at: std::time::Instant,
}

/// How long a directory's name set answers negative lookups. Names created by
/// other clients in that directory show up within this time.
const KNOWN_NAMES_TTL: Duration = Duration::from_secs(10);

impl std::fmt::Debug for VaultFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultFs")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves consistent-enough data (every
    // mutation is a few field writes); keep serving rather than cascade panics.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn kind_of(node: &Node) -> FileKind {
    match node.kind {
        NodeKind::File => FileKind::File,
        NodeKind::Dir(_) => FileKind::Dir,
        NodeKind::Symlink => FileKind::Symlink,
    }
}

/// Validates and NFC-normalises a name coming from an adapter.
pub fn name_in(name: &OsStr) -> FsResult<String> {
    let s = name.to_str().ok_or(FsErrorKind::InvalidEncoding)?;
    if s.is_empty() || s == "." || s == ".." || s.contains('/') || s.contains('\0') {
        return Err(FsErrorKind::InvalidName.into());
    }
    let s = if is_nfc(s) {
        s.to_owned()
    } else {
        s.nfc().collect::<String>()
    };
    if s.len() > NAME_MAX {
        return Err(FsErrorKind::NameTooLong.into());
    }
    Ok(s)
}

/// A name to create: valid, and not one of our reserved hidden names.
fn new_name_in(name: &OsStr) -> FsResult<String> {
    let s = name_in(name)?;
    if s.starts_with(SILLY_PREFIX) {
        return Err(FsErrorKind::InvalidName.into());
    }
    Ok(s)
}

/// A name to look up: hidden names do not exist.
fn lookup_name_in(name: &OsStr) -> FsResult<String> {
    let s = name_in(name)?;
    if s.starts_with(SILLY_PREFIX) {
        return Err(FsErrorKind::NotFound.into());
    }
    Ok(s)
}

impl VaultFs {
    /// A filesystem over `vault`.
    pub fn new(vault: Arc<Vault>, config: FsConfig) -> Self {
        let root = Node {
            parent: DirId::root(),
            name: String::new(),
            kind: NodeKind::Dir(DirId::root()),
            size: 0,
            modified: None,
            damaged: false,
            storage_path: String::new(),
        };
        // Unlinks over a local folder finish in the background; `flush_all` (unmount,
        // lock) waits for them.
        vault.set_background_removals(true);
        VaultFs {
            vault,
            config,
            nodes: Mutex::new(NodeTable::new(root)),
            handles: Mutex::new(HandleTable::default()),
            next_handle: AtomicU64::new(1),
            silly_counter: AtomicU64::new(0),
            mounted_at: SystemTime::now(),
            names: Mutex::new(HashMap::new()),
            unwritten: Mutex::new(Vec::new()),
            pending: Mutex::new(HashMap::new()),
            recent_listing: recent_listing::RecentListing::default(),
        }
    }

    /// The mount's configuration.
    pub fn config(&self) -> &FsConfig {
        &self.config
    }

    /// The vault underneath.
    pub fn vault(&self) -> &Arc<Vault> {
        &self.vault
    }

    /// Bounds an engine call by the operation timeout. The call is polled once before the
    /// timer is armed: over a local folder served on the FUSE reader thread
    /// ([`vault_engine::run_io_inline`]) nearly every call finishes in that first poll, and
    /// arming and cancelling a timer (a clock read and the timer wheel's lock) cost more than
    /// a 4 KiB read's engine work.
    async fn timed<T>(&self, fut: impl Future<Output = Result<T, VaultError>>) -> FsResult<T> {
        let mut fut = std::pin::pin!(fut);
        let first = std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx))).await;
        if let std::task::Poll::Ready(result) = first {
            return result.map_err(FsError::from);
        }
        match tokio::time::timeout(self.config.op_timeout, fut).await {
            Ok(result) => result.map_err(FsError::from),
            Err(_) => {
                tracing::warn!(timeout = ?self.config.op_timeout, "storage operation timed out");
                Err(FsErrorKind::TimedOut.into())
            }
        }
    }

    /// Starts a change: refused on a read-only mount; until the guard drops, and for the
    /// listings taken meanwhile, no listing is reused (`recent_listing`).
    fn begin_change(&self) -> FsResult<recent_listing::ChangeGuard<'_>> {
        if self.config.read_only {
            return Err(FsErrorKind::ReadOnly.into());
        }
        Ok(self.recent_listing.change())
    }

    fn dir_of(&self, ino: NodeId) -> FsResult<DirId> {
        let nodes = lock(&self.nodes);
        let entry = nodes.get(ino).ok_or(FsErrorKind::NotFound)?;
        match &entry.node.kind {
            NodeKind::Dir(id) => Ok(id.clone()),
            _ => Err(FsErrorKind::NotADirectory.into()),
        }
    }

    fn static_attr(&self, ino: NodeId, e: &node_table::NodeEntry) -> Attr {
        let kind = kind_of(&e.node);
        let mtime = e
            .pinned_mtime
            .or(e.mtime_override)
            .or(e.node.modified)
            .unwrap_or(self.mounted_at);
        let (perm, nlink) = match kind {
            FileKind::File => (self.config.file_perm, 1),
            FileKind::Dir => (self.config.dir_perm, 2),
            FileKind::Symlink => (0o777, 1),
        };
        Attr {
            ino,
            kind,
            size: e.node.size,
            mtime,
            perm,
            uid: self.config.uid,
            gid: self.config.gid,
            nlink,
        }
    }

    /// Current attributes from the table (open files: size from the open file).
    async fn attr_of(&self, ino: NodeId) -> FsResult<Attr> {
        let (mut attr, file) = {
            let nodes = lock(&self.nodes);
            let entry = nodes.get(ino).ok_or(FsErrorKind::NotFound)?;
            (self.static_attr(ino, entry), entry.file.clone())
        };
        if let Some(file) = file {
            attr.size = file.size().await;
        } else if let Some(size) = self.pending_size(ino).await {
            attr.size = size;
        }
        Ok(attr)
    }

    /// Records a directory's complete name set.
    fn set_known_names<'a>(&self, dir: NodeId, names: impl IntoIterator<Item = &'a str>) {
        let mut set = std::collections::HashSet::new();
        for n in names {
            if !is_nfc(n) {
                set.insert(n.nfc().collect::<String>());
            }
            set.insert(n.to_owned());
        }
        lock(&self.names).insert(
            dir,
            KnownNames {
                names: set,
                at: std::time::Instant::now(),
            },
        );
    }

    /// Keeps a known name set in step with our own change.
    fn known_name(&self, dir: NodeId, name: &str, present: bool) {
        if let Some(k) = lock(&self.names).get_mut(&dir) {
            if present {
                k.names.insert(name.to_owned());
            } else {
                k.names.remove(name);
            }
        }
    }

    /// `Some(false)`: `name` certainly does not exist in `dir`; `None`: ask storage.
    fn known_absent(&self, dir: NodeId, name: &str) -> bool {
        let mut names = lock(&self.names);
        match names.get(&dir) {
            Some(k) if k.at.elapsed() < KNOWN_NAMES_TTL => !k.names.contains(name),
            Some(_) => {
                names.remove(&dir);
                false
            }
            None => false,
        }
    }

    /// Engine lookup with the negative-name cache in front.
    async fn lookup_node(&self, parent: NodeId, dir: &DirId, name: &str) -> FsResult<Node> {
        if self.known_absent(parent, name) {
            return Err(FsErrorKind::NotFound.into());
        }
        match self.timed(self.vault.lookup(dir, name)).await {
            Err(e) if e.kind() == FsErrorKind::NotFound => {
                // Keep the directory's names so that the next misses cost no request.
                let known = lock(&self.names).contains_key(&parent);
                if !known && let Ok(listing) = self.timed(self.vault.list(dir)).await {
                    self.set_known_names(parent, listing.iter().map(|n| n.name.as_str()));
                }
                Err(e)
            }
            other => other,
        }
    }

    /// Looks `name` up in `parent`; counts one kernel lookup on success.
    pub async fn lookup(&self, parent: NodeId, name: &OsStr) -> FsResult<Attr> {
        let name = lookup_name_in(name)?;
        if let Some(ino) = self.pending_child(parent, &name) {
            self.remember(ino);
            return self.attr_of(ino).await;
        }
        let dir = self.dir_of(parent)?;
        let node = self.lookup_node(parent, &dir, &name).await?;
        let ino = lock(&self.nodes).upsert(parent, &name, node, 1);
        self.attr_of(ino).await
    }

    /// Resolves a `/`-separated path from the root (for path-addressed
    /// adapters); counts no kernel lookups.
    pub async fn resolve_path(&self, path: &str) -> FsResult<NodeId> {
        let mut ino = ROOT;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            let name = lookup_name_in(OsStr::new(part))?;
            let dir = self.dir_of(ino)?;
            let node = self.lookup_node(ino, &dir, &name).await?;
            ino = lock(&self.nodes).upsert(ino, &name, node, 0);
        }
        Ok(ino)
    }

    /// The parent of `ino` (root's parent is root).
    pub fn parent_of(&self, ino: NodeId) -> NodeId {
        lock(&self.nodes).get(ino).map(|e| e.parent).unwrap_or(ROOT)
    }

    /// Re-reads a node from storage unless it is open (then we know better) or
    /// detached. A node that vanished is `NotFound`.
    /// Re-reads `ino`'s node from storage (unless it is the root, detached, open or
    /// pending). True if it did: the node's size is then what storage just said.
    async fn refresh(&self, ino: NodeId) -> FsResult<bool> {
        if ino == ROOT {
            return Ok(false);
        }
        let (parent, name) = {
            let nodes = lock(&self.nodes);
            let e = nodes.get(ino).ok_or(FsErrorKind::NotFound)?;
            if e.detached || e.file.is_some() {
                return Ok(false);
            }
            (e.parent, e.name.clone())
        };
        if self.pending_of(ino).is_some() {
            return Ok(false);
        }
        let dir = self.dir_of(parent)?;
        let node = self.timed(self.vault.lookup(&dir, &name)).await?;
        let mut nodes = lock(&self.nodes);
        if let Some(e) = nodes.get_mut(ino)
            && e.file.is_none()
            && !e.detached
            && std::mem::discriminant(&e.node.kind) == std::mem::discriminant(&node.kind)
        {
            e.node = node;
            return Ok(true);
        }
        Ok(false)
    }

    /// Attributes of `ino`, re-read from storage.
    pub async fn getattr(&self, ino: NodeId) -> FsResult<Attr> {
        self.refresh(ino).await?;
        self.attr_of(ino).await
    }

    /// Attributes of `ino` as the table knows them (no storage call).
    pub async fn getattr_cached(&self, ino: NodeId) -> FsResult<Attr> {
        self.attr_of(ino).await
    }

    /// Changes size and/or mtime; mode, owner and atime are accepted and ignored
    /// (the format stores none of them).
    pub async fn setattr(&self, ino: NodeId, changes: SetAttr) -> FsResult<Attr> {
        let change = (changes.size.is_some() || changes.mtime.is_some())
            .then(|| self.begin_change())
            .transpose()?;
        if change.is_some() {
            self.settle(ino).await?;
        }
        if let Some(size) = changes.size {
            let (node, open) = {
                let nodes = lock(&self.nodes);
                let e = nodes.get(ino).ok_or(FsErrorKind::NotFound)?;
                (e.node.clone(), e.file.clone())
            };
            match node.kind {
                NodeKind::File => {}
                NodeKind::Dir(_) => return Err(FsErrorKind::IsADirectory.into()),
                NodeKind::Symlink => return Err(FsErrorKind::InvalidArgument.into()),
            }
            match open {
                Some(file) => {
                    self.timed(file.set_len(size)).await?;
                    self.mark_written(ino);
                    if let Some(handle) = changes.handle {
                        self.set_truncated_unwritten(handle, true);
                    } else {
                        // truncate(2) by path while some descriptor is open: no
                        // handle of ours will flush this, and the last one may be
                        // releasing right now (the kernel does not wait for
                        // release), so write it back here.
                        self.write_back(ino, &file, WriteBack::Close).await?;
                        if let Some(e) = lock(&self.nodes).get_mut(ino) {
                            e.node.size = size;
                        }
                    }
                }
                None => {
                    // Not open: truncate through a short-lived open file and write back now.
                    let file = self.timed(self.vault.open(&node)).await?;
                    self.timed(file.set_len(size)).await?;
                    self.timed(file.flush()).await?;
                    drop(file);
                    if let Some(e) = lock(&self.nodes).get_mut(ino) {
                        e.node.size = size;
                        e.node.modified = Some(SystemTime::now());
                        e.cache_fingerprint = None;
                        e.pinned_mtime = None;
                    }
                    self.refresh(ino).await.ok();
                }
            }
        }
        if let Some(mtime) = changes.mtime {
            let (node, open, dirty) = {
                let nodes = lock(&self.nodes);
                let e = nodes.get(ino).ok_or(FsErrorKind::NotFound)?;
                (e.node.clone(), e.file.is_some(), e.dirty)
            };
            if !dirty {
                self.timed(self.vault.set_modified(&node, mtime)).await?;
            }
            let mut nodes = lock(&self.nodes);
            if let Some(e) = nodes.get_mut(ino) {
                e.mtime_override = None;
                if open {
                    // Re-applied after every write-back until the last handle closes.
                    e.pinned_mtime = Some(mtime);
                } else {
                    e.node.modified = Some(mtime);
                }
                e.cache_fingerprint = None;
            }
        }
        // mode / uid / gid / atime: accepted and ignored (see module docs).
        self.attr_of(ino).await
    }

    /// The kernel dropped `n` lookups of `ino`.
    pub fn forget(&self, ino: NodeId, n: u64) {
        lock(&self.nodes).forget(ino, n);
    }

    /// Space figures of the storage.
    pub async fn statfs(&self) -> FsResult<FsStat> {
        const BLOCK: u64 = 4096;
        let stat = self.timed(self.vault.statfs()).await?;
        let total = stat.total.unwrap_or(0) / BLOCK;
        let avail = stat.available.unwrap_or(0) / BLOCK;
        Ok(FsStat {
            block_size: BLOCK as u32,
            blocks: total,
            blocks_free: avail,
            blocks_available: avail,
            name_max: NAME_MAX as u32,
        })
    }

    /// Writes back every open file and the engine's state (unmount, signals).
    pub async fn flush_all(&self) -> FsResult<()> {
        let _change = self.recent_listing.change();
        let open: Vec<(NodeId, Arc<OpenFile>)> = {
            let handles = lock(&self.handles);
            let mut seen = std::collections::HashSet::new();
            handles
                .files
                .values()
                .filter(|h| seen.insert(h.ino))
                .filter_map(|h| Some((h.ino, Arc::clone(h.file.as_ref()?))))
                .collect()
        };
        let mut first_error = self.settle_all().await.err();
        for (ino, file) in open {
            if let Err(e) = self.write_back(ino, &file, WriteBack::Unmount).await {
                first_error.get_or_insert(e);
            }
        }
        let unwritten: Vec<Arc<OpenFile>> = std::mem::take(&mut *lock(&self.unwritten));
        for file in unwritten {
            if let Err(e) = self.timed(file.flush()).await {
                lock(&self.unwritten).push(file);
                first_error.get_or_insert(e);
            }
        }
        if let Err(e) = self.timed(self.vault.flush_all()).await {
            first_error.get_or_insert(e);
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Number of open file handles (idle detection).
    pub fn open_handle_count(&self) -> usize {
        lock(&self.handles).files.len()
    }

    /// Number of known nodes (diagnostics, tests).
    pub fn node_count(&self) -> usize {
        lock(&self.nodes).len()
    }
}
