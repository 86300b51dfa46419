//! Issue 16, the desktop user: sidebar entries, notifications, `vault open` with the `.desktop`
//! entry and the MIME type. Real FUSE mounts of fixture vaults, in a private "home": the
//! XDG_CONFIG_HOME / XDG_DATA_HOME / XDG_STATE_HOME / XDG_RUNTIME_DIR of each test are its own
//! temporary folders, DISPLAY is set to a display nobody serves (only the variable matters).
//!
//! - sidebar: `vault mount` adds one GTK bookmark and one KDE place (percent-encoded URI of a
//!   mountpoint with a space and non-ASCII letters), hand-made entries stay byte for byte;
//!   `vault unmount`, an eject (`fusermount3 -u`) and a SIGKILLed daemon followed by
//!   `vault status` (not `vault ls`) each restore the files exactly; `--no-sidebar` writes
//!   nothing; a mountpoint under HOME, which GIO lists by itself, gets the KDE place only;
//! - notifications: a private bus stands in for both the system bus (this process serves a
//!   stand-in logind) and the session bus (this process serves a stand-in
//!   org.freedesktop.Notifications and records every Notify call): a detected sync-conflict
//!   copy and an auto-lock each send one; with no session bus the mount works as before;
//! - `vault open`: desktop-file-validate passes, the MIME type and the default application are
//!   found by xdg-mime in a private XDG_DATA_HOME, the entry's Exec line mounts a fixture vault
//!   (askpass stand-in) at `$XDG_RUNTIME_DIR/vault/NAME` and xdg-open hands the mountpoint to a
//!   stand-in `inode/directory` handler; a second run only reveals; the "Lock" action unmounts.
//!
//! Needs /dev/fuse, fusermount3, dbus-daemon, desktop-file-utils, xdg-utils, shared-mime-info.

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use cli_support::dbus::{NotificationServer, PrivateBus};
use cli_support::*;

/// A private desktop session's folders.
struct Session {
    root: PathBuf,
}

