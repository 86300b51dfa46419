//! The upload queue of a `--cache=full` mount ([`vault_storage::queue`]): put in front of the
//! storage, attached to `<cache folder>/journal` once the vault is unlocked, reported to other
//! commands through files beside the mount's `vault auth` socket:
//! - `<socket>.queue`: the daemon's figures and pending ops, rewritten twice a second
//!   (`vault status -l`, `vault queue`, `vault unmount`'s progress);
//! - `<socket>.drain`: written by `vault unmount` before it unmounts: the daemon then waits
//!   for the queue (at most `-o drain_timeout=`) before it exits; removed by `vault unmount`
//!   on Ctrl-C to stop waiting. Any other end (auto-lock, `--idle`, an eject) leaves what is
//!   pending in the journal at once: none of them can wait on the network;
//! - `<socket>.retry`: written by `vault queue --retry`, removed by the daemon once it has
//!   retried every waiting op.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use vault_storage::Storage;
use vault_storage::cached::CachedStorage;
use vault_storage::queue::{QueueOptions, QueueStats, QueuedStorage};

use super::cache::CacheMode;
use super::exit::{CliError, CliResult};

/// How long a `vault unmount` waits for the queue by default (`-o drain_timeout=`).
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// `storage` behind an upload queue when the mode is `full`.
pub fn layer(
    storage: Arc<dyn Storage>,
    mode: Option<CacheMode>,
) -> (Arc<dyn Storage>, Option<Arc<QueuedStorage>>) {
    if mode != Some(CacheMode::Full) {
        return (storage, None);
    }
    let q = Arc::new(QueuedStorage::new(storage, QueueOptions::default()));
    (q.clone(), Some(q))
}

/// Attaches the queue to the journal in the (now persistent) metadata cache's folder; a folder
/// the queue recreates is linked back into `vault`'s tree.
pub fn attach(
    queue: &QueuedStorage,
    cached: &CachedStorage,
    vault: &vault_engine::Vault,
) -> CliResult<()> {
    relink_recreated_folders(queue, vault);
    let placer = vault.conflict_placer();
    queue.on_conflict_without_name(Arc::new(move |object| {
        let placer = placer.clone();
        Box::pin(async move { placer.place(&object).await })
    }));
    let Some(dir) = cached.store_dir() else {
        return Err(CliError::other(
            "--cache=full needs the persistent cache folder, which is not available",
        ));
    };
    let journal = dir.join("journal");
    let n = queue
        .attach(&journal)
        .map_err(|e| CliError::other(format!("upload journal {}: {e}", journal.display())))?;
    if n > 0 {
        tracing::info!(
            pending = n,
            "upload queue: uploads left by the last mount resume now"
        );
    }
    Ok(())
}

/// A folder another device removed under a queued change is recreated by the queue's worker;
/// the vault then gives it a node again (`NAME (recovered …)` in the root), or the queued file
/// would be in a folder no client can reach.
fn relink_recreated_folders(queue: &QueuedStorage, vault: &vault_engine::Vault) {
    let recoverer = vault.folder_recoverer();
    queue.on_folder_recreated(Arc::new(move |content| {
        let (r, content) = (recoverer.clone(), content.clone());
        tokio::spawn(async move {
            match r.relink(&content).await {
                Ok(_) => {}
                Err(e) => tracing::error!(
                    content = %content,
                    error = %e,
                    "upload queue: could not link a recreated folder into the vault"
                ),
            }
        });
    }));
}

/// The files beside a mount's socket.
#[derive(Debug, Clone)]
pub struct QueueFiles {
    base: PathBuf,
}

impl QueueFiles {
    /// The files of the mount at `mountpoint`.
    pub fn of(mountpoint: &Path) -> Option<QueueFiles> {
        let socket = super::reauth::socket_path(&super::reauth::mount_key(mountpoint)).ok()?;
        Some(QueueFiles { base: socket })
    }

    fn with(&self, ext: &str) -> PathBuf {
        let mut name = self.base.file_name().unwrap_or_default().to_os_string();
        name.push(ext);
        self.base.with_file_name(name)
    }

    pub fn status(&self) -> PathBuf {
        self.with(".queue")
    }

    pub fn drain(&self) -> PathBuf {
        self.with(".drain")
    }

