//! Removals finished in the background ([`Removals`]): on a local folder a removed file's
//! object is queued here and the caller answers at once; the unlink runs later, on up to
//! [`WORKERS`] blocking threads. Until it has run, the object is gone for the rest of the
//! engine all the same: the engine sees storage through [`overlay::RemovalsOverlay`], which
//! hides queued objects from lookups and listings, and finishes a queued removal first
//! ([`Removals::settle`]) when something is about to be made at its path.
//!
//! Why: an `rm -r` over the drive then costs one lookup per file and no storage change in the
//! foreground (renaming each object aside first, as this module did before, was a third of
//! an unlink's answer time); and on a disk mounted with `discard`, ext4 discards the freed
//! blocks in the unlink that frees them, milliseconds each one after another, much less when
//! several run side by side (a Cryptomator file always holds blocks, its header).
//!
//! Directory removal waits for the removals queued in that folder ([`Removals::wait_dir`])
//! only where it must (the queue is full); otherwise a removed directory's node folder is
//! renamed aside ([`Kind::Tree`]) and its content folder is queued too ([`Kind::Content`]),
//! removed once the removals queued inside it are done, so `rm -r` never waits for the disk.
//! Removals wait while more keep coming ([`QUIET`]): a worker unlinking beside `rm -r` took a
//! core and the folder's lock from the requests (2 cores: an unlink's answer took 56-60 µs
//! instead of 46-48). A whole-vault flush (unmount, lock) waits for all
//! ([`Removals::wait_all`]); a drive killed before then leaves the files it had not removed
//! yet in place. A removal that fails leaves its object (or an orphaned content folder) and
//! logs it. Off unless enabled (the drive over a local folder); `core` holds one.

pub(crate) mod overlay;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use vault_storage::{Storage, StorageErrorKind, StoragePath};

/// Unlinks running side by side at most.
const WORKERS: usize = 4;
/// Removals waiting per running worker before another starts: one worker keeps up with
/// `rm -r` on a disk that discards quickly; a slow one builds a backlog, which more share.
const BACKLOG_PER_WORKER: usize = 16;
/// How long an idle worker waits for more before it ends: under `rm -r` the next removal
/// comes within a fraction of this, and a worker that sleeps once per batch instead of
/// once per object costs the foreground fewer context switches (2 cores).
const LINGER: Duration = Duration::from_millis(5);
/// Queued removals; past it the caller removes the object itself (memory bound, backpressure:
/// a few hundred bytes each).
const MAX_QUEUED: usize = 16384;
/// Workers start on the queue once no removal was queued for this long ...
const QUIET: Duration = Duration::from_millis(20);
/// ... or once this many wait, so a long `rm -r` keeps the queue from filling.
const DEFER_MAX: usize = MAX_QUEUED / 2;

/// Queued and running removals.
pub(crate) struct Removals {
    inner: Arc<Inner>,
    enabled: AtomicBool,
    /// The storage itself (not the overlay, which hides what is queued here).
    storage: Arc<dyn Storage>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    /// Woken after every finished removal.
    done: Notify,
    /// How many objects are queued or being removed (`State::paths.len()`), read without the
    /// lock: with none, the overlay passes every call straight through.
    pending: AtomicUsize,
}

/// What a queued removal removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One object.
    File,
    /// A folder and everything in it (a directory's node folder renamed aside).
    Tree,
    /// A removed directory's content folder, once every removal queued in it is done. Only
    /// the named ID backup and temp objects are removed with it; anything else (another
    /// client's file) leaves the folder in place, for `check` to report.
    Content { id_backup: &'static str },
}

#[derive(Default)]
struct State {
    /// (folder key, object, kind) in order.
    queue: VecDeque<(String, StoragePath, Kind)>,
    /// Queued or running removals per folder key.
    per_dir: HashMap<String, usize>,
    /// Objects queued or being removed.
    paths: HashSet<String>,
    workers: usize,
    /// When the last removal was queued.
    last_queued: Option<Instant>,
}

impl State {
    /// [`Removals::queued_in`] under the lock.
    fn queued_in(&self, dir: &StoragePath) -> Option<HashSet<String>> {
        if !self.per_dir.contains_key(dir.as_str()) {
            return None;
        }
        let prefix = if dir.is_root() {
            String::new()
        } else {
            format!("{}/", dir.as_str())
        };
        let names = self
            .paths
            .iter()
            .filter_map(|p| p.strip_prefix(prefix.as_str()))
            .filter(|name| !name.contains('/'))
            .map(str::to_owned)
            .collect();
        Some(names)
    }

