//! Write handles kept open across consecutive `write_at` calls of one object.
//!
//! The engine writes a large file as a run of 4 MiB `write_at` batches to one shadow object.
//! Opening and closing an SFTP handle for each batch costs two round trips per batch (160 ms
//! at 80 ms RTT), during which the batch's data is not flowing. So a handle opened by
//! `write_at` stays open, per remote path, on the connection that opened it, and the next
//! `write_at`, `set_len` (FSETSTAT) and `sync` (FSYNC) of that path use it. It is closed:
//! - before that path, or a folder above it, is renamed, removed or replaced by `write`, so
//!   a cached handle never writes to an object that is no longer under its name; a rename
//!   waits for the CLOSE of a handle written since its last FSYNC and fails if the server
//!   reports an error there (a deferred write error must not be committed);
//! - after a write through it failed;
//! - after [`IDLE`] without use (checked by the connection's watch task);
//! - with the connection: a reconnect starts with an empty cache (handles belong to the
//!   SFTP session that opened them).
//!
//! At most [`MAX_CACHED`] handles are kept (each holds one of the channel's handle slots).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

/// A cached handle unused this long is closed.
pub(crate) const IDLE: Duration = Duration::from_secs(3);
/// Handles kept open at most (per connection).
const MAX_CACHED: usize = 8;

/// One open write handle.
pub(crate) struct Cached {
    pub handle: String,
    /// Opened on the bulk channel (else on the metadata channel).
    pub bulk: bool,
    state: Mutex<UseState>,
    /// The channel's handle slot, freed when the handle is dropped (after its CLOSE).
    _permit: OwnedSemaphorePermit,
}

struct UseState {
    users: usize,
    last_used: Instant,
    /// No longer in the map: the last user closes it.
    evicted: bool,
    /// Writes started or finished through it (counted at both ends, so a write that
    /// overlaps an FSYNC leaves the handle dirty).
    writes: u64,
    /// `writes` as it was when the last successful FSYNC through it started.
    synced: u64,
}

impl Cached {
    pub fn new(handle: String, bulk: bool, permit: OwnedSemaphorePermit) -> Arc<Cached> {
        Arc::new(Cached {
            handle,
            bulk,
            state: Mutex::new(UseState {
                users: 0,
                last_used: Instant::now(),
                evicted: false,
                writes: 0,
                synced: 0,
            }),
            _permit: permit,
        })
    }

    fn st(&self) -> std::sync::MutexGuard<'_, UseState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Written since the last FSYNC.
    pub fn is_dirty(&self) -> bool {
        let st = self.st();
        st.writes != st.synced
    }

    /// Called when a write through the handle starts and when it ends.
    pub fn count_write(&self) {
        self.st().writes += 1;
    }

    /// The write count to pass to [`Cached::synced`] once an FSYNC sent now succeeded.
    pub fn writes(&self) -> u64 {
        self.st().writes
    }

    /// An FSYNC started when the write count was `at` succeeded.
    pub fn synced(&self, at: u64) {
        let mut st = self.st();
        st.synced = st.synced.max(at);
    }
}

/// A handle in use; give it back with [`WriteHandles::release`].
pub(crate) struct Lease(pub Arc<Cached>);

/// The cache of one connection.
#[derive(Default)]
pub(crate) struct WriteHandles {
    map: Mutex<HashMap<String, Arc<Cached>>>,
}

impl WriteHandles {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Cached>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached handle of `remote`, if any; `bulk`: the call moves bulk data, which must
    /// not go through a handle of the metadata channel (such a handle is evicted and
    /// returned in the second place, for the caller to close).
    pub fn lease(&self, remote: &str, bulk: bool) -> (Option<Lease>, Option<Arc<Cached>>) {
        let mut map = self.map();
        let Some(c) = map.get(remote) else {
            return (None, None);
        };
        if bulk && !c.bulk {
            let c = map.remove(remote);
            return (None, c.and_then(Self::evicted));
        }
        let c = Arc::clone(c);
        c.st().users += 1;
        (Some(Lease(c)), None)
    }

    /// Caches a handle just opened for `remote` and leases it; `None` (the caller closes
    /// the handle after use) when the cache is full or another call cached one first.
    pub fn insert(&self, remote: &str, cached: Arc<Cached>) -> Result<Lease, Arc<Cached>> {
        let mut map = self.map();
        if map.len() >= MAX_CACHED || map.contains_key(remote) {
            return Err(cached);
        }
        cached.st().users = 1;
        map.insert(remote.to_owned(), Arc::clone(&cached));
        Ok(Lease(cached))
    }

    /// Gives a lease back; `ok`: the handle is still good (else it is evicted). Returns the
    /// handle when it must be closed now (evicted and this was its last user).
    pub fn release(&self, remote: &str, lease: Lease, ok: bool) -> Option<Arc<Cached>> {
        if !ok {
            let mut map = self.map();
            if map.get(remote).is_some_and(|c| Arc::ptr_eq(c, &lease.0)) {
                map.remove(remote);
            }
            lease.0.st().evicted = true;
        }
        let mut st = lease.0.st();
        st.users = st.users.saturating_sub(1);
        st.last_used = Instant::now();
        let close = st.evicted && st.users == 0;
        drop(st);
        close.then_some(lease.0)
    }

