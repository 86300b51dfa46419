//! A local folder as the vault root.
//!
//! - Blocking `std::fs` calls run on tokio's blocking pool
//!   ([`tokio::task::spawn_blocking`]), never on a runtime worker.
//! - [`Storage::write`] writes a hidden temp file (`.vault-tmp-XXXXXX`, never
//!   ending in `.c9r`, so the engine never mistakes it for a node) in the
//!   target's folder, fsyncs it, renames it over the target and fsyncs the
//!   folder: a reader or a crash sees the old or the new object, never a
//!   prefix. `CreateNew` renames with `RENAME_NOREPLACE` (hard link + unlink
//!   where the file system lacks it), so it never clobbers.
//! - `rename(.., NoReplace)` uses `renameat2(RENAME_NOREPLACE)` on Linux;
//!   where that is missing, files fall back to link + unlink (still atomic)
//!   and folders to check-then-rename (a documented race, only there).
//! - Writes never follow a symlink inside the root: every existing component
//!   below the root is checked first (one `openat2` walk on Linux, else `lstat` each; the root itself may be a
//!   symlink). Reads follow symlinks, as a ciphertext folder normally has none.
//! - `write_nosync` / `rename_nosync` skip the fsyncs (same temp + rename
//!   atomicity); `sync_entry` fsyncs the file and its folder afterwards.
//!   What a crash between the two leaves depends on the file system's rename
//!   ordering (ext4 `auto_da_alloc`, btrfs: the old or the new content).
//! - `read_at` keeps a few open read handles (at most [`HANDLE_CACHE`], each
//!   reused for at most [`HANDLE_TTL`]); a hit costs one `stat` of the path
//!   and is used only while the path still names the same file (device +
//!   inode), so a replacement by another client is seen at once. Every write,
//!   set_len, rename or removal through this storage forgets the handles at
//!   and below the paths it touched.
//! - All `io::Error`s are mapped to [`StorageErrorKind`] in one place: [`classify`].
//!
//! Layout: the read-handle cache lives in `handles`, the blocking primitives (error mapping,
//! symlink checks, no-replace rename, positioned I/O) in `fsops`; this module is the `Storage`
//! implementation on top of them.

use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::AsyncWriteExt;

mod fsops;
mod handles;

pub use fsops::classify;
use fsops::{
    Root, blocking, check_no_symlinks, metadata_of, read_exact_at, read_folder, rename_noreplace,
    sync_dir, to_storage_error, write_all_at,
};
pub use handles::{HANDLE_CACHE, HANDLE_TTL};
use handles::{Handles, file_id, lock_handles};

use crate::{
    Body, Capabilities, DirEntry, EntryKind, Metadata, RenameMode, SpaceInfo, Storage,
    StorageError, StorageErrorKind, StoragePath, WriteMode,
};

/// Prefix of the temp files `write` creates next to their target.
pub use crate::TEMP_PREFIX;

/// Reads above this length stat the file first, so a huge `len` never
/// allocates more than the object holds.
const READ_STAT_ABOVE: usize = 1 << 20;

/// A local folder holding the vault (see the module docs).
#[derive(Clone)]
pub struct LocalStorage {
    root: Arc<Root>,
    max_name_len: usize,
    fsync: bool,
    handles: Arc<Mutex<Handles>>,
}

impl std::fmt::Debug for LocalStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStorage")
            .field("root", &self.root.path)
            .field("max_name_len", &self.max_name_len)
            .field("fsync", &self.fsync)
            .finish_non_exhaustive()
    }
}

