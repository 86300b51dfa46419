//! SFTP storage backend: the traveller's connection.
//!
//! [`SftpStorage`] implements [`vault_storage::Storage`] over one
//! authenticated SSH connection (`sftp://[user@]host[:port]/path`, see
//! [`parse_sftp_url`] and [`SftpConfig::from_url`], which honours
//! `~/.ssh/config`).
//!
//! # Why `russh` + `russh-sftp` and not `ssh2`
//! The issue names `ssh2` (libssh2). libssh2 keeps one lock per session and
//! every call (channel read/write, SFTP request) blocks inside it, so all
//! SFTP requests of a mount are serialised: a listing waits behind a large
//! read, and a blocking session cannot keep many requests in flight without
//! one OS thread per request, each still taking the session lock in turn.
//! On a hotel link (80 ms RTT, 1 % loss) that caps throughput at
//! one request per round trip and makes `ls` wait for whole transfers.
//! `russh` is async: one task drives the connection while any number of
//! tasks send SFTP requests; `russh-sftp`'s raw session matches replies to
//! request ids, so a transfer keeps [`SftpConfig::pipeline_depth`] requests of
//! [`SftpConfig::chunk_size`] bytes in flight, and metadata calls use a
//! second SFTP channel on the same connection so they are not queued behind
//! file data in the first one. libssh2 also signs RSA only with SHA-1 in the
//! Debian build (refused by OpenSSH ≥ 8.8); russh uses rsa-sha2-256/512.
//!
//! # Login
//! In whatever order the server asks (partial success included): public
//! key from ssh-agent or the identity files (passphrase asked once through the
//! [`Prompter`] as `Passphrase for key FILE: ` and kept in memory, zeroized on
//! drop, for reconnects), keyboard-interactive (every prompt verbatim, echo
//! flag honoured, answers never kept: a TOTP code is single-use), password
//! (`Password for USER@HOST: `). Host keys are checked against known_hosts
//! (hashed entries included); unknown keys are asked about with their
//! `SHA256:` fingerprint, changed ones refused ([`SftpError::HostKeyChanged`]).
//!
//! # Resilience
//! SSH keepalives detect a dead link. A call that finds no live connection
//! waits at most [`SftpConfig::reconnect_wait`] while a background task
//! reconnects (re-using the held passphrase, asking the prompter for a new
//! keyboard-interactive answer), then fails with
//! [`StorageErrorKind::Unavailable`]. A single SFTP request waits at most
//! [`SftpConfig::request_timeout`]. Idempotent calls (reads, listings,
//! `write_at`, `set_len`, ...) are retried on the new connection; calls that
//! may have taken effect (`rename`, `create_dir`, `remove_*`) are not, they
//! fail with `Unavailable`. `write` uploads to a hidden temporary name
//! (`.vault-tmp-…`) and renames it over the target, so an interrupted write
//! leaves the previous object intact. Without `posix-rename@openssh.com` the
//! replace keeps the old object under a backup name until the new one is in
//! place (see `replace.rs`), so a dropped link never leaves neither.
//!
//! # Limits
//! russh-sftp reads SFTP handles as UTF-8 text; OpenSSH's handles are small
//! integers, valid UTF-8 while fewer than 128 handles are open at once, so
//! open handles are capped per channel.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tracing::info;
use vault_storage::{Capabilities, StorageError, StoragePath};

mod call;
mod config;
mod conn;
mod error;
mod handles;
mod hostkey;
pub mod known_hosts;
mod ops;
mod pacer;
mod prompt;
mod proxy;
mod read;
mod replace;
mod ssh_config;
mod storage;
mod temp_write;
pub mod text;
mod write;

pub use config::{JumpHost, RemoteRoot, SftpConfig, SftpUrl, parse_sftp_url};
pub use error::SftpError;
pub use prompt::{PromptError, Prompter, ServerQuestion};
pub use ssh_config::{HostSettings, Proxy, ssh_config_lookup};

use conn::{Conn, ConnCtx};
use pacer::Pacer;

/// Open SFTP handles per channel (see "Limits" above).
const MAX_OPEN_HANDLES: usize = 48;
/// Transfers larger than this use the bulk channel.
const BULK_THRESHOLD: usize = 64 * 1024;
/// `write` bodies up to this size are buffered so the upload can be retried
/// after a reconnect; larger ones stream once.
const RETRY_BUFFER_LIMIT: u64 = 16 * 1024 * 1024;
/// Readdir requests in flight for one listing.
const READDIR_AHEAD: usize = 8;
/// Bounds of one listing (names in bytes, entries): a server that streams an endless
/// READDIR fails the listing instead of growing the process's memory.
const MAX_LIST_NAME_BYTES: usize = 16 << 20;
const MAX_LIST_ENTRIES: usize = 200_000;
/// Longest wait for the next reply of a read or listing: a server that stops answering
/// fails the operation (EIO) instead of holding it for `request_timeout`. Replies arrive in
/// order, so while data flows the wait restarts with each one; 4 s leaves room for a 32 KiB
/// chunk over a 64 kbit/s link, and keeps a read the kernel retries once under 10 s.
const STALL_LIMIT: Duration = Duration::from_secs(4);

