//! Sync-conflict copies (docs/vault-format.md §10, step 4): what becomes of a `.c9r`
//! entry whose name holds a decryptable ciphertext run plus other text
//! (`<ct> (conflicted copy 2026-11-25 101010).c9r`, `Copy_of_<ct>.c9r`, …).
//!
//! - canonical missing → the copy takes the canonical name;
//! - identical `dir.c9r` / `symlink.c9r` folders → the copy is a duplicate (deleted);
//! - otherwise → a new cleartext name from
//!   `vault_format::conflict::resolved_name_candidates`, stored in the form
//!   docs/vault-format.md §8 requires (`.c9s` when long; the reference would not shorten).
//!
//! Three steps, so that only one of them writes: [`plan`] decides from a
//! [`Scan`] (reads only); [`present`] shows a plan without writing (every
//! listing: the node keeps pointing at the stored copy, so reads and lookups
//! reach it); [`resolve`] carries the plans out on storage, holding the
//! directory's lock like every other mutation. Both reach the same names.

use std::collections::{HashMap, HashSet};

use vault_format::conflict::{self, Extracted};
use vault_format::layout;
use vault_storage::{Body, DirEntry, EntryKind, RenameMode, StoragePath, WriteMode};

use crate::core::{Core, is_not_found};
use crate::detect;
use crate::dir_move;
use crate::names::{self, NodeLoc};
use crate::open_file;
use crate::scan::{self, Finding, FindingKind, Scan};
use crate::{DirId, Node, VaultError};

/// What is to become of one conflict copy.
pub(crate) enum Plan {
    /// The canonical name is free: the copy takes it (its cleartext is the copy's).
    Canonical(NodeLoc),
    /// A byte-identical duplicate of the canonical folder.
    Duplicate,
    /// A new cleartext name and where it is stored.
    NewName(String, NodeLoc),
    /// Every candidate name is taken: left as is, not listed.
    Stuck,
}

/// One copy with its plan (or why none could be made).
pub(crate) struct Planned<'a> {
    pub index: usize,
    pub ext: &'a Extracted,
    pub plan: Result<Plan, VaultError>,
}

/// What presenting or resolving one copy came to.
pub(crate) struct Handled {
    /// The node listed for it (`None`: hidden).
    pub node: Option<Node>,
    /// The cleartext name reported (the node's, or the original's when hidden).
    pub name: String,
    pub description: String,
    /// True when storage was changed.
    pub resolved: bool,
}

impl Handled {
    fn hidden(name: &str, description: &str, resolved: bool) -> Handled {
        Handled {
            node: None,
            name: name.to_owned(),
            description: description.to_owned(),
            resolved,
        }
    }

    fn shown(node: Option<Node>, name: &str, description: &str, broken: &str) -> Handled {
        let description = if node.is_some() { description } else { broken };
        Handled {
            node,
            name: name.to_owned(),
            description: description.to_owned(),
            resolved: false,
        }
    }

    /// The finding reported for the copy at `storage_path`.
    pub fn finding(&self, storage_path: String) -> Finding {
        Finding {
            storage_path,
            cleartext: Some(self.name.clone()),
            kind: FindingKind::Conflict(self.description.clone()),
            repaired: self.resolved,
        }
    }
}

/// Where the copy `entry` of `scan` is stored.
fn copy_loc(scan: &Scan, entry: &DirEntry) -> NodeLoc {
    NodeLoc {
        content_dir: scan.content_dir.clone(),
        entry: entry.name.clone(),
        long_name: None,
    }
}

