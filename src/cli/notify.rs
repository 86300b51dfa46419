//! Desktop notifications over the freedesktop Notifications interface
//! (`org.freedesktop.Notifications.Notify` on the session bus), from a mount that runs without
//! a terminal: the vault was locked (auto-lock, `--idle`), a reconnect waits for `vault auth`,
//! a sync-conflict copy was found.
//!
//! Off until [`enable`] (the mount daemon, or a `--foreground` mount whose stderr is not a
//! terminal, unless `--no-notify` / `notify = false`): commands run in a terminal say what they
//! have to say there. Messages go through a queue to one sender thread, so no caller blocks on
//! D-Bus; [`finish`] waits (bounded) for the queue before the daemon exits. No session bus, no
//! notification server: one log line, nothing fails.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
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

static SENDER: Mutex<Option<Sender>> = Mutex::new(None);

fn sender() -> std::sync::MutexGuard<'static, Option<Sender>> {
    SENDER.lock().unwrap_or_else(|p| p.into_inner())
}

/// True when `enable` should be called: not turned off, and no terminal to talk to.
pub fn wanted(no_notify: bool) -> bool {
    use std::io::IsTerminal;
    !no_notify && !std::io::stderr().is_terminal()
}

/// Turns notifications on for this process; `label` names the vault in them.
pub fn enable(label: &str) {
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
    *sender() = Some(Sender {
        label: label.to_string(),
        tx,
        done,
    });
}

/// Sends what is queued and stops; waits at most `limit` for the queue to drain.
pub fn finish(limit: Duration) {
    let Some(s) = sender().take() else {
        return;
    };
    drop(s.tx);
    let _ = s.done.recv_timeout(limit);
}

fn queue(make: impl FnOnce(&str) -> Note) {
    if let Some(s) = sender().as_ref() {
        let _ = s.tx.send(make(&s.label));
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
    enable(&super::sidebar::label_of(&folder.to_string_lossy()));
    queue(|label| Note {
        summary: format!("Vault {label} was not opened"),
        body: message.to_string(),
    });
    finish(CALL_TIMEOUT);
}

/// Auto-lock or `--idle` locked the vault.
pub fn locked(why: &str) {
    queue(|label| locked_note(label, why));
}

/// A reconnect waits for `vault auth` (see `reauth`).
pub fn auth_waiting(host: &str, mountpoint: &str, what: &str) {
    queue(|label| auth_note(label, host, mountpoint, what));
}

/// A listing found a sync-conflict copy.
pub fn conflict(event: &vault_engine::ConflictEvent) {
    queue(|label| conflict_note(label, &event.name, &event.description));
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
    fn nothing_is_queued_while_off() {
        // Not enabled in unit tests: these return at once and send nothing.
        locked("x");
        auth_waiting("h", "/m", "a code");
        assert!(sender().is_none());
    }
}
