//! Where ciphertext lives: the one [`Storage`] trait every backend implements.
//!
//! A backend knows nothing of encryption: it stores opaque objects under
//! `/`-separated paths relative to the vault root ([`StoragePath`]). The vault
//! engine is the only caller. Optional abilities are declared in
//! [`Capabilities`], never probed by trial and error.
//!
//! Semantics every backend must honour (checked by the conformance suite):
//! - `list_dir` returns the direct children with kind, size and mtime in one
//!   round trip for remote backends; `.` / `..` are never returned.
//! - `read_at` returns at most `len` bytes; fewer only at end of object.
//! - `write` replaces or creates an object atomically: a concurrent reader sees
//!   the old or the new content, never a prefix (temp name + rename where the
//!   backend allows). Returns only once the backend has the data durably.
//! - `create_dir` fails with `AlreadyExists` if the path exists and with
//!   `NotFound` if the parent does not exist.
//! - `remove_dir` fails with `NotEmpty` on a non-empty folder.
//! - `rename` with [`RenameMode::NoReplace`] fails with `AlreadyExists` if the
//!   target exists; with [`RenameMode::Replace`] it atomically replaces a file.
//! - `write_nosync` and `rename_nosync` have exactly the semantics of `write`
//!   and `rename` (same atomicity: old or new, never a prefix), except that
//!   they may return before the data and the new folder entry are durable;
//!   `sync_entry(path)` then makes both durable. The defaults are the durable
//!   calls, so a backend that overrides none of them stays durable throughout.
//! - A backend that cannot replace atomically (`atomic_replace` false) keeps
//!   the replaced object under a [`backup`] name until the new one is in
//!   place, so that an interrupted replace never leaves neither version.
//!
//! Backends here: [`LocalStorage`] (a local folder) and [`MemoryStorage`]
//! (in memory, with failure switches for engine tests). SFTP and WebDAV live
//! in their own crates. The `conformance` feature adds
//! `vault_storage::conformance`, the one suite every backend runs (see
//! its module docs and the `conformance_tests!` macro).

// Unit tests may unwrap: a panic there is the failure report.
#![cfg_attr(test, allow(clippy::unwrap_used))]

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;

mod path;
pub use path::StoragePath;

mod error;
pub use error::{StorageError, StorageErrorKind};

pub mod backup;

/// Prefix of every temp object an unfinished write leaves (backends' atomic writes, the engine's
/// shadow objects, uploads): one name for all, so `check` and `vault copy` recognise them. It
/// starts with `.` (format readers ignore such entries) and never ends in `.c9r`.
pub const TEMP_PREFIX: &str = ".vault-tmp-";

pub mod cached;
pub mod cleartext;
pub mod content;
pub mod lazy;
pub mod local;
pub mod memory;
pub mod queue;
pub use local::LocalStorage;
pub use memory::MemoryStorage;

#[cfg(feature = "conformance")]
pub mod conformance;

/// What kind of object a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A regular object with bytes.
    File,
    /// A folder that can contain other entries.
    Dir,
}

/// Metadata of one stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// File or folder.
    pub kind: EntryKind,
    /// Length in bytes (0 for folders).
    pub size: u64,
    /// Last modification time, where the backend reports one.
    pub modified: Option<SystemTime>,
    /// The server's version tag where the backend has one (WebDAV `getetag`, S3 `ETag`);
    /// `None` elsewhere, where [`Metadata::version_tag`] derives one from size and mtime.
    pub version: Option<String>,
}

impl Metadata {
    /// A tag that changes whenever the object changes, as far as the backend can tell: the
    /// server's ETag where it has one, else `s<size>-m<mtime in ns>` (`m-` without an mtime).
    /// The metadata cache compares it to notice another device's change.
    pub fn version_tag(&self) -> String {
        if let Some(v) = &self.version {
            return format!("e{v}");
        }
        let mtime = self
            .modified
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos().to_string())
            .unwrap_or_default();
        format!("s{}-m{mtime}", self.size)
    }
}