impl Session {
    fn new(root: &Path) -> Session {
        for d in ["home", "config", "data", "state", "run"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        Session {
            root: root.to_path_buf(),
        }
    }
    fn bookmarks(&self) -> PathBuf {
        self.root.join("config/gtk-3.0/bookmarks")
    }
    fn places(&self) -> PathBuf {
        self.root.join("data/user-places.xbel")
    }
    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// `vault ARGS` in this session (bounded to 60 s); no session bus unless `bus`.
    fn vault(&self, args: &[&str], bus: Option<&str>) -> Run {
        let mut cmd = vault_cmd(60, args);
        cmd.env("HOME", self.root.join("home"))
            .env("XDG_CONFIG_HOME", self.root.join("config"))
            .env("XDG_DATA_HOME", self.root.join("data"))
            .env("XDG_STATE_HOME", self.root.join("state"))
            .env("XDG_RUNTIME_DIR", self.root.join("run"))
            .env("VAULT_CONFIG", self.root.join("config/vault/config.toml"))
            .env("DISPLAY", ":99")
            .env("VAULT_LOG", "info")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("XDG_SESSION_ID");
        match bus {
            Some(address) => cmd
                .env("DBUS_SESSION_BUS_ADDRESS", address)
                .env("DBUS_SYSTEM_BUS_ADDRESS", address),
            None => cmd
                .env(
                    "DBUS_SESSION_BUS_ADDRESS",
                    format!("unix:path={}", self.root.join("no-bus").display()),
                )
                .env(
                    "DBUS_SYSTEM_BUS_ADDRESS",
                    format!("unix:path={}", self.root.join("no-bus").display()),
                ),
        };
        run_cmd(&mut cmd)
    }
}

const HAND_BOOKMARKS: &str = "file:///home/me/Documents\nfile:///srv/Caf%C3%A9 Café share\n";
const HAND_PLACES: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE xbel>\n<xbel xmlns:bookmark=\"http://www.freedesktop.org/standards/desktop-bookmarks\">\n <bookmark href=\"file:///home/me\">\n  <title>Home</title>\n  <info>\n   <metadata owner=\"http://freedesktop.org\">\n    <bookmark:icon name=\"user-home\"/>\n   </metadata>\n  </info>\n </bookmark>\n</xbel>\n";

#[test]
fn sidebar_entries_follow_the_mount() {
    let fx = copy_fixture("vault-v8");
    let s = Session::new(&fx.tmp.path().join("session"));
    let mnt = fx.tmp.path().join("Tresor Größe");
    std::fs::create_dir(&mnt).unwrap();
    let _guard = MountGuard::lazy(mnt.clone());
    std::fs::create_dir_all(s.bookmarks().parent().unwrap()).unwrap();
    std::fs::write(s.bookmarks(), HAND_BOOKMARKS).unwrap();
    std::fs::write(s.places(), HAND_PLACES).unwrap();
    let uri = format!(
        "file://{}/Tresor%20Gr%C3%B6%C3%9Fe",
        fx.tmp.path().to_str().unwrap()
    );
    let mount = || {
        s.vault(
            &[
                "mount",
                fx.vault_str(),
                mnt.to_str().unwrap(),
                "--password-file",
                fx.pw(),
            ],
            None,
        )
    };
    let listed = || {
        let gtk = Session::read(&s.bookmarks());
        let kde = Session::read(&s.places());
        assert_eq!(gtk, format!("{HAND_BOOKMARKS}{uri} vault\n"));
        assert!(
            kde.starts_with(&HAND_PLACES[..HAND_PLACES.len() - "</xbel>\n".len()]),
            "{kde}"
        );
        assert_eq!(kde.matches("<bookmark href=").count(), 2, "{kde}");
        assert_eq!(
            kde.matches(&format!("<bookmark href=\"{uri}\">")).count(),
            1,
            "{kde}"
        );
        assert!(kde.contains("<title>vault</title>"), "{kde}");
    };
    let restored = || {
        Session::read(&s.bookmarks()) == HAND_BOOKMARKS && Session::read(&s.places()) == HAND_PLACES
    };

    // Mount, a second mount on the same folder (refused), unmount.
    mount().ok();
    listed();
    assert_ne!(
        mount().code,
        0,
        "a second mount on a mounted folder is refused"
    );
    listed();
    s.vault(&["unmount", mnt.to_str().unwrap()], None).ok();
    assert!(restored(), "{}", Session::read(&s.bookmarks()));

    // An eject from the file manager (GIO: fusermount -u) cleans up like `vault unmount`.
    mount().ok();
    listed();
    let st = Command::new("fusermount3")
        .arg("-u")
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(st.success());
    wait_until("the daemon to clean up", Duration::from_secs(20), restored);

    // A killed daemon's entry stays through `vault ls`, and goes with the next `vault status`.
    mount().ok();
    listed();
    for pid in daemon_pids(&mnt) {
        Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
    }
    wait_until("the daemon to die", Duration::from_secs(10), || {
        !daemon_running(&mnt)
    });
    s.vault(
        &["ls", fx.vault_str(), "/", "--password-file", fx.pw()],
        None,
    )
    .ok();
    listed();
    s.vault(&["status"], None).ok();
    assert!(restored(), "{}", Session::read(&s.bookmarks()));
    s.vault(&["unmount", "--force", mnt.to_str().unwrap()], None)
        .ok();
    assert!(restored());

    // --no-sidebar: nothing is written.
    mount_no_sidebar(&s, &fx, &mnt);
    assert!(restored());
    s.vault(&["unmount", mnt.to_str().unwrap()], None).ok();
}

fn mount_no_sidebar(s: &Session, fx: &FixtureCopy, mnt: &Path) {
    let args = [
        "mount",
        fx.vault_str(),
        mnt.to_str().unwrap(),
        "--password-file",
        fx.pw(),
        "--no-sidebar",
    ];
    s.vault(&args, None).ok();
    assert!(is_mounted(mnt));
}

#[test]
fn a_mount_gio_lists_by_itself_gets_no_gtk_bookmark() {
    let fx = copy_fixture("vault-v8");
    // GIO hides mounts inside dot folders: this session's path has none.
    let root = tempfile::Builder::new()
        .prefix("vault-desktop-")
        .tempdir_in("/tmp")
        .unwrap();
    let s = Session::new(root.path());
    let mnt = s.root.join("home/Vaults/Work");
    std::fs::create_dir_all(&mnt).unwrap();
    let _guard = MountGuard::lazy(mnt.clone());
    s.vault(
        &[
            "mount",
            fx.vault_str(),
            mnt.to_str().unwrap(),
            "--password-file",
            fx.pw(),
        ],
        None,
    )
    .ok();
    assert!(
        !s.bookmarks().exists(),
        "GIO shows mounts under HOME itself"
    );
    let kde = Session::read(&s.places());
    assert_eq!(kde.matches("<bookmark href=").count(), 1, "{kde}");
    s.vault(&["unmount", mnt.to_str().unwrap()], None).ok();
    assert_eq!(Session::read(&s.places()).matches("<bookmark").count(), 0);
}

// ------------------------------------------------------------------ notifications

/// The stand-in logind: only what auto-lock needs to arm (an inhibitor, no session).
struct FakeManager;

#[zbus::interface(name = "org.freedesktop.login1.Manager")]
impl FakeManager {
    fn inhibit(
        &self,
        _what: &str,
        _who: &str,
        _why: &str,
        _mode: &str,
    ) -> zbus::fdo::Result<zbus::OwnedFd> {
        let (reader, writer) =
            std::io::pipe().map_err(|e| zbus::fdo::Error::IOError(e.to_string()))?;
        std::mem::forget(reader);
        Ok(zbus::OwnedFd::from(std::os::fd::OwnedFd::from(writer)))
    }

