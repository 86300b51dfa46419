//! `vault put [-r] STORAGE SRC PATH`: copy in with `cp -r` semantics.
//!
//! A PATH that does not exist becomes the copy; an existing directory receives it inside.
//! Directories need `-r`; inside a recursive copy symlinks stay symlinks; a lone symlink SRC
//! without `-r` is followed. Existing files are overwritten (the engine's flush replaces the
//! content atomically). Modification times are kept. Other file types are skipped with a warning.

use std::collections::HashMap;

use futures::StreamExt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use vault_engine::{DirId, NodeKind, Vault, VaultErrorKind};

use crate::cli::Ctx;
use crate::cli::args::SecretArgs;
use crate::cli::commands::cat::READ_SIZE;
use crate::cli::exit::{CliError, CliResult};
use crate::cli::output::progress_bytes;
use crate::cli::secrets::Secrets;
use crate::cli::session::{self, VPath};
use crate::cli::storage_arg::io_text;

enum Item {
    Dir {
        target: VPath,
        modified: Option<SystemTime>,
    },
    File {
        local: PathBuf,
        target: VPath,
        size: u64,
        modified: Option<SystemTime>,
    },
    Symlink {
        link: String,
        target: VPath,
    },
}

/// Copies SRC into the vault.
pub async fn run(
    ctx: Ctx,
    storage_arg: &str,
    secrets: &SecretArgs,
    src: &Path,
    path: &str,
    recursive: bool,
) -> CliResult {
    let meta = source_meta(src, recursive)?;
    let src_name = local_name(src)?;
    let vault = session::open(storage_arg, &Secrets::from_args(secrets), false).await?;
    let dst = VPath::parse(path);
    let mut ids: HashMap<Vec<String>, DirId> = HashMap::new();
    let bar = progress_bytes(if meta.is_file() { meta.len() } else { 0 }, ctx.quiet);
    let (target, known) = match top_target(
        &vault,
        storage_arg,
        src,
        &meta,
        &src_name,
        &dst,
        &mut ids,
        &bar,
    )
    .await?
    {
        Top::Done => {
            bar.finish_and_clear();
            return finish(&vault, storage_arg, Vec::new()).await;
        }
        Top::Copy { target, known } => (target, known),
    };
    // What is at the top-level target was just looked up (or made): `execute` need not ask again.
    let mut known = Known {
        path: target.0.clone(),
        node: known,
    };

    let mut items = Vec::new();
    let mut errors: Vec<CliError> = Vec::new();
    plan(src, &meta, &target, &mut items, &mut errors)?;
    let total: u64 = items
        .iter()
        .map(|i| {
            if let Item::File { size, .. } = i {
                *size
            } else {
                0
            }
        })
        .sum();
    bar.set_length(total);
    // Directories first, in order (each needs its parent); then files and symlinks, which
    // are independent of each other, a few at a time.
    let mut dirs = Vec::new();
    for item in &items {
        if let Item::Dir { target, modified } = item {
            match execute_dir(&vault, storage_arg, target, &mut ids, &mut known).await {
                Err(e) => errors.push(e),
                Ok(Some(node)) => {
                    if let Some(m) = modified {
                        dirs.push((node, *m));
                    }
                }
                Ok(None) => {}
            }
        }
    }
    let ids = &ids;
    let leaves = interleave_folders(items.iter().filter(|i| !matches!(i, Item::Dir { .. })))
        .into_iter()
        .map(|(n, item)| {
            let top = known.take(item_target(item));
            let bar = &bar;
            let vault = &vault;
            async move {
                (
                    n,
                    execute_leaf(vault, storage_arg, item, ids, top, bar).await,
                )
            }
        });
    let mut results: Vec<(usize, CliResult)> = futures::stream::iter(leaves)
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    results.sort_by_key(|(n, _)| *n);
    errors.extend(results.into_iter().filter_map(|(_, r)| r.err()));
    bar.finish_and_clear();
    // Last, as writing inside a folder changes its time (the nodes are the ones made or found).
    for (node, m) in dirs.into_iter().rev() {
        let _ = vault.set_modified(&node, m).await;
    }
    finish(&vault, storage_arg, errors).await
}

