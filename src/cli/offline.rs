//! Offline start of a mount (`--cache=metadata`, sftp or WebDAV): when the server does not let
//! the connect finish within [`ONLINE_WAIT`] (refused, or packets dropped), the mount goes on
//! from the persistent cache. The cache folder is found before the unlock through the index
//! `cli::cache` keeps per normalised STORAGE; `vault.cryptomator` and `masterkey.cryptomator`
//! come from the cache (kept whole by the decorator, checked by the unlock exactly as the
//! server's copies are), and the backend keeps connecting in the background
//! ([`vault_storage::lazy`]). Once it is connected the two files are read from the server again
//! (refreshing the cache); if they changed — a password changed on another device — a line is
//! logged and the mount keeps the key it unlocked with until it is mounted again.

use std::sync::Arc;
use std::time::Duration;

use vault_storage::cached::{CachedStorage, Store};
use vault_storage::lazy::{ATTEMPT_LIMIT, Connecting, LazyStorage, Reconnect};
use vault_storage::{Storage, StoragePath};

use super::cache::{self, CacheMode};
use super::exit::{CliError, CliResult, Exit};
use super::secrets::Secrets;
use super::session::{self, Existing};
use super::storage_arg::{self, Purpose, StorageSpec};

/// How long a mount waits for the connect before starting from the cache.
pub const ONLINE_WAIT: Duration = Duration::from_secs(3);
/// How long the cache lock is waited for (a mount just unmounted lets go of it moments later).
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// An offline start's state: what unlocked, and the signal that the backend is connected.
pub struct OfflineStart {
    connected: tokio::sync::watch::Receiver<bool>,
    /// The backend itself: the re-check must not be answered by the cache.
    lazy: Arc<LazyStorage>,
    config: Vec<u8>,
    masterkey: Option<Vec<u8>>,
}

/// Connects for `vault mount`: online as [`session::connect_existing_full`], or offline from the
/// cache when the server does not answer within `wait` and the cache knows the vault.
pub async fn connect_for_mount(
    storage_arg: &str,
    secrets: &Secrets,
    wait: Duration,
) -> CliResult<(Existing, Option<OfflineStart>)> {
    let spec = storage_arg::parse(storage_arg)?;
    let remote = matches!(
        spec,
        StorageSpec::Sftp(_) | StorageSpec::Dav { .. } | StorageSpec::WebDavUrl(_)
    );
    let key = super::remember::storage_key(storage_arg, &spec, None)
        .unwrap_or_else(|| storage_arg.into());
    let index = match secrets.connect.cache.mode_for(false) {
        CacheMode::Metadata | CacheMode::Full if remote => cache::read_index(&key),
        _ => None,
    };
    let Some(dir) = index else {
        return Ok((
            session::connect_existing_full(storage_arg, secrets).await?,
            None,
        ));
    };
    let attempt = attempt_fn(storage_arg, &spec, secrets);
    let mut first = tokio::spawn(attempt());
    let waited = tokio::time::timeout(wait, &mut first).await;
    let pending: Connecting = match waited {
        Ok(Ok(Ok(storage))) => {
            let (storage, cached) = cache::wrap(storage, false, &secrets.connect.cache);
            return Ok((
                session::check_vault(storage_arg, storage, cached, None).await?,
                None,
            ));
        }
        Ok(Ok(Err(e))) if e.exit != Exit::Unreachable => return Err(e),
        Ok(Ok(Err(e))) => {
            tracing::info!("{}", e.message);
            Box::pin(async { Err::<Arc<dyn Storage>, String>("refused".to_owned()) })
        }
        Ok(Err(e)) => return Err(CliError::other(format!("connect failed: {e}"))),
        Err(_) => Box::pin(async move {
            match first.await {
                Ok(r) => r.map_err(|e| e.message),
                Err(e) => Err(e.to_string()),
            }
        }),
    };
    let reconnect: Reconnect = Box::new(move || -> Connecting {
        let a = attempt();
        Box::pin(async move { a.await.map_err(|e| e.message) })
    });
    // An SFTP login bounds its own network waits (not the time a person takes to answer):
    // an attempt waiting for `vault auth` must not be cut off.
    let limit = (!matches!(spec, StorageSpec::Sftp(_))).then_some(ATTEMPT_LIMIT);
    start_offline(storage_arg, secrets, &dir, pending, reconnect, limit).await
}

type Attempt = std::pin::Pin<
    Box<dyn std::future::Future<Output = CliResult<Arc<dyn Storage>>> + Send + 'static>,
>;

/// One connect to the backend, as often as asked.
fn attempt_fn(
    storage_arg: &str,
    spec: &StorageSpec,
    secrets: &Secrets,
) -> impl Fn() -> Attempt + Send + Sync + 'static {
    let (arg, spec, secrets) = (storage_arg.to_owned(), spec.clone(), secrets.clone());
    move || -> Attempt {
        let (arg, spec, secrets) = (arg.clone(), spec.clone(), secrets.clone());
        Box::pin(async move {
            let (storage, _) = super::connect::connect_backend(
                &arg,
                &spec,
                Purpose::Open,
                &secrets,
                &secrets.connect,
            )
            .await?;
            if matches!(spec, StorageSpec::Dav { .. } | StorageSpec::WebDavUrl(_)) {
                probe(&arg, storage.as_ref()).await?;
            }
            Ok(storage)
        })
    }
}

