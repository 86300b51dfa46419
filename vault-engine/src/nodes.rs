//! Nodes: lookup without listing (type detection is in [`crate::detect`]),
//! and the mutations — create file/dir/symlink, remove, rename/move, mtime.
//!
//! Every mutation computes ciphertext locations from cleartext names, holds
//! the per-directory locks of the directories it changes, and keeps the
//! caches (directory IDs, listing presentations, open files) in step.
//! Logs name ciphertext paths; cleartext names appear only at trace level.

use std::time::SystemTime;

use vault_format::{FormatError, layout};
use vault_storage::{Body, RenameMode, StorageErrorKind, StoragePath, WriteMode};

use crate::core::{Core, is_not_found, not_found_as, temp_path_in};
pub(crate) use crate::detect::root_node;
use crate::detect::{self, Detected, node_at};
use crate::dir_move;
use crate::names::{self, NodeLoc};
use crate::node_removal::{remove_dir_storage, remove_node_storage};
use crate::open_file;
use crate::{DirId, Node, NodeKind, VaultError, VaultErrorKind, listing};

/// A node presented by a listing under a name a lookup cannot compute.
async fn presented(
    core: &Core,
    dir: &DirId,
    name: &str,
    nfc: &str,
) -> Result<Option<Node>, VaultError> {
    if let Some(known) = core.presented.lookup(dir, name, nfc) {
        return Ok(known);
    }
    // A pure listing: a lookup miss never resolves conflicts (that is a
    // mutation, `crate::conflicts::resolve`, under the directory lock).
    match listing::list(core, dir).await {
        Ok(listing) => {
            if let Some(n) = listing
                .nodes
                .iter()
                .find(|n| n.name == name || n.name == nfc)
            {
                return Ok(Some(n.clone()));
            }
            Ok(None)
        }
        Err(e) if e.kind() == VaultErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Lookup by computed name: NFC form, then the exact and NFD forms (names
/// stored by non-normalising clients), then what a listing presented
/// (conflict copies, wrongly (un)shortened names).
pub(crate) async fn lookup(core: &Core, dir: &DirId, name: &str) -> Result<Node, VaultError> {
    names::validate(name)?;
    if let Some(n) = core.dir_cache.get(dir, name) {
        return Ok(n);
    }
    let nfc = names::nfc(name);
    let mut forms = vec![nfc.clone()];
    if name != nfc {
        forms.push(name.to_owned());
    }
    let nfd = names::nfd(name);
    if !forms.contains(&nfd) {
        forms.push(nfd);
    }
    for form in &forms {
        let loc = core.loc_exact(dir, form)?;
        if let Some(node) = node_at(core, dir, form, &loc).await? {
            tracing::trace!(name = %form, ciphertext = %node.storage_path, "lookup hit");
            core.dir_cache.put(&node);
            return Ok(node);
        }
    }
    if let Some(node) = presented(core, dir, name, &nfc).await? {
        return Ok(node);
    }
    Err(VaultError::node(VaultErrorKind::NotFound, name))
}

/// Fails with `AlreadyExists` when something is stored at `loc`.
pub(crate) async fn ensure_absent(
    core: &Core,
    loc: &NodeLoc,
    name: &str,
) -> Result<(), VaultError> {
    match core.storage.metadata(&loc.node_path()?).await {
        Ok(_) => Err(VaultError::node(VaultErrorKind::AlreadyExists, name)),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn exists_as(e: vault_storage::StorageError, name: &str) -> VaultError {
    if e.kind() == StorageErrorKind::AlreadyExists {
        VaultError::node(VaultErrorKind::AlreadyExists, name)
    } else {
        e.into()
    }
}

/// Removes what a failed creation left behind (best effort, logged).
async fn undo(core: &Core, created: &[(StoragePath, bool)]) {
    for (path, is_dir) in created.iter().rev() {
        let res = if *is_dir {
            core.storage.remove_dir_all(path).await
        } else {
            core.storage.remove_file(path).await
        };
        if let Err(e) = res {
            tracing::warn!(ciphertext = %path, error = %e, "could not undo a failed creation");
        }
    }
}

async fn write_name_file(core: &Core, loc: &NodeLoc, mode: WriteMode) -> Result<(), VaultError> {
    if let Some(long) = &loc.long_name {
        core.storage
            .write(
                &loc.child(layout::NAME_FILE)?,
                Body::from_bytes(long.clone().into_bytes()),
                mode,
            )
            .await?;
    }
    Ok(())
}

async fn create_dir_tolerant(core: &Core, path: &StoragePath) -> Result<(), VaultError> {
    match core.storage.create_dir(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == StorageErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Builds a node folder under a hidden temp name in the parent content
/// directory (`files` plus `name.c9s` when shortened), then renames it into
/// place: the node appears complete or not at all, and a crash leaves only a
/// hidden temp folder that listings ignore and `check --repair` removes.
/// Where folder renames are not atomic the node is built in place instead
/// (`dir_move::build_node_in_place`).
pub(crate) async fn build_node_folder(
    core: &Core,
    loc: &NodeLoc,
    name: &str,
    files: Vec<(&str, Vec<u8>)>,
) -> Result<(), VaultError> {
    if !core.caps.atomic_dir_rename {
        // A folder rename there is a copy of each key in any order: a cut
        // could leave a node missing `name.c9s` or its folder marker.
        return dir_move::build_node_in_place(core, loc, files)
            .await
            .map_err(|e| match e.kind() {
                VaultErrorKind::AlreadyExists => {
                    VaultError::node(VaultErrorKind::AlreadyExists, name)
                }
                _ => e,
            });
    }
    let tmp = temp_path_in(&loc.content_dir)?;
    core.storage.create_dir(&tmp).await?;
    let res: Result<(), VaultError> = async {
        for (f, bytes) in files {
            core.storage
                .write(&tmp.join(f)?, Body::from_bytes(bytes), WriteMode::CreateNew)
                .await?;
        }
        if let Some(long) = &loc.long_name {
            core.storage
                .write(
                    &tmp.join(layout::NAME_FILE)?,
                    Body::from_bytes(long.clone().into_bytes()),
                    WriteMode::CreateNew,
                )
                .await?;
        }
        core.storage
            .rename(&tmp, &loc.node_path()?, RenameMode::NoReplace)
            .await
            .map_err(|e| exists_as(e, name))?;
        Ok(())
    }
    .await;
    if res.is_err() {
        undo(core, &[(tmp, true)]).await;
    }
    res
}

pub(crate) async fn create_dir(core: &Core, dir: &DirId, name: &str) -> Result<Node, VaultError> {
    core.check_writable()?;
    let loc = core.loc(dir, name)?;
    let name = names::nfc(name);
    let _g = core.dir_locks.lock(&[dir]).await;
    ensure_absent(core, &loc, &name).await?;
    let id = DirId::new(&layout::new_dir_id());
    let node_path = loc.node_path()?;
    let content = core.content_dir(&id)?;
    // Content directory first (invisible until a dir.c9r points to it), then
    // the node folder, committed by one rename.
    let mut created: Vec<(StoragePath, bool)> = Vec::new();
    let res: Result<(), VaultError> = async {
        if let Some(parent) = content.parent() {
            create_dir_tolerant(core, &parent).await?;
        }
        core.storage.create_dir(&content).await?;
        created.push((content.clone(), true));
        core.storage
            .write(
                &content.join(layout::DIR_ID_BACKUP_FILE)?,
                Body::from_bytes(core.cryptor.encrypt_dir_id_backup(id.as_str())),
                WriteMode::CreateNew,
            )
            .await?;
        build_node_folder(
            core,
            &loc,
            &name,
            vec![(layout::DIR_FILE, id.as_str().as_bytes().to_vec())],
        )
        .await
    }
    .await;
    if let Err(e) = res {
        undo(core, &created).await;
        return Err(e);
    }
    core.forget_presented(dir, &name);
    tracing::debug!(ciphertext = %node_path, content = %content, "directory created");
    let fresh = Detected::fresh(NodeKind::Dir(id), 0);
    let node = detect::node(dir, &name, node_path.as_str(), fresh);
    core.dir_cache.put(&node);
    Ok(node)
}

pub(crate) async fn create_file(core: &Core, dir: &DirId, name: &str) -> Result<Node, VaultError> {
    core.check_writable()?;
    let loc = core.loc(dir, name)?;
    let name = names::nfc(name);
    let _g = core.dir_locks.lock(&[dir]).await;
    let header = core.cryptor.new_header();
    let bytes = core.cryptor.encrypt_header(&header);
    let node_path = loc.node_path()?;
    if loc.is_shortened() {
        ensure_absent(core, &loc, &name).await?;
        build_node_folder(core, &loc, &name, vec![(layout::CONTENTS_FILE, bytes)]).await?;
    } else {
        // CreateNew makes the existence check and the creation one step.
        // Not durable yet, like any new file before fsync(2): the first
        // `OpenFile::flush` (or the next durable write) makes it durable.
        core.storage
            .write_nosync(&node_path, Body::from_bytes(bytes), WriteMode::CreateNew)
            .await
            .map_err(|e| exists_as(e, &name))?;
    }
    core.forget_presented(dir, &name);
    tracing::debug!(ciphertext = %node_path, "file created");
    let fresh = Detected::fresh(NodeKind::File, 0);
    Ok(detect::node(dir, &name, node_path.as_str(), fresh))
}

pub(crate) async fn create_symlink(
    core: &Core,
    dir: &DirId,
    name: &str,
    target: &str,
) -> Result<Node, VaultError> {
    core.check_writable()?;
    if target.len() > layout::MAX_SYMLINK_TARGET_LEN {
        return Err(VaultError::node(VaultErrorKind::NameTooLong, name));
    }
    if target.is_empty() {
        return Err(VaultError::node(VaultErrorKind::InvalidArgument, name));
    }
    let loc = core.loc(dir, name)?;
    let name = names::nfc(name);
    let _g = core.dir_locks.lock(&[dir]).await;
    ensure_absent(core, &loc, &name).await?;
    let node_path = loc.node_path()?;
    let ct = core.cryptor.encrypt_file(target.as_bytes());
    build_node_folder(core, &loc, &name, vec![(layout::SYMLINK_FILE, ct)]).await?;
    core.forget_presented(dir, &name);
    tracing::debug!(ciphertext = %node_path, "symlink created");
    let fresh = Detected::fresh(NodeKind::Symlink, target.len() as u64);
    Ok(detect::node(dir, &name, node_path.as_str(), fresh))
}

pub(crate) async fn read_symlink(core: &Core, node: &Node) -> Result<String, VaultError> {
    if node.kind != NodeKind::Symlink {
        return Err(VaultError::node(
            VaultErrorKind::InvalidArgument,
            node.name.clone(),
        ));
    }
    let loc = NodeLoc::from_storage_path(&node.storage_path)?;
    let path = loc.child(layout::SYMLINK_FILE)?;
    let limit = core
        .cryptor
        .combo()
        .ciphertext_size(layout::MAX_SYMLINK_TARGET_LEN as u64) as usize;
    let ct = core
        .storage
        .read_at(&path, 0, limit + 1)
        .await
        .map_err(|e| not_found_as(e, &node.name))?;
    let corrupt = |source| VaultError::Corrupt {
        storage_path: path.as_str().to_owned(),
        offset: None,
        source,
    };
    if ct.len() > limit {
        return Err(corrupt(FormatError::InvalidNodeFile(
            "symlink target (longer than 32767 bytes)",
        )));
    }
    let clear = core.cryptor.decrypt_file(&ct).map_err(|e| {
        tracing::warn!(ciphertext = %path, "symlink target fails authentication");
        corrupt(e)
    })?;
    if clear.len() > layout::MAX_SYMLINK_TARGET_LEN {
        return Err(corrupt(FormatError::InvalidNodeFile(
            "symlink target (longer than 32767 bytes)",
        )));
    }
    String::from_utf8(clear.to_vec())
        .map_err(|_| corrupt(FormatError::InvalidNodeFile("symlink target (not UTF-8)")))
}

pub(crate) async fn remove_file(core: &Core, dir: &DirId, name: &str) -> Result<(), VaultError> {
    core.check_writable()?;
    names::validate(name)?;
    let _g = core.dir_locks.lock(&[dir]).await;
    let node = lookup(core, dir, name).await?;
    if let NodeKind::Dir(_) = node.kind {
        return Err(VaultError::node(VaultErrorKind::IsADirectory, name));
    }
    remove_node_storage(core, &node, true).await?;
    core.forget_presented(dir, name);
    core.forget_presented(dir, &node.name);
    tracing::debug!(ciphertext = %node.storage_path, "removed");
    Ok(())
}

/// Removes a file or symlink node as a listing just returned it: no lookup first.
pub(crate) async fn remove_listed(core: &Core, node: &Node) -> Result<(), VaultError> {
    core.check_writable()?;
    if let NodeKind::Dir(_) = node.kind {
        return Err(VaultError::node(
            VaultErrorKind::IsADirectory,
            node.name.clone(),
        ));
    }
    let _g = core.dir_locks.lock(&[&node.parent]).await;
    remove_node_storage(core, node, false).await?;
    core.forget_presented(&node.parent, &node.name);
    tracing::debug!(ciphertext = %node.storage_path, "removed");
    Ok(())
}

pub(crate) async fn remove_dir(core: &Core, dir: &DirId, name: &str) -> Result<(), VaultError> {
    core.check_writable()?;
    names::validate(name)?;
    let node = lookup(core, dir, name).await?;
    let NodeKind::Dir(id) = node.kind.clone() else {
        return Err(VaultError::node(VaultErrorKind::NotADirectory, name));
    };
    let _g = core.dir_locks.lock(&[dir, &id]).await;
    remove_dir_storage(core, &node, &id).await?;
    core.dir_cache.evict(dir, name);
    core.forget_presented(dir, name);
    core.forget_presented(dir, &node.name);
    Ok(())
}

/// Moves a node's storage from `src` to `dst` (neither exists at `dst` unless
/// `replace_plain` allows an atomic replace of a plain file).
async fn move_storage(
    core: &Core,
    is_file: bool,
    src: &NodeLoc,
    dst: &NodeLoc,
    replace_plain: bool,
) -> Result<(), VaultError> {
    let s = core.storage.as_ref();
    let src_path = src.node_path()?;
    let dst_path = dst.node_path()?;
    let mode = if replace_plain {
        RenameMode::Replace
    } else {
        RenameMode::NoReplace
    };
    match (is_file, src.is_shortened(), dst.is_shortened()) {
        (true, false, false) => s.rename(&src_path, &dst_path, mode).await?,
        (true, false, true) | (true, true, true) => {
            // Build the .c9s folder first, then move the content in one rename.
            s.create_dir(&dst_path).await?;
            let res: Result<(), VaultError> = async {
                write_name_file(core, dst, WriteMode::Overwrite).await?;
                let from = src.file_content_path()?;
                s.rename(
                    &from,
                    &dst.child(layout::CONTENTS_FILE)?,
                    RenameMode::NoReplace,
                )
                .await?;
                Ok(())
            }
            .await;
            if let Err(e) = res {
                undo(core, &[(dst_path.clone(), true)]).await;
                return Err(e);
            }
            if src.is_shortened() {
                s.remove_dir_all(&src_path).await?;
            }
        }
        (true, true, false) => {
            s.rename(&src.file_content_path()?, &dst_path, mode).await?;
            s.remove_dir_all(&src_path).await?;
        }
        (false, false, false) => {
            s.rename(&src_path, &dst_path, RenameMode::NoReplace)
                .await?
        }
        (false, false, true) => {
            // name.c9s inside a .c9r folder is ignored, so write it into the
            // source folder first and make the move itself one atomic rename.
            if let Some(long) = &dst.long_name {
                let body = Body::from_bytes(long.clone().into_bytes());
                s.write(&src.child(layout::NAME_FILE)?, body, WriteMode::Overwrite)
                    .await?;
            }
            s.rename(&src_path, &dst_path, RenameMode::NoReplace)
                .await?;
        }
        (false, true, false) => {
            s.rename(&src_path, &dst_path, RenameMode::NoReplace)
                .await?;
            if let Err(e) = s.remove_file(&dst.child(layout::NAME_FILE)?).await {
                tracing::debug!(ciphertext = %dst_path, error = %e, "stale name.c9s left in node folder (ignored by readers)");
            }
        }
        (false, true, true) => {
            s.rename(&src_path, &dst_path, RenameMode::NoReplace)
                .await?;
            write_name_file(core, dst, WriteMode::Overwrite).await?;
        }
    }
    Ok(())
}

/// Makes way for a rename with `replace` onto the existing `dst` as rename(2)
/// does: an empty directory onto a directory, anything else onto a non-directory.
/// True when the move itself is to replace a plain file atomically.
async fn clear_target(
    core: &Core,
    src: &Node,
    src_loc: &NodeLoc,
    dst: &Node,
    dst_loc: &NodeLoc,
    to_name: &str,
) -> Result<bool, VaultError> {
    match (&src.kind, &dst.kind) {
        (NodeKind::Dir(_), NodeKind::Dir(did)) => {
            remove_dir_storage(core, dst, did).await?;
        }
        (NodeKind::Dir(_), _) => {
            return Err(VaultError::node(VaultErrorKind::NotADirectory, to_name));
        }
        (_, NodeKind::Dir(_)) => {
            return Err(VaultError::node(VaultErrorKind::IsADirectory, to_name));
        }
        _ => {
            if src.kind == NodeKind::File
                && !src_loc.is_shortened()
                && !dst_loc.is_shortened()
                && dst.kind == NodeKind::File
            {
                // Atomic replace (editors save via rename); unlink the
                // replaced file's open state first.
                let content = dst_loc.file_content_path()?;
                core.await_background(content.as_str()).await;
                if let Some(f) = open_file::find(core, content.as_str()) {
                    f.mark_unlinked().await;
                    core.open_files.remove(content.as_str());
                    drop(f);
                }
                return Ok(true);
            }
            remove_node_storage(core, dst, false).await?;
        }
    }
    Ok(false)
}

pub(crate) async fn rename(
    core: &Core,
    from_dir: &DirId,
    from_name: &str,
    to_dir: &DirId,
    to_name: &str,
    replace: bool,
) -> Result<(), VaultError> {
    core.check_writable()?;
    names::validate(from_name)?;
    names::validate(to_name)?;
    let to_nfc = names::nfc(to_name);
    let src = lookup(core, from_dir, from_name).await?;
    if let NodeKind::Dir(id) = &src.kind
        && core.dir_cache.is_ancestor_or_self(id, to_dir)
    {
        return Err(VaultError::node(VaultErrorKind::InvalidArgument, to_name));
    }
    let mut lock_ids = vec![from_dir, to_dir];
    let src_dir_id = if let NodeKind::Dir(id) = &src.kind {
        Some(id.clone())
    } else {
        None
    };
    if let Some(id) = &src_dir_id {
        lock_ids.push(id);
    }
    let _g = core.dir_locks.lock(&lock_ids).await;
    let src_loc = NodeLoc::from_storage_path(&src.storage_path)?;
    let dst_loc = core.loc(to_dir, &to_nfc)?;
    if src_loc.node_path()? == dst_loc.node_path()? {
        return Ok(());
    }
    let is_file = src.kind == NodeKind::File;
    let replace_plain = match node_at(core, to_dir, &to_nfc, &dst_loc).await? {
        Some(dst) if replace => clear_target(core, &src, &src_loc, &dst, &dst_loc, to_name).await?,
        Some(_) => return Err(VaultError::node(VaultErrorKind::AlreadyExists, to_name)),
        // A stale broken entry at a shortened target would make the move fail; a
        // plain NoReplace rename reports AlreadyExists on its own.
        None => false,
    };

    // Hold the open file (if any) while its ciphertext moves, so a concurrent
    // flush cannot commit to the old path.
    let old_content = src_loc.file_content_path()?;
    if is_file {
        core.await_background(old_content.as_str()).await;
        core.await_background(dst_loc.file_content_path()?.as_str())
            .await;
    }
    let open = if is_file {
        open_file::find(core, old_content.as_str())
    } else {
        None
    };
    let mut guard = match &open {
        Some(f) => Some(f.state_lock().await),
        None => None,
    };
    let moved = match &src_dir_id {
        // Without atomic folder renames a folder node is moved in a
        // repairable order instead (see dir_move).
        Some(id) if !core.caps.atomic_dir_rename => {
            dir_move::move_dir_node(core, id, &src_loc, &dst_loc).await
        }
        _ => move_storage(core, is_file, &src_loc, &dst_loc, replace_plain).await,
    };
    moved.map_err(|e| match e.kind() {
        VaultErrorKind::AlreadyExists => VaultError::node(VaultErrorKind::AlreadyExists, to_name),
        VaultErrorKind::NotFound => VaultError::node(VaultErrorKind::NotFound, from_name),
        _ => e,
    })?;
    if let (Some(f), Some(g)) = (&open, guard.as_mut()) {
        let new_content = dst_loc.file_content_path()?;
        g.relocate(new_content.clone(), dst_loc.content_dir.clone());
        f.rekey(new_content.as_str());
    }
    drop(guard);
    drop(open);

    core.dir_cache.evict(from_dir, from_name);
    core.dir_cache.evict(from_dir, &src.name);
    core.dir_cache.evict(to_dir, &to_nfc);
    core.forget_presented(from_dir, from_name);
    core.forget_presented(from_dir, &src.name);
    core.forget_presented(to_dir, &to_nfc);
    if let Some(id) = src_dir_id {
        core.dir_cache.set_parent(&id, to_dir);
        let moved = Detected {
            kind: NodeKind::Dir(id),
            size: 0,
            modified: src.modified,
            damaged: false,
        };
        core.dir_cache
            .put(&detect::node_in(to_dir, &to_nfc, &dst_loc, moved)?);
    }
    tracing::debug!(from = %src.storage_path, to = %dst_loc.node_path()?, "renamed");
    Ok(())
}

pub(crate) async fn set_modified(
    core: &Core,
    node: &Node,
    modified: SystemTime,
) -> Result<(), VaultError> {
    core.check_writable()?;
    if node.name.is_empty() && node.kind == NodeKind::Dir(DirId::root()) {
        return Ok(());
    }
    let loc = NodeLoc::from_storage_path(&node.storage_path)?;
    let path = if node.kind == NodeKind::File {
        loc.file_content_path()?
    } else {
        loc.node_path()?
    };
    if node.kind == NodeKind::File
        && let Some(f) = open_file::find(core, path.as_str())
    {
        let mut st = f.state_lock().await;
        if st.is_dirty() {
            // Applied after the commit, which would otherwise set "now".
            st.set_pending_mtime(modified);
        }
    }
    if !core.caps.set_modified {
        tracing::debug!(ciphertext = %path, "storage cannot set modification times; ignored");
        return Ok(());
    }
    core.storage
        .set_modified(&path, modified)
        .await
        .map_err(|e| not_found_as(e, &node.name))
}
