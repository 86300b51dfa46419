//! Sync-conflict copies (docs/vault-format.md §10, step 4): what happens to one `.c9r`
//! entry whose name holds a decryptable ciphertext run plus other text
//! (`<ct> (conflicted copy 2026-11-25 101010).c9r`, `Copy_of_<ct>.c9r`, …).
//!
//! - canonical missing → renamed to the canonical name;
//! - identical `dir.c9r` / `symlink.c9r` folders → the copy is deleted;
//! - otherwise → moved to a new cleartext name from
//!   `vault_format::conflict::resolved_name_candidates`, stored in the form
//!   docs/vault-format.md §8 requires (`.c9s` when long; the reference would not shorten).
//!
//! In [`Mode::Present`] (read-only vaults, `check` without `--repair`) the
//! same names are computed but nothing is written; the presented node points
//! at the stored copy, so reads and lookups reach it.

use std::collections::{HashMap, HashSet};

use vault_format::conflict::{self, Extracted};
use vault_format::layout;
use vault_storage::{Body, DirEntry, EntryKind, RenameMode, StoragePath, WriteMode};

use crate::core::{Core, is_not_found};
use crate::detect;
use crate::names::{self, NodeLoc};
use crate::{DirId, Node, VaultError};

/// What a listing does with sync-conflict copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Rename/delete on storage as the reference does (read-write use).
    Resolve,
    /// Present the same names without writing (read-only use, `check`).
    Present,
}

pub(crate) enum ConflictOutcome {
    /// Listed as this node.
    Node {
        node: Node,
        presented: bool,
        description: String,
        resolved: bool,
    },
    /// Not listed.
    Hidden { description: String, resolved: bool },
}

