//! The content cache (`--cache=full`): a [`Storage`] decorator that keeps object bytes on the
//! local disk, so that files read once (and pinned ones, "keep offline") are served at local
//! speed and while the storage is unreachable. It sits below the engine: it only ever sees
//! ciphertext objects, their storage paths and version tags, which is what the server holds.
//!
//! Rules:
//! - An object is cached **whole**, keyed by its storage path and the version tag of its
//!   [`Metadata`] (ETag, or size + mtime). Whole objects rather than chunk ranges with a bitmap:
//!   one object version is one file with nothing that can disagree with it after a crash, a read
//!   never mixes bytes of two versions, and a Cryptomator content object is read front to back
//!   anyway. Unpinned objects over [`WHOLE_MAX`] are read through (not cached), which bounds the
//!   bytes a small read of a large file can cost; pinned objects are fetched whatever their size.
//! - `read_at` asks the inner storage for the object's metadata (in full mode that is the
//!   metadata cache: free within its TTL, and the cached answer when the server is down). The
//!   cached bytes are served when their version tag is the current one, or when the storage
//!   does not answer at all; otherwise the whole object is fetched, stored and served.
//! - Every mutating call through the decorator forgets the entries it touches (before and
//!   after the call; a fetch that overlapped a mutation is not kept): our own writes are never
//!   hidden. A rename carries pins along.
//! - A cache write that fails (disk full, I/O error) never fails a read: it is logged and the
//!   bytes just fetched are served.
//! - Bounded: above [`ContentOptions::max_size`] the least recently used unpinned entries are
//!   evicted; pinned entries never are (they may exceed the bound on their own).
//! - Pins are storage-path prefixes (a content object, or a folder whose objects are all
//!   pinned, including those added later); the caller maps cleartext to them. Pinned content is
//!   fetched in the background when pinned, on attach and every [`PIN_REFRESH`].
//!
//! On disk: see [`disk`]. Until [`ContentCache::attach`] gives it a folder, the decorator passes
//! every call through.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{
    Body, Capabilities, DirEntry, EntryKind, Metadata, RenameMode, SpaceInfo, Storage,
    StorageError, StorageErrorKind, StoragePath, WriteMode,
};

mod disk;
mod entries;
mod fetch;
pub use fetch::FetchReport;

/// Default of `--cache-max-size`: room for a working set of documents and photos on a laptop
/// disk without surprising anyone; pinned content may exceed it.
pub const DEFAULT_MAX_SIZE: u64 = 1 << 30;
/// Largest unpinned object cached on a read (fetched whole on its first read).
pub const WHOLE_MAX: u64 = 16 << 20;
/// The content folder's name inside the vault's cache folder.
pub const CONTENT_DIR: &str = "content";
/// How often pinned content is checked against the server and fetched where it changed.
pub const PIN_REFRESH: Duration = Duration::from_secs(300);

/// Settings of one content cache.
#[derive(Debug, Clone, Copy)]
pub struct ContentOptions {
    /// Bytes of unpinned content kept before the least recently used is evicted.
    pub max_size: u64,
}

impl Default for ContentOptions {
    fn default() -> Self {
        ContentOptions {
            max_size: DEFAULT_MAX_SIZE,
        }
    }
}

struct Entry {
    tag: String,
    size: u64,
    /// Last use (a tick of [`State::clock`]).
    used: u64,
}

#[derive(Default)]
struct State {
    entries: HashMap<StoragePath, Entry>,
    /// Sum of the entries' sizes.
    total: u64,
    clock: u64,
    /// Bumped by every mutation: a fetch begun before one is not kept.
    generation: u64,
    pins: BTreeSet<StoragePath>,
}

type FetchLock = Arc<tokio::sync::Mutex<()>>;

struct Shared {
    inner: Arc<dyn Storage>,
    options: ContentOptions,
    state: Mutex<State>,
    disk: OnceLock<disk::Disk>,
    /// One whole-object fetch per path at a time: concurrent first reads (read-ahead) wait for
    /// it instead of each downloading the object.
    fetching: Mutex<HashMap<StoragePath, FetchLock>>,
    /// Notified after a pinned object we changed was fetched again.
    changed: Arc<tokio::sync::Notify>,
}

