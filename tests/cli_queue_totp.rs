//! Issue 12 acceptance 4, the TOTP half: against the TOTP server the upload queue waits,
//! `vault status` says so, `vault auth` drains it.
//!
//! `queue_waits_for_vault_auth_and_drains_after_it`: the 2FA OpenSSH sshd of
//! `vault-sftp/tests/servers/sshd-2fa.sh` (key with passphrase + PAM TOTP, code reuse allowed,
//! `WINDOW_SIZE 3`). A detached `--cache=full` mount started on a terminal (a pty: no askpass
//! reaches the daemon) answers the TOTP question with the code of the previous 30 s window;
//! once the window moved on that code is stale, so after the server drops every session the
//! daemon cannot log in again by itself. Files written then return at local speed and wait in
//! the journal; `vault status` says the upload queue waits for a login and names
//! `vault auth MOUNTPOINT`, `vault status -l` and `vault queue` show `queue=waiting-login`
//! with the pending ops, the files read back through the mount. `vault auth` with a fresh
//! code (VAULT_ASKPASS) exits 0 and, with no further command, the queue drains: the journal
//! empties, `vault status` no longer waits, and `vault cat` (its own connection, another cache
//! folder, no mount) reads every file back from the server exactly; `vault auth` was asked
//! only the code (the key passphrase is held in memory).
//!
//! `offline_start_queue_waits_for_vault_auth_once_the_server_is_back`: the vault mounted once
//! online (so the cache knows it), the server stopped, mounted again from the cache; files
//! written wait in the journal; the server started: the daemon's background connect needs the
//! key passphrase (never loaded, the offline start reached no server) and a code; the same
//! status, queue and log lines; `vault auth` answers late (32 s, past the 30 s a silent
//! connect attempt is given), and the queue drains as above.
//!
//! Ports: `VAULT_TEST_QTOTP_PORT_BASE` (default 48200 + 8 × (pid mod 200)) + 4 × test number.
//!
//! Needs root, FUSE, oathtool, openssh-server, libpam-google-authenticator, python3 (pty).

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cli_support::*;

const VAULT_PW: &str = "queue totp test pw 71c2";

/// `vault ARGS` with a time limit, stdin not a terminal, `cache` as XDG_CACHE_HOME, extra
/// environment `env`.
fn vault_env(cache: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    run_cmd(
        vault_cmd(120, args)
            .env("XDG_CACHE_HOME", cache)
            .envs(env.iter().copied()),
    )
}

/// `vault ARGS` on a pseudo-terminal (see [`pty_command`]), every TOTP code the one of now +
/// `offset` seconds, with `cache` as XDG_CACHE_HOME and no desktop session.
fn on_pty(args: &[&str], sshd: &Sshd, offset: &str, cache: &Path) -> (i32, String) {
    let out = pty_command(args, sshd, offset, VAULT_PW)
        .env_remove("VAULT_LOG")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_CACHE_HOME", cache)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn content(i: usize) -> Vec<u8> {
    format!("queued behind a TOTP login, file {i} ")
        .repeat(200 + 37 * i)
        .into_bytes()
}

/// The `vault status` line of `mnt` (with `-l` when `long`).
fn status_line(cache: &Path, mnt: &Path, long: bool) -> String {
    let args: &[&str] = if long { &["status", "-l"] } else { &["status"] };
    vault_env(cache, args, &[])
        .ok()
        .lines()
        .find(|l| l.starts_with(&format!("{}\t", mnt.display())))
        .unwrap_or_default()
        .to_string()
}

/// The 2FA server with an empty vault at `/~/V`, and the client's folders.
struct Fx {
    sshd: Sshd,
    tmp: tempfile::TempDir,
    url: String,
    kh: String,
    key: String,
    good: String,
}