    pub fn retry(&self) -> PathBuf {
        self.with(".retry")
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The status file's text (`KEY VALUE` lines; `op` lines: kind, attempts, bytes, storage path).
fn render(queue: &QueuedStorage, state: &str) -> String {
    let s = queue.stats();
    let mut out = format!(
        "state {state}\npending {}\nbytes {}\noldest {}\nconflicts {}\nerror {}\n",
        s.pending,
        s.bytes,
        s.oldest.map(unix).unwrap_or(0),
        s.conflicts,
        s.last_error
            .as_deref()
            .unwrap_or("-")
            .replace(['\n', '\r'], " ")
    );
    for e in queue.entries().into_iter().take(1000) {
        out.push_str(&format!(
            "op {}\t{}\t{}\t{}\n",
            e.op, e.attempts, e.len, e.path
        ));
    }
    out
}

fn write_status(files: &QueueFiles, queue: &QueuedStorage, state: &str) {
    let path = files.status();
    let tmp = path.with_extension("queue-tmp");
    if std::fs::write(&tmp, render(queue, state)).is_ok() {
        let _ = std::fs::rename(&tmp, &path);
    }
}

/// The queue's state while the mount runs: `running`, or `waiting-login` while uploads are
/// pending and the connection waits for `vault auth` (a reconnect whose question no recorded
/// answer, askpass or dialog could answer: a new TOTP code).
pub const WAITING_LOGIN: &str = "waiting-login";

fn state(queue: &QueuedStorage, login: Option<&super::reauth::Broker>) -> &'static str {
    match login {
        Some(b) if b.needs_login() && queue.stats().pending > 0 => WAITING_LOGIN,
        _ => "running",
    }
}

/// Keeps the status file current and answers `vault queue --retry`, while the mount runs.
/// `login`: the broker of the mount's reconnect questions (sftp://): while it needs a login
/// the state says so; once a login succeeds (or `vault auth` comes while no attempt is
/// asking) every waiting upload is tried at once, whatever its backoff.
pub fn report(
    rt: &tokio::runtime::Handle,
    queue: Arc<QueuedStorage>,
    mountpoint: &Path,
    login: Option<Arc<super::reauth::Broker>>,
) {
    let Some(files) = QueueFiles::of(mountpoint) else {
        return;
    };
    let _ = std::fs::remove_file(files.drain());
    let shown = mountpoint.display().to_string();
    rt.spawn(async move {
        let mut logins = login.as_ref().map(|b| b.logins()).unwrap_or(0);
        let mut was = "running";
        loop {
            if std::fs::remove_file(files.retry()).is_ok() {
                tracing::info!("upload queue: retrying now (vault queue --retry)");
                queue.retry_now();
            }
            if let Some(b) = &login {
                let now = b.logins();
                if now != logins || b.take_asked_for() {
                    logins = now;
                    queue.retry_now();
                }
            }
            let state = state(&queue, login.as_deref());
            if state == WAITING_LOGIN && was != WAITING_LOGIN {
                tracing::warn!(
                    pending = queue.stats().pending,
                    "upload queue: waiting for a login: run `vault auth {shown}`"
                );
            }
            was = state;
            write_status(&files, &queue, state);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
}

/// At the end of a mount: waits for the queue when `vault unmount` asked (at most `timeout`,
/// or until it stops asking), then stops the worker; what is pending stays in the journal.
pub fn finish(
    rt: &tokio::runtime::Runtime,
    queue: &QueuedStorage,
    mountpoint: &Path,
    timeout: Duration,
) {
    let files = QueueFiles::of(mountpoint);
    let asked = files.as_ref().is_some_and(|f| f.drain().exists());
    if asked && let Some(files) = &files {
        let deadline = std::time::Instant::now() + timeout;
        rt.block_on(async {
            while queue.stats().pending > 0
                && std::time::Instant::now() < deadline
                && files.drain().exists()
            {
                write_status(files, queue, "draining");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });
    }
    queue.stop();
    let left = queue.stats();
    if left.pending > 0 {
        tracing::warn!(
            pending = left.pending,
            bytes = left.bytes,
            "upload queue: uploads left pending in the journal; they resume on the next mount of this vault"
        );
    }
    if let Some(files) = &files {
        write_status(files, queue, "ended");
        let _ = std::fs::remove_file(files.drain());
        let _ = std::fs::remove_file(files.retry());
    }
}

/// A status file read back.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub state: String,
    pub stats: QueueStats,
    /// `(kind, attempts, bytes, path)`.
    pub ops: Vec<(String, u32, u64, String)>,
}

/// A running daemon rewrites its status file at least this often; an older one that does not
/// say "ended" was left by a daemon that died.
const STALE: Duration = Duration::from_secs(5);

/// The status file of the mount at `mountpoint`, if it has a queue (and, unless the file says
/// the mount ended, its daemon is alive).
pub fn read(mountpoint: &Path) -> Option<Seen> {
    let path = QueueFiles::of(mountpoint)?.status();
    let age = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default();
    let text = std::fs::read_to_string(&path).ok()?;
    let mut seen = Seen::default();
    for line in text.lines().take(2000) {
        let (k, v) = line.split_once(' ').unwrap_or((line, ""));
        match k {
            "state" => seen.state = v.into(),
            "pending" => seen.stats.pending = v.parse().unwrap_or(0),
            "bytes" => seen.stats.bytes = v.parse().unwrap_or(0),
            "oldest" => {
                seen.stats.oldest = v
                    .parse::<u64>()
                    .ok()
                    .filter(|&s| s > 0)
                    .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
            }
            "conflicts" => seen.stats.conflicts = v.parse().unwrap_or(0),
            "error" if v != "-" => seen.stats.last_error = Some(v.into()),
            "op" => {
                let f: Vec<&str> = v.splitn(4, '\t').collect();
                if let [kind, attempts, len, path] = f[..] {
                    seen.ops.push((
                        kind.into(),
                        attempts.parse().unwrap_or(0),
                        len.parse().unwrap_or(0),
                        path.into(),
                    ));
                }
            }
            _ => {}
        }
    }
    if seen.state != "ended" && age > STALE {
        return None;
    }
    Some(seen)
}

/// `oldest` as an age for people: `42s`, `5m`, `3h`, `2d`.
pub fn age(t: Option<SystemTime>) -> String {
    let Some(t) = t else { return "-".into() };
    let s = SystemTime::now()
        .duration_since(t)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}
