//! `vault check`: the health check (like Cryptomator's Vault Health, gocryptfs -fsck).
//!
//! Walks every directory from the root (breadth first) through the same
//! listing code the engine uses, then authenticates every file completely
//! (header and all chunks), every symlink and every `dirid.c9r`, and finally
//! looks for content directories no `dir.c9r` leads to.
//!
//! `--repair` does only what cannot lose data: write a missing or wrong
//! `dirid.c9r` (it is a backup of an ID we know), resolve sync-conflict
//! copies as docs/vault-format.md §10 (renames, and deletes of byte-identical duplicates),
//! remove leftover shadow objects of interrupted writes (they hold only
//! ciphertext of a version that was never committed). An old version a
//! storage backend kept aside during a replace that was cut off (see
//! [`vault_storage::backup`]) is renamed back when it is the only copy of its
//! object, and removed when the object exists: a temp is never restored from
//! and never deleted while it could be the only copy.
//!
//! Those leftovers are reported but marked harmless: after a crash or a dropped link they are
//! the expected trace of a write that was never committed, every file still reads as its old
//! or new version, so they do not make a vault unhealthy (`vault check` exits 0 with a note).

use std::collections::{HashMap, HashSet, VecDeque};

use futures::StreamExt;

use vault_format::layout;
use vault_storage::{Body, EntryKind, StoragePath, WriteMode};

use crate::backups::{self, Kind};
use crate::conflicts;
use crate::core::{Core, is_not_found};
use crate::dir_move;
use crate::listing::{self, FindingKind, Listing};
use crate::names::NodeLoc;
use crate::{DirId, Node, NodeKind, Vault, VaultError, VaultErrorKind};

/// Lists `id` (a pure read); with `repair`, when the listing presented
/// conflict copies, resolves them on storage and lists again, reporting what
/// the resolution did in place of what the first listing presented.
async fn list_repairing(core: &Core, id: &DirId, repair: bool) -> Result<Listing, VaultError> {
    let listing = listing::list(core, id).await?;
    if !repair || listing.unresolved == 0 {
        return Ok(listing);
    }
    let resolved = conflicts::resolve(core, id).await?;
    let mut again = listing::list(core, id).await?;
    again
        .findings
        .retain(|f| !matches!(f.kind, FindingKind::Conflict(_)));
    again.findings.extend(resolved);
    Ok(again)
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Ciphertext path concerned.
    pub storage_path: String,
    /// Cleartext path, when known.
    pub cleartext_path: Option<String>,
    /// What is wrong, one line.
    pub description: String,
    /// Whether `--repair` fixed it.
    pub repaired: bool,
    /// Nothing is unreadable or at risk: a leftover temp object of an interrupted write holds
    /// only ciphertext of a version that was never committed, and every client ignores it.
    /// Reported as a note; it does not make the vault unhealthy.
    pub harmless: bool,
}

impl CheckReport {
    /// The problems `--repair` did not fix that are not harmless: a healthy vault has none.
    pub fn remaining(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| !p.repaired && !p.harmless)
    }
}

/// The result of a check.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Everything found.
    pub problems: Vec<Problem>,
    /// Nodes visited.
    pub nodes_checked: u64,
}

/// Progress callbacks (the CLI draws a bar; tests ignore it).
pub trait CheckProgress: Send + Sync {
    /// Called after each node.
    fn node_checked(&self, storage_path: &str);
}