    /// How long workers should still wait before taking the next removal ([`QUIET`]).
    fn deferral(&self, now: Instant) -> Option<Duration> {
        if self.queue.is_empty() || self.queue.len() >= DEFER_MAX {
            return None;
        }
        let since = now.saturating_duration_since(self.last_queued?);
        QUIET.checked_sub(since).filter(|d| !d.is_zero())
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Removals {
    /// Removals on `storage`, off until [`Removals::set_enabled`].
    pub fn new(storage: Arc<dyn Storage>) -> Removals {
        Removals {
            inner: Arc::default(),
            enabled: AtomicBool::new(false),
            storage,
        }
    }

    /// Turns background removal on or off (the drive turns it on over a local folder).
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Queues the removal of the object `path` in the folder `dir` (hidden from the engine
    /// from here on). `Err(path)`: not queued (queue full, no runtime): the caller removes it
    /// itself.
    pub fn enqueue(&self, dir: &str, path: StoragePath) -> Result<(), StoragePath> {
        self.enqueue_kind(dir, path, Kind::File)
    }

    /// [`Removals::enqueue`] of a `kind` of removal. A [`Kind::Content`] removal of folder
    /// `f` is queued under its parent's key (`dir`) and waits for the removals keyed `f`.
    pub fn enqueue_kind(
        &self,
        dir: &str,
        path: StoragePath,
        kind: Kind,
    ) -> Result<(), StoragePath> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(path);
        };
        let mut st = self.inner.lock();
        if st.queue.len() >= MAX_QUEUED {
            return Err(path);
        }
        if !st.paths.insert(path.as_str().to_owned()) {
            // Queued already (a second removal of a name whose first is still queued is
            // NotFound in the overlay, so this is not reached through the engine).
            return Ok(());
        }
        self.inner.pending.fetch_add(1, Ordering::Release);
        *st.per_dir.entry(dir.to_owned()).or_default() += 1;
        st.queue.push_back((dir.to_owned(), path, kind));
        st.last_queued = Some(Instant::now());
        if st.workers == 0
            || (st.workers < WORKERS && st.queue.len() > st.workers * BACKLOG_PER_WORKER)
        {
            st.workers += 1;
            let (inner, storage) = (Arc::clone(&self.inner), Arc::clone(&self.storage));
            // A worker is one blocking thread running storage calls inline: a burst of
            // removals costs no hand-off between threads per object (2 cores: each
            // hand-off is a context switch the foreground `rm` pays for too).
            let handle = runtime.clone();
            runtime.spawn_blocking(move || {
                vault_storage::run_io_inline(|| work(&inner, storage.as_ref(), &handle))
            });
        }
        Ok(())
    }

    /// True while the removal of `path` is queued or running (not a stale temp object).
    pub fn contains(&self, path: &str) -> bool {
        self.any() && self.inner.lock().paths.contains(path)
    }

    /// True while any removal is queued or running (no lock taken).
    pub fn any(&self) -> bool {
        self.inner.pending.load(Ordering::Acquire) > 0
    }

    /// The names of the objects in the folder `dir` whose removal is queued or running now;
    /// `None` for none. Taken before a listing of `dir`: an object whose removal finishes
    /// while the listing runs is then left out whether the listing still saw it or not.
    pub fn queued_in(&self, dir: &StoragePath) -> Option<HashSet<String>> {
        if !self.any() {
            return None;
        }
        self.inner.lock().queued_in(dir)
    }

    /// Finishes the removal of `path` now, if it is queued or running: a queued one is taken
    /// off the queue and removed here, a running one waited for. Called before anything is
    /// made at `path`, so no worker can remove the new object later.
    pub async fn settle(&self, path: &StoragePath) -> Result<(), vault_storage::StorageError> {
        if !self.any() {
            return Ok(());
        }
        let taken = {
            let mut st = self.inner.lock();
            if !st.paths.contains(path.as_str()) {
                return Ok(());
            }
            let at = st.queue.iter().position(|(_, p, _)| p == path);
            at.and_then(|i| st.queue.remove(i))
        };
        let Some((dir, path, kind)) = taken else {
            // Running on a worker.
            let key = path.as_str();
            self.inner.wait_until(|st| !st.paths.contains(key)).await;
            return Ok(());
        };
        let res = remove(&self.inner, self.storage.as_ref(), &path, kind).await;
        self.inner.finished(&dir, &path);
        res
    }

    /// Waits until no removal in the folder `dir` is queued or running.
    pub async fn wait_dir(&self, dir: &str) {
        if self.any() {
            self.wait_until(|st| !st.per_dir.contains_key(dir)).await;
        }
    }

    /// Waits until no removal is queued or running.
    pub async fn wait_all(&self) {
        self.wait_until(|st| st.per_dir.is_empty()).await;
    }

    async fn wait_until(&self, done: impl Fn(&State) -> bool) {
        self.inner.wait_until(done).await;
    }
}

impl Inner {
    /// Counts the removal of `path` (queued under `dir`) done and wakes the waiters.
    fn finished(&self, dir: &str, path: &StoragePath) {
        {
            let mut st = self.lock();
            if st.paths.remove(path.as_str()) {
                self.pending.fetch_sub(1, Ordering::Release);
            }
            if let Some(n) = st.per_dir.get_mut(dir) {
                *n -= 1;
                if *n == 0 {
                    st.per_dir.remove(dir);
                }
            }
        }
        self.done.notify_waiters();
    }

