//! `Retired`: the numbers of nodes the kernel has forgotten, by where they were, so a node
//! looked up again at the same place gets its old number back.
//!
//! Why: the kernel may drop an unused inode at any time (memory pressure, `drop_caches`) and
//! look the name up again later. Programs compare `st_ino` across such gaps: GNU tar extracts
//! a symlink it must defer as an empty placeholder file, and at the end replaces it only if
//! its device and inode number are unchanged; with a fresh number it leaves the empty file.
//! A number comes back only after the kernel's `forget` released it, so the kernel never holds
//! one number for two nodes. The memory is bounded: the oldest numbers are dropped first.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};

use vault_engine::{Node, NodeKind};

/// A node number (the table's `NodeId`; named here so this leaf module needs nothing of it).
type NodeId = u64;

/// How many forgotten numbers are kept (about 40 bytes each).
const KEEP: usize = 65_536;

/// Where a node was: its parent's number, its name and its kind (a folder by its ID too).
/// Hashed to 64 bits: a collision only gives one node a fresh number instead of its old one,
/// never a number the kernel still holds.
pub(super) fn place_key(parent: NodeId, name: &str, node: &Node) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    parent.hash(&mut h);
    name.hash(&mut h);
    match &node.kind {
        NodeKind::File => 0u8.hash(&mut h),
        NodeKind::Dir(id) => {
            1u8.hash(&mut h);
            id.hash(&mut h);
        }
        NodeKind::Symlink => 2u8.hash(&mut h),
    }
    h.finish()
}

/// Forgotten numbers by place, oldest first in `order`.
#[derive(Debug, Default)]
pub(super) struct Retired {
    by_place: HashMap<u64, NodeId>,
    order: VecDeque<(u64, NodeId)>,
}

impl Retired {
    /// Remembers that `id`, at `place`, was forgotten by the kernel and dropped from the table.
    pub(super) fn retire(&mut self, place: u64, id: NodeId) {
        self.by_place.insert(place, id);
        self.order.push_back((place, id));
        while self.order.len() > KEEP {
            if let Some((old_place, old_id)) = self.order.pop_front()
                && self.by_place.get(&old_place) == Some(&old_id)
            {
                self.by_place.remove(&old_place);
            }
        }
    }

    /// The number last forgotten at `place`, handed out once.
    pub(super) fn take(&mut self, place: u64) -> Option<NodeId> {
        self.by_place.remove(&place)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_is_taken_once_and_the_oldest_go_first() {
        let mut r = Retired::default();
        r.retire(7, 100);
        assert_eq!(r.take(7), Some(100));
        assert_eq!(r.take(7), None, "handed out once");
        for i in 0..(KEEP as u64 + 10) {
            r.retire(i, 1_000 + i);
        }
        assert_eq!(r.take(0), None, "the oldest dropped");
        assert_eq!(r.take(KEEP as u64 + 9), Some(1_000 + KEEP as u64 + 9));
        assert!(r.order.len() <= KEEP);
    }

    #[test]
    fn a_place_retired_again_keeps_its_newest_number() {
        let mut r = Retired::default();
        r.retire(1, 10);
        r.retire(1, 11);
        // The stale (1, 10) pair leaving the queue must not drop (1, 11).
        for i in 2..(KEEP as u64 + 2) {
            r.retire(i, 100 + i);
        }
        assert_eq!(r.take(1), None, "both pairs of place 1 were the oldest");
        let mut r = Retired::default();
        r.retire(1, 10);
        r.order.pop_front();
        r.retire(1, 11);
        assert_eq!(r.take(1), Some(11));
    }
}
