//! The metadata cache: a [`Storage`] decorator that remembers `list_dir` and `metadata`
//! answers (and small whole objects such as `dir.c9r`) for a TTL, optionally persisted
//! ([`store`]) so that listings survive a remount and a link cut.
//!
//! Rules:
//! - An answer younger than the TTL (`--dir-cache-time`) is served without asking. A child's
//!   metadata is also answered from a fresh listing of its parent.
//! - An older answer (or one loaded from disk) is revalidated: the server's answer is used if it
//!   comes within [`CacheOptions::revalidate_wait`] (300 ms); otherwise, or if the server is
//!   unreachable, the old answer is served at once and the revalidation goes on in the
//!   background (stale-while-revalidate). Once one revalidation has gone unanswered, others
//!   serve what is known at once until the server answers again, so a listing of many entries
//!   during a link cut does not wait 300 ms per entry.
//! - Every mutating call through the decorator forgets what it touches (the path, its parent's
//!   listing, everything below it) when it starts and when it ends (a whole-object write and a
//!   rename keep what they change up to date instead, to revalidate, and a removal keeps a
//!   fresh listing of its folder fresh, without the name: [`own`]), and an answer that was in
//!   flight across a mutation is not kept (generation count): our own writes are never hidden.
//!   A folder we created is then kept as "exists, revalidate before trusting", so that it still
//!   resolves during a link cut. Durability calls (`sync`, `sync_entry`, `sync_all`) change no
//!   answer and forget nothing.
//! - Bounded: at most [`MAX_KEYS`] paths per table, [`MAX_LISTING`] entries per listing,
//!   objects of at most [`SMALL_MAX`] bytes.
//!
//! It sits below the engine, so it only ever sees ciphertext names, sizes, mtimes, version
//! tags and ciphertext bytes: what the storage server holds anyway.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{
    Body, Capabilities, DirEntry, EntryKind, Metadata, RenameMode, SpaceInfo, Storage,
    StorageError, StorageErrorKind, StoragePath, WriteMode,
};

mod kept;
mod own;
mod parent_page;
pub mod store;
pub use store::{Store, StoreError};

/// Default of `--dir-cache-time`: about one file-manager operation, so that the several looks
/// at one folder an operation makes cost one request, while another device's change shows
/// within a second.
pub const DEFAULT_TTL: Duration = Duration::from_secs(1);
/// How long a revalidation may take before the cached answer is served.
pub const REVALIDATE_WAIT: Duration = Duration::from_millis(300);
/// Most paths kept per table (listings, metadata, small objects).
pub const MAX_KEYS: usize = 20_000;
/// Listings longer than this are not kept.
pub const MAX_LISTING: usize = 100_000;
/// Most entries kept over all listings (a hostile server cannot make the cache grow beyond).
pub const MAX_LISTED: usize = 500_000;
/// Largest object kept whole (a `dir.c9r` is 36 bytes, a `name.c9s` a few hundred).
pub const SMALL_MAX: usize = 512;
/// The vault's key files, kept whole (up to [`KEPT_MAX`] bytes) so that a mount can unlock
/// from the cache with the server unreachable. Always asked of the server first: the cached
/// copy is used only when the server does not answer.
pub const KEPT: [&str; 2] = ["vault.cryptomator", "masterkey.cryptomator"];
/// Largest kept key file.
pub const KEPT_MAX: usize = 64 * 1024;

/// Settings of one cache.
#[derive(Debug, Clone, Copy)]
pub struct CacheOptions {
    /// How long an answer is served without asking the server again.
    pub ttl: Duration,
    /// How long a revalidation of a known answer is waited for.
    pub revalidate_wait: Duration,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            ttl: DEFAULT_TTL,
            revalidate_wait: REVALIDATE_WAIT,
        }
    }
}

/// One remembered answer; `fresh_until` `None` means "known, but revalidate before trusting".
#[derive(Clone)]
pub(crate) struct Cached<T> {
    pub fresh_until: Option<Instant>,
    pub value: T,
}