/// SRC's metadata (of a symlink itself with `-r`); a directory needs `-r`.
fn source_meta(src: &Path, recursive: bool) -> CliResult<std::fs::Metadata> {
    let meta = if recursive {
        std::fs::symlink_metadata(src)
    } else {
        std::fs::metadata(src)
    }
    .map_err(|e| CliError::other(format!("{}: {}", src.display(), io_text(&e))))?;
    if meta.is_dir() && !recursive {
        return Err(CliError::other(format!(
            "{} is a directory (use put -r)",
            src.display()
        )));
    }
    Ok(meta)
}

/// `leaves` (numbered in plan order) taken one folder at a time in turn: creations in one
/// folder wait for each other (the engine holds the folder's lock while it writes a new
/// node), so copies running side by side should be in different folders where the tree has
/// several.
fn interleave_folders<'a>(leaves: impl Iterator<Item = &'a Item>) -> Vec<(usize, &'a Item)> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut folders: Vec<std::collections::VecDeque<(usize, &'a Item)>> = Vec::new();
    for (n, item) in leaves.enumerate() {
        let parent = item_target(item)
            .split_last()
            .map(|(p, _)| p.display())
            .unwrap_or_default();
        let at = *index.entry(parent).or_insert_with(|| {
            folders.push(Default::default());
            folders.len() - 1
        });
        folders[at].push_back((n, item));
    }
    let mut out = Vec::new();
    while !folders.is_empty() {
        for q in folders.iter_mut() {
            out.extend(q.pop_front());
        }
        folders.retain(|q| !q.is_empty());
    }
    out
}

/// Files (and symlinks) copied at the same time by `put -r`: enough to hide a link's latency,
/// few enough not to crowd the server.
pub(crate) const PARALLEL: usize = 6;

async fn finish(vault: &Vault, storage_arg: &str, errors: Vec<CliError>) -> CliResult {
    if let Err(e) = vault.flush_all().await {
        return Err(CliError::vault(storage_arg, &e));
    }
    crate::cli::exit::summarize(errors, "items could not be copied")
}

fn item_target(item: &Item) -> &VPath {
    match item {
        Item::Dir { target, .. } | Item::File { target, .. } | Item::Symlink { target, .. } => {
            target
        }
    }
}

/// Where the copy goes.
enum Top {
    /// A single file, already copied.
    Done,
    /// Copy to `target`; `known`: what is there, when looked up already.
    Copy {
        target: VPath,
        known: Option<Option<vault_engine::Node>>,
    },
}

/// PATH becomes the copy, or receives it inside when it is an existing directory (`cp -r`).
/// Found by making the copy at PATH first (a file with its content in one write, a
/// directory): only when that name is taken is PATH looked up. A lookup that misses lists
/// the folder (for conflict copies), which a creation never needs.
#[allow(clippy::too_many_arguments)]
async fn top_target(
    vault: &Vault,
    storage: &str,
    src: &Path,
    meta: &std::fs::Metadata,
    src_name: &str,
    dst: &VPath,
    ids: &mut HashMap<Vec<String>, DirId>,
    bar: &indicatif::ProgressBar,
) -> CliResult<Top> {
    let Some((parent, last)) = dst.split_last() else {
        ids.insert(Vec::new(), vault.root());
        return Ok(Top::Copy {
            target: dst.join(src_name),
            known: None,
        });
    };
    let parent_id = session::resolve_dir(vault, storage, &parent).await?;
    ids.insert(parent.0.clone(), parent_id.clone());
    let shown = dst.display();
    let verr = |e: &vault_engine::VaultError| CliError::file(storage, &shown, e);
    let into = |id: DirId, ids: &mut HashMap<Vec<String>, DirId>| {
        ids.insert(dst.0.clone(), id);
        Top::Copy {
            target: dst.join(src_name),
            known: None,
        }
    };
    if meta.is_file() {
        let staged = stage(vault, src, bar).await?;
        let modified = meta.modified().ok();
        let existing =
            match create_staged(vault, storage, &parent_id, last, &staged, &shown, modified).await?
            {
                None => return Ok(Top::Done),
                Some(n) => n,
            };
        if let NodeKind::Dir(id) = existing.kind {
            ids.insert(dst.0.clone(), id.clone());
            let target = dst.join(src_name);
            let shown = target.display();
            return match create_staged(vault, storage, &id, src_name, &staged, &shown, modified)
                .await?
            {
                None => Ok(Top::Done),
                Some(n) => {
                    bar.set_position(bar.position().saturating_sub(staged.size()));
                    Ok(Top::Copy {
                        target,
                        known: Some(Some(n)),
                    })
                }
            };
        }
        bar.set_position(bar.position().saturating_sub(staged.size()));
        return Ok(Top::Copy {
            target: dst.clone(),
            known: Some(Some(existing)),
        });
    }
    if meta.is_dir() {
        return match vault.create_dir(&parent_id, last).await {
            Ok(node) => Ok(Top::Copy {
                target: dst.clone(),
                known: Some(Some(node)),
            }),
            Err(e) if e.kind() == VaultErrorKind::AlreadyExists => {
                let node = vault.lookup(&parent_id, last).await.map_err(|e| verr(&e))?;
                match node.kind {
                    NodeKind::Dir(id) => Ok(into(id, ids)),
                    _ => Err(CliError::other(format!(
                        "cannot overwrite non-directory {shown} with directory {}",
                        src.display()
                    ))),
                }
            }
            Err(e) => Err(verr(&e)),
        };
    }
    // A symlink (put -r): looked up first, as it is rare.
    match vault.lookup(&parent_id, last).await {
        Ok(n) => match n.kind {
            NodeKind::Dir(id) => Ok(into(id, ids)),
            _ => Ok(Top::Copy {
                target: dst.clone(),
                known: Some(Some(n)),
            }),
        },
        Err(e) if e.kind() == VaultErrorKind::NotFound => Ok(Top::Copy {
            target: dst.clone(),
            known: Some(None),
        }),
        Err(e) => Err(verr(&e)),
    }
}

