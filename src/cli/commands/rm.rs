//! `vault rm [-r] STORAGE PATH...`.

use vault_engine::{DirId, NodeKind, Vault};

use crate::cli::args::SecretArgs;
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

async fn remove_tree(
    vault: &Vault,
    storage: &str,
    parent: &DirId,
    name: &str,
    id: &DirId,
    path: &VPath,
) -> CliResult {
    let err = |p: &VPath, e: vault_engine::VaultError| CliError::file(storage, &p.display(), &e);
    for child in vault.list(id).await.map_err(|e| err(path, e))? {
        let cpath = path.join(&child.name);
        match &child.kind {
            NodeKind::Dir(cid) => {
                Box::pin(remove_tree(vault, storage, id, &child.name, cid, &cpath)).await?
            }
            _ => vault
                .remove_file(id, &child.name)
                .await
                .map_err(|e| err(&cpath, e))?,
        }
    }
    vault
        .remove_dir(parent, name)
        .await
        .map_err(|e| err(path, e))
}