impl<T: Clone> Cached<T> {
    fn fresh(&self) -> Option<T> {
        self.is_fresh().then(|| self.value.clone())
    }

    fn is_fresh(&self) -> bool {
        self.fresh_until.is_some_and(|t| Instant::now() < t)
    }
}

/// What the cache holds; also what [`store`] persists.
#[derive(Default)]
pub(crate) struct Tables {
    pub listings: HashMap<StoragePath, Cached<Vec<DirEntry>>>,
    /// `None`: the path did not exist.
    pub metas: HashMap<StoragePath, Cached<Option<Metadata>>>,
    /// Whole small objects; `None`: it did not exist.
    pub small: HashMap<StoragePath, Cached<Option<Bytes>>>,
    /// The [`KEPT`] files, as last read from the server.
    pub kept: HashMap<StoragePath, Bytes>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Listing(StoragePath),
    Meta(StoragePath),
    Small(StoragePath),
}

#[derive(Default)]
struct State {
    generation: u64,
    tables: Tables,
    revalidating: HashSet<Key>,
    /// A revalidation went unanswered and none has succeeded since.
    offline: bool,
    /// While offline, the one revalidation in flight (a dead link gets one question at a
    /// time, not one per path listed).
    probing: bool,
    /// Folders too big to list in one request ([`parent_page`]).
    paged: HashSet<StoragePath>,
}

struct Shared {
    inner: Arc<dyn Storage>,
    options: CacheOptions,
    state: Mutex<State>,
    /// Set once, by [`CachedStorage::attach`].
    store: std::sync::OnceLock<Store>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The tables stay consistent whatever panicked while they were held.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fresh_until(&self) -> Option<Instant> {
        Instant::now().checked_add(self.options.ttl)
    }

    /// Keeps an answer asked at `generation` (dropped if a mutation happened since).
    fn put(&self, generation: u64, key: &Key, answer: Answer) {
        let mut st = self.lock();
        if st.generation != generation {
            return;
        }
        st.offline = false;
        let fresh_until = self.fresh_until();
        let t = &mut st.tables;
        // Only a changed answer is worth rewriting the store for.
        let changed = match (key, answer) {
            (Key::Listing(p), Answer::Listing(v)) if room_for(&t.listings, p, v.len()) => {
                insert(&mut t.listings, p, fresh_until, v)
            }
            (Key::Listing(p), Answer::Listing(_) | Answer::Gone) => t.listings.remove(p).is_some(),
            (Key::Meta(p), Answer::Meta(v)) => insert(&mut t.metas, p, fresh_until, v),
            (Key::Small(p), Answer::Small(v)) => insert(&mut t.small, p, fresh_until, v),
            (Key::Small(p), Answer::Gone) => t.small.remove(p).is_some(),
            _ => false,
        };
        drop(st);
        if changed {
            self.persist_later();
        }
    }

    /// Forgets `path`, its parent's listing and everything below it.
    fn forget(&self, paths: &[&StoragePath]) {
        let mut st = self.lock();
        forget_locked(&mut st, paths);
        drop(st);
        self.persist_later();
    }

    fn persist_later(&self) {
        if let Some(store) = self.store.get() {
            store.mark_dirty();
        }
    }
}

/// Whether a listing of `len` entries for `path` fits the bounds.
fn room_for(
    listings: &HashMap<StoragePath, Cached<Vec<DirEntry>>>,
    path: &StoragePath,
    len: usize,
) -> bool {
    if len > MAX_LISTING {
        return false;
    }
    let kept: usize = listings
        .iter()
        .filter(|(p, _)| *p != path)
        .map(|(_, c)| c.value.len())
        .sum();
    kept + len <= MAX_LISTED
}

/// Keeps `value` for `path` (unless the table is full of fresh answers); true if it differs from
/// what was kept.
fn insert<T: PartialEq>(
    map: &mut HashMap<StoragePath, Cached<T>>,
    path: &StoragePath,
    fresh_until: Option<Instant>,
    value: T,
) -> bool {
    if map.len() >= MAX_KEYS && !map.contains_key(path) {
        let now = Instant::now();
        map.retain(|_, c| c.fresh_until.is_some_and(|t| now < t));
        if map.len() >= MAX_KEYS {
            return false;
        }
    }
    let changed = map.get(path).is_none_or(|old| old.value != value);
    map.insert(path.clone(), Cached { fresh_until, value });
    changed
}