/// Plans every copy of `scan`, in stored-name order: each copy sees the names
/// the copies before it take. Reads only (`dir.c9r`/`symlink.c9r` of duplicates).
pub(crate) async fn plan<'a>(core: &Core, dir: &DirId, scan: &'a Scan) -> Vec<Planned<'a>> {
    let mut existing: HashSet<String> = scan.raw.iter().map(|e| e.name.clone()).collect();
    let kinds: HashMap<&str, EntryKind> = scan
        .raw
        .iter()
        .map(|e| (e.name.as_str(), e.metadata.kind))
        .collect();
    let mut planned = Vec::with_capacity(scan.copies.len());
    for (index, ext) in &scan.copies {
        let Some(entry) = scan.raw.get(*index) else {
            continue;
        };
        let plan = plan_one(core, dir, scan, entry, ext, &mut existing, &kinds).await;
        planned.push(Planned {
            index: *index,
            ext,
            plan,
        });
    }
    planned
}

async fn plan_one(
    core: &Core,
    dir: &DirId,
    scan: &Scan,
    entry: &DirEntry,
    ext: &Extracted,
    existing: &mut HashSet<String>,
    kinds: &HashMap<&str, EntryKind>,
) -> Result<Plan, VaultError> {
    let threshold = core.threshold();
    let content_dir = &scan.content_dir;
    let base = entry
        .name
        .strip_suffix(layout::C9R_SUFFIX)
        .unwrap_or(&entry.name);
    let run = base.get(ext.start..ext.end).unwrap_or_default();
    let canonical = format!("{run}{}", layout::C9R_SUFFIX);
    let canon = NodeLoc {
        content_dir: content_dir.clone(),
        entry: canonical.clone(),
        long_name: None,
    };
    if existing.insert(canonical.clone()) {
        return Ok(Plan::Canonical(canon));
    }
    if entry.metadata.kind == EntryKind::Dir
        && kinds.get(canonical.as_str()) == Some(&EntryKind::Dir)
        && identical_folders(core, &copy_loc(scan, entry), &canon).await?
    {
        return Ok(Plan::Duplicate);
    }
    let suffix0 = base.get(ext.end..).unwrap_or_default();
    for candidate in conflict::resolved_name_candidates(&ext.cleartext, suffix0, threshold) {
        if names::validate(&candidate).is_err() {
            continue;
        }
        let enc = core.cryptor.encrypt_name(&candidate, dir.as_str());
        if !existing.contains(&enc) {
            existing.insert(enc.clone());
            let target = NodeLoc::for_encrypted(content_dir, enc, threshold);
            return Ok(Plan::NewName(candidate, target));
        }
    }
    if let Ok(p) = copy_loc(scan, entry).node_path() {
        tracing::warn!(ciphertext = %p, "every new name for the conflict copy is taken; left as is");
    }
    Ok(Plan::Stuck)
}

/// Shows a plan without writing: the node points at the stored copy.
pub(crate) async fn present(
    core: &Core,
    dir: &DirId,
    scan: &Scan,
    entry: &DirEntry,
    ext: &Extracted,
    plan: &Plan,
) -> Result<Handled, VaultError> {
    let copy = copy_loc(scan, entry);
    let at_copy = |name: &str| {
        let copy = copy.clone();
        let name = name.to_owned();
        async move {
            Ok::<_, VaultError>(match detect::detect(core, &copy, &entry.metadata).await? {
                Some(d) => Some(detect::node_in(dir, &name, &copy, d)?),
                None => None,
            })
        }
    };
    const BROKEN: &str = "conflict copy is a broken node";
    Ok(match plan {
        Plan::Canonical(_) => Handled::shown(
            at_copy(&ext.cleartext).await?,
            &ext.cleartext,
            "conflict copy with no original: shown under the original name",
            BROKEN,
        ),
        Plan::Duplicate => Handled::hidden(&ext.cleartext, "identical duplicate: hidden", false),
        Plan::NewName(name, _) => Handled::shown(
            at_copy(name).await?,
            name,
            "conflict copy: shown under a new name",
            BROKEN,
        ),
        Plan::Stuck => Handled::hidden(
            &ext.cleartext,
            "all candidate names taken: left as is",
            false,
        ),
    })
}

