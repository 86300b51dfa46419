//! Namespace mutations of the operations layer: mkdir, symlink/readlink,
//! unlink (with the hidden rename of open files), rmdir and rename.

use std::ffi::OsStr;
use std::sync::atomic::Ordering;

use vault_engine::{DirId, NodeKind};

use super::{
    Attr, FsErrorKind, FsResult, NodeId, RenameFlags, SILLY_PREFIX, VaultFs, lock, lookup_name_in,
    new_name_in,
};

impl VaultFs {
    /// Creates a directory.
    pub async fn mkdir(&self, parent: NodeId, name: &OsStr) -> FsResult<Attr> {
        let _change = self.begin_change()?;
        let name = new_name_in(name)?;
        let dir = self.dir_of(parent)?;
        let node = self.timed(self.vault.create_dir(&dir, &name)).await?;
        self.known_name(parent, &name, true);
        let ino = lock(&self.nodes).upsert(parent, &name, node, 1);
        self.set_known_names(ino, std::iter::empty());
        self.attr_of(ino).await
    }

    /// Creates a symlink with a verbatim target.
    pub async fn symlink(&self, parent: NodeId, name: &OsStr, target: &OsStr) -> FsResult<Attr> {
        let _change = self.begin_change()?;
        let name = new_name_in(name)?;
        let target = target.to_str().ok_or(FsErrorKind::InvalidEncoding)?;
        if target.is_empty() {
            return Err(FsErrorKind::InvalidArgument.into());
        }
        let dir = self.dir_of(parent)?;
        let node = self
            .timed(self.vault.create_symlink(&dir, &name, target))
            .await?;
        self.known_name(parent, &name, true);
        let ino = lock(&self.nodes).upsert(parent, &name, node, 1);
        let mut attr = self.attr_of(ino).await?;
        attr.size = target.len() as u64;
        Ok(attr)
    }

    /// A symlink's target.
    pub async fn readlink(&self, ino: NodeId) -> FsResult<String> {
        let (node, depth) = {
            let nodes = lock(&self.nodes);
            let node = nodes.get(ino).ok_or(FsErrorKind::NotFound)?.node.clone();
            (node, nodes.depth(ino).saturating_sub(1))
        };
        if node.kind != NodeKind::Symlink {
            return Err(FsErrorKind::InvalidArgument.into());
        }
        let target = self.timed(self.vault.read_symlink(&node)).await?;
        if !self.config.symlinks.allows(depth, &target) {
            // The storage path is opaque here; it tells the user which node to inspect.
            tracing::warn!(
                ciphertext = %node.storage_path,
                policy = ?self.config.symlinks,
                "readlink refused: target absolute or outside the mount (see --symlinks)"
            );
            return Err(FsErrorKind::PermissionDenied.into());
        }
        Ok(target)
    }

    /// Moves an open node out of the way under a hidden name (see module docs).
    async fn silly_rename(
        &self,
        parent: NodeId,
        dir: &DirId,
        name: &str,
        ino: NodeId,
    ) -> FsResult<()> {
        let n = self.silly_counter.fetch_add(1, Ordering::Relaxed);
        let hidden = format!("{SILLY_PREFIX}{ino:x}-{n:x}");
        self.timed(self.vault.rename(dir, name, dir, &hidden, false))
            .await?;
        self.known_name(parent, name, false);
        let fresh = self.timed(self.vault.lookup(dir, &hidden)).await;
        let mut nodes = lock(&self.nodes);
        nodes.rename(ino, parent, &hidden);
        if let Some(e) = nodes.get_mut(ino) {
            e.silly = true;
            e.detached = true;
            if let Ok(node) = fresh {
                e.node = node;
            }
        }
        Ok(())
    }

    fn open_node(&self, parent: NodeId, name: &str) -> Option<NodeId> {
        let nodes = lock(&self.nodes);
        let id = nodes.child(parent, name)?;
        nodes.get(id).filter(|e| e.open_handles > 0).map(|_| id)
    }

    /// Removes a file or symlink.
    pub async fn unlink(&self, parent: NodeId, name: &OsStr) -> FsResult<()> {
        let _change = self.begin_change()?;
        let name = lookup_name_in(name)?;
        let dir = self.dir_of(parent)?;
        if self.known_absent(parent, &name) {
            return Err(FsErrorKind::NotFound.into());
        }
        if let Some(ino) = self.pending_child(parent, &name) {
            self.settle(ino).await?;
        }
        // The engine checks existence and kind (IsADirectory) itself.
        if let Some(ino) = self.open_node(parent, &name) {
            return self.silly_rename(parent, &dir, &name, ino).await;
        }
        self.timed(self.vault.remove_file(&dir, &name)).await?;
        self.known_name(parent, &name, false);
        let mut nodes = lock(&self.nodes);
        if let Some(id) = nodes.child(parent, &name) {
            nodes.detach(id);
        }
        Ok(())
    }

