//! `vault put [-r] STORAGE SRC PATH`: copy in with `cp -r` semantics.
//!
//! A PATH that does not exist becomes the copy; an existing directory receives it inside.
//! Directories need `-r`; inside a recursive copy symlinks stay symlinks; a lone symlink SRC
//! without `-r` is followed. Existing files are overwritten (the engine's flush replaces the
//! content atomically). Modification times are kept. Other file types are skipped with a warning.

use std::collections::HashMap;
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
    let src_name = local_name(src)?;
    let vault = session::open(storage_arg, &Secrets::from_args(secrets), false).await?;
    let dst = VPath::parse(path);
    let existing = session::resolve_opt(&vault, storage_arg, &dst).await?;
    let (target, existing) = match existing {
        Some(n) if matches!(n.kind, NodeKind::Dir(_)) => {
            let t = dst.join(&src_name);
            let e = session::resolve_opt(&vault, storage_arg, &t).await?;
            (t, e)
        }
        other => (dst, other),
    };
    if let Some(node) = &existing {
        let is_dir = matches!(node.kind, NodeKind::Dir(_));
        if is_dir && !meta.is_dir() {
            return Err(CliError::other(format!(
                "cannot overwrite directory {} with a file",
                target.display()
            )));
        }
        if !is_dir && meta.is_dir() {
            return Err(CliError::other(format!(
                "cannot overwrite non-directory {} with directory {}",
                target.display(),
                src.display()
            )));
        }
    }
    let mut ids: HashMap<Vec<String>, DirId> = HashMap::new();
    if let Some((parent, _)) = target.split_last() {
        let id = session::resolve_dir(&vault, storage_arg, &parent).await?;
        ids.insert(parent.0.clone(), id);
    }
    // What is at the target was just looked up: `execute` need not ask again.
    let mut known = Known {
        path: target.0.clone(),
        node: Some(existing),
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
    let bar = progress_bytes(total, ctx.quiet);
    let mut dirs = Vec::new();
    for item in &items {
        if let Err(e) = execute(&vault, storage_arg, item, &mut ids, &mut known, &bar).await {
            errors.push(e);
        }
        if let Item::Dir {
            target,
            modified: Some(m),
        } = item
        {
            dirs.push((target.clone(), *m));
        }
    }
    bar.finish_and_clear();
    for (dir, m) in dirs.into_iter().rev() {
        if let Ok(node) = vault.resolve(&dir.display()).await {
            let _ = vault.set_modified(&node, m).await;
        }
    }
    if let Err(e) = vault.flush_all().await {
        return Err(CliError::vault(storage_arg, &e));
    }
    crate::cli::exit::summarize(errors, "items could not be copied")
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

async fn parent_id(
    vault: &Vault,
    storage: &str,
    target: &VPath,
    ids: &mut HashMap<Vec<String>, DirId>,
) -> CliResult<(DirId, String)> {
    let (parent, name) = target
        .split_last()
        .ok_or_else(|| CliError::other("the vault root cannot be replaced"))?;
    let id = match ids.get(&parent.0) {
        Some(id) => id.clone(),
        None => {
            let id = session::resolve_dir(vault, storage, &parent).await?;
            ids.insert(parent.0.clone(), id.clone());
            id
        }
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

async fn execute(
    vault: &Vault,
    storage: &str,
    item: &Item,
    ids: &mut HashMap<Vec<String>, DirId>,
    known: &mut Known,
    bar: &indicatif::ProgressBar,
) -> CliResult {
    match item {
        Item::Dir { target, .. } => {
            if target.is_root() {
                ids.insert(Vec::new(), vault.root());
                return Ok(());
            }
            let (parent, name) = parent_id(vault, storage, target, ids).await?;
            let shown = target.display();
            let found = match known.take(target) {
                Some(node) => node,
                None => match vault.lookup(&parent, &name).await {
                    Ok(n) => Some(n),
                    Err(e) if e.kind() == VaultErrorKind::NotFound => None,
                    Err(e) => return Err(CliError::file(storage, &shown, &e)),
                },
            };
            let node = match found {
                Some(n) => n,
                None => vault
                    .create_dir(&parent, &name)
                    .await
                    .map_err(|e| CliError::file(storage, &shown, &e))?,
            };
            match node.kind {
                NodeKind::Dir(id) => {
                    ids.insert(target.0.clone(), id);
                    Ok(())
                }
                _ => Err(CliError::other(format!(
                    "cannot overwrite non-directory {shown} with a directory"
                ))),
            }
        }
        Item::Symlink { link, target } => {
            let (parent, name) = parent_id(vault, storage, target, ids).await?;
            let shown = target.display();
            remove_non_dir(vault, storage, &parent, &name, &shown).await?;
            vault
                .create_symlink(&parent, &name, link)
                .await
                .map_err(|e| CliError::file(storage, &shown, &e))?;
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
            let found = match known.take(target) {
                Some(node) => node,
                None => match vault.lookup(&parent, &name).await {
                    Ok(n) => Some(n),
                    Err(e) if e.kind() == VaultErrorKind::NotFound => None,
                    Err(e) => return Err(verr(e)),
                },
            };
            let (node, created) = match found {
                Some(n) if n.kind == NodeKind::File => (n, false),
                Some(n) if matches!(n.kind, NodeKind::Dir(_)) => {
                    return Err(CliError::other(format!(
                        "cannot overwrite directory {shown} with a file"
                    )));
                }
                Some(_) => {
                    vault.remove_file(&parent, &name).await.map_err(verr)?;
                    (vault.create_file(&parent, &name).await.map_err(verr)?, true)
                }
                None => (vault.create_file(&parent, &name).await.map_err(verr)?, true),
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
