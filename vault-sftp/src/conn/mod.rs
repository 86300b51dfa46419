//! One authenticated SSH connection with two SFTP channels.
//!
//! Split by seam: this file connects, checks the host key and opens the
//! channels; `auth` logs in (public key, keyboard-interactive, password).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use russh::client::{self};
use russh::keys::PublicKeyOrCertificate;
use russh_sftp::client::RawSftpSession;
use russh_sftp::protocol::{FileAttributes, StatusCode};
use tracing::debug;
use zeroize::Zeroizing;

mod auth;
mod hop;

pub(crate) use hop::Hop;

use crate::handles::{self, Cached, WriteHandles};
use crate::hostkey::{HostKeys, Verdict};
use crate::known_hosts;
use crate::pacer::Pacer;
use crate::{Prompter, RemoteRoot, SftpConfig, SftpError};

/// Secrets kept for reconnects: key passphrases (zeroized on drop) and the
/// password. Keyboard-interactive answers are never kept: each login asks anew
/// (a TOTP code is single-use).
#[derive(Default)]
pub(crate) struct HeldSecrets {
    passphrases: HashMap<PathBuf, Zeroizing<String>>,
    /// By `USER@HOST:PORT` of the hop that took it (a jump host has its own).
    passwords: HashMap<String, Zeroizing<String>>,
}

/// What the connection needs from the storage object.
pub(crate) struct ConnCtx {
    pub cfg: SftpConfig,
    pub prompter: Arc<dyn Prompter>,
    pub secrets: Mutex<HeldSecrets>,
    /// Serialises host-key questions and passphrase prompts.
    pub prompt_lock: tokio::sync::Mutex<()>,
    /// Time spent waiting for the user does not count against the handshake limit.
    pub activity: Arc<Activity>,
    /// The jump hosts, outermost first (`ProxyJump`, `-J`). Each hop has its own
    /// known_hosts name and pinned key.
    pub jumps: Vec<Hop>,
    /// The server itself, the last hop.
    pub target: Hop,
}

/// Tracks whether a login is waiting for the user or for the network.
#[derive(Default)]
pub(crate) struct Activity {
    prompting: std::sync::atomic::AtomicUsize,
    /// Prompter calls so far (a reconnect attempt that asked the user does
    /// not count against `reconnect_wait`).
    pub asked: std::sync::atomic::AtomicU64,
    last: Mutex<Option<std::time::Instant>>,
}

impl Activity {
    fn touch(&self) {
        if let Ok(mut l) = self.last.lock() {
            *l = Some(std::time::Instant::now());
        }
    }

    fn idle_for(&self) -> std::time::Duration {
        self.last
            .lock()
            .ok()
            .and_then(|l| *l)
            .map(|t| t.elapsed())
            .unwrap_or_default()
    }
}

/// Runs `fut` but gives up once it waited `limit` for the network (time spent
/// in prompts is not counted): a black-holed link never hangs a login.
async fn bounded<F: std::future::Future>(
    act: &Activity,
    limit: std::time::Duration,
    fut: F,
) -> Option<F::Output> {
    act.touch();
    tokio::pin!(fut);
    loop {
        tokio::select! {
            r = &mut fut => return Some(r),
            () = tokio::time::sleep(std::time::Duration::from_millis(250)) => {
                if act.prompting.load(Ordering::SeqCst) == 0 && act.idle_for() > limit {
                    return None;
                }
            }
        }
    }
}

/// Server SFTP extensions that change what we do.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Extensions {
    pub posix_rename: bool,
    pub fsync: bool,
    pub statvfs: bool,
}

/// A live connection: the SSH handle plus two SFTP channels on it, `meta`
/// for listings and small requests and `bulk` for large transfers, so a
/// listing is never queued behind megabytes of file data in one channel.
pub(crate) struct Conn {
    pub handle: client::Handle<ClientHandler>,
    /// The jump hosts' sessions this one runs through (outermost first), and a proxy
    /// command's process: dropped (closed, killed) with the connection.
    pub carriers: hop::Carriers,
    pub meta: RawSftpSession,
    pub bulk: RawSftpSession,
    /// Absolute remote folder of the vault (no trailing `/` unless it is `/`).
    pub root: String,
    pub ext: Extensions,
    pub broken: AtomicBool,
    pub generation: u64,
    /// Bounds the bulk channel's outstanding data (see `pacer`).
    pub pacer: Pacer,
    /// Becomes `true` once the connection is dead (see [`Conn::watch`]).
    pub dead: tokio::sync::watch::Sender<bool>,
    /// Write handles kept open between `write_at` calls (see `handles`).
    pub writes: WriteHandles,
}

