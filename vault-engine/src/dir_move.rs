//! Moving a directory node on a storage whose folder rename is not atomic
//! (`Capabilities::atomic_dir_rename` false: S3, where a folder moves key by
//! key). A directory node holds nothing but its `dir.c9r` (the directory's ID;
//! the content lives in the content directory, which does not move) and, when
//! shortened, `name.c9s`. So the engine moves it itself, in an order where
//! every state a crash can leave is recognisable and `vault check --repair`
//! settles it without loss (docs/vault-format.md, "Moving a folder on a
//! storage without atomic folder renames"):
//!
//! 1. write the move marker [`MOVE_MARKER`] into the source node folder: the
//!    target's node path;
//! 2. create the target node folder (and its `name.c9s` when shortened);
//! 3. write the target's `dir.c9r` (a new object, never an overwrite) — the
//!    commit point: from here the target is the folder;
//! 4. remove the source's `dir.c9r`, then the rest of the source node folder.
//!
//! A cut before 3 leaves the source whole, a stale marker and perhaps an empty
//! target node folder; a cut after 3 leaves two nodes naming one ID where the
//! source carries a marker naming the target, or a source node folder without
//! `dir.c9r`. The rule: a marker whose target holds the same ID means the move
//! committed (the source goes); otherwise the marker is stale (it goes).

use vault_format::layout;
use vault_storage::{Body, StoragePath, WriteMode};

use crate::core::{Core, TEMP_PREFIX, is_not_found, temp_path_in};
use crate::names::NodeLoc;
use crate::{DirId, VaultError};

/// Name of the move marker inside a directory node folder being moved. Readers
/// decide a node's type by `dir.c9r`/`symlink.c9r`/`contents.c9r` and ignore
/// other entries, so other clients ignore it too.
pub(crate) const MOVE_MARKER: &str = ".vault-move";

/// A marker is a storage path; anything longer is not ours.
const MAX_MARKER_LEN: usize = 4096;

/// Moves the directory node `src` (naming `id`) to `dst` in the order above.
/// The target must not exist. Before the commit point a failure undoes what
/// was written; after it the move stands and a failed cleanup of the source
/// is reported (the leftover is what `check --repair` removes).
pub(crate) async fn move_dir_node(
    core: &Core,
    id: &DirId,
    src: &NodeLoc,
    dst: &NodeLoc,
) -> Result<(), VaultError> {
    let s = core.storage.as_ref();
    let src_path = src.node_path()?;
    let dst_path = dst.node_path()?;
    let marker = src.child(MOVE_MARKER)?;
    s.write(
        &marker,
        Body::from_bytes(dst_path.as_str().as_bytes().to_vec()),
        WriteMode::Overwrite,
    )
    .await?;
    if let Err(e) = s.create_dir(&dst_path).await {
        drop_marker(core, &marker).await;
        return Err(e.into());
    }
    let committed: Result<(), VaultError> = async {
        if let Some(long) = &dst.long_name {
            let body = Body::from_bytes(long.clone().into_bytes());
            s.write(&dst.child(layout::NAME_FILE)?, body, WriteMode::CreateNew)
                .await?;
        }
        let body = Body::from_bytes(id.as_str().as_bytes().to_vec());
        s.write(&dst.child(layout::DIR_FILE)?, body, WriteMode::CreateNew)
            .await?;
        Ok(())
    }
    .await;
    if let Err(e) = committed {
        if let Err(u) = s.remove_dir_all(&dst_path).await {
            tracing::warn!(ciphertext = %dst_path, error = %u, "could not undo a cut folder move");
        }
        drop_marker(core, &marker).await;
        return Err(e);
    }
    // dir.c9r first: once it is gone the source is no longer a folder node,
    // so no state after this point has two names for one ID.
    s.remove_file(&src.child(layout::DIR_FILE)?).await?;
    s.remove_dir_all(&src_path).await?;
    Ok(())
}

/// Builds a new node folder in place, on a storage whose folder renames are
/// not atomic (where the temp-folder-and-rename of other storages would be a
/// copy of each key in any order): the folder, then `name.c9s` when
/// shortened, then the node's own files, the last of them (`dir.c9r`,
/// `contents.c9r` or `symlink.c9r`) the commit point. Every file is a new
/// object, so of two clients creating the same name one wins. A cut before
/// the commit leaves a node folder holding nothing but `name.c9s`, which
/// readers skip and `vault check --repair` removes (nothing is in it).
pub(crate) async fn build_node_in_place(
    core: &Core,
    loc: &NodeLoc,
    files: Vec<(&str, Vec<u8>)>,
) -> Result<(), VaultError> {
    let s = core.storage.as_ref();
    let node = loc.node_path()?;
    s.create_dir(&node).await?;
    let mut written: Vec<StoragePath> = Vec::new();
    let long = loc
        .long_name
        .as_ref()
        .map(|l| (layout::NAME_FILE, l.clone().into_bytes()));
    let res: Result<(), VaultError> = async {
        for (f, bytes) in long.into_iter().chain(files) {
            let path = loc.child(f)?;
            s.write(&path, Body::from_bytes(bytes), WriteMode::CreateNew)
                .await?;
            written.push(path);
        }
        Ok(())
    }
    .await;
    if res.is_err() {
        // Only what this call wrote, and the folder only while empty: a
        // client that won a race for the name keeps its node.
        for p in written.iter().rev() {
            let _ = s.remove_file(p).await;
        }
        if let Err(e) = s.remove_dir(&node).await {
            tracing::warn!(ciphertext = %node, error = %e, "could not undo a cut node creation");
        }
    }
    res
}

