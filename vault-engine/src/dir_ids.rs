//! Directory-ID resolution cache and per-directory locks.
//!
//! The cache maps `(parent DirId, cleartext name)` to the directory [`Node`]
//! found there (its [`DirId`] read from `dir.c9r`), so warm path resolution
//! needs no storage round trip for intermediate directories. Entries expire
//! after a short TTL (other clients may change the vault) and are evicted by
//! our own renames and removals. A second small map remembers each
//! directory's parent, used to refuse moving a directory into itself.
//!
//! The locks serialise mutations per directory (architecture §7): creating,
//! removing and renaming lock the affected parents in `DirId` order.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use lru::LruCache;
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use crate::{DirId, Node, names};

/// How long a cached directory entry is trusted without asking storage.
const TTL: Duration = Duration::from_secs(2);
/// Entries kept.
const CAPACITY: usize = 8192;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `(parent, name) → directory node`, LRU-bounded, TTL-limited.
pub(crate) struct DirCache {
    entries: Mutex<LruCache<(DirId, String), (Node, Instant)>>,
    parents: Mutex<LruCache<DirId, DirId>>,
}

impl DirCache {
    pub fn new() -> Self {
        let cap = NonZeroUsize::new(CAPACITY).unwrap_or(NonZeroUsize::MIN);
        DirCache {
            entries: Mutex::new(LruCache::new(cap)),
            parents: Mutex::new(LruCache::new(cap)),
        }
    }

    /// A fresh cached directory node for `(parent, name)`.
    pub fn get(&self, parent: &DirId, name: &str) -> Option<Node> {
        let mut entries = lock(&self.entries);
        let key = (parent.clone(), name.to_owned());
        match entries.get(&key) {
            Some((node, at)) if at.elapsed() < TTL => Some(node.clone()),
            Some(_) => {
                entries.pop(&key);
                None
            }
            None => None,
        }
    }

    /// Remembers a directory node (ignored for other kinds).
    pub fn put(&self, node: &Node) {
        if let crate::NodeKind::Dir(id) = &node.kind {
            lock(&self.parents).put(id.clone(), node.parent.clone());
            lock(&self.entries).put(
                (node.parent.clone(), node.name.clone()),
                (node.clone(), Instant::now()),
            );
        }
    }

    /// The parent and name of directory `id` as last cached, however old.
    pub fn name_of(&self, id: &DirId) -> Option<(DirId, String)> {
        lock(&self.entries)
            .iter()
            .find(|(_, (node, _))| matches!(&node.kind, crate::NodeKind::Dir(d) if d == id))
            .map(|(key, _)| key.clone())
    }

    /// Forgets `(parent, name)` in the given and the NFC form.
    pub fn evict(&self, parent: &DirId, name: &str) {
        let mut entries = lock(&self.entries);
        entries.pop(&(parent.clone(), name.to_owned()));
        entries.pop(&(parent.clone(), names::nfc(name)));
    }

    /// Forgets everything below a removed directory.
    pub fn evict_children(&self, dir: &DirId) {
        let mut entries = lock(&self.entries);
        let stale: Vec<_> = entries
            .iter()
            .filter(|((p, _), _)| p == dir)
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            entries.pop(&key);
        }
        lock(&self.parents).pop(dir);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        lock(&self.entries).clear();
        lock(&self.parents).clear();
    }

    /// Records that `child` now lives in `parent`.
    pub fn set_parent(&self, child: &DirId, parent: &DirId) {
        lock(&self.parents).put(child.clone(), parent.clone());
    }

    /// True when `ancestor` is `dir` or one of its known ancestors.
    pub fn is_ancestor_or_self(&self, ancestor: &DirId, dir: &DirId) -> bool {
        let parents = lock(&self.parents);
        let mut cur = dir.clone();
        for _ in 0..4096 {
            if &cur == ancestor {
                return true;
            }
            match parents.peek(&cur) {
                Some(p) => cur = p.clone(),
                None => return false,
            }
        }
        false
    }
}

/// The directories one recursive walk (`ls -R`, `get -r`, `rm -r`, `check`)
/// has entered, by ID. Storage decides what a `dir.c9r` says, so a hostile
/// one can name an ancestor's ID (a cycle: the walk would never end) or
/// another folder's ID (an alias: the walk would visit, or `rm -r` delete,
/// one folder's contents twice). Entering an ID already seen is refused.
#[derive(Debug, Default)]
pub struct VisitedDirs {
    /// ID → cleartext path (`/a/b`, `/` for the root) where it was first met.
    seen: HashMap<DirId, String>,
}

/// A directory ID met a second time, from [`VisitedDirs::enter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirRepeat {
    /// Where the ID was met first (cleartext path, `/` for the root).
    pub first: String,
    /// True when `first` is an ancestor of the repeat (a cycle), false for
    /// an alias of a folder elsewhere.
    pub cycle: bool,
}

