//! Directory listings (docs/vault-format.md §5–§10): one `list_dir` of the content
//! directory, names decrypted, `.c9s` folders inflated through `name.c9s`,
//! node types detected (docs/vault-format.md §7), sizes from ciphertext lengths (no content
//! read), sync-conflict copies resolved or presented ([`crate::conflicts`]),
//! broken nodes and directories without content directory skipped with a log
//! line naming the ciphertext path.
//!
//! Entries are processed sorted by stored name so repeated listings agree;
//! the result is sorted by cleartext name and deduplicated.
//!
//! Besides the nodes, a listing reports what it found wrong ([`Finding`]),
//! which `vault check` turns into its report.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use futures::StreamExt;
use vault_format::conflict::{self, Extracted};
use vault_format::layout;
use vault_storage::{DirEntry, EntryKind, StoragePath};

pub(crate) use crate::conflicts::Mode;
use crate::conflicts::{self, ConflictOutcome};
use crate::core::{Core, Presented, TEMP_PREFIX, is_not_found, lock};
use crate::detect::{self, Detected};
use crate::names::{self, NodeLoc};
use crate::{DirId, Node, NodeKind, VaultError, VaultErrorKind};

/// A boxed `Send` future: keeps the listing future `Send` (closures producing
/// futures inside a stream defeat the compiler's `Send` inference otherwise).
type BoxFut<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A detected plain entry: its index, the node (None = broken), its path.
type NormalResult = Result<(usize, Option<Item>, String), VaultError>;
/// A detected `.c9s` entry: its index, the node or (path, why it is skipped).
type ShortResult = Result<(usize, Result<Item, (String, String)>), VaultError>;

