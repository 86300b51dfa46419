//! `NodeTable`: node numbers ↔ `(parent, name, engine Node)`, with the lookup
//! counts the kernel's `forget` releases. Knows nothing of FUSE or Cryptomator
//! beyond the engine's `Node`.
//!
//! - Root is 1. A node keeps its number while the kernel holds a lookup on it
//!   or a handle is open; `rename` updates the entry in place. Once the kernel
//!   forgot it, its number is given again only to a node looked up at the same
//!   place (parent, name, kind), so `st_ino` stays stable across the kernel
//!   dropping an inode (see `retired`); otherwise numbers are never reused.
//! - A removed or replaced node is *detached*: out of the name index, kept
//!   until its lookups and handles are gone.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use vault_engine::{Node, OpenFile};

use super::retired::{Retired, place_key};

/// A node number (FUSE inode). Root is [`ROOT`].
pub type NodeId = u64;

/// The root directory's node number.
pub const ROOT: NodeId = 1;

/// One known node.
#[derive(Debug)]
pub struct NodeEntry {
    /// Parent node (root's parent is root).
    pub parent: NodeId,
    /// Cleartext name in the parent (NFC); for a silly-renamed node the hidden name.
    pub name: String,
    /// The engine's view of the node, refreshed by lookups.
    pub node: Node,
    /// Kernel lookups not yet forgotten.
    pub lookups: u64,
    /// Open handles (files) on this node.
    pub open_handles: u32,
    /// The shared open file while handles are open.
    pub file: Option<Arc<OpenFile>>,
    /// Written or truncated since the last successful flush.
    pub dirty: bool,
    /// mtime of the last local change not yet visible on storage.
    pub mtime_override: Option<SystemTime>,
    /// mtime set explicitly (utimens) that a later write-back must not overwrite.
    pub pinned_mtime: Option<SystemTime>,
    /// Storage (size, mtime) when the kernel's page cache last matched the content.
    pub cache_fingerprint: Option<(u64, Option<SystemTime>)>,
    /// Removed from its directory (unlinked, replaced, or silly-renamed while open).
    pub detached: bool,
    /// Silly-renamed: unlinked while open, content kept under a hidden name
    /// until the last handle closes.
    pub silly: bool,
    /// Written or truncated since its handles were opened (this open session).
    pub written: bool,
    /// Storage (size, mtime) when the first of the current handles opened.
    pub open_fingerprint: Option<(u64, Option<SystemTime>)>,
    /// Open directory snapshots (opendir … releasedir) that list this node.
    pub snapshots: u32,
}

/// The table. Callers hold it behind a mutex and never across an `await`.
#[derive(Debug)]
pub struct NodeTable {
    entries: HashMap<NodeId, NodeEntry>,
    index: HashMap<(NodeId, String), NodeId>,
    next: NodeId,
    retired: Retired,
}

impl NodeTable {
    /// A table holding only the root.
    pub fn new(root: Node) -> Self {
        let mut entries = HashMap::new();
        entries.insert(
            ROOT,
            NodeEntry {
                parent: ROOT,
                name: String::new(),
                node: root,
                lookups: 1,
                open_handles: 0,
                file: None,
                dirty: false,
                mtime_override: None,
                pinned_mtime: None,
                cache_fingerprint: None,
                detached: false,
                silly: false,
                written: false,
                open_fingerprint: None,
                snapshots: 0,
            },
        );
        NodeTable {
            entries,
            index: HashMap::new(),
            next: ROOT + 1,
            retired: Retired::default(),
        }
    }

    /// The entry of `id`.
    pub fn get(&self, id: NodeId) -> Option<&NodeEntry> {
        self.entries.get(&id)
    }

    /// The entry of `id`, mutable.
    pub fn get_mut(&mut self, id: NodeId) -> Option<&mut NodeEntry> {
        self.entries.get_mut(&id)
    }