/// A WebDAV connect sends nothing (the first request is the vault's own): one request to the
/// server, so that "connected" means the server answered.
async fn probe(storage_arg: &str, storage: &dyn Storage) -> CliResult<()> {
    let path = StoragePath::new("vault.cryptomator").map_err(|e| CliError::other(e.to_string()))?;
    match storage.metadata(&path).await {
        // Answered: whether a vault lives there is for the unlock to say.
        Ok(_) => Ok(()),
        Err(e)
            if e.kind() != vault_storage::StorageErrorKind::Unavailable
                && e.kind() != vault_storage::StorageErrorKind::AuthenticationFailed =>
        {
            Ok(())
        }
        Err(e) => Err(CliError::new(
            super::exit::exit_for_storage_kind(e.kind()),
            format!(
                "cannot reach storage {}: {e}",
                vault_webdav::redact_password(storage_arg)
            ),
        )),
    }
}

async fn start_offline(
    storage_arg: &str,
    secrets: &Secrets,
    dir: &std::path::Path,
    pending: Connecting,
    reconnect: Reconnect,
    limit: Option<Duration>,
) -> CliResult<(Existing, Option<OfflineStart>)> {
    let unreachable = |why: String| {
        CliError::new(
            Exit::Unreachable,
            format!("cannot reach storage {storage_arg}, and cannot start from its cache: {why}"),
        )
    };
    let lazy = Arc::new(LazyStorage::spawn_with_limit(
        vault_webdav::redact_password(storage_arg),
        pending,
        reconnect,
        limit,
    ));
    let connected = lazy.connected();
    let backend = lazy.clone();
    let store = Store::open_waiting(dir, LOCK_WAIT).map_err(|e| unreachable(e.to_string()))?;
    let (_, cached) = cache::wrap(lazy, false, &secrets.connect.cache);
    let cached: Arc<CachedStorage> =
        cached.ok_or_else(|| unreachable("the cache is off".into()))?;
    cached.attach(store);
    let storage: Arc<dyn Storage> = cached.clone();
    let config = read_kept(storage.as_ref(), "vault.cryptomator")
        .await
        .map_err(|e| unreachable(format!("it holds no vault.cryptomator ({e})")))?;
    let masterkey = read_kept(storage.as_ref(), "masterkey.cryptomator")
        .await
        .ok();
    tracing::warn!(cache = %dir.display(), "storage {} unreachable: mounting from the metadata cache (offline); connecting in the background", vault_webdav::redact_password(storage_arg));
    eprintln!(
        "vault: {} unreachable: mounting from the cache (offline); the connection is retried in the background",
        vault_webdav::redact_password(storage_arg)
    );
    let existing = Existing {
        storage,
        cached: Some(cached),
        config: config.clone(),
        s3: None,
    };
    Ok((
        existing,
        Some(OfflineStart {
            connected,
            lazy: backend,
            config,
            masterkey,
        }),
    ))
}

async fn read_kept(storage: &dyn Storage, name: &str) -> Result<Vec<u8>, String> {
    let path = StoragePath::new(name).map_err(|e| e.to_string())?;
    storage
        .read_at(&path, 0, session::MAX_CONFIG + 1)
        .await
        .map(|b| b.to_vec())
        .map_err(|e| e.to_string())
}

impl OfflineStart {
    /// Once the backend is connected: reads the key files from the server (not the cache),
    /// compares them with those this mount unlocked with (a difference is logged), and reads
    /// them again through the cache so that its copies are the server's. The mount keeps its
    /// key either way (the password is gone): a changed password takes effect at the next
    /// mount, online or offline.
    pub fn watch(self, rt: &tokio::runtime::Handle, storage: Arc<dyn Storage>) {
        let mut connected = self.connected;
        let lazy = self.lazy;
        rt.spawn(async move {
            if connected.wait_for(|c| *c).await.is_err() {
                return;
            }
            let config = read_kept(lazy.as_ref(), "vault.cryptomator").await;
            let masterkey = read_kept(lazy.as_ref(), "masterkey.cryptomator").await;
            for name in ["vault.cryptomator", "masterkey.cryptomator"] {
                let _ = read_kept(storage.as_ref(), name).await;
            }
            match (config, masterkey) {
                (Ok(c), Ok(m)) if c == self.config && Some(&m) == self.masterkey.as_ref() => {
                    tracing::warn!("online again: vault.cryptomator and masterkey.cryptomator unchanged on the server");
                }
                (Ok(_), Ok(_)) => {
                    tracing::warn!("online again: vault.cryptomator or masterkey.cryptomator differs from the cached copy this mount unlocked with (password changed on another device?); the cache now holds the server's copies; this mount keeps its current key: unmount and mount again to unlock with the server's files");
                }
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!(error = %e, "online again, but the key files could not be read from the server to re-check them");
                }
            }
        });
    }
}
