//! The last directory listing, kept for a reopen right after it ([`RecentListing`]).
//!
//! Why: `rm -r` (coreutils' `fts`) opens every folder twice, first to read one chunk, then
//! to read it all. Each `opendir` lists the folder on storage, so over a local folder the
//! second listing cost as much again: measured on the benchmark's `rm -rf` of 17,100 entries,
//! the second opens took 0.145 s of 1.68 s. A listing is reused only while
//!
//! - nothing changed through this mount since it was taken: every change holds a
//!   [`ChangeGuard`] for its whole run, which counts on entry and on exit, so a listing that
//!   overlapped a change is never reused; and
//! - it is younger than [`REUSE_FOR`]. A change another client makes meanwhile shows at the
//!   next listing after that, as it already does within the kernel's one-second entry timeout
//!   and, over a remote storage, the metadata cache's `--dir-cache-time`.
//!
//! One slot: `rm -r` reopens the folder it just read, and nothing else needs more.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use vault_engine::Node;

use super::NodeId;

/// How long a listing may be reused: `rm -r` reopens within microseconds; kept far below a
/// second so that a person listing twice sees another client's change.
pub const REUSE_FOR: Duration = Duration::from_millis(250);

/// The last listing and the count of changes made through the mount.
#[derive(Default)]
pub struct RecentListing {
    /// Bumped when a change starts and again when it ends.
    changes: AtomicU64,
    last: Mutex<Option<Kept>>,
}

struct Kept {
    dir: NodeId,
    nodes: Arc<Vec<Node>>,
    /// `changes` when the listing started.
    changes: u64,
    at: Instant,
}

/// Held for the whole of one change (a create, write, rename, removal, close ...).
pub struct ChangeGuard<'a>(&'a AtomicU64);

impl Drop for ChangeGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl RecentListing {
    /// Marks a change as running until the guard drops.
    pub fn change(&self) -> ChangeGuard<'_> {
        self.changes.fetch_add(1, Ordering::SeqCst);
        ChangeGuard(&self.changes)
    }

    /// The change count to pass to [`RecentListing::keep`], read before listing.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }

    /// The listing of `dir` kept by [`RecentListing::keep`], if it may still be used.
    pub fn reusable(&self, dir: NodeId) -> Option<Arc<Vec<Node>>> {
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let kept = last.as_ref()?;
        let fresh =
            kept.dir == dir && kept.changes == self.changes() && kept.at.elapsed() < REUSE_FOR;
        fresh.then(|| Arc::clone(&kept.nodes))
    }

    /// Keeps the listing of `dir` that started when the change count was `changes_before`.
    pub fn keep(&self, dir: NodeId, nodes: Arc<Vec<Node>>, changes_before: u64) {
        let kept = Kept {
            dir,
            nodes,
            changes: changes_before,
            at: Instant::now(),
        };
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vault_engine::{DirId, NodeKind};

    fn listing() -> Arc<Vec<Node>> {
        Arc::new(vec![Node {
            parent: DirId::root(),
            name: "a".into(),
            kind: NodeKind::File,
            size: 1,
            modified: None,
            damaged: false,
            storage_path: "d/AA/BB/x.c9r".into(),
        }])
    }

    #[test]
    fn a_listing_is_reused_for_its_own_folder_only() {
        let recent = RecentListing::default();
        recent.keep(7, listing(), recent.changes());
        assert_eq!(recent.reusable(7).map(|n| n.len()), Some(1));
        assert!(recent.reusable(8).is_none());
    }

    #[test]
    fn a_change_after_the_listing_stops_its_reuse() {
        let recent = RecentListing::default();
        recent.keep(7, listing(), recent.changes());
        drop(recent.change());
        assert!(recent.reusable(7).is_none());
    }

    #[test]
    fn a_change_running_while_the_listing_was_taken_stops_its_reuse() {
        let recent = RecentListing::default();
        let change = recent.change();
        let before = recent.changes();
        recent.keep(7, listing(), before);
        // The change ends after the listing: what it did may be missing from it.
        drop(change);
        assert!(recent.reusable(7).is_none());
    }

    #[test]
    fn a_listing_older_than_the_reuse_time_is_not_reused() {
        let recent = RecentListing::default();
        recent.keep(7, listing(), recent.changes());
        std::thread::sleep(REUSE_FOR + Duration::from_millis(20));
        assert!(recent.reusable(7).is_none());
    }
}