    /// The node currently known under `(parent, name)`.
    pub fn child(&self, parent: NodeId, name: &str) -> Option<NodeId> {
        self.index.get(&(parent, name.to_owned())).copied()
    }

    /// Records `node` under `(parent, name)`, adding `lookups` to its count.
    /// A known node of the same kind keeps its number (its `Node` is refreshed);
    /// a different kind under the same name gets a new number.
    pub fn upsert(&mut self, parent: NodeId, name: &str, node: Node, lookups: u64) -> NodeId {
        if let Some(id) = self.child(parent, name) {
            if let Some(entry) = self.entries.get_mut(&id)
                && same_kind(&entry.node, &node)
            {
                entry.node = node;
                entry.lookups += lookups;
                return id;
            }
            self.detach(id);
        }
        let id = match self.retired.take(place_key(parent, name, &node)) {
            Some(id) if !self.entries.contains_key(&id) => id,
            _ => {
                self.next += 1;
                self.next - 1
            }
        };
        self.entries.insert(
            id,
            NodeEntry {
                parent,
                name: name.to_owned(),
                node,
                lookups,
                open_handles: 0,
                file: None,
                dirty: false,
                mtime_override: None,
                pinned_mtime: None,
                cache_fingerprint: None,
                detached: false,
                silly: false,
                written: false,
                open_fingerprint: None,
                snapshots: 0,
            },
        );
        self.index.insert((parent, name.to_owned()), id);
        id
    }

    /// Takes `id` out of its directory's name index (removed or replaced).
    /// The entry itself lives on until forgotten and closed.
    pub fn detach(&mut self, id: NodeId) {
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.detached = true;
            let key = (entry.parent, entry.name.clone());
            if self.index.get(&key) == Some(&id) {
                self.index.remove(&key);
            }
        }
        self.collect(id);
    }

    /// Moves `id` to `(new_parent, new_name)` in place (its number is kept).
    /// Whatever was indexed under the new name is detached first.
    pub fn rename(&mut self, id: NodeId, new_parent: NodeId, new_name: &str) {
        if let Some(existing) = self.child(new_parent, new_name)
            && existing != id
        {
            self.detach(existing);
        }
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        let old_key = (entry.parent, entry.name.clone());
        entry.parent = new_parent;
        entry.name = new_name.to_owned();
        entry.detached = false;
        if self.index.get(&old_key) == Some(&id) {
            self.index.remove(&old_key);
        }
        self.index.insert((new_parent, new_name.to_owned()), id);
    }

    /// Drops `n` kernel lookups of `id` (FUSE `forget`).
    pub fn forget(&mut self, id: NodeId, n: u64) {
        if id == ROOT {
            return;
        }
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.lookups = entry.lookups.saturating_sub(n);
        }
        self.collect(id);
    }

    /// Removes `id` if nothing references it any more: no lookups, no handles.
    /// Only ever called for a node that is no longer needed by a directory snapshot.
    pub fn collect(&mut self, id: NodeId) {
        if id == ROOT {
            return;
        }
        let removable = self
            .entries
            .get(&id)
            .map(|e| e.lookups == 0 && e.open_handles == 0 && e.snapshots == 0 && !e.silly)
            .unwrap_or(false);
        if removable && let Some(entry) = self.entries.remove(&id) {
            // A removed or replaced node's place now names another node (or none).
            if !entry.detached {
                self.retired
                    .retire(place_key(entry.parent, &entry.name, &entry.node), id);
            }
            let key = (entry.parent, entry.name);
            if self.index.get(&key) == Some(&id) {
                self.index.remove(&key);
            }
        }
    }

    /// True when `ancestor` is `id` or one of its ancestors.
    pub fn is_ancestor(&self, ancestor: NodeId, mut id: NodeId) -> bool {
        // Bounded walk: a cycle would be a bug, never an endless loop.
        for _ in 0..4096 {
            if id == ancestor {
                return true;
            }
            if id == ROOT {
                return false;
            }
            match self.entries.get(&id) {
                Some(entry) => id = entry.parent,
                None => return false,
            }
        }
        false
    }

    /// How many levels below the root `id` is (root 0), bounded like
    /// [`Self::is_ancestor`]; an unknown node counts as its known part.
    pub fn depth(&self, mut id: NodeId) -> usize {
        let mut depth = 0;
        while id != ROOT && depth < 4096 {
            match self.entries.get(&id) {
                Some(entry) => id = entry.parent,
                None => break,
            }
            depth += 1;
        }
        depth
    }

    /// Number of entries (tests, diagnostics).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when only… never: the root is always there.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Same kind and, for directories, the same directory ID: the node a number stands for.