/// One child of a listed folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The child's own name (a single path component).
    pub name: String,
    /// Its metadata, from the same listing round trip.
    pub metadata: Metadata,
}

/// Whether `write` may replace an existing object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Fail with `AlreadyExists` if the object exists.
    CreateNew,
    /// Create or atomically replace.
    Overwrite,
}

/// Whether `rename` may replace an existing target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenameMode {
    /// Fail with `AlreadyExists` if the target exists.
    NoReplace,
    /// Atomically replace an existing target file.
    Replace,
}

/// Abilities that differ between backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// `write_at` and `set_len` work in place (local folder, SFTP). Without it
    /// (WebDAV) an object can only be replaced whole with `write`.
    pub random_write: bool,
    /// `rename(.., Replace)` is atomic on this backend.
    pub atomic_replace: bool,
    /// `rename` of a folder moves it with everything inside in one step: a
    /// crash leaves it under the old name or the new one, never both or half.
    /// True on local folders, SFTP and WebDAV (MOVE of a collection) even where
    /// `atomic_replace` is false; false on S3, where a folder is moved key by
    /// key (copy, then delete). The engine moves directory nodes itself,
    /// in a repairable order, where this is false.
    pub atomic_dir_rename: bool,
    /// Longest single path component the backend accepts, in bytes.
    pub max_name_len: usize,
    /// `set_modified` works.
    pub set_modified: bool,
}

/// Space figures for `statfs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpaceInfo {
    /// Total bytes.
    pub total: u64,
    /// Bytes available to this user.
    pub available: u64,
}

/// The body of a whole-object write: a length and a reader that yields exactly
/// that many bytes. Large uploads stream from a ciphertext spool file without
/// being held in memory.
pub struct Body {
    len: u64,
    reader: Box<dyn tokio::io::AsyncRead + Send + Unpin>,
}

impl Body {
    /// A body from bytes already in memory.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes: Bytes = bytes.into();
        Body {
            len: bytes.len() as u64,
            reader: Box::new(std::io::Cursor::new(bytes)),
        }
    }

    /// A body streamed from a reader that yields exactly `len` bytes.
    pub fn from_reader(
        len: u64,
        reader: impl tokio::io::AsyncRead + Send + Unpin + 'static,
    ) -> Self {
        Body {
            len,
            reader: Box::new(reader),
        }
    }

    /// Number of bytes the body yields.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for a zero-length body.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Takes the reader out (consumes the body).
    pub fn into_reader(self) -> Box<dyn tokio::io::AsyncRead + Send + Unpin> {
        self.reader
    }

    /// Reads the whole body into memory (for small bodies and simple backends).
    pub async fn into_bytes(self) -> Result<Bytes, std::io::Error> {
        use tokio::io::AsyncReadExt;
        let mut buf = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0).min(1 << 26));
        let mut reader = self.reader;
        reader.read_to_end(&mut buf).await?;
        if buf.len() as u64 != self.len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("body yielded {} bytes, expected {}", buf.len(), self.len),
            ));
        }
        Ok(Bytes::from(buf))
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

thread_local! {
    static IO_INLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with this thread declared one that may block: a backend whose requests are local
/// system calls ([`Storage::local_io`]) then makes them right here, on the thread that polls
/// the request's future, instead of handing each to the runtime's blocking pool and waiting
/// to be woken. For a caller that owns a thread it may block anyway (a FUSE reader thread
/// running a request with `Handle::block_on`): each handoff is a thread switch, which costs
/// more than a 4 KiB read from the page cache. Never call it on a runtime worker.
pub fn run_io_inline<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            IO_INLINE.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(IO_INLINE.with(|c| c.replace(true)));
    f()
}

/// True inside [`run_io_inline`] on this thread.
pub(crate) fn io_inline() -> bool {
    IO_INLINE.with(|c| c.get())
}

