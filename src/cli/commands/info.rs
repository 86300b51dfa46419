//! `vault info STORAGE`.

use crate::cli::args::SecretArgs;
use crate::cli::exit::CliResult;
use crate::cli::secrets::Secrets;
use crate::cli::session;

/// Prints format facts (read-only open).
pub async fn run(storage_arg: &str, secrets: &SecretArgs) -> CliResult {
    let vault = session::open(storage_arg, &Secrets::from_args(secrets), true).await?;
    let info = vault.info();
    println!("format:               {}", info.format);
    println!("cipher combo:         {}", info.cipher_combo.as_str());
    println!("shortening threshold: {}", info.shortening_threshold);
    println!("vault id:             {}", info.vault_id);
    println!("storage:              {}", info.storage);
    Ok(())
}