pub(super) fn same_kind(a: &Node, b: &Node) -> bool {
    use vault_engine::NodeKind;
    match (&a.kind, &b.kind) {
        (NodeKind::Dir(x), NodeKind::Dir(y)) => x == y,
        (x, y) => std::mem::discriminant(x) == std::mem::discriminant(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vault_engine::{DirId, NodeKind};

    fn node(name: &str, kind: NodeKind) -> Node {
        Node {
            parent: DirId::root(),
            name: name.into(),
            kind,
            size: 0,
            modified: None,
            damaged: false,
            storage_path: String::new(),
        }
    }

    #[test]
    fn numbers_are_stable_and_never_reused() {
        let mut t = NodeTable::new(node("", NodeKind::Dir(DirId::root())));
        let a = t.upsert(ROOT, "a", node("a", NodeKind::File), 1);
        assert_eq!(t.upsert(ROOT, "a", node("a", NodeKind::File), 1), a);
        assert_eq!(t.get(a).map(|e| e.lookups), Some(2));
        t.rename(a, ROOT, "b");
        assert_eq!(t.child(ROOT, "b"), Some(a));
        assert_eq!(t.child(ROOT, "a"), None);
        t.forget(a, 2);
        assert!(t.get(a).is_none());
        let c = t.upsert(ROOT, "c", node("c", NodeKind::File), 1);
        assert!(c > a, "a new place gets a new number");
        let b = t.upsert(ROOT, "b", node("b", NodeKind::File), 1);
        assert_eq!(
            b, a,
            "a forgotten node looked up again at its place keeps its number"
        );
        t.forget(b, 1);
        let l = t.upsert(ROOT, "b", node("b", NodeKind::Symlink), 1);
        assert!(l > c, "another kind at that place gets a new number");
    }

    #[test]
    fn a_removed_node_number_is_not_given_again() {
        let mut t = NodeTable::new(node("", NodeKind::Dir(DirId::root())));
        let a = t.upsert(ROOT, "a", node("a", NodeKind::File), 1);
        t.detach(a);
        t.forget(a, 1);
        let again = t.upsert(ROOT, "a", node("a", NodeKind::File), 1);
        assert!(
            again > a,
            "a file made anew under a removed one's name is a new node"
        );
    }

    #[test]
    fn kind_change_gets_a_new_number_and_rename_detaches_the_target() {
        let mut t = NodeTable::new(node("", NodeKind::Dir(DirId::root())));
        let a = t.upsert(ROOT, "a", node("a", NodeKind::File), 1);
        let d = t.upsert(ROOT, "a", node("a", NodeKind::Dir(DirId::new("x"))), 1);
        assert_ne!(a, d);
        assert!(t.get(a).map(|e| e.detached).unwrap_or(false));
        let f = t.upsert(d, "f", node("f", NodeKind::File), 1);
        let g = t.upsert(ROOT, "g", node("g", NodeKind::File), 1);
        t.rename(g, d, "f");
        assert_eq!(t.child(d, "f"), Some(g));
        assert!(t.get(f).map(|e| e.detached).unwrap_or(false));
        assert!(t.is_ancestor(d, g));
        assert!(t.is_ancestor(ROOT, g));
        assert!(!t.is_ancestor(g, d));
    }
}