/// [`Shared::forget`] with the state locked.
fn forget_locked(st: &mut State, paths: &[&StoragePath]) {
    st.generation = st.generation.wrapping_add(1);
    for path in paths {
        forget_in(&mut st.tables, path);
        // A folder we write into: its listing would be stale at every next look.
        if let Some(parent) = path.parent() {
            parent_page::note_paged(st, parent);
        }
    }
}

fn forget_in(t: &mut Tables, path: &StoragePath) {
    if path.is_root() {
        t.listings.clear();
        t.metas.clear();
        t.small.clear();
        t.kept.clear();
        return;
    }
    let below = format!("{}/", path.as_str());
    let hit = |p: &StoragePath| p == path || p.as_str().starts_with(&below);
    t.listings.retain(|p, _| !hit(p));
    t.metas.retain(|p, _| !hit(p));
    t.small.retain(|p, _| !hit(p));
    t.kept.retain(|p, _| !hit(p));
    if let Some(parent) = path.parent() {
        t.listings.remove(&parent);
    }
}

/// A server's answer, as kept.
enum Answer {
    Listing(Vec<DirEntry>),
    Meta(Option<Metadata>),
    Small(Option<Bytes>),
    /// Not kept (and what was kept is dropped).
    Gone,
}

/// Errors after which a known answer is still the best one (the server did not really answer).
fn unanswered(e: &StorageError) -> bool {
    matches!(
        e.kind(),
        StorageErrorKind::Unavailable | StorageErrorKind::Other
    )
}

/// The metadata cache around any [`Storage`]; see the module docs.
pub struct CachedStorage {
    shared: Arc<Shared>,
}

impl CachedStorage {
    /// An in-memory cache around `inner`.
    pub fn new(inner: Arc<dyn Storage>, options: CacheOptions) -> Self {
        CachedStorage {
            shared: Arc::new(Shared {
                inner,
                options,
                state: Mutex::new(State::default()),
                store: std::sync::OnceLock::new(),
            }),
        }
    }

    /// A cache around `inner` persisted in `store` (see [`CachedStorage::attach`]).
    pub fn persistent(inner: Arc<dyn Storage>, options: CacheOptions, store: Store) -> Self {
        let c = Self::new(inner, options);
        c.attach(store);
        c
    }

    /// Persists this cache in `store` from now on: what the store holds is loaded, as answers
    /// to revalidate before trusting, where this cache knows nothing fresher. A store is
    /// attached once (the vault's id, which names it, is known only after the unlock); a second
    /// one is dropped, releasing its lock.
    pub fn attach(&self, store: Store) {
        let loaded = store.load();
        if self.shared.store.set(store).is_err() {
            return;
        }
        {
            let mut st = self.shared.lock();
            let t = &mut st.tables;
            for (p, c) in loaded.listings {
                t.listings.entry(p).or_insert(c);
            }
            for (p, c) in loaded.metas {
                t.metas.entry(p).or_insert(c);
            }
            for (p, c) in loaded.small {
                t.small.entry(p).or_insert(c);
            }
            for (p, b) in loaded.kept {
                t.kept.entry(p).or_insert(b);
            }
        }
        if let Some(store) = self.shared.store.get() {
            store.start_writer(Arc::downgrade(&self.shared));
            store.mark_dirty();
        }
    }

    /// The attached store's folder, if any.
    pub fn store_dir(&self) -> Option<&std::path::Path> {
        self.shared.store.get().map(Store::dir)
    }

    /// Writes what is cached to the store now (no-op without one).
    pub fn persist_now(&self) {
        if let Some(store) = self.shared.store.get() {
            store.write_now(&self.shared.lock().tables);
        }
    }