async fn read_opt(core: &Core, path: &StoragePath) -> Result<Option<Vec<u8>>, VaultError> {
    match core.storage.read_at(path, 0, 64 * 1024).await {
        Ok(b) => Ok(Some(b.to_vec())),
        Err(e) if is_not_found(&e) || e.kind() == vault_storage::StorageErrorKind::IsADirectory => {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// True when both folders hold byte-identical `dir.c9r`, or else byte-identical `symlink.c9r`.
async fn identical_folders(core: &Core, a: &NodeLoc, b: &NodeLoc) -> Result<bool, VaultError> {
    for f in [layout::DIR_FILE, layout::SYMLINK_FILE] {
        let (x, y) = (
            read_opt(core, &a.child(f)?).await?,
            read_opt(core, &b.child(f)?).await?,
        );
        if let (Some(x), Some(y)) = (x, y)
            && x == y
        {
            return Ok(true);
        }
    }
    Ok(false)
}

async fn node_for(
    core: &Core,
    dir: &DirId,
    name: &str,
    loc: &NodeLoc,
    meta: Option<&vault_storage::Metadata>,
) -> Result<Option<Node>, VaultError> {
    match meta {
        Some(m) => Ok(detect::detect(core, loc, m).await?.map(|d| Node {
            parent: dir.clone(),
            name: name.to_owned(),
            kind: d.kind,
            size: d.size,
            modified: d.modified,
            damaged: d.damaged,
            storage_path: loc
                .node_path()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
        })),
        None => detect::node_at(core, dir, name, loc).await,
    }
}

/// Moves a conflict copy to `target` (plain or shortened).
async fn move_copy(
    core: &Core,
    copy: &NodeLoc,
    kind: EntryKind,
    target: &NodeLoc,
) -> Result<(), VaultError> {
    let s = core.storage.as_ref();
    let from = copy.node_path()?;
    let to = target.node_path()?;
    match (&target.long_name, kind) {
        (None, _) => s.rename(&from, &to, RenameMode::NoReplace).await?,
        (Some(long), EntryKind::File) => {
            s.create_dir(&to).await?;
            let res: Result<(), VaultError> = async {
                s.write(
                    &target.child(layout::NAME_FILE)?,
                    Body::from_bytes(long.clone().into_bytes()),
                    WriteMode::CreateNew,
                )
                .await?;
                s.rename(
                    &from,
                    &target.child(layout::CONTENTS_FILE)?,
                    RenameMode::NoReplace,
                )
                .await?;
                Ok(())
            }
            .await;
            if let Err(e) = res {
                let _ = s.remove_dir_all(&to).await;
                return Err(e);
            }
        }
        (Some(long), EntryKind::Dir) => {
            // name.c9s inside a .c9r folder is ignored; the move stays one rename.
            s.write(
                &copy.child(layout::NAME_FILE)?,
                Body::from_bytes(long.clone().into_bytes()),
                WriteMode::Overwrite,
            )
            .await?;
            s.rename(&from, &to, RenameMode::NoReplace).await?;
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn handle(
    core: &Core,
    dir: &DirId,
    content_dir: &StoragePath,
    entry: &DirEntry,
    ext: &Extracted,
    existing: &mut HashSet<String>,
    kinds: &HashMap<String, EntryKind>,
    mode: Mode,
) -> Result<ConflictOutcome, VaultError> {
    let threshold = core.threshold();
    let base = entry
        .name
        .strip_suffix(layout::C9R_SUFFIX)
        .unwrap_or(&entry.name);
    let run = base.get(ext.start..ext.end).unwrap_or_default();
    let canonical = format!("{run}{}", layout::C9R_SUFFIX);
    let copy = NodeLoc {
        content_dir: content_dir.clone(),
        entry: entry.name.clone(),
        long_name: None,
    };
    let copy_path = copy.node_path()?;

    // Canonical missing: the copy becomes the canonical node.
    if !existing.contains(&canonical) {
        existing.insert(canonical.clone());
        if mode == Mode::Resolve {
            let target = NodeLoc {
                content_dir: content_dir.clone(),
                entry: canonical.clone(),
                long_name: None,
            };
            match core
                .storage
                .rename(&copy_path, &target.node_path()?, RenameMode::NoReplace)
                .await
            {
                Ok(()) => {
                    tracing::info!(from = %copy_path, to = %target.node_path()?, "conflict copy renamed to its canonical name");
                    if let Some(node) =
                        node_for(core, dir, &ext.cleartext, &target, Some(&entry.metadata)).await?
                    {
                        let presented =
                            !names::is_nfc_name(&ext.cleartext) || canonical.len() > threshold;
                        return Ok(ConflictOutcome::Node {
                            node,
                            presented,
                            description:
                                "conflict copy with no original: renamed to the original name"
                                    .into(),
                            resolved: true,
                        });
                    }
                    return Ok(ConflictOutcome::Hidden {
                        description: "renamed to the original name, but broken".into(),
                        resolved: true,
                    });
                }
                Err(e) => {
                    tracing::warn!(ciphertext = %copy_path, error = %e, "could not rename conflict copy; presented as is")
                }
            }
        }
        return Ok(
            match node_for(core, dir, &ext.cleartext, &copy, Some(&entry.metadata)).await? {
                Some(node) => ConflictOutcome::Node {
                    node,
                    presented: true,
                    description: "conflict copy with no original: shown under the original name"
                        .into(),
                    resolved: false,
                },
                None => ConflictOutcome::Hidden {
                    description: "conflict copy is a broken node".into(),
                    resolved: false,
                },
            },
        );
    }

    // Identical duplicate folders.
    let canon = NodeLoc {
        content_dir: content_dir.clone(),
        entry: canonical.clone(),
        long_name: None,
    };
    if entry.metadata.kind == EntryKind::Dir
        && kinds.get(&canonical) == Some(&EntryKind::Dir)
        && identical_folders(core, &copy, &canon).await?
    {
        if mode == Mode::Resolve {
            core.storage.remove_dir_all(&copy_path).await?;
            tracing::info!(ciphertext = %copy_path, "identical conflict copy deleted");
            return Ok(ConflictOutcome::Hidden {
                description: "identical duplicate: deleted".into(),
                resolved: true,
            });
        }
        return Ok(ConflictOutcome::Hidden {
            description: "identical duplicate: hidden".into(),
            resolved: false,
        });
    }

    // A new cleartext name.
    let suffix0 = base.get(ext.end..).unwrap_or_default();
    let mut chosen = None;
    for candidate in conflict::resolved_name_candidates(&ext.cleartext, suffix0, threshold) {
        if names::validate(&candidate).is_err() {
            continue;
        }
        let enc = core.cryptor.encrypt_name(&candidate, dir.as_str());
        if !existing.contains(&enc) {
            chosen = Some((candidate, enc));
            break;
        }
    }
    let Some((name, enc)) = chosen else {
        tracing::warn!(ciphertext = %copy_path, "every new name for the conflict copy is taken; left as is");
        return Ok(ConflictOutcome::Hidden {
            description: "all candidate names taken: left as is".into(),
            resolved: false,
        });
    };
    existing.insert(enc.clone());
    if mode == Mode::Resolve {
        let target = NodeLoc::for_encrypted(content_dir, enc, threshold);
        match move_copy(core, &copy, entry.metadata.kind, &target).await {
            Ok(()) => {
                tracing::info!(from = %copy_path, to = %target.node_path()?, "conflict copy moved to a new name");
                if let Some(node) = node_for(core, dir, &name, &target, None).await? {
                    return Ok(ConflictOutcome::Node {
                        presented: !names::is_nfc_name(&name),
                        node,
                        description: "conflict copy: renamed to a new name".into(),
                        resolved: true,
                    });
                }
                return Ok(ConflictOutcome::Hidden {
                    description: "renamed to a new name, but broken".into(),
                    resolved: true,
                });
            }
            Err(e) => {
                tracing::warn!(ciphertext = %copy_path, error = %e, "could not move conflict copy; presented as is")
            }
        }
    }
    Ok(
        match node_for(core, dir, &name, &copy, Some(&entry.metadata)).await? {
            Some(node) => ConflictOutcome::Node {
                node,
                presented: true,
                description: "conflict copy: shown under a new name".into(),
                resolved: false,
            },
            None => ConflictOutcome::Hidden {
                description: "conflict copy is a broken node".into(),
                resolved: false,
            },
        },
    )
}