impl Fx {
    /// Server instance `n` of this test process.
    fn new(n: u32) -> Fx {
        let pid = std::process::id();
        let sshd = Sshd::start(
            &format!("qt{}{n}", pid % 10_000),
            port_base("VAULT_TEST_QTOTP_PORT_BASE", 48_200 + (pid % 200) * 8) + 4 * n,
            &format!("/tmp/vault-qtotp-sshd-{pid}-{n}"),
            "2fa",
            &[("VAULT_TEST_TOTP_REUSE", "allow")],
        );
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("cache")).unwrap();
        std::fs::create_dir(tmp.path().join("mnt")).unwrap();
        empty_remote_dir(&sshd, "V");
        let kh = sshd.known_hosts_in(tmp.path()).display().to_string();
        let key = sshd.var("VAULT_TEST_SSH_KEY");
        let good = sshd
            .askpass(tmp.path(), "good.sh", VAULT_PW, None, None)
            .display()
            .to_string();
        let url = sshd.url("/~/V");
        let fx = Fx {
            sshd,
            tmp,
            url,
            kh,
            key,
            good,
        };
        fx.vault(&["create", &fx.url]).ok();
        fx
    }

    fn cache(&self) -> PathBuf {
        self.tmp.path().join("cache")
    }
    fn mnt(&self) -> PathBuf {
        self.tmp.path().join("mnt")
    }
    fn m(&self) -> String {
        self.mnt().display().to_string()
    }
    fn log(&self) -> PathBuf {
        self.tmp.path().join("daemon.log")
    }

    /// `vault ARGS --identity … --known-hosts … --askpass good.sh` with the test's cache.
    fn vault(&self, args: &[&str]) -> Run {
        let mut all = args.to_vec();
        all.extend([
            "--identity",
            &self.key,
            "--known-hosts",
            &self.kh,
            "--askpass",
            &self.good,
        ]);
        vault_env(&self.cache(), &all, &[])
    }

    /// `vault mount --cache=full` on a terminal, answering the TOTP question with the code of
    /// now + `offset` seconds; returns what the terminal showed.
    fn mount_on_pty(&self, offset: &str) -> String {
        let (m, log) = (self.m(), self.log());
        let (code, shown) = on_pty(
            &[
                "mount",
                &self.url,
                &m,
                "--cache=full",
                "--identity",
                &self.key,
                "--known-hosts",
                &self.kh,
                "-o",
                "io_timeout=4,auth_wait=300s,attr_timeout=0,entry_timeout=0",
                "--log-file",
                log.to_str().unwrap(),
            ],
            &self.sshd,
            offset,
            &self.cache(),
        );
        assert_eq!(code, 0, "mount on a terminal: {shown}");
        shown
    }

    fn status(&self, long: bool) -> String {
        status_line(&self.cache(), &self.mnt(), long)
    }

    /// `vault status`, `status -l`, `vault queue` and the daemon's log say the upload queue
    /// waits for a login (at least `files` writes pending) and name `vault auth MOUNTPOINT`.
    fn assert_waits_for_login(&self, files: usize) {
        let (m, cache) = (self.m(), self.cache());
        let wanted = format!("run `vault auth {m}`");
        wait_until(
            "vault status: waiting for login",
            Duration::from_secs(90),
            || {
                self.status(false)
                    .contains("upload queue waiting for login")
            },
        );
        let line = self.status(false);
        assert!(
            line.contains("\tupload queue waiting for login (") && line.ends_with(&wanted),
            "{line:?}"
        );
        let long = self.status(true);
        assert!(
            long.contains("cache=full") && long.contains("\tqueue=waiting-login"),
            "{long:?}"
        );
        let pending: usize = long
            .split('\t')
            .find_map(|c| c.strip_prefix("pending="))
            .unwrap()
            .parse()
            .unwrap();
        assert!(pending >= files, "{long:?}");
        let q = vault_env(&cache, &["queue", &m], &[]);
        let listed = q.ok();
        assert!(
            listed
                .lines()
                .next()
                .unwrap()
                .ends_with("\tqueue=waiting-login"),
            "{listed}"
        );
        assert!(
            listed.lines().filter(|l| l.starts_with("write\t")).count() >= files,
            "{listed}"
        );
        assert!(
            q.stderr
                .contains(&format!("the upload queue waits for a login: {wanted}")),
            "{}",
            q.stderr
        );
        let logged = std::fs::read_to_string(self.log()).unwrap_or_default();
        assert!(
            logged.contains(&format!("upload queue: waiting for a login: {wanted}")),
            "daemon log: {logged}"
        );
    }

    /// `vault auth` with a fresh code (and the key passphrase, if asked); then, with no
    /// further command, the journal empties and the status no longer waits. Returns the
    /// prompts `vault auth` showed.
    fn auth_and_drain(&self) -> Vec<String> {
        let (m, cache) = (self.m(), self.cache());
        let fresh = self
            .sshd
            .askpass(self.tmp.path(), "fresh.sh", VAULT_PW, None, None);
        let out = vault_env(
            &cache,
            &["auth", &m],
            &[("VAULT_ASKPASS", fresh.to_str().unwrap())],
        );
        assert_eq!(out.code, 0, "vault auth with a fresh code: {}", out.stderr);
        let t = Instant::now();
        wait_until("the journal to empty", Duration::from_secs(30), || {
            journal_counts(&cache) == (0, 0)
        });
        eprintln!("drained {:?} after vault auth", t.elapsed());
        // The daemon rewrites its status twice a second.
        wait_until(
            "vault status -l: pending=0, running",
            Duration::from_secs(5),
            || {
                let long = self.status(true);
                long.contains("\tpending=0\t") && long.contains("\tqueue=running")
            },
        );
        assert!(!self.status(true).contains("waiting"));
        assert!(!self.status(false).contains("waiting"));
        prompts_seen(&fresh)
    }

    /// Reads `files` back from the server with `vault cat` (its own connection, an empty
    /// cache folder, no mount).
    fn assert_on_server(&self, files: &[(&str, Vec<u8>)]) {
        let other = self.tmp.path().join("other-cache");
        let _ = std::fs::create_dir(&other);
        for (name, want) in files {
            let out = vault_env(
                &other,
                &[
                    "cat",
                    &self.url,
                    name,
                    "--identity",
                    &self.key,
                    "--known-hosts",
                    &self.kh,
                    "--askpass",
                    &self.good,
                ],
                &[],
            );
            assert_eq!(out.code, 0, "vault cat {name}: {}", out.stderr);
            assert_eq!(&out.stdout, want, "{name} on the server");
        }
    }
}

