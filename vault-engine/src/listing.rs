//! Directory listings (docs/vault-format.md §5–§10), a pure read: nothing here
//! writes to storage. The stages, each a function below:
//!
//! 1. scan: one `list_dir` of the content directory, entries classified by
//!    name ([`crate::scan`]);
//! 2. detect: node types (docs/vault-format.md §7) of plain and `.c9s`
//!    entries (`name.c9s` inflated), sizes from ciphertext lengths, no content read;
//! 3. present conflicts: sync-conflict copies under the names a resolution
//!    would give them ([`crate::conflicts`]; resolving is a separate mutation);
//! 4. hide directories whose content directory is missing;
//! 5. refuse names that could escape a path;
//! 6. order: stored-name order decides duplicates, the result is sorted by
//!    cleartext name, and what a lookup cannot compute is remembered.
//!
//! Broken nodes are skipped with a log line naming the ciphertext path.
//! Besides the nodes, a listing reports what it found wrong ([`Finding`]),
//! which `vault check` turns into its report.

use std::collections::HashSet;

use futures::StreamExt;
use vault_format::layout;
use vault_storage::{EntryKind, StoragePath};

use crate::conflicts::{self, Plan};
use crate::core::{Core, is_not_found};
use crate::detect;
use crate::names::{self, NodeLoc};
use crate::scan::{self, Scan};
pub(crate) use crate::scan::{Finding, FindingKind};
use crate::{DirId, Node, NodeKind, VaultError};

/// A boxed `Send` future: keeps the listing future `Send` (closures producing
/// futures inside a stream defeat the compiler's `Send` inference otherwise).
type BoxFut<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Storage requests a listing runs at once.
const CONCURRENCY: usize = 16;

/// A listing with its findings.
pub(crate) struct Listing {
    pub nodes: Vec<Node>,
    pub findings: Vec<Finding>,
    /// Conflict copies a resolution would rename or delete (presented here).
    pub unresolved: usize,
}

/// One processed entry, before ordering.
struct Item {
    /// Index of the entry in the scan (stored-name order).
    index: usize,
    node: Node,
    /// Reachable only through the presentation map (not by computing its name).
    presented: bool,
}

/// Lists `dir` without writing (stages 1–6 above).
pub(crate) async fn list(core: &Core, dir: &DirId) -> Result<Listing, VaultError> {
    let mut scan = scan::scan(core, dir).await?;
    let mut findings = std::mem::take(&mut scan.findings);
    let mut items = detect_plain(core, dir, &scan, &mut findings).await?;
    items.extend(detect_shortened(core, dir, &scan, &mut findings).await?);
    let unresolved = present_conflicts(core, dir, &scan, &mut items, &mut findings).await?;
    let items = hide_without_content(core, items, &mut findings).await?;
    let items = refuse_unsafe(items, &mut findings);
    let nodes = order_and_remember(core, dir, items);
    tracing::trace!(content = %scan.content_dir, entries = nodes.len(), "listed");
    Ok(Listing {
        nodes,
        findings,
        unresolved,
    })
}

/// Stage 2 for plain `.c9r` entries, concurrently (order kept).
async fn detect_plain(
    core: &Core,
    dir: &DirId,
    scan: &Scan,
    findings: &mut Vec<Finding>,
) -> Result<Vec<Item>, VaultError> {
    type Detected = Result<(usize, Option<Item>, String), VaultError>;
    let threshold = core.threshold();
    let results: Vec<Detected> = futures::stream::iter(
        scan.normal
            .iter()
            .map(|(i, name, loc)| -> BoxFut<'_, Detected> {
                Box::pin(async move {
                    let Some(e) = scan.raw.get(*i) else {
                        return Ok((*i, None, String::new()));
                    };
                    let presented = !names::is_nfc_name(name) || e.name.len() > threshold;
                    let path = loc.node_path()?.as_str().to_owned();
                    let item = match detect::detect(core, loc, &e.metadata).await? {
                        Some(d) => Some(Item {
                            index: *i,
                            node: detect::node_in(dir, name, loc, d)?,
                            presented,
                        }),
                        None => None,
                    };
                    Ok((*i, item, path))
                })
            })
            .collect::<Vec<_>>(),
    )
    .buffered(CONCURRENCY)
    .collect()
    .await;
    let mut items = Vec::with_capacity(results.len());
    for r in results {
        match r? {
            (_, Some(it), _) => items.push(it),
            (_, None, path) => findings.push(Finding::new(path, None, FindingKind::Broken)),
        }
    }
    Ok(items)
}