impl Conn {
    pub fn is_dead(&self) -> bool {
        self.broken.load(Ordering::Relaxed)
            || self.handle.is_closed()
            || self.carriers.jumps.iter().any(|j| j.is_closed())
    }

    /// Watches the connection: when the SSH session closes (keepalives
    /// unanswered, server gone) requests still waiting on its SFTP channels
    /// are not woken by russh-sftp, so calls wait on `dead` as well.
    pub fn watch(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                let Some(c) = weak.upgrade() else { return };
                if c.is_dead() {
                    c.broken.store(true, Ordering::Relaxed);
                    let _ = c.dead.send(true);
                    return;
                }
                for h in c.writes.evict_idle(handles::IDLE) {
                    c.close_later(h);
                }
            }
        });
    }

    /// Resolves once the connection is dead.
    pub async fn died(&self) {
        let mut rx = self.dead.subscribe();
        let _ = rx.wait_for(|d| *d).await;
    }

    /// Closes a handle taken out of the write-handle cache without waiting for the reply;
    /// its channel slot is freed once the server answered (or the connection died). The
    /// CLOSE is sent before this returns, so a request sent on the same channel afterwards
    /// is served after it (SFTP servers serve a channel's requests in order).
    pub fn close_later(self: &Arc<Self>, h: Arc<Cached>) {
        let conn = Arc::clone(self);
        send_then_spawn(async move {
            let sftp = if h.bulk { &conn.bulk } else { &conn.meta };
            tokio::select! {
                biased;
                r = sftp.close(h.handle.clone()) => {
                    if let Err(e) = r {
                        debug!("close of a cached write handle failed: {e}");
                    }
                }
                () = conn.died() => {}
            }
            drop(h);
        });
    }

    /// Closes the cached write handles of `remote` and of everything under it, waiting for
    /// each CLOSE (before the object is removed or replaced: some servers refuse to remove
    /// an open file).
    pub async fn close_cached(self: &Arc<Self>, remote: &str) {
        for h in self.writes.evict_under(remote) {
            let sftp = if h.bulk { &self.bulk } else { &self.meta };
            if let Err(e) = sftp.close(h.handle.clone()).await {
                debug!("close of a cached write handle failed: {e}");
            }
        }
    }

    /// Before renaming `from` to `to`: closes their cached write handles. One written since
    /// its last FSYNC is closed first and its CLOSE error returned (a write error a server
    /// defers to CLOSE must fail the rename, not be committed); a clean one's CLOSE is only
    /// sent, and the rename must then go on the channel returned (`true`: bulk), which
    /// serves it after the CLOSE.
    pub async fn close_for_rename(
        self: &Arc<Self>,
        from: &str,
        to: &str,
    ) -> Result<bool, russh_sftp::client::error::Error> {
        let mut hs = self.writes.evict_under(from);
        hs.extend(self.writes.evict_under(to));
        let mut sent_on: Option<bool> = None;
        let mut result = Ok(());
        for h in hs {
            if h.is_dirty() || sent_on.is_some_and(|b| b != h.bulk) {
                let sftp = if h.bulk { &self.bulk } else { &self.meta };
                if let Err(e) = sftp.close(h.handle.clone()).await
                    && h.is_dirty()
                {
                    result = Err(e);
                }
            } else {
                sent_on = Some(h.bulk);
                self.close_later(h);
            }
        }
        result.map(|()| sent_on.unwrap_or(false))
    }
}

/// Polls `task` once (which sends its first request: russh-sftp queues a request's packet
/// synchronously) and runs the rest in the background.
pub(crate) fn send_then_spawn<F>(task: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    use futures::FutureExt;
    let mut task = Box::pin(task);
    if (&mut task).now_or_never().is_none() {
        tokio::spawn(task);
    }
}

/// Runs a prompter call on a blocking thread.
pub(crate) async fn ask<T: Send + 'static>(
    prompter: &Arc<dyn Prompter>,
    activity: &Activity,
    f: impl FnOnce(&dyn Prompter) -> T + Send + 'static,
) -> Result<T, SftpError> {
    let p = prompter.clone();
    activity.prompting.fetch_add(1, Ordering::SeqCst);
    activity.asked.fetch_add(1, Ordering::SeqCst);
    let r = tokio::task::spawn_blocking(move || f(p.as_ref()))
        .await
        .map_err(|e| SftpError::PromptFailed {
            what: "an answer".into(),
            reason: e.to_string(),
        });
    activity.prompting.fetch_sub(1, Ordering::SeqCst);
    activity.touch();
    r
}