    async fn wait_until(&self, done: impl Fn(&State) -> bool) {
        loop {
            let notified = self.done.notified();
            tokio::pin!(notified);
            // Registered before the check, so a removal finishing in between wakes us.
            notified.as_mut().enable();
            if done(&self.lock()) {
                return;
            }
            notified.await;
        }
    }
}

/// Removes one queued object or folder; NotFound counts as done.
async fn remove(
    inner: &Inner,
    storage: &dyn Storage,
    path: &StoragePath,
    kind: Kind,
) -> Result<(), vault_storage::StorageError> {
    let res = match kind {
        Kind::File => storage.remove_file(path).await,
        Kind::Tree => storage.remove_dir_all(path).await,
        Kind::Content { id_backup } => {
            // Every removal queued inside was taken off the queue before this one (the
            // queue is in order); wait for the last of them to finish.
            inner
                .wait_until(|st| !st.per_dir.contains_key(path.as_str()))
                .await;
            remove_content(storage, path, id_backup).await
        }
    };
    match res {
        Err(e) if e.kind() == StorageErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// A removed directory's content folder: its ID backup and temp objects, then the folder.
async fn remove_content(
    storage: &dyn Storage,
    path: &StoragePath,
    id_backup: &str,
) -> Result<(), vault_storage::StorageError> {
    for e in storage.list_dir(path).await? {
        let child = path.join(&e.name)?;
        let res = if e.name.starts_with(vault_storage::TEMP_PREFIX)
            && e.metadata.kind == vault_storage::EntryKind::Dir
        {
            storage.remove_dir_all(&child).await
        } else if e.name == id_backup || e.name.starts_with(vault_storage::TEMP_PREFIX) {
            storage.remove_file(&child).await
        } else {
            tracing::warn!(ciphertext = %child, "a removed directory's content folder holds an unknown entry; left in place");
            return Ok(());
        };
        match res {
            Err(e) if e.kind() != StorageErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    storage.remove_dir(path).await
}

/// One worker, on its own blocking thread: removes queued objects, each once the queue has
/// been quiet for [`QUIET`], until the queue stays empty for [`LINGER`]. The waits are thread
/// sleeps, not runtime timers: the drive's unmount shuts the runtime down while a worker may
/// still be waiting, and a runtime timer polled after that panics.
fn work(inner: &Inner, storage: &dyn Storage, runtime: &tokio::runtime::Handle) {
    let mut lingered = false;
    loop {
        let next = {
            let mut st = inner.lock();
            if let Some(wait) = st.deferral(Instant::now()) {
                drop(st);
                std::thread::sleep(wait);
                continue;
            }
            let next = st.queue.pop_front();
            if next.is_none() && lingered {
                st.workers -= 1;
                return;
            }
            next
        };
        let Some((dir, path, kind)) = next else {
            lingered = true;
            std::thread::sleep(LINGER);
            continue;
        };
        lingered = false;
        if let Err(e) = runtime.block_on(remove(inner, storage, &path, kind)) {
            tracing::warn!(ciphertext = %path, error = %e, "background removal failed; the object is left in place");
        }
        inner.finished(&dir, &path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(n: usize, last: Instant) -> State {
        let path = StoragePath::new("d/AA/BB/.vault-tmp-x").unwrap_or_else(|_| unreachable!());
        State {
            queue: (0..n)
                .map(|_| (String::new(), path.clone(), Kind::File))
                .collect(),
            last_queued: Some(last),
            ..State::default()
        }
    }

    #[test]
    fn queued_in_names_a_folders_own_objects_only() {
        let path = |p: &str| StoragePath::new(p).unwrap_or_else(|_| unreachable!());
        let mut st = State::default();
        for (dir, p) in [
            ("d/AA/BB", "d/AA/BB/x.c9r"),
            ("d/AA/BB", "d/AA/BB/.vault-tmp-1"),
            ("d/AA/BB/sub", "d/AA/BB/sub/y.c9r"),
            ("d/AA/BBB", "d/AA/BBB/z.c9r"),
        ] {
            st.paths.insert(p.to_owned());
            *st.per_dir.entry(dir.to_owned()).or_default() += 1;
        }
        let got = st.queued_in(&path("d/AA/BB")).expect("some queued");
        let want: HashSet<String> = ["x.c9r", ".vault-tmp-1"].map(String::from).into();
        assert_eq!(got, want);
        assert_eq!(st.queued_in(&path("d/AA/CC")), None);
        assert_eq!(st.queued_in(&StoragePath::root()), None);
    }

    #[test]
    fn removals_wait_while_more_keep_coming() {
        let now = Instant::now();
        let wait = queued(10, now - Duration::from_millis(5)).deferral(now);
        assert_eq!(wait, Some(QUIET - Duration::from_millis(5)));
    }

    #[test]
    fn removals_start_once_the_queue_is_quiet() {
        let now = Instant::now();
        assert_eq!(queued(10, now - QUIET).deferral(now), None);
        assert_eq!(queued(0, now).deferral(now), None);
    }

    #[test]
    fn a_long_burst_does_not_fill_the_queue() {
        let now = Instant::now();
        assert_eq!(queued(DEFER_MAX, now).deferral(now), None);
        assert!(queued(DEFER_MAX - 1, now).deferral(now).is_some());
    }
}