impl LocalStorage {
    /// A storage rooted at `root`, which must be an existing folder.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let rootp = StoragePath::root();
        // Absolute (not canonical: the user's spelling stays in `describe`),
        // so a later change of the working directory cannot move the vault.
        let root = std::path::absolute(root.into()).map_err(|e| to_storage_error(&rootp, e))?;
        let meta = std::fs::metadata(&root).map_err(|e| to_storage_error(&rootp, e))?;
        if !meta.is_dir() {
            return Err(StorageError::with_source(
                StorageErrorKind::NotADirectory,
                &rootp,
                format!("{} is not a folder", root.display()),
            ));
        }
        #[cfg(unix)]
        let max_name_len = rustix::fs::statvfs(&root)
            .ok()
            .and_then(|s| usize::try_from(s.f_namemax).ok())
            .filter(|&n| n > 0)
            .unwrap_or(255);
        #[cfg(not(unix))]
        let max_name_len = 255;
        Ok(LocalStorage {
            root: Arc::new(Root::new(root)),
            max_name_len,
            fsync: true,
            handles: Arc::default(),
        })
    }

    /// With `false`, skips every fsync (files and folders): faster, but a
    /// crash may lose or tear recent writes. For tests and benches only.
    pub fn with_fsync(mut self, fsync: bool) -> Self {
        self.fsync = fsync;
        self
    }

    /// The folder this storage is rooted at.
    pub fn root(&self) -> &Path {
        &self.root.path
    }

    /// The local path of `path`. Each component must be a plain name here
    /// too (e.g. `C:` on Windows is not), so nothing can escape the root.
    fn full(&self, path: &StoragePath) -> Result<PathBuf, StorageError> {
        let mut full = self.root.path.clone();
        for comp in path.components() {
            let mut parsed = Path::new(comp).components();
            if !matches!(
                (parsed.next(), parsed.next()),
                (Some(Component::Normal(_)), None)
            ) {
                return Err(StorageError::new(
                    StorageErrorKind::InvalidPath,
                    path.clone(),
                ));
            }
            full.push(comp);
        }
        Ok(full)
    }

    /// `write` with or without the fsyncs (module docs).
    async fn write_impl(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
        durable: bool,
    ) -> Result<(), StorageError> {
        let Some(parent) = path.parent() else {
            return Err(StorageError::new(
                StorageErrorKind::IsADirectory,
                path.clone(),
            ));
        };
        let full = self.full(path)?;
        let parent_full = self.full(&parent)?;
        let fsync = self.fsync && durable;
        let err = |e: io::Error| to_storage_error(path, e);

        // 1. A fresh hidden temp file (O_EXCL, random name) in the same folder
        //    (a missing folder or a file in its place fails here already).
        let (root, rel, dir) = (Arc::clone(&self.root), path.clone(), parent_full.clone());
        let (file, temp_path) = blocking(move || {
            check_no_symlinks(&root, &rel, false)?;
            let mut builder = tempfile::Builder::new();
            builder.prefix(TEMP_PREFIX).suffix("").rand_bytes(12);
            #[cfg(unix)]
            {
                // Mode 0666 minus the umask, like any file the user creates
                // (tempfile's default 0600 would change the vault's modes).
                use std::os::unix::fs::PermissionsExt;
                builder.permissions(std::fs::Permissions::from_mode(0o666));
            }
            Ok(builder.tempfile_in(&dir)?.into_parts())
        })
        .await
        .map_err(err)?;
        // From here on, dropping `temp_path` (error or cancellation) removes the temp file.

        // 2. Stream the body in (small bodies in one blocking call) and make it durable.
        let expected = body.len();
        let file = if expected <= READ_STAT_ABOVE as u64 {
            let bytes = body.into_bytes().await.map_err(err)?;
            blocking(move || {
                use std::io::Write;
                let mut file = file;
                file.write_all(&bytes)?;
                if fsync {
                    file.sync_all()?;
                }
                Ok(file)
            })
            .await
            .map_err(err)?
        } else {
            let mut file = tokio::fs::File::from_std(file);
            let mut reader = tokio::io::AsyncReadExt::take(body.into_reader(), expected);
            let copied = tokio::io::copy(&mut reader, &mut file).await.map_err(err)?;
            if copied != expected {
                return Err(StorageError::with_source(
                    StorageErrorKind::Other,
                    path,
                    format!("body yielded {copied} bytes, expected {expected}"),
                ));
            }
            file.flush().await.map_err(err)?;
            if fsync {
                file.sync_all().await.map_err(err)?;
            }
            file.into_std().await
        };
        drop(file);

        // 3. Publish it atomically, then make the folder entry durable.
        let handles = Arc::clone(&self.handles);
        blocking(move || {
            lock_handles(&handles).forget(&full);
            let res = match mode {
                WriteMode::Overwrite => temp_path.persist(&full).map(|_| ()),
                WriteMode::CreateNew => temp_path.persist_noclobber(&full).map(|_| ()),
            };
            lock_handles(&handles).forget(&full);
            res.map_err(|e| e.error)?;
            if fsync {
                sync_dir(&parent_full)
            } else {
                Ok(())
            }
        })
        .await
        .map_err(err)
    }

    /// `rename` with or without the fsyncs (module docs).
    async fn rename_impl(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
        durable: bool,
    ) -> Result<(), StorageError> {
        if from.is_root() || to.is_root() {
            let which = if from.is_root() { from } else { to };
            return Err(StorageError::new(
                StorageErrorKind::InvalidPath,
                which.clone(),
            ));
        }
        let to_full = self.full(to)?;
        let (from_rel, to_rel, fsync) = (from.clone(), to.clone(), self.fsync && durable);
        let handles = Arc::clone(&self.handles);
        self.run(from, move |root, from_full| {
            let forget = || {
                let mut h = lock_handles(&handles);
                h.forget(from_full);
                h.forget(&to_full);
            };
            let synced = || -> io::Result<()> {
                if fsync {
                    if let Some(parent) = to_full.parent() {
                        sync_dir(parent)?;
                    }
                    if let Some(parent) =
                        from_full.parent().filter(|p| Some(*p) != to_full.parent())
                    {
                        sync_dir(parent)?;
                    }
                }
                Ok(())
            };
            // Both in one folder (a rename aside, a name change): its components are checked,
            // and a missing source is the rename's own ENOENT. On Linux the check's walk opens
            // the folder and the rename acts relative to it.
            let same_folder = to_rel.parent() == from_rel.parent();
            if same_folder && from_full != to_full.as_path() {
                forget();
                let res = fsops::rename_in_folder(root, &from_rel, &to_rel, mode);
                forget();
                if res? {
                    return synced();
                }
            }
            check_no_symlinks(root, &from_rel, false)?;
            if !same_folder {
                check_no_symlinks(root, &to_rel, false)?;
                // Report a missing source as such, even when the target's parent is missing too.
                std::fs::symlink_metadata(from_full)?;
            }
            if from_full == to_full {
                return std::fs::symlink_metadata(from_full).map(|_| ());
            }
            forget();
            let res = match mode {
                RenameMode::Replace => std::fs::rename(from_full, &to_full),
                RenameMode::NoReplace => rename_noreplace(from_full, &to_full),
            };
            forget();
            res?;
            synced()
        })
        .await
        .map_err(|e| {
            // An existing target is the target's error, not the source's.
            if e.kind() == StorageErrorKind::AlreadyExists {
                StorageError::new(StorageErrorKind::AlreadyExists, to.clone())
            } else {
                e
            }
        })
    }

    /// Runs `f(root, full path)` on the blocking pool and maps its error.
    /// Removes a folder below the root (never the root itself: that is the vault) with `remove`,
    /// after refusing symlinks on the way (and inside, for a whole tree), and drops the cached
    /// read handles of what went away.
    async fn remove_folder(
        &self,
        path: &StoragePath,
        whole_tree: bool,
        remove: fn(&Path) -> io::Result<()>,
    ) -> Result<(), StorageError> {
        if path.is_root() {
            return Err(StorageError::new(
                StorageErrorKind::InvalidPath,
                path.clone(),
            ));
        }
        let rel = path.clone();
        let handles = Arc::clone(&self.handles);
        self.run(path, move |root, full| {
            check_no_symlinks(root, &rel, whole_tree)?;
            let res = remove(full);
            lock_handles(&handles).forget(full);
            res
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        path: &StoragePath,
        f: impl FnOnce(&Root, &Path) -> io::Result<T> + Send + 'static,
    ) -> Result<T, StorageError> {
        let full = self.full(path)?;
        let root = Arc::clone(&self.root);
        blocking(move || f(&root, &full))
            .await
            .map_err(|e| to_storage_error(path, e))
    }
}

#[async_trait]
impl Storage for LocalStorage {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            random_write: true,
            atomic_replace: true,
            atomic_dir_rename: true,
            max_name_len: self.max_name_len,
            set_modified: true,
        }
    }

    fn describe(&self) -> String {
        format!("local folder {}", self.root.path.display())
    }

    fn local_io(&self) -> bool {
        true
    }

    async fn metadata(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        self.run(path, |_, full| {
            std::fs::metadata(full).map(|m| metadata_of(&m))
        })
        .await
    }

    async fn list_dir(&self, path: &StoragePath) -> Result<Vec<DirEntry>, StorageError> {
        self.run(path, |_, full| {
            read_folder(full, |entry, name| {
                let meta = match entry.metadata() {
                    // Follow a symlink to report what it points at.
                    Ok(m) if m.file_type().is_symlink() => std::fs::metadata(entry.path()),
                    other => other,
                };
                meta.map(|m| DirEntry {
                    name,
                    metadata: metadata_of(&m),
                })
            })
        })
        .await
    }

    async fn list_names(
        &self,
        path: &StoragePath,
    ) -> Result<Vec<(String, EntryKind)>, StorageError> {
        self.run(path, |_, full| {
            read_folder(full, |entry, name| {
                // The kind the folder records (no stat), as `list_dir` reports it: a symlink
                // by what it points at.
                let kind = match entry.file_type() {
                    Ok(t) if t.is_symlink() => {
                        std::fs::metadata(entry.path()).map(|m| m.file_type())
                    }
                    other => other,
                };
                kind.map(|t| {
                    (
                        name,
                        if t.is_dir() {
                            EntryKind::Dir
                        } else {
                            EntryKind::File
                        },
                    )
                })
            })
        })
        .await
    }

    async fn read_at(
        &self,
        path: &StoragePath,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, StorageError> {
        let handles = Arc::clone(&self.handles);
        self.run(path, move |_, full| {
            let cached = lock_handles(&handles).get(full);
            // One stat by path instead of open + fstat + close: the cached
            // handle is used only if the path still names the same file.
            let cached = match cached {
                Some((f, id)) if file_id(&std::fs::metadata(full)?) == id => Some(f),
                _ => None,
            };
            let file = match cached {
                Some(f) => f,
                None => {
                    let generation = lock_handles(&handles).generation;
                    let file = std::fs::File::open(full)?;
                    let meta = file.metadata()?;
                    if meta.is_dir() {
                        return Err(io::Error::from(io::ErrorKind::IsADirectory));
                    }
                    let file = Arc::new(file);
                    lock_handles(&handles).put(
                        generation,
                        full.to_path_buf(),
                        Arc::clone(&file),
                        file_id(&meta),
                    );
                    file
                }
            };
            // No file is that long (and pread(2) refuses such offsets).
            if offset > i64::MAX as u64 {
                return Ok(Bytes::new());
            }
            // Never allocate more than the object holds.
            let want = if len > READ_STAT_ABOVE {
                let size = file.metadata()?.len();
                len.min(usize::try_from(size.saturating_sub(offset)).unwrap_or(usize::MAX))
            } else {
                len
            };
            Ok(Bytes::from(read_exact_at(&file, want, offset)?))
        })
        .await
    }

    async fn write(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        self.write_impl(path, body, mode, true).await
    }

    async fn write_nosync(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        self.write_impl(path, body, mode, false).await
    }

    async fn rename_nosync(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        self.rename_impl(from, to, mode, false).await
    }

    async fn sync_entry(&self, path: &StoragePath) -> Result<(), StorageError> {
        if !self.fsync {
            return self.metadata(path).await.map(|_| ());
        }
        self.run(path, |_, full| {
            let file = if cfg!(unix) {
                std::fs::File::open(full)?
            } else {
                std::fs::OpenOptions::new().write(true).open(full)?
            };
            file.sync_all()?;
            match full.parent() {
                Some(parent) => sync_dir(parent),
                None => Ok(()),
            }
        })
        .await
    }

    async fn sync_all(&self) -> Result<(), StorageError> {
        if !self.fsync {
            return Ok(());
        }
        // syncfs(2) of the vault's filesystem: the engine does not keep a list of what it
        // committed without fsync, and one syncfs is cheaper than an fsync per object anyway.
        self.run(&StoragePath::root(), |_, root| {
            let dir = std::fs::File::open(root)?;
            #[cfg(any(target_os = "linux", target_os = "android"))]
            rustix::fs::syncfs(&dir)?;
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            {
                // No syncfs elsewhere: sync(2) where there is one, else the root folder only.
                #[cfg(unix)]
                rustix::fs::sync();
                dir.sync_all()?;
            }
            Ok(())
        })
        .await
    }

    async fn write_at(
        &self,
        path: &StoragePath,
        offset: u64,
        data: Bytes,
    ) -> Result<(), StorageError> {
        let rel = path.clone();
        self.run(path, move |root, full| {
            check_no_symlinks(root, &rel, true)?;
            let file = std::fs::OpenOptions::new().write(true).open(full)?;
            write_all_at(&file, &data, offset)
        })
        .await
    }

    async fn set_len(&self, path: &StoragePath, len: u64) -> Result<(), StorageError> {
        let rel = path.clone();
        let handles = Arc::clone(&self.handles);
        self.run(path, move |root, full| {
            check_no_symlinks(root, &rel, true)?;
            let res = std::fs::OpenOptions::new()
                .write(true)
                .open(full)?
                .set_len(len);
            lock_handles(&handles).forget(full);
            res
        })
        .await
    }

    async fn sync(&self, path: &StoragePath) -> Result<(), StorageError> {
        if !self.fsync {
            return self.metadata(path).await.map(|_| ());
        }
        self.run(path, |_, full| {
            // fsync flushes the inode's dirty pages whichever descriptor wrote them.
            let file = if cfg!(unix) {
                std::fs::File::open(full)?
            } else {
                std::fs::OpenOptions::new().write(true).open(full)?
            };
            file.sync_all()
        })
        .await
    }

    async fn create_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        let rel = path.clone();
        let fsync = self.fsync;
        self.run(path, move |root, full| {
            check_no_symlinks(root, &rel, false)?;
            std::fs::create_dir(full)?;
            match full.parent() {
                Some(parent) if fsync => sync_dir(parent),
                _ => Ok(()),
            }
        })
        .await
    }

    async fn remove_file(&self, path: &StoragePath) -> Result<(), StorageError> {
        let rel = path.clone();
        let handles = Arc::clone(&self.handles);
        self.run(path, move |root, full| {
            match fsops::remove_in_folder(root, &rel) {
                // Not available here: by path below.
                Ok(false) => {}
                done => {
                    lock_handles(&handles).forget(full);
                    return done.map(|_| ());
                }
            }
            check_no_symlinks(root, &rel, false)?;
            // unlink(2) on a folder is EISDIR on Linux but EPERM elsewhere.
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            if std::fs::symlink_metadata(full)?.is_dir() {
                return Err(io::Error::from(io::ErrorKind::IsADirectory));
            }
            let res = std::fs::remove_file(full);
            lock_handles(&handles).forget(full);
            res
        })
        .await
    }

    async fn remove_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.remove_folder(path, false, |full| std::fs::remove_dir(full))
            .await
    }

    async fn remove_dir_all(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.remove_folder(path, true, |full| {
            if !std::fs::symlink_metadata(full)?.is_dir() {
                return Err(io::Error::from(io::ErrorKind::NotADirectory));
            }
            // std's remove_dir_all never follows symlinks below `full`.
            std::fs::remove_dir_all(full)
        })
        .await
    }

    async fn rename(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        self.rename_impl(from, to, mode, true).await
    }

    async fn set_modified(
        &self,
        path: &StoragePath,
        modified: SystemTime,
    ) -> Result<(), StorageError> {
        let rel = path.clone();
        self.run(path, move |root, full| {
            check_no_symlinks(root, &rel, true)?;
            std::fs::File::open(full)?.set_modified(modified)
        })
        .await
    }

    async fn space(&self) -> Result<Option<SpaceInfo>, StorageError> {
        #[cfg(unix)]
        {
            let root = self.root.path.clone();
            let stat = blocking(move || rustix::fs::statvfs(&root).map_err(io::Error::from))
                .await
                .map_err(|e| to_storage_error(&StoragePath::root(), e))?;
            Ok(Some(SpaceInfo {
                total: stat.f_blocks.saturating_mul(stat.f_frsize),
                available: stat.f_bavail.saturating_mul(stat.f_frsize),
            }))
        }
        #[cfg(not(unix))]
        {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests;