/// Resolves the conflict copies of `dir` on storage, under the directory's
/// lock: a fresh scan, the same plans a listing presents, carried out in
/// stored-name order. Each copy is reported (and told to the observer).
/// Safe against another client resolving at the same time: every move is a
/// no-replace rename of the copy, so the loser's move fails; a copy that is
/// gone by then is skipped without a report, one whose target appeared stays
/// presented as it was.
pub(crate) async fn resolve(core: &Core, dir: &DirId) -> Result<Vec<Finding>, VaultError> {
    core.check_writable()?;
    let _g = core.dir_locks.lock(&[dir]).await;
    let scan = scan::scan(core, dir).await?;
    if scan.copies.is_empty() {
        return Ok(Vec::new());
    }
    let mut findings = Vec::new();
    for planned in plan(core, dir, &scan).await {
        let Some(entry) = scan.raw.get(planned.index) else {
            continue;
        };
        let copy_path = scan.path_of(planned.index);
        let handled = match planned.plan {
            Ok(plan) => apply(core, dir, &scan, entry, planned.ext, &plan).await,
            Err(e) => Err(e),
        };
        let handled = match handled {
            Ok(Some(h)) => h,
            Ok(None) => continue,
            Err(err) => {
                tracing::warn!(ciphertext = %copy_path, error = %err, "conflict copy could not be handled; skipped");
                let what = format!("could not be handled: {err}");
                Handled::hidden(&planned.ext.cleartext, &what, false)
            }
        };
        if handled.resolved {
            core.dir_cache.evict(dir, &handled.name);
        }
        core.conflict_seen(&handled.name, &handled.description, handled.resolved);
        findings.push(handled.finding(copy_path));
    }
    core.invalidate_presented(dir);
    Ok(findings)
}

/// Carries out one plan; a move that fails (the target appeared, the copy is
/// open here) leaves the copy presented as it was. `None`: the copy is gone,
/// another client resolved it first; nothing to report.
async fn apply(
    core: &Core,
    dir: &DirId,
    scan: &Scan,
    entry: &DirEntry,
    ext: &Extracted,
    plan: &Plan,
) -> Result<Option<Handled>, VaultError> {
    let copy = copy_loc(scan, entry);
    let copy_path = copy.node_path()?;
    if entry.metadata.kind == EntryKind::File {
        // A copy opened through its presented name stays where its open file writes.
        core.await_background(copy_path.as_str()).await;
        if open_file::find(core, copy_path.as_str()).is_some() {
            tracing::info!(ciphertext = %copy_path, "conflict copy is open; resolved later");
            return present(core, dir, scan, entry, ext, plan).await.map(Some);
        }
    }
    if entry.metadata.kind == EntryKind::Dir && cut_move_committed(core, &copy).await? {
        let done = "leftover of an interrupted resolution (its move had committed): removed";
        return Ok(Some(Handled::hidden(&ext.cleartext, done, true)));
    }
    let (moved, name, target) = match plan {
        Plan::Duplicate => {
            return match core.storage.remove_dir_all(&copy_path).await {
                Ok(()) => {
                    tracing::info!(ciphertext = %copy_path, "identical conflict copy deleted");
                    let done = "identical duplicate: deleted";
                    Ok(Some(Handled::hidden(&ext.cleartext, done, true)))
                }
                Err(e) if is_not_found(&e) => Ok(None),
                Err(e) => Err(e.into()),
            };
        }
        Plan::Stuck => return present(core, dir, scan, entry, ext, plan).await.map(Some),
        Plan::Canonical(target) => {
            let moved = move_copy(core, &copy, entry.metadata.kind, target).await;
            (moved, ext.cleartext.as_str(), target)
        }
        Plan::NewName(name, target) => {
            let moved = move_copy(core, &copy, entry.metadata.kind, target).await;
            (moved, name.as_str(), target)
        }
    };
    if let Err(e) = moved {
        if gone(core, &copy_path).await? {
            tracing::info!(ciphertext = %copy_path, "conflict copy already resolved by another client");
            return Ok(None);
        }
        tracing::warn!(ciphertext = %copy_path, error = %e, "could not move conflict copy; presented as is");
        return present(core, dir, scan, entry, ext, plan).await.map(Some);
    }
    tracing::info!(from = %copy_path, to = %target.node_path()?, "conflict copy moved to its resolved name");
    let node = detect::node_at(core, dir, name, target).await?;
    let (done, broken) = match plan {
        Plan::Canonical(_) => (
            "conflict copy with no original: renamed to the original name",
            "renamed to the original name, but broken",
        ),
        _ => (
            "conflict copy: renamed to a new name",
            "renamed to a new name, but broken",
        ),
    };
    let mut handled = Handled::shown(node, name, done, broken);
    handled.resolved = true;
    Ok(Some(handled))
}