/// Encrypts the local file `local` into a spool (on a blocking thread), counting its bytes.
async fn stage(
    vault: &Vault,
    local: &Path,
    bar: &indicatif::ProgressBar,
) -> CliResult<vault_engine::StagedFile> {
    let stager = vault.stager();
    let path = local.to_path_buf();
    let bar = bar.clone();
    let res = tokio::task::spawn_blocking(move || {
        let mut source = Source {
            file: std::fs::File::open(&path).map_err(|e| (true, e))?,
            failed: false,
        };
        let staged = stager.stage(&mut source, &mut |n| bar.inc(n));
        staged.map_err(|e| (source.failed, e))
    })
    .await
    .map_err(|e| CliError::other(format!("cannot copy {}: {e}", local.display())))?;
    res.map_err(|(source, e)| {
        if source {
            CliError::other(format!("cannot read {}: {}", local.display(), io_text(&e)))
        } else {
            CliError::other(format!("local spool file: {}", io_text(&e)))
        }
    })
}

/// A local file whose read errors are told apart from the spool's.
struct Source {
    file: std::fs::File,
    failed: bool,
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let r = self.file.read(buf);
        self.failed |= r.is_err();
        r
    }
}

/// Creates `name` in `parent` holding `staged`. `Ok(None)` when done; `Ok(Some(node))`
/// when the name is taken by `node` (nothing written).
async fn create_staged(
    vault: &Vault,
    storage: &str,
    parent: &DirId,
    name: &str,
    staged: &vault_engine::StagedFile,
    shown: &str,
    modified: Option<SystemTime>,
) -> CliResult<Option<vault_engine::Node>> {
    let verr = |e: vault_engine::VaultError| CliError::file(storage, shown, &e);
    match vault.create_file_staged(parent, name, staged).await {
        Ok(node) => {
            if let Some(m) = modified {
                let _ = vault.set_modified(&node, m).await;
            }
            Ok(None)
        }
        Err(e) if e.kind() == VaultErrorKind::AlreadyExists => {
            match vault.lookup(parent, name).await {
                Ok(n) => Ok(Some(n)),
                // Gone again meanwhile: one more try.
                Err(e) if e.kind() == VaultErrorKind::NotFound => {
                    let node = vault
                        .create_file_staged(parent, name, staged)
                        .await
                        .map_err(verr)?;
                    if let Some(m) = modified {
                        let _ = vault.set_modified(&node, m).await;
                    }
                    Ok(None)
                }
                Err(e) => Err(verr(e)),
            }
        }
        Err(e) => Err(verr(e)),
    }
}

fn local_name(src: &Path) -> CliResult<String> {
    let name = match src.file_name() {
        Some(n) => n.to_os_string(),
        None => std::fs::canonicalize(src)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_os_string()))
            .unwrap_or_default(),
    };
    name.into_string().map_err(|n| {
        CliError::other(format!(
            "{}: the name is not valid UTF-8",
            Path::new(&n).display()
        ))
    })
}