/// Whether `path` is `prefix` or below it.
fn under(path: &StoragePath, prefix: &StoragePath) -> bool {
    prefix.is_root()
        || path == prefix
        || path
            .as_str()
            .strip_prefix(prefix.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
}

fn unanswered(e: &StorageError) -> bool {
    matches!(
        e.kind(),
        StorageErrorKind::Unavailable | StorageErrorKind::Other
    )
}

/// Objects in the vault's top folder (its key files) are left to the metadata cache, which keeps
/// them for an offline unlock; temp objects of unfinished writes are not worth keeping.
fn cacheable(path: &StoragePath) -> bool {
    path.parent().is_some_and(|p| !p.is_root())
        && !path
            .file_name()
            .is_some_and(|n| n.starts_with(crate::TEMP_PREFIX))
}

/// The content cache around any [`Storage`]; see the module docs.
pub struct ContentCache {
    shared: Arc<Shared>,
}

impl ContentCache {
    /// A content cache around `inner`, passing everything through until attached.
    pub fn new(inner: Arc<dyn Storage>, options: ContentOptions) -> Self {
        ContentCache {
            shared: Arc::new(Shared {
                inner,
                options,
                state: Mutex::new(State::default()),
                disk: OnceLock::new(),
                fetching: Mutex::new(HashMap::new()),
                changed: Arc::default(),
            }),
        }
    }

    /// Keeps content in `dir` (made 0700 if missing) from now on: what it holds is loaded
    /// (damaged entries removed), with the pins saved there, and the pinned content is checked
    /// in the background (within a tokio runtime). Attached once; a second call is ignored.
    pub fn attach(&self, dir: &std::path::Path) -> std::io::Result<()> {
        if self.shared.disk.get().is_some() {
            return Ok(());
        }
        let disk = disk::Disk::open(dir)?;
        let mut found = disk.scan();
        let pins = disk.load_pins();
        // Oldest use first: ticks follow the files' mtimes.
        found.sort_by_key(|f| f.used);
        let mut stale = Vec::new();
        {
            let mut st = self.shared.lock();
            for f in found {
                st.clock += 1;
                let used = st.clock;
                let old = st.entries.insert(
                    f.path.clone(),
                    Entry {
                        tag: f.tag,
                        size: f.size,
                        used,
                    },
                );
                st.total += f.size;
                // Two versions of one object: the newer use wins.
                if let Some(old) = old {
                    st.total -= old.size;
                    stale.push((f.path, old.tag));
                }
            }
            st.pins.extend(pins);
        }
        for (p, t) in &stale {
            disk.remove(p, t);
        }
        let _ = self.shared.disk.set(disk);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&self.shared);
            let now = !self.shared.lock().pins.is_empty();
            rt.spawn(refresh_loop(weak, now));
        }
        Ok(())
    }

    /// The attached content folder, if any.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.shared.disk.get().map(disk::Disk::dir)
    }

    /// Bytes held now (pinned and unpinned).
    pub fn used_bytes(&self) -> u64 {
        self.shared.lock().total
    }

    /// Whether `path` has cached bytes (of any version).
    pub fn is_cached(&self, path: &StoragePath) -> bool {
        self.shared.lock().entries.contains_key(path)
    }

    /// Whether `path` is pinned (itself or a prefix of it).
    pub fn is_pinned(&self, path: &StoragePath) -> bool {
        self.shared.pinned(path)
    }

    /// The pinned prefixes.
    pub fn pins(&self) -> Vec<StoragePath> {
        self.shared.lock().pins.iter().cloned().collect()
    }

    /// Pins `prefixes` (saved at once); returns how many were new. Their content is fetched by
    /// [`ContentCache::fetch`] (the caller awaits it or spawns it).
    pub fn pin(&self, prefixes: &[StoragePath]) -> std::io::Result<usize> {
        self.change_pins(|pins| {
            prefixes
                .iter()
                .filter(|p| !p.as_str().contains(['\n', '\r']))
                .filter(|p| pins.insert((*p).clone()))
                .count()
        })
    }

    /// Unpins `prefixes` (their content becomes evictable); returns how many were pinned.
    pub fn unpin(&self, prefixes: &[StoragePath]) -> std::io::Result<usize> {
        let n = self.change_pins(|pins| prefixes.iter().filter(|p| pins.remove(*p)).count())?;
        let gone = {
            let mut st = self.shared.lock();
            let st = &mut *st;
            self.shared.evict(st)
        };
        if let Some(disk) = self.shared.disk.get() {
            for (p, t) in gone {
                disk.remove(&p, &t);
            }
        }
        Ok(n)
    }

    fn change_pins(
        &self,
        f: impl FnOnce(&mut BTreeSet<StoragePath>) -> usize,
    ) -> std::io::Result<usize> {
        let disk = self.shared.disk.get().ok_or_else(|| {
            std::io::Error::other("the content cache has no folder (mount with --cache=full)")
        })?;
        let (n, all) = {
            let mut st = self.shared.lock();
            let n = f(&mut st.pins);
            (n, st.pins.iter().cloned().collect::<Vec<_>>())
        };
        disk.save_pins(&all)?;
        Ok(n)
    }

    /// Notified (permits coalesce) each time a pinned object changed through this cache was
    /// fetched again: a caller that knows the format finds new pinned folders then.
    pub fn pinned_changes(&self) -> Arc<tokio::sync::Notify> {
        self.shared.changed.clone()
    }

    /// Tests: every cache write fails with `kind` (`None`: writes work again).
    #[doc(hidden)]
    pub fn set_write_fault(&self, kind: Option<std::io::ErrorKind>) {
        if let Some(d) = self.shared.disk.get() {
            d.set_fault(kind);
        }
    }

    async fn read_miss(
        &self,
        path: &StoragePath,
        meta: &Metadata,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, StorageError> {
        let inner = &self.shared.inner;
        let pinned = self.shared.pinned(path);
        if meta.size > WHOLE_MAX || (!pinned && meta.size > self.shared.options.max_size) {
            if pinned {
                let weak = Arc::downgrade(&self.shared);
                let p = path.clone();
                tokio::spawn(async move {
                    if let Some(s) = weak.upgrade() {
                        let _ = fetch::fetch_file(&s, &p, &mut FetchReport::default()).await;
                    }
                });
            }
            return inner.read_at(path, offset, len).await;
        }
        let tag = meta.version_tag();
        let lock = self.shared.fetch_lock(path);
        let guard = lock.lock().await;
        // Another reader may have fetched it while this one waited.
        if let Some(b) = self.shared.serve(path, Some(&tag), offset, len) {
            drop(guard);
            self.shared.fetch_done(path, lock);
            return Ok(b);
        }
        let generation = self.shared.lock().generation;
        let size = usize::try_from(meta.size).unwrap_or(usize::MAX);
        // One byte more than the size: a longer answer means the object changed meanwhile.
        let got = inner.read_at(path, 0, size.saturating_add(1)).await;
        if let Ok(whole) = &got
            && whole.len() == size
        {
            self.store(generation, path, &tag, whole.clone()).await;
        }
        drop(guard);
        self.shared.fetch_done(path, lock);
        let whole = got?;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(whole.len());
        let end = start.saturating_add(len).min(whole.len());
        Ok(whole.slice(start..end))
    }

    /// Writes `data` as the entry (`path`, `tag`); a failure is logged, never returned.
    async fn store(&self, generation: u64, path: &StoragePath, tag: &str, data: Bytes) {
        let shared = self.shared.clone();
        let (p, t) = (path.clone(), tag.to_owned());
        let written = tokio::task::spawn_blocking(move || match shared.disk.get() {
            Some(d) => d.put(&p, &t, &data).map(|()| data.len() as u64),
            None => Err(std::io::Error::other("no content folder")),
        })
        .await;
        match written {
            Ok(Ok(size)) => {
                self.shared.record(generation, path, tag, size);
            }
            Ok(Err(e)) => {
                tracing::warn!(path = %path.as_str(), error = %e, "content cache: cannot keep the object (served from storage)");
            }
            Err(e) => tracing::warn!(error = %e, "content cache: write task failed"),
        }
    }

    /// Fetches every pinned object under `prefixes` (all pins: `None`) that is not cached at
    /// its current version.
    pub async fn fetch(&self, prefixes: Option<&[StoragePath]>) -> FetchReport {
        fetch::fetch_pins(&self.shared, prefixes).await
    }
}

