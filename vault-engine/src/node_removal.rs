//! The storage work of removing nodes: a file's or symlink's objects, an emptied
//! directory's content folder and node folder, done here or handed to the background
//! removals ([`crate::removals`]) over a local folder. Callers hold the directory locks.

use std::collections::HashSet;

use vault_format::layout;
use vault_storage::{RenameMode, StorageErrorKind, StoragePath};

use crate::backups;
use crate::core::{Core, TEMP_PREFIX, is_not_found, not_found_as, temp_path_in};
use crate::names::NodeLoc;
use crate::open_file;
use crate::removals::Kind;
use crate::{DirId, Node, NodeKind, VaultError, VaultErrorKind};

/// Queues the removal of a plain file object ([`crate::removals`]): from here on the engine
/// sees it gone. Removes it here when the queue is full.
async fn remove_in_background(
    core: &Core,
    loc: &NodeLoc,
    path: &StoragePath,
) -> Result<(), vault_storage::StorageError> {
    match core
        .removals
        .enqueue(loc.content_dir.as_str(), path.clone())
    {
        Ok(()) => Ok(()),
        Err(path) => core.storage.remove_file(&path).await,
    }
}

/// Removes the storage of a file or symlink node. `background`: the node was just looked up
/// (so it is a file on storage), and a plain file's unlink may finish in the background.
pub(crate) async fn remove_node_storage(
    core: &Core,
    node: &Node,
    background: bool,
) -> Result<(), VaultError> {
    let loc = NodeLoc::from_storage_path(&node.storage_path)?;
    let path = loc.node_path()?;
    if node.kind == NodeKind::File {
        let content = loc.file_content_path()?;
        core.await_background(content.as_str()).await;
        if let Some(f) = open_file::find(core, content.as_str()) {
            f.mark_unlinked().await;
            core.open_files.remove(content.as_str());
            drop(f);
        }
    }
    // A plain file node is one object; symlinks and shortened nodes are
    // folders. Try that first (no stat); the other kind only if storage
    // says the node is not what its name says.
    let folder = loc.is_shortened() || node.kind != NodeKind::File;
    if !folder && background && core.removals.enabled() {
        return remove_in_background(core, &loc, &path)
            .await
            .map_err(|e| not_found_as(e, &node.name));
    }
    let first = if folder {
        core.storage.remove_dir_all(&path).await
    } else {
        core.storage.remove_file(&path).await
    };
    let res = match first {
        Err(e)
            if matches!(
                e.kind(),
                StorageErrorKind::IsADirectory | StorageErrorKind::NotADirectory
            ) =>
        {
            if folder {
                core.storage.remove_file(&path).await
            } else {
                core.storage.remove_dir_all(&path).await
            }
        }
        other => other,
    };
    res.map_err(|e| not_found_as(e, &node.name))
}

/// Checks that a directory's content dir holds only `dirid.c9r` (and stale
/// shadow objects, which are removed). `Ok(false)` when it is missing. With background
/// removals the objects still queued for removal count as gone (the folder's own removal
/// waits for them), else they are waited for.
async fn ensure_empty(core: &Core, content: &StoragePath, name: &str) -> Result<bool, VaultError> {
    if !core.removals.enabled() {
        core.removals.wait_dir(content.as_str()).await;
    }
    // Names and kinds only: a `stat` of each entry was most of this check's time when the
    // folder still held every object `rm -r` had just renamed aside. Objects queued for
    // removal are not listed (the engine's storage hides them, `crate::removals::overlay`).
    let entries = match core.storage.list_names(content).await {
        Ok(e) => e,
        Err(e) if is_not_found(&e) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let mut stale = Vec::new();
    let names: HashSet<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    for (entry, kind) in &entries {
        if entry == layout::DIR_ID_BACKUP_FILE {
            continue;
        }
        let path = content.join(entry)?;
        if entry.starts_with(TEMP_PREFIX) && !core.live_temps.contains(path.as_str()) {
            stale.push((path, *kind == vault_storage::EntryKind::Dir));
            continue;
        }
        // A replace backup whose object is gone is that object's only copy
        // (`vault check --repair` restores it): the directory is not empty.
        if backups::backup_removable(entry, &names) == Some(true) {
            stale.push((path, false));
            continue;
        }
        return Err(VaultError::node(VaultErrorKind::NotEmpty, name));
    }
    for (p, folder) in stale {
        // A folder: a directory's node folder renamed aside whose removal failed.
        let res = if folder {
            core.storage.remove_dir_all(&p).await
        } else {
            core.storage.remove_file(&p).await
        };
        match res {
            // A queued removal that finished after the listing.
            Err(e) if is_not_found(&e) => {}
            other => other?,
        }
    }
    Ok(true)
}

/// Queues the removal of an emptied directory's content folder and renames its node folder
/// aside, queueing that too ([`crate::removals`]). `Ok(false)`: the queue is full, nothing
/// was done.
async fn remove_dir_in_background(
    core: &Core,
    node: &Node,
    content: &StoragePath,
) -> Result<bool, VaultError> {
    let key = content.parent().unwrap_or_default();
    let kind = Kind::Content {
        id_backup: layout::DIR_ID_BACKUP_FILE,
    };
    let q = &core.removals;
    if q.enqueue_kind(key.as_str(), content.clone(), kind).is_err() {
        return Ok(false);
    }
    let loc = NodeLoc::from_storage_path(&node.storage_path)?;
    let aside = temp_path_in(&loc.content_dir)?;
    core.storage
        .rename_nosync(&loc.node_path()?, &aside, RenameMode::NoReplace)
        .await
        .map_err(|e| not_found_as(e, &node.name))?;
    if let Err(aside) = q.enqueue_kind(loc.content_dir.as_str(), aside, Kind::Tree) {
        core.storage.remove_dir_all(&aside).await?;
    }
    Ok(true)
}

/// Removes an empty directory's content dir, then its node.
pub(crate) async fn remove_dir_storage(
    core: &Core,
    node: &Node,
    id: &DirId,
) -> Result<(), VaultError> {
    let content = core.content_dir(id)?;
    let exists = ensure_empty(core, &content, &node.name).await?;
    if exists && core.removals.enabled() && remove_dir_in_background(core, node, &content).await? {
        // Both folders are queued; the name is free.
    } else {
        remove_dir_now(core, node, &content, exists).await?;
    }
    core.dir_cache.evict(&node.parent, &node.name);
    core.dir_cache.evict_children(id);
    core.invalidate_presented(id);
    tracing::debug!(ciphertext = %node.storage_path, content = %content, "directory removed");
    Ok(())
}

/// [`remove_dir_storage`]'s storage work done here: the content dir (if `exists`), then the
/// node.
async fn remove_dir_now(
    core: &Core,
    node: &Node,
    content: &StoragePath,
    exists: bool,
) -> Result<(), VaultError> {
    if exists {
        core.removals.wait_dir(content.as_str()).await;
        match core
            .storage
            .remove_file(&content.join(layout::DIR_ID_BACKUP_FILE)?)
            .await
        {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
        match core.storage.remove_dir(content).await {
            Ok(()) => {}
            Err(e) if e.kind() == StorageErrorKind::NotEmpty => {
                return Err(VaultError::node(
                    VaultErrorKind::NotEmpty,
                    node.name.clone(),
                ));
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let node_path = StoragePath::new(&node.storage_path)?;
    core.storage
        .remove_dir_all(&node_path)
        .await
        .map_err(|e| not_found_as(e, &node.name))?;
    Ok(())
}
