//! The entry table of [`super::Shared`]: lookups, records, forgetting, LRU eviction.

use std::sync::{Arc, MutexGuard};

use bytes::Bytes;

use std::collections::BTreeSet;

use super::{Entry, FetchLock, Shared, State, under};
use crate::StoragePath;

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn fetch_lock(&self, path: &StoragePath) -> FetchLock {
        let mut f = self.fetching.lock().unwrap_or_else(|p| p.into_inner());
        f.entry(path.clone()).or_default().clone()
    }

    /// Drops `path`'s fetch lock once no one else holds or waits for it.
    pub(super) fn fetch_done(&self, path: &StoragePath, lock: FetchLock) {
        let mut f = self.fetching.lock().unwrap_or_else(|p| p.into_inner());
        // The map's reference and ours: nobody else waits.
        if Arc::strong_count(&lock) <= 2 {
            f.remove(path);
        }
    }

    pub(super) fn pinned(&self, path: &StoragePath) -> bool {
        pinned_in(&self.lock().pins, path)
    }

    /// Forgets every entry at or below `path`.
    pub(super) fn forget(&self, path: &StoragePath) {
        let Some(disk) = self.disk.get() else { return };
        let gone: Vec<(StoragePath, String)> = {
            let mut st = self.lock();
            st.generation = st.generation.wrapping_add(1);
            let keys: Vec<StoragePath> = st
                .entries
                .keys()
                .filter(|p| under(p, path))
                .cloned()
                .collect();
            keys.into_iter()
                .filter_map(|k| {
                    let e = st.entries.remove(&k)?;
                    st.total -= e.size;
                    Some((k, e.tag))
                })
                .collect()
        };
        for (p, tag) in gone {
            disk.remove(&p, &tag);
        }
    }

    /// Records an entry written to disk at `generation`; false (and the file removed) if a
    /// mutation came in between.
    pub(super) fn record(&self, generation: u64, path: &StoragePath, tag: &str, size: u64) -> bool {
        let Some(disk) = self.disk.get() else {
            return false;
        };
        let mut st = self.lock();
        if st.generation != generation {
            drop(st);
            disk.remove(path, tag);
            return false;
        }
        st.clock += 1;
        let used = st.clock;
        let old = st.entries.insert(
            path.clone(),
            Entry {
                tag: tag.to_owned(),
                size,
                used,
            },
        );
        st.total += size;
        let mut gone = Vec::new();
        if let Some(old) = old {
            st.total -= old.size;
            if old.tag != tag {
                gone.push((path.clone(), old.tag));
            }
        }
        gone.extend(self.evict(&mut st));
        drop(st);
        for (p, t) in gone {
            disk.remove(&p, &t);
        }
        true
    }

    /// Least recently used unpinned entries out until the total fits (or only pinned remain).
    pub(super) fn evict(&self, st: &mut State) -> Vec<(StoragePath, String)> {
        let mut gone = Vec::new();
        if st.total <= self.options.max_size {
            return gone;
        }
        let mut order: Vec<(u64, StoragePath)> = st
            .entries
            .iter()
            .filter(|(p, _)| !pinned_in(&st.pins, p))
            .map(|(p, e)| (e.used, p.clone()))
            .collect();
        order.sort();
        for (_, p) in order {
            if st.total <= self.options.max_size {
                break;
            }
            if let Some(e) = st.entries.remove(&p) {
                st.total -= e.size;
                tracing::debug!(path = %p.as_str(), "content cache: evicted");
                gone.push((p, e.tag));
            }
        }
        gone
    }

    /// The cached bytes of `path` (`tag`: only that version; `None`: whichever is cached).
    pub(super) fn serve(
        &self,
        path: &StoragePath,
        tag: Option<&str>,
        offset: u64,
        len: usize,
    ) -> Option<Bytes> {
        let disk = self.disk.get()?;
        let (found, touch) = {
            let mut st = self.lock();
            st.clock += 1;
            let clock = st.clock;
            let e = st.entries.get_mut(path)?;
            if tag.is_some_and(|t| t != e.tag) {
                return None;
            }
            // The file's mtime keeps the order across remounts; refreshed now and then.
            let touch = clock.saturating_sub(e.used) > 64;
            e.used = clock;
            (e.tag.clone(), touch)
        };
        match disk.read(path, &found, offset, len, touch) {
            Ok(b) => Some(Bytes::from(b)),
            Err(e) => {
                tracing::warn!(path = %path.as_str(), error = %e, "content cache: entry unreadable, dropped");
                let mut st = self.lock();
                if let Some(e) = st.entries.remove(path) {
                    st.total -= e.size;
                }
                None
            }
        }
    }
}

/// Whether `path` or one of its ancestors is in `pins` (a lookup per level, not a scan of the
/// pins: a pinned tree may hold many folders).
pub(super) fn pinned_in(pins: &BTreeSet<StoragePath>, path: &StoragePath) -> bool {
    let mut cur = Some(path.clone());
    while let Some(p) = cur {
        if pins.contains(&p) {
            return true;
        }
        cur = p.parent();
    }
    false
}