/// Checks the pins every [`PIN_REFRESH`] (first at once when `now`: pins loaded from disk).
async fn refresh_loop(weak: Weak<Shared>, now: bool) {
    let mut first = now;
    loop {
        if !first {
            tokio::time::sleep(PIN_REFRESH).await;
        }
        first = false;
        let Some(shared) = weak.upgrade() else { return };
        if shared.lock().pins.is_empty() {
            continue;
        }
        let report = fetch::fetch_pins(&shared, None).await;
        tracing::info!(
            fetched = report.fetched,
            current = report.current,
            failed = report.failed,
            "content cache: pinned content checked"
        );
    }
}

fn with_pins_moved(st: &mut State, from: &StoragePath, to: &StoragePath) {
    let moved: Vec<StoragePath> = st.pins.iter().filter(|p| under(p, from)).cloned().collect();
    for p in moved {
        st.pins.remove(&p);
        let rest = &p.as_str()[from.as_str().len()..];
        if let Ok(n) = StoragePath::new(&format!("{}{rest}", to.as_str())) {
            st.pins.insert(n);
        }
    }
}

impl ContentCache {
    async fn mutating<T>(
        &self,
        paths: &[&StoragePath],
        call: impl std::future::Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        for p in paths {
            self.shared.forget(p);
        }
        let out = call.await;
        for p in paths {
            self.shared.forget(p);
        }
        out
    }

