//! Removals finished in the background ([`Removals`]): on a local folder a removed file's
//! object is first renamed to a hidden temp name in its folder (the name is free at once,
//! the listing skips it), and the unlink itself runs here, on up to [`WORKERS`] tasks.
//!
//! Why: on a disk mounted with `discard`, ext4 discards the freed blocks in the unlink that
//! frees them, milliseconds each one after another, much less when several run side by side;
//! a Cryptomator file always holds blocks (its header). Directory removal waits for the
//! removals queued in that folder ([`Removals::wait_dir`]), a whole-vault flush for all
//! ([`Removals::wait_all`]). A removal that fails leaves a stale temp object, which directory
//! removal and `check --repair` delete. Off unless enabled (the drive over a local folder);
//! a leaf: `core` holds one.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;
use vault_storage::{Storage, StorageErrorKind, StoragePath};

/// Unlinks running side by side.
const WORKERS: usize = 4;
/// Queued removals; past it the caller removes the object itself (memory bound, backpressure).
const MAX_QUEUED: usize = 4096;

/// Queued and running removals.
#[derive(Default)]
pub(crate) struct Removals {
    inner: Arc<Inner>,
    enabled: AtomicBool,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    /// Woken after every finished removal.
    done: Notify,
}

#[derive(Default)]
struct State {
    /// (folder key, object) in order.
    queue: VecDeque<(String, StoragePath)>,
    /// Queued or running removals per folder key.
    per_dir: HashMap<String, usize>,
    /// Objects queued or being removed.
    paths: HashSet<String>,
    workers: usize,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Removals {
    /// Turns background removal on or off (the drive turns it on over a local folder).
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Queues the removal of `path` (a hidden temp object in the folder `dir`). `Err(path)`:
    /// not queued (queue full, no runtime): the caller removes it itself.
    pub fn enqueue(
        &self,
        storage: &Arc<dyn Storage>,
        dir: &str,
        path: StoragePath,
    ) -> Result<(), StoragePath> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(path);
        };
        let mut st = self.inner.lock();
        if st.queue.len() >= MAX_QUEUED {
            return Err(path);
        }
        st.paths.insert(path.as_str().to_owned());
        *st.per_dir.entry(dir.to_owned()).or_default() += 1;
        st.queue.push_back((dir.to_owned(), path));
        if st.workers < WORKERS {
            st.workers += 1;
            let (inner, storage) = (Arc::clone(&self.inner), Arc::clone(storage));
            runtime.spawn(work(inner, storage));
        }
        Ok(())
    }

    /// True while the removal of `path` is queued or running (not a stale temp object).
    pub fn contains(&self, path: &str) -> bool {
        self.inner.lock().paths.contains(path)
    }

    /// Waits until no removal in the folder `dir` is queued or running.
    pub async fn wait_dir(&self, dir: &str) {
        self.wait_until(|st| !st.per_dir.contains_key(dir)).await;
    }

    /// Waits until no removal is queued or running.
    pub async fn wait_all(&self) {
        self.wait_until(|st| st.per_dir.is_empty()).await;
    }

    async fn wait_until(&self, done: impl Fn(&State) -> bool) {
        loop {
            let notified = self.inner.done.notified();
            tokio::pin!(notified);
            // Registered before the check, so a removal finishing in between wakes us.
            notified.as_mut().enable();
            if done(&self.inner.lock()) {
                return;
            }
            notified.await;
        }
    }
}

/// One worker: removes queued objects until the queue is empty.
async fn work(inner: Arc<Inner>, storage: Arc<dyn Storage>) {
    loop {
        let next = {
            let mut st = inner.lock();
            let next = st.queue.pop_front();
            if next.is_none() {
                st.workers -= 1;
            }
            next
        };
        let Some((dir, path)) = next else {
            return;
        };
        match storage.remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == StorageErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(ciphertext = %path, error = %e, "background removal failed; a stale temp object is left");
            }
        }
        {
            let mut st = inner.lock();
            st.paths.remove(path.as_str());
            if let Some(n) = st.per_dir.get_mut(&dir) {
                *n -= 1;
                if *n == 0 {
                    st.per_dir.remove(&dir);
                }
            }
        }
        inner.done.notify_waiters();
    }
}