    #[zbus(name = "GetSessionByPID")]
    fn get_session_by_pid(&self, pid: u32) -> zbus::fdo::Result<zbus::OwnedObjectPath> {
        Err(zbus::fdo::Error::Failed(format!(
            "PID {pid} has no session"
        )))
    }
}

/// The stand-ins of a desktop session on one private bus: the notification server, and logind
/// (for auto-lock), each on its own connection.
struct Desk {
    notifications: NotificationServer,
    rt: tokio::runtime::Runtime,
    conn: zbus::Connection,
}

impl Desk {
    fn serve(address: &str) -> Desk {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let conn = rt
            .block_on(
                zbus::connection::Builder::address(address)
                    .name("org.freedesktop.login1")
                    .serve_at("/org/freedesktop/login1", FakeManager)
                    .build(),
            )
            .unwrap();
        Desk {
            notifications: NotificationServer::serve(address),
            rt,
            conn,
        }
    }

    fn calls(&self) -> Vec<(String, String, String)> {
        self.notifications.calls()
    }

    fn prepare_for_sleep(&self) {
        self.rt
            .block_on(self.conn.emit_signal(
                None::<&str>,
                "/org/freedesktop/login1",
                "org.freedesktop.login1.Manager",
                "PrepareForSleep",
                &(true,),
            ))
            .unwrap();
    }
}

#[test]
fn notifications_for_a_sync_conflict_and_an_auto_lock() {
    let fx = copy_fixture("conflicts");
    let s = Session::new(&fx.tmp.path().join("session"));
    let mnt = fx.tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let _guard = MountGuard::lazy(mnt.clone());
    let bus = PrivateBus::start(fx.tmp.path());
    let desk = Desk::serve(&bus.address);
    let log = fx.tmp.path().join("daemon.log");
    let args = [
        "mount",
        fx.vault_str(),
        mnt.to_str().unwrap(),
        "--password-file",
        fx.pw(),
        "--log-file",
        log.to_str().unwrap(),
    ];
    s.vault(&args, Some(&bus.address)).ok();
    assert!(
        desk.calls().is_empty(),
        "nothing to tell yet: {:?}",
        desk.calls()
    );

    // Listing the top folder resolves its conflict copies: each one is told.
    let names: Vec<String> = std::fs::read_dir(&mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n.contains("(conflicted copy")),
        "{names:?}"
    );
    wait_until("a conflict notification", Duration::from_secs(10), || {
        !desk.calls().is_empty()
    });
    std::thread::sleep(Duration::from_millis(300));
    let conflicts = desk.calls();
    for (app, summary, body) in &conflicts {
        assert_eq!(app, "vault");
        assert_eq!(summary, "Sync conflict in vault vault");
        assert!(!body.is_empty());
    }
    assert!(
        conflicts
            .iter()
            .any(|(_, _, b)| b.contains("(conflicted copy 2026-11-25 033004)")),
        "{conflicts:?}"
    );

    // Auto-lock: the vault is locked and the user is told why.
    desk.prepare_for_sleep();
    wait_until("the mount to go away", Duration::from_secs(10), || {
        !is_mounted(&mnt)
    });
    wait_until("a lock notification", Duration::from_secs(10), || {
        desk.calls().len() > conflicts.len()
    });
    let calls = desk.calls();
    let last = calls.last().unwrap();
    assert_eq!(last.1, "Vault vault locked");
    assert!(
        last.2.starts_with("The system is going to sleep"),
        "{}",
        last.2
    );
    assert_eq!(calls.len(), conflicts.len() + 1, "{calls:?}");
}

