//! Acceptance 3: auto-lock. A private `dbus-daemon` stands in for the system bus
//! (DBUS_SYSTEM_BUS_ADDRESS), this test process stands in for logind on it (owns
//! `org.freedesktop.login1`, serves Manager.Inhibit/GetSession/GetSessionByPID, emits the
//! signals), and a real FUSE mount of a local vault is made with `vault mount`.
//!
//! - `PrepareForSleep(true)` flushes a file another process holds open with unflushed changes
//!   (storage shows the old text until then) and unmounts; the sleep
//!   inhibitor fd was taken at mount and is released only once the mount is gone;
//! - the session's `Lock` signal does the same;
//! - `--no-auto-lock` ignores both and takes no inhibitor;
//! - without any system bus the mount works as before (one info line in the log).
//!
//! Needs /dev/fuse, fusermount3 and dbus-daemon (Debian: fuse3, dbus-daemon); runs as root.

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cli_support::dbus::PrivateBus;
use cli_support::*;

const SESSION_ID: &str = "c7";
const SESSION_PATH: &str = "/org/freedesktop/login1/session/c7";
const MANAGER_PATH: &str = "/org/freedesktop/login1";

/// What the stand-in logind saw.
#[derive(Default)]
struct Seen {
    /// Inhibit(what, who, why, mode) calls.
    inhibits: Vec<[String; 4]>,
    /// The vault's inhibitor fd was closed; `true` when the mount was still there then.
    released_while_mounted: Option<bool>,
    get_session: Vec<String>,
    get_session_by_pid: Vec<u32>,
}

struct FakeManager {
    seen: Arc<Mutex<Seen>>,
    mountpoint: PathBuf,
}

#[zbus::interface(name = "org.freedesktop.login1.Manager")]
impl FakeManager {
    fn inhibit(
        &self,
        what: &str,
        who: &str,
        why: &str,
        mode: &str,
    ) -> zbus::fdo::Result<zbus::OwnedFd> {
        self.seen.lock().unwrap().inhibits.push([
            what.to_string(),
            who.to_string(),
            why.to_string(),
            mode.to_string(),
        ]);
        // As logind does: the caller holds one end of a pipe; its close releases the lock.
        let (mut reader, writer) =
            std::io::pipe().map_err(|e| zbus::fdo::Error::IOError(e.to_string()))?;
        let seen = Arc::clone(&self.seen);
        let mountpoint = self.mountpoint.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 16];
            while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
            seen.lock().unwrap().released_while_mounted = Some(is_mounted(&mountpoint));
        });
        Ok(zbus::OwnedFd::from(std::os::fd::OwnedFd::from(writer)))
    }

    fn get_session(&self, session_id: &str) -> zbus::fdo::Result<zbus::OwnedObjectPath> {
        self.seen
            .lock()
            .unwrap()
            .get_session
            .push(session_id.to_string());
        if session_id == SESSION_ID {
            Ok(zbus::OwnedObjectPath::try_from(SESSION_PATH).unwrap())
        } else {
            Err(zbus::fdo::Error::Failed(format!(
                "No session '{session_id}' known"
            )))
        }
    }

    #[zbus(name = "GetSessionByPID")]
    fn get_session_by_pid(&self, pid: u32) -> zbus::fdo::Result<zbus::OwnedObjectPath> {
        self.seen.lock().unwrap().get_session_by_pid.push(pid);
        Err(zbus::fdo::Error::Failed(format!(
            "PID {pid} does not belong to any known session"
        )))
    }
}

/// This process as `org.freedesktop.login1` on the private bus.
struct FakeLogind {
    rt: tokio::runtime::Runtime,
    conn: zbus::Connection,
    seen: Arc<Mutex<Seen>>,
}

impl FakeLogind {
    fn serve(address: &str, mountpoint: &Path) -> FakeLogind {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let manager = FakeManager {
            seen: Arc::clone(&seen),
            mountpoint: mountpoint.to_path_buf(),
        };
        let conn = rt
            .block_on(
                zbus::connection::Builder::address(address)
                    .name("org.freedesktop.login1")
                    .serve_at(MANAGER_PATH, manager)
                    .build(),
            )
            .unwrap();
        FakeLogind { rt, conn, seen }
    }

    fn emit(
        &self,
        path: &str,
        interface: &str,
        member: &str,
        body: impl serde::Serialize + zbus::DynamicType,
    ) {
        self.rt
            .block_on(
                self.conn
                    .emit_signal(None::<&str>, path, interface, member, &body),
            )
            .unwrap();
    }

    fn prepare_for_sleep(&self, start: bool) {
        self.emit(
            MANAGER_PATH,
            "org.freedesktop.login1.Manager",
            "PrepareForSleep",
            (start,),
        );
    }

