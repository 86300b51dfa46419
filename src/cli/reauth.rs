//! Answers for a detached mount's reconnects (issue 5, "Resilience"; `vault auth`).
//!
//! When an SFTP connection drops, the backend logs in again by itself: the key passphrase is
//! held in memory, but a keyboard-interactive question (a TOTP "Verification code: ") needs a
//! new answer. Secrets have a direction: the daemon never holds the vault password (it is
//! taken out and dropped at unlock), and a server's question is never answered from a local
//! secret, nor matched by its text against one: it arrives as a
//! [`vault_sftp::ServerQuestion`] and is shown as `[sftp USER@HOST] TEXT`. A detached mount
//! answers it, in this order:
//! 1. an answer given by `vault auth` that the server has not judged yet (a reconnect attempt
//!    whose link died before the verdict tries it once more);
//! 2. the answer the user typed for the same question of the same server (host key, user,
//!    exact prompt) when the mount was started, until the server refuses it (a TOTP
//!    code is refused once used or stale; it is then never replayed again);
//! 3. the askpass program the mount was started with (`--askpass`, `VAULT_ASKPASS`);
//! 4. otherwise the question is posted on the mount's socket, one line is logged
//!    ("reconnect to HOST needs a verification code: run `vault auth MOUNTPOINT`") and the
//!    reconnect waits up to `-o auth_wait=DURATION` (default 10 minutes) for `vault auth`.
//!    Meanwhile file requests fail with EIO after the mount's usual bounded wait.
//!
//! The socket is `auth-<hash of the mountpoint>.sock` in `$XDG_RUNTIME_DIR/vault/` (else
//! `/tmp/vault-<uid>/`), a 0700 directory owned by the user; the socket is 0600 and the
//! daemon talks only to peers of its own uid (SO_PEERCRED).
//!
//! Protocol (one request per connection, lines of UTF-8 ending in `\n`):
//! - `status` → `waiting` or `idle`.
//! - `auth` → `none` when nothing waits; otherwise, per round, any `info TEXT` lines, one
//!   `prompt ECHO TEXT` line per question (ECHO `0`/`1`, TEXT with `\\`, `\n`, `\r` escaped),
//!   `end`; the client sends one `answer TEXT` line per question. The daemon then sends the
//!   next round, or `ok`, `refused MESSAGE` or `failed MESSAGE`.
//!
//! Answers live in zeroizing buffers on both sides and are never logged.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tracing::{debug, warn};
use zeroize::Zeroizing;

use super::exit::{CliError, CliResult, Exit};
use super::secrets::Secrets;

/// Default for `-o auth_wait`: how long a reconnect waits for `vault auth`.
pub const DEFAULT_AUTH_WAIT: Duration = Duration::from_secs(600);
/// How long `vault auth` waits for the server's verdict once it answered.
const VERDICT_WAIT: Duration = Duration::from_secs(120);
/// Longest protocol line.
const MAX_LINE: usize = 8192;

pub use super::storage_arg::SharedPrompter;

// ------------------------------------------------------------------ socket location

/// `$XDG_RUNTIME_DIR/vault`, else `/tmp/vault-<uid>`: created 0700; refused unless it is a
/// real directory owned by this user and closed to others.
pub fn socket_dir() -> CliResult<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let uid = rustix::process::getuid().as_raw();
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(d) if d.is_absolute() && d.is_dir() => d.join("vault"),
        _ => PathBuf::from(format!("/tmp/vault-{uid}")),
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(CliError::other(format!(
                "cannot create {}: {}",
                dir.display(),
                super::storage_arg::io_text(&e)
            )));
        }
    }
    let meta = std::fs::symlink_metadata(&dir).map_err(|e| {
        CliError::other(format!(
            "{}: {}",
            dir.display(),
            super::storage_arg::io_text(&e)
        ))
    })?;
    if !meta.is_dir() || meta.uid() != uid {
        return Err(CliError::other(format!(
            "{} is not a directory of this user; remove it",
            dir.display()
        )));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            CliError::other(format!(
                "{} is open to other users and cannot be closed: {}",
                dir.display(),
                super::storage_arg::io_text(&e)
            ))
        })?;
    }
    Ok(dir)
}

/// The name a mountpoint is known by: its parent resolved (symlinks, `..`) plus its own name,
/// so the daemon and `vault auth` agree without touching the mount itself.
pub fn mount_key(mountpoint: &Path) -> PathBuf {
    let abs = std::path::absolute(mountpoint).unwrap_or_else(|_| mountpoint.to_path_buf());
    match (abs.parent(), abs.file_name()) {
        (Some(parent), Some(name)) => std::fs::canonicalize(parent)
            .map(|p| p.join(name))
            .unwrap_or(abs),
        _ => abs,
    }
}