/// The session dropped, the recorded code stale: the reconnect needs `vault auth`.
#[test]
fn queue_waits_for_vault_auth_and_drains_after_it() {
    let fx = Fx::new(0);
    let (mnt, cache) = (fx.mnt(), fx.cache());
    // Early in a 30 s window, so the daemon's replay of the recorded code (the previous
    // window's) is still accepted for its own login.
    if now_secs() % 30 > 8 {
        std::thread::sleep(Duration::from_secs(31 - now_secs() % 30));
    }
    let mount_window = now_secs() / 30;
    let guard = MountGuard::new(mnt.clone());
    fx.mount_on_pty("-30");
    guard.wait_mounted(Duration::from_secs(60));

    // Online: a first file goes through the queue and reaches the server.
    std::fs::write(mnt.join("before.txt"), b"online").unwrap();
    wait_until("the first upload", Duration::from_secs(30), || {
        journal_counts(&cache) == (0, 0) && fx.status(true).contains("pending=0\t")
    });
    assert!(!fx.status(false).contains("waiting"));

    // Let the recorded code go stale, let the engine's short caches expire, drop the sessions.
    while now_secs() / 30 < mount_window + 1 {
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(3));
    fx.sshd.kill_sessions();

    // Writes return at local speed and wait in the journal.
    let t = Instant::now();
    for i in 0..3 {
        std::fs::write(mnt.join(format!("q{i}.txt")), content(i)).unwrap();
    }
    assert!(
        t.elapsed() < Duration::from_secs(15),
        "3 writes took {:?}",
        t.elapsed()
    );
    assert!(
        journal_counts(&cache).0 >= 3,
        "{:?}",
        journal_counts(&cache)
    );
    fx.assert_waits_for_login(3);
    // The queued files read back through the mount meanwhile.
    assert_eq!(std::fs::read(mnt.join("q1.txt")).unwrap(), content(1));

    let code = format!(
        "[sftp {}@{}] Verification code: ",
        fx.sshd.var("VAULT_TEST_SSH_USER"),
        fx.sshd.var("VAULT_TEST_SSH_HOST")
    );
    // Only the code: the key passphrase is held in memory.
    assert_eq!(fx.auth_and_drain(), [code]);
    vault_env(&cache, &["unmount", &fx.m()], &[]).ok();
    drop(guard);
    fx.assert_on_server(&[
        ("before.txt", b"online".to_vec()),
        ("q0.txt", content(0)),
        ("q1.txt", content(1)),
        ("q2.txt", content(2)),
    ]);
}