pub(crate) struct ClientHandler {
    host_keys: Arc<HostKeys>,
    accept_new: bool,
    prompter: Arc<dyn Prompter>,
    verdict: Arc<Mutex<Option<SftpError>>>,
    activity: Arc<Activity>,
    /// The fingerprint of the key the server proved (names the server for replayed answers).
    accepted: Arc<Mutex<Option<String>>>,
}

impl client::Handler for ClientHandler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(_) => {
                self.set_verdict(SftpError::Ssh(
                    "the server offered a host certificate; certificates are not supported".into(),
                ));
                return Ok(false);
            }
        };
        let fp = known_hosts::fingerprint(&key);
        let name = self.host_keys.name().to_string();
        match self.host_keys.check(&key) {
            Verdict::Known => {}
            Verdict::Refuse(e) => {
                self.set_verdict(e);
                return Ok(false);
            }
            Verdict::Unknown => {
                let accepted = self.accept_new
                    || {
                        let question = format!(
                            "The authenticity of host '{}' can't be established.\n{} key fingerprint is {}.\n\
                         Are you sure you want to continue connecting (yes/no)? ",
                            name,
                            key_type_label(&key),
                            fp
                        );
                        ask(&self.prompter, &self.activity, move |p| {
                            p.confirm(&question)
                        })
                        .await
                        .unwrap_or(false)
                    };
                if !accepted {
                    self.set_verdict(SftpError::HostKeyNotAccepted {
                        host: name,
                        fingerprint: fp,
                    });
                    return Ok(false);
                }
                self.host_keys.accept(&key);
            }
        }
        if let Ok(mut a) = self.accepted.lock() {
            *a = Some(fp);
        }
        Ok(true)
    }
}

impl ClientHandler {
    fn set_verdict(&self, e: SftpError) {
        if let Ok(mut v) = self.verdict.lock() {
            *v = Some(e);
        }
    }
}

fn key_type_label(key: &russh::keys::PublicKey) -> &'static str {
    use russh::keys::Algorithm;
    match key.algorithm() {
        Algorithm::Ed25519 => "ED25519",
        Algorithm::Rsa { .. } => "RSA",
        Algorithm::Ecdsa { .. } => "ECDSA",
        _ => "Host",
    }
}

fn map_russh(e: russh::Error, hostport: &str) -> SftpError {
    match e {
        russh::Error::NoCommonAlgo { .. } => SftpError::NoCommonAlgorithm {
            host: hostport.to_owned(),
            detail: e.to_string(),
        },
        russh::Error::IO(_)
        | russh::Error::Disconnect
        | russh::Error::HUP
        | russh::Error::ConnectionTimeout
        | russh::Error::KeepaliveTimeout
        | russh::Error::SendError
        | russh::Error::RecvError => SftpError::Unreachable {
            host: hostport.to_owned(),
            reason: e.to_string(),
        },
        other => SftpError::Ssh(other.to_string()),
    }
}

/// (the text may carry the server's status message: shown C-escaped)
fn sftp_err(e: russh_sftp::client::error::Error) -> SftpError {
    SftpError::Sftp(crate::text::c_escape(&e.to_string()))
}

impl ConnCtx {
    fn hostport(&self) -> String {
        self.target.hostport()
    }

    fn user_at_host(&self) -> String {
        self.target.user_at_host()
    }