impl VisitedDirs {
    /// A walk starting at `start` (its cleartext path); `ancestors` are the
    /// directories above it, root first, with their paths: a `dir.c9r` naming
    /// one of them below `start` is a cycle too.
    pub fn new(start: (&DirId, &str), ancestors: &[(DirId, String)]) -> Self {
        let mut v = VisitedDirs::default();
        for (id, path) in ancestors {
            v.seen.entry(id.clone()).or_insert_with(|| path.clone());
        }
        v.seen
            .entry(start.0.clone())
            .or_insert_with(|| start.1.to_owned());
        v
    }

    /// Records that the walk enters directory `id` at cleartext `path`;
    /// refused when the ID was met before.
    pub fn enter(&mut self, id: &DirId, path: &str) -> Result<(), DirRepeat> {
        if let Some(first) = self.seen.get(id) {
            let cycle = first == "/" || path.starts_with(&format!("{first}/"));
            return Err(DirRepeat {
                first: first.clone(),
                cycle,
            });
        }
        self.seen.insert(id.clone(), path.to_owned());
        Ok(())
    }
}

/// One async lock per directory, created on demand, dropped when unused.
/// Changes of a directory's names take it exclusively; the create-new of a
/// file with its content takes it shared, so that creates of distinct names in
/// one folder reach storage concurrently (each is a few round trips). Two
/// creates of one name: the storage's create-new is atomic, one of them fails.
pub(crate) struct DirLocks {
    locks: Mutex<HashMap<DirId, Weak<RwLock<()>>>>,
}

impl DirLocks {
    pub fn new() -> Self {
        DirLocks {
            locks: Mutex::new(HashMap::new()),
        }
    }

    /// Locks every directory in `ids` (deduplicated, in `DirId` order, so two
    /// callers never wait on each other in a cycle).
    pub async fn lock(&self, ids: &[&DirId]) -> Vec<OwnedRwLockWriteGuard<()>> {
        let mut ids: Vec<DirId> = ids.iter().map(|d| (*d).clone()).collect();
        ids.sort();
        ids.dedup();
        let mut guards = Vec::with_capacity(ids.len());
        for m in self.locks_of(&ids) {
            guards.push(m.write_owned().await);
        }
        guards
    }

    /// Locks one directory shared (see the type's comment).
    pub async fn lock_shared(&self, id: &DirId) -> OwnedRwLockReadGuard<()> {
        let m = Self::entry(&mut lock(&self.locks), id);
        m.read_owned().await
    }

    fn locks_of(&self, ids: &[DirId]) -> Vec<Arc<RwLock<()>>> {
        let mut locks = lock(&self.locks);
        ids.iter().map(|id| Self::entry(&mut locks, id)).collect()
    }

    fn entry(locks: &mut HashMap<DirId, Weak<RwLock<()>>>, id: &DirId) -> Arc<RwLock<()>> {
        if locks.len() > 1024 {
            locks.retain(|_, w| w.strong_count() > 0);
        }
        if let Some(m) = locks.get(id).and_then(Weak::upgrade) {
            return m;
        }
        let m = Arc::new(RwLock::new(()));
        locks.insert(id.clone(), Arc::downgrade(&m));
        m
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::NodeKind;

    fn dir_node(parent: &DirId, name: &str, id: &str) -> Node {
        Node {
            parent: parent.clone(),
            name: name.into(),
            kind: NodeKind::Dir(DirId::new(id)),
            size: 0,
            modified: None,
            damaged: false,
            storage_path: String::new(),
        }
    }

    #[test]
    fn visited_dirs_tell_cycles_from_aliases() {
        let root = DirId::root();
        let mut v = VisitedDirs::new((&DirId::new("A"), "/a"), &[(root.clone(), "/".into())]);
        v.enter(&DirId::new("B"), "/a/b").unwrap();
        let cycle = v.enter(&DirId::new("A"), "/a/b/c").unwrap_err();
        assert_eq!((cycle.first.as_str(), cycle.cycle), ("/a", true));
        let to_root = v.enter(&root, "/a/r").unwrap_err();
        assert!(to_root.cycle);
        v.enter(&DirId::new("C"), "/a/c").unwrap();
        let alias = v.enter(&DirId::new("B"), "/a/c/b2").unwrap_err();
        assert_eq!((alias.first.as_str(), alias.cycle), ("/a/b", false));
        // A sibling whose name extends another's is no ancestor.
        let alias = v.enter(&DirId::new("C"), "/a/cc").unwrap_err();
        assert!(!alias.cycle);
    }

    #[test]
    fn put_get_evict_ancestry() {
        let cache = DirCache::new();
        let root = DirId::root();
        cache.put(&dir_node(&root, "a", "A"));
        cache.put(&dir_node(&DirId::new("A"), "b", "B"));
        assert!(cache.get(&root, "a").is_some());
        assert!(cache.is_ancestor_or_self(&DirId::new("A"), &DirId::new("B")));
        assert!(!cache.is_ancestor_or_self(&DirId::new("B"), &DirId::new("A")));
        cache.evict(&root, "a");
        assert!(cache.get(&root, "a").is_none());
        cache.evict_children(&DirId::new("A"));
        assert!(cache.get(&DirId::new("A"), "b").is_none());
    }
}