    /// A pinned object we changed is fetched again in the background (what we wrote is what an
    /// offline mount must find), and its folder listed again, so that the metadata cache below
    /// knows the new entry too. Temp objects of unfinished writes are not.
    fn refetch_if_pinned(&self, path: &StoragePath) {
        let temp = path
            .file_name()
            .is_some_and(|n| n.starts_with(crate::TEMP_PREFIX));
        if temp || self.shared.disk.get().is_none() || !self.shared.pinned(path) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(&self.shared);
        let p = path.clone();
        rt.spawn(async move {
            let Some(s) = weak.upgrade() else { return };
            if let Err(e) = fetch::fetch_file(&s, &p, &mut FetchReport::default()).await {
                tracing::info!(path = %p.as_str(), error = %e, "content cache: changed pinned object not fetched (retried later)");
            }
            if let Some(parent) = p.parent() {
                let _ = s.inner.list_dir(&parent).await;
            }
            s.changed.notify_one();
        });
    }

    fn save_pins(&self) {
        let all: Vec<StoragePath> = self.pins();
        if let Some(d) = self.shared.disk.get()
            && let Err(e) = d.save_pins(&all)
        {
            tracing::warn!(error = %e, "content cache: pins not saved");
        }
    }

    /// Pins under a removed folder go with it.
    fn drop_pins_under(&self, path: &StoragePath) {
        let changed = {
            let mut st = self.shared.lock();
            let before = st.pins.len();
            st.pins.retain(|p| !under(p, path));
            before != st.pins.len()
        };
        if changed {
            self.save_pins();
        }
    }
}

#[async_trait]
impl Storage for ContentCache {
    fn capabilities(&self) -> Capabilities {
        self.shared.inner.capabilities()
    }

    fn describe(&self) -> String {
        self.shared.inner.describe()
    }

    fn sends_nothing(&self) -> bool {
        self.shared.inner.sends_nothing()
    }

    async fn metadata(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        self.shared.inner.metadata(path).await
    }

    async fn metadata_uncached(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        self.shared.inner.metadata_uncached(path).await
    }

    async fn list_dir(&self, path: &StoragePath) -> Result<Vec<DirEntry>, StorageError> {
        self.shared.inner.list_dir(path).await
    }

