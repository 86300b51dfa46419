//! `vault get [-r] STORAGE PATH DEST`: copy out with `cp -r` semantics.
//!
//! A DEST that does not exist becomes the copy; an existing directory receives it inside.
//! Directories need `-r`; inside a recursive copy symlinks stay symlinks (target verbatim);
//! a lone symlink PATH without `-r` is followed, as `cp` does. Files are written under a temporary
//! name and renamed when complete, so a failed copy leaves no partial file. Modification times
//! are kept.
//!
//! Storage decides names and the tree's shape, so the copy is written only through
//! [`Dest`]: plain names, no symlink followed below DEST's parent (see `dest`). Nodes the engine
//! refuses for unsafe names are reported and skipped; a directory-ID cycle or alias stops
//! the copy before anything is written.

use std::path::Path;

use futures::StreamExt;
use std::time::SystemTime;

use vault_engine::{Node, NodeKind, Vault, VisitedDirs};

use crate::cli::Ctx;
use crate::cli::args::SecretArgs;
use crate::cli::commands::cat::{CopyError, copy_file, resolve_following};
use crate::cli::commands::dest::Dest;
use crate::cli::commands::tree;
use crate::cli::escape::c_escape;
use crate::cli::exit::{CliError, CliResult};
use crate::cli::output::progress_bytes;
use crate::cli::secrets::Secrets;
use crate::cli::session::{self, VPath};
use crate::cli::storage_arg::io_text;

/// A path below DEST's parent, one plain name a component.
type Rel = Vec<String>;

enum Item {
    Dir {
        local: Rel,
        modified: Option<SystemTime>,
    },
    File {
        node: Node,
        shown: String,
        local: Rel,
    },
    Symlink {
        node: Node,
        shown: String,
        local: Rel,
    },
}

/// What the planning walk carries along.
struct Plan<'a> {
    vault: &'a Vault,
    storage: &'a str,
    items: Vec<Item>,
    errors: Vec<CliError>,
    visited: Option<VisitedDirs>,
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
            "{} is a directory (use get -r)",
            c_escape(&shown)
        )));
    }
    let (target, dest_is_dir) = local_target(dest, &src, is_dir, &shown)?;

    let (base, root_rel) = if dest_is_dir && src.is_root() {
        (dest.to_path_buf(), Vec::new())
    } else {
        let (base, first) = split_target(&target)?;
        (base, vec![first])
    };
    let dest = Dest::open(&base)
        .map_err(|e| CliError::other(format!("cannot open {}: {}", base.display(), io_text(&e))))?;
    let visited = match &node.kind {
        NodeKind::Dir(id) => Some(tree::visited_from(&vault, storage_arg, &src, id).await?),
        _ => None,
    };
    let mut plan_state = Plan {
        vault: &vault,
        storage: storage_arg,
        items: Vec::new(),
        errors: Vec::new(),
        visited,
    };
    plan(&mut plan_state, &node, &src, root_rel).await?;
    let Plan {
        items, mut errors, ..
    } = plan_state;
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
    // Folders first, in order (each inside its parent); then files and symlinks, which are
    // independent of each other, a few at a time.
    let (folders, leaves): (Vec<Item>, Vec<Item>) = items
        .into_iter()
        .partition(|i| matches!(i, Item::Dir { .. }));
    let (dirs, failed_dirs) =
        make_folders(&vault, storage_arg, &dest, &folders, &bar, &mut errors).await;
    let leaves = leaves
        .iter()
        .filter(|item| match item {
            Item::File { local, .. } | Item::Symlink { local, .. } | Item::Dir { local, .. } => {
                !below_failed(local, &failed_dirs)
            }
        })
        .map(|item| execute(&vault, storage_arg, &dest, item, &bar));
    let results: Vec<CliResult> = futures::stream::iter(leaves)
        .buffered(crate::cli::commands::put::PARALLEL)
        .collect()
        .await;
    errors.extend(results.into_iter().filter_map(Result::err));
    bar.finish_and_clear();
    for (dir, modified) in dirs.into_iter().rev() {
        if let Some(m) = modified {
            let _ = dest.set_dir_mtime(&dir, m);
        }
    }
    crate::cli::exit::summarize(errors, "items could not be copied")
}

/// Below a folder that could not be made nothing can be written: one error is enough.
fn below_failed(local: &Rel, failed: &[Rel]) -> bool {
    failed.iter().any(|d| local.starts_with(d) && local != d)
}