    /// Writes what is cached and lets go of the store's lock: the mount has ended, and the
    /// next one must not wait for this process's teardown (which may wait on the network).
    /// Nothing is persisted afterwards.
    pub fn release_store(&self) {
        if let Some(store) = self.shared.store.get() {
            store.write_now(&self.shared.lock().tables);
            store.release();
        }
    }

    fn generation(&self) -> u64 {
        self.shared.lock().generation
    }

    /// Stale-while-revalidate: asks the server (`fetch`) and returns its answer, unless `stale`
    /// is known and the server has not answered within the wait (or is unreachable): then
    /// `stale`, the question going on in the background.
    async fn revalidate<T, F>(
        &self,
        key: Key,
        stale: Option<T>,
        fetch: F,
        keep: fn(&Result<T, StorageError>) -> Option<Answer>,
    ) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T, StorageError>> + Send + 'static,
    {
        let generation = self.generation();
        // Weak: a revalidation still waiting for the server does not keep the cache (and its
        // lock) alive once the storage is dropped.
        let shared = Arc::downgrade(&self.shared);
        let k = key.clone();
        let task = async move {
            let got = fetch.await;
            if let Some(shared) = shared.upgrade() {
                if let Some(answer) = keep(&got) {
                    shared.put(generation, &k, answer);
                }
                shared.lock().revalidating.remove(&k);
            }
            got
        };
        let Some(stale) = stale else {
            return task.await;
        };
        {
            let mut st = self.shared.lock();
            if st.offline {
                // Already waited for once: serve what is known; one question in the background
                // finds out when the server is back.
                if !st.probing && st.revalidating.insert(key) {
                    st.probing = true;
                    drop(st);
                    let shared = Arc::downgrade(&self.shared);
                    tokio::spawn(async move {
                        let _ = task.await;
                        if let Some(shared) = shared.upgrade() {
                            shared.lock().probing = false;
                        }
                    });
                }
                return Ok(stale);
            }
            if st.revalidating.contains(&key) {
                // Another caller is waiting for this answer already.
                return Ok(stale);
            }
            st.revalidating.insert(key.clone());
        }
        let mut handle = tokio::spawn(task);
        match tokio::time::timeout(self.shared.options.revalidate_wait, &mut handle).await {
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(e))) if !unanswered(&e) => Err(e),
            Ok(Ok(Err(e))) => {
                tracing::info!(error = %e, "storage unreachable: serving the cached answer");
                self.shared.lock().offline = true;
                Ok(stale)
            }
            Ok(Err(_)) => Ok(stale),
            Err(_) => {
                tracing::info!(path = %key_path(&key), "storage slow to answer: serving the cached answer");
                self.shared.lock().offline = true;
                Ok(stale)
            }
        }
    }

    /// The known metadata of `path`: (fresh answer, older answer).
    fn known_meta(
        &self,
        path: &StoragePath,
    ) -> (Option<Option<Metadata>>, Option<Option<Metadata>>) {
        let st = self.shared.lock();
        let own = st.tables.metas.get(path);
        let listed = Self::listed(&st.tables, path);
        // A fresh answer wins, whichever table has it; else the path's own older answer.
        if let Some(v) = own.and_then(Cached::fresh) {
            return (Some(v), None);
        }
        // Our own write's note (no mtime, no version: [`own`]) says less than a listing.
        let note = |v: &Option<Metadata>| {
            v.as_ref()
                .is_some_and(|m| m.modified.is_none() && m.version.is_none())
        };
        match listed {
            Some((answer, true)) => (Some(answer), None),
            Some((answer, false)) => match own {
                Some(c) if !(note(&c.value) && answer.is_some()) => (None, Some(c.value.clone())),
                _ => (None, Some(answer)),
            },
            None => (None, own.map(|c| c.value.clone())),
        }
    }

    /// What the parent's listing says of `path`: (answer, fresh).
    fn listed(t: &Tables, path: &StoragePath) -> Option<(Option<Metadata>, bool)> {
        let (parent, name) = (path.parent()?, path.file_name()?);
        let listing = t.listings.get(&parent)?;
        let found = listing.value.iter().find(|e| e.name == name);
        // Backends leave their own temporaries out of listings: never "absent" for those.
        if found.is_none() && name.starts_with('.') {
            return None;
        }
        let fresh = listing.fresh_until.is_some_and(|t| Instant::now() < t);
        Some((found.map(|e| e.metadata.clone()), fresh))
    }

    /// Runs a mutating call with `paths` forgotten before and after it.
    async fn mutating<T>(
        &self,
        paths: &[&StoragePath],
        call: impl std::future::Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        self.around(call, |_| self.shared.forget(paths)).await
    }

    /// Runs a mutating `call`, telling `note` where it stands: before it, and after it (done or
    /// failed). Where nothing can have reached the server (not connected before, and the call
    /// failed still unconnected), the server's state, and what is known of it, is as before:
    /// then `note` hears nothing.
    pub(super) async fn around<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, StorageError>>,
        note: impl Fn(Stage),
    ) -> Result<T, StorageError> {
        let unsent = || self.shared.inner.sends_nothing();
        let before = unsent();
        if !before {
            note(Stage::Before);
        }
        let out = call.await;
        match &out {
            Ok(_) => note(Stage::Done),
            Err(_) if before && unsent() => {}
            Err(_) => note(Stage::Failed),
        }
        out
    }
}

