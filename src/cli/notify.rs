//! Desktop notifications over the freedesktop Notifications interface
//! (`org.freedesktop.Notifications.Notify` on the session bus), from a mount that runs without
//! a terminal: the vault was locked (auto-lock, `--idle`), a reconnect waits for `vault auth`,
//! a sync-conflict copy was found.
//!
//! A mount owns one [`Notifier`] and hands clones to what notifies (the vault's conflict
//! observer, the reconnect broker, auto-lock, the mount's `Desktop`); there is no
//! process-wide switch. It is off until [`Notifier::enable`] (the mount daemon, or a
//! `--foreground` mount whose stderr is not a terminal, unless `--no-notify` / `notify =
//! false`): commands run in a terminal say what they have to say there. Messages go through a
//! queue to one sender thread, so no caller blocks on D-Bus; [`Notifier::finish`] waits
//! (bounded) for the queue before the daemon exits. No session bus, no notification server: one
//! log line, nothing fails.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long one Notify call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

#[zbus::proxy(
    interface = "org.freedesktop.Notifications",
    default_service = "org.freedesktop.Notifications",
    default_path = "/org/freedesktop/Notifications"
)]
trait Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: &str,
        replaces_id: u32,
        app_icon: &str,
        summary: &str,
        body: &str,
        actions: &[&str],
        hints: HashMap<&str, zbus::Variant<'_>>,
        expire_timeout: i32,
    ) -> zbus::Result<u32>;
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub summary: String,
    pub body: String,
}

struct Sender {
    label: String,
    tx: tokio::sync::mpsc::UnboundedSender<Note>,
    done: std::sync::mpsc::Receiver<()>,
}

/// True when [`Notifier::enable`] should be called: not turned off, and no terminal to talk to.
pub fn wanted(no_notify: bool) -> bool {
    use std::io::IsTerminal;
    !no_notify && !std::io::stderr().is_terminal()
}

/// The notifications of one mount (or one `vault open`). Clones share one sender: whichever
/// clone enables or finishes, all see it. Messages queued while off are dropped.
#[derive(Clone, Default)]
pub struct Notifier {
    sender: Arc<Mutex<Option<Sender>>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("on", &self.is_on())
            .finish()
    }
}

impl Notifier {
    fn sender(&self) -> std::sync::MutexGuard<'_, Option<Sender>> {
        self.sender.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True between [`Notifier::enable`] and [`Notifier::finish`].
    pub fn is_on(&self) -> bool {
        self.sender().is_some()
    }

    /// Turns notifications on; `label` names the vault in them.
    pub fn enable(&self, label: &str) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (done_tx, done) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("notify".into())
            .spawn(move || {
                run_sender(rx);
                let _ = done_tx.send(());
            });
        if let Err(e) = spawned {
            tracing::info!("notifications are off: {e}");
            return;
        }
        *self.sender() = Some(Sender {
            label: label.to_string(),
            tx,
            done,
        });
    }

    /// Sends what is queued and stops; waits at most `limit` for the queue to drain.
    pub fn finish(&self, limit: Duration) {
        let Some(s) = self.sender().take() else {
            return;
        };
        drop(s.tx);
        let _ = s.done.recv_timeout(limit);
    }

    fn queue(&self, make: impl FnOnce(&str) -> Note) {
        if let Some(s) = self.sender().as_ref() {
            let _ = s.tx.send(make(&s.label));
        }
    }

    /// Auto-lock or `--idle` locked the vault.
    pub fn locked(&self, why: &str) {
        self.queue(|label| locked_note(label, why));
    }

    /// A reconnect waits for `vault auth` (see `reauth`).
    pub fn auth_waiting(&self, host: &str, mountpoint: &str, what: &str) {
        self.queue(|label| auth_note(label, host, mountpoint, what));
    }

    /// A listing found a sync-conflict copy.
    pub fn conflict(&self, event: &vault_engine::ConflictEvent) {
        self.queue(|label| conflict_note(label, &event.name, &event.description));
    }

    /// The vault's conflict observer (`Vault::on_conflict`), notifying through this notifier.
    pub fn conflict_observer(&self) -> vault_engine::ConflictObserver {
        let notifier = self.clone();
        Box::new(move |event| notifier.conflict(event))
    }
}