#[test]
fn an_idle_lock_is_told() {
    let fx = copy_fixture("vault-v8");
    let s = Session::new(&fx.tmp.path().join("session"));
    let mnt = fx.tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let _guard = MountGuard::lazy(mnt.clone());
    let bus = PrivateBus::start(fx.tmp.path());
    let desk = Desk::serve(&bus.address);
    let args = [
        "mount",
        fx.vault_str(),
        mnt.to_str().unwrap(),
        "--password-file",
        fx.pw(),
        "--idle",
        "1s",
        "--no-auto-lock",
    ];
    s.vault(&args, Some(&bus.address)).ok();
    wait_until("the idle unmount", Duration::from_secs(15), || {
        !is_mounted(&mnt)
    });
    wait_until("a notification", Duration::from_secs(10), || {
        !desk.calls().is_empty()
    });
    let calls = desk.calls();
    assert_eq!(
        calls,
        [(
            "vault".to_string(),
            "Vault vault locked".to_string(),
            "It was not used for 1 s: its files were written back and it was unmounted."
                .to_string()
        )]
    );
}

#[test]
fn without_a_session_bus_nothing_fails() {
    let fx = copy_fixture("conflicts");
    let s = Session::new(&fx.tmp.path().join("session"));
    let mnt = fx.tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let _guard = MountGuard::lazy(mnt.clone());
    let log = fx.tmp.path().join("daemon.log");
    let args = [
        "mount",
        fx.vault_str(),
        mnt.to_str().unwrap(),
        "--password-file",
        fx.pw(),
        "--log-file",
        log.to_str().unwrap(),
    ];
    s.vault(&args, None).ok();
    let n = std::fs::read_dir(&mnt).unwrap().count();
    assert!(n > 0);
    s.vault(&["unmount", mnt.to_str().unwrap()], None).ok();
    wait_until("the daemon to exit", Duration::from_secs(20), || {
        !daemon_running(&mnt)
    });
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("notifications are off: no session D-Bus"),
        "{log}"
    );
}

// ------------------------------------------------------------------ vault open

fn desktop_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/desktop/vault.desktop")
}

/// The `Exec=` value of `group` in the desktop file.
fn exec_line(group: &str) -> String {
    let text = std::fs::read_to_string(desktop_file()).unwrap();
    let mut in_group = false;
    for line in text.lines() {
        if line.starts_with('[') {
            in_group = line == format!("[{group}]");
        } else if in_group && let Some(v) = line.strip_prefix("Exec=") {
            return v.to_string();
        }
    }
    panic!("no Exec in [{group}]");
}

/// Runs an Exec line as a launcher would: `vault` from PATH (the test binary), `%f` the file.
fn launch(s: &Session, exec: &str, file: &Path, env: &[(&str, &Path)]) -> Run {
    let words: Vec<String> = exec
        .split(' ')
        .map(|w| {
            if w == "%f" {
                file.to_str().unwrap().to_string()
            } else {
                w.to_string()
            }
        })
        .collect();
    assert_eq!(words[0], "vault", "Exec runs vault from PATH");
    let mut cmd = Command::new("timeout");
    cmd.arg("60").arg(bin()).args(&words[1..]);
    cmd.env("HOME", s.root.join("home"))
        .env("XDG_CONFIG_HOME", s.root.join("config"))
        .env("XDG_DATA_HOME", s.root.join("data"))
        .env("XDG_STATE_HOME", s.root.join("state"))
        .env("XDG_RUNTIME_DIR", s.root.join("run"))
        .env("VAULT_CONFIG", s.root.join("config/vault/config.toml"))
        .env("DISPLAY", ":99")
        .env("XDG_CURRENT_DESKTOP", "GNOME")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .env_remove("VAULT_LOG")
        .env_remove("VAULT_ASKPASS")
        .env_remove("SSH_ASKPASS")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_cmd(&mut cmd)
}