/// Where a mutating call stands, for what it tells the cache ([`CachedStorage::around`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// About to be sent.
    Before,
    /// Succeeded.
    Done,
    /// Failed after it may have reached the server.
    Failed,
}

fn key_path(key: &Key) -> &str {
    match key {
        Key::Listing(p) | Key::Meta(p) | Key::Small(p) => p.as_str(),
    }
}

fn not_found(path: &StoragePath) -> StorageError {
    StorageError::new(StorageErrorKind::NotFound, path.clone())
}

#[async_trait]
impl Storage for CachedStorage {
    fn capabilities(&self) -> Capabilities {
        self.shared.inner.capabilities()
    }

    fn describe(&self) -> String {
        self.shared.inner.describe()
    }

    fn sends_nothing(&self) -> bool {
        self.shared.inner.sends_nothing()
    }

    async fn metadata_uncached(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        self.shared.inner.metadata_uncached(path).await
    }

    async fn metadata(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        let (mut fresh, mut stale) = self.known_meta(path);
        // Only our own write's note is known (no mtime, no version) and another caller is
        // asking the server: its answer is waited for (at most the revalidation wait), not the
        // note served, since a caller keying content by version needs the real tag.
        let key = Key::Meta(path.clone());
        let t = Instant::now();
        while fresh.is_none()
            && matches!(&stale, Some(Some(m)) if m.modified.is_none() && m.version.is_none())
            && t.elapsed() < self.shared.options.revalidate_wait
            && {
                let st = self.shared.lock();
                !st.offline && st.revalidating.contains(&key)
            }
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
            (fresh, stale) = self.known_meta(path);
        }
        if let Some(known) = fresh {
            return known.ok_or_else(|| not_found(path));
        }
        if let Some(known) = self.meta_from_parent_page(path).await? {
            return known.ok_or_else(|| not_found(path));
        }
        let inner = self.shared.inner.clone();
        let p = path.clone();
        let fetch = async move {
            match inner.metadata(&p).await {
                Ok(m) => Ok(Some(m)),
                Err(e) if e.kind() == StorageErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        };
        let keep = |r: &Result<Option<Metadata>, StorageError>| match r {
            Ok(v) => Some(Answer::Meta(v.clone())),
            Err(_) => None,
        };
        self.revalidate(Key::Meta(path.clone()), stale, fetch, keep)
            .await?
            .ok_or_else(|| not_found(path))
    }

    async fn list_dir(&self, path: &StoragePath) -> Result<Vec<DirEntry>, StorageError> {
        let known = self.shared.lock().tables.listings.get(path).cloned();
        let stale = match known {
            Some(c) => match c.fresh() {
                Some(v) => return Ok(v),
                None => Some(c.value),
            },
            None => None,
        };
        let inner = self.shared.inner.clone();
        let p = path.clone();
        let fetch = async move { inner.list_dir(&p).await };
        let keep = |r: &Result<Vec<DirEntry>, StorageError>| match r {
            Ok(v) => Some(Answer::Listing(v.clone())),
            Err(e) if e.kind() == StorageErrorKind::NotFound => Some(Answer::Gone),
            Err(_) => None,
        };
        self.revalidate(Key::Listing(path.clone()), stale, fetch, keep)
            .await
    }

