//! The metadata cache on disk (`--cache=metadata`): one folder per vault and storage, mode 0700,
//! holding a lock file (one mount at a time) and `metadata.json` (0600): the listings, metadata
//! and small objects of [`super::Tables`], rewritten whole (temp file + rename) at most once a
//! second while they change, and on `sync_all` and drop.
//!
//! Only ciphertext names, sizes, mtimes, version tags and ciphertext bytes of at most
//! [`super::SMALL_MAX`] bytes are written: the decorator sits below the engine and never sees
//! cleartext. What is read back is bounded ([`MAX_FILE`]) and validated like any storage answer;
//! a damaged file is logged and ignored (the cache starts empty).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{Cached, Shared, Tables};
use crate::{DirEntry, EntryKind, Metadata, StoragePath};

/// The data file's name inside the cache folder.
pub const DATA_FILE: &str = "metadata.json";
/// The lock file's name inside the cache folder.
pub const LOCK_FILE: &str = "lock";
/// Largest data file read back.
pub const MAX_FILE: u64 = 256 << 20;
/// How long changes gather before the data file is rewritten.
const WRITE_DELAY: Duration = Duration::from_secs(1);
/// Format of the data file; another number is ignored (the cache starts empty).
const FORMAT: u32 = 1;

/// Why a cache folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the lock.
    #[error("the cache {} is in use by another mount{}", .dir.display(), .holder.map(|p| format!(" (process {p})")).unwrap_or_default())]
    Locked {
        /// The cache folder.
        dir: PathBuf,
        /// The holder's process id, if it wrote one.
        holder: Option<u32>,
    },
    /// The folder or its files cannot be made or opened.
    #[error("cannot use the cache {}: {source}", .dir.display())]
    Io {
        /// The cache folder.
        dir: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

/// An open, locked cache folder.
pub struct Store {
    dir: PathBuf,
    /// Held (locked) for the life of the store, or until [`Store::release`].
    lock: File,
    /// Set by [`Store::release`]: nothing is written any more.
    released: AtomicBool,
    dirty: Arc<AtomicBool>,
    wake: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

impl Store {
    /// Opens (creating) the cache folder `dir` and takes its lock; `Locked` if another process
    /// holds it.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let io = |source| StoreError::Io {
            dir: dir.to_owned(),
            source,
        };
        private_dir(dir).map_err(io)?;
        let lock_path = dir.join(LOCK_FILE);
        let mut lock = private_file(&lock_path, false).map_err(io)?;
        if !try_lock(&lock).map_err(io)? {
            let holder = std::fs::read_to_string(&lock_path)
                .ok()
                .and_then(|s| s.trim().parse().ok());
            return Err(StoreError::Locked {
                dir: dir.to_owned(),
                holder,
            });
        }
        use std::io::Write as _;
        let _ = lock.set_len(0);
        let _ = writeln!(lock, "{}", std::process::id());
        Ok(Store {
            dir: dir.to_owned(),
            lock,
            released: AtomicBool::new(false),
            dirty: Arc::new(AtomicBool::new(false)),
            wake: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// [`Store::open`], retrying for up to `wait` while another process holds the lock (a
    /// mount that was just unmounted releases it when its daemon exits, moments later).
    pub fn open_waiting(dir: &Path, wait: Duration) -> Result<Store, StoreError> {
        let until = std::time::Instant::now() + wait;
        loop {
            match Store::open(dir) {
                Err(StoreError::Locked { .. }) if std::time::Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                other => return other,
            }
        }
    }

    /// Lets go of the folder's lock (the next mount may take it at once); nothing is written
    /// afterwards. For a process whose mount has ended but whose teardown may still wait on the
    /// network.
    pub(super) fn release(&self) {
        if !self.released.swap(true, Ordering::AcqRel) {
            unlock(&self.lock);
        }
    }

    /// The cache folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(super) fn mark_dirty(&self) {
        if !self.dirty.swap(true, Ordering::AcqRel) {
            self.wake.notify_one();
        }
    }

    /// Starts the background writer (needs a tokio runtime; without one, writes happen on
    /// `sync_all` and drop only).
    pub(super) fn start_writer(&self, shared: Weak<Shared>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let wake = self.wake.clone();
        rt.spawn(async move {
            loop {
                wake.notified().await;
                tokio::time::sleep(WRITE_DELAY).await;
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                let Some(store) = shared.store.get() else {
                    return;
                };
                if store.released.load(Ordering::Acquire) {
                    return;
                }
                let snapshot = snapshot(&shared.lock().tables);
                let (dir, dirty) = (store.dir.clone(), store.dirty.clone());
                dirty.store(false, Ordering::Release);
                drop(shared);
                let _ = tokio::task::spawn_blocking(move || write_file(&dir, &snapshot)).await;
            }
        });
    }

    /// Writes `tables` now (if anything changed since the last write).
    pub(super) fn write_now(&self, tables: &Tables) {
        if self.released.load(Ordering::Acquire) {
            return;
        }
        if self.dirty.swap(false, Ordering::AcqRel) {
            write_file(&self.dir, &snapshot(tables));
        }
    }

    /// What the folder holds, every answer to be revalidated before it is trusted.
    pub(super) fn load(&self) -> Tables {
        let path = self.dir.join(DATA_FILE);
        let text = match read_bounded(&path) {
            Ok(Some(t)) => t,
            Ok(None) => return Tables::default(),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "metadata cache unreadable; starting empty");
                return Tables::default();
            }
        };
        match serde_json::from_slice::<Snapshot>(&text) {
            Ok(s) if s.format == FORMAT => tables_of(s),
            Ok(_) => Tables::default(),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "metadata cache damaged; starting empty");
                Tables::default()
            }
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Meta {
    dir: bool,
    size: u64,
    /// Seconds and nanoseconds since the Unix epoch.
    mtime: Option<(u64, u32)>,
    version: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    format: u32,
    listings: Vec<(String, Vec<(String, Meta)>)>,
    metas: Vec<(String, Option<Meta>)>,
    small: Vec<(String, Option<Vec<u8>>)>,
    /// Added after format 1 was first written: absent in older files.
    #[serde(default)]
    kept: Vec<(String, Vec<u8>)>,
}

fn meta_out(m: &Metadata) -> Meta {
    Meta {
        dir: m.kind == EntryKind::Dir,
        size: m.size,
        mtime: m
            .modified
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| (d.as_secs(), d.subsec_nanos())),
        version: m.version.clone(),
    }
}