/// Stage 2 for `.c9s` folders: `name.c9s` inflated, then detected.
async fn detect_shortened(
    core: &Core,
    dir: &DirId,
    scan: &Scan,
    findings: &mut Vec<Finding>,
) -> Result<Vec<Item>, VaultError> {
    /// The node, or (its path, why it is skipped).
    type Detected = Result<Result<Item, (String, String)>, VaultError>;
    let threshold = core.threshold();
    let content_dir = &scan.content_dir;
    let results: Vec<Detected> = futures::stream::iter(
        scan.shortened
            .iter()
            .filter_map(|i| scan.raw.get(*i).map(|e| (*i, e)))
            .map(|(i, e)| -> BoxFut<'_, Detected> {
                Box::pin(async move {
                    let node_path = content_dir.join(&e.name)?;
                    let skipped = |why: &str| Ok(Err((node_path.as_str().to_owned(), why.into())));
                    let (name, long) = match inflate(core, dir, &node_path).await? {
                        Ok(x) => x,
                        Err(reason) => return skipped(&reason),
                    };
                    let presented = !names::is_nfc_name(&name)
                        || long.len() <= threshold
                        || layout::shortened_name(&long) != e.name;
                    let loc = NodeLoc {
                        content_dir: content_dir.clone(),
                        entry: e.name.clone(),
                        long_name: Some(long),
                    };
                    match detect::detect(core, &loc, &e.metadata).await? {
                        Some(d) => Ok(Ok(Item {
                            index: i,
                            node: detect::node_in(dir, &name, &loc, d)?,
                            presented,
                        })),
                        None => skipped(BROKEN_NODE),
                    }
                })
            })
            .collect::<Vec<_>>(),
    )
    .buffered(CONCURRENCY)
    .collect()
    .await;
    let mut items = Vec::with_capacity(results.len());
    for r in results {
        match r? {
            Ok(it) => items.push(it),
            Err((p, reason)) => {
                tracing::debug!(ciphertext = %p, reason = %reason, "shortened node skipped");
                let kind = if reason == BROKEN_NODE {
                    FindingKind::Broken
                } else {
                    FindingKind::BadShortened(reason)
                };
                findings.push(Finding::new(p, None, kind));
            }
        }
    }
    Ok(items)
}

const BROKEN_NODE: &str = "broken node";

/// Stage 3: every conflict copy under the name a resolution would give it,
/// sequentially in stored-name order. Returns how many a resolution would change.
async fn present_conflicts(
    core: &Core,
    dir: &DirId,
    scan: &Scan,
    items: &mut Vec<Item>,
    findings: &mut Vec<Finding>,
) -> Result<usize, VaultError> {
    let mut unresolved = 0;
    for planned in conflicts::plan(core, dir, scan).await {
        let copy_path = scan.path_of(planned.index);
        let Some(entry) = scan.raw.get(planned.index) else {
            continue;
        };
        let handled = match planned.plan {
            Ok(plan) => {
                if !matches!(plan, Plan::Stuck) {
                    unresolved += 1;
                }
                conflicts::present(core, dir, scan, entry, planned.ext, &plan).await
            }
            Err(e) => Err(e),
        };
        match handled {
            Ok(h) => {
                // A read-write vault's observer hears of copies when they are resolved.
                if core.read_only {
                    core.conflict_seen(&h.name, &h.description, false);
                }
                findings.push(h.finding(copy_path));
                if let Some(node) = h.node {
                    let index = planned.index;
                    items.push(Item {
                        index,
                        node,
                        presented: true,
                    });
                }
            }
            Err(err) => {
                tracing::warn!(ciphertext = %copy_path, error = %err, "conflict copy could not be handled; skipped");
                findings.push(Finding::new(
                    copy_path,
                    Some(planned.ext.cleartext.clone()),
                    FindingKind::Conflict(format!("could not be handled: {err}")),
                ));
            }
        }
    }
    Ok(unresolved)
}