/// The sender thread: connects on the first message, then one Notify call per message.
fn run_sender(mut rx: tokio::sync::mpsc::UnboundedReceiver<Note>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::info!("notifications are off: {e}");
            return;
        }
    };
    rt.block_on(async move {
        let mut proxy: Option<NotificationsProxy<'static>> = None;
        let mut unavailable = false;
        while let Some(note) = rx.recv().await {
            if unavailable {
                continue;
            }
            if proxy.is_none() {
                match connect().await {
                    Ok(p) => proxy = Some(p),
                    Err(e) => {
                        tracing::info!("notifications are off: no session D-Bus ({e})");
                        unavailable = true;
                        continue;
                    }
                }
            }
            if let Some(p) = &proxy {
                send(p, &note).await;
            }
        }
    });
}

async fn connect() -> zbus::Result<NotificationsProxy<'static>> {
    let conn = tokio::time::timeout(CALL_TIMEOUT, zbus::Connection::session())
        .await
        .map_err(|_| zbus::Error::Failure("timed out".into()))??;
    NotificationsProxy::new(&conn).await
}

async fn send(proxy: &NotificationsProxy<'static>, note: &Note) {
    let call = proxy.notify(
        "vault",
        0,
        "folder-locked",
        &note.summary,
        &note.body,
        &[],
        HashMap::new(),
        -1,
    );
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(Ok(_)) => tracing::debug!("notified: {}", note.summary),
        Ok(Err(e)) => tracing::info!("notification not shown: {e}"),
        Err(_) => tracing::info!("notification not shown: the server did not answer"),
    }
}

// ------------------------------------------------------------------ the messages

/// The vault was locked (flushed and unmounted) because of `why`.
pub fn locked_note(label: &str, why: &str) -> Note {
    Note {
        summary: format!("Vault {label} locked"),
        body: format!("{why}: its files were written back and it was unmounted."),
    }
}

/// A reconnect waits for `vault auth`.
pub fn auth_note(label: &str, host: &str, mountpoint: &str, what: &str) -> Note {
    Note {
        summary: format!("Vault {label} needs {what}"),
        body: format!(
            "The connection to {host} dropped. To reconnect, run: vault auth {mountpoint}"
        ),
    }
}

/// A sync-conflict copy was found.
pub fn conflict_note(label: &str, name: &str, description: &str) -> Note {
    Note {
        summary: format!("Sync conflict in vault {label}"),
        body: format!("{name}: {description}"),
    }
}

/// `vault open FILE` failed (run by a file manager: nobody reads its stderr). Sent at once.
pub fn failed(file: &Path, message: &str) {
    let folder = file.parent().filter(|_| !file.is_dir()).unwrap_or(file);
    let notifier = Notifier::default();
    notifier.enable(&super::sidebar::label_of(&folder.to_string_lossy()));
    notifier.queue(|label| Note {
        summary: format!("Vault {label} was not opened"),
        body: message.to_string(),
    });
    notifier.finish(CALL_TIMEOUT);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_vault_and_the_way_out() {
        let n = auth_note("work", "nas", "/home/me/Work", "a verification code");
        assert_eq!(n.summary, "Vault work needs a verification code");
        assert!(n.body.contains("vault auth /home/me/Work"), "{}", n.body);
        let n = locked_note("work", "the session was locked");
        assert_eq!(n.summary, "Vault work locked");
        assert!(n.body.starts_with("the session was locked"));
        let n = conflict_note("work", "a (Conflict 1).txt", "conflict copy: renamed");
        assert_eq!(n.body, "a (Conflict 1).txt: conflict copy: renamed");
    }

    #[test]
    fn nothing_is_queued_while_off_and_clones_share_one_sender() {
        // Not enabled: these return at once and send nothing.
        let n = Notifier::default();
        n.locked("x");
        n.auth_waiting("h", "/m", "a code");
        assert!(!n.is_on());
        // Clones share one sender: what one clone queues once another enabled it is sent,
        // and finishing turns every clone off.
        let other = n.clone();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (_done_tx, done) = std::sync::mpsc::channel();
        *n.sender() = Some(Sender {
            label: "work".into(),
            tx,
            done,
        });
        assert!(other.is_on());
        other.locked("It was not used for 1 min");
        assert_eq!(rx.try_recv().expect("queued").summary, "Vault work locked");
        other.finish(Duration::from_millis(1));
        assert!(!n.is_on());
        n.locked("again");
        assert!(rx.try_recv().is_err(), "nothing is queued once finished");
    }
}