fn meta_in(m: Meta) -> Metadata {
    Metadata {
        kind: if m.dir {
            EntryKind::Dir
        } else {
            EntryKind::File
        },
        size: if m.dir { 0 } else { m.size },
        modified: m
            .mtime
            .and_then(|(s, n)| UNIX_EPOCH.checked_add(Duration::new(s, n.min(999_999_999)))),
        version: m.version.filter(|v| v.len() <= 200),
    }
}

fn snapshot(t: &Tables) -> Snapshot {
    Snapshot {
        format: FORMAT,
        listings: t
            .listings
            .iter()
            .map(|(p, c)| {
                let entries = c
                    .value
                    .iter()
                    .map(|e| (e.name.clone(), meta_out(&e.metadata)))
                    .collect();
                (p.as_str().to_owned(), entries)
            })
            .collect(),
        metas: t
            .metas
            .iter()
            .map(|(p, c)| (p.as_str().to_owned(), c.value.as_ref().map(meta_out)))
            .collect(),
        small: t
            .small
            .iter()
            .map(|(p, c)| (p.as_str().to_owned(), c.value.as_ref().map(|b| b.to_vec())))
            .collect(),
        kept: t
            .kept
            .iter()
            .map(|(p, b)| (p.as_str().to_owned(), b.to_vec()))
            .collect(),
    }
}

fn stale<T>(value: T) -> Cached<T> {
    Cached {
        fresh_until: None,
        value,
    }
}

/// Back to tables, dropping whatever a valid cache would not hold.
fn tables_of(s: Snapshot) -> Tables {
    let mut t = Tables::default();
    for (p, entries) in s.listings.into_iter().take(super::MAX_KEYS) {
        let Ok(path) = StoragePath::new(&p) else {
            continue;
        };
        if entries.len() > super::MAX_LISTING || entries.iter().any(|(n, _)| path.join(n).is_err())
        {
            continue;
        }
        let value = entries
            .into_iter()
            .map(|(name, m)| DirEntry {
                name,
                metadata: meta_in(m),
            })
            .collect();
        t.listings.insert(path, stale(value));
    }
    for (p, m) in s.metas.into_iter().take(super::MAX_KEYS) {
        if let Ok(path) = StoragePath::new(&p) {
            t.metas.insert(path, stale(m.map(meta_in)));
        }
    }
    for (p, b) in s.small.into_iter().take(super::MAX_KEYS) {
        if let Ok(path) = StoragePath::new(&p)
            && b.as_ref().is_none_or(|b| b.len() <= super::SMALL_MAX)
        {
            t.small.insert(path, stale(b.map(Bytes::from)));
        }
    }
    for (p, b) in s.kept.into_iter().take(super::KEPT.len()) {
        if let Ok(path) = StoragePath::new(&p)
            && super::kept::is_kept(&path)
            && b.len() <= super::KEPT_MAX
        {
            t.kept.insert(path, Bytes::from(b));
        }
    }
    t
}

fn write_file(dir: &Path, s: &Snapshot) {
    let tmp = dir.join(format!("{DATA_FILE}.tmp"));
    let result = (|| -> std::io::Result<()> {
        let text = serde_json::to_vec(s).map_err(std::io::Error::other)?;
        let _ = std::fs::remove_file(&tmp);
        let mut f = private_file(&tmp, true)?;
        use std::io::Write as _;
        f.write_all(&text)?;
        f.sync_data()?;
        std::fs::rename(&tmp, dir.join(DATA_FILE))
    })();
    if let Err(e) = result {
        tracing::warn!(dir = %dir.display(), error = %e, "metadata cache not written");
        let _ = std::fs::remove_file(&tmp);
    }
}

fn read_bounded(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read as _;
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut buf = Vec::new();
    f.take(MAX_FILE + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_FILE {
        return Err(std::io::Error::other("larger than the limit"));
    }
    Ok(Some(buf))
}

/// Creates `dir` (and missing parents) readable by the owner only; an existing `dir` is made so.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        b.mode(0o700);
        b.create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    #[cfg(not(unix))]
    b.create(dir)?;
    Ok(())
}

/// Opens `path` for writing, created 0600 (`new`: it must not exist).
fn private_file(path: &Path, new: bool) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).read(true);
    if new {
        o.create_new(true);
    } else {
        o.create(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    o.open(path)
}

#[cfg(unix)]
fn try_lock(f: &File) -> std::io::Result<bool> {
    use rustix::fs::{FlockOperation, flock};
    match flock(f, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(unix)]
fn unlock(f: &File) {
    let _ = rustix::fs::flock(f, rustix::fs::FlockOperation::Unlock);
}

#[cfg(not(unix))]
fn unlock(f: &File) {
    let _ = f.unlock();
}

#[cfg(not(unix))]
fn try_lock(f: &File) -> std::io::Result<bool> {
    match f.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}