/// Walks the whole vault: missing/orphaned content dirs, dir-ID collisions,
/// missing `dirid.c9r`, bad headers, chunks that fail authentication, names
/// that do not decrypt. With `repair`, only repairs that cannot lose data.
pub async fn check(
    vault: &Vault,
    repair: bool,
    progress: &dyn CheckProgress,
) -> Result<CheckReport, VaultError> {
    let core = vault.core();
    if repair {
        core.check_writable()?;
    }
    let mut report = CheckReport::default();
    let mut visited: HashSet<String> = HashSet::new();
    let mut ids: HashMap<DirId, String> = HashMap::new();
    let mut queue: VecDeque<(DirId, String)> = VecDeque::new();
    ids.insert(DirId::root(), "/".into());
    queue.push_back((DirId::root(), String::new()));
    // The vault root holds the masterkey file, which `passwd` replaces.
    settle_backups(core, &StoragePath::root(), None, repair, &mut report).await?;

    while let Some((id, path)) = queue.pop_front() {
        let content = core.content_dir(&id)?;
        visited.insert(content.as_str().to_owned());
        let shown = if path.is_empty() {
            "/".to_owned()
        } else {
            path.clone()
        };
        // Before listing, so that a restored node is listed and checked.
        settle_backups(core, &content, Some(&shown), repair, &mut report).await?;
        let listing = match list_repairing(core, &id, repair).await {
            Ok(l) => l,
            Err(e) if e.kind() == VaultErrorKind::NotFound => {
                report.problems.push(Problem {
                    storage_path: content.as_str().to_owned(),
                    cleartext_path: Some(shown),
                    description: "content directory is missing".into(),
                    repaired: false,
                    harmless: false,
                });
                continue;
            }
            Err(e) => return Err(e),
        };
        check_dir_id_backup(core, &id, &content, &shown, repair, &mut report).await?;
        let mut findings = listing.findings;
        // Temp folders last: one may hold the name a cut node lost.
        findings.sort_by_key(|f| f.kind == FindingKind::TempObject);
        for f in findings {
            let problem = finding_problem(core, f, &path, repair, &mut visited).await?;
            report.problems.push(problem);
        }
        let results = check_leaves(core, &listing.nodes).await;
        for (node, result) in listing.nodes.iter().zip(results) {
            report.nodes_checked += 1;
            let child = format!("{path}/{}", node.name);
            if let NodeKind::Dir(cid) = &node.kind {
                let (problem, gone) = move_leftover(core, node, cid, &child, repair).await?;
                report.problems.extend(problem);
                if gone {
                    progress.node_checked(&node.storage_path);
                    continue;
                }
                if let Some(other) = ids.get(cid) {
                    report.problems.push(Problem {
                        storage_path: node.storage_path.clone(),
                        cleartext_path: Some(child.clone()),
                        description: dir_repeat_description(other, &child),
                        repaired: false,
                        harmless: false,
                    });
                } else {
                    ids.insert(cid.clone(), child.clone());
                    queue.push_back((cid.clone(), child.clone()));
                }
            }
            if let Some((storage_path, description)) = result? {
                report.problems.push(Problem {
                    storage_path,
                    cleartext_path: Some(child),
                    description,
                    repaired: false,
                    harmless: false,
                });
            }
            progress.node_checked(&node.storage_path);
        }
    }
    find_orphans(core, &visited, repair, &mut report).await?;
    if report.problems.iter().any(|p| p.repaired) {
        // Repairs removed or rewrote nodes the walk's listings cached.
        core.clear_caches();
    }
    Ok(report)
}

/// The problem a listing's finding in the directory at `path` is; with
/// `repair`, leftover temp objects are removed first.
async fn finding_problem(
    core: &Core,
    f: listing::Finding,
    path: &str,
    repair: bool,
    visited: &mut HashSet<String>,
) -> Result<Problem, VaultError> {
    let child = f.cleartext.as_ref().map(|n| format!("{path}/{n}"));
    let harmless = f.kind == FindingKind::TempObject;
    let (description, repaired) = match f.kind {
        FindingKind::Undecryptable => (
            "name does not decrypt (not a node of this directory)".to_owned(),
            false,
        ),
        FindingKind::BadShortened(reason) => {
            let what = format!("shortened node unusable: {reason}");
            match lost_name(core, &f.storage_path, repair, visited).await? {
                Some(settled) => settled,
                None => broken_node(core, &f.storage_path, &what, repair).await?,
            }
        }
        FindingKind::Conflict(what) => (format!("sync-conflict copy: {what}"), f.repaired),
        FindingKind::Broken => {
            let what = "broken node: no dir.c9r, symlink.c9r or contents.c9r";
            broken_node(core, &f.storage_path, what, repair).await?
        }
        FindingKind::MissingContentDir(cid) => {
            if let Ok(c) = core.content_dir(&cid) {
                visited.insert(c.as_str().to_owned());
            }
            (
                "directory's content directory is missing (directory hidden)".to_owned(),
                false,
            )
        }
        FindingKind::BadName(reason) => (unsafe_name_description(reason), false),
        FindingKind::TempObject => {
            let done = repair && remove_temp(core, &f.storage_path).await?;
            (
                "leftover temp object of an interrupted write or creation (ciphertext only)"
                    .to_owned(),
                done,
            )
        }
    };
    Ok(Problem {
        storage_path: f.storage_path,
        cleartext_path: child,
        description,
        repaired,
        harmless,
    })
}