/// `auth-<FNV-1a 64 of the mount key>.sock` (stable across builds, unlike std's hasher).
fn socket_name(key: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_os_str().as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("auth-{h:016x}.sock")
}

/// The socket of the mount at `key` (see [`mount_key`]).
pub fn socket_path(key: &Path) -> CliResult<PathBuf> {
    Ok(socket_dir()?.join(socket_name(key)))
}

// ------------------------------------------------------------------ protocol text

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// One line (without `\n`) collected byte by byte in a zeroizing buffer, for the blocking and
/// the async reader alike (answers pass through here).
struct LineBuf(Zeroizing<Vec<u8>>);

impl LineBuf {
    fn new() -> LineBuf {
        // Room for the longest line up front: growing would leave copies behind.
        LineBuf(Zeroizing::new(Vec::with_capacity(MAX_LINE)))
    }

    /// Takes the next byte (`None`: end of input); `Some` once the line is complete:
    /// the line, or `None` at EOF before any byte.
    fn feed(&mut self, byte: Option<u8>) -> Option<std::io::Result<Option<Zeroizing<String>>>> {
        let invalid = |what| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
        match byte {
            None if self.0.is_empty() => Some(Ok(None)),
            None | Some(b'\n') => Some(match std::str::from_utf8(&self.0) {
                Ok(s) => Ok(Some(Zeroizing::new(s.to_string()))),
                Err(_) => Err(invalid("not UTF-8")),
            }),
            Some(_) if self.0.len() >= MAX_LINE => Some(Err(invalid("line too long"))),
            Some(b) => {
                self.0.push(b);
                None
            }
        }
    }
}

/// Reads one line; `None` at EOF.
fn read_line_sync(r: &mut impl Read) -> std::io::Result<Option<Zeroizing<String>>> {
    let mut line = LineBuf::new();
    let mut byte = Zeroizing::new([0u8; 1]);
    loop {
        let n = r.read(&mut byte[..])?;
        if let Some(done) = line.feed((n > 0).then_some(byte[0])) {
            return done;
        }
    }
}

async fn read_line_async(
    r: &mut (impl tokio::io::AsyncRead + Unpin),
) -> std::io::Result<Option<Zeroizing<String>>> {
    use tokio::io::AsyncReadExt;
    let mut line = LineBuf::new();
    let mut byte = Zeroizing::new([0u8; 1]);
    loop {
        let n = r.read(&mut byte[..]).await?;
        if let Some(done) = line.feed((n > 0).then_some(byte[0])) {
            return done;
        }
    }
}

// ------------------------------------------------------------------ the broker

/// The server's verdict on answers given through `vault auth`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    Ok,
    Refused(String),
}

/// A question waiting for `vault auth`.
#[derive(Clone)]
struct Pending {
    id: u64,
    prompt: String,
    echo: bool,
    info: Option<String>,
}

/// An answer from `vault auth` given to the server, verdict not yet known.
struct InFlight {
    prompt: String,
    answer: Zeroizing<String>,
    uses: u8,
}

#[derive(Default)]
struct BrokerState {
    /// Questions may be posted (the mount is up and the socket listens).
    armed: bool,
    closed: bool,
    next_id: u64,
    pending: Option<Pending>,
    delivered: Option<(u64, Zeroizing<String>)>,
    in_flight: Option<InFlight>,
    awaiting_verdict: bool,
    verdict: Option<Verdict>,
    /// Keyboard-interactive name/instructions shown with the next question.
    info: Option<String>,
}

/// Between the reconnecting backend (a blocking prompter thread) and `vault auth` clients.
pub struct Broker {
    state: Mutex<BrokerState>,
    cond: Condvar,
    host: String,
    mountpoint: String,
    auth_wait: Duration,
}

/// What an `auth` handler waits for.
enum Event {
    Verdict(Verdict),
    Pending(Pending),
    TimedOut,
    Closed,
}

