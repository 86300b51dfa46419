//! Where the upload queue (`--cache=full`) puts our version of a file that another device
//! changed meanwhile, when the file's own object has no conflict-copy name: a long-named
//! (`.c9s`) node keeps its content in `H.c9s/contents.c9r`, and a marked `contents.c9r` is no
//! node to any client. Ours becomes a new node in the same folder, named as a resolved
//! sync-conflict copy (`NAME (conflicted copy YYYY-MM-DD HHMMSS).EXT`, docs/vault-format.md
//! §10 step 3), shortened if its name needs it, so every client reads it as an ordinary file.

use std::sync::Weak;
use std::time::SystemTime;

use vault_format::{conflict, layout};
use vault_storage::StoragePath;
use vault_storage::queue::CopyPlace;

use crate::core::Core;
use crate::names::{self, NodeLoc};
use crate::nodes;
use crate::{DirId, VaultError, VaultErrorKind};

/// Names the new node for a queued conflict copy; see the module docs. Holds the vault
/// weakly (it is kept by the storage layer below the vault).
#[derive(Clone)]
pub struct ConflictPlacer {
    core: Weak<Core>,
}

impl ConflictPlacer {
    pub(crate) fn new(core: Weak<Core>) -> Self {
        ConflictPlacer { core }
    }

    /// Where our version of `object` (`…/H.c9s/contents.c9r`) goes; `None` for any other
    /// object, or when its folder or name cannot be read (the queue then keeps waiting).
    pub async fn place(&self, object: &StoragePath) -> Option<CopyPlace> {
        let core = self.core.upgrade()?;
        match place(&core, object, SystemTime::now()).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(ciphertext = %object, error = %e, "no place for a conflict copy of a long-named file");
                None
            }
        }
    }
}

async fn place(
    core: &Core,
    object: &StoragePath,
    at: SystemTime,
) -> Result<Option<CopyPlace>, VaultError> {
    let (Some(node), true) = (
        object.parent(),
        object.file_name() == Some(layout::CONTENTS_FILE),
    ) else {
        return Ok(None);
    };
    let (Some(content), true) = (
        node.parent(),
        node.file_name()
            .is_some_and(|n| n.ends_with(layout::C9S_SUFFIX)),
    ) else {
        return Ok(None);
    };
    let Some(id) = dir_id(core, &content).await? else {
        return Ok(None);
    };
    let Some(long) = read_small(
        core,
        &node.join(layout::NAME_FILE)?,
        layout::MAX_NAME_FILE_LEN,
    )
    .await?
    else {
        return Ok(None);
    };
    let Ok(long) = String::from_utf8(long) else {
        return Ok(None);
    };
    let Some(b64) = long.strip_suffix(layout::C9R_SUFFIX) else {
        return Ok(None);
    };
    let Ok(cleartext) = core.cryptor.decrypt_name(b64, id.as_str()) else {
        return Ok(None);
    };
    let stamp = vault_storage::queue::utc_stamp(at).unwrap_or_default();
    let suffix = format!(" (conflicted copy {stamp})");
    for candidate in conflict::resolved_name_candidates(&cleartext, &suffix, core.threshold()) {
        if names::validate(&candidate).is_err() {
            continue;
        }
        let loc = core.loc(&id, &candidate)?;
        match nodes::ensure_absent(core, &loc, &candidate).await {
            Err(e) if e.kind() == VaultErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        core.forget_presented(&id, &candidate);
        return Ok(Some(copy_place(&loc)?));
    }
    Ok(None)
}

fn copy_place(loc: &NodeLoc) -> Result<CopyPlace, VaultError> {
    Ok(match &loc.long_name {
        Some(long) => CopyPlace {
            dirs: vec![loc.node_path()?],
            files: vec![(loc.child(layout::NAME_FILE)?, long.clone().into_bytes())],
            target: loc.child(layout::CONTENTS_FILE)?,
        },
        None => CopyPlace {
            dirs: Vec::new(),
            files: Vec::new(),
            target: loc.node_path()?,
        },
    })
}

/// The directory whose content directory is `content`: known to this mount, else from its
/// `dirid.c9r` (checked against the path).
async fn dir_id(core: &Core, content: &StoragePath) -> Result<Option<DirId>, VaultError> {
    if let Some(id) = core.dir_id_of(content) {
        return Ok(Some(id));
    }
    let Some(backup) =
        read_small(core, &content.join(layout::DIR_ID_BACKUP_FILE)?, 64 * 1024).await?
    else {
        return Ok(None);
    };
    let Ok(id) = core.cryptor.decrypt_dir_id_backup(&backup) else {
        return Ok(None);
    };
    let id = DirId::new(&id);
    Ok((core.content_dir(&id)? == *content).then_some(id))
}

/// A small object read whole; `None` when larger than `max` bytes.
async fn read_small(
    core: &Core,
    path: &StoragePath,
    max: usize,
) -> Result<Option<Vec<u8>>, VaultError> {
    let bytes = core.storage.read_at(path, 0, max + 1).await?;
    Ok((bytes.len() <= max).then(|| bytes.to_vec()))
}