/// A shortened node missing `name.c9s` (see `dir_move::lost_name`): its name
/// written back from the copy a leftover temp folder holds, or, for a folder
/// that holds nothing, the node removed (its empty content directory is then
/// an orphan `find_orphans` removes). `None`: neither applies.
async fn lost_name(
    core: &Core,
    storage_path: &str,
    repair: bool,
    visited: &mut HashSet<String>,
) -> Result<Option<(String, bool)>, VaultError> {
    let node = StoragePath::new(storage_path)?;
    let name_file = node.join(layout::NAME_FILE)?;
    let (what, fix) = match dir_move::lost_name(core, storage_path).await? {
        dir_move::LostName::Unknown => return Ok(None),
        dir_move::LostName::Found { long, content } => {
            // The node stays: its folder is no orphan, even before it is
            // walked (on the next check).
            if let Some(c) = content {
                visited.insert(c.as_str().to_owned());
            }
            (
                "shortened node without name.c9s (a folder copy cut short): the name is in a leftover temp folder",
                Some(long),
            )
        }
        dir_move::LostName::EmptyFolder => (
            "shortened folder node without name.c9s (a folder copy cut short), its folder empty: the node goes",
            None,
        ),
    };
    if !repair {
        return Ok(Some((what.to_owned(), false)));
    }
    let done = match fix {
        Some(long) => {
            let body = Body::from_bytes(long.into_bytes());
            core.storage
                .write(&name_file, body, WriteMode::CreateNew)
                .await
        }
        None => core.storage.remove_dir_all(&node).await,
    };
    if let Err(e) = &done {
        tracing::warn!(ciphertext = %node, error = %e, "could not settle a node without name.c9s");
    }
    Ok(Some((what.to_owned(), done.is_ok())))
}

/// A broken node; one holding nothing but `name.c9s` or a move marker (what
/// a cut folder move or creation leaves) is removed with `repair`: it holds
/// no data.
async fn broken_node(
    core: &Core,
    storage_path: &str,
    what: &str,
    repair: bool,
) -> Result<(String, bool), VaultError> {
    if !dir_move::is_content_free(core, storage_path).await? {
        return Ok((what.to_owned(), false));
    }
    let mut repaired = false;
    if repair {
        match dir_move::remove_content_free(core, storage_path).await {
            Ok(done) => repaired = done,
            Err(e) => {
                tracing::warn!(ciphertext = %storage_path, error = %e, "could not remove an empty node folder")
            }
        }
    }
    Ok((
        format!("{what} (an empty node folder a cut move or creation left; holds no data)"),
        repaired,
    ))
}

/// The trace a cut folder move (on a storage without atomic folder renames)
/// left in the directory node `node`, if any, and whether `repair` removed the
/// node: a marker naming a target that holds the same ID means the move
/// committed and this node is its leftover source (removed: the target names
/// the same content directory, nothing is lost); any other marker is stale
/// (removed; the node stays).
async fn move_leftover(
    core: &Core,
    node: &Node,
    id: &DirId,
    child: &str,
    repair: bool,
) -> Result<(Option<Problem>, bool), VaultError> {
    let (description, fix, harmless) = match dir_move::read_marker(core, &node.storage_path, id)
        .await?
    {
        dir_move::Marker::None => return Ok((None, false)),
        dir_move::Marker::Committed { target } => (
            format!(
                "directory ID collision: leftover source of an interrupted folder move to {target} (same ID; the target is kept)"
            ),
            true,
            false,
        ),
        dir_move::Marker::Stale { target } => (
            format!("leftover marker of a folder move to {target} that never completed"),
            false,
            true,
        ),
    };
    let mut repaired = false;
    if repair {
        let done = if fix {
            dir_move::remove_source(core, &node.storage_path).await
        } else {
            dir_move::remove_marker(core, &node.storage_path).await
        };
        match done {
            Ok(()) => repaired = true,
            Err(e) => {
                tracing::warn!(ciphertext = %node.storage_path, error = %e, "could not settle a cut folder move")
            }
        }
    }
    let problem = Problem {
        storage_path: node.storage_path.clone(),
        cleartext_path: Some(child.to_owned()),
        description,
        repaired,
        harmless,
    };
    Ok((Some(problem), fix && repaired))
}