/// True when the copy at `path` no longer exists (another client moved or deleted it).
async fn gone(core: &Core, path: &StoragePath) -> Result<bool, VaultError> {
    match core.storage.metadata(path).await {
        Ok(_) => Ok(false),
        Err(e) if is_not_found(&e) => Ok(true),
        Err(e) => Err(e.into()),
    }
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

/// A directory copy whose earlier resolution was cut after its move
/// committed (its move marker names a node holding the same ID) is that
/// move's leftover source: removed, as `check --repair` removes any such
/// source, instead of being resolved a second time under yet another name.
async fn cut_move_committed(core: &Core, copy: &NodeLoc) -> Result<bool, VaultError> {
    let Some(bytes) = detect::read_dir_file(core, &copy.child(layout::DIR_FILE)?).await? else {
        return Ok(false);
    };
    let Ok(id) = layout::parse_dir_file(&bytes) else {
        return Ok(false);
    };
    let path = copy.node_path()?;
    match dir_move::read_marker(core, path.as_str(), &DirId::new(&id)).await? {
        dir_move::Marker::Committed { target } => {
            tracing::info!(ciphertext = %path, target = %target, "leftover source of a cut conflict resolution removed");
            dir_move::remove_source(core, path.as_str()).await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// On a storage without atomic folder renames (S3), moves a directory-node
/// copy in the crash-safe order of every folder move there (`dir_move`):
/// copied key by key, a cut could leave two nodes naming one ID with nothing
/// to tell which is the leftover. `false`: not such a case, nothing done.
async fn move_dir_copy(core: &Core, copy: &NodeLoc, target: &NodeLoc) -> Result<bool, VaultError> {
    if core.caps.atomic_dir_rename {
        return Ok(false);
    }
    let Some(bytes) = detect::read_dir_file(core, &copy.child(layout::DIR_FILE)?).await? else {
        return Ok(false);
    };
    let Ok(id) = layout::parse_dir_file(&bytes) else {
        return Ok(false);
    };
    dir_move::move_dir_node(core, &DirId::new(&id), copy, target).await?;
    Ok(true)
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
    if kind == EntryKind::Dir && move_dir_copy(core, copy, target).await? {
        return Ok(());
    }
    match (&target.long_name, kind) {
        (None, _) => s.rename(&from, &to, RenameMode::NoReplace).await?,
        (Some(long), EntryKind::File) => {
            // Another client resolving the same copy may be building the same
            // folder: a failure undoes only what this call made, and only
            // while it is empty, never a folder that may hold the moved copy.
            s.create_dir(&to).await?;
            let name_file = target.child(layout::NAME_FILE)?;
            let body = Body::from_bytes(long.clone().into_bytes());
            if let Err(e) = s.write(&name_file, body, WriteMode::CreateNew).await {
                let _ = s.remove_dir(&to).await;
                return Err(e.into());
            }
            let contents = target.child(layout::CONTENTS_FILE)?;
            if let Err(e) = s.rename(&from, &contents, RenameMode::NoReplace).await {
                let _ = s.remove_file(&name_file).await;
                let _ = s.remove_dir(&to).await;
                return Err(e.into());
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
