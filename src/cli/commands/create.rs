//! `vault create STORAGE`: a new, empty format-8 vault.

use secrecy::ExposeSecret;
use vault_engine::{CreateOptions, Vault};

use crate::cli::Ctx;
use crate::cli::args::SecretArgs;
use crate::cli::exit::{CliError, CliResult};
use crate::cli::secrets::{Secrets, vault_prompt};
use crate::cli::storage_arg::{self, Purpose};

/// Creates the vault (the folder is made if missing; it must be empty).
pub async fn run(ctx: Ctx, storage_arg: &str, secrets: &SecretArgs) -> CliResult {
    let spec = storage_arg::parse(storage_arg)?;
    if let storage_arg::StorageSpec::Local(path) = &spec
        && let Ok(mut entries) = std::fs::read_dir(path)
        && entries.next().is_some()
    {
        return Err(CliError::other(format!(
            "{storage_arg} is not empty; a vault is created in an empty or missing folder"
        )));
    }
    let password_file = secrets.password_file.clone();
    let secrets = Secrets::from_args(secrets);
    // Ask before touching storage, so a cancelled prompt leaves nothing behind.
    let password = secrets.new_password(&vault_prompt(storage_arg), password_file.as_deref())?;
    let storage = crate::cli::connect::connect(
        storage_arg,
        &spec,
        Purpose::Create,
        &secrets,
        &secrets.connect,
    )
    .await?;
    Vault::create(storage, password.expose_secret(), CreateOptions::default())
        .await
        .map_err(|e| CliError::vault(storage_arg, &e))?;
    if secrets.remember
        && let Some(account) =
            crate::cli::remember::vault_password_account(storage_arg, &secrets.connect.s3)
    {
        secrets
            .keyring()
            .remember_later(account, "vault password", password.expose_secret());
    }
    if !ctx.quiet {
        eprintln!("Created vault {storage_arg}");
    }
    Ok(())
}