#[test]
fn desktop_entry_mime_type_and_vault_open() {
    let out = Command::new("desktop-file-validate")
        .arg(desktop_file())
        .output()
        .expect("desktop-file-validate (Debian package desktop-file-utils)");
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let fx = copy_fixture("vault-v8");
    let s = Session::new(&fx.tmp.path().join("session"));
    let data = s.root.join("data");
    std::fs::create_dir_all(data.join("mime/packages")).unwrap();
    std::fs::create_dir_all(data.join("applications")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/desktop/vault-mime.xml"),
        data.join("mime/packages/vault.xml"),
    )
    .unwrap();
    std::fs::copy(desktop_file(), data.join("applications/vault.desktop")).unwrap();
    let out = Command::new("update-mime-database")
        .arg(data.join("mime"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A stand-in file manager: the inode/directory default records what it is asked to open.
    let recorder = fx.tmp.path().join("file-manager.sh");
    let revealed = fx.tmp.path().join("revealed.txt");
    write_script(
        &recorder,
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
            revealed.display()
        ),
    );
    std::fs::write(
        data.join("applications/recorder.desktop"),
        format!("[Desktop Entry]\nType=Application\nName=Recorder\nExec={} %f\nMimeType=inode/directory;\n", recorder.display()),
    )
    .unwrap();
    let xdg_mime = |args: &[&str]| {
        let out = Command::new("xdg-mime")
            .args(args)
            .env("XDG_DATA_HOME", &data)
            .env("XDG_CONFIG_HOME", s.root.join("config"))
            .env("XDG_CURRENT_DESKTOP", "GNOME")
            .env("DISPLAY", ":99")
            .output()
            .expect("xdg-mime (Debian package xdg-utils)");
        assert!(
            out.status.success(),
            "xdg-mime {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    xdg_mime(&["default", "recorder.desktop", "inode/directory"]);
    let vault_file = fx.vault.join("vault.cryptomator");
    assert_eq!(
        xdg_mime(&["query", "filetype", vault_file.to_str().unwrap()]),
        "application/vnd.cryptomator.vault"
    );
    assert_eq!(
        xdg_mime(&["query", "default", "application/vnd.cryptomator.vault"]),
        "vault.desktop"
    );

    // A double-click: the Exec line mounts and reveals, the password asked through a
    // graphical-askpass stand-in (SSH_ASKPASS in a desktop session, no VAULT_ASKPASS), which
    // is shown the exact prompt.
    let askpass = fx.tmp.path().join("askpass.sh");
    write_script(
        &askpass,
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}.argv'\nhead -n1 '{}'\n",
            askpass.display(),
            fx.pw()
        ),
    );
    let expected = s.root.join("run/vault/vault");
    let _guard = MountGuard::lazy(expected.clone());
    let env: [(&str, &Path); 1] = [("SSH_ASKPASS", &askpass)];
    let run = launch(&s, &exec_line("Desktop Entry"), &vault_file, &env);
    assert_eq!(
        run.stdout_str(),
        format!("{}\n", expected.display()),
        "{}",
        run.stderr
    );
    assert!(is_mounted(&expected));
    assert_eq!(
        read_lines(&fx.tmp.path().join("askpass.sh.argv")),
        [format!(
            "Vault password for {}: ",
            std::fs::canonicalize(&fx.vault).unwrap().display()
        )]
    );
    assert!(
        std::fs::read_dir(&expected).unwrap().count() > 0,
        "the vault's files are there"
    );
    wait_until(
        "the file manager to be asked",
        Duration::from_secs(10),
        || read_lines(&revealed) == [expected.to_str().unwrap()],
    );

    // Again (masterkey.cryptomator this time): no second mount, only revealed.
    let masterkey = fx.vault.join("masterkey.cryptomator");
    let run = launch(&s, &exec_line("Desktop Entry"), &masterkey, &[]);
    assert_eq!(
        run.stdout_str(),
        format!("{}\n", expected.display()),
        "{}",
        run.stderr
    );
    wait_until("the second reveal", Duration::from_secs(10), || {
        read_lines(&revealed).len() == 2
    });
    assert_eq!(vault_fs_mounts_of(&expected), 1);

    // A wrong password: nothing mounted, and the desktop is told why (nobody sees stderr).
    let other = copy_fixture("vault-v8");
    let wrong = fx.tmp.path().join("wrong.sh");
    write_script(&wrong, "#!/bin/sh\necho not-the-password\n");
    let bus = PrivateBus::start(fx.tmp.path());
    let notifications = NotificationServer::serve(&bus.address);
    let bus_path = PathBuf::from(&bus.address);
    let env: [(&str, &Path); 2] = [
        ("VAULT_ASKPASS", &wrong),
        ("DBUS_SESSION_BUS_ADDRESS", &bus_path),
    ];
    let run = launch(
        &s,
        &exec_line("Desktop Entry"),
        &other.vault.join("vault.cryptomator"),
        &env,
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    let calls = notifications.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].1, "Vault vault was not opened");
    assert!(calls[0].2.contains("wrong password"), "{:?}", calls[0]);
    assert!(!is_mounted(&s.root.join("run/vault/vault 2")));

    // The "Lock" action unmounts it.
    let run = launch(&s, &exec_line("Desktop Action Lock"), &vault_file, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!is_mounted(&expected));
}

/// How many mounts sit on `mp`.
fn vault_fs_mounts_of(mp: &Path) -> usize {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mp = mp.to_str().unwrap().replace(' ', "\\040");
    mounts
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some(mp.as_str()))
        .count()
}