/// Connection state shared by all calls.
struct State {
    conn: Option<Arc<Conn>>,
    reconnecting: bool,
    /// Bumped each time a reconnect task ends.
    epoch: u64,
    last_error: Option<Arc<SftpError>>,
    generation: u64,
}

struct Inner {
    ctx: ConnCtx,
    state: Mutex<State>,
    changed: watch::Sender<u64>,
    meta_handles: Arc<Semaphore>,
    bulk_handles: Arc<Semaphore>,
    tmp_counter: AtomicU64,
    caps: Capabilities,
    describe: String,
    reconnects: AtomicU64,
    /// Temporary upload files not yet renamed or removed, with the connection
    /// generation that created them. Those of a dead connection (its upload
    /// was cut off) are removed after the reconnect.
    temps: Mutex<Vec<(u64, String)>>,
    /// Old versions kept aside by replaces a dropped link may cut off.
    backups: replace::PendingBackups,
}

/// An SFTP-backed [`Storage`]. Cheap to clone (shares one connection).
#[derive(Clone)]
pub struct SftpStorage {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SftpStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SftpStorage")
            .field("target", &self.inner.describe)
            .finish_non_exhaustive()
    }
}

impl SftpStorage {
    /// Connects and logs in (asking through `prompter` as needed), checks the
    /// remote folder exists, and returns the storage.
    pub async fn connect(
        config: SftpConfig,
        prompter: Arc<dyn Prompter>,
    ) -> Result<SftpStorage, SftpError> {
        let describe = format!(
            "sftp {}@{}:{} {}",
            config.user, config.host, config.port, config.root
        );
        let ctx = ConnCtx {
            jumps: conn::Hop::jumps(&config),
            target: conn::Hop::target(&config),
            cfg: config,
            prompter,
            secrets: Mutex::new(Default::default()),
            prompt_lock: tokio::sync::Mutex::new(()),
            activity: Default::default(),
        };
        let started = Instant::now();
        let conn = Arc::new(ctx.establish(1).await?);
        conn.watch();
        info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "sftp login done"
        );
        let caps = Capabilities {
            random_write: true,
            atomic_replace: conn.ext.posix_rename,
            atomic_dir_rename: true,
            max_name_len: 255,
            set_modified: true,
        };
        let (changed, _) = watch::channel(0);
        Ok(SftpStorage {
            inner: Arc::new(Inner {
                ctx,
                state: Mutex::new(State {
                    conn: Some(conn),
                    reconnecting: false,
                    epoch: 0,
                    last_error: None,
                    generation: 1,
                }),
                changed,
                meta_handles: Arc::new(Semaphore::new(MAX_OPEN_HANDLES)),
                bulk_handles: Arc::new(Semaphore::new(MAX_OPEN_HANDLES)),
                tmp_counter: AtomicU64::new(0),
                caps,
                describe,
                reconnects: AtomicU64::new(0),
                temps: Mutex::new(Vec::new()),
                backups: Default::default(),
            }),
        })
    }

    /// The absolute remote folder of the vault (resolved at login).
    pub fn remote_root(&self) -> Option<String> {
        self.current().map(|c| c.root.clone())
    }

    /// True while a live connection is held.
    pub fn is_connected(&self) -> bool {
        self.current().is_some_and(|c| !c.is_dead())
    }

    /// How many times the connection was re-established since `connect`.
    pub fn reconnect_count(&self) -> u64 {
        self.inner.reconnects.load(Ordering::Relaxed)
    }

    /// Drops the current connection; the next call reconnects (asking the
    /// prompter for a new keyboard-interactive answer). For `vault auth` and tests.
    pub async fn drop_connection(&self) {
        let old = self.inner.state.lock().ok().and_then(|mut s| s.conn.take());
        if let Some(c) = old {
            c.broken.store(true, Ordering::Relaxed);
            let bye = async {
                let _ = c
                    .handle
                    .disconnect(russh::Disconnect::ByApplication, "", "en")
                    .await;
                c.carriers.disconnect().await;
            };
            let _ = tokio::time::timeout(Duration::from_secs(2), bye).await;
        }
    }

    /// Reconnects now if the connection is gone (waits up to `reconnect_wait`).
    pub async fn ensure_connected(&self) -> Result<(), StorageError> {
        let deadline = Instant::now() + self.inner.ctx.cfg.reconnect_wait;
        self.inner
            .conn(deadline, &StoragePath::root())
            .await
            .map(|_| ())
    }

    fn current(&self) -> Option<Arc<Conn>> {
        self.inner.state.lock().ok().and_then(|s| s.conn.clone())
    }
}