    fn lock_session(&self) {
        self.emit(SESSION_PATH, "org.freedesktop.login1.Session", "Lock", ());
    }

    fn seen<T>(&self, f: impl FnOnce(&Seen) -> T) -> T {
        f(&self.seen.lock().unwrap())
    }
}

/// The fixture vault and its mountpoint; the daemon logs to `daemon.log` beside them.
type Setup = FuseVault;

impl FuseVault {
    fn log_file(&self) -> PathBuf {
        self.fx.tmp.path().join("daemon.log")
    }

    /// `vault mount` with the daemon's log at info level in `self.log_file()`.
    fn mount(&self, bus: &str, session: Option<&str>, extra: &[&str]) -> Run {
        let mut cmd = Command::new(bin());
        cmd.args(["mount", self.fx.vault_str(), self.mnt.to_str().unwrap()])
            .args(["--password-file", self.fx.pw()])
            .arg("--log-file")
            .arg(self.log_file())
            .args(extra)
            .env("DBUS_SYSTEM_BUS_ADDRESS", bus)
            .env("VAULT_LOG", "info")
            .env_remove("VAULT_ASKPASS")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null());
        match session {
            Some(id) => cmd.env("XDG_SESSION_ID", id),
            None => cmd.env_remove("XDG_SESSION_ID"),
        };
        run_cmd(&mut cmd)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    fn cat(&self, path: &str) -> Vec<u8> {
        let out = vault(&[
            "cat",
            self.fx.vault_str(),
            path,
            "--password-file",
            self.fx.pw(),
        ]);
        assert_eq!(out.code, 0, "vault cat {path}: {}", out.stderr);
        out.stdout
    }
}

/// Another process holding a file of the mount open with unflushed changes: python3 opens it
/// read-write, overwrites its start, and waits on stdin. Nothing in it forks or duplicates the
/// descriptor (each close of a copy is a FUSE flush, which would commit the change: a `sh`
/// redirection or a fork of this multi-threaded test process can do that), so the change stays
/// pending in the daemon until a flush or the holder's close.
struct Holder {
    child: Child,
}

const HOLDER: &str = "import sys
f = open(sys.argv[1], 'r+b', buffering=0)
f.write(sys.argv[2].encode())
print('written', flush=True)
sys.stdin.readline()
";

impl Holder {
    fn start(file: &Path, text: &str) -> Holder {
        let mut child = Command::new("python3")
            .args(["-c", HOLDER])
            .arg(file)
            .arg(text)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 (Debian package python3)");
        let mut out = child.stdout.take().unwrap();
        let mut line = [0u8; 8];
        out.read_exact(&mut line).unwrap();
        assert_eq!(&line, b"written\n", "the holder wrote");
        Holder { child }
    }