async fn drop_marker(core: &Core, marker: &StoragePath) {
    if let Err(e) = core.storage.remove_file(marker).await
        && !is_not_found(&e)
    {
        tracing::warn!(ciphertext = %marker, error = %e, "could not remove a move marker (harmless)");
    }
}

/// What the move marker in a directory node folder says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Marker {
    /// No marker.
    None,
    /// The move to `target` committed: the target holds this node's ID, so
    /// this node is the leftover source.
    Committed { target: String },
    /// A marker of a move that never committed (or an unreadable one).
    Stale { target: String },
}

/// Reads the move marker of the directory node at `node_path`, which names `id`.
pub(crate) async fn read_marker(
    core: &Core,
    node_path: &str,
    id: &DirId,
) -> Result<Marker, VaultError> {
    let marker = StoragePath::new(node_path)?.join(MOVE_MARKER)?;
    let bytes = match core.storage.read_at(&marker, 0, MAX_MARKER_LEN + 1).await {
        Ok(b) => b,
        Err(e) if is_not_found(&e) => return Ok(Marker::None),
        Err(e) => return Err(e.into()),
    };
    let target = String::from_utf8_lossy(&bytes).into_owned();
    let Some(target_path) = marker_target(&bytes, node_path) else {
        return Ok(Marker::Stale { target });
    };
    let dir_file = target_path.join(layout::DIR_FILE)?;
    let same = match core
        .storage
        .read_at(&dir_file, 0, layout::MAX_DIR_FILE_LEN + 1)
        .await
    {
        Ok(b) => b.as_ref() == id.as_str().as_bytes(),
        Err(e) if is_not_found(&e) => false,
        Err(e) => return Err(e.into()),
    };
    Ok(if same {
        Marker::Committed { target }
    } else {
        Marker::Stale { target }
    })
}

