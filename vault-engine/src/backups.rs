//! Old versions a storage backend kept aside during a replace that was cut
//! off (see [`vault_storage::backup`]): `check` finds them, restores one
//! that is the only copy of its object, and removes the rest.
//!
//! Backups sit next to the object they replace: in a content directory (a
//! node `*.c9r` or `dirid.c9r`), inside a shortened node's `*.c9s` folder
//! (its `contents.c9r` or `name.c9s`) or in the vault root (the masterkey
//! file). Shadow objects are never restored from: only a backup is a
//! committed version, a temp may hold half a write.

use std::collections::{BTreeMap, HashSet};

use vault_format::layout;
use vault_storage::backup::replaced_target;
use vault_storage::{DirEntry, EntryKind, RenameMode, StoragePath};

use crate::VaultError;
use crate::core::{Core, TEMP_PREFIX, is_not_found};

/// What one backup (or stray temp inside a node folder) was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The only copy of `target`, which is missing.
    OnlyCopy,
    /// `target` exists: the backup is no longer needed.
    Surplus,
    /// A temp object inside a node folder (listings only see content directories).
    Temp,
}

/// One backup or stray temp found by [`settle`].
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub storage_path: String,
    /// The object it is a backup of.
    pub target: String,
    pub kind: Kind,
    /// Restored (`OnlyCopy`) or removed (`Surplus`, `Temp`) by `repair`.
    pub repaired: bool,
}

/// Settles the backups in `folder` and, when `nested`, inside its shortened
/// node folders. `repair`: renames the newest backup of a missing object back
/// into place and removes surplus ones.
pub(crate) async fn settle(
    core: &Core,
    folder: &StoragePath,
    nested: bool,
    repair: bool,
) -> Result<Vec<Found>, VaultError> {
    let entries = match core.storage.list_dir(folder).await {
        Ok(e) => e,
        Err(e) if is_not_found(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut found = settle_entries(core, folder, &entries, repair).await?;
    if nested {
        let shortened = entries
            .iter()
            .filter(|e| e.metadata.kind == EntryKind::Dir && e.name.ends_with(layout::C9S_SUFFIX));
        for e in shortened {
            let node = folder.join(&e.name)?;
            let inner = match core.storage.list_dir(&node).await {
                Ok(i) => i,
                Err(e) if is_not_found(&e) => continue,
                Err(e) => return Err(e.into()),
            };
            found.extend(settle_entries(core, &node, &inner, repair).await?);
            found.extend(remove_temps(core, &node, &inner, repair).await);
        }
    }
    Ok(found)
}

async fn settle_entries(
    core: &Core,
    folder: &StoragePath,
    entries: &[DirEntry],
    repair: bool,
) -> Result<Vec<Found>, VaultError> {
    let present: HashSet<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    // Backups by target, newest first: after several cut-off replaces of one
    // object the newest backup is the version that was replaced last.
    let mut by_target: BTreeMap<&str, Vec<&DirEntry>> = BTreeMap::new();
    for e in entries
        .iter()
        .filter(|e| e.metadata.kind == EntryKind::File)
    {
        if let Some(t) = replaced_target(&e.name) {
            by_target.entry(t).or_default().push(e);
        }
    }
    let mut found = Vec::new();
    for (target, mut backups) in by_target {
        backups.sort_by(|a, b| (b.metadata.modified, &b.name).cmp(&(a.metadata.modified, &a.name)));
        let target_path = folder.join(target)?;
        let mut target_there = present.contains(target);
        for b in backups {
            let path = folder.join(&b.name)?;
            let kind = if target_there {
                Kind::Surplus
            } else {
                Kind::OnlyCopy
            };
            let mut repaired = false;
            if repair {
                let r = match kind {
                    Kind::OnlyCopy => {
                        core.storage
                            .rename(&path, &target_path, RenameMode::NoReplace)
                            .await
                    }
                    _ => core.storage.remove_file(&path).await,
                };
                match r {
                    Ok(()) => repaired = true,
                    Err(e) => {
                        tracing::warn!(ciphertext = %path, error = %e, "could not settle a replace backup")
                    }
                }
                if kind == Kind::OnlyCopy && repaired {
                    tracing::info!(ciphertext = %target_path, "restored from the backup of an interrupted replace");
                    target_there = true;
                }
            } else if kind == Kind::OnlyCopy {
                // Without repair the others are reported as surplus to this one.
                target_there = true;
            }
            found.push(Found {
                storage_path: path.as_str().to_owned(),
                target: target_path.as_str().to_owned(),
                kind,
                repaired,
            });
        }
    }
    Ok(found)
}

/// Temps inside a node folder: the engine's shadows live in content
/// directories, so these are the backend's uploads cut off before their rename.
async fn remove_temps(
    core: &Core,
    folder: &StoragePath,
    entries: &[DirEntry],
    repair: bool,
) -> Vec<Found> {
    let mut found = Vec::new();
    for e in entries.iter().filter(|e| e.name.starts_with(TEMP_PREFIX)) {
        let Ok(path) = folder.join(&e.name) else {
            continue;
        };
        if core.live_temps.contains(path.as_str()) {
            continue;
        }
        let repaired = repair && core.storage.remove_file(&path).await.is_ok();
        found.push(Found {
            storage_path: path.as_str().to_owned(),
            target: folder.as_str().to_owned(),
            kind: Kind::Temp,
            repaired,
        });
    }
    found
}

/// For removing a content directory: `None` when `name` is no replace
/// backup, `Some(true)` when it may go (its target is among `names`),
/// `Some(false)` when it is the only copy of a missing object.
pub(crate) fn backup_removable(name: &str, names: &HashSet<&str>) -> Option<bool> {
    replaced_target(name).map(|t| names.contains(t))
}
