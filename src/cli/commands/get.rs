//! `vault get [-r] STORAGE PATH DEST`: copy out with `cp -r` semantics.
//!
//! A DEST that does not exist becomes the copy; an existing directory receives it inside.
//! Directories need `-r`; inside a recursive copy symlinks stay symlinks (target verbatim);
//! a lone symlink PATH without `-r` is followed, as `cp` does. Files are written under a temporary
//! name and renamed when complete, so a failed copy leaves no partial file. Modification times
//! are kept.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use vault_engine::{Node, NodeKind, Vault};

use crate::cli::Ctx;
use crate::cli::args::SecretArgs;
use crate::cli::commands::cat::{CopyError, copy_file, resolve_following};
use crate::cli::exit::{CliError, CliResult};
use crate::cli::output::progress_bytes;
use crate::cli::secrets::Secrets;
use crate::cli::session::{self, VPath};
use crate::cli::storage_arg::io_text;

enum Item {
    Dir {
        local: PathBuf,
        modified: Option<SystemTime>,
    },
    File {
        node: Node,
        shown: String,
        local: PathBuf,
    },
    Symlink {
        node: Node,
        shown: String,
        local: PathBuf,
    },
}

/// Copies PATH out of the vault (read-only open).
pub async fn run(
    ctx: Ctx,
    storage_arg: &str,
    secrets: &SecretArgs,
    path: &str,
    dest: &Path,
    recursive: bool,
) -> CliResult {
    let vault = session::open(storage_arg, &Secrets::from_args(secrets), true).await?;
    let src = VPath::parse(path);
    let mut node = session::resolve(&vault, storage_arg, &src).await?;
    let mut shown = src.display();
    if matches!(node.kind, NodeKind::Symlink) && !recursive {
        (node, shown) = resolve_following(&vault, storage_arg, &src).await?;
    }
    let is_dir = matches!(node.kind, NodeKind::Dir(_));
    if is_dir && !recursive {
        return Err(CliError::other(format!(
            "{shown} is a directory (use get -r)"
        )));
    }
    let name = src.split_last().map(|(_, n)| n.to_string());
    let target = match (std::fs::metadata(dest), name) {
        (Ok(m), Some(name)) if m.is_dir() => dest.join(name),
        (Ok(m), None) if m.is_dir() => dest.to_path_buf(),
        _ => dest.to_path_buf(),
    };
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(CliError::other(format!(
            "{}: no such directory",
            parent.display()
        )));
    }
    match std::fs::symlink_metadata(&target) {
        Ok(m) if m.is_dir() && !is_dir => {
            return Err(CliError::other(format!(
                "cannot overwrite directory {} with a file",
                target.display()
            )));
        }
        Ok(m) if !m.is_dir() && is_dir => {
            return Err(CliError::other(format!(
                "cannot overwrite non-directory {} with directory {shown}",
                target.display()
            )));
        }
        _ => {}
    }

    let mut items = Vec::new();
    let mut errors: Vec<CliError> = Vec::new();
    plan(
        &vault,
        storage_arg,
        &node,
        &src,
        &target,
        &mut items,
        &mut errors,
    )
    .await?;
    let total: u64 = items
        .iter()
        .map(|i| {
            if let Item::File { node, .. } = i {
                node.size
            } else {
                0
            }
        })
        .sum();
    let bar = progress_bytes(total, ctx.quiet);
    let mut dirs = Vec::new();
    for item in items {
        if let Err(e) = execute(&vault, storage_arg, &item, &bar).await {
            errors.push(e);
        }
        if let Item::Dir { local, modified } = item {
            dirs.push((local, modified));
        }
    }
    bar.finish_and_clear();
    for (dir, modified) in dirs.into_iter().rev() {
        set_mtime(&dir, modified);
    }
    crate::cli::exit::summarize(errors, "items could not be copied")
}

async fn plan(
    vault: &Vault,
    storage: &str,
    node: &Node,
    path: &VPath,
    local: &Path,
    items: &mut Vec<Item>,
    errors: &mut Vec<CliError>,
) -> CliResult {
    match &node.kind {
        NodeKind::File => items.push(Item::File {
            node: node.clone(),
            shown: path.display(),
            local: local.into(),
        }),
        NodeKind::Symlink => items.push(Item::Symlink {
            node: node.clone(),
            shown: path.display(),
            local: local.into(),
        }),
        NodeKind::Dir(id) => {
            items.push(Item::Dir {
                local: local.into(),
                modified: node.modified,
            });
            let children = match vault.list(id).await {
                Ok(c) => c,
                Err(e) if path.is_root() || items.len() == 1 => {
                    return Err(CliError::file(storage, &path.display(), &e));
                }
                Err(e) => {
                    errors.push(CliError::file(storage, &path.display(), &e));
                    return Ok(());
                }
            };
            for child in children {
                let cpath = path.join(&child.name);
                let clocal = local.join(&child.name);
                Box::pin(plan(vault, storage, &child, &cpath, &clocal, items, errors)).await?;
            }
        }
    }
    Ok(())
}

async fn execute(
    vault: &Vault,
    storage: &str,
    item: &Item,
    bar: &indicatif::ProgressBar,
) -> CliResult {
    match item {
        Item::Dir { local, .. } => match std::fs::create_dir(local) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && local.is_dir() => Ok(()),
            Err(e) => Err(CliError::other(format!(
                "cannot create {}: {}",
                local.display(),
                io_text(&e)
            ))),
        },
        Item::Symlink { node, shown, local } => {
            let target = vault
                .read_symlink(node)
                .await
                .map_err(|e| CliError::file(storage, shown, &e))?;
            if std::fs::symlink_metadata(local).is_ok() {
                std::fs::remove_file(local).map_err(|e| {
                    CliError::other(format!(
                        "cannot replace {}: {}",
                        local.display(),
                        io_text(&e)
                    ))
                })?;
            }
            std::os::unix::fs::symlink(&target, local).map_err(|e| {
                CliError::other(format!(
                    "cannot create symlink {}: {}",
                    local.display(),
                    io_text(&e)
                ))
            })
        }
        Item::File { node, shown, local } => {
            let tmp = temp_name(local);
            let write_err = |e: std::io::Error| {
                CliError::other(format!("cannot write {}: {}", local.display(), io_text(&e)))
            };
            let mut file = std::fs::File::create(&tmp).map_err(write_err)?;
            let result =
                copy_file(vault, storage, node, shown, &mut file, &mut |n| bar.inc(n)).await;
            let finished = match result {
                Ok(_) => file.sync_all().map_err(write_err),
                Err(CopyError::Vault(e)) => Err(e),
                Err(CopyError::Write(e)) => Err(write_err(e)),
            };
            if let Err(e) = finished {
                drop(file);
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
            if let Some(m) = node.modified {
                let _ = file.set_modified(m);
            }
            drop(file);
            std::fs::rename(&tmp, local).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                write_err(e)
            })
        }
    }
}

/// A short hidden name beside `local` (short: the real name may already be near NAME_MAX).
fn temp_name(local: &Path) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    local.with_file_name(format!(".vault-part-{}-{n}", std::process::id()))
}

fn set_mtime(dir: &Path, modified: Option<SystemTime>) {
    if let Some(m) = modified
        && let Ok(f) = std::fs::File::open(dir)
    {
        let _ = f.set_modified(m);
    }
}
