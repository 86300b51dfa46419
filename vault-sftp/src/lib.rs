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

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::stream::{FuturesOrdered, FuturesUnordered, StreamExt};
use russh_sftp::client::RawSftpSession;
use russh_sftp::client::error::Error as RawError;
use russh_sftp::protocol::{FileAttributes, OpenFlags, Packet, StatusCode};
use tokio::io::AsyncReadExt;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tracing::{debug, info, warn};
use vault_storage::{
    Body, Capabilities, DirEntry, EntryKind, Metadata, RenameMode, SpaceInfo, Storage,
    StorageError, StorageErrorKind, StoragePath, WriteMode,
};

mod config;
mod conn;
mod error;
mod hostkey;
pub mod known_hosts;
mod pacer;
mod prompt;
mod replace;
pub mod text;

pub use config::{
    HostSettings, RemoteRoot, SftpConfig, SftpUrl, parse_sftp_url, ssh_config_lookup,
};
pub use error::SftpError;
pub use prompt::{PromptError, Prompter, ServerQuestion};

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

/// Why one attempt of an operation failed.
enum OpError {
    /// The server answered with a status.
    Status(StatusCode, String),
    /// A fully classified error.
    Storage(StorageError),
    /// The connection or channel broke, or a request timed out.
    Transport(String, bool),
}

impl From<RawError> for OpError {
    fn from(e: RawError) -> Self {
        match e {
            RawError::Status(s) => OpError::Status(s.status_code, s.error_message),
            RawError::Timeout => OpError::Transport("request timed out".into(), true),
            RawError::Limited(m) => OpError::Storage(StorageError::with_source(
                StorageErrorKind::Other,
                &StoragePath::root(),
                format!("server limit: {m}"),
            )),
            other => OpError::Transport(other.to_string(), false),
        }
    }
}

/// How to read a bare status answer of a path request (see `Inner::request_explained`).
struct Explain {
    /// For which statuses the path is worth a stat.
    look: fn(StatusCode) -> bool,
    /// The real cause, from the status and what the stat found (`None`: report the status).
    cause: fn(StatusCode, Option<&FileAttributes>) -> Option<StorageErrorKind>,
}

/// Whether an operation may be repeated on a new connection after the old one
/// broke while it was in flight.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    Yes,
    No,
}

fn status_kind(code: &StatusCode) -> StorageErrorKind {
    match code {
        StatusCode::NoSuchFile => StorageErrorKind::NotFound,
        StatusCode::PermissionDenied => StorageErrorKind::PermissionDenied,
        StatusCode::OpUnsupported => StorageErrorKind::Unsupported,
        StatusCode::NoConnection | StatusCode::ConnectionLost => StorageErrorKind::Unavailable,
        _ => StorageErrorKind::Other,
    }
}

/// The error of a status reply; the server's message is shown C-escaped (see [`text`]).
fn status_error(path: &StoragePath, code: StatusCode, msg: String) -> StorageError {
    let kind = status_kind(&code);
    if msg.is_empty() {
        StorageError::with_source(kind, path, format!("sftp status {code:?}"))
    } else {
        // The message is the server's: every control character shown escaped.
        StorageError::with_source(
            kind,
            path,
            format!("sftp status {code:?}: {}", text::c_escape(&msg)),
        )
    }
}

fn mtime_of(a: &FileAttributes) -> Option<SystemTime> {
    a.mtime
        .map(|s| UNIX_EPOCH + Duration::from_secs(u64::from(s)))
}

fn metadata_of(a: &FileAttributes) -> Metadata {
    if a.is_dir() {
        Metadata {
            kind: EntryKind::Dir,
            size: 0,
            modified: mtime_of(a),
        }
    } else {
        Metadata {
            kind: EntryKind::File,
            size: a.size.unwrap_or(0),
            modified: mtime_of(a),
        }
    }
}

/// SFTP string encoding of an extension argument.
fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u32).to_be_bytes());
    buf.extend_from_slice(s.as_bytes());
}