/// Removes a leftover temp object (file or folder) unless a write still uses it.
async fn remove_temp(core: &Core, storage_path: &str) -> Result<bool, VaultError> {
    if core.live_temps.contains(storage_path) {
        return Ok(false);
    }
    let p = StoragePath::new(storage_path)?;
    let removed = match core.storage.metadata(&p).await {
        Ok(m) if m.kind == EntryKind::Dir => core.storage.remove_dir_all(&p).await,
        _ => core.storage.remove_file(&p).await,
    };
    match removed {
        Ok(()) => Ok(true),
        Err(e) => {
            tracing::warn!(ciphertext = %p, error = %e, "could not remove leftover temp object");
            Ok(false)
        }
    }
}

/// Reports (and with `repair` settles) the replace backups in `folder` and,
/// for a content directory (`shown` is its cleartext path), in its shortened nodes.
async fn settle_backups(
    core: &Core,
    folder: &StoragePath,
    shown: Option<&str>,
    repair: bool,
    report: &mut CheckReport,
) -> Result<(), VaultError> {
    for f in backups::settle(core, folder, shown.is_some(), repair).await? {
        let (description, harmless) = match f.kind {
            Kind::OnlyCopy => (
                format!(
                    "only copy of missing {} (old version kept aside by an interrupted replace)",
                    f.target
                ),
                false,
            ),
            Kind::Surplus => (
                "leftover backup of an interrupted replace (its object exists)".to_owned(),
                true,
            ),
            Kind::Temp => (
                "leftover temp object of an interrupted write (ciphertext only)".to_owned(),
                true,
            ),
        };
        report.problems.push(Problem {
            storage_path: f.storage_path,
            cleartext_path: shown.map(str::to_owned),
            description,
            repaired: f.repaired,
            harmless,
        });
    }
    Ok(())
}

async fn check_dir_id_backup(
    core: &Core,
    id: &DirId,
    content: &StoragePath,
    shown: &str,
    repair: bool,
    report: &mut CheckReport,
) -> Result<(), VaultError> {
    let path = content.join(layout::DIR_ID_BACKUP_FILE)?;
    let problem = match core.storage.read_at(&path, 0, 64 * 1024).await {
        Ok(bytes) => match core.cryptor.decrypt_dir_id_backup(&bytes) {
            Ok(found) if found == id.as_str() => None,
            Ok(_) => Some("dirid.c9r names another directory ID"),
            Err(_) => Some("dirid.c9r fails authentication"),
        },
        Err(e) if is_not_found(&e) => Some("dirid.c9r is missing"),
        Err(e) => return Err(e.into()),
    };
    if let Some(description) = problem {
        let mut repaired = false;
        if repair {
            let body = Body::from_bytes(core.cryptor.encrypt_dir_id_backup(id.as_str()));
            match core.storage.write(&path, body, WriteMode::Overwrite).await {
                Ok(()) => repaired = true,
                Err(e) => {
                    tracing::warn!(ciphertext = %path, error = %e, "could not write dirid.c9r")
                }
            }
        }
        report.problems.push(Problem {
            storage_path: path.as_str().to_owned(),
            cleartext_path: Some(shown.to_owned()),
            description: description.to_owned(),
            repaired,
            harmless: false,
        });
    }
    Ok(())
}

/// [`check_leaf`] of every node, in order. Files and symlinks are read independently of each
/// other: a few at a time. (A loop, not a stream of closures: the future stays provably `Send`.)
async fn check_leaves(
    core: &Core,
    nodes: &[Node],
) -> Vec<Result<Option<(String, String)>, VaultError>> {
    let mut running = futures::stream::FuturesOrdered::new();
    let mut next = nodes.iter();
    let mut results = Vec::with_capacity(nodes.len());
    loop {
        while running.len() < PARALLEL {
            let Some(node) = next.next() else { break };
            running.push_back(check_leaf(core, node));
        }
        match running.next().await {
            Some(r) => results.push(r),
            None => break,
        }
    }
    results
}

