//! Folders linked back into the tree: the upload queue (`--cache=full`) recreates a folder's
//! content directory that another device removed on the storage while a change in it waited in
//! the queue (the queued file is written there). A content directory no `dir.c9r` leads to is
//! invisible, so the queued file would be lost to every client; here it gets its `dirid.c9r`
//! back and a new folder node in the vault root, `NAME (recovered YYYY-MM-DD HHMMSS)`, that
//! leads to it. Only directories this mount worked in recently are known by their content
//! path (the engine's content-dir cache); another is left as it is (`vault check` reports it).

use std::sync::Weak;
use std::time::SystemTime;

use vault_format::layout;
use vault_storage::{Body, StoragePath, WriteMode};

use crate::core::Core;
use crate::nodes;
use crate::{DirId, NodeKind, VaultError, VaultErrorKind};

/// Links recreated content directories back into the tree; see the module docs. Holds the
/// vault weakly (it is kept by the storage layer below the vault).
#[derive(Clone)]
pub struct FolderRecoverer {
    core: Weak<Core>,
}

impl FolderRecoverer {
    pub(crate) fn new(core: Weak<Core>) -> Self {
        FolderRecoverer { core }
    }

    /// Links the content directory at `content` (just recreated, empty but for what the queue
    /// writes into it) back into the tree. The new folder's name in the vault root, or `None`
    /// when `content` is no content directory this vault knows (or the vault is gone).
    pub async fn relink(&self, content: &StoragePath) -> Result<Option<String>, VaultError> {
        let Some(core) = self.core.upgrade() else {
            return Ok(None);
        };
        relink(&core, content, SystemTime::now()).await
    }
}

async fn relink(
    core: &Core,
    content: &StoragePath,
    at: SystemTime,
) -> Result<Option<String>, VaultError> {
    core.check_writable()?;
    let Some(id) = core.dir_id_of(content) else {
        // `d/XX` above a content directory is recreated too: nothing to link.
        if content.as_str().split('/').count() == 3 {
            tracing::warn!(
                content = %content,
                "a folder recreated under a queued change is not known to this mount: not linked into the tree (`vault check` reports it)"
            );
        }
        return Ok(None);
    };
    if id == DirId::root() {
        return Ok(None);
    }
    // The ID backup first: with it `vault check` can name the folder even if what follows
    // does not happen. Overwritten, not created: the view above the storage may still list
    // the one removed with the folder (it holds the same ID either way).
    let backup = content.join(layout::DIR_ID_BACKUP_FILE)?;
    core.storage
        .write(
            &backup,
            Body::from_bytes(core.cryptor.encrypt_dir_id_backup(id.as_str())),
            WriteMode::Overwrite,
        )
        .await?;
    let old = core.dir_cache.name_of(&id);
    // Only its content folder was gone (a removal cut short elsewhere): the node still leads
    // to it, and a second one would make two names for one folder.
    if let Some((parent, name)) = &old {
        // Asked of the storage, not of the cache.
        core.dir_cache.evict(parent, name);
        let still = nodes::lookup(core, parent, name).await;
        if matches!(still, Ok(n) if n.kind == NodeKind::Dir(id.clone())) {
            return Ok(None);
        }
    }
    let stem = old.as_ref().map_or("Folder", |(_, n)| n.as_str());
    let stamp = vault_storage::queue::utc_stamp(at).unwrap_or_default();
    let root = DirId::root();
    let _g = core.dir_locks.lock(&[&root]).await;
    for n in 0..100u32 {
        let name = if n == 0 {
            format!("{stem} (recovered {stamp})")
        } else {
            format!("{stem} (recovered {stamp} {n})")
        };
        let loc = core.loc(&root, &name)?;
        let name = crate::names::nfc(&name);
        match nodes::ensure_absent(core, &loc, &name).await {
            Err(e) if e.kind() == VaultErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        let files = vec![(layout::DIR_FILE, id.as_str().as_bytes().to_vec())];
        match nodes::build_node_folder(core, &loc, &name, files).await {
            Err(e) if e.kind() == VaultErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        core.forget_presented(&root, &name);
        core.invalidate_presented(&root);
        tracing::warn!(
            folder = %name,
            content = %content,
            "a folder removed on the storage under a queued change was recreated and linked into the vault root"
        );
        return Ok(Some(name));
    }
    Err(VaultError::node(VaultErrorKind::AlreadyExists, stem))
}
