//! `vault rm [-r] STORAGE PATH...`.
//!
//! `rm -r` walks the whole tree before removing anything: storage decides
//! the tree's shape, and a directory-ID cycle or alias (a `dir.c9r` naming
//! an ancestor's or another folder's ID) or a node refused for an unsafe name
//! stops it with nothing removed, so no folder's contents are deleted twice
//! or through a loop.

use vault_engine::{DirId, Node, NodeKind, Vault, VisitedDirs};

use crate::cli::args::SecretArgs;
use crate::cli::commands::tree;
use crate::cli::exit::{CliError, CliResult};
use crate::cli::secrets::Secrets;
use crate::cli::session::{self, VPath};

/// Removes files and symlinks; directories (and everything in them) only with `-r`.
pub async fn run(
    storage_arg: &str,
    secrets: &SecretArgs,
    paths: &[String],
    recursive: bool,
) -> CliResult {
    let vault = session::open(storage_arg, &Secrets::from_args(secrets), false).await?;
    let mut errors = 0;
    for p in paths {
        let path = VPath::parse(p);
        if let Err(e) = rm(&vault, storage_arg, &path, recursive).await {
            if paths.len() == 1 {
                return Err(e);
            }
            crate::cli::report(&e);
            errors += 1;
        }
    }
    if errors > 0 {
        return Err(CliError::other(format!(
            "{errors} paths could not be removed"
        )));
    }
    Ok(())
}

async fn rm(vault: &Vault, storage: &str, path: &VPath, recursive: bool) -> CliResult {
    let Some((parent, name)) = path.split_last() else {
        return Err(CliError::other("refusing to remove the vault root /"));
    };
    let parent_id = session::resolve_dir(vault, storage, &parent).await?;
    let node = vault
        .lookup(&parent_id, name)
        .await
        .map_err(|e| CliError::file(storage, &path.display(), &e))?;
    match node.kind {
        NodeKind::Dir(id) => {
            if !recursive {
                return Err(CliError::other(format!(
                    "{} is a directory (use rm -r)",
                    path.display()
                )));
            }
            remove_tree(vault, storage, &parent_id, name, &id, path).await
        }
        _ => vault
            .remove_file(&parent_id, name)
            .await
            .map_err(|e| CliError::file(storage, &path.display(), &e)),
    }
}

/// One removal of the plan, in the order it runs (children before their folder).
enum Step {
    File {
        node: Node,
        path: VPath,
    },
    Dir {
        dir: DirId,
        name: String,
        path: VPath,
    },
}

async fn remove_tree(
    vault: &Vault,
    storage: &str,
    parent: &DirId,
    name: &str,
    id: &DirId,
    path: &VPath,
) -> CliResult {
    let mut visited = tree::visited_from(vault, storage, path, id).await?;
    let mut steps = Vec::new();
    plan(vault, storage, id, path, &mut visited, &mut steps).await?;
    steps.push(Step::Dir {
        dir: parent.clone(),
        name: name.to_owned(),
        path: path.clone(),
    });
    let err = |p: &VPath, e: vault_engine::VaultError| CliError::file(storage, &p.display(), &e);
    // Files are independent of each other: each run of them between two folder removals goes
    // a few at a time; a folder goes only once everything before it is gone. The first
    // failure (in plan order) stops the removal, as before.
    let mut files = Vec::new();
    for step in steps {
        match step {
            Step::File { node, path } => files.push((node, path)),
            Step::Dir { dir, name, path } => {
                remove_files(vault, storage, std::mem::take(&mut files)).await?;
                vault
                    .remove_dir(&dir, &name)
                    .await
                    .map_err(|e| err(&path, e))?;
            }
        }
    }
    remove_files(vault, storage, files).await
}

/// Removes files and symlinks, [`crate::cli::commands::put::PARALLEL`] at a time; stops at
/// the first failure in the given order, which is the error.
async fn remove_files(vault: &Vault, storage: &str, files: Vec<(Node, VPath)>) -> CliResult {
    use futures::{StreamExt, TryStreamExt};
    let removals = files.iter().map(|(node, path)| async move {
        vault
            .remove_listed(node)
            .await
            .map_err(|e| CliError::file(storage, &path.display(), &e))
    });
    futures::stream::iter(removals)
        .buffered(crate::cli::commands::put::PARALLEL)
        .try_collect::<Vec<()>>()
        .await
        .map(drop)
}

/// Lists the tree below `id` depth first, appending its removals to `steps`.
async fn plan(
    vault: &Vault,
    storage: &str,
    id: &DirId,
    path: &VPath,
    visited: &mut VisitedDirs,
    steps: &mut Vec<Step>,
) -> CliResult {
    let listed = vault
        .list_checked(id)
        .await
        .map_err(|e| CliError::file(storage, &path.display(), &e))?;
    if let Some(e) = listed.refused.first() {
        return Err(CliError::file(storage, &path.display(), e));
    }
    for child in listed.nodes {
        let cpath = path.join(&child.name);
        if let NodeKind::Dir(cid) = &child.kind {
            tree::enter(visited, &child, &cpath)?;
            Box::pin(plan(vault, storage, cid, &cpath, visited, steps)).await?;
            steps.push(Step::Dir {
                dir: id.clone(),
                name: child.name,
                path: cpath,
            });
        } else {
            steps.push(Step::File {
                node: child,
                path: cpath,
            });
        }
    }
    Ok(())
}