    fn russh_config(&self, hop: &Hop) -> client::Config {
        let mut c = client::Config {
            keepalive_interval: Some(self.cfg.keepalive_interval),
            keepalive_max: self.cfg.keepalive_max,
            // russh sends keepalives only between writes: while a write waits on a full
            // socket buffer (a link cut mid-upload) its loop is parked in that write and
            // counts no keepalives, so a dead link would hang until TCP gave up. The
            // inactivity limit also bounds that wait: silence as long as the keepalives
            // would allow means the connection is dead.
            inactivity_timeout: self.cfg.dead_after(),
            nodelay: true,
            // Large windows so a long fat link stays full; SFTP flow control
            // is our own pipeline depth.
            window_size: 8 * 1024 * 1024,
            ..Default::default()
        };
        let known = hop.host_keys.recorded_algorithms();
        if !known.is_empty() {
            // Prefer the host key types already recorded, as OpenSSH does.
            let mut keys: Vec<russh::keys::Algorithm> = Vec::new();
            for pref in c.preferred.key.iter() {
                let family_known = known.iter().any(|k| {
                    k == pref
                        || matches!(
                            (k, pref),
                            (
                                russh::keys::Algorithm::Rsa { .. },
                                russh::keys::Algorithm::Rsa { .. }
                            )
                        )
                });
                if family_known {
                    keys.push(pref.clone());
                }
            }
            for pref in c.preferred.key.iter() {
                if !keys.contains(pref) {
                    keys.push(pref.clone());
                }
            }
            c.preferred.key = keys.into();
        }
        c
    }

    /// Handshake, host key check and login of one hop over `stream`.
    async fn login(
        &self,
        hop: &Hop,
        stream: hop::Transport,
    ) -> Result<client::Handle<ClientHandler>, SftpError> {
        let hostport = hop.hostport();
        let verdict = Arc::new(Mutex::new(None));
        let accepted = Arc::new(Mutex::new(None));
        let handler = ClientHandler {
            host_keys: hop.host_keys.clone(),
            accept_new: self.cfg.accept_new_host_key,
            prompter: self.prompter.clone(),
            verdict: verdict.clone(),
            activity: self.activity.clone(),
            accepted: accepted.clone(),
        };
        // The host-key question may wait for a human: not under connect_timeout.
        let _guard = self.prompt_lock.lock().await;
        let handshake = client::connect_stream(Arc::new(self.russh_config(hop)), stream, handler);
        let timed_out = || SftpError::Unreachable {
            host: hostport.clone(),
            reason: "SSH handshake timed out".into(),
        };
        let mut handle = match bounded(&self.activity, self.cfg.connect_timeout, handshake)
            .await
            .ok_or_else(timed_out)?
        {
            Ok(h) => h,
            Err(e) => {
                if let Some(v) = verdict.lock().ok().and_then(|mut v| v.take()) {
                    return Err(v);
                }
                return Err(map_russh(e, &hostport));
            }
        };
        // Names the server for replayed answers: each hop has its own.
        let server = format!(
            "{}:{} {}",
            hop.user_at_host(),
            hop.port,
            accepted
                .lock()
                .ok()
                .and_then(|a| a.clone())
                .unwrap_or_default()
        );
        bounded(
            &self.activity,
            self.cfg.connect_timeout,
            self.authenticate(hop, &mut handle, &server),
        )
        .await
        .ok_or_else(|| SftpError::Unreachable {
            host: hostport.clone(),
            reason: "login timed out".into(),
        })??;
        Ok(handle)
    }

    /// Every hop in turn (TCP or the proxy command to the first, each next one through a
    /// `direct-tcpip` channel of the one before), two SFTP channels, root check.
    pub async fn establish(&self, generation: u64) -> Result<Conn, SftpError> {
        let hostport = self.hostport();
        let (mut stream, mut carriers) = self.first_transport().await?;
        for (i, hop) in self.jumps.iter().enumerate() {
            debug!(hop = %hop.user_at_host(), port = hop.port, "ssh login (jump host)");
            let h = self.login(hop, stream).await?;
            let next = self.jumps.get(i + 1).unwrap_or(&self.target);
            stream = self.forward(&h, hop, next).await?;
            carriers.jumps.push(h);
        }
        let handle = self.login(&self.target, stream).await?;
        self.prompter.logged_in();
        let (meta, bulk) = tokio::time::timeout(self.cfg.connect_timeout, async {
            let meta = self.open_sftp(&handle).await?;
            let bulk = self.open_sftp(&handle).await?;
            Ok::<_, SftpError>((meta, bulk))
        })
        .await
        .map_err(|_| SftpError::Unreachable {
            host: hostport.clone(),
            reason: "SFTP start timed out".into(),
        })??;
        let ext = meta.1;
        let root = tokio::time::timeout(self.cfg.request_timeout, self.resolve_root(&meta.0))
            .await
            .map_err(|_| SftpError::Unreachable {
                host: hostport.clone(),
                reason: "timed out".into(),
            })??;
        debug!(%root, ?ext, jumps = carriers.jumps.len(), "sftp connected");
        Ok(Conn {
            handle,
            carriers,
            meta: meta.0,
            bulk: bulk.0,
            root,
            ext,
            broken: AtomicBool::new(false),
            generation,
            pacer: Pacer::new(
                self.cfg.chunk_size.max(1024) as usize,
                self.cfg.pipeline_depth.max(1),
            ),
            dead: tokio::sync::watch::channel(false).0,
            writes: WriteHandles::default(),
        })
    }

