//! Mounts a vault in a local folder (created if the folder holds none) until
//! unmounted, SIGINT/SIGTERM or `--idle`. For benches and manual testing while
//! the `vault mount` CLI is wired; prints `mounted PID` once the mount answers.
//!
//! mount_local STORAGE MOUNTPOINT --password-file FILE [--scrypt-cost N]
//!             [--no-fsync] [--idle SECS] [-o OPTS]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use vault_engine::{CreateOptions, OpenOptions, Vault};
use vault_format::CipherCombo;
use vault_fs::MountOptions;
use vault_storage::local::LocalStorage;

fn main() -> anyhow::Result<()> {
    vault_fs::limit_malloc_arenas();
    let mut args = std::env::args().skip(1);
    let mut positional = Vec::new();
    let mut password_file = None;
    let mut scrypt_cost = 32768u64;
    let mut fsync = true;
    let mut options = MountOptions::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--password-file" => password_file = args.next().map(PathBuf::from),
            "--scrypt-cost" => {
                scrypt_cost = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(scrypt_cost)
            }
            "--no-fsync" => fsync = false,
            "--idle" => {
                options.idle_timeout = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .map(Duration::from_secs)
            }
            "-o" => options.extra_options.extend(args.next()),
            _ => positional.push(PathBuf::from(arg)),
        }
    }
    let [storage_dir, mountpoint] = positional.as_slice() else {
        anyhow::bail!(
            "usage: mount_local STORAGE MOUNTPOINT --password-file FILE [--scrypt-cost N] [--no-fsync] [--idle SECS] [-o OPTS]"
        );
    };
    let password_file =
        password_file.ok_or_else(|| anyhow::anyhow!("--password-file is required"))?;
    let password = std::fs::read_to_string(&password_file)?;
    let password = password.lines().next().unwrap_or_default().to_owned();
    std::fs::create_dir_all(storage_dir)?;
    options.fs_name = storage_dir.display().to_string();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let storage: Arc<dyn vault_storage::Storage> =
        Arc::new(LocalStorage::new(storage_dir)?.with_fsync(fsync));
    let vault = runtime.block_on(async {
        if storage_dir.join("vault.cryptomator").exists() {
            Vault::unlock(storage, &password, OpenOptions::default()).await
        } else {
            Vault::create(
                storage,
                &password,
                CreateOptions {
                    cipher_combo: CipherCombo::SivGcm,
                    scrypt_cost,
                },
            )
            .await
        }
    })?;
    let session = vault_fs::mount(
        Arc::new(vault),
        mountpoint,
        options,
        runtime.handle().clone(),
    )?;
    println!("mounted {}", std::process::id());
    session.wait()?;
    Ok(())
}