fn plan(
    local: &Path,
    meta: &std::fs::Metadata,
    target: &VPath,
    items: &mut Vec<Item>,
    errors: &mut Vec<CliError>,
) -> CliResult {
    let ft = meta.file_type();
    if ft.is_dir() {
        items.push(Item::Dir {
            target: target.clone(),
            modified: meta.modified().ok(),
        });
        let read = std::fs::read_dir(local).map_err(|e| {
            CliError::other(format!("cannot read {}: {}", local.display(), io_text(&e)))
        })?;
        let mut entries: Vec<_> = read.filter_map(|e| e.ok()).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let name = match entry.file_name().into_string() {
                Ok(n) => n,
                Err(_) => {
                    errors.push(CliError::other(format!(
                        "{}: the name is not valid UTF-8; skipped",
                        path.display()
                    )));
                    continue;
                }
            };
            match std::fs::symlink_metadata(&path) {
                Ok(m) => plan(&path, &m, &target.join(&name), items, errors)?,
                Err(e) => {
                    errors.push(CliError::other(format!(
                        "{}: {}",
                        path.display(),
                        io_text(&e)
                    )));
                }
            }
        }
    } else if ft.is_symlink() {
        let link = std::fs::read_link(local).map_err(|e| {
            CliError::other(format!(
                "cannot read symlink {}: {}",
                local.display(),
                io_text(&e)
            ))
        })?;
        let link = link.into_os_string().into_string().map_err(|_| {
            CliError::other(format!(
                "{}: the symlink target is not valid UTF-8",
                local.display()
            ))
        })?;
        items.push(Item::Symlink {
            link,
            target: target.clone(),
        });
    } else if ft.is_file() {
        items.push(Item::File {
            local: local.into(),
            target: target.clone(),
            size: meta.len(),
            modified: meta.modified().ok(),
        });
    } else {
        eprintln!(
            "vault: warning: {}: not a regular file, directory or symlink; skipped",
            local.display()
        );
    }
    Ok(())
}

/// The ID of `target`'s parent (directories made by this copy are in `ids`) and its name.
async fn parent_id(
    vault: &Vault,
    storage: &str,
    target: &VPath,
    ids: &HashMap<Vec<String>, DirId>,
) -> CliResult<(DirId, String)> {
    let (parent, name) = target
        .split_last()
        .ok_or_else(|| CliError::other("the vault root cannot be replaced"))?;
    let id = match ids.get(&parent.0) {
        Some(id) => id.clone(),
        None => session::resolve_dir(vault, storage, &parent).await?,
    };
    Ok((id, name.to_string()))
}

/// The node found at the copy's top-level target before the copy started
/// (taken once, by the item for that path).
struct Known {
    path: Vec<String>,
    node: Option<Option<vault_engine::Node>>,
}

impl Known {
    fn take(&mut self, target: &VPath) -> Option<Option<vault_engine::Node>> {
        if target.0 == self.path {
            self.node.take()
        } else {
            None
        }
    }
}

/// Makes (or finds) the directory `target`; created first, looked up only if the name is taken.
/// Its node (`None` for the root).
async fn execute_dir(
    vault: &Vault,
    storage: &str,
    target: &VPath,
    ids: &mut HashMap<Vec<String>, DirId>,
    known: &mut Known,
) -> CliResult<Option<vault_engine::Node>> {
    if target.is_root() {
        ids.insert(Vec::new(), vault.root());
        return Ok(None);
    }
    let (parent, name) = parent_id(vault, storage, target, ids).await?;
    let shown = target.display();
    let verr = |e: vault_engine::VaultError| CliError::file(storage, &shown, &e);
    let node = match known.take(target) {
        Some(Some(n)) => n,
        _ => match vault.create_dir(&parent, &name).await {
            Ok(n) => n,
            Err(e) if e.kind() == VaultErrorKind::AlreadyExists => {
                vault.lookup(&parent, &name).await.map_err(verr)?
            }
            Err(e) => return Err(verr(e)),
        },
    };
    match &node.kind {
        NodeKind::Dir(id) => {
            ids.insert(target.0.clone(), id.clone());
            Ok(Some(node))
        }
        _ => Err(CliError::other(format!(
            "cannot overwrite non-directory {shown} with a directory"
        ))),
    }
}

