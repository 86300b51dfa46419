//! Directory handles of the operations layer: `opendir` takes a snapshot of the folder's
//! listing (reusing one taken just before, see [`super::recent_listing`]), `readdir` hands
//! it out, `releasedir` drops it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use vault_engine::{DirId, Node};

use super::node_table::same_kind;
use super::{DirEntry, FsErrorKind, FsResult, HandleId, NodeId, SILLY_PREFIX, VaultFs, lock};

impl VaultFs {
    /// Opens a directory for reading: takes a snapshot of its listing.
    pub async fn opendir(&self, ino: NodeId) -> FsResult<HandleId> {
        let dir = self.dir_of(ino)?;
        // Locally created files are stored first, so the listing shows them.
        self.settle_dir(ino).await?;
        let (listing, reused) = match self.recent_listing.reusable(ino) {
            Some(listing) => (listing, true),
            None => (self.list_presentable(ino, &dir).await?, false),
        };
        self.set_known_names(ino, listing.iter().map(|n| n.name.as_str()));
        let mut entries = Vec::with_capacity(listing.len());
        let mut open_files = Vec::new();
        {
            let mut nodes = lock(&self.nodes);
            for node in listing.iter() {
                if node.name.starts_with(SILLY_PREFIX) {
                    continue;
                }
                // The engine refuses such names already; a name that is not one plain
                // component must never reach the kernel, whatever the engine does.
                let n = node.name.as_str();
                if n.is_empty() || n == "." || n == ".." || n.contains(['/', '\0']) {
                    tracing::warn!(ciphertext = %node.storage_path, "entry with an unusable name skipped");
                    continue;
                }
                let name = node.name.clone();
                // A reused listing is no newer than what a lookup since may have recorded.
                let known = nodes.child(ino, &name).filter(|&id| {
                    reused && nodes.get(id).is_some_and(|e| same_kind(&e.node, node))
                });
                let id = match known {
                    Some(id) => id,
                    None => nodes.upsert(ino, &name, node.clone(), 0),
                };
                if let Some(e) = nodes.get_mut(id) {
                    // Kept alive until releasedir, so a concurrent listing's
                    // release cannot drop a node this snapshot hands out.
                    e.snapshots += 1;
                }
                if let Some(e) = nodes.get(id) {
                    if let Some(file) = &e.file {
                        open_files.push((entries.len(), Arc::clone(file)));
                    }
                    entries.push(DirEntry {
                        name,
                        attr: self.static_attr(id, e),
                    });
                }
            }
        }
        for (i, file) in open_files {
            let size = file.size().await;
            if let Some(entry) = entries.get_mut(i) {
                entry.attr.size = size;
            }
        }
        let handle = self.next_handle.fetch_add(1, Ordering::Relaxed);
        lock(&self.handles)
            .dirs
            .insert(handle, (ino, Arc::new(entries)));
        Ok(handle)
    }

    /// Lists `dir` on storage, resolving sync-conflict copies first on a read-write mount,
    /// and keeps the result for a reopen ([`super::recent_listing`]).
    async fn list_presentable(&self, ino: NodeId, dir: &DirId) -> FsResult<Arc<Vec<Node>>> {
        let changes_before = self.recent_listing.changes();
        let mut listed = self.timed(self.vault.list_checked(dir)).await?;
        // A read-write mount resolves sync-conflict copies on storage before
        // presenting them (docs/cli.md); listings themselves never write, so
        // only a directory that presented some pays for the resolution.
        if listed.unresolved_conflicts > 0 && !self.vault.is_read_only() {
            match self.timed(self.vault.resolve_conflicts(dir)).await {
                Ok(_) => listed = self.timed(self.vault.list_checked(dir)).await?,
                Err(e) => {
                    tracing::warn!(error = %e, "sync-conflict copies could not be resolved; presented")
                }
            }
        }
        for refused in &listed.refused {
            // The text names the ciphertext node only, never cleartext.
            tracing::warn!(error = %refused, "entry skipped");
        }
        let listing = Arc::new(listed.nodes);
        self.recent_listing
            .keep(ino, Arc::clone(&listing), changes_before);
        Ok(listing)
    }

    /// The snapshot taken by `opendir`.
    pub fn readdir(&self, handle: HandleId) -> FsResult<Arc<Vec<DirEntry>>> {
        lock(&self.handles)
            .dirs
            .get(&handle)
            .map(|(_, entries)| Arc::clone(entries))
            .ok_or_else(|| FsErrorKind::BadHandle.into())
    }

    /// Counts one kernel lookup on `ino` (a READDIRPLUS entry handed to the kernel).
    pub fn remember(&self, ino: NodeId) {
        if let Some(e) = lock(&self.nodes).get_mut(ino) {
            e.lookups += 1;
        }
    }

    /// Closes a directory handle; nodes only the snapshot knew are dropped.
    pub fn releasedir(&self, handle: HandleId) {
        let snapshot = lock(&self.handles).dirs.remove(&handle);
        if let Some((_, entries)) = snapshot {
            let mut nodes = lock(&self.nodes);
            for entry in entries.iter() {
                if let Some(e) = nodes.get_mut(entry.attr.ino) {
                    e.snapshots = e.snapshots.saturating_sub(1);
                }
                nodes.collect(entry.attr.ino);
            }
        }
    }
}