/// The server down when the vault is mounted (from the cache), started later: the daemon's
/// first contact needs the key passphrase and a code, which only `vault auth` can give (late).
#[test]
fn offline_start_queue_waits_for_vault_auth_once_the_server_is_back() {
    let fx = Fx::new(1);
    let (mnt, cache) = (fx.mnt(), fx.cache());
    // A first mount online, so that the cache knows the vault.
    let guard = MountGuard::new(mnt.clone());
    fx.mount_on_pty("0");
    guard.wait_mounted(Duration::from_secs(60));
    std::fs::write(mnt.join("before.txt"), b"online").unwrap();
    // Uploaded, then listed: the cache holds the folder's listing for the offline start.
    wait_until("the first upload", Duration::from_secs(30), || {
        journal_counts(&cache) == (0, 0) && fx.status(true).contains("pending=0\t")
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(std::fs::read_dir(&mnt).unwrap().count(), 1);
    vault_env(&cache, &["unmount", &fx.m()], &[]).ok();
    assert_eq!(journal_counts(&cache), (0, 0));

    assert!(fx.sshd.run(&["stop", "2fa"]).status.success());
    let t = Instant::now();
    let shown = fx.mount_on_pty("0");
    assert!(shown.contains("mounting from the cache"), "{shown}");
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    guard.wait_mounted(Duration::from_secs(10));
    for i in 0..2 {
        if let Err(e) = std::fs::write(mnt.join(format!("q{i}.txt")), content(i)) {
            panic!(
                "offline write q{i}.txt: {e}; daemon log: {}",
                std::fs::read_to_string(fx.log()).unwrap_or_default()
            );
        }
    }
    assert!(
        journal_counts(&cache).0 >= 2,
        "{:?}",
        journal_counts(&cache)
    );

    assert!(fx.sshd.run(&["start", "2fa"]).status.success());
    fx.assert_waits_for_login(2);
    // Started offline, the mount never loaded the key: `vault auth` gives its passphrase too.
    // Answered late, as a person may: past the 30 s after which a background connect attempt
    // that hears nothing is given up (the attempt waiting for `vault auth` must not be).
    std::thread::sleep(Duration::from_secs(32));
    let asked = fx.auth_and_drain();
    assert!(
        asked.last().unwrap().ends_with("] Verification code: "),
        "{asked:?}"
    );
    vault_env(&cache, &["unmount", &fx.m()], &[]).ok();
    drop(guard);
    fx.assert_on_server(&[
        ("before.txt", b"online".to_vec()),
        ("q0.txt", content(0)),
        ("q1.txt", content(1)),
    ]);
}