/// The folders made, in order, with the times to give them last; and those that failed.
async fn make_folders(
    vault: &Vault,
    storage_arg: &str,
    dest: &Dest,
    folders: &[Item],
    bar: &indicatif::ProgressBar,
    errors: &mut Vec<CliError>,
) -> (Vec<(Rel, Option<SystemTime>)>, Vec<Rel>) {
    let mut dirs = Vec::new();
    let mut failed_dirs: Vec<Rel> = Vec::new();
    for item in folders {
        let Item::Dir { local, modified } = item else {
            continue;
        };
        if below_failed(local, &failed_dirs) {
            continue;
        }
        if let Err(e) = execute(vault, storage_arg, dest, item, bar).await {
            errors.push(e);
            failed_dirs.push(local.clone());
            continue;
        }
        dirs.push((local.clone(), *modified));
    }
    (dirs, failed_dirs)
}

/// Where the copy goes (DEST, or DEST/NAME when DEST is a folder) and whether DEST is a
/// folder; refuses a missing parent and a file/folder mismatch with what is there.
fn local_target(
    dest: &Path,
    src: &VPath,
    is_dir: bool,
    shown: &str,
) -> CliResult<(std::path::PathBuf, bool)> {
    let name = src.split_last().map(|(_, n)| n.to_string());
    let dest_is_dir = std::fs::metadata(dest).is_ok_and(|m| m.is_dir());
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
                c_escape(&target.display().to_string())
            )));
        }
        Ok(m) if !m.is_dir() && is_dir => {
            return Err(CliError::other(format!(
                "cannot overwrite non-directory {} with directory {}",
                c_escape(&target.display().to_string()),
                c_escape(shown)
            )));
        }
        _ => {}
    }
    Ok((target, dest_is_dir))
}

/// DEST's parent (opened as the user named it) and the copy's own name in it.
fn split_target(target: &Path) -> CliResult<(std::path::PathBuf, String)> {
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| *n != "." && *n != "..")
        .ok_or_else(|| {
            CliError::other(format!(
                "{}: not a usable destination name",
                target.display()
            ))
        })?;
    let base = target.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok((base, name.to_owned()))
}

async fn plan(st: &mut Plan<'_>, node: &Node, path: &VPath, local: Rel) -> CliResult {
    match &node.kind {
        NodeKind::File => st.items.push(Item::File {
            node: node.clone(),
            shown: path.display(),
            local,
        }),
        NodeKind::Symlink => st.items.push(Item::Symlink {
            node: node.clone(),
            shown: path.display(),
            local,
        }),
        NodeKind::Dir(id) => {
            st.items.push(Item::Dir {
                local: local.clone(),
                modified: node.modified,
            });
            let listed = match st.vault.list_checked(id).await {
                Ok(c) => c,
                Err(e) if path.is_root() || st.items.len() == 1 => {
                    return Err(CliError::file(st.storage, &path.display(), &e));
                }
                Err(e) => {
                    st.errors
                        .push(CliError::file(st.storage, &path.display(), &e));
                    return Ok(());
                }
            };
            for e in &listed.refused {
                st.errors
                    .push(CliError::file(st.storage, &path.display(), e));
            }
            for child in listed.nodes {
                let cpath = path.join(&child.name);
                if let Some(v) = st.visited.as_mut() {
                    tree::enter(v, &child, &cpath)?;
                }
                let mut clocal = local.clone();
                clocal.push(child.name.clone());
                Box::pin(plan(st, &child, &cpath, clocal)).await?;
            }
        }
    }
    Ok(())
}

async fn execute(
    vault: &Vault,
    storage: &str,
    dest: &Dest,
    item: &Item,
    bar: &indicatif::ProgressBar,
) -> CliResult {
    match item {
        Item::Dir { local, .. } => dest.create_dir(local).map_err(|e| {
            CliError::other(format!(
                "cannot create {}: {}",
                shown_local(dest, local),
                io_text(&e)
            ))
        }),
        Item::Symlink { node, shown, local } => {
            let target = vault
                .read_symlink(node)
                .await
                .map_err(|e| CliError::file(storage, shown, &e))?;
            dest.symlink(local, &target).map_err(|e| {
                CliError::other(format!(
                    "cannot create symlink {}: {}",
                    shown_local(dest, local),
                    io_text(&e)
                ))
            })
        }
        Item::File { node, shown, local } => {
            let write_err = |e: std::io::Error| {
                CliError::other(format!(
                    "cannot write {}: {}",
                    shown_local(dest, local),
                    io_text(&e)
                ))
            };
            // Dropping `tmp` on any early return removes the temporary file.
            let mut tmp = dest.temp_file(local).map_err(write_err)?;
            let file = tmp.file().map_err(write_err)?;
            match copy_file(vault, storage, node, shown, file, &mut |n| bar.inc(n)).await {
                Ok(_) => {}
                Err(CopyError::Vault(e)) => return Err(e),
                Err(CopyError::Write(e)) => return Err(write_err(e)),
            }
            tmp.commit(node.modified).map_err(write_err)
        }
    }
}

/// A local path for messages, names C-escaped (they come from the vault).
fn shown_local(dest: &Dest, local: &[String]) -> String {
    c_escape(&dest.shown(local).display().to_string()).into_owned()
}