/// Files read at once by `check` (independent reads; a few hide a link's latency).
const PARALLEL: usize = 6;

/// A file's or symlink's problem (`Some((storage path, what))`); nothing for a directory.
async fn check_leaf(core: &Core, node: &Node) -> Result<Option<(String, String)>, VaultError> {
    match &node.kind {
        NodeKind::Dir(_) => Ok(None),
        NodeKind::File => check_file(core, node).await,
        NodeKind::Symlink => match crate::nodes::read_symlink(core, node).await {
            Ok(_) => Ok(None),
            Err(e) => Ok(Some((
                node.storage_path.clone(),
                format!("symlink unreadable: {e}"),
            ))),
        },
    }
}

/// Authenticates a whole file: header and every chunk. `Some((path, what))` when damaged.
/// The ciphertext length is the listing's (no metadata request; a file that changed since
/// reads short or fails authentication, both reported), the header comes with the first
/// chunks in one read.
async fn check_file(core: &Core, node: &Node) -> Result<Option<(String, String)>, VaultError> {
    let loc = NodeLoc::from_storage_path(&node.storage_path)?;
    let path = loc.file_content_path()?;
    let p = path.as_str().to_owned();
    let combo = core.cryptor.combo();
    let ct_len = if node.damaged || node.size == 0 {
        // The listing found no cleartext size for its length (asked to name it), or an
        // empty file, which may have no header at all.
        match core.storage.metadata(&path).await {
            Ok(m) if m.kind != EntryKind::File => {
                return Ok(Some((p, "file content is not a file".into())));
            }
            Ok(m) => m.size,
            Err(e) if is_not_found(&e) => return Ok(Some((p, "file content missing".into()))),
            Err(e) => return Err(e.into()),
        }
    } else {
        combo.ciphertext_size(node.size)
    };
    let Some(size) = combo.cleartext_size(ct_len) else {
        if ct_len == 0 {
            return Ok(None);
        }
        return Ok(Some((
            p,
            format!(
                "invalid ciphertext size {} (no cleartext size maps to it)",
                ct_len
            ),
        )));
    };
    let hl = combo.header_len();
    let cs = vault_format::CLEARTEXT_CHUNK_SIZE as u64;
    let ccl = combo.ciphertext_chunk_len() as u64;
    let nchunks = size.div_ceil(cs);
    let batch = 32u64;
    // The header and the first batch of chunks in one read.
    let first_end = batch.min(nchunks);
    let want = combo.ciphertext_size(size.min(first_end * cs)) as usize;
    let mut first = match core.storage.read_at(&path, 0, want).await {
        Ok(b) => Some(b),
        Err(e) if is_not_found(&e) => return Ok(Some((p, "file content missing".into()))),
        Err(e) if e.kind() == vault_storage::StorageErrorKind::IsADirectory => {
            return Ok(Some((p, "file content is not a file".into())));
        }
        Err(e) => return Err(e.into()),
    };
    let header_bytes = first.as_ref().map(|b| b.slice(..hl.min(b.len())));
    let header = match core
        .cryptor
        .decrypt_header(header_bytes.as_deref().unwrap_or_default())
    {
        Ok(h) => h,
        Err(_) => return Ok(Some((p, "file header fails authentication".into()))),
    };
    let mut idx = 0u64;
    let mut clear = vault_format::SecretBuf::with_capacity(vault_format::CLEARTEXT_CHUNK_SIZE);
    while idx < nchunks {
        let end = (idx + batch).min(nchunks);
        let bytes = match first.take() {
            Some(b) => b.slice(hl.min(b.len())..),
            None => {
                let offset = hl as u64 + idx * ccl;
                let want = (combo.ciphertext_size(size.min(end * cs)) - offset) as usize;
                core.storage.read_at(&path, offset, want).await?
            }
        };
        let mut pos = 0usize;
        for k in idx..end {
            let len = ((size - k * cs).min(cs) + combo.chunk_overhead() as u64) as usize;
            let Some(ct) = bytes.get(pos..pos + len) else {
                return Ok(Some((
                    p,
                    format!("file is shorter than its size says at offset {}", k * cs),
                )));
            };
            clear.clear();
            if core
                .cryptor
                .decrypt_chunk(&header, k, ct, &mut clear)
                .is_err()
            {
                return Ok(Some((
                    p,
                    format!(
                        "corrupted at offset {} (chunk fails authentication)",
                        k * cs
                    ),
                )));
            }
            pos += len;
        }
        idx = end;
    }
    Ok(None)
}

