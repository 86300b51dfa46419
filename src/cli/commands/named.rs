//! Named vaults: `vault add`, `vault list`, `vault remove`, `vault forget`.

use std::path::{Path, PathBuf};

use crate::cli::args::{AddArgs, SecretArgs};
use crate::cli::config::{self, VaultEntry};
use crate::cli::exit::{CliError, CliResult};
use crate::cli::remember;
use crate::cli::storage_arg::{self, StorageSpec};

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// `vault add NAME STORAGE [MOUNTPOINT]`.
pub fn add(args: AddArgs) -> CliResult {
    config::validate_name(&args.name)?;
    let storage = match storage_arg::parse(&args.storage)? {
        StorageSpec::Named(word) => {
            return Err(CliError::usage(format!(
                "STORAGE {word:?} is a bare word (a name); for a folder in the current directory say ./{word}"
            )));
        }
        // Stored absolute: `vault mount NAME` may run from any directory.
        StorageSpec::Local(path) => std::fs::canonicalize(&path)
            .unwrap_or_else(|_| absolute(&path))
            .to_string_lossy()
            .into_owned(),
        _ => args.storage.clone(),
    };
    // Checked before saving: a bad value would stop every command that reads the file.
    if let Some(endpoint) = &args.s3.s3_endpoint {
        url::Url::parse(endpoint)
            .map_err(|e| CliError::usage(format!("invalid --s3-endpoint {endpoint}: {e}")))?;
    }
    let (file, mut cfg) = config::load()?;
    if cfg.vaults.contains_key(&args.name) && !args.force {
        return Err(CliError::other(format!(
            "a vault named {} is already in {}; use --force to replace it",
            args.name,
            file.display()
        )));
    }
    let mut entry = VaultEntry {
        storage,
        mountpoint: args.mountpoint.as_deref().map(absolute),
        read_only: args.read_only,
        idle: args.idle.clone(),
        symlinks: args.symlinks.clone(),
        identity: args.identity.as_deref().map(absolute),
        known_hosts: args.known_hosts.as_deref().map(absolute),
        ca_cert: args.ca_cert.as_deref().map(absolute),
        accept_new_host_key: args.accept_new_host_key,
        proxy_jump: args.proxy_jump.clone(),
        insecure_http: args.insecure_http,
        auto_lock: args.no_auto_lock.then_some(false),
        cache: args.cache.clone(),
        dir_cache_time: args.dir_cache_time.clone(),
        cache_max_size: args.cache_max_size.clone(),
        ..VaultEntry::default()
    };
    entry.set_s3_args(&args.s3);
    let shown = entry.storage.clone();
    cfg.vaults.insert(args.name.clone(), entry);
    config::save_to(&file, &cfg)?;
    eprintln!("Added vault {} ({shown}) to {}", args.name, file.display());
    Ok(())
}

/// `vault list`: NAME, STORAGE, MOUNTPOINT (or -), and `mounted at PATH` / `not mounted`,
/// tab-separated.
pub fn list() -> CliResult {
    crate::cli::sidebar::sweep();
    let (file, cfg) = config::load()?;
    if cfg.vaults.is_empty() {
        eprintln!(
            "no named vaults in {} (add one with `vault add NAME STORAGE [MOUNTPOINT]`)",
            file.display()
        );
        return Ok(());
    }
    for (name, entry) in &cfg.vaults {
        let mp = entry
            .mountpoint
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "-".into());
        let state = match mounted_at(entry) {
            Some(at) => format!("mounted at {}", at.display()),
            None => "not mounted".into(),
        };
        println!("{name}\t{}\t{mp}\t{state}", entry.storage);
    }
    Ok(())
}

pub use crate::cli::mounted::mounted_at;

