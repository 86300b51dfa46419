//! Auto-lock: a mounted vault locks (flushes every open file, then unmounts, as `vault unmount`
//! and SIGTERM do) when logind announces suspend (`PrepareForSleep(true)` of
//! `org.freedesktop.login1.Manager` on the system bus) or locks the user's session (`Lock` of
//! the session object, found with `GetSession($XDG_SESSION_ID)`, else `GetSessionByPID`).
//!
//! While mounted the daemon holds a logind "delay" inhibitor for sleep, so the flush finishes
//! before the machine sleeps; it is released once the mount has ended ([`AutoLock::finish`]).
//! No system bus, no logind, no session: logged, never fatal (the mount goes on without the
//! triggers that are missing). `DBUS_SYSTEM_BUS_ADDRESS` picks the bus (zbus honours it).
//!
//! The pure parts, [`decide`] and [`session_lookup`], say what the signals mean; the rest is
//! the D-Bus glue.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use vault_fs::StopHandle;

use super::notify::Notifier;

/// What logind told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogindEvent {
    /// `Manager.PrepareForSleep(start)`: `true` before suspend, `false` after resume.
    PrepareForSleep(bool),
    /// `Session.Lock`: the screen locker is asked to lock the session.
    SessionLock,
}

/// Why a vault locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The machine is about to sleep.
    Sleep,
    /// The user's session was locked.
    SessionLocked,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reason::Sleep => "the system is going to sleep",
            Reason::SessionLocked => "the session was locked",
        })
    }
}

/// What a logind event means for a mounted vault: `Some(reason)` to lock it now.
pub fn decide(event: LogindEvent) -> Option<Reason> {
    match event {
        LogindEvent::PrepareForSleep(true) => Some(Reason::Sleep),
        LogindEvent::SessionLock => Some(Reason::SessionLocked),
        // Resume comes after a lock: the vault is unmounted by then.
        LogindEvent::PrepareForSleep(false) => None,
    }
}

/// How to find this process's logind session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionLookup {
    /// `GetSession(id)`, from `$XDG_SESSION_ID`.
    ById(String),
    /// `GetSessionByPID(pid)`: no (usable) `$XDG_SESSION_ID`.
    ByPid(u32),
}

/// `$XDG_SESSION_ID` when set and non-blank, else our own pid.
pub fn session_lookup(xdg_session_id: Option<&str>, pid: u32) -> SessionLookup {
    match xdg_session_id.map(str::trim) {
        Some(id) if !id.is_empty() => SessionLookup::ById(id.to_string()),
        _ => SessionLookup::ByPid(pid),
    }
}

#[zbus::proxy(
    interface = "org.freedesktop.login1.Manager",
    default_service = "org.freedesktop.login1",
    default_path = "/org/freedesktop/login1"
)]
trait Manager {
    async fn inhibit(
        &self,
        what: &str,
        who: &str,
        why: &str,
        mode: &str,
    ) -> zbus::Result<zbus::OwnedFd>;

    async fn get_session(&self, session_id: &str) -> zbus::Result<zbus::OwnedObjectPath>;

    #[zbus(name = "GetSessionByPID")]
    async fn get_session_by_pid(&self, pid: u32) -> zbus::Result<zbus::OwnedObjectPath>;

    #[zbus(signal)]
    fn prepare_for_sleep(&self, start: bool) -> zbus::Result<()>;
}

#[zbus::proxy(
    interface = "org.freedesktop.login1.Session",
    default_service = "org.freedesktop.login1"
)]
trait Session {
    #[zbus(signal)]
    fn lock(&self) -> zbus::Result<()>;
}

/// How long mounting waits for the watcher to be armed before it reports ready anyway.
const ARM_TIMEOUT: Duration = Duration::from_secs(3);