/// A place that stores ciphertext objects. Object-safe: callers hold an
/// `Arc<dyn Storage>` chosen at run time.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// What this backend can do.
    fn capabilities(&self) -> Capabilities;

    /// True when every request is a system call on a local file system, done in micro- to
    /// milliseconds (a local folder). A caller may then run whole requests on a thread of its
    /// own that it lets block (see [`run_io_inline`]). False (the default) for backends whose
    /// requests wait on a network: those must never hold such a thread.
    fn local_io(&self) -> bool {
        false
    }

    /// A short human description for `vault info` and logs, e.g.
    /// `local folder /home/me/Vault` or `sftp traveller@host:/srv/vault`.
    /// Never contains a secret.
    fn describe(&self) -> String;

    /// True while this storage certainly sends nothing: every call fails at once and changes
    /// nothing (a storage still connecting in the background after an offline start). A cache
    /// in front then keeps what it knows instead of forgetting it around a failed change.
    fn sends_nothing(&self) -> bool {
        false
    }

    /// Metadata of one path (the root `""` is a folder).
    async fn metadata(&self, path: &StoragePath) -> Result<Metadata, StorageError>;

    /// `metadata` asked of the storage itself, past any answer a decorator remembers: for a
    /// check that decides whether a write may replace what is there (the upload queue's
    /// conflict check), where a remembered answer could hide another device's change. A
    /// decorator that answers `metadata` from memory, or wraps one that does, forwards this
    /// to its inner storage; a backend keeps the default.
    async fn metadata_uncached(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        self.metadata(path).await
    }

    /// The direct children of a folder, in no particular order.
    async fn list_dir(&self, path: &StoragePath) -> Result<Vec<DirEntry>, StorageError>;

    /// The names of a folder's direct children with their kinds: [`Storage::list_dir`] without
    /// sizes and times, for a caller that needs no more (a folder's emptiness check before its
    /// removal, which `rm -r` makes of every folder). By default from `list_dir`; the local
    /// backend reads the kinds from the folder itself, with no `stat` per entry.
    async fn list_names(
        &self,
        path: &StoragePath,
    ) -> Result<Vec<(String, EntryKind)>, StorageError> {
        let entries = self.list_dir(path).await?;
        Ok(entries
            .into_iter()
            .map(|e| (e.name, e.metadata.kind))
            .collect())
    }

    /// `list_dir`, but only where one request costs no more than a `metadata` and the folder's
    /// whole listing fits in that one request (S3: one listing page); `Ok(None)` otherwise
    /// (the default). The metadata cache asks it when it looks up a name in a folder it has
    /// not listed: the same one request then answers every sibling's lookup too.
    async fn list_dir_in_one_request(
        &self,
        path: &StoragePath,
    ) -> Result<Option<Vec<DirEntry>>, StorageError> {
        let _ = path;
        Ok(None)
    }

    /// Up to `len` bytes starting at `offset`; fewer only at end of object,
    /// empty at or past the end.
    async fn read_at(
        &self,
        path: &StoragePath,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, StorageError>;

    /// The whole object.
    async fn read_all(&self, path: &StoragePath) -> Result<Bytes, StorageError> {
        let meta = self.metadata(path).await?;
        if meta.kind == EntryKind::Dir {
            return Err(StorageError::new(
                StorageErrorKind::IsADirectory,
                path.clone(),
            ));
        }
        let len = usize::try_from(meta.size)
            .map_err(|_| StorageError::new(StorageErrorKind::Other, path.clone()))?;
        self.read_at(path, 0, len).await
    }

    /// Creates or replaces an object atomically with `body` (see module docs).
    async fn write(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError>;

    /// Writes `data` at `offset` in an existing object, extending it if
    /// needed. Only when `capabilities().random_write`; `Unsupported` otherwise.
    async fn write_at(
        &self,
        path: &StoragePath,
        offset: u64,
        data: Bytes,
    ) -> Result<(), StorageError>;

    /// Truncates or extends an existing object. Only with `random_write`.
    async fn set_len(&self, path: &StoragePath, len: u64) -> Result<(), StorageError>;

    /// Makes data written with `write_at`/`set_len` durable.
    async fn sync(&self, path: &StoragePath) -> Result<(), StorageError>;

    /// [`Storage::write`] without the durability promise: the object is
    /// replaced or created atomically all the same (a reader sees the old or
    /// the new content), but the call may return before the data and the
    /// folder entry are durable. [`Storage::sync_entry`] makes them durable.
    /// Default: the durable [`Storage::write`].
    async fn write_nosync(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        self.write(path, body, mode).await
    }

    /// [`Storage::rename`] without the durability promise (same atomicity;
    /// the new folder entries may not be durable yet, see
    /// [`Storage::sync_entry`]). Default: the durable [`Storage::rename`].
    async fn rename_nosync(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        self.rename(from, to, mode).await
    }

    /// Makes an object's data and its entry in its folder durable: after it
    /// returns, what `write_at`, `set_len`, `write_nosync` or `rename_nosync`
    /// left at `path` survives a crash. Default: [`Storage::sync`].
    async fn sync_entry(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.sync(path).await
    }

    /// Makes everything `write_nosync`, `rename_nosync`, `write_at` and `set_len` left so far
    /// durable, wherever it is (the engine forgets which objects a close committed without
    /// fsync once the file is closed). Called when a whole vault is flushed: unmount, lock
    /// before suspend, the end of `put`. Default: nothing to do, for backends whose writes are
    /// durable when acknowledged.
    async fn sync_all(&self) -> Result<(), StorageError> {
        Ok(())
    }

    /// Creates one folder (the parent must exist).
    async fn create_dir(&self, path: &StoragePath) -> Result<(), StorageError>;

    /// Removes one object (not a folder).
    async fn remove_file(&self, path: &StoragePath) -> Result<(), StorageError>;

    /// [`Storage::remove_file`] of an object a listing showed moments ago as `listed` (the
    /// metadata cache's fresh answer). A backend whose server refuses a conditional removal of
    /// anything but that version may remove it in one request where `remove_file` first asks
    /// what is there (a WebDAV `DELETE` of a folder is recursive); whatever `listed` says, it
    /// never removes a folder. By default `remove_file`.
    async fn remove_listed_file(
        &self,
        path: &StoragePath,
        listed: &Metadata,
    ) -> Result<(), StorageError> {
        let _ = listed;
        self.remove_file(path).await
    }

    /// Removes an empty folder.
    async fn remove_dir(&self, path: &StoragePath) -> Result<(), StorageError>;

    /// Renames a file or folder; see [`RenameMode`].
    async fn rename(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError>;

    /// Removes a folder and everything below it. The default walks the tree
    /// with the primitives above; backends may do it in one request.
    async fn remove_dir_all(&self, path: &StoragePath) -> Result<(), StorageError> {
        let mut stack = vec![(path.clone(), false)];
        while let Some((dir, expanded)) = stack.pop() {
            if expanded {
                self.remove_dir(&dir).await?;
                continue;
            }
            stack.push((dir.clone(), true));
            for entry in self.list_dir(&dir).await? {
                let child = dir.join(&entry.name)?;
                match entry.metadata.kind {
                    EntryKind::Dir => stack.push((child, false)),
                    EntryKind::File => self.remove_file(&child).await?,
                }
            }
        }
        Ok(())
    }

    /// Sets an object's modification time. Only when `capabilities().set_modified`.
    async fn set_modified(
        &self,
        path: &StoragePath,
        modified: SystemTime,
    ) -> Result<(), StorageError> {
        let _ = modified;
        Err(StorageError::new(
            StorageErrorKind::Unsupported,
            path.clone(),
        ))
    }

    /// Space figures, where the backend knows them.
    async fn space(&self) -> Result<Option<SpaceInfo>, StorageError> {
        Ok(None)
    }
}
