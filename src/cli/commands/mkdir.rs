//! `vault mkdir [-p] STORAGE PATH...`.

use vault_engine::{NodeKind, VaultErrorKind};

use crate::cli::args::SecretArgs;
use crate::cli::exit::{CliError, CliResult};
use crate::cli::secrets::Secrets;
use crate::cli::session::{self, VPath};

/// Creates each directory (with `-p` its parents too, and an existing directory is fine).
pub async fn run(
    storage_arg: &str,
    secrets: &SecretArgs,
    paths: &[String],
    parents: bool,
) -> CliResult {
    let vault = session::open(storage_arg, &Secrets::from_args(secrets), false).await?;
    let mut errors = 0;
    for p in paths {
        let path = VPath::parse(p);
        let result = if parents {
            mkdir_p(&vault, storage_arg, &path).await
        } else {
            mkdir(&vault, storage_arg, &path).await
        };
        if let Err(e) = result {
            if paths.len() == 1 {
                return Err(e);
            }
            crate::cli::report(&e);
            errors += 1;
        }
    }
    if errors > 0 {
        return Err(CliError::other(format!(
            "{errors} directories could not be created"
        )));
    }
    Ok(())
}

async fn mkdir(vault: &vault_engine::Vault, storage: &str, path: &VPath) -> CliResult {
    let Some((parent, name)) = path.split_last() else {
        return Err(CliError::other("/: already exists"));
    };
    let id = session::resolve_dir(vault, storage, &parent).await?;
    vault
        .create_dir(&id, name)
        .await
        .map_err(|e| CliError::file(storage, &path.display(), &e))?;
    Ok(())
}

async fn mkdir_p(vault: &vault_engine::Vault, storage: &str, path: &VPath) -> CliResult {
    let mut id = vault.root();
    let mut here = VPath::root();
    for name in &path.0 {
        here = here.join(name);
        let node = match vault.lookup(&id, name).await {
            Ok(n) => n,
            Err(e) if e.kind() == VaultErrorKind::NotFound => vault
                .create_dir(&id, name)
                .await
                .map_err(|e| CliError::file(storage, &here.display(), &e))?,
            Err(e) => return Err(CliError::file(storage, &here.display(), &e)),
        };
        match node.kind {
            NodeKind::Dir(child) => id = child,
            _ => {
                return Err(CliError::other(format!(
                    "{}: exists and is not a directory",
                    here.display()
                )));
            }
        }
    }
    Ok(())
}
