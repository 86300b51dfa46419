//! Node type detection (docs/vault-format.md §7) and the one [`Node`] constructor
//! ([`node`]): shared by lookups, listings, conflict handling and the
//! mutations, so it depends on none of them (a leaf over `core` and `names`).

use std::time::SystemTime;

use vault_format::layout;
use vault_storage::{EntryKind, Metadata, StorageErrorKind, StoragePath};

use crate::core::{Core, is_not_found};
use crate::names::NodeLoc;
use crate::{DirId, Node, NodeKind, VaultError};

/// What a node entry turned out to be.
pub(crate) struct Detected {
    pub kind: NodeKind,
    pub size: u64,
    pub modified: Option<SystemTime>,
    pub damaged: bool,
}

impl Detected {
    /// A node this process has just stored: modified now, never damaged.
    pub fn fresh(kind: NodeKind, size: u64) -> Detected {
        Detected {
            kind,
            size,
            modified: Some(SystemTime::now()),
            damaged: false,
        }
    }
}

/// The one way a [`Node`] is built: `name` in `parent`, stored at `storage_path`,
/// as detection (or the mutation that stored it) found it.
pub(crate) fn node(parent: &DirId, name: &str, storage_path: &str, d: Detected) -> Node {
    Node {
        parent: parent.clone(),
        name: name.to_owned(),
        kind: d.kind,
        size: d.size,
        modified: d.modified,
        damaged: d.damaged,
        storage_path: storage_path.to_owned(),
    }
}

/// [`node`] for the entry at `loc`.
pub(crate) fn node_in(
    parent: &DirId,
    name: &str,
    loc: &NodeLoc,
    d: Detected,
) -> Result<Node, VaultError> {
    Ok(node(parent, name, loc.node_path()?.as_str(), d))
}

/// Cleartext size of a regular file from its ciphertext length (docs/vault-format.md §11):
/// invalid lengths give size 0 and `damaged`.
pub(crate) fn file_size(core: &Core, ct_len: u64, path: &StoragePath) -> (u64, bool) {
    match core.cryptor.combo().cleartext_size(ct_len) {
        Some(s) => (s, false),
        None if ct_len == 0 => (0, false),
        None => {
            tracing::warn!(ciphertext = %path, len = ct_len, "invalid ciphertext size; listed as damaged, size 0");
            (0, true)
        }
    }
}

/// A node folder's `dir.c9r` (`None` when there is none there).
pub(crate) async fn read_dir_file(
    core: &Core,
    path: &StoragePath,
) -> Result<Option<Vec<u8>>, VaultError> {
    match core
        .storage
        .read_at(path, 0, layout::MAX_DIR_FILE_LEN + 1)
        .await
    {
        Ok(b) => Ok(Some(b.to_vec())),
        Err(e) if is_not_found(&e) || e.kind() == StorageErrorKind::IsADirectory => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Node type detection (docs/vault-format.md §7) for an entry with known metadata.
/// `None` for a broken node (logged).
pub(crate) async fn detect(
    core: &Core,
    loc: &NodeLoc,
    meta: &Metadata,
) -> Result<Option<Detected>, VaultError> {
    let node_path = loc.node_path()?;
    if meta.kind == EntryKind::File {
        if loc.is_shortened() {
            tracing::warn!(ciphertext = %node_path, "shortened node is not a folder; skipped");
            return Ok(None);
        }
        let (size, damaged) = file_size(core, meta.size, &node_path);
        return Ok(Some(Detected {
            kind: NodeKind::File,
            size,
            modified: meta.modified,
            damaged,
        }));
    }
    let dir_file = loc.child(layout::DIR_FILE)?;
    if let Some(bytes) = read_dir_file(core, &dir_file).await? {
        return match layout::parse_dir_file(&bytes) {
            Ok(id) => Ok(Some(Detected {
                kind: NodeKind::Dir(DirId::new(&id)),
                size: 0,
                modified: meta.modified,
                damaged: false,
            })),
            Err(_) => {
                tracing::warn!(ciphertext = %dir_file, "invalid dir.c9r; node skipped");
                Ok(None)
            }
        };
    }
    let symlink = loc.child(layout::SYMLINK_FILE)?;
    match core.storage.metadata(&symlink).await {
        Ok(m) => {
            let size = core.cryptor.combo().cleartext_size(m.size).unwrap_or(0);
            return Ok(Some(Detected {
                kind: NodeKind::Symlink,
                size,
                modified: meta.modified,
                damaged: false,
            }));
        }
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(e.into()),
    }
    if loc.is_shortened() {
        let contents = loc.child(layout::CONTENTS_FILE)?;
        match core.storage.metadata(&contents).await {
            Ok(m) if m.kind == EntryKind::File => {
                let (size, damaged) = file_size(core, m.size, &contents);
                return Ok(Some(Detected {
                    kind: NodeKind::File,
                    size,
                    modified: m.modified,
                    damaged,
                }));
            }
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    tracing::warn!(ciphertext = %node_path, "broken node (no dir.c9r, symlink.c9r or contents.c9r); skipped");
    Ok(None)
}

/// Stats the node at `loc`; `None` when there is none (or it is broken).
pub(crate) async fn node_at(
    core: &Core,
    parent: &DirId,
    name: &str,
    loc: &NodeLoc,
) -> Result<Option<Node>, VaultError> {
    let path = loc.node_path()?;
    let meta = match core.storage.metadata(&path).await {
        Ok(m) => m,
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    match detect(core, loc, &meta).await? {
        Some(d) => Ok(Some(node_in(parent, name, loc, d)?)),
        None => Ok(None),
    }
}

/// The root directory as a node.
pub(crate) fn root_node(core: &Core) -> Result<Node, VaultError> {
    let root = DirId::root();
    let content = core.content_dir(&root)?;
    let d = Detected {
        kind: NodeKind::Dir(root.clone()),
        size: 0,
        modified: None,
        damaged: false,
    };
    Ok(node(&root, "", content.as_str(), d))
}