fn expect_ok(p: Packet) -> Result<(), OpError> {
    match p {
        Packet::Status(s) if s.status_code == StatusCode::Ok => Ok(()),
        Packet::Status(s) => Err(OpError::Status(s.status_code, s.error_message)),
        _ => Err(OpError::Transport("unexpected reply packet".into(), false)),
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
            host_keys: Arc::new(hostkey::HostKeys::new(&config)),
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
            let bye = c
                .handle
                .disconnect(russh::Disconnect::ByApplication, "", "en");
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

impl Inner {
    fn cfg(&self) -> &SftpConfig {
        &self.ctx.cfg
    }

    fn notify(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    /// A live connection, reconnecting in the background if needed; waits
    /// until `deadline` at most.
    async fn conn(
        self: &Arc<Self>,
        deadline: Instant,
        path: &StoragePath,
    ) -> Result<Arc<Conn>, StorageError> {
        let mut rx = self.changed.subscribe();
        let mut start_epoch: Option<u64> = None;
        loop {
            {
                let mut st = self.state.lock().map_err(|_| {
                    StorageError::with_source(StorageErrorKind::Other, path, "state lock poisoned")
                })?;
                if let Some(c) = &st.conn {
                    if !c.is_dead() {
                        return Ok(c.clone());
                    }
                    st.conn = None;
                }
                if let Some(e0) = start_epoch
                    && st.epoch > e0
                    && !st.reconnecting
                    && let Some(err) = &st.last_error
                    && !err.is_transient()
                {
                    // The user's answer was refused (or the host key): report it.
                    return Err(StorageError::with_source(
                        err.storage_kind(),
                        path,
                        err.to_string(),
                    ));
                }
                if !st.reconnecting {
                    st.reconnecting = true;
                    let me = self.clone();
                    tokio::spawn(async move { me.reconnect_task().await });
                }
                start_epoch.get_or_insert(st.epoch);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => {
                    let why = self
                        .state
                        .lock()
                        .ok()
                        .and_then(|s| s.last_error.as_ref().map(|e| e.to_string()))
                        .unwrap_or_else(|| "connection lost, not back in time".into());
                    return Err(StorageError::with_source(
                        StorageErrorKind::Unavailable,
                        path,
                        why,
                    ));
                }
            }
        }
    }

    async fn reconnect_task(self: Arc<Self>) {
        let mut started = Instant::now();
        let mut delay = Duration::from_millis(250);
        loop {
            let asked_before = self.ctx.activity.asked.load(Ordering::SeqCst);
            let generation = match self.state.lock() {
                Ok(mut s) => {
                    s.generation += 1;
                    s.generation
                }
                Err(_) => return,
            };
            debug!(generation, "reconnecting");
            let result = self.ctx.establish(generation).await;
            if self.ctx.activity.asked.load(Ordering::SeqCst) != asked_before {
                // Time spent waiting for a person (a new code) is not network
                // time: the budget starts again after an attempt that asked.
                started = Instant::now();
            }
            let retry_later = {
                let Ok(mut st) = self.state.lock() else {
                    return;
                };
                match result {
                    Ok(conn) => {
                        info!(generation, "sftp connection re-established");
                        self.reconnects.fetch_add(1, Ordering::Relaxed);
                        let conn = Arc::new(conn);
                        conn.watch();
                        let orphans: Vec<String> = self
                            .temps
                            .lock()
                            .map(|mut t| {
                                let (old, keep): (Vec<_>, Vec<_>) =
                                    t.drain(..).partition(|(g, _)| *g < generation);
                                *t = keep;
                                old.into_iter().map(|(_, name)| name).collect()
                            })
                            .unwrap_or_default();
                        let backups = self.backups.take_older(generation);
                        if !orphans.is_empty() || !backups.is_empty() {
                            let c = conn.clone();
                            tokio::spawn(async move {
                                // Old versions first: a temp is never the only copy of an object.
                                replace::settle(&c.meta, backups).await;
                                for tmp in orphans {
                                    let r = c.meta.remove(tmp.clone()).await;
                                    debug!(%tmp, ok = r.is_ok(), "removed temp file of an interrupted write");
                                }
                            });
                        }
                        st.conn = Some(conn);
                        st.reconnecting = false;
                        st.last_error = None;
                        st.epoch += 1;
                        false
                    }
                    Err(e) if e.is_transient() && started.elapsed() < self.cfg().reconnect_wait => {
                        debug!("reconnect attempt failed: {e}");
                        st.last_error = Some(Arc::new(e));
                        true
                    }
                    Err(e) => {
                        warn!("reconnect failed: {e}");
                        st.last_error = Some(Arc::new(e));
                        st.reconnecting = false;
                        st.epoch += 1;
                        false
                    }
                }
            };
            if !retry_later {
                self.notify();
                return;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(3));
        }
    }

    /// Runs `op` on a live connection; retries it on a new connection after a
    /// transport failure when `retry` allows and time is left.
    async fn run<T, F, Fut>(
        self: &Arc<Self>,
        path: &StoragePath,
        retry: Retry,
        op: F,
    ) -> Result<T, StorageError>
    where
        F: Fn(Arc<Conn>) -> Fut,
        Fut: Future<Output = Result<T, OpError>>,
    {
        let deadline = Instant::now() + self.cfg().reconnect_wait;
        loop {
            let conn = self.conn(deadline, path).await?;
            let result = tokio::select! {
                r = op(conn.clone()) => r,
                () = conn.died() => Err(OpError::Transport("connection lost".into(), false)),
            };
            match result {
                Ok(v) => return Ok(v),
                Err(OpError::Status(code, msg)) => return Err(status_error(path, code, msg)),
                Err(OpError::Storage(e)) => return Err(e),
                Err(OpError::Transport(msg, timed_out)) => {
                    if !timed_out || conn.handle.is_closed() {
                        conn.broken.store(true, Ordering::Relaxed);
                    }
                    debug!(%path, %msg, generation = conn.generation, "transport failure");
                    if retry == Retry::Yes && !timed_out && Instant::now() < deadline {
                        continue;
                    }
                    return Err(StorageError::with_source(
                        StorageErrorKind::Unavailable,
                        path,
                        msg,
                    ));
                }
            }
        }
    }

    fn remote(conn: &Conn, path: &StoragePath) -> String {
        if path.is_root() {
            conn.root.clone()
        } else if conn.root == "/" {
            format!("/{}", path.as_str())
        } else {
            format!("{}/{}", conn.root, path.as_str())
        }
    }

    fn channel<'a>(
        &'a self,
        conn: &'a Conn,
        bulk: bool,
    ) -> (&'a RawSftpSession, &'a Arc<Semaphore>, Option<&'a Pacer>) {
        if bulk {
            (&conn.bulk, &self.bulk_handles, Some(&conn.pacer))
        } else {
            (&conn.meta, &self.meta_handles, None)
        }
    }

    /// Stat; `None` when the path does not exist.
    /// Runs one path request that must not be repeated on a new connection. OpenSSH folds
    /// many errnos into a bare "failure" or "no such file" status, so for the statuses
    /// `explain.look` names the path is stat'ed and `explain.cause` may name the real error
    /// from what is there; otherwise the status is reported as the server sent it.
    async fn request_explained<F, Fut>(
        self: &Arc<Self>,
        path: &StoragePath,
        explain: Explain,
        request: F,
    ) -> Result<(), StorageError>
    where
        F: Fn(Arc<Conn>, String) -> Fut,
        Fut: Future<Output = Result<(), RawError>>,
    {
        self.run(path, Retry::No, |conn| {
            let request = &request;
            async move {
                let remote = Inner::remote(&conn, path);
                match request(Arc::clone(&conn), remote.clone()).await {
                    Ok(()) => Ok(()),
                    Err(RawError::Status(s)) if (explain.look)(s.status_code) => {
                        let there = Inner::stat_opt(&conn.meta, &remote).await?;
                        match (explain.cause)(s.status_code, there.as_ref()) {
                            Some(kind) => {
                                Err(OpError::Storage(StorageError::new(kind, path.clone())))
                            }
                            None => Err(OpError::Status(s.status_code, s.error_message)),
                        }
                    }
                    Err(e) => Err(e.into()),
                }
            }
        })
        .await
    }

    async fn stat_opt(
        sftp: &RawSftpSession,
        remote: &str,
    ) -> Result<Option<FileAttributes>, OpError> {
        match sftp.stat(remote.to_owned()).await {
            Ok(a) => Ok(Some(a.attrs)),
            Err(RawError::Status(s)) if s.status_code == StatusCode::NoSuchFile => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn forget_temp(&self, tmp: &str) {
        if let Ok(mut t) = self.temps.lock() {
            t.retain(|(_, n)| n != tmp);
        }
    }

    fn tmp_name(&self) -> String {
        let n = self.tmp_counter.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        format!(".vault-tmp-{}-{n}-{nanos:08x}", std::process::id())
    }

    /// Pipelined read of `len` bytes at `offset` from an open handle.
    async fn read_range(
        &self,
        sftp: &RawSftpSession,
        pacer: Option<&Pacer>,
        handle: &str,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, OpError> {
        let chunk = self.cfg().chunk_size.max(1024) as usize;
        let depth = self.cfg().pipeline_depth.max(1);
        let mut out = BytesMut::with_capacity(len.min(64 << 20));
        let mut next = 0usize; // next byte (relative) to request
        let mut inflight: FuturesOrdered<_> = FuturesOrdered::new();
        let mut eof = false;
        loop {
            while !eof && next < len && inflight.len() < depth {
                let n = chunk.min(len - next);
                let Some(permit) = pace(pacer, n, inflight.is_empty()).await else {
                    break;
                };
                let off = offset + next as u64;
                let h = handle.to_owned();
                inflight.push_back(async move {
                    let r = sftp.read(h, off, n as u32).await;
                    if let (Ok(_), Some(p)) = (&r, permit) {
                        p.acked();
                    }
                    (off, n, r)
                });
                next += n;
            }
            let Some((off, want, res)) = self.no_stall(inflight.next()).await? else {
                break;
            };
            if eof {
                continue;
            }
            match res {
                Ok(d) => {
                    // Never more than was asked for, whatever the server sends.
                    let got = d.data.len().min(want);
                    out.extend_from_slice(&d.data[..got]);
                    if got < want {
                        // Short read: either end of file or a server cap. Fill the
                        // gap in order; later replies already in flight are dropped
                        // and requested again.
                        let mut pos = off + got as u64;
                        let end = off + want as u64;
                        while pos < end {
                            let ask = sftp.read(handle.to_owned(), pos, (end - pos) as u32);
                            match self.no_stall(ask).await? {
                                Ok(d) if !d.data.is_empty() => {
                                    let n = d.data.len().min((end - pos) as usize);
                                    pos += n as u64;
                                    out.extend_from_slice(&d.data[..n]);
                                }
                                Ok(_) => {
                                    eof = true;
                                    break;
                                }
                                Err(RawError::Status(s)) if s.status_code == StatusCode::Eof => {
                                    eof = true;
                                    break;
                                }
                                Err(e) => return Err(e.into()),
                            }
                        }
                    }
                }
                Err(RawError::Status(s)) if s.status_code == StatusCode::Eof => eof = true,
                Err(e) => return Err(e.into()),
            }
            if eof {
                // Drain the rest without using their data.
                while inflight.next().await.is_some() {}
                break;
            }
        }
        Ok(out.freeze())
    }

    /// `reply`, unless the server sends nothing for [`STALL_LIMIT`] (or the request timeout,
    /// if shorter): then the operation fails without a retry on a new connection (the
    /// connection itself stays, for every other operation).
    async fn no_stall<T>(&self, reply: impl Future<Output = T>) -> Result<T, OpError> {
        let limit = STALL_LIMIT.min(self.cfg().request_timeout);
        tokio::time::timeout(limit, reply).await.map_err(|_| {
            OpError::Transport(
                format!("the server sent no reply for {}s", limit.as_secs()),
                true,
            )
        })
    }

    /// Pipelined write of `data` at `offset` to an open handle.
    async fn write_range(
        &self,
        sftp: &RawSftpSession,
        pacer: Option<&Pacer>,
        handle: &str,
        offset: u64,
        data: &Bytes,
    ) -> Result<(), OpError> {
        let chunk = self.cfg().chunk_size.max(1024) as usize;
        let depth = self.cfg().pipeline_depth.max(1);
        let mut inflight = FuturesUnordered::new();
        let mut pos = 0usize;
        loop {
            while pos < data.len() && inflight.len() < depth {
                let n = chunk.min(data.len() - pos);
                let Some(permit) = pace(pacer, n, inflight.is_empty()).await else {
                    break;
                };
                let piece = data.slice(pos..pos + n).to_vec();
                let h = handle.to_owned();
                let off = offset + pos as u64;
                inflight.push(async move {
                    let r = sftp.write(h, off, piece).await;
                    if let (Ok(_), Some(p)) = (&r, permit) {
                        p.acked();
                    }
                    r
                });
                pos += n;
            }
            match inflight.next().await {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            }
        }
    }

    /// Streams `reader` (exactly `len` bytes) into an open handle, pipelined.
    async fn write_stream(
        &self,
        sftp: &RawSftpSession,
        pacer: Option<&Pacer>,
        handle: &str,
        len: u64,
        reader: &mut (dyn tokio::io::AsyncRead + Send + Unpin),
        path: &StoragePath,
    ) -> Result<(), OpError> {
        let chunk = self.cfg().chunk_size.max(1024) as usize;
        let depth = self.cfg().pipeline_depth.max(1);
        let mut inflight = FuturesUnordered::new();
        let mut pos = 0u64;
        loop {
            while pos < len && inflight.len() < depth {
                let n = (chunk as u64).min(len - pos) as usize;
                let Some(permit) = pace(pacer, n, inflight.is_empty()).await else {
                    break;
                };
                let mut buf = vec![0u8; n];
                reader.read_exact(&mut buf).await.map_err(|e| {
                    OpError::Storage(StorageError::with_source(
                        StorageErrorKind::Other,
                        path,
                        format!("reading the body: {e}"),
                    ))
                })?;
                let h = handle.to_owned();
                let off = pos;
                inflight.push(async move {
                    let r = sftp.write(h, off, buf).await;
                    if let (Ok(_), Some(p)) = (&r, permit) {
                        p.acked();
                    }
                    r
                });
                pos += n as u64;
            }
            match inflight.next().await {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            }
        }
    }

    /// Closes a read-only handle without waiting for the reply (saves a round
    /// trip); the handle slot is freed once the server answered.
    fn close_later(
        conn: &Arc<Conn>,
        bulk: bool,
        handle: String,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) {
        let conn = conn.clone();
        tokio::spawn(async move {
            let sftp = if bulk { &conn.bulk } else { &conn.meta };
            Self::close_quietly(sftp, handle).await;
            drop(permit);
        });
    }

    async fn close_quietly(sftp: &RawSftpSession, handle: String) {
        if let Err(e) = sftp.close(handle).await {
            debug!("close failed: {e}");
        }
    }

    /// Failure to open a file for reading: tells a folder from other failures.
    async fn explain_open_failure(
        sftp: &RawSftpSession,
        remote: &str,
        path: &StoragePath,
        e: RawError,
    ) -> OpError {
        if let RawError::Status(s) = &e
            && s.status_code == StatusCode::Failure
            && let Ok(Some(a)) = Self::stat_opt(sftp, remote).await
            && a.is_dir()
        {
            return OpError::Storage(StorageError::new(
                StorageErrorKind::IsADirectory,
                path.clone(),
            ));
        }
        e.into()
    }

    async fn do_write(
        self: &Arc<Self>,
        conn: &Conn,
        path: &StoragePath,
        body: WriteBody<'_>,
        mode: WriteMode,
        rename_sent: &std::sync::atomic::AtomicBool,
    ) -> Result<(), OpError> {
        let bulk = body.len() as usize > BULK_THRESHOLD;
        let (sftp, sem, pacer) = self.channel(conn, bulk);
        let target = Self::remote(conn, path);
        let parent = path.parent().unwrap_or_default();
        let tmp = Self::remote(
            conn,
            &parent.join(&self.tmp_name()).map_err(OpError::Storage)?,
        );
        if mode == WriteMode::CreateNew && Self::stat_opt(sftp, &target).await?.is_some() {
            return Err(OpError::Storage(StorageError::new(
                StorageErrorKind::AlreadyExists,
                path.clone(),
            )));
        }
        let _permit = sem
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| OpError::Transport("closed".into(), false))?;
        if let Ok(mut t) = self.temps.lock() {
            t.push((conn.generation, tmp.clone()));
        }
        let flags = OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::EXCLUDE | OpenFlags::TRUNCATE;
        let attrs = FileAttributes {
            permissions: Some(0o644),
            ..FileAttributes::empty()
        };
        let handle = match sftp.open(tmp.clone(), flags, attrs).await {
            Ok(h) => h.handle,
            Err(RawError::Status(s)) if s.status_code == StatusCode::NoSuchFile => {
                self.forget_temp(&tmp);
                return Err(OpError::Storage(StorageError::new(
                    StorageErrorKind::NotFound,
                    path.clone(),
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let upload = async {
            match body {
                WriteBody::Bytes(b) => self.write_range(sftp, pacer, &handle, 0, b).await?,
                WriteBody::Stream(len, reader) => {
                    self.write_stream(sftp, pacer, &handle, len, reader, path)
                        .await?
                }
            }
            if conn.ext.fsync {
                sftp.fsync(handle.clone()).await?;
            }
            Ok::<(), OpError>(())
        }
        .await;
        let closed = sftp.close(handle).await;
        let result = match (upload, closed) {
            (Err(e), _) => Err(e),
            (Ok(()), Err(e)) => Err(e.into()),
            (Ok(()), Ok(_)) => {
                rename_sent.store(true, Ordering::SeqCst);
                self.commit_rename(conn, sftp, &tmp, &target, path, mode)
                    .await
            }
        };
        let gone = match &result {
            Ok(()) => true,
            // On a broken link the request would only wait for its timeout:
            // the temp is removed after the reconnect.
            Err(OpError::Transport(_, false)) => false,
            // Best effort; on a dead link it is retried after the reconnect.
            Err(_) => matches!(
                tokio::time::timeout(Duration::from_secs(5), sftp.remove(tmp.clone())).await,
                Ok(Ok(_))
            ),
        };
        if gone {
            self.forget_temp(&tmp);
        }
        result
    }

    async fn commit_rename(
        &self,
        conn: &Conn,
        sftp: &RawSftpSession,
        tmp: &str,
        target: &str,
        path: &StoragePath,
        mode: WriteMode,
    ) -> Result<(), OpError> {
        let r = match mode {
            WriteMode::Overwrite => self.rename_replace(conn, sftp, tmp, target).await,
            WriteMode::CreateNew => sftp
                .rename(tmp.to_owned(), target.to_owned())
                .await
                .map(|_| ())
                .map_err(OpError::from),
        };
        match r {
            Ok(()) => Ok(()),
            Err(OpError::Status(StatusCode::Failure, msg)) => {
                match Self::stat_opt(sftp, target).await? {
                    Some(a) if a.is_dir() => Err(OpError::Storage(StorageError::new(
                        StorageErrorKind::IsADirectory,
                        path.clone(),
                    ))),
                    Some(_) if mode == WriteMode::CreateNew => Err(OpError::Storage(
                        StorageError::new(StorageErrorKind::AlreadyExists, path.clone()),
                    )),
                    _ => Err(OpError::Status(StatusCode::Failure, msg)),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn rename_replace(
        &self,
        conn: &Conn,
        sftp: &RawSftpSession,
        from: &str,
        to: &str,
    ) -> Result<(), OpError> {
        if conn.ext.posix_rename {
            let mut data = Vec::with_capacity(from.len() + to.len() + 8);
            put_str(&mut data, from);
            put_str(&mut data, to);
            return expect_ok(sftp.extended("posix-rename@openssh.com", data).await?);
        }
        // Without posix-rename: the old version aside, the new one in, the old one away.
        replace::replace_keeping_old(sftp, &self.backups, conn.generation, from, to).await
    }
}

/// A pacer permit for one request of `n` bytes: `Some(None)` without a pacer,
/// `None` when the budget is full and the caller has requests to wait on,
/// waiting for one when it has none.
async fn pace(
    pacer: Option<&Pacer>,
    n: usize,
    nothing_in_flight: bool,
) -> Option<Option<pacer::Permit<'_>>> {
    let Some(p) = pacer else { return Some(None) };
    match p.try_acquire(n) {
        Some(permit) => Some(Some(permit)),
        None if nothing_in_flight => Some(Some(p.acquire(n).await)),
        None => None,
    }
}

enum WriteBody<'a> {
    Bytes(&'a Bytes),
    Stream(u64, &'a mut (dyn tokio::io::AsyncRead + Send + Unpin)),
}

impl WriteBody<'_> {
    fn len(&self) -> u64 {
        match self {
            WriteBody::Bytes(b) => b.len() as u64,
            WriteBody::Stream(n, _) => *n,
        }
    }
}

#[async_trait]
impl Storage for SftpStorage {
    fn capabilities(&self) -> Capabilities {
        self.inner.caps
    }

    fn describe(&self) -> String {
        self.inner.describe.clone()
    }

    async fn metadata(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        let inner = &self.inner;
        inner
            .run(path, Retry::Yes, |conn| async move {
                let remote = Inner::remote(&conn, path);
                let a = conn.meta.stat(remote).await?;
                Ok(metadata_of(&a.attrs))
            })
            .await
    }

    async fn list_dir(&self, path: &StoragePath) -> Result<Vec<DirEntry>, StorageError> {
        let inner = &self.inner;
        inner
            .run(path, Retry::Yes, |conn| async move {
                let sftp = &conn.meta;
                let remote = Inner::remote(&conn, path);
                let permit = inner
                    .meta_handles
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| OpError::Transport("closed".into(), false))?;
                let handle = match sftp.opendir(remote.clone()).await {
                    Ok(h) => h.handle,
                    // OpenSSH maps ENOTDIR to "no such file": look before saying so.
                    Err(RawError::Status(s)) if s.status_code != StatusCode::PermissionDenied => {
                        if let Some(a) = Inner::stat_opt(sftp, &remote).await?
                            && !a.is_dir()
                        {
                            return Err(OpError::Storage(StorageError::new(
                                StorageErrorKind::NotADirectory,
                                path.clone(),
                            )));
                        }
                        return Err(OpError::Status(s.status_code, s.error_message));
                    }
                    Err(e) => return Err(e.into()),
                };
                let listed = async {
                    let mut entries = Vec::new();
                    let mut symlinks = Vec::new();
                    let mut done = false;
                    let mut name_bytes = 0usize;
                    while !done {
                        // Several readdir requests in flight: the server answers them in order.
                        let batch: Vec<_> = (0..READDIR_AHEAD)
                            .map(|_| sftp.readdir(handle.clone()))
                            .collect();
                        let replies = inner
                            .no_stall(futures::future::join_all(batch))
                            .await?;
                        for r in replies {
                            match r {
                                Ok(name) => {
                                    name_bytes = name.files.iter().fold(name_bytes, |n, f| {
                                        n.saturating_add(f.filename.len())
                                    });
                                    let count = entries.len() + symlinks.len() + name.files.len();
                                    if name_bytes > MAX_LIST_NAME_BYTES || count > MAX_LIST_ENTRIES
                                    {
                                        warn!(%path, count, name_bytes, "listing too large; the server may be hostile");
                                        return Err(OpError::Transport(
                                            format!(
                                                "the listing exceeds {MAX_LIST_ENTRIES} entries or {} MiB of names",
                                                MAX_LIST_NAME_BYTES >> 20
                                            ),
                                            true,
                                        ));
                                    }
                                    for f in name.files {
                                        if f.filename == "." || f.filename == ".." {
                                            continue;
                                        }
                                        if f.attrs.is_symlink() {
                                            symlinks.push(f.filename);
                                        } else {
                                            entries.push(DirEntry {
                                                name: f.filename,
                                                metadata: metadata_of(&f.attrs),
                                            });
                                        }
                                    }
                                }
                                Err(RawError::Status(s)) if s.status_code == StatusCode::Eof => {
                                    done = true
                                }
                                Err(e) => return Err(OpError::from(e)),
                            }
                        }
                    }
                    for name in symlinks {
                        let target = format!("{}/{}", remote.trim_end_matches('/'), name);
                        if let Some(a) = Inner::stat_opt(sftp, &target).await? {
                            entries.push(DirEntry {
                                name,
                                metadata: metadata_of(&a),
                            });
                        }
                    }
                    Ok(entries)
                }
                .await;
                Inner::close_later(&conn, false, handle, permit);
                listed
            })
            .await
    }

    async fn read_at(
        &self,
        path: &StoragePath,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, StorageError> {
        let inner = &self.inner;
        inner
            .run(path, Retry::Yes, |conn| async move {
                let (sftp, sem, pacer) = inner.channel(&conn, len > BULK_THRESHOLD);
                let remote = Inner::remote(&conn, path);
                let permit = sem
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| OpError::Transport("closed".into(), false))?;
                let handle = match sftp
                    .open(remote.clone(), OpenFlags::READ, FileAttributes::empty())
                    .await
                {
                    Ok(h) => h.handle,
                    Err(e) => return Err(Inner::explain_open_failure(sftp, &remote, path, e).await),
                };
                // SFTP offsets are signed on the server side: anything past i64::MAX is past the end.
                let len = usize::try_from((i64::MAX as u64).saturating_sub(offset))
                    .unwrap_or(usize::MAX)
                    .min(len);
                let r = if len == 0 {
                    Ok(Bytes::new())
                } else {
                    inner.read_range(sftp, pacer, &handle, offset, len).await
                };
                Inner::close_later(&conn, len > BULK_THRESHOLD, handle, permit);
                match r {
                    Err(OpError::Status(StatusCode::Failure, _))
                        if Inner::stat_opt(sftp, &remote)
                            .await?
                            .is_some_and(|a| a.is_dir()) =>
                    {
                        Err(OpError::Storage(StorageError::new(
                            StorageErrorKind::IsADirectory,
                            path.clone(),
                        )))
                    }
                    r => r,
                }
            })
            .await
    }

    async fn write(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        if path.is_root() {
            return Err(StorageError::new(
                StorageErrorKind::IsADirectory,
                path.clone(),
            ));
        }
        let inner = &self.inner;
        if body.len() <= RETRY_BUFFER_LIMIT {
            let bytes = body.into_bytes().await.map_err(|e| {
                StorageError::with_source(
                    StorageErrorKind::Other,
                    path,
                    format!("reading the body: {e}"),
                )
            })?;
            let bytes = &bytes;
            let rename_sent = &std::sync::atomic::AtomicBool::new(false);
            inner
                .run(path, Retry::Yes, |conn| async move {
                    // A CreateNew whose rename may have happened cannot be
                    // repeated (it would report AlreadyExists for our own object).
                    if mode == WriteMode::CreateNew && rename_sent.load(Ordering::SeqCst) {
                        return Err(OpError::Storage(StorageError::with_source(
                            StorageErrorKind::Unavailable,
                            path,
                            "connection lost while committing the new object; it may or may not exist",
                        )));
                    }
                    inner.do_write(&conn, path, WriteBody::Bytes(bytes), mode, rename_sent).await
                })
                .await
        } else {
            let len = body.len();
            let reader = tokio::sync::Mutex::new(Some(body.into_reader()));
            let reader = &reader;
            inner
                .run(path, Retry::No, |conn| async move {
                    let mut guard = reader.lock().await;
                    let Some(r) = guard.as_mut() else {
                        return Err(OpError::Storage(StorageError::with_source(
                            StorageErrorKind::Unavailable,
                            path,
                            "body already consumed",
                        )));
                    };
                    let sent = std::sync::atomic::AtomicBool::new(false);
                    let r = inner
                        .do_write(&conn, path, WriteBody::Stream(len, r.as_mut()), mode, &sent)
                        .await;
                    *guard = None;
                    r
                })
                .await
        }
    }

    async fn write_at(
        &self,
        path: &StoragePath,
        offset: u64,
        data: Bytes,
    ) -> Result<(), StorageError> {
        let inner = &self.inner;
        let data = &data;
        inner
            .run(path, Retry::Yes, |conn| async move {
                let (sftp, sem, pacer) = inner.channel(&conn, data.len() > BULK_THRESHOLD);
                let remote = Inner::remote(&conn, path);
                let _permit = sem
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| OpError::Transport("closed".into(), false))?;
                let handle = match sftp
                    .open(remote.clone(), OpenFlags::WRITE, FileAttributes::empty())
                    .await
                {
                    Ok(h) => h.handle,
                    Err(e) => return Err(Inner::explain_open_failure(sftp, &remote, path, e).await),
                };
                let r = inner.write_range(sftp, pacer, &handle, offset, data).await;
                let c = sftp.close(handle).await;
                r?;
                c?;
                Ok(())
            })
            .await
    }

    async fn set_len(&self, path: &StoragePath, len: u64) -> Result<(), StorageError> {
        let inner = &self.inner;
        inner
            .run(path, Retry::Yes, |conn| async move {
                let remote = Inner::remote(&conn, path);
                match Inner::stat_opt(&conn.meta, &remote).await? {
                    None => {
                        return Err(OpError::Storage(StorageError::new(
                            StorageErrorKind::NotFound,
                            path.clone(),
                        )));
                    }
                    Some(a) if a.is_dir() => {
                        return Err(OpError::Storage(StorageError::new(
                            StorageErrorKind::IsADirectory,
                            path.clone(),
                        )));
                    }
                    Some(_) => {}
                }
                conn.meta
                    .setstat(
                        remote,
                        FileAttributes {
                            size: Some(len),
                            ..FileAttributes::empty()
                        },
                    )
                    .await?;
                Ok(())
            })
            .await
    }

    async fn sync(&self, path: &StoragePath) -> Result<(), StorageError> {
        let inner = &self.inner;
        inner
            .run(path, Retry::Yes, |conn| async move {
                let sftp = &conn.meta;
                let remote = Inner::remote(&conn, path);
                if !conn.ext.fsync {
                    // Writes are acknowledged after the server's write(2); without
                    // fsync@openssh.com there is nothing more to ask for.
                    return match Inner::stat_opt(sftp, &remote).await? {
                        Some(_) => Ok(()),
                        None => Err(OpError::Storage(StorageError::new(
                            StorageErrorKind::NotFound,
                            path.clone(),
                        ))),
                    };
                }
                let _permit = inner
                    .meta_handles
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| OpError::Transport("closed".into(), false))?;
                let handle = match sftp
                    .open(remote.clone(), OpenFlags::READ, FileAttributes::empty())
                    .await
                {
                    Ok(h) => h.handle,
                    Err(e) => return Err(Inner::explain_open_failure(sftp, &remote, path, e).await),
                };
                let r = sftp.fsync(handle.clone()).await;
                Inner::close_quietly(sftp, handle).await;
                r?;
                Ok(())
            })
            .await
    }

    async fn create_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        let explain = Explain {
            look: |code| code == StatusCode::Failure,
            cause: |_, there| there.is_some().then_some(StorageErrorKind::AlreadyExists),
        };
        let attrs = || FileAttributes {
            permissions: Some(0o755),
            ..FileAttributes::empty()
        };
        self.inner
            .request_explained(path, explain, |conn, remote| async move {
                conn.meta.mkdir(remote, attrs()).await.map(drop)
            })
            .await
    }

    async fn remove_file(&self, path: &StoragePath) -> Result<(), StorageError> {
        let explain = Explain {
            look: |code| code != StatusCode::NoSuchFile,
            cause: |_, there| {
                there
                    .is_some_and(|a| a.is_dir())
                    .then_some(StorageErrorKind::IsADirectory)
            },
        };
        self.inner
            .request_explained(path, explain, |conn, remote| async move {
                conn.meta.remove(remote).await.map(drop)
            })
            .await
    }

    async fn remove_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        // OpenSSH maps ENOTDIR to "no such file": look before saying so.
        let explain = Explain {
            look: |_| true,
            cause: |code, there| match there {
                Some(a) if !a.is_dir() => Some(StorageErrorKind::NotADirectory),
                Some(_) if code == StatusCode::Failure => Some(StorageErrorKind::NotEmpty),
                _ => None,
            },
        };
        self.inner
            .request_explained(path, explain, |conn, remote| async move {
                conn.meta.rmdir(remote).await.map(drop)
            })
            .await
    }

    async fn rename(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        let inner = &self.inner;
        inner
            .run(from, Retry::No, |conn| async move {
                let sftp = &conn.meta;
                let (rf, rt) = (Inner::remote(&conn, from), Inner::remote(&conn, to));
                let r = match mode {
                    RenameMode::Replace => inner.rename_replace(&conn, sftp, &rf, &rt).await,
                    RenameMode::NoReplace => sftp
                        .rename(rf.clone(), rt.clone())
                        .await
                        .map(|_| ())
                        .map_err(OpError::from),
                };
                match r {
                    Ok(()) => Ok(()),
                    Err(OpError::Status(StatusCode::Failure, msg)) => {
                        if Inner::stat_opt(sftp, &rf).await?.is_none() {
                            return Err(OpError::Storage(StorageError::new(
                                StorageErrorKind::NotFound,
                                from.clone(),
                            )));
                        }
                        match Inner::stat_opt(sftp, &rt).await? {
                            Some(_) if mode == RenameMode::NoReplace => Err(OpError::Storage(
                                StorageError::new(StorageErrorKind::AlreadyExists, to.clone()),
                            )),
                            Some(a) if a.is_dir() => Err(OpError::Storage(StorageError::new(
                                StorageErrorKind::IsADirectory,
                                to.clone(),
                            ))),
                            _ => Err(OpError::Status(StatusCode::Failure, msg)),
                        }
                    }
                    Err(e) => Err(e),
                }
            })
            .await
    }

    async fn set_modified(
        &self,
        path: &StoragePath,
        modified: SystemTime,
    ) -> Result<(), StorageError> {
        let secs = modified
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let secs = u32::try_from(secs).map_err(|_| {
            StorageError::with_source(StorageErrorKind::Unsupported, path, "time beyond 2106")
        })?;
        let inner = &self.inner;
        inner
            .run(path, Retry::Yes, |conn| async move {
                let remote = Inner::remote(&conn, path);
                conn.meta
                    .setstat(
                        remote,
                        FileAttributes {
                            atime: Some(secs),
                            mtime: Some(secs),
                            ..FileAttributes::empty()
                        },
                    )
                    .await?;
                Ok(())
            })
            .await
    }

    async fn space(&self) -> Result<Option<SpaceInfo>, StorageError> {
        let inner = &self.inner;
        let root = StoragePath::root();
        inner
            .run(&root, Retry::Yes, |conn| async move {
                if !conn.ext.statvfs {
                    return Ok(None);
                }
                let v = conn.meta.statvfs(conn.root.clone()).await?;
                let unit = if v.fragment_size > 0 {
                    v.fragment_size
                } else {
                    v.block_size
                };
                Ok(Some(SpaceInfo {
                    total: v.blocks.saturating_mul(unit),
                    available: v.blocks_avail.saturating_mul(unit),
                }))
            })
            .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_status_message_is_shown_escaped() {
        let p = StoragePath::new("a.c9r").unwrap();
        let e = status_error(
            &p,
            StatusCode::Failure,
            "disk full\n\x1b[2Jvault: enter your password".into(),
        );
        let text = e.to_string();
        assert!(
            text.contains("disk full\\n\\x1b[2Jvault: enter your password"),
            "{text}"
        );
        assert!(!text.contains('\n') && !text.contains('\x1b'), "{text}");
    }
}