/// Stage 4: directories whose content directory is missing are hidden
/// (docs/vault-format.md §5).
async fn hide_without_content(
    core: &Core,
    items: Vec<Item>,
    findings: &mut Vec<Finding>,
) -> Result<Vec<Item>, VaultError> {
    let checks: Vec<Result<bool, VaultError>> = futures::stream::iter(
        items
            .iter()
            .map(|it| -> BoxFut<'_, Result<bool, VaultError>> {
                Box::pin(async move {
                    let NodeKind::Dir(id) = &it.node.kind else {
                        return Ok(true);
                    };
                    let content = core.content_dir(id)?;
                    match core.storage.metadata(&content).await {
                        Ok(m) => Ok(m.kind == EntryKind::Dir),
                        Err(e) if is_not_found(&e) => Ok(false),
                        Err(e) => Err(e.into()),
                    }
                })
            })
            .collect::<Vec<_>>(),
    )
    .buffered(CONCURRENCY)
    .collect()
    .await;
    let mut kept = Vec::with_capacity(items.len());
    for (it, ok) in items.into_iter().zip(checks) {
        if ok? {
            kept.push(it);
        } else if let NodeKind::Dir(id) = &it.node.kind {
            tracing::warn!(ciphertext = %it.node.storage_path, "directory node without content directory; hidden");
            findings.push(Finding::new(
                it.node.storage_path.clone(),
                Some(it.node.name.clone()),
                FindingKind::MissingContentDir(id.clone()),
            ));
        }
    }
    Ok(kept)
}

/// Stage 5: names that could escape a path are never handed out (they
/// decrypt, so only a key holder wrote them: a hostile client or a replayed node).
fn refuse_unsafe(mut items: Vec<Item>, findings: &mut Vec<Finding>) -> Vec<Item> {
    items.retain(|it| match names::refusal(&it.node.name) {
        None => true,
        Some(reason) => {
            // Callers report it (check, the CLI's errors, the mount's log): debug here.
            tracing::debug!(ciphertext = %it.node.storage_path, reason, "node with an unsafe name skipped");
            findings.push(Finding::new(
                it.node.storage_path.clone(),
                None,
                FindingKind::BadName(reason),
            ));
            false
        }
    });
    items
}

/// Stage 6: stored-name order decides which duplicate wins; then sorted by
/// name. Every node goes into the directory-ID cache, and what a lookup
/// cannot compute into the presentation map.
fn order_and_remember(core: &Core, dir: &DirId, mut items: Vec<Item>) -> Vec<Node> {
    items.sort_by_key(|it| it.index);
    let mut seen = HashSet::new();
    items.retain(|it| seen.insert(it.node.name.clone()));
    items.sort_by(|a, b| a.node.name.cmp(&b.node.name));
    for it in &items {
        core.dir_cache.put(&it.node);
    }
    let presented = items.iter().filter(|it| it.presented).map(|it| &it.node);
    core.presented.record(dir, presented);
    items.into_iter().map(|it| it.node).collect()
}

fn decrypt_c9r(core: &Core, dir: &DirId, c9r: &str) -> Option<String> {
    core.cryptor
        .decrypt_name(c9r.strip_suffix(layout::C9R_SUFFIX)?, dir.as_str())
        .ok()
}

/// Reads and decrypts a `.c9s` folder's `name.c9s`; `Err(reason)` when unusable.
async fn inflate(
    core: &Core,
    dir: &DirId,
    node: &StoragePath,
) -> Result<Result<(String, String), String>, VaultError> {
    let path = node.join(layout::NAME_FILE)?;
    let bytes = match core
        .storage
        .read_at(&path, 0, layout::MAX_NAME_FILE_LEN + 1)
        .await
    {
        Ok(b) => b,
        Err(e) if is_not_found(&e) => return Ok(Err("name.c9s missing".into())),
        Err(e) => return Err(e.into()),
    };
    if bytes.len() > layout::MAX_NAME_FILE_LEN {
        return Ok(Err("name.c9s too large".into()));
    }
    let Ok(long) = String::from_utf8(bytes.to_vec()) else {
        return Ok(Err("name.c9s is not UTF-8".into()));
    };
    match decrypt_c9r(core, dir, &long) {
        Some(name) => Ok(Ok((name, long))),
        None => Ok(Err("name in name.c9s does not decrypt".into())),
    }
}