/// `vault remove NAME`: the entry and its stored secrets; never the vault's data.
pub fn remove(name: &str) -> CliResult {
    let (file, mut cfg) = config::load()?;
    let Some(entry) = cfg.vaults.get(name).cloned() else {
        return Err(CliError::usage(format!(
            "no vault named {name:?} in {}",
            file.display()
        )));
    };
    match forget_entry(&entry.storage, &entry_secret_args(&entry)) {
        Ok(_) => {}
        Err(e) => eprintln!("vault: warning: {}; the entry is removed anyway", e.message),
    }
    cfg.vaults.remove(name);
    config::save_to(&file, &cfg)?;
    eprintln!(
        "Removed vault {name} from {} (its data at {} is untouched)",
        file.display(),
        entry.storage
    );
    Ok(())
}

fn entry_secret_args(entry: &VaultEntry) -> SecretArgs {
    let mut s = SecretArgs::default();
    config::apply_connect_options(entry, &mut s);
    s
}

/// `vault forget NAME|STORAGE`: drops what the keyring holds for it.
pub fn forget(storage: &str, secrets: &SecretArgs) -> CliResult {
    let typed = storage;
    let mut storage = storage.to_string();
    let mut secrets = secrets.clone();
    config::resolve(&mut storage, &mut secrets)?;
    let shown = if typed == storage {
        storage.clone()
    } else {
        format!("{typed} ({storage})")
    };
    let forgot = forget_entry(&storage, &secrets)?;
    if forgot.is_empty() {
        eprintln!("nothing was stored in the keyring for {shown}");
    } else {
        eprintln!("forgot the {} of {shown}", forgot.join(", "));
    }
    Ok(())
}

/// Every keyring account a connection to `storage` could use, with what it holds.
pub fn accounts_for(storage: &str, secrets: &SecretArgs) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    if let Some(a) = remember::vault_password_account(storage, &secrets.s3) {
        out.push((a, "vault password"));
    }
    match storage_arg::parse(storage) {
        Ok(StorageSpec::Sftp(_)) => {
            if let Ok(url) = vault_sftp::parse_sftp_url(storage)
                && let Ok(mut c) = vault_sftp::SftpConfig::from_url(&url, None)
            {
                if let Some(id) = &secrets.identity {
                    c.add_identity_first(id.clone());
                }
                if let Some(j) = &secrets.proxy_jump {
                    let _ = c.set_proxy_jump(j);
                }
                // A jump host's key passphrase was kept under its key file too.
                let jump_keys: Vec<_> = c
                    .proxy_jump
                    .iter()
                    .flat_map(|j| j.identity_files.clone())
                    .collect();
                c.identity_files.extend(jump_keys);
                out.push((
                    remember::totp_account(&c.user, &c.host, c.port),
                    "TOTP secret",
                ));
                for key in &c.identity_files {
                    out.push((remember::key_passphrase_account(key), "SSH key passphrase"));
                }
            }
        }
        Ok(StorageSpec::Dav { .. } | StorageSpec::WebDavUrl(_)) => {
            if let Ok(c) = vault_webdav::WebDavConfig::parse(storage)
                && let Some(a) = remember::webdav_account(&c)
            {
                out.push((a, "WebDAV password"));
            }
        }
        Ok(StorageSpec::S3 { .. }) => {
            // The vault password's account (above) names the endpoint these options choose.
            if let Some(a) =
                crate::cli::s3_arg::asked_key_account(&remember::s3_options(&secrets.s3))
            {
                out.push((a, "S3 secret key"));
            }
        }
        _ => {}
    }
    out
}

/// Deletes the accounts of [`accounts_for`]; returns what was there.
fn forget_entry(storage: &str, secrets: &SecretArgs) -> CliResult<Vec<&'static str>> {
    let Some(store) = remember::store() else {
        return Err(CliError::other(
            "the keyring is off (VAULT_KEYRING=none); nothing to forget",
        ));
    };
    let mut forgot = Vec::new();
    for (account, what) in accounts_for(storage, secrets) {
        match store.delete(&account) {
            Ok(true) => {
                if !forgot.contains(&what) {
                    forgot.push(what)
                }
            }
            Ok(false) => {}
            Err(e) => {
                return Err(CliError::other(format!(
                    "cannot reach the keyring ({}): {}",
                    store.backend, e.0
                )));
            }
        }
    }
    Ok(forgot)
}