    /// Marks an entry taken out of the map; returns it when nobody uses it (to close now).
    fn evicted(c: Arc<Cached>) -> Option<Arc<Cached>> {
        let mut st = c.st();
        st.evicted = true;
        let idle = st.users == 0;
        drop(st);
        idle.then_some(c)
    }

    /// Takes out the handles of `remote` and of everything under it (a folder); returns
    /// those to close now (the others are closed by their last user).
    pub fn evict_under(&self, remote: &str) -> Vec<Arc<Cached>> {
        let mut map = self.map();
        if map.is_empty() {
            return Vec::new();
        }
        let prefix = format!("{}/", remote.trim_end_matches('/'));
        let keys: Vec<String> = map
            .keys()
            .filter(|k| *k == remote || k.starts_with(&prefix))
            .cloned()
            .collect();
        keys.into_iter()
            .filter_map(|k| map.remove(&k))
            .filter_map(Self::evicted)
            .collect()
    }

    /// Takes out the handles unused for `idle` (to close).
    pub fn evict_idle(&self, idle: Duration) -> Vec<Arc<Cached>> {
        let mut map = self.map();
        if map.is_empty() {
            return Vec::new();
        }
        let keys: Vec<String> = map
            .iter()
            .filter(|(_, c)| {
                let st = c.st();
                st.users == 0 && st.last_used.elapsed() >= idle
            })
            .map(|(k, _)| k.clone())
            .collect();
        keys.into_iter()
            .filter_map(|k| map.remove(&k))
            .filter_map(Self::evicted)
            .collect()
    }

    /// The cached handles (for tests).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map().len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::sync::Semaphore;

    fn cached(sem: &Arc<Semaphore>, h: &str, bulk: bool) -> Arc<Cached> {
        Cached::new(h.into(), bulk, sem.clone().try_acquire_owned().unwrap())
    }

    #[tokio::test]
    async fn lease_release_evict() {
        let sem = Arc::new(Semaphore::new(16));
        let w = WriteHandles::default();
        let l = w.insert("/r/a", cached(&sem, "1", true)).ok().unwrap();
        assert!(
            w.insert("/r/a", cached(&sem, "2", true)).is_err(),
            "one per path"
        );
        assert_eq!(
            sem.available_permits(),
            15,
            "the refused one gave its slot back"
        );
        assert!(w.release("/r/a", l, true).is_none(), "kept open");
        let (l, old) = w.lease("/r/a", false);
        assert!(old.is_none());
        let l = l.unwrap();
        assert_eq!(l.0.handle, "1");
        // Evicted while in use: closed by its last user.
        assert!(w.evict_under("/r").is_empty());
        assert_eq!(w.len(), 0);
        let c = w.release("/r/a", l, true).unwrap();
        assert_eq!(c.handle, "1");
        drop(c);
        assert_eq!(sem.available_permits(), 16);
    }

    #[tokio::test]
    async fn prefix_failure_idle_and_channel() {
        let sem = Arc::new(Semaphore::new(16));
        let w = WriteHandles::default();
        for p in ["/r/d/x", "/r/dx", "/r/e"] {
            let l = w.insert(p, cached(&sem, p, true)).ok().unwrap();
            w.release(p, l, true);
        }
        let gone: Vec<_> = w
            .evict_under("/r/d")
            .into_iter()
            .map(|c| c.handle.clone())
            .collect();
        assert_eq!(
            gone,
            vec!["/r/d/x".to_owned()],
            "only what is under the folder"
        );
        // A failed write evicts.
        let (l, _) = w.lease("/r/e", true);
        assert!(w.release("/r/e", l.unwrap(), false).is_some());
        assert!(w.lease("/r/e", true).0.is_none());
        // A metadata-channel handle is not used for bulk data.
        let l = w.insert("/r/m", cached(&sem, "m", false)).ok().unwrap();
        w.release("/r/m", l, true);
        let (l, old) = w.lease("/r/m", true);
        assert!(l.is_none() && old.is_some());
        // Idle.
        assert!(w.evict_idle(Duration::from_secs(60)).is_empty());
        assert_eq!(w.evict_idle(Duration::ZERO).len(), 1, "/r/dx");
        assert_eq!(w.len(), 0);
    }

    #[test]
    fn dirty_until_an_fsync_that_saw_every_write() {
        let sem = Arc::new(Semaphore::new(1));
        let c = cached(&sem, "h", true);
        assert!(!c.is_dirty());
        c.count_write();
        c.count_write();
        let at = c.writes();
        c.count_write(); // a write starts while the FSYNC is in flight
        c.synced(at);
        assert!(c.is_dirty(), "the overlapping write is not covered");
        c.count_write();
        let at = c.writes();
        c.synced(at);
        assert!(!c.is_dirty());
    }

    #[tokio::test]
    async fn bounded() {
        let sem = Arc::new(Semaphore::new(32));
        let w = WriteHandles::default();
        for i in 0..MAX_CACHED {
            let p = format!("/r/{i}");
            let l = w.insert(&p, cached(&sem, &p, true)).ok().unwrap();
            w.release(&p, l, true);
        }
        assert!(w.insert("/r/x", cached(&sem, "x", true)).is_err());
    }
}