/// The marker's target when it is one a move of ours could have written: a
/// node path under `d/` (`d/XX/YYYY/entry.c9r|c9s`) other than the node itself.
fn marker_target(bytes: &[u8], node_path: &str) -> Option<StoragePath> {
    if bytes.len() > MAX_MARKER_LEN {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let p = StoragePath::new(text).ok()?;
    let parts: Vec<&str> = p.as_str().split('/').collect();
    let entry = parts.last()?;
    let shaped = parts.len() == 4
        && parts[0] == "d"
        && (entry.ends_with(layout::C9R_SUFFIX) || entry.ends_with(layout::C9S_SUFFIX));
    (shaped && p.as_str() != node_path).then_some(p)
}

/// Removes a leftover move source: `dir.c9r` first (so a cut leaves a node
/// folder without it, never a second name for the ID), then the folder.
pub(crate) async fn remove_source(core: &Core, node_path: &str) -> Result<(), VaultError> {
    let node = StoragePath::new(node_path)?;
    match core
        .storage
        .remove_file(&node.join(layout::DIR_FILE)?)
        .await
    {
        Ok(()) => {}
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(e.into()),
    }
    core.storage.remove_dir_all(&node).await?;
    Ok(())
}

/// Removes a stale move marker.
pub(crate) async fn remove_marker(core: &Core, node_path: &str) -> Result<(), VaultError> {
    let marker = StoragePath::new(node_path)?.join(MOVE_MARKER)?;
    match core.storage.remove_file(&marker).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// True when the node folder at `node_path` holds nothing a reader could
/// want: no entries but `name.c9s` and a move marker (a node folder a cut
/// move or creation left behind). Its removal loses nothing.
pub(crate) async fn is_content_free(core: &Core, node_path: &str) -> Result<bool, VaultError> {
    let node = StoragePath::new(node_path)?;
    let entries = match core.storage.list_dir(&node).await {
        Ok(e) => e,
        // A plain file that is no node is not ours to judge.
        Err(_) => return Ok(false),
    };
    Ok(entries
        .iter()
        .all(|e| e.name == layout::NAME_FILE || e.name == MOVE_MARKER))
}

/// Removes the content-free node folder at `node_path` ([`is_content_free`]) without racing
/// a client that is building a node there right now (`create_dir`, `name.c9s`, then its own
/// file renamed or written in): where folder renames are atomic the folder is first renamed
/// to a hidden temp name, which that client's next step then misses (it fails and leaves its
/// source where it was), and removed only if it is still content-free there; if that
/// client's own file got in first, the folder is put back. `Ok(false)`: not removed.
/// Without atomic folder renames (S3) it is removed in place: a creation in progress at that
/// moment can lose its folder there (never its source, which it moves last).
pub(crate) async fn remove_content_free(core: &Core, node_path: &str) -> Result<bool, VaultError> {
    let node = StoragePath::new(node_path)?;
    if !core.caps.atomic_dir_rename {
        core.storage.remove_dir_all(&node).await?;
        return Ok(true);
    }
    let aside = temp_path_in(&node.parent().unwrap_or_default())?;
    match core
        .storage
        .rename(&node, &aside, vault_storage::RenameMode::NoReplace)
        .await
    {
        Ok(()) => {}
        Err(e) if is_not_found(&e) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    if is_content_free(core, aside.as_str()).await? {
        core.storage.remove_dir_all(&aside).await?;
        return Ok(true);
    }
    tracing::info!(ciphertext = %node, "a node was completed in a folder about to be removed; put back");
    if let Err(e) = core
        .storage
        .rename(&aside, &node, vault_storage::RenameMode::NoReplace)
        .await
    {
        // Its name was taken meanwhile: the folder stays under the temp name, where `check`
        // finds the node's name in its `name.c9s` (a shortened node without one).
        tracing::warn!(ciphertext = %aside, error = %e, "could not put a completed node back");
    }
    Ok(false)
}

/// What a shortened node missing its `name.c9s` can be settled by.
pub(crate) enum LostName {
    /// A leftover temp folder of the same directory holds a `name.c9s` that
    /// hashes to the node's name: the node's own (the creation's source);
    /// with the content directory the node's `dir.c9r` names, if any.
    Found {
        long: String,
        content: Option<StoragePath>,
    },
    /// A folder node whose content directory holds nothing but `dirid.c9r`.
    EmptyFolder,
    /// Neither: left as it is.
    Unknown,
}

/// A `.c9s` node folder without `name.c9s` but with its own file is what a
/// key-by-key copy of a node folder cut short leaves (a creation on S3 by an
/// earlier version, which built nodes in a temp folder renamed into place, or
/// a copying tool). The name can come back only from a copy of `name.c9s`.
pub(crate) async fn lost_name(core: &Core, node_path: &str) -> Result<LostName, VaultError> {
    let node = StoragePath::new(node_path)?;
    let (Some(content_dir), Some(entry)) = (node.parent(), node.file_name()) else {
        return Ok(LostName::Unknown);
    };
    let entries = match core.storage.list_dir(&content_dir).await {
        Ok(e) => e,
        Err(e) if is_not_found(&e) => return Ok(LostName::Unknown),
        Err(e) => return Err(e.into()),
    };
    let dir_file = node.join(layout::DIR_FILE)?;
    let content = match crate::detect::read_dir_file(core, &dir_file).await? {
        Some(bytes) => match layout::parse_dir_file(&bytes) {
            Ok(id) => Some(core.content_dir(&DirId::new(&id))?),
            Err(_) => return Ok(LostName::Unknown),
        },
        None => None,
    };
    for e in entries.iter().filter(|e| e.name.starts_with(TEMP_PREFIX)) {
        let name_file = content_dir.join(&e.name)?.join(layout::NAME_FILE)?;
        let bytes = match core
            .storage
            .read_at(&name_file, 0, layout::MAX_NAME_FILE_LEN + 1)
            .await
        {
            Ok(b) => b,
            Err(_) => continue,
        };
        if let Ok(long) = std::str::from_utf8(&bytes)
            && bytes.len() <= layout::MAX_NAME_FILE_LEN
            && layout::shortened_name(long) == entry
        {
            let long = long.to_owned();
            return Ok(LostName::Found { long, content });
        }
    }
    let Some(content) = content else {
        return Ok(LostName::Unknown);
    };
    let empty = match core.storage.list_dir(&content).await {
        Ok(inside) => inside.iter().all(|e| e.name == layout::DIR_ID_BACKUP_FILE),
        Err(e) if is_not_found(&e) => true,
        Err(e) => return Err(e.into()),
    };
    Ok(if empty {
        LostName::EmptyFolder
    } else {
        LostName::Unknown
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_node_paths_are_marker_targets() {
        let me = "d/AA/BBBB/x.c9r";
        assert!(marker_target(b"d/AA/CCCC/y.c9r", me).is_some());
        assert!(marker_target(b"d/AA/CCCC/y.c9s", me).is_some());
        assert!(marker_target(me.as_bytes(), me).is_none());
        assert!(marker_target(b"masterkey.cryptomator", me).is_none());
        assert!(marker_target(b"d/AA/CCCC/y.txt", me).is_none());
        assert!(marker_target(b"d/AA/../y.c9r", me).is_none());
        assert!(marker_target(&[0xff, 0xfe], me).is_none());
    }
}