    async fn read_at(
        &self,
        path: &StoragePath,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, StorageError> {
        if offset != 0 || len == 0 {
            return self.shared.inner.read_at(path, offset, len).await;
        }
        if kept::is_kept(path) {
            return self.read_kept(path, len).await;
        }
        let known = self.shared.lock().tables.small.get(path).cloned();
        let cut = |v: Option<Bytes>| match v {
            Some(b) => Ok(b.slice(..b.len().min(len))),
            None => Err(not_found(path)),
        };
        let stale = match known {
            Some(c) => match c.fresh() {
                Some(v) => return cut(v),
                None => Some(c.value),
            },
            None => None,
        };
        let inner = self.shared.inner.clone();
        let p = path.clone();
        // Asks one byte more than kept, so that a short answer is known to be the whole object.
        let want = len.max(SMALL_MAX + 1);
        let fetch = async move {
            match inner.read_at(&p, 0, want).await {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == StorageErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        };
        let keep = |r: &Result<Option<Bytes>, StorageError>| match r {
            Ok(Some(b)) if b.len() <= SMALL_MAX => Some(Answer::Small(Some(b.clone()))),
            Ok(Some(_)) => Some(Answer::Gone),
            Ok(None) => Some(Answer::Small(None)),
            Err(_) => None,
        };
        let got = self
            .revalidate(Key::Small(path.clone()), stale, fetch, keep)
            .await?;
        cut(got)
    }

    async fn read_all(&self, path: &StoragePath) -> Result<Bytes, StorageError> {
        self.shared.inner.read_all(path).await
    }

    async fn write(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        let (body, kept) = own::small_body(path, body).await?;
        let inner = &self.shared.inner;
        self.writing(path, kept, inner.write(path, body, mode))
            .await
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

    // Durability calls change no listing or attribute: nothing to forget.
    async fn sync(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.shared.inner.sync(path).await
    }

    async fn write_nosync(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        let (body, kept) = own::small_body(path, body).await?;
        let inner = &self.shared.inner;
        self.writing(path, kept, inner.write_nosync(path, body, mode))
            .await
    }

    async fn rename_nosync(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        let inner = &self.shared.inner;
        self.renaming(from, to, inner.rename_nosync(from, to, mode))
            .await
    }

    async fn sync_entry(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.shared.inner.sync_entry(path).await
    }

    async fn sync_all(&self) -> Result<(), StorageError> {
        let out = self.shared.inner.sync_all().await;
        self.persist_now();
        out
    }

    async fn create_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        let inner = &self.shared.inner;
        self.making_dir(path, inner.create_dir(path)).await
    }

    async fn remove_file(&self, path: &StoragePath) -> Result<(), StorageError> {
        let inner = &self.shared.inner;
        // A file a fresh answer shows: the backend may remove just that version in one request.
        match self.known_meta(path).0.flatten() {
            Some(m) if m.kind == EntryKind::File => {
                self.removing(path, inner.remove_listed_file(path, &m))
                    .await
            }
            _ => self.removing(path, inner.remove_file(path)).await,
        }
    }

    async fn remove_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        let inner = &self.shared.inner;
        self.removing(path, inner.remove_dir(path)).await
    }

    async fn rename(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        let inner = &self.shared.inner;
        self.renaming(from, to, inner.rename(from, to, mode)).await
    }

    async fn remove_dir_all(&self, path: &StoragePath) -> Result<(), StorageError> {
        let inner = &self.shared.inner;
        self.removing(path, inner.remove_dir_all(path)).await
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

impl Drop for CachedStorage {
    fn drop(&mut self) {
        self.persist_now();
    }
}

#[cfg(test)]
mod tests;
