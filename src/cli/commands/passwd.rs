//! `vault passwd STORAGE`: change the password; keys and data stay unchanged.

use std::path::Path;

use secrecy::ExposeSecret;
use vault_engine::Vault;

use crate::cli::Ctx;
use crate::cli::args::SecretArgs;
use crate::cli::exit::{CliError, CliResult};
use crate::cli::secrets::{Secrets, new_vault_prompt};
use crate::cli::session;

/// Asks the current password (`Vault password for STORAGE: `), then the new one
/// (`New vault password for STORAGE: `, twice on a terminal), then re-wraps the keys.
pub async fn run(
    ctx: Ctx,
    storage_arg: &str,
    secrets: &SecretArgs,
    new_password_file: Option<&Path>,
) -> CliResult {
    let secrets = Secrets::from_args(secrets);
    let storage = session::connect_existing(storage_arg, &secrets).await?;
    let old = secrets.vault_password(storage_arg)?;
    let new = secrets.new_password(&new_vault_prompt(storage_arg), new_password_file)?;
    Vault::change_password(storage, old.expose_secret(), new.expose_secret())
        .await
        .map_err(|e| CliError::vault(storage_arg, &e))?;
    // A remembered password is replaced by the new one (it would be refused from now on).
    if let Some(account) =
        crate::cli::remember::vault_password_account(storage_arg, &secrets.connect.s3)
        && (secrets.remember
            || crate::cli::remember::lookup(secrets.keyring(), &account, "vault password")
                .is_some())
    {
        secrets
            .keyring()
            .remember_later(account, "vault password", new.expose_secret());
    }
    if !ctx.quiet {
        eprintln!("Password of {storage_arg} changed");
    }
    Ok(())
}
