//! Metadata learnt moments ago, so that one operation does not ask the server
//! about the same object again (opening a file through the mount looks it up,
//! reads its attributes and opens it: three PROPFINDs of one object in a row).
//!
//! Deliberately small: the general metadata cache (`vault_storage::cached`, a
//! storage decorator) sits in front of this backend in the CLI, but the
//! backend's own connect-time listing of the root happens before any decorator
//! exists, and the unlock that follows asks for the root's children; this
//! memory answers those. Entries live [`TTL`], at most [`MAX_ENTRIES`] of them, and only
//! [`vault_storage::Storage::metadata`] and `list_dir` (the last listing
//! only) answer from here. Every mutating call
//! of this storage clears everything when it starts and when it ends, and an
//! answer that was in flight across a mutation is not kept (generation count),
//! so our own writes are never hidden; the checks inside mutating calls (is
//! the target a folder?) always ask the server.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use vault_storage::{DirEntry, Metadata, StoragePath};

/// How long an answer stays usable: about one operation, as long as rclone's
/// own folder cache in our tests.
pub(crate) const TTL: Duration = Duration::from_secs(1);
/// Most entries kept (a listing of more adds none beyond this).
pub(crate) const MAX_ENTRIES: usize = 1024;

#[derive(Default)]
struct Inner {
    generation: u64,
    entries: HashMap<StoragePath, (Instant, Option<Metadata>)>,
    /// The last folder listed (the connect-time listing of the root is
    /// asked again by `vault create`'s "is it empty?").
    listing: Option<(StoragePath, Instant, Vec<DirEntry>)>,
}

#[derive(Default)]
pub(crate) struct Recent {
    inner: Mutex<Inner>,
}

impl Recent {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The map stays consistent whatever panicked while it was held.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The generation to pass to [`Recent::put`] for an answer asked now.
    pub(crate) fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// `Some(answer)` if `path` was asked less than [`TTL`] ago (`Some(None)`:
    /// it did not exist).
    pub(crate) fn get(&self, path: &StoragePath) -> Option<Option<Metadata>> {
        let inner = self.lock();
        let (at, meta) = inner.entries.get(path)?;
        (at.elapsed() < TTL).then(|| meta.clone())
    }

    /// The listing of `path` if it was the last one, less than [`TTL`] ago.
    pub(crate) fn listing(&self, path: &StoragePath) -> Option<Vec<DirEntry>> {
        let inner = self.lock();
        match &inner.listing {
            Some((p, at, entries)) if p == path && at.elapsed() < TTL => Some(entries.clone()),
            _ => None,
        }
    }

    /// Keeps a listing asked at `generation` (see [`Recent::put`]).
    pub(crate) fn put_listing(&self, generation: u64, path: &StoragePath, entries: &[DirEntry]) {
        let mut inner = self.lock();
        if inner.generation == generation && entries.len() <= MAX_ENTRIES {
            inner.listing = Some((path.clone(), Instant::now(), entries.to_vec()));
        }
    }

    /// Keeps an answer asked at `generation` (dropped if a mutation happened since).
    pub(crate) fn put(&self, generation: u64, path: &StoragePath, meta: Option<Metadata>) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() >= MAX_ENTRIES {
            inner.entries.retain(|_, (at, _)| at.elapsed() < TTL);
            if inner.entries.len() >= MAX_ENTRIES {
                return;
            }
        }
        inner.entries.insert(path.clone(), (Instant::now(), meta));
    }

    /// Forgets everything now and again when the returned guard drops: hold
    /// it across a mutating call.
    pub(crate) fn mutating(&self) -> Mutating<'_> {
        self.invalidate();
        Mutating(self)
    }

    fn invalidate(&self) {
        let mut inner = self.lock();
        inner.generation = inner.generation.wrapping_add(1);
        inner.entries.clear();
        inner.listing = None;
    }
}

/// See [`Recent::mutating`].
pub(crate) struct Mutating<'a>(&'a Recent);

impl Drop for Mutating<'_> {
    fn drop(&mut self) {
        self.0.invalidate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vault_storage::EntryKind;

    fn p(s: &str) -> StoragePath {
        StoragePath::new(s).expect("test value")
    }

    fn file(size: u64) -> Option<Metadata> {
        Some(Metadata {
            kind: EntryKind::File,
            size,
            modified: None,
            version: None,
        })
    }

    #[test]
    fn answers_until_a_mutation() {
        let r = Recent::default();
        let g = r.generation();
        r.put(g, &p("a"), file(3));
        r.put(g, &p("gone"), None);
        assert_eq!(r.get(&p("a")), Some(file(3)));
        assert_eq!(r.get(&p("gone")), Some(None));
        assert_eq!(r.get(&p("b")), None);
        {
            let _m = r.mutating();
            assert_eq!(r.get(&p("a")), None, "cleared when a mutation starts");
            r.put(r.generation(), &p("a"), file(4));
        }
        assert_eq!(r.get(&p("a")), None, "cleared when it ends");
        // An answer asked before a mutation is not kept.
        let before = r.generation();
        drop(r.mutating());
        r.put(before, &p("a"), file(5));
        assert_eq!(r.get(&p("a")), None);
        // Listings: the last one, until a mutation.
        let g = r.generation();
        r.put_listing(g, &p("d"), &[]);
        assert_eq!(r.listing(&p("d")), Some(vec![]));
        assert_eq!(r.listing(&p("e")), None);
        drop(r.mutating());
        assert_eq!(r.listing(&p("d")), None);
    }

    #[test]
    fn is_bounded() {
        let r = Recent::default();
        let g = r.generation();
        for i in 0..MAX_ENTRIES + 10 {
            r.put(g, &p(&format!("f{i}")), file(1));
        }
        assert_eq!(r.lock().entries.len(), MAX_ENTRIES);
    }
}