    /// Removes an empty directory.
    pub async fn rmdir(&self, parent: NodeId, name: &OsStr) -> FsResult<()> {
        let _change = self.begin_change()?;
        let name = lookup_name_in(name)?;
        let dir = self.dir_of(parent)?;
        if self.known_absent(parent, &name) {
            return Err(FsErrorKind::NotFound.into());
        }
        // Files created in it but not yet stored make it non-empty on storage too.
        let child = lock(&self.nodes).child(parent, &name);
        if let Some(child) = child {
            self.settle_dir(child).await?;
        }
        // The engine checks existence and kind (NotADirectory) itself.
        self.timed(self.vault.remove_dir(&dir, &name)).await?;
        self.known_name(parent, &name, false);
        let mut nodes = lock(&self.nodes);
        if let Some(id) = nodes.child(parent, &name) {
            lock(&self.names).remove(&id);
            nodes.detach(id);
        }
        Ok(())
    }

    /// Renames/moves `parent/name` to `new_parent/new_name` as rename(2) does.
    pub async fn rename(
        &self,
        parent: NodeId,
        name: &OsStr,
        new_parent: NodeId,
        new_name: &OsStr,
        flags: RenameFlags,
    ) -> FsResult<()> {
        if flags.exchange {
            return Err(FsErrorKind::Unsupported.into());
        }
        let _change = self.begin_change()?;
        let name = lookup_name_in(name)?;
        let new_name = new_name_in(new_name)?;
        let dir = self.dir_of(parent)?;
        let new_dir = self.dir_of(new_parent)?;
        for (p, n) in [(parent, &name), (new_parent, &new_name)] {
            if let Some(ino) = self.pending_child(p, n) {
                self.settle(ino).await?;
            }
        }
        let src = self.timed(self.vault.lookup(&dir, &name)).await?;
        if parent == new_parent && name == new_name {
            return Ok(());
        }
        if let NodeKind::Dir(src_id) = &src.kind {
            // A directory cannot move into itself or below itself.
            let known = lock(&self.nodes).child(parent, &name);
            let below = match known {
                Some(id) => lock(&self.nodes).is_ancestor(id, new_parent),
                None => false,
            };
            if below || new_dir == *src_id {
                return Err(FsErrorKind::InvalidArgument.into());
            }
        }
        let dst = match self.lookup_node(new_parent, &new_dir, &new_name).await {
            Ok(node) => Some(node),
            Err(e) if e.kind() == FsErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if let Some(dst) = &dst {
            if flags.no_replace {
                return Err(FsErrorKind::AlreadyExists.into());
            }
            match (&src.kind, &dst.kind) {
                (NodeKind::Dir(_), NodeKind::Dir(_)) => {}
                (NodeKind::Dir(_), _) => return Err(FsErrorKind::NotADirectory.into()),
                (_, NodeKind::Dir(_)) => return Err(FsErrorKind::IsADirectory.into()),
                _ => {
                    if let Some(open) = self.open_node(new_parent, &new_name) {
                        // Keep the replaced file's open handles working.
                        self.silly_rename(new_parent, &new_dir, &new_name, open)
                            .await?;
                    }
                }
            }
        }
        self.timed(
            self.vault
                .rename(&dir, &name, &new_dir, &new_name, !flags.no_replace),
        )
        .await?;
        self.known_name(parent, &name, false);
        self.known_name(new_parent, &new_name, true);
        let moved = {
            let mut nodes = lock(&self.nodes);
            match nodes.child(parent, &name) {
                Some(id) => {
                    nodes.rename(id, new_parent, &new_name);
                    Some(id)
                }
                None => {
                    if let Some(existing) = nodes.child(new_parent, &new_name) {
                        nodes.detach(existing);
                    }
                    None
                }
            }
        };
        if let Some(id) = moved {
            // The engine's node (ciphertext location) changed: re-read it.
            if let Ok(node) = self.timed(self.vault.lookup(&new_dir, &new_name)).await
                && let Some(e) = lock(&self.nodes).get_mut(id)
                && std::mem::discriminant(&e.node.kind) == std::mem::discriminant(&node.kind)
            {
                let size = e.node.size;
                let open = e.file.is_some();
                e.node = node;
                if open {
                    e.node.size = size;
                }
            }
        }
        Ok(())
    }
}