impl Broker {
    /// A broker for the mount at `mountpoint` of a storage on `host`.
    pub fn new(host: &str, mountpoint: &Path, auth_wait: Duration) -> Arc<Broker> {
        Arc::new(Broker {
            state: Mutex::new(BrokerState::default()),
            cond: Condvar::new(),
            host: host.to_string(),
            mountpoint: mountpoint.display().to_string(),
            auth_wait,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BrokerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// From now on questions are posted for `vault auth`.
    pub fn arm(&self) {
        self.lock().armed = true;
    }

    /// The mount is going away: wake and fail every waiter.
    pub fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        st.armed = false;
        st.pending = None;
        self.cond.notify_all();
    }

    fn armed(&self) -> bool {
        let st = self.lock();
        st.armed && !st.closed
    }

    /// True while a question waits for `vault auth`.
    pub fn waiting(&self) -> bool {
        self.lock().pending.is_some()
    }

    fn set_info(&self, text: &str) {
        self.lock().info = Some(text.to_string());
    }

    /// The unjudged `vault auth` answer to `prompt`, once more (a reconnect attempt whose link
    /// died before the server's verdict).
    fn retry_in_flight(&self, prompt: &str) -> Option<Zeroizing<String>> {
        let mut st = self.lock();
        let f = st.in_flight.as_mut()?;
        if f.prompt != prompt {
            return None;
        }
        if f.uses >= 2 {
            st.in_flight = None;
            return None;
        }
        f.uses += 1;
        Some(f.answer.clone())
    }

    /// Posts `prompt` and blocks until `vault auth` answers it, `auth_wait` passes, or the
    /// mount closes.
    fn wait_for_answer(
        &self,
        prompt: &str,
        echo: bool,
    ) -> Result<Zeroizing<String>, vault_sftp::PromptError> {
        let mut st = self.lock();
        if !st.armed || st.closed {
            return Err(vault_sftp::PromptError(format!(
                "no answer to {:?} (a detached mount asks only through --askpass or `vault auth`)",
                prompt.trim()
            )));
        }
        st.next_id += 1;
        let id = st.next_id;
        let info = st.info.take();
        st.pending = Some(Pending {
            id,
            prompt: prompt.to_string(),
            echo,
            info,
        });
        st.delivered = None;
        self.cond.notify_all();
        let what = if prompt.to_ascii_lowercase().contains("code") {
            "a verification code".to_string()
        } else {
            format!("an answer to {:?}", prompt.trim())
        };
        warn!(
            "reconnect to {} needs {what}: run `vault auth {}`",
            self.host, self.mountpoint
        );
        crate::cli::notify::auth_waiting(&self.host, &self.mountpoint, &what);
        let deadline = Instant::now() + self.auth_wait;
        loop {
            if st.closed {
                st.pending = None;
                return Err(vault_sftp::PromptError("the mount is closing".into()));
            }
            if let Some((did, answer)) = st.delivered.take()
                && did == id
            {
                st.pending = None;
                st.in_flight = Some(InFlight {
                    prompt: prompt.to_string(),
                    answer: answer.clone(),
                    uses: 1,
                });
                st.awaiting_verdict = true;
                st.verdict = None;
                return Ok(answer);
            }
            let now = Instant::now();
            if now >= deadline {
                st.pending = None;
                warn!(
                    "no `vault auth` answer within {}s; the next access to {} tries again",
                    self.auth_wait.as_secs(),
                    self.mountpoint
                );
                return Err(vault_sftp::PromptError(format!(
                    "no answer to {:?} within {}s (run `vault auth {}`)",
                    prompt.trim(),
                    self.auth_wait.as_secs(),
                    self.mountpoint
                )));
            }
            st = self
                .cond
                .wait_timeout(st, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// `vault auth` answers question `id`; false if it is no longer the one waiting.
    fn deliver(&self, id: u64, answer: Zeroizing<String>) -> bool {
        let mut st = self.lock();
        match &st.pending {
            Some(p) if p.id == id && st.delivered.is_none() => {
                st.delivered = Some((id, answer));
                self.cond.notify_all();
                true
            }
            _ => false,
        }
    }

    fn set_verdict(&self, v: Verdict) {
        let mut st = self.lock();
        st.in_flight = None;
        if st.awaiting_verdict {
            st.awaiting_verdict = false;
            st.verdict = Some(v);
            self.cond.notify_all();
        }
    }

    /// The question waiting now, if any.
    fn current(&self) -> Option<Pending> {
        self.lock().pending.clone()
    }

    /// Waits for the verdict (when `want_verdict`) or a question newer than `after`.
    fn wait_event(&self, want_verdict: bool, after: u64, timeout: Duration) -> Event {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        loop {
            if want_verdict && let Some(v) = st.verdict.take() {
                return Event::Verdict(v);
            }
            if let Some(p) = &st.pending
                && p.id > after
            {
                return Event::Pending(p.clone());
            }
            if st.closed {
                return Event::Closed;
            }
            let now = Instant::now();
            if now >= deadline {
                return Event::TimedOut;
            }
            st = self
                .cond
                .wait_timeout(st, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }
}

// ------------------------------------------------------------------ the daemon's prompter

/// Where the answer to a question came from (for [`vault_sftp::Prompter::refused`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Recorded,
    Askpass,
    Parent,
    Auth,
}

/// The detached mount's prompter (see the module documentation for the order of sources).
pub struct DaemonPrompter {
    recorded: Secrets,
    askpass: Option<Secrets>,
    broker: Arc<Broker>,
    refused_recorded: Mutex<HashSet<String>>,
    /// This login's answers: trimmed shown prompt → (replay key, source).
    given: Mutex<HashMap<String, (String, Source)>>,
}

impl DaemonPrompter {
    /// `recorded`: the answers collected by `vault mount`; `askpass`: the program the mount was
    /// started with, if any.
    pub fn new(recorded: Secrets, askpass: Option<String>, broker: Arc<Broker>) -> Self {
        let askpass = askpass.filter(|c| !c.trim().is_empty()).map(|cmd| {
            Secrets::from_args(&super::args::SecretArgs {
                askpass: Some(cmd),
                ..Default::default()
            })
        });
        DaemonPrompter {
            recorded,
            askpass,
            broker,
            refused_recorded: Mutex::new(HashSet::new()),
            given: Mutex::new(HashMap::new()),
        }
    }

    fn note(&self, shown: &str, key: &str, source: Source) {
        if let Ok(mut g) = self.given.lock() {
            g.insert(shown.trim().to_string(), (key.to_string(), source));
        }
    }

    /// `key`: under which the parent recorded an answer (the local prompt itself, or
    /// [`super::secrets::server_answer_key`]); `prompt`: what a person is shown.
    fn answer(
        &self,
        key: &str,
        prompt: &str,
        echo: bool,
    ) -> Result<Zeroizing<String>, vault_sftp::PromptError> {
        use secrecy::ExposeSecret;
        if let Some(a) = self.broker.retry_in_flight(prompt) {
            self.note(prompt, key, Source::Auth);
            return Ok(a);
        }
        let refused = self
            .refused_recorded
            .lock()
            .map(|r| r.contains(key))
            .unwrap_or(true);
        if !refused && let Some(a) = self.recorded.preset_answer(key) {
            self.note(prompt, key, Source::Recorded);
            return Ok(Zeroizing::new(a.expose_secret().to_string()));
        }
        if parent_relay_open() && self.askpass.is_none() {
            let note = refused.then(|| {
                format!(
                    "the server refused the answer to {:?} on the mount's own login (a code is \
                     accepted once): give the next one",
                    prompt.trim()
                )
            });
            let a = ask_parent(prompt, echo, note.as_deref())?;
            self.note(prompt, key, Source::Parent);
            return Ok(a);
        }
        if let Some(askpass) = &self.askpass {
            let a = if echo {
                askpass.ask_visible(prompt)
            } else {
                askpass.ask(prompt)
            }
            .map_err(|e| vault_sftp::PromptError(e.message))?;
            self.note(prompt, key, Source::Askpass);
            return Ok(Zeroizing::new(a.expose_secret().to_string()));
        }
        let a = self.broker.wait_for_answer(prompt, echo)?;
        self.note(prompt, key, Source::Auth);
        Ok(a)
    }

    /// A local prompt of the SFTP backend (key passphrase, the server's own password);
    /// anything else is refused rather than matched against what the parent handed over.
    fn local(
        &self,
        prompt: &str,
        echo: bool,
    ) -> Result<Zeroizing<String>, vault_sftp::PromptError> {
        if !super::secrets::is_local_sftp_prompt(prompt) {
            return Err(vault_sftp::PromptError(format!(
                "the mount daemon answers no prompt {:?}",
                vault_sftp::text::clean(prompt)
            )));
        }
        self.answer(prompt, prompt, echo)
    }
}

impl vault_sftp::Prompter for DaemonPrompter {
    fn secret(&self, prompt: &str) -> Result<Zeroizing<String>, vault_sftp::PromptError> {
        self.local(prompt, false)
    }

    fn visible(&self, prompt: &str) -> Result<Zeroizing<String>, vault_sftp::PromptError> {
        self.local(prompt, true)
    }

    fn server(
        &self,
        q: &vault_sftp::ServerQuestion,
    ) -> Result<Zeroizing<String>, vault_sftp::PromptError> {
        self.answer(&super::secrets::server_answer_key(q), &q.shown, q.echo)
    }

    /// An unknown host key is never accepted by a detached mount (no one to ask).
    fn confirm(&self, _question: &str) -> bool {
        false
    }

    fn message(&self, text: &str) {
        if !text.trim().is_empty() {
            self.broker.set_info(text.trim_end());
        }
    }

    fn refused(&self, prompts: &[String]) -> bool {
        let given = self
            .given
            .lock()
            .map(|mut g| std::mem::take(&mut *g))
            .unwrap_or_default();
        let mut again = false;
        for p in prompts {
            match given.get(p.trim()) {
                Some((full, Source::Recorded)) => {
                    debug!("the recorded answer was refused; it is not replayed again");
                    if let Ok(mut r) = self.refused_recorded.lock() {
                        r.insert(full.clone());
                    }
                    again |= self.askpass.is_some() || parent_relay_open() || self.broker.armed();
                }
                Some((_, Source::Auth)) => {
                    self.broker.set_verdict(Verdict::Refused(format!(
                        "{} refused the answer to {:?}; the mount still waits: run `vault auth {}` again",
                        self.broker.host,
                        p.trim(),
                        self.broker.mountpoint
                    )));
                    again |= self.broker.armed();
                }
                Some((_, Source::Parent)) => again |= parent_relay_open(),
                Some((_, Source::Askpass)) | None => {}
            }
        }
        again
    }

    fn logged_in(&self) {
        if let Ok(mut g) = self.given.lock() {
            g.clear();
        }
        self.broker.set_verdict(Verdict::Ok);
    }
}

// ------------------------------------------------------------------ the daemon's socket

/// The listening socket of a mount; removed when dropped.
pub struct AuthSocket {
    path: PathBuf,
    broker: Arc<Broker>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AuthSocket {
    fn drop(&mut self) {
        self.broker.close();
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds the mount's socket and serves `vault auth` on `rt`; then arms the broker.
pub fn serve(
    rt: &tokio::runtime::Runtime,
    broker: Arc<Broker>,
    key: &Path,
) -> CliResult<AuthSocket> {
    use std::os::unix::fs::PermissionsExt;
    let path = socket_path(key)?;
    // A socket left by a daemon that died (its mount is gone, or this mount would have failed).
    let _ = std::fs::remove_file(&path);
    let listener = {
        let _guard = rt.enter();
        tokio::net::UnixListener::bind(&path).map_err(|e| {
            CliError::other(format!(
                "cannot listen on {}: {}",
                path.display(),
                super::storage_arg::io_text(&e)
            ))
        })?
    };
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    let me = rustix::process::getuid().as_raw();
    let b = broker.clone();
    let task = rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            match stream.peer_cred() {
                Ok(c) if c.uid() == me => {}
                _ => {
                    warn!("refused a connection to the auth socket from another user");
                    continue;
                }
            }
            let b = b.clone();
            tokio::spawn(async move {
                let limit = b.auth_wait + VERDICT_WAIT + Duration::from_secs(60);
                let _ = tokio::time::timeout(limit, handle(stream, b)).await;
            });
        }
    });
    broker.arm();
    Ok(AuthSocket { path, broker, task })
}

async fn handle(stream: tokio::net::UnixStream, broker: Arc<Broker>) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let (mut r, mut w) = stream.into_split();
    let Some(request) = read_line_async(&mut r).await? else {
        return Ok(());
    };
    match request.as_str() {
        "status" => {
            let s = if broker.waiting() {
                "waiting\n"
            } else {
                "idle\n"
            };
            w.write_all(s.as_bytes()).await?;
            return Ok(());
        }
        "auth" => {}
        _ => {
            w.write_all(b"failed unknown request\n").await?;
            return Ok(());
        }
    }
    let Some(mut pending) = broker.current() else {
        w.write_all(b"none\n").await?;
        return Ok(());
    };
    loop {
        let mut round = String::new();
        if let Some(info) = &pending.info {
            round.push_str(&format!("info {}\n", escape(info)));
        }
        round.push_str(&format!(
            "prompt {} {}\nend\n",
            u8::from(pending.echo),
            escape(&pending.prompt)
        ));
        w.write_all(round.as_bytes()).await?;
        let Some(line) = read_line_async(&mut r).await? else {
            return Ok(());
        };
        let Some(answer) = line.strip_prefix("answer ") else {
            w.write_all(b"failed expected an answer line\n").await?;
            return Ok(());
        };
        let answer = Zeroizing::new(answer.to_string());
        drop(line);
        if !broker.deliver(pending.id, answer) {
            w.write_all(
                b"failed the question was answered or withdrawn meanwhile; run `vault status`\n",
            )
            .await?;
            return Ok(());
        }
        let (b, after) = (broker.clone(), pending.id);
        let event = tokio::task::spawn_blocking(move || b.wait_event(true, after, VERDICT_WAIT))
            .await
            .unwrap_or(Event::Closed);
        match event {
            Event::Verdict(Verdict::Ok) => {
                w.write_all(b"ok\n").await?;
                return Ok(());
            }
            Event::Verdict(Verdict::Refused(msg)) => {
                w.write_all(format!("refused {}\n", escape(&msg)).as_bytes())
                    .await?;
                return Ok(());
            }
            Event::Pending(p) => pending = p,
            Event::TimedOut => {
                w.write_all(b"failed no verdict from the server in time; see `vault status`\n")
                    .await?;
                return Ok(());
            }
            Event::Closed => {
                w.write_all(b"failed the mount is closing\n").await?;
                return Ok(());
            }
        }
    }
}

// ------------------------------------------------------------------ the parent relay

/// Open while the daemon's first login runs and `vault mount` (the parent) still listens:
/// a question the daemon cannot answer (the replayed TOTP code was refused: each process logs
/// in, and a server may refuse a reused code) goes to the parent's terminal or askpass.
static PARENT_RELAY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The daemon may ask the parent from now on.
pub fn open_parent_relay() {
    PARENT_RELAY.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// The parent is about to be let go (before the daemon's `ok`/`err` line).
pub fn close_parent_relay() {
    PARENT_RELAY.store(false, std::sync::atomic::Ordering::SeqCst);
}

fn parent_relay_open() -> bool {
    PARENT_RELAY.load(std::sync::atomic::Ordering::SeqCst)
}

/// Reads fd 0 directly (std's stdin buffer would keep a copy of the secrets).
pub struct Fd0;

impl Read for Fd0 {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::fd::AsFd;
        rustix::io::read(std::io::stdin().as_fd(), buf).map_err(std::io::Error::from)
    }
}

/// One line from the parent (fd 0), zeroized.
pub fn read_parent_line() -> std::io::Result<Option<Zeroizing<String>>> {
    read_line_sync(&mut Fd0)
}

/// Daemon side: asks the parent, which asks its terminal or askpass.
fn ask_parent(
    prompt: &str,
    echo: bool,
    note: Option<&str>,
) -> Result<Zeroizing<String>, vault_sftp::PromptError> {
    let fail = |why: String| vault_sftp::PromptError(format!("cannot ask `vault mount`: {why}"));
    {
        let mut out = std::io::stdout().lock();
        if let Some(n) = note {
            writeln!(out, "info {}", escape(n)).map_err(|e| fail(e.to_string()))?;
        }
        writeln!(out, "ask {} {}", u8::from(echo), escape(prompt))
            .and_then(|()| out.flush())
            .map_err(|e| fail(e.to_string()))?;
    }
    let line = read_parent_line()
        .map_err(|e| fail(e.to_string()))?
        .ok_or_else(|| fail("it went away".into()))?;
    if let Some(a) = line.strip_prefix("answer ") {
        return Ok(Zeroizing::new(a.to_string()));
    }
    Err(vault_sftp::PromptError(unescape(
        line.strip_prefix("noanswer ").unwrap_or("no answer"),
    )))
}

/// Parent side: handles a relay line of the daemon (`info …`, `ask …`); false for any other line
/// (the daemon's report).
pub fn parent_relay_line(line: &str, secrets: &Secrets, to_daemon: &mut impl Write) -> bool {
    use secrecy::ExposeSecret;
    if let Some(info) = line.strip_prefix("info ") {
        eprintln!("vault: {}", unescape(info));
        return true;
    }
    let Some(rest) = line.strip_prefix("ask ") else {
        return false;
    };
    let (echo, text) = rest.split_once(' ').unwrap_or((rest, ""));
    let prompt = unescape(text);
    let asked = if echo == "1" {
        secrets.ask_visible(&prompt)
    } else {
        secrets.ask(&prompt)
    };
    let mut msg = Zeroizing::new(Vec::new());
    match asked {
        Ok(a) => {
            msg.extend_from_slice(b"answer ");
            msg.extend_from_slice(a.expose_secret().as_bytes());
        }
        Err(e) => {
            msg.extend_from_slice(b"noanswer ");
            msg.extend_from_slice(escape(&e.message).as_bytes());
        }
    }
    msg.push(b'\n');
    let _ = to_daemon.write_all(&msg).and_then(|()| to_daemon.flush());
    true
}

// ------------------------------------------------------------------ the clients

/// Connects to the daemon of the mount at `key`: in this environment's socket directory, else
/// in the other candidate (a daemon started with a different `XDG_RUNTIME_DIR`, e.g. under
/// `sudo`), as long as that directory is this user's and closed to others.
fn connect(key: &Path) -> Option<std::os::unix::net::UnixStream> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let uid = rustix::process::getuid().as_raw();
    let mut dirs = Vec::new();
    if let Ok(d) = socket_dir() {
        dirs.push(d);
    }
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from)
        && x.is_absolute()
    {
        dirs.push(x.join("vault"));
    }
    dirs.push(PathBuf::from(format!("/run/user/{uid}/vault")));
    dirs.push(PathBuf::from(format!("/tmp/vault-{uid}")));
    let name = socket_name(key);
    dirs.iter()
        .filter(|d| {
            std::fs::symlink_metadata(d)
                .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.permissions().mode() & 0o077 == 0)
        })
        .find_map(|d| std::os::unix::net::UnixStream::connect(d.join(&name)).ok())
}

/// Whether the mount at `mountpoint` waits for `vault auth` (`false` when it cannot say).
pub fn is_waiting(mountpoint: &Path) -> bool {
    let Some(mut s) = connect(&mount_key(mountpoint)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"status\n").is_err() {
        return false;
    }
    matches!(read_line_sync(&mut s), Ok(Some(l)) if l.as_str() == "waiting")
}

/// `vault auth MOUNTPOINT|NAME`: answers the questions a detached mount's reconnect waits for.
pub fn run_auth(target: &Path, secrets: &super::args::SecretArgs) -> CliResult {
    let mountpoint = find_mount(target)?;
    let shown = mountpoint.display().to_string();
    let nothing = || CliError::other(format!("nothing is waiting for an answer at {shown}"));
    let Some(mut s) = connect(&mount_key(&mountpoint)) else {
        return Err(nothing());
    };
    let _ = s.set_write_timeout(Some(Duration::from_secs(10)));
    let io = |e: std::io::Error| {
        CliError::other(format!(
            "the mount daemon of {shown}: {}",
            super::storage_arg::io_text(&e)
        ))
    };
    s.write_all(b"auth\n").map_err(io)?;
    let asker = Secrets::from_args(secrets);
    let mut prompts: Vec<(bool, String)> = Vec::new();
    loop {
        let Some(line) = read_line_sync(&mut s).map_err(io)? else {
            return Err(CliError::other(format!(
                "the mount daemon of {shown} closed the connection without a verdict"
            )));
        };
        let (word, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        match word {
            "none" => return Err(nothing()),
            "info" => eprintln!("{}", unescape(rest)),
            "prompt" => {
                let (echo, text) = rest.split_once(' ').unwrap_or((rest, ""));
                prompts.push((echo == "1", unescape(text)));
            }
            "end" => {
                for (echo, prompt) in prompts.drain(..) {
                    use secrecy::ExposeSecret;
                    let answer = if echo {
                        asker.ask_visible(&prompt)?
                    } else {
                        asker.ask(&prompt)?
                    };
                    let mut msg = Zeroizing::new(Vec::new());
                    msg.extend_from_slice(b"answer ");
                    msg.extend_from_slice(answer.expose_secret().as_bytes());
                    msg.push(b'\n');
                    s.write_all(&msg).map_err(io)?;
                }
            }
            "ok" => {
                eprintln!("{shown}: authenticated; the connection is back");
                return Ok(());
            }
            "refused" => return Err(CliError::new(Exit::Auth, unescape(rest))),
            "failed" => {
                return Err(CliError::other(format!("{shown}: {}", unescape(rest))));
            }
            _ => {
                return Err(CliError::other(format!(
                    "the mount daemon of {shown} sent something unexpected"
                )));
            }
        }
    }
}

/// MOUNTPOINT (a path of a mounted vault) or NAME (the source a vault was mounted from).
fn find_mount(target: &Path) -> CliResult<PathBuf> {
    let mounts = vault_fs::mounted_vaults();
    let key = mount_key(target);
    if let Some(m) = mounts.iter().find(|m| mount_key(&m.mountpoint) == key) {
        return Ok(m.mountpoint.clone());
    }
    let name = target.to_string_lossy();
    let by_name: Vec<_> = mounts.iter().filter(|m| m.source == name).collect();
    // A configured NAME: its mountpoint, or where its STORAGE is mounted.
    if by_name.is_empty()
        && crate::cli::config::load().is_ok_and(|(_, c)| c.vaults.contains_key(name.as_ref()))
    {
        return super::mounted::named_mountpoint(&name);
    }
    match by_name.as_slice() {
        [one] => Ok(one.mountpoint.clone()),
        [] => Err(CliError::other(format!(
            "no vault is mounted at or named {name}; `vault status` lists the mounts"
        ))),
        _ => Err(CliError::usage(format!(
            "{name} is mounted more than once; give the mountpoint"
        ))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use vault_sftp::Prompter;

    #[test]
    fn escaping_round_trips() {
        for s in ["Verification code: ", "a\\b\nc\r", "\\n", ""] {
            assert_eq!(unescape(&escape(s)), s);
            assert!(!escape(s).contains('\n'));
        }
    }

    #[test]
    fn socket_names_are_stable_and_distinct() {
        let a = socket_name(Path::new("/mnt/a"));
        assert_eq!(a, socket_name(Path::new("/mnt/a")));
        assert_ne!(a, socket_name(Path::new("/mnt/b")));
        assert!(a.starts_with("auth-") && a.ends_with(".sock") && a.len() == 26);
    }

    fn question(prompt: &str) -> vault_sftp::ServerQuestion {
        vault_sftp::ServerQuestion {
            server: "u@h:22 SHA256:k".into(),
            prompt: prompt.into(),
            shown: vault_sftp::text::server_text("u@h", prompt),
            echo: false,
        }
    }

    const CODE_SHOWN: &str = "[sftp u@h] Verification code:";

    #[test]
    fn recorded_answer_is_not_replayed_once_refused() {
        let q = question("Verification code: ");
        let recorded = Secrets::preset(
            vec![(
                crate::cli::secrets::server_answer_key(&q),
                Zeroizing::new("123456".to_string()),
            )],
            Default::default(),
        );
        let broker = Broker::new("h", Path::new("/m"), Duration::from_millis(200));
        let p = DaemonPrompter::new(recorded, None, broker.clone());
        assert_eq!(p.server(&q).unwrap().as_str(), "123456");
        // Not armed (the initial login): nobody else to ask, so no second round.
        assert!(!p.refused(&[CODE_SHOWN.to_string()]));
        broker.arm();
        // Armed: the recorded code stays refused; the question is posted and times out.
        let t = Instant::now();
        assert!(p.server(&q).is_err());
        assert!(t.elapsed() >= Duration::from_millis(200));
        assert!(!broker.waiting());
    }

    /// A server that asks in our own words gets nothing the parent handed over: not the
    /// passphrase (local prompts only reach `secret`), not an answer recorded for another
    /// server or another question.
    #[test]
    fn a_server_question_never_gets_a_local_secret() {
        let q = question("Verification code: ");
        let recorded = Secrets::preset(
            vec![
                (
                    "Passphrase for key /k: ".to_string(),
                    Zeroizing::new("pp".to_string()),
                ),
                (
                    crate::cli::secrets::server_answer_key(&q),
                    Zeroizing::new("123456".to_string()),
                ),
                (
                    crate::cli::secrets::TOTP_HANDOVER.to_string(),
                    Zeroizing::new("GEZDGNBVGY3TQOJQ".to_string()),
                ),
            ],
            Default::default(),
        );
        let broker = Broker::new("h", Path::new("/m"), Duration::from_millis(50));
        let p = DaemonPrompter::new(recorded, None, broker);
        assert_eq!(p.secret("Passphrase for key /k: ").unwrap().as_str(), "pp");
        for hostile in [
            "Passphrase for key /k: ",
            crate::cli::secrets::TOTP_HANDOVER,
            "Vault password for sftp://u@h/v: ",
        ] {
            assert!(p.server(&question(hostile)).is_err(), "{hostile}");
        }
        let mut elsewhere = q.clone();
        elsewhere.server = "u@h:22 SHA256:other".into();
        assert!(p.server(&elsewhere).is_err());
        // Only our own prompt texts reach the local answers.
        assert!(p.secret(crate::cli::secrets::TOTP_HANDOVER).is_err());
        assert!(p.secret("[sftp u@h] Passphrase for key /k: ").is_err());
    }

    #[test]
    fn auth_answers_reach_the_prompter_and_get_a_verdict() {
        let broker = Broker::new("h", Path::new("/m"), Duration::from_secs(10));
        broker.arm();
        let p = Arc::new(DaemonPrompter::new(
            Secrets::preset(Vec::new(), Default::default()),
            None,
            broker.clone(),
        ));
        let p2 = p.clone();
        let asker =
            std::thread::spawn(move || p2.server(&question("Verification code: ")).unwrap());
        let pending = match broker.wait_event(false, 0, Duration::from_secs(5)) {
            Event::Pending(p) => p,
            _ => panic!("no question posted"),
        };
        assert!(broker.waiting());
        assert_eq!(pending.prompt, "[sftp u@h] Verification code: ");
        assert!(!pending.echo);
        assert!(broker.deliver(pending.id, Zeroizing::new("654321".into())));
        assert!(!broker.deliver(pending.id, Zeroizing::new("x".into())));
        assert_eq!(asker.join().unwrap().as_str(), "654321");
        // Refused: the verdict says so, and a new round may start.
        assert!(p.refused(&[CODE_SHOWN.to_string()]));
        assert!(matches!(
            broker.wait_event(true, pending.id, Duration::from_secs(1)),
            Event::Verdict(Verdict::Refused(_))
        ));
        // Accepted on a later round.
        let p3 = p.clone();
        let asker =
            std::thread::spawn(move || p3.server(&question("Verification code: ")).unwrap());
        let pending = match broker.wait_event(false, pending.id, Duration::from_secs(5)) {
            Event::Pending(p) => p,
            _ => panic!("no second question"),
        };
        assert!(broker.deliver(pending.id, Zeroizing::new("111111".into())));
        asker.join().unwrap();
        p.logged_in();
        assert!(matches!(
            broker.wait_event(true, pending.id, Duration::from_secs(1)),
            Event::Verdict(Verdict::Ok)
        ));
        broker.close();
        assert!(p.server(&question("Verification code: ")).is_err());
    }
}