/// Something wrong (or noteworthy) found while listing.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub storage_path: String,
    pub cleartext: Option<String>,
    pub kind: FindingKind,
    pub repaired: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FindingKind {
    /// A `.c9r` entry whose name contains no decryptable ciphertext.
    Undecryptable,
    /// A `.c9s` folder without readable/decryptable `name.c9s`.
    BadShortened(String),
    /// A sync-conflict copy and what happened to it.
    Conflict(String),
    /// A node with no recognisable type.
    Broken,
    /// A directory node whose content directory is missing.
    MissingContentDir(DirId),
    /// A shadow object left by an interrupted write.
    TempObject,
    /// A node whose decrypted name could escape a path (empty, `.`, `..`,
    /// absolute, `/` or NUL inside): never listed. The reason names no cleartext.
    BadName(&'static str),
}

/// A listing with its findings.
pub(crate) struct Listing {
    pub nodes: Vec<Node>,
    pub findings: Vec<Finding>,
}

/// One processed entry, before sorting.
struct Item {
    node: Node,
    /// Reachable only through the presentation map (not by computing its name).
    presented: bool,
}

enum Class {
    Normal { name: String, loc: NodeLoc },
    Conflict { ext: Extracted },
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

pub(crate) async fn list(core: &Core, dir: &DirId, mode: Mode) -> Result<Listing, VaultError> {
    let content_dir = core.content_dir(dir)?;
    let mut raw = match core.storage.list_dir(&content_dir).await {
        Ok(r) => r,
        Err(e) if is_not_found(&e) => {
            tracing::warn!(content = %content_dir, "content directory missing");
            return Err(VaultError::node(
                VaultErrorKind::NotFound,
                format!("directory content {content_dir}"),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    raw.sort_by(|a, b| a.name.cmp(&b.name));
    let mode = if core.read_only { Mode::Present } else { mode };
    let threshold = core.threshold();
    let mut findings = Vec::new();

    // 1. Classify (pure: name decryption only).
    let mut normal: Vec<(usize, String, NodeLoc)> = Vec::new();
    let mut shortened: Vec<usize> = Vec::new();
    let mut conflict_items: Vec<(usize, Extracted)> = Vec::new();
    for (i, e) in raw.iter().enumerate() {
        let path = || {
            content_dir
                .join(&e.name)
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default()
        };
        if e.name == layout::DIR_ID_BACKUP_FILE {
            continue;
        }
        if e.name.starts_with('.') {
            if e.name.starts_with(TEMP_PREFIX) {
                let p = path();
                if !lock(&core.live_temps).contains(&p) {
                    findings.push(Finding {
                        storage_path: p,
                        cleartext: None,
                        kind: FindingKind::TempObject,
                        repaired: false,
                    });
                }
            }
            continue;
        }
        if e.name.ends_with(layout::C9S_SUFFIX) && e.metadata.kind == EntryKind::Dir {
            shortened.push(i);
            continue;
        }
        let Some(base) = e.name.strip_suffix(layout::C9R_SUFFIX) else {
            tracing::debug!(ciphertext = %path(), "unknown entry in content directory ignored");
            continue;
        };
        match classify(core, dir, &content_dir, &e.name, base, threshold) {
            Some(Class::Normal { name, loc }) => normal.push((i, name, loc)),
            Some(Class::Conflict { ext }) => conflict_items.push((i, ext)),
            None => {
                tracing::warn!(ciphertext = %path(), "entry name does not decrypt; skipped");
                findings.push(Finding {
                    storage_path: path(),
                    cleartext: None,
                    kind: FindingKind::Undecryptable,
                    repaired: false,
                });
            }
        }
    }

    // 2. Detect node types of normal and shortened entries, concurrently (order kept).
    let mut items: Vec<(usize, Item)> = Vec::new();
    let normal_results: Vec<NormalResult> = futures::stream::iter(
        normal
            .into_iter()
            .map(|(i, name, loc)| -> BoxFut<'_, NormalResult> {
                let e = &raw[i];
                Box::pin(async move {
                    let presented = !names::is_nfc_name(&name) || e.name.len() > threshold;
                    let path = loc.node_path()?.as_str().to_owned();
                    match detect::detect(core, &loc, &e.metadata).await? {
                        Some(d) => Ok((i, Some(item(dir, &name, &loc, d, presented)?), path)),
                        None => Ok((i, None, path)),
                    }
                })
            })
            .collect::<Vec<_>>(),
    )
    .buffered(16)
    .collect()
    .await;
    for r in normal_results {
        match r? {
            (i, Some(it), _) => items.push((i, it)),
            (_, None, path) => findings.push(Finding {
                storage_path: path,
                cleartext: None,
                kind: FindingKind::Broken,
                repaired: false,
            }),
        }
    }
    let short_results: Vec<ShortResult> = futures::stream::iter(
        shortened
            .into_iter()
            .map(|i| -> BoxFut<'_, ShortResult> {
                let e = &raw[i];
                let content_dir = &content_dir;
                Box::pin(async move {
                    let node_path = content_dir.join(&e.name)?;
                    let (name, long) = match inflate(core, dir, &node_path).await? {
                        Ok(x) => x,
                        Err(reason) => {
                            return Ok((i, Err((node_path.as_str().to_owned(), reason))));
                        }
                    };
                    let loc = NodeLoc {
                        content_dir: content_dir.clone(),
                        entry: e.name.clone(),
                        long_name: Some(long.clone()),
                    };
                    let presented = !names::is_nfc_name(&name)
                        || long.len() <= threshold
                        || layout::shortened_name(&long) != e.name;
                    match detect::detect(core, &loc, &e.metadata).await? {
                        Some(d) => Ok((i, Ok(item(dir, &name, &loc, d, presented)?))),
                        None => Ok((
                            i,
                            Err((node_path.as_str().to_owned(), "broken node".to_owned())),
                        )),
                    }
                })
            })
            .collect::<Vec<_>>(),
    )
    .buffered(16)
    .collect()
    .await;
    for r in short_results {
        match r? {
            (i, Ok(it)) => items.push((i, it)),
            (_, Err((p, reason))) => {
                tracing::debug!(ciphertext = %p, reason = %reason, "shortened node skipped");
                let kind = if reason == "broken node" {
                    FindingKind::Broken
                } else {
                    FindingKind::BadShortened(reason)
                };
                findings.push(Finding {
                    storage_path: p,
                    cleartext: None,
                    kind,
                    repaired: false,
                });
            }
        }
    }

    // 3. Conflict copies, sequentially in stored-name order.
    if !conflict_items.is_empty() {
        let mut existing: HashSet<String> = raw.iter().map(|e| e.name.clone()).collect();
        let kinds: HashMap<String, EntryKind> = raw
            .iter()
            .map(|e| (e.name.clone(), e.metadata.kind))
            .collect();
        for (i, ext) in conflict_items {
            let e: &DirEntry = &raw[i];
            let copy_path = content_dir.join(&e.name)?.as_str().to_owned();
            let outcome = conflicts::handle(
                core,
                dir,
                &content_dir,
                e,
                &ext,
                &mut existing,
                &kinds,
                mode,
            )
            .await;
            match outcome {
                Ok(ConflictOutcome::Node {
                    node,
                    presented,
                    description,
                    resolved,
                }) => {
                    core.conflict_seen(&node.name, &description, resolved);
                    findings.push(Finding {
                        storage_path: copy_path,
                        cleartext: Some(node.name.clone()),
                        kind: FindingKind::Conflict(description),
                        repaired: resolved,
                    });
                    items.push((i, Item { node, presented }));
                }
                Ok(ConflictOutcome::Hidden {
                    description,
                    resolved,
                }) => {
                    core.conflict_seen(&ext.cleartext, &description, resolved);
                    findings.push(Finding {
                        storage_path: copy_path,
                        cleartext: Some(ext.cleartext.clone()),
                        kind: FindingKind::Conflict(description),
                        repaired: resolved,
                    })
                }
                Err(err) => {
                    tracing::warn!(ciphertext = %copy_path, error = %err, "conflict copy could not be handled; skipped");
                    findings.push(Finding {
                        storage_path: copy_path,
                        cleartext: Some(ext.cleartext.clone()),
                        kind: FindingKind::Conflict(format!("could not be handled: {err}")),
                        repaired: false,
                    });
                }
            }
        }
    }

    // 4. Directories whose content directory is missing are hidden (docs/vault-format.md §5).
    let dir_checks: Vec<Result<bool, VaultError>> = futures::stream::iter(
        items
            .iter()
            .map(|(_, it)| -> BoxFut<'_, Result<bool, VaultError>> {
                Box::pin(async move {
                    match &it.node.kind {
                        NodeKind::Dir(id) => {
                            let content = core.content_dir(id)?;
                            match core.storage.metadata(&content).await {
                                Ok(m) => Ok(m.kind == EntryKind::Dir),
                                Err(e) if is_not_found(&e) => Ok(false),
                                Err(e) => Err(e.into()),
                            }
                        }
                        _ => Ok(true),
                    }
                })
            })
            .collect::<Vec<_>>(),
    )
    .buffered(16)
    .collect()
    .await;
    let mut kept = Vec::with_capacity(items.len());
    for ((i, it), ok) in items.into_iter().zip(dir_checks) {
        if ok? {
            kept.push((i, it));
        } else if let NodeKind::Dir(id) = &it.node.kind {
            tracing::warn!(ciphertext = %it.node.storage_path, "directory node without content directory; hidden");
            findings.push(Finding {
                storage_path: it.node.storage_path.clone(),
                cleartext: Some(it.node.name.clone()),
                kind: FindingKind::MissingContentDir(id.clone()),
                repaired: false,
            });
        }
    }

    // 5. Names that could escape a path are never handed out (they decrypt, so
    // only a key holder wrote them: a hostile client or a replayed node).
    kept.retain(|(_, it)| match names::refusal(&it.node.name) {
        None => true,
        Some(reason) => {
            // Callers report it (check, the CLI's errors, the mount's log): debug here.
            tracing::debug!(ciphertext = %it.node.storage_path, reason, "node with an unsafe name skipped");
            findings.push(Finding {
                storage_path: it.node.storage_path.clone(),
                cleartext: None,
                kind: FindingKind::BadName(reason),
                repaired: false,
            });
            false
        }
    });

    // 6. Stored-name order decides which duplicate wins; then sort by name.
    kept.sort_by_key(|(i, _)| *i);
    let mut seen = HashSet::new();
    let mut result: Vec<Item> = kept
        .into_iter()
        .map(|(_, it)| it)
        .filter(|it| seen.insert(it.node.name.clone()))
        .collect();
    result.sort_by(|a, b| a.node.name.cmp(&b.node.name));

    let mut presented = HashMap::new();
    for it in &result {
        core.dir_cache.put(&it.node);
        if it.presented {
            presented.insert(it.node.name.clone(), it.node.clone());
            presented.insert(names::nfc(&it.node.name), it.node.clone());
        }
    }
    lock(&core.presented).insert(
        dir.clone(),
        Presented {
            at: Instant::now(),
            nodes: presented,
        },
    );
    tracing::trace!(content = %content_dir, entries = result.len(), "listed");
    Ok(Listing {
        nodes: result.into_iter().map(|it| it.node).collect(),
        findings,
    })
}

fn item(
    dir: &DirId,
    name: &str,
    loc: &NodeLoc,
    d: Detected,
    presented: bool,
) -> Result<Item, VaultError> {
    Ok(Item {
        node: Node {
            parent: dir.clone(),
            name: name.to_owned(),
            kind: d.kind,
            size: d.size,
            modified: d.modified,
            damaged: d.damaged,
            storage_path: loc.node_path()?.as_str().to_owned(),
        },
        presented,
    })
}

/// Step 1–2 of docs/vault-format.md §10 for one `.c9r` entry.
fn classify(
    core: &Core,
    dir: &DirId,
    content_dir: &StoragePath,
    entry: &str,
    base: &str,
    threshold: usize,
) -> Option<Class> {
    let _ = threshold;
    if let Ok(name) = core.cryptor.decrypt_name(base, dir.as_str()) {
        let loc = NodeLoc {
            content_dir: content_dir.clone(),
            entry: entry.to_owned(),
            long_name: None,
        };
        return Some(Class::Normal { name, loc });
    }
    let mut try_decrypt = |s: &str| core.cryptor.decrypt_name(s, dir.as_str()).ok();
    let ext = conflict::extract_ciphertext(base, &mut try_decrypt)?;
    if ext.start == 0 && ext.end == base.len() {
        let loc = NodeLoc {
            content_dir: content_dir.clone(),
            entry: entry.to_owned(),
            long_name: None,
        };
        return Some(Class::Normal {
            name: ext.cleartext,
            loc,
        });
    }
    Some(Class::Conflict { ext })
}