    /// Closes the file (the holder exits).
    fn close(mut self) {
        drop(self.child.stdin.take());
        assert!(self.child.wait().unwrap().success());
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn data(seed: u32) -> Vec<u8> {
    (0..200_000u32)
        .map(|i| ((i * 7 + seed) % 251) as u8)
        .collect()
}

#[test]
fn prepare_for_sleep_flushes_an_open_file_and_unmounts() {
    let s = Setup::new();
    let bus = PrivateBus::start(s.fx.tmp.path());
    let logind = FakeLogind::serve(&bus.address, &s.mnt);
    let run = s.mount(&bus.address, None, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout_str(),
        format!("{}\n", s.mnt.display()),
        "prints the mountpoint"
    );
    assert!(is_mounted(&s.mnt));
    // The delay inhibitor was taken before `vault mount` returned, and is still held.
    logind.seen(|seen| {
        assert_eq!(
            seen.inhibits,
            [["sleep", "vault", "Lock vaults before sleep", "delay"].map(String::from)]
        );
        assert_eq!(
            seen.released_while_mounted, None,
            "inhibitor held while mounted"
        );
        assert_eq!(
            seen.get_session_by_pid.len(),
            1,
            "no XDG_SESSION_ID: looked up by pid"
        );
    });

    // A file changed by a process that still holds it open: the change is pending in the
    // daemon (storage still has the old text).
    let before = s.cat("/hello.txt");
    let holder = Holder::start(&s.mnt.join("hello.txt"), "locked before sleep\n");
    assert_eq!(
        s.cat("/hello.txt"),
        before,
        "the change is not on storage yet"
    );

    // Resume (false) means nothing; suspend (true) locks.
    logind.prepare_for_sleep(false);
    std::thread::sleep(Duration::from_millis(500));
    assert!(is_mounted(&s.mnt), "PrepareForSleep(false) does not lock");
    logind.prepare_for_sleep(true);
    wait_until("the mount to go away", Duration::from_secs(10), || {
        !is_mounted(&s.mnt)
    });
    // Flushed by the lock: on storage while the holder still has the file open.
    assert_eq!(
        s.cat("/hello.txt"),
        b"locked before sleep\n",
        "the open file was flushed"
    );
    holder.close();
    wait_until("the daemon to exit", Duration::from_secs(20), || {
        !daemon_running(&s.mnt)
    });
    wait_until(
        "the inhibitor to be released",
        Duration::from_secs(5),
        || logind.seen(|seen| seen.released_while_mounted.is_some()),
    );
    assert_eq!(
        logind.seen(|seen| seen.released_while_mounted),
        Some(false),
        "the inhibitor is released after the unmount, not before"
    );
    assert_eq!(s.cat("/hello.txt"), b"locked before sleep\n");
    let log = s.log();
    eprintln!("daemon log:\n{log}");
    assert!(log.contains("took a sleep delay inhibitor"), "{log}");
    assert!(log.contains("the system is going to sleep"), "{log}");
    assert!(log.contains("released the sleep inhibitor"), "{log}");
}

#[test]
fn session_lock_flushes_and_unmounts() {
    let s = Setup::new();
    let bus = PrivateBus::start(s.fx.tmp.path());
    let logind = FakeLogind::serve(&bus.address, &s.mnt);
    s.mount(&bus.address, Some(SESSION_ID), &[]).ok();
    assert!(is_mounted(&s.mnt));
    logind.seen(|seen| {
        assert_eq!(seen.get_session, [SESSION_ID], "found by $XDG_SESSION_ID");
        assert_eq!(seen.inhibits.len(), 1);
    });
    let written = data(2);
    std::fs::write(s.mnt.join("locked.bin"), &written).unwrap();
    let before = s.cat("/hello.txt");
    let holder = Holder::start(&s.mnt.join("hello.txt"), "locked with the session\n");
    assert_eq!(
        s.cat("/hello.txt"),
        before,
        "the change is not on storage yet"
    );
    logind.lock_session();
    wait_until("the mount to go away", Duration::from_secs(10), || {
        !is_mounted(&s.mnt)
    });
    assert_eq!(
        s.cat("/hello.txt"),
        b"locked with the session\n",
        "the open file was flushed"
    );
    holder.close();
    wait_until("the daemon to exit", Duration::from_secs(20), || {
        !daemon_running(&s.mnt)
    });
    assert_eq!(s.cat("/locked.bin"), written);
    assert_eq!(
        logind.seen(|seen| seen.released_while_mounted),
        Some(false),
        "inhibitor released after the unmount"
    );
    let log = s.log();
    assert!(log.contains("the session was locked"), "{log}");
}

#[test]
fn no_auto_lock_ignores_sleep_and_session_lock() {
    let s = Setup::new();
    let bus = PrivateBus::start(s.fx.tmp.path());
    let logind = FakeLogind::serve(&bus.address, &s.mnt);
    s.mount(&bus.address, Some(SESSION_ID), &["--no-auto-lock"])
        .ok();
    assert!(is_mounted(&s.mnt));
    logind.prepare_for_sleep(true);
    logind.lock_session();
    std::thread::sleep(Duration::from_secs(2));
    assert!(is_mounted(&s.mnt), "still mounted after both signals");
    assert!(daemon_running(&s.mnt));
    logind.seen(|seen| {
        assert!(seen.inhibits.is_empty(), "no inhibitor taken");
        assert!(seen.get_session.is_empty(), "no session looked up");
    });
    let written = data(3);
    std::fs::write(s.mnt.join("kept.bin"), &written).unwrap();
    vault(&["unmount", s.mnt.to_str().unwrap()]).ok();
    wait_until("the daemon to exit", Duration::from_secs(20), || {
        !daemon_running(&s.mnt)
    });
    assert_eq!(s.cat("/kept.bin"), written);
    assert!(
        s.log().contains("auto-lock is off (--no-auto-lock)"),
        "{}",
        s.log()
    );
}

#[test]
fn without_a_system_bus_the_mount_works() {
    let s = Setup::new();
    let nowhere = s.fx.tmp.path().join("no-such-bus");
    let run = s.mount(&format!("unix:path={}", nowhere.display()), None, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(is_mounted(&s.mnt));
    assert_eq!(std::fs::read(s.mnt.join("hello.txt")).unwrap().len(), 12);
    let log = s.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("auto-lock")).collect();
    assert_eq!(lines.len(), 1, "one line about auto-lock: {log}");
    assert!(
        lines[0].contains("INFO") && lines[0].contains("auto-lock is off: no system D-Bus"),
        "{log}"
    );
    vault(&["unmount", s.mnt.to_str().unwrap()]).ok();
    wait_until("the daemon to exit", Duration::from_secs(20), || {
        !daemon_running(&s.mnt)
    });
}