    async fn open_sftp(
        &self,
        handle: &client::Handle<ClientHandler>,
    ) -> Result<(RawSftpSession, Extensions), SftpError> {
        let hostport = self.hostport();
        let ch = handle
            .channel_open_session()
            .await
            .map_err(|e| map_russh(e, &hostport))?;
        ch.request_subsystem(true, "sftp")
            .await
            .map_err(|e| map_russh(e, &hostport))?;
        let cfg = russh_sftp::client::Config {
            request_timeout_secs: self.cfg.request_timeout.as_secs().saturating_add(5),
            ..Default::default()
        };
        let sftp = RawSftpSession::new_with_config(ch.into_stream(), cfg);
        let version = sftp.init().await.map_err(sftp_err)?;
        let has = |name: &str| version.extensions.contains_key(name);
        let ext = Extensions {
            posix_rename: has("posix-rename@openssh.com"),
            fsync: has("fsync@openssh.com"),
            statvfs: has("statvfs@openssh.com"),
        };
        Ok((sftp, ext))
    }

    async fn resolve_root(&self, sftp: &RawSftpSession) -> Result<String, SftpError> {
        let host = self.user_at_host();
        let wanted = match &self.cfg.root {
            RemoteRoot::Absolute(p) => p.clone(),
            RemoteRoot::Home(rel) => {
                let name = sftp.realpath(".").await.map_err(sftp_err)?;
                let home = name
                    .files
                    .first()
                    .map(|f| f.filename.clone())
                    .ok_or_else(|| {
                        SftpError::Sftp("server did not resolve the home folder".into())
                    })?;
                if rel.is_empty() {
                    home
                } else {
                    format!("{}/{}", home.trim_end_matches('/'), rel)
                }
            }
        };
        match sftp.stat(wanted.clone()).await {
            Ok(a) if a.attrs.is_dir() => Ok(if wanted.len() > 1 {
                wanted.trim_end_matches('/').to_owned()
            } else {
                wanted
            }),
            Ok(_) => Err(SftpError::NotAFolder { host, path: wanted }),
            Err(russh_sftp::client::error::Error::Status(s))
                if s.status_code == StatusCode::NoSuchFile && self.cfg.create_root =>
            {
                let path = wanted.trim_end_matches('/').to_owned();
                match sftp.mkdir(path.clone(), FileAttributes::default()).await {
                    Ok(_) => Ok(path),
                    Err(russh_sftp::client::error::Error::Status(s))
                        if s.status_code == StatusCode::NoSuchFile =>
                    {
                        Err(SftpError::PathNotFound { host, path })
                    }
                    Err(russh_sftp::client::error::Error::Status(s))
                        if s.status_code == StatusCode::PermissionDenied =>
                    {
                        Err(SftpError::PathPermissionDenied { host, path })
                    }
                    Err(e) => Err(sftp_err(e)),
                }
            }
            Err(russh_sftp::client::error::Error::Status(s))
                if s.status_code == StatusCode::NoSuchFile =>
            {
                Err(SftpError::PathNotFound { host, path: wanted })
            }
            Err(russh_sftp::client::error::Error::Status(s))
                if s.status_code == StatusCode::PermissionDenied =>
            {
                Err(SftpError::PathPermissionDenied { host, path: wanted })
            }
            Err(e) => Err(sftp_err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn bounded_gives_up_on_network_silence_but_not_while_prompting() {
        let act = Activity::default();
        let t = Instant::now();
        let r = bounded(
            &act,
            Duration::from_millis(300),
            std::future::pending::<()>(),
        )
        .await;
        assert!(r.is_none(), "a silent handshake is cut off");
        assert!(t.elapsed() < Duration::from_secs(2));

        // While a prompt is open the limit does not run.
        act.prompting.fetch_add(1, Ordering::SeqCst);
        let slow = async {
            tokio::time::sleep(Duration::from_millis(900)).await;
            7
        };
        assert_eq!(
            bounded(&act, Duration::from_millis(300), slow).await,
            Some(7)
        );
    }
}