/// The running watcher of one mount. Call [`AutoLock::finish`] once the mount has ended.
#[derive(Debug)]
pub struct AutoLock {
    /// The sleep inhibitor, held until the mount has ended.
    inhibitor: Arc<Mutex<Option<zbus::OwnedFd>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl AutoLock {
    /// Auto-lock is off (`--no-auto-lock`): nothing is watched.
    pub fn disabled() -> AutoLock {
        tracing::info!("auto-lock is off (--no-auto-lock): suspend and session lock are ignored");
        AutoLock {
            inhibitor: Arc::new(Mutex::new(None)),
            task: None,
        }
    }

    /// Starts watching logind for `mountpoint`; `stop` ends the mount, `notifier` tells why.
    /// Returns once the watcher is armed (subscribed, inhibitor taken) or gave up, or after
    /// [`ARM_TIMEOUT`].
    pub fn start(
        rt: &tokio::runtime::Runtime,
        mountpoint: &Path,
        stop: StopHandle,
        notifier: Notifier,
    ) -> AutoLock {
        let inhibitor = Arc::new(Mutex::new(None));
        let (armed_tx, armed_rx) = tokio::sync::oneshot::channel();
        let task = rt.spawn(watch(
            mountpoint.to_path_buf(),
            stop,
            notifier,
            Arc::clone(&inhibitor),
            armed_tx,
        ));
        let armed = rt.block_on(async { tokio::time::timeout(ARM_TIMEOUT, armed_rx).await });
        if armed.is_err() {
            tracing::info!("auto-lock: logind did not answer in time; still trying");
        }
        AutoLock {
            inhibitor,
            task: Some(task),
        }
    }

    /// The mount has ended: stop watching and release the sleep inhibitor.
    pub fn finish(self) {
        if let Some(task) = &self.task {
            task.abort();
        }
        let released = self
            .inhibitor
            .lock()
            .map(|mut slot| slot.take())
            .unwrap_or_default();
        if released.is_some() {
            drop(released);
            tracing::info!("auto-lock: released the sleep inhibitor");
        }
    }
}

/// Connects, takes the inhibitor, subscribes, then waits for a trigger and stops the mount.
async fn watch(
    mountpoint: PathBuf,
    stop: StopHandle,
    notifier: Notifier,
    inhibitor: Arc<Mutex<Option<zbus::OwnedFd>>>,
    armed: tokio::sync::oneshot::Sender<()>,
) {
    let Some(mut triggers) = arm(&inhibitor).await else {
        let _ = armed.send(());
        return;
    };
    let _ = armed.send(());
    while let Some(event) = triggers.next().await {
        if let Some(reason) = decide(event) {
            tracing::info!(
                "auto-lock: {reason}: flushing and unmounting {}",
                mountpoint.display()
            );
            notifier.locked(&capitalised(&reason.to_string()));
            stop.stop();
            return;
        }
    }
    tracing::info!("auto-lock: the system bus connection ended; auto-lock is off");
}

type Triggers = futures::stream::BoxStream<'static, LogindEvent>;

/// Sets up the watch; `None` (logged) when there is nothing to watch.
async fn arm(inhibitor: &Mutex<Option<zbus::OwnedFd>>) -> Option<Triggers> {
    let conn = match zbus::Connection::system().await {
        Ok(c) => c,
        Err(e) => {
            tracing::info!("auto-lock is off: no system D-Bus ({e})");
            return None;
        }
    };
    let manager = match ManagerProxy::new(&conn).await {
        Ok(m) => m,
        Err(e) => {
            tracing::info!("auto-lock is off: logind unavailable ({e})");
            return None;
        }
    };
    // Subscribe before taking the inhibitor: no sleep announced in between goes unseen.
    let sleep = match manager.receive_prepare_for_sleep().await {
        Ok(s) => s.filter_map(|signal| async move {
            match signal.args() {
                Ok(args) => Some(LogindEvent::PrepareForSleep(args.start)),
                Err(e) => {
                    tracing::debug!("auto-lock: unreadable PrepareForSleep signal: {e}");
                    None
                }
            }
        }),
        Err(e) => {
            tracing::info!("auto-lock is off: cannot watch logind ({e})");
            return None;
        }
    };
    match manager
        .inhibit("sleep", "vault", "Lock vaults before sleep", "delay")
        .await
    {
        Ok(fd) => {
            if let Ok(mut slot) = inhibitor.lock() {
                *slot = Some(fd);
            }
            tracing::info!("auto-lock: took a sleep delay inhibitor");
        }
        Err(e) if logind_absent(&e) => {
            tracing::info!("auto-lock is off: logind is not on the system bus ({e})");
            return None;
        }
        Err(e) => {
            tracing::warn!(
                "auto-lock: no sleep inhibitor ({e}); writes may not be flushed before sleep"
            )
        }
    }
    let lookup = session_lookup(
        std::env::var("XDG_SESSION_ID").ok().as_deref(),
        std::process::id(),
    );
    let session = match &lookup {
        SessionLookup::ById(id) => manager.get_session(id).await,
        SessionLookup::ByPid(pid) => manager.get_session_by_pid(*pid).await,
    };
    let lock = match session {
        Ok(path) => match session_lock_stream(&conn, path).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::info!("auto-lock: cannot watch the session ({e}); only sleep locks");
                None
            }
        },
        Err(e) => {
            tracing::info!("auto-lock: no logind session ({e}); only sleep locks");
            None
        }
    };
    let sleep: Triggers = sleep.boxed();
    Some(match lock {
        Some(lock) => futures::stream::select(sleep, lock).boxed(),
        None => sleep,
    })
}

async fn session_lock_stream(
    conn: &zbus::Connection,
    path: zbus::OwnedObjectPath,
) -> zbus::Result<Triggers> {
    let session = SessionProxy::builder(conn).path(path).build().await?;
    let lock = session.receive_lock().await?;
    Ok(lock.map(|_| LogindEvent::SessionLock).boxed())
}

/// `The session was locked` for a notification's sentence.
fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn logind_absent(e: &zbus::Error) -> bool {
    matches!(
        e,
        zbus::Error::FDO(f) if matches!(
            **f,
            zbus::fdo::Error::ServiceUnknown(_) | zbus::fdo::Error::NameHasNoOwner(_)
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_and_session_lock_trigger_a_lock() {
        assert_eq!(
            decide(LogindEvent::PrepareForSleep(true)),
            Some(Reason::Sleep)
        );
        assert_eq!(
            decide(LogindEvent::SessionLock),
            Some(Reason::SessionLocked)
        );
    }

    #[test]
    fn resume_does_nothing() {
        assert_eq!(decide(LogindEvent::PrepareForSleep(false)), None);
    }

    #[test]
    fn reasons_read_as_log_text() {
        assert_eq!(Reason::Sleep.to_string(), "the system is going to sleep");
        assert_eq!(Reason::SessionLocked.to_string(), "the session was locked");
    }

    #[test]
    fn session_found_by_id_else_by_pid() {
        assert_eq!(
            session_lookup(Some("c2"), 42),
            SessionLookup::ById("c2".into())
        );
        assert_eq!(session_lookup(None, 42), SessionLookup::ByPid(42));
        assert_eq!(session_lookup(Some("  "), 42), SessionLookup::ByPid(42));
    }
}
