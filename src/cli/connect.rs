//! Connecting to a parsed STORAGE: each backend's constructor, fed the secrets it asks for.
//!
//! Knows the backends only through their constructors; everything after connecting is the
//! `Storage` trait.

use std::path::Path;
use std::sync::Arc;

use vault_storage::Storage;
use vault_storage::cached::CachedStorage;

use super::exit::{CliError, CliResult, Exit};
use super::secrets::Secrets;
use super::storage_arg::{ConnectOptions, Purpose, StorageSpec, io_text};

/// Connects to the storage, asking `secrets` for server credentials. Failures to reach it exit 5.
/// A remote storage comes behind the metadata cache (see `cli::cache`).
pub async fn connect(
    arg: &str,
    spec: &StorageSpec,
    purpose: Purpose,
    secrets: &Secrets,
    options: &ConnectOptions,
) -> CliResult<Arc<dyn Storage>> {
    Ok(connect_cached(arg, spec, purpose, secrets, options)
        .await?
        .storage)
}

/// What connecting gives: the storage, and the handles a command may need beside it.
pub struct Connected {
    /// The storage, behind the metadata cache if there is one.
    pub storage: Arc<dyn Storage>,
    /// The metadata cache (a mount makes it persistent once the vault is unlocked).
    pub cached: Option<Arc<CachedStorage>>,
    /// On `s3://`: the S3 storage itself, whose unfinished multipart uploads `vault check`
    /// reaches (the `Storage` trait, made for any backend, does not show them).
    pub s3: Option<Arc<vault_s3::S3Storage>>,
}

/// [`connect`], and the metadata cache in front of the storage if there is one, and the S3
/// handle on `s3://`.
pub async fn connect_cached(
    arg: &str,
    spec: &StorageSpec,
    purpose: Purpose,
    secrets: &Secrets,
    options: &ConnectOptions,
) -> CliResult<Connected> {
    let (storage, s3) = connect_backend(arg, spec, purpose, secrets, options).await?;
    let local = matches!(spec, StorageSpec::Local(_));
    let (storage, cached) = super::cache::wrap(storage, local, &options.cache);
    Ok(Connected {
        storage,
        cached,
        s3,
    })
}

/// The storage, and on `s3://` the S3 storage it is.
pub type Backend = (Arc<dyn Storage>, Option<Arc<vault_s3::S3Storage>>);

pub async fn connect_backend(
    arg: &str,
    spec: &StorageSpec,
    purpose: Purpose,
    secrets: &Secrets,
    options: &ConnectOptions,
) -> CliResult<Backend> {
    match spec {
        StorageSpec::Local(path) => Ok((connect_local(arg, path, purpose)?, None)),
        StorageSpec::Sftp(_) => Ok((connect_sftp(arg, purpose, secrets, options).await?, None)),
        StorageSpec::Dav { .. } | StorageSpec::WebDavUrl(_) => {
            Ok((connect_webdav(arg, purpose, secrets, options).await?, None))
        }
        StorageSpec::S3 { bucket, prefix } => {
            let s3 = super::s3_arg::S3Options {
                endpoint: options.s3.s3_endpoint.clone(),
                region: options.s3.s3_region.clone(),
                profile: options.s3.s3_profile.clone(),
                addressing: options.s3.s3_addressing.clone(),
                conditional_put: options.s3.s3_conditional_put.as_deref() != Some("off"),
                creating: purpose == Purpose::Create,
                create_bucket: options.create_bucket,
                insecure_http: options.insecure_http,
                ca_cert: options.ca_cert.clone(),
            };
            let ask = |account: String, prompt: &str| {
                secrets.stored_or_ask(Some(account), "S3 secret key", prompt)
            };
            let s3 = super::s3_arg::connect(arg, bucket, prefix, &s3, &ask).await?;
            let storage: Arc<dyn Storage> = s3.clone();
            Ok((storage, Some(s3)))
        }
        StorageSpec::Named(name) => Err(match super::config::path() {
            Ok(file) => super::config::unknown_name(name, &file),
            Err(e) => e,
        }),
    }
}

