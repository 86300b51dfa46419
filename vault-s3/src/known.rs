//! A short-lived, bounded memory of what this backend recently learned about
//! paths (a folder it made, listed or saw non-empty; a file it wrote or
//! probed), so a write need not ask S3 again whether its parent is a folder
//! or its target is not one: those checks were one listing each per write.
//!
//! Only this backend's own changes are tracked exactly (each forgets what it
//! may have made untrue); another client's change is seen once an entry
//! expires ([`TTL`]). A stale "folder" answer for a folder another client
//! removed lets a write recreate it implicitly (S3 has no real folders),
//! which is the same outcome a write racing that removal had before.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use vault_storage::{EntryKind, StoragePath};

/// How long an answer is trusted: long enough to cover a burst of writes into
/// one folder (a copy of many files), short enough that another client's
/// removal is noticed soon.
const TTL: Duration = Duration::from_secs(30);

/// How long "nothing there" is trusted: long enough for a lookup that found
/// no such name and the create that follows it, short enough that another
/// client's folder of the same name is hardly ever overlooked.
const ABSENT_TTL: Duration = Duration::from_secs(5);

/// Most paths remembered (a few hundred KiB at most).
const CAPACITY: usize = 4096;

#[derive(Default)]
pub(crate) struct Known {
    /// `None`: nothing at the path.
    paths: Mutex<HashMap<String, (Option<EntryKind>, Instant)>>,
}

impl Known {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Option<EntryKind>, Instant)>> {
        // A panic elsewhere while holding the lock leaves only a cache: go on with it.
        self.paths.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What `path` was recently seen to be, if the answer is still fresh.
    pub(crate) fn kind(&self, path: &StoragePath) -> Option<EntryKind> {
        self.fresh(path).flatten()
    }

    /// True if `path` was just found to hold nothing (no object, no folder).
    pub(crate) fn absent(&self, path: &StoragePath) -> bool {
        self.fresh(path) == Some(None)
    }

    fn fresh(&self, path: &StoragePath) -> Option<Option<EntryKind>> {
        let mut paths = self.lock();
        let (kind, at) = *paths.get(path.as_str())?;
        let ttl = if kind.is_some() { TTL } else { ABSENT_TTL };
        if at.elapsed() < ttl {
            return Some(kind);
        }
        paths.remove(path.as_str());
        None
    }

    /// Remembers that `path` is (now) a `kind`.
    pub(crate) fn saw(&self, path: &StoragePath, kind: EntryKind) {
        self.put(path, Some(kind));
    }

    /// Remembers that nothing is at `path`.
    pub(crate) fn saw_nothing(&self, path: &StoragePath) {
        self.put(path, None);
    }

    fn put(&self, path: &StoragePath, kind: Option<EntryKind>) {
        if path.is_root() {
            return;
        }
        let mut paths = self.lock();
        if paths.len() >= CAPACITY && !paths.contains_key(path.as_str()) {
            paths.retain(|_, (_, at)| at.elapsed() < TTL);
            if paths.len() >= CAPACITY {
                // Still full of fresh entries: start over rather than grow.
                paths.clear();
            }
        }
        paths.insert(path.as_str().to_owned(), (kind, Instant::now()));
    }

    /// Forgets `path` and its ancestors: removing an object may remove a
    /// folder that existed only as the common prefix of its keys.
    pub(crate) fn forget_up(&self, path: &StoragePath) {
        let mut paths = self.lock();
        let mut at = Some(path.clone());
        while let Some(p) = at {
            paths.remove(p.as_str());
            at = p.parent();
        }
    }

    /// Forgets everything (a folder removed or renamed: all paths below it change).
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> StoragePath {
        StoragePath::new(s).unwrap()
    }

    #[test]
    fn remembers_forgets_and_stays_bounded() {
        let k = Known::default();
        k.saw(&p("a/b"), EntryKind::Dir);
        k.saw(&p("a/b/f"), EntryKind::File);
        assert_eq!(k.kind(&p("a/b")), Some(EntryKind::Dir));
        k.forget_up(&p("a/b/f"));
        assert_eq!(k.kind(&p("a/b")), None, "an ancestor is forgotten too");
        assert_eq!(k.kind(&p("a/b/f")), None);
        k.saw_nothing(&p("a/n"));
        assert!(k.absent(&p("a/n")));
        assert_eq!(k.kind(&p("a/n")), None);
        for i in 0..CAPACITY + 10 {
            k.saw(&p(&format!("d{i}")), EntryKind::Dir);
        }
        assert!(k.lock().len() <= CAPACITY);
    }
}
