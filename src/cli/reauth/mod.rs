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
//!
//! Layout: `wire` (socket location, line protocol), `broker` (the pending round), `prompter`
//! (the daemon's SFTP prompter), `relay` (questions to `vault mount` during the first login);
//! this module serves the socket and holds the `vault auth` client.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tracing::warn;
use zeroize::Zeroizing;

use super::exit::{CliError, CliResult, Exit};
use super::secrets::Secrets;

/// Default for `-o auth_wait`: how long a reconnect waits for `vault auth`.
pub const DEFAULT_AUTH_WAIT: Duration = Duration::from_secs(600);
/// How long `vault auth` waits for the server's verdict once it answered.
const VERDICT_WAIT: Duration = Duration::from_secs(120);
/// How long `vault auth` waits for a reconnect attempt to ask, when a login is needed but no
/// attempt is asking right now (the upload queue is told to try at once).
const NEXT_QUESTION_WAIT: Duration = Duration::from_secs(20);

pub use super::storage_arg::SharedPrompter;

mod broker;
mod prompter;
mod relay;
mod wire;

pub use broker::*;
pub use prompter::*;
pub use relay::*;
pub use wire::*;

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
    let b = broker.clone();
    let next = tokio::task::spawn_blocking(move || b.current_or_next(NEXT_QUESTION_WAIT));
    let Some(mut pending) = next.await.ok().flatten() else {
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
    use crate::cli::notify::Notifier;
    use std::time::Instant;
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

    /// A broker for host `h` on mount `/m` whose questions wait `wait` for an answer.
    fn broker(wait: Duration) -> Arc<Broker> {
        Broker::new("h", Path::new("/m"), wait, Notifier::default())
    }

    /// An armed broker and a prompter with no recorded answers that asks through it.
    fn armed_prompter(wait: Duration) -> (Arc<Broker>, Arc<DaemonPrompter>) {
        let broker = broker(wait);
        broker.arm();
        let secrets = Secrets::preset(Vec::new(), Default::default());
        let p = Arc::new(DaemonPrompter::new(secrets, None, broker.clone()));
        (broker, p)
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
        let broker = broker(Duration::from_millis(200));
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
        let broker = broker(Duration::from_millis(50));
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
        let (broker, p) = armed_prompter(Duration::from_secs(10));
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

    /// A login stays needed from the first posted question until one succeeds, also once the
    /// question was withdrawn; a `vault auth` in that gap is handed the next question.
    #[test]
    fn needs_login_lasts_until_a_login_succeeds() {
        let (broker, p) = armed_prompter(Duration::from_millis(100));
        assert!(!broker.needs_login());
        assert!(p.server(&question("Verification code: ")).is_err());
        assert!(!broker.waiting() && broker.needs_login());
        let b = broker.clone();
        let client = std::thread::spawn(move || b.current_or_next(Duration::from_secs(5)));
        let t = Instant::now();
        while !broker.take_asked_for() {
            assert!(t.elapsed() < Duration::from_secs(5), "no asked_for");
            std::thread::sleep(Duration::from_millis(10));
        }
        let p2 = p.clone();
        let asker =
            std::thread::spawn(move || p2.server(&question("Verification code: ")).unwrap());
        let pending = client.join().unwrap().expect("the next question");
        assert!(broker.deliver(pending.id, Zeroizing::new("135790".into())));
        assert_eq!(asker.join().unwrap().as_str(), "135790");
        assert!(broker.needs_login());
        let before = broker.logins();
        p.logged_in();
        assert!(!broker.needs_login());
        assert_eq!(broker.logins(), before + 1);
        assert!(broker.current_or_next(Duration::from_secs(5)).is_none());
    }

    /// In a desktop session a reconnect's question gets a dialog (marked text) before it
    /// waits for `vault auth`; never during the mount's own first login; a cancelled dialog
    /// leaves it to `vault auth`; an askpass given to the mount wins over the dialog.
    #[test]
    fn a_reconnect_asks_the_desktop_dialog_first() {
        use crate::cli::gui_prompt::{GuiPrompt, Kind};
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("zenity");
        let log = dir.path().join("argv");
        let write = |body: &str| {
            std::fs::write(
                &script,
                format!(
                    "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\n{body}\n",
                    log.display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        let dialog = || {
            Some(Secrets::with_gui(GuiPrompt {
                program: script.clone(),
                kind: Kind::Zenity,
            }))
        };
        write("echo 246810");
        let broker = broker(Duration::from_millis(100));
        let p = DaemonPrompter::new(
            Secrets::preset(Vec::new(), Default::default()),
            None,
            broker.clone(),
        )
        .with_dialog(dialog());
        // The first login (not armed): no dialog.
        assert!(p.server(&question("Verification code: ")).is_err());
        assert!(!log.exists());
        broker.arm();
        assert_eq!(
            p.server(&question("Verification code: ")).unwrap().as_str(),
            "246810"
        );
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "--entry\n--hide-text\n--title=Vault\n--text=[sftp u@h] Verification code: \n"
        );
        assert!(!broker.waiting());
        // A person may have mistyped: another round may start.
        assert!(p.refused(&[CODE_SHOWN.to_string()]));
        // Cancelled: the question goes to `vault auth` (which times out here).
        write("exit 1");
        let t = Instant::now();
        assert!(p.server(&question("Verification code: ")).is_err());
        assert!(t.elapsed() >= Duration::from_millis(100));
        // With an askpass program the dialog is not used.
        let with_askpass = DaemonPrompter::new(
            Secrets::preset(Vec::new(), Default::default()),
            Some("/bin/false".into()),
            broker,
        )
        .with_dialog(dialog());
        assert!(with_askpass.dialog.is_none());
    }
}
