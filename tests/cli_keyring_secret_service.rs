//! `--remember` against a real Secret Service, the default backend: the test starts its own
//! D-Bus session bus (`dbus-daemon --session` on a socket in a temporary folder) and a
//! `gnome-keyring-daemon --components=secrets` on it, with HOME and XDG folders inside the
//! temporary folder, so nothing of the machine's own keyrings is touched. Then, in separate
//! `vault` processes: `--remember` stores the vault password, a later run needs no secret
//! source, `vault forget` drops it.
//!
//! Needs the Debian packages dbus-daemon, dbus-bin (dbus-send) and gnome-keyring
//! (scripts/install-deps.sh installs them).

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::*;

struct Daemons {
    bus: Child,
    keyring: Option<Child>,
    address: String,
}

impl Drop for Daemons {
    fn drop(&mut self) {
        if let Some(k) = &mut self.keyring {
            let _ = k.kill();
            let _ = k.wait();
        }
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

fn env_for<'a>(cmd: &'a mut Command, home: &Path, address: &str) -> &'a mut Command {
    cmd.env("DBUS_SESSION_BUS_ADDRESS", address)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_RUNTIME_DIR", home)
        .env_remove("VAULT_KEYRING")
        .env_remove("VAULT_ASKPASS")
        .env_remove("VAULT_LOG")
}

fn start(home: &Path) -> Daemons {
    let socket = home.join("bus");
    let address = format!("unix:path={}", socket.display());
    let bus = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--nopidfile"])
        .arg(format!("--address={address}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-daemon (Debian package dbus-daemon)");
    let mut d = Daemons {
        bus,
        keyring: None,
        address,
    };
    wait("the session bus", || socket.exists());
    let mut keyring = env_for(
        Command::new("gnome-keyring-daemon").args([
            "--foreground",
            "--unlock",
            "--components=secrets",
        ]),
        home,
        &d.address,
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("gnome-keyring-daemon (Debian package gnome-keyring)");
    // --unlock reads the login keyring's password from stdin (creating the keyring).
    let mut stdin = keyring.stdin.take().unwrap();
    stdin.write_all(b"test keyring password").unwrap();
    drop(stdin);
    d.keyring = Some(keyring);
    let address = d.address.clone();
    wait("org.freedesktop.secrets on the bus", || {
        let out = Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("boolean true")
    });
    d
}

fn wait(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn remembered_vault_password_in_a_real_secret_service() {
    let fx = copy_fixture("vault-v8");
    let home = fx.tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let d = start(&home);
    let run = |args: &[&str]| -> Run {
        run_cmd(
            env_for(&mut Command::new(bin()), &home, &d.address)
                .args(args)
                .current_dir(fx.tmp.path())
                .stdin(Stdio::null()),
        )
    };
    // nothing stored: no source → exit 2
    run(&["ls", "./vault"]).fails(2);
    let r = run(&["ls", "./vault", "--remember", "--password-file", fx.pw()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stderr.contains("warning"),
        "stored without a warning: {}",
        r.stderr
    );
    // a new process, no secret source: the Secret Service answers
    let out = run(&["ls", "./vault"]).ok();
    assert!(out.lines().any(|l| l == "hello.txt"), "{out}");
    let out = run(&["cat", fx.vault_str(), "/hello.txt"]);
    assert_eq!(out.stdout.len(), 12, "{}", out.stderr);
    let r = run(&["forget", "./vault"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("forgot the vault password"),
        "{}",
        r.stderr
    );
    run(&["ls", "./vault"]).fails(2);
}