/// Content directories under `d/` that no directory node leads to. With
/// `repair`, those holding nothing but `dirid.c9r` and temp objects (an interrupted
/// mkdir or rmdir) are removed: they hold no data.
async fn find_orphans(
    core: &Core,
    visited: &HashSet<String>,
    repair: bool,
    report: &mut CheckReport,
) -> Result<(), VaultError> {
    let d = StoragePath::new("d")?;
    let firsts = match core.storage.list_dir(&d).await {
        Ok(e) => e,
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for first in firsts
        .into_iter()
        .filter(|e| e.metadata.kind == EntryKind::Dir)
    {
        let p1 = d.join(&first.name)?;
        let seconds = core.storage.list_dir(&p1).await?;
        let mut removed_all = !seconds.is_empty();
        for second in seconds {
            let p2 = p1.join(&second.name)?;
            if second.metadata.kind != EntryKind::Dir || visited.contains(p2.as_str()) {
                removed_all = false;
                continue;
            }
            let entries = core.storage.list_dir(&p2).await?;
            let id = match core
                .storage
                .read_at(&p2.join(layout::DIR_ID_BACKUP_FILE)?, 0, 64 * 1024)
                .await
            {
                Ok(b) => core.cryptor.decrypt_dir_id_backup(&b).ok(),
                Err(_) => None,
            };
            // Temp objects count as nothing: what a background removal (or a crash) left.
            let empty = entries.iter().all(|e| {
                e.name == layout::DIR_ID_BACKUP_FILE
                    || (e.name.starts_with(vault_storage::TEMP_PREFIX)
                        && p2
                            .join(&e.name)
                            .is_ok_and(|p| !core.live_temps.contains(p.as_str())))
            });
            let description = match (&id, empty) {
                (Some(id), true) => format!(
                    "orphaned empty content directory (directory ID {id}): no dir.c9r leads to it"
                ),
                (Some(id), false) => format!(
                    "orphaned content directory (directory ID {id}, {} entries): no dir.c9r leads to it",
                    entries.len()
                ),
                (None, _) => format!(
                    "orphaned content directory ({} entries): no dir.c9r leads to it",
                    entries.len()
                ),
            };
            let mut repaired = false;
            if repair && empty {
                repaired = core.storage.remove_dir_all(&p2).await.is_ok();
            }
            removed_all &= repaired;
            report.problems.push(Problem {
                storage_path: p2.as_str().to_owned(),
                cleartext_path: None,
                description,
                repaired,
                harmless: false,
            });
        }
        if removed_all {
            let _ = core.storage.remove_dir(&p1).await;
        }
    }
    Ok(())
}

impl CheckReport {
    /// Problems `--repair` did not fix.
    pub fn unrepaired(&self) -> usize {
        self.problems.iter().filter(|p| !p.repaired).count()
    }
}

/// A node skipped for a decrypted name that could escape a path.
fn unsafe_name_description(reason: &str) -> String {
    format!("{reason}: node refused (not listed, not copied, not removable by name)")
}

/// A directory whose `dir.c9r` names an ID already met at `first`: a cycle
/// when `first` is an ancestor of `child` (a walk would never end), an alias
/// otherwise (two folders sharing one content directory).
fn dir_repeat_description(first: &str, child: &str) -> String {
    if first == "/" || child.starts_with(&format!("{first}/")) {
        format!("directory ID cycle: same ID as its ancestor {first} (not followed)")
    } else {
        format!("directory ID collision: same ID as {first} (an alias; not followed)")
    }
}

/// A [`CheckProgress`] that ignores progress.
pub struct NoProgress;

impl CheckProgress for NoProgress {
    fn node_checked(&self, _storage_path: &str) {}
}