/// Copies one file or symlink; `top`: what is at its target, when the top-level lookup found it.
async fn execute_leaf(
    vault: &Vault,
    storage: &str,
    item: &Item,
    ids: &HashMap<Vec<String>, DirId>,
    top: Option<Option<vault_engine::Node>>,
    bar: &indicatif::ProgressBar,
) -> CliResult {
    match item {
        Item::Dir { .. } => Ok(()),
        Item::Symlink { link, target } => {
            let (parent, name) = parent_id(vault, storage, target, ids).await?;
            let shown = target.display();
            let verr = |e: vault_engine::VaultError| CliError::file(storage, &shown, &e);
            if !matches!(top, Some(Some(_))) {
                match vault.create_symlink(&parent, &name, link).await {
                    Ok(_) => return Ok(()),
                    Err(e) if e.kind() == VaultErrorKind::AlreadyExists => {}
                    Err(e) => return Err(verr(e)),
                }
            }
            remove_non_dir(vault, storage, &parent, &name, &shown).await?;
            vault
                .create_symlink(&parent, &name, link)
                .await
                .map_err(verr)?;
            Ok(())
        }
        Item::File {
            local,
            target,
            modified,
            ..
        } => {
            let (parent, name) = parent_id(vault, storage, target, ids).await?;
            let shown = target.display();
            let verr = |e: vault_engine::VaultError| CliError::file(storage, &shown, &e);
            let found = match top {
                Some(Some(node)) => node,
                _ => {
                    // A new file: created with its content in one write, no lookup first.
                    let staged = stage(vault, local, bar).await?;
                    match create_staged(vault, storage, &parent, &name, &staged, &shown, *modified)
                        .await?
                    {
                        None => return Ok(()),
                        Some(node) => {
                            bar.set_position(bar.position().saturating_sub(staged.size()));
                            node
                        }
                    }
                }
            };
            let (node, created) = match found {
                n if n.kind == NodeKind::File => (n, false),
                n if matches!(n.kind, NodeKind::Dir(_)) => {
                    return Err(CliError::other(format!(
                        "cannot overwrite directory {shown} with a file"
                    )));
                }
                _ => {
                    vault.remove_file(&parent, &name).await.map_err(verr)?;
                    (vault.create_file(&parent, &name).await.map_err(verr)?, true)
                }
            };
            let result = write_file(vault, storage, &node, &shown, local, bar).await;
            if let Err(e) = result {
                if created {
                    let _ = vault.remove_file(&parent, &name).await;
                }
                return Err(e);
            }
            // The node names the same object after the write: no fresh lookup.
            if let Some(m) = modified {
                let _ = vault.set_modified(&node, *m).await;
            }
            Ok(())
        }
    }
}

async fn remove_non_dir(
    vault: &Vault,
    storage: &str,
    parent: &DirId,
    name: &str,
    shown: &str,
) -> CliResult {
    match vault.lookup(parent, name).await {
        Ok(n) if matches!(n.kind, NodeKind::Dir(_)) => Err(CliError::other(format!(
            "cannot overwrite directory {shown} with a symlink"
        ))),
        Ok(_) => vault
            .remove_file(parent, name)
            .await
            .map_err(|e| CliError::file(storage, shown, &e)),
        Err(e) if e.kind() == VaultErrorKind::NotFound => Ok(()),
        Err(e) => Err(CliError::file(storage, shown, &e)),
    }
}

async fn write_file(
    vault: &Vault,
    storage: &str,
    node: &vault_engine::Node,
    shown: &str,
    local: &Path,
    bar: &indicatif::ProgressBar,
) -> CliResult {
    let verr = |e: vault_engine::VaultError| CliError::file(storage, shown, &e);
    let rerr = |e: std::io::Error| {
        CliError::other(format!("cannot read {}: {}", local.display(), io_text(&e)))
    };
    let mut input = std::fs::File::open(local).map_err(rerr)?;
    let file = vault.open(node).await.map_err(verr)?;
    file.set_len(0).await.map_err(verr)?;
    let mut buf = zeroize::Zeroizing::new(vec![0u8; READ_SIZE]);
    let mut offset = 0u64;
    loop {
        let n = read_full(&mut input, &mut buf).map_err(rerr)?;
        if n == 0 {
            break;
        }
        file.write(offset, &buf[..n]).await.map_err(verr)?;
        offset += n as u64;
        bar.inc(n as u64);
        if n < buf.len() {
            break;
        }
    }
    file.flush().await.map_err(verr)
}

/// Fills `buf` as far as the input allows (short only at end of file).
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
