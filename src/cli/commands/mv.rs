//! `vault mv STORAGE FROM TO`: into TO when it is an existing directory, else renamed to TO
//! (replacing a file, as mv(1) does).

use vault_engine::NodeKind;

use crate::cli::args::SecretArgs;
use crate::cli::exit::{CliError, CliResult};
use crate::cli::secrets::Secrets;
use crate::cli::session::{self, VPath};

/// Moves or renames one node.
pub async fn run(storage_arg: &str, secrets: &SecretArgs, from: &str, to: &str) -> CliResult {
    let vault = session::open(storage_arg, &Secrets::from_args(secrets), false).await?;
    let from = VPath::parse(from);
    let Some((from_parent, from_name)) = from.split_last() else {
        return Err(CliError::other("cannot move the vault root /"));
    };
    let node = session::resolve(&vault, storage_arg, &from).await?;
    let to = VPath::parse(to);
    let target = match session::resolve_opt(&vault, storage_arg, &to).await? {
        Some(n) if matches!(n.kind, NodeKind::Dir(_)) && to != from => to.join(from_name),
        _ => to,
    };
    if target == from {
        return Ok(());
    }
    if matches!(node.kind, NodeKind::Dir(_)) && target.starts_with(&from) {
        return Err(CliError::other(format!(
            "cannot move {} into itself ({})",
            from.display(),
            target.display()
        )));
    }
    let Some((to_parent, to_name)) = target.split_last() else {
        return Err(CliError::other("cannot replace the vault root /"));
    };
    let replace = match session::resolve_opt(&vault, storage_arg, &target).await? {
        None => false,
        Some(existing) => match (&node.kind, &existing.kind) {
            (NodeKind::Dir(_), NodeKind::Dir(_)) => true,
            (NodeKind::Dir(_), _) => {
                return Err(CliError::other(format!(
                    "cannot overwrite non-directory {} with directory {}",
                    target.display(),
                    from.display()
                )));
            }
            (_, NodeKind::Dir(_)) => {
                return Err(CliError::other(format!(
                    "cannot overwrite directory {} with a file",
                    target.display()
                )));
            }
            _ => true,
        },
    };
    let from_dir = session::resolve_dir(&vault, storage_arg, &from_parent).await?;
    let to_dir = session::resolve_dir(&vault, storage_arg, &to_parent).await?;
    vault
        .rename(&from_dir, from_name, &to_dir, to_name, replace)
        .await
        .map_err(|e| CliError::file(storage_arg, &from.display(), &e))
}