    async fn read_at(
        &self,
        path: &StoragePath,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, StorageError> {
        let inner = &self.shared.inner;
        if len == 0 || self.shared.disk.get().is_none() || !cacheable(path) {
            return inner.read_at(path, offset, len).await;
        }
        match inner.metadata(path).await {
            Ok(m) if m.kind == EntryKind::File => {
                let tag = m.version_tag();
                if let Some(b) = self.shared.serve(path, Some(&tag), offset, len) {
                    return Ok(b);
                }
                self.read_miss(path, &m, offset, len).await
            }
            Ok(_) => inner.read_at(path, offset, len).await,
            Err(e) if e.kind() == StorageErrorKind::NotFound => {
                self.shared.forget(path);
                Err(e)
            }
            Err(e) if unanswered(&e) => match self.shared.serve(path, None, offset, len) {
                Some(b) => {
                    tracing::debug!(path = %path.as_str(), "storage unreachable: serving cached content");
                    Ok(b)
                }
                None => inner.read_at(path, offset, len).await,
            },
            Err(e) => Err(e),
        }
    }

    async fn write(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        let inner = &self.shared.inner;
        self.mutating(&[path], inner.write(path, body, mode))
            .await?;
        self.refetch_if_pinned(path);
        Ok(())
    }

    async fn write_at(
        &self,
        path: &StoragePath,
        offset: u64,
        data: Bytes,
    ) -> Result<(), StorageError> {
        let inner = &self.shared.inner;
        self.mutating(&[path], inner.write_at(path, offset, data))
            .await
    }

    async fn set_len(&self, path: &StoragePath, len: u64) -> Result<(), StorageError> {
        let inner = &self.shared.inner;
        self.mutating(&[path], inner.set_len(path, len)).await
    }

    async fn sync(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.shared.inner.sync(path).await?;
        self.refetch_if_pinned(path);
        Ok(())
    }

    async fn write_nosync(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        let inner = &self.shared.inner;
        self.mutating(&[path], inner.write_nosync(path, body, mode))
            .await?;
        self.refetch_if_pinned(path);
        Ok(())
    }

    async fn rename_nosync(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        let inner = &self.shared.inner;
        self.mutating(&[from, to], inner.rename_nosync(from, to, mode))
            .await?;
        self.moved(from, to);
        Ok(())
    }

    async fn sync_entry(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.shared.inner.sync_entry(path).await?;
        self.refetch_if_pinned(path);
        Ok(())
    }

    async fn sync_all(&self) -> Result<(), StorageError> {
        self.shared.inner.sync_all().await
    }

    async fn create_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.shared.inner.create_dir(path).await
    }

    async fn remove_file(&self, path: &StoragePath) -> Result<(), StorageError> {
        let inner = &self.shared.inner;
        self.mutating(&[path], inner.remove_file(path)).await?;
        self.drop_pins_under(path);
        Ok(())
    }

    async fn remove_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        let inner = &self.shared.inner;
        self.mutating(&[path], inner.remove_dir(path)).await?;
        self.drop_pins_under(path);
        Ok(())
    }

    async fn rename(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        let inner = &self.shared.inner;
        self.mutating(&[from, to], inner.rename(from, to, mode))
            .await?;
        self.moved(from, to);
        Ok(())
    }

    async fn remove_dir_all(&self, path: &StoragePath) -> Result<(), StorageError> {
        let inner = &self.shared.inner;
        self.mutating(&[path], inner.remove_dir_all(path)).await?;
        self.drop_pins_under(path);
        Ok(())
    }

    async fn set_modified(
        &self,
        path: &StoragePath,
        modified: SystemTime,
    ) -> Result<(), StorageError> {
        let inner = &self.shared.inner;
        self.mutating(&[path], inner.set_modified(path, modified))
            .await
    }

    async fn space(&self) -> Result<Option<SpaceInfo>, StorageError> {
        self.shared.inner.space().await
    }
}

impl ContentCache {
    /// A rename carries the pins at or below `from` to `to`.
    fn moved(&self, from: &StoragePath, to: &StoragePath) {
        let changed = {
            let mut st = self.shared.lock();
            let before: Vec<StoragePath> = st.pins.iter().cloned().collect();
            with_pins_moved(&mut st, from, to);
            st.pins.iter().cloned().collect::<Vec<_>>() != before
        };
        if changed {
            self.save_pins();
        }
        self.refetch_if_pinned(to);
    }
}

#[cfg(test)]
mod tests;