async fn connect_sftp(
    arg: &str,
    purpose: Purpose,
    secrets: &Secrets,
    options: &ConnectOptions,
) -> CliResult<Arc<dyn Storage>> {
    use super::exit::exit_for_sftp_error;
    let url = vault_sftp::parse_sftp_url(arg)
        .map_err(|e| CliError::new(exit_for_sftp_error(&e), e.to_string()))?;
    let mut config = vault_sftp::SftpConfig::from_url(&url, None)
        .map_err(|e| CliError::new(exit_for_sftp_error(&e), e.to_string()))?;
    if let Some(identity) = &options.identity {
        config.add_identity_first(identity.clone());
    }
    if let Some(known_hosts) = &options.known_hosts {
        config.use_known_hosts_file(known_hosts.clone());
    }
    config.accept_new_host_key = options.accept_new_host_key;
    // -J wins over the ssh config's ProxyJump and ProxyCommand, as in ssh.
    if let Some(jumps) = &options.proxy_jump {
        config
            .set_proxy_jump(jumps)
            .map_err(|e| CliError::new(Exit::Usage, e.to_string()))?;
    }
    // `vault create` makes a missing vault folder, as it does for a local one.
    config.create_root = purpose == Purpose::Create;
    let mut secrets = secrets.clone();
    // A held TOTP secret (opt-in) answers the server's one-time-code prompts.
    secrets.totp = secrets.totp_for(&config.user, &config.host, config.port)?;
    if let Some(t) = &secrets.totp {
        t.bind_to(&config.user, &config.host, config.port);
    }
    let prompter: Arc<dyn vault_sftp::Prompter> = match &options.sftp_prompter {
        // A detached mount's own prompter (`vault auth`, askpass), behind the TOTP secret.
        Some(p) if secrets.totp.is_some() => Arc::new(super::secrets::TotpFirst {
            codes: super::secrets::CliPrompter(secrets),
            then: p.0.clone(),
        }),
        Some(p) => p.0.clone(),
        None => Arc::new(super::secrets::CliPrompter(secrets)),
    };
    let storage = vault_sftp::SftpStorage::connect(config, prompter)
        .await
        .map_err(|e| CliError::new(exit_for_sftp_error(&e), format!("{arg}: {e}")))?;
    Ok(Arc::new(storage))
}

async fn connect_webdav(
    arg: &str,
    purpose: Purpose,
    secrets: &Secrets,
    options: &ConnectOptions,
) -> CliResult<Arc<dyn Storage>> {
    let shown = vault_webdav::redact_password(arg);
    let mut config = vault_webdav::WebDavConfig::parse(arg)
        .map_err(|e| CliError::usage(format!("invalid storage URL {shown}: {}", e.0)))?;
    config.ca_cert = options.ca_cert.clone();
    config.insecure_http = options.insecure_http;
    // Opening an existing vault reads vault.cryptomator first: that request meets a wrong
    // password or certificate as well as a listing of the root would, one request sooner.
    config.check_at_connect = purpose != Purpose::Open;
    // Before the password is asked for or looked up: it would have nowhere safe to go.
    let host = config.base_url.host_str().unwrap_or("");
    if config.user.is_some()
        && !vault_storage::cleartext::may_send_credentials(
            config.base_url.scheme(),
            host,
            options.insecure_http,
        )
    {
        return Err(CliError::usage(format!(
            "{shown}: {}",
            vault_storage::cleartext::refusal("the WebDAV password", host)
        )));
    }
    if config.user.is_some() {
        config.password = Some(secrets.stored_or_ask(
            super::remember::webdav_account(&config),
            "WebDAV password",
            &config.password_prompt(),
        )?);
    }
    let storage = vault_webdav::WebDavStorage::connect(config)
        .await
        .map_err(|e| {
            let exit = match super::exit::exit_for_storage_kind(e.kind()) {
                Exit::Error => Exit::Unreachable,
                other => other,
            };
            CliError::new(exit, format!("cannot reach storage {arg}: {e}"))
        })?;
    if purpose == Purpose::Create {
        // `vault create` makes a missing vault folder, as it does for a local one.
        storage.create_root_if_missing().await.map_err(|e| {
            CliError::new(
                super::exit::exit_for_storage_kind(e.kind()),
                format!("cannot create folder {arg}: {e}"),
            )
        })?;
    }
    Ok(Arc::new(storage))
}

fn connect_local(arg: &str, path: &Path, purpose: Purpose) -> CliResult<Arc<dyn Storage>> {
    let unreachable = |what: String| CliError::new(Exit::Unreachable, what);
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            std::fs::read_dir(path)
                .map_err(|e| unreachable(format!("cannot read storage {arg}: {}", io_text(&e))))?;
        }
        Ok(_) => return Err(unreachable(format!("storage {arg} is not a folder"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && purpose == Purpose::Create => {
            std::fs::create_dir(path)
                .map_err(|e| unreachable(format!("cannot create folder {arg}: {}", io_text(&e))))?;
        }
        Err(e) => {
            return Err(unreachable(format!(
                "cannot reach storage {arg}: {}",
                io_text(&e)
            )));
        }
    }
    match vault_storage::LocalStorage::new(path) {
        Ok(s) => Ok(Arc::new(s)),
        Err(e) => Err(unreachable(format!("cannot open storage {arg}: {e}"))),
    }
}
