//! Issue 12, offline start: `vault mount --cache=metadata` with the server unreachable, through
//! the `vault` binary and a real FUSE mount, the server in the cloud namespace of `hotel-net.sh`
//! (the client in the hotel one): the key-only OpenSSH sshd of
//! `vault-sftp/tests/servers/sshd-2fa.sh` (mode `key`) and `rclone serve webdav` of
//! `tests/servers/webdav.sh`.
//!
//! Each test: mounted online, a folder of 12 files written and listed once, unmounted (the
//! cache folder 0700, its files 0600, no cleartext name in it); then twice, once with the server
//! stopped (connections refused) and once with the link a silent black hole (packets dropped):
//! - `--cache=off` (refused case) still fails with exit 5;
//! - `vault mount --cache=metadata` returns in under 10 s, mounted from the cache;
//! - `ls -l` of the folder is the same as online; `cat` of a file never read fails with EIO in
//!   under 2 s and the daemon's log names its ciphertext path;
//! - a new file, an overwrite, a `mkdir`, a rename and a delete fail with EIO and leave nothing
//!   (listing unchanged, also once online);
//! - the server back: the background connect succeeds without user action, the file reads back
//!   exactly, the overwritten file is unchanged, the key files are re-checked (logged).
//!
//! The sftp test then changes the password on the server (`vault passwd`) and mounts offline
//! with the old one (the cache still holds the old masterkey): once online the changed key
//! files are noticed (logged) and the cache refreshed, so that the next offline mount refuses the
//! old password (exit 3) and takes the new one.
//!
//! Needs root, FUSE, iproute2, iptables, openssh-server, rclone. `VAULT_CACHE_SKIP_NETNS=1`
//! skips it. The tests take turns (one lock): each builds its own namespaces.

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cli_support::*;

const VAULT_PW: &str = "offline test password 41ab";
const NEW_PW: &str = "offline test password changed 77cd";
const EIO: i32 = 5;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// `ls -ln --time-style=full-iso DIR` bounded to 10 s.
fn ls(dir: &Path) -> String {
    let out = Command::new("timeout")
        .args(["10", "ls", "-ln", "--time-style=full-iso"])
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ls -l {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `cat FILE` bounded to 10 s: (exit success, stdout, stderr, time taken).
fn cat(file: &Path) -> (bool, Vec<u8>, String, Duration) {
    let t = Instant::now();
    let out = Command::new("timeout")
        .args(["10", "cat"])
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success(), out.stdout, stderr, t.elapsed())
}

/// 4 KiB each: larger than what the cache keeps whole, so never read means not cached.
fn content(i: usize) -> Vec<u8> {
    format!("file {i} ").repeat(512).into_bytes()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cut {
    /// The server stopped: connections refused at once.
    Refuse,
    /// The link a silent black hole: every packet dropped.
    Drop,
}

/// One vault on one server behind the hotel link, and a mountpoint for it.
struct Target {
    net: HotelNet,
    ns: String,
    tmp: tempfile::TempDir,
    url: String,
    /// Arguments every command gets (identity, known hosts, `--insecure-http`, …).
    common: Vec<String>,
    /// Starts (`true`) or stops (`false`) the server.
    server: Box<dyn Fn(bool)>,
    name: &'static str,
}

impl Target {
    fn cache(&self) -> PathBuf {
        self.tmp.path().join("cache")
    }
    fn mnt(&self) -> PathBuf {
        self.tmp.path().join("mnt")
    }
    fn log(&self) -> PathBuf {
        self.tmp.path().join("daemon.log")
    }
    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    /// `vault ARGS COMMON --askpass ASK` inside the hotel netns (FUSE mounts stay visible), with
    /// its own cache folder.
    fn run(&self, ask: &Path, args: &[&str]) -> Run {
        let mut full: Vec<&str> = args.to_vec();
        full.extend(self.common.iter().map(String::as_str));
        full.extend(["--askpass", ask.to_str().unwrap()]);
        self.run_bare(&full)
    }

    /// [`Target::run`] without the common arguments.
    fn run_bare(&self, args: &[&str]) -> Run {
        let netns = format!("--net=/run/netns/{}", self.ns);
        let mut cmd = Command::new("timeout");
        cmd.args(["120", "nsenter", netns.as_str(), "--", bin()])
            .args(args)
            .env_remove("VAULT_LOG")
            .env("XDG_CACHE_HOME", self.cache())
            .env_remove("VAULT_ASKPASS")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null());
        run_cmd(&mut cmd)
    }

    fn mount(&self, ask: &Path, cache: &str) -> Run {
        let (m, log) = (self.mnt(), self.log());
        let mode = format!("--cache={cache}");
        self.run(
            ask,
            &[
                "mount",
                &self.url,
                m.to_str().unwrap(),
                &mode,
                "-o",
                "attr_timeout=0,entry_timeout=0",
                "--log-file",
                log.to_str().unwrap(),
            ],
        )
    }

    fn unmount(&self) {
        let m = self.mnt();
        self.run_bare(&["unmount", m.to_str().unwrap()]).ok();
    }

    fn down(&self, cut: Cut) {
        match cut {
            Cut::Refuse => (self.server)(false),
            Cut::Drop => self.net.script.ok(&["cut", "drop"]),
        }
    }

    fn up(&self, cut: Cut) {
        match cut {
            Cut::Refuse => (self.server)(true),
            Cut::Drop => self.net.script.ok(&["restore"]),
        }
    }

    /// Online: `vault create`, a mount, the folder `docs` of 12 files written and listed, an
    /// unmount. Returns the listing. Checks the cache folder's modes and that no cleartext name
    /// is in it.
    fn populate(&self, ask: &Path, guard: &MountGuard) -> String {
        self.run(ask, &["create", &self.url]).ok();
        self.mount(ask, "metadata").ok();
        guard.wait_mounted(Duration::from_secs(30));
        let dir = self.mnt().join("docs");
        std::fs::create_dir(&dir).unwrap();
        for i in 0..12 {
            std::fs::write(dir.join(format!("f{i:02}.txt")), content(i)).unwrap();
        }
        ls(&self.mnt());
        let listed = ls(&dir);
        assert_eq!(listed.lines().filter(|l| l.contains(".txt")).count(), 12);
        self.unmount();
        check_cache_folder(&self.cache().join("vault"));
        listed
    }

    /// See the module docs: one offline mount with the server unreachable as `cut` says, and
    /// the server back. `recheck` is the log text expected once the key files are re-read.
    fn offline_round(&self, ask: &Path, guard: &MountGuard, cut: Cut, listed: &str, recheck: &str) {
        let tag = format!("[cli_offline {} {cut:?}]", self.name);
        let dir = self.mnt().join("docs");
        let _ = std::fs::remove_file(self.log());
        self.down(cut);
        if cut == Cut::Refuse {
            let t = Instant::now();
            let off = self.mount(ask, "off");
            eprintln!(
                "{tag} --cache=off with the server down: exit {} in {:.2?}",
                off.code,
                t.elapsed()
            );
            assert_eq!(off.code, 5, "--cache=off, server down: {}", off.stderr);
            assert!(!guard.mounted());
        }
        let t = Instant::now();
        let mounted = self.mount(ask, "metadata");
        let took = t.elapsed();
        eprintln!("{tag} vault mount with the server unreachable: {took:.2?}");
        assert_eq!(mounted.code, 0, "offline mount: {}", mounted.stderr);
        assert!(
            mounted.stderr.contains("mounting from the cache (offline)"),
            "{}",
            mounted.stderr
        );
        assert!(
            took < Duration::from_secs(10),
            "offline mount took {took:.2?}"
        );
        guard.wait_mounted(Duration::from_secs(5));
        assert_eq!(ls(&dir), listed, "the offline listing differs");

        let (ok, _, err, took) = cat(&dir.join("f03.txt"));
        eprintln!(
            "{tag} cat of an uncached file offline: {took:.2?} ({})",
            err.trim()
        );
        assert!(!ok, "an uncached file read offline");
        assert!(err.contains("Input/output error"), "{err}");
        assert!(took < Duration::from_secs(2), "the EIO took {took:.2?}");
        let text = self.log_text();
        let line = text
            .lines()
            .find(|l| l.contains("read refused") && l.contains(".c9r"))
            .unwrap_or_else(|| panic!("no log line for the refused read:\n{text}"));
        assert!(line.contains("d/") && line.contains(".c9r"), "{line}");

        // Writes: EIO, nothing left behind.
        let errno = |r: std::io::Result<()>, what: &str| {
            let e = r.expect_err(what);
            eprintln!("{tag} {what} offline: {e}");
            assert_eq!(e.raw_os_error(), Some(EIO), "{what}: {e}");
        };
        errno(
            std::fs::write(dir.join("new.txt"), b"written offline"),
            "a new file",
        );
        errno(
            std::fs::write(dir.join("f00.txt"), b"overwritten offline"),
            "an overwrite",
        );
        errno(std::fs::create_dir(dir.join("newdir")), "mkdir");
        errno(
            std::fs::rename(dir.join("f01.txt"), dir.join("moved.txt")),
            "a rename",
        );
        errno(std::fs::remove_file(dir.join("f02.txt")), "a delete");
        assert_eq!(ls(&dir), listed, "the listing after failed writes");

        // The server back: connected without user action.
        self.up(cut);
        let t = Instant::now();
        let got = loop {
            let (ok, out, _, _) = cat(&dir.join("f03.txt"));
            if ok {
                break out;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "not reconnected within 60 s"
            );
            std::thread::sleep(Duration::from_millis(250));
        };
        eprintln!(
            "{tag} server back: first read answered after {:.2?}",
            t.elapsed()
        );
        assert_eq!(got, content(3));
        let (ok, out, err, _) = cat(&dir.join("f00.txt"));
        assert!(ok, "{err}");
        assert_eq!(
            out,
            content(0),
            "the overwrite that failed changed the file"
        );
        std::thread::sleep(Duration::from_millis(1500));
        let now = ls(&dir);
        assert_eq!(now, listed, "the offline changes reached the server");
        wait_until("the key files re-checked", Duration::from_secs(10), || {
            self.log_text().contains(recheck)
        });
        self.unmount();
    }
}

/// The cache folder 0700, every file in it 0600, no cleartext name of the workload in it.
fn check_cache_folder(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut files = 0;
    for entry in std::fs::read_dir(root).unwrap() {
        // The cache folders and the `by-storage` index alike.
        let dir = entry.unwrap().path();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.display());
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
            let bytes = std::fs::read(&f).unwrap();
            for marker in [&b"f03.txt"[..], b"docs", b"file 3 "] {
                assert!(
                    !bytes.windows(marker.len()).any(|w| w == marker),
                    "cleartext {:?} in {}",
                    String::from_utf8_lossy(marker),
                    f.display()
                );
            }
            files += 1;
        }
    }
    assert!(files > 0, "no cache written under {}", root.display());
}

fn skip() -> bool {
    let skip = std::env::var_os("VAULT_CACHE_SKIP_NETNS").is_some();
    if skip {
        eprintln!("VAULT_CACHE_SKIP_NETNS set: skipped");
    }
    skip
}

/// An askpass for the sshd's key passphrase and the vault password `pw` (and `new` for
/// `passwd`'s new one).
fn sftp_askpass(sshd: &Sshd, path: &Path, pw: &str, new: &str) {
    key_askpass(
        sshd,
        path,
        &[
            ("'Vault password for '*", pw),
            ("'New vault password for '*", new),
        ],
    );
}

#[test]
fn sftp_key_only_mount_with_the_server_unreachable_starts_from_the_cache() {
    if skip() {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    let inst = format!("o{}", pid % 100_000);
    let net = HotelNet::up(&inst, format!("/tmp/vault-offline-hotel-{inst}"));
    let cloud = format!("vt-cloud-{inst}");
    let (sshd, KeyOnlyClient { tmp, url, login }) = key_only_sshd(
        &format!("{inst}s"),
        port_base("VAULT_TEST_OFFLINE_PORT_BASE", 34_100 + (pid % 200) * 4),
        &format!("/tmp/vault-offline-sshd-{pid}"),
        &[("VAULT_TEST_NETNS", cloud.as_str())],
    );
    let sshd = std::rc::Rc::new(sshd);
    let ask = tmp.path().join("ask.sh");
    sftp_askpass(&sshd, &ask, VAULT_PW, NEW_PW);
    let s = sshd.clone();
    let t = Target {
        net,
        ns: format!("vt-hotel-{inst}"),
        common: login,
        tmp,
        url,
        server: Box::new(move |start| {
            let out = s.run(&[if start { "start" } else { "stop" }, "key"]);
            assert!(
                out.status.success(),
                "sshd start/stop: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }),
        name: "sftp",
    };
    std::fs::create_dir(t.mnt()).unwrap();
    let guard = MountGuard::new(t.mnt());
    let listed = t.populate(&ask, &guard);
    let unchanged = "unchanged on the server";
    t.offline_round(&ask, &guard, Cut::Refuse, &listed, unchanged);
    t.offline_round(&ask, &guard, Cut::Drop, &listed, unchanged);

    // The password changed on the server by another device: the laptop's cache does not know.
    t.run(&ask, &["passwd", &t.url]).ok();
    t.offline_round(
        &ask,
        &guard,
        Cut::Drop,
        &listed,
        "differs from the cached copy",
    );
    // The cache now holds the server's masterkey: offline, the old password is refused.
    t.down(Cut::Drop);
    let old = t.mount(&ask, "metadata");
    assert_eq!(old.code, 3, "old password after the change: {}", old.stderr);
    let ask_new = t.tmp.path().join("ask-new.sh");
    sftp_askpass(&sshd, &ask_new, NEW_PW, NEW_PW);
    let new = t.mount(&ask_new, "metadata");
    assert_eq!(new.code, 0, "new password offline: {}", new.stderr);
    guard.wait_mounted(Duration::from_secs(5));
    assert_eq!(ls(&t.mnt().join("docs")), listed);
    t.unmount();
    t.up(Cut::Drop);
}

#[test]
fn webdav_mount_with_the_server_unreachable_starts_from_the_cache() {
    if skip() {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    let inst = format!("q{}", pid % 100_000);
    let net = HotelNet::up(&inst, format!("/tmp/vault-offline-hotel-{inst}"));
    let state = format!("/tmp/vault-offline-dav-{pid}");
    let base = port_base("VAULT_TEST_OFFLINE_DAV_PORT_BASE", 35_000 + (pid % 200) * 8);
    let dav = std::rc::Rc::new(Dav {
        env: vec![
            ("VAULT_TEST_INSTANCE".into(), format!("{inst}w")),
            ("VAULT_TEST_PORT_BASE".into(), base.to_string()),
            ("VAULT_TEST_STATE_DIR".into(), state.clone()),
            ("VAULT_TEST_NETNS".into(), format!("vt-cloud-{inst}")),
        ],
    });
    dav.ok("start");
    let root = PathBuf::from(dav.var("VAULT_TEST_WEBDAV_RCLONE_ROOT"));
    std::fs::create_dir_all(root.join("Vault")).unwrap();
    let http = dav.var("VAULT_TEST_WEBDAV_RCLONE_URL");
    let hostport = http
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let user = dav.var("VAULT_TEST_WEBDAV_USER");
    let url = format!("dav://{user}@{hostport}/Vault");
    let tmp = tempfile::tempdir().unwrap();
    let ask = tmp.path().join("ask.sh");
    write_askpass(
        &ask,
        false,
        &[
            (
                "'Password for '*",
                format!("printf '%s\\n' '{}'", dav.var("VAULT_TEST_WEBDAV_PASSWORD")),
            ),
            (
                "'Vault password for '*",
                format!("printf '%s\\n' '{VAULT_PW}'"),
            ),
        ],
    );
    let d = dav.clone();
    let t = Target {
        net,
        ns: format!("vt-hotel-{inst}"),
        common: vec!["--insecure-http".into()],
        tmp,
        url,
        server: Box::new(move |start| {
            d.ok(if start { "start" } else { "stop" });
        }),
        name: "webdav",
    };
    std::fs::create_dir(t.mnt()).unwrap();
    let guard = MountGuard::new(t.mnt());
    let listed = t.populate(&ask, &guard);
    let unchanged = "unchanged on the server";
    t.offline_round(&ask, &guard, Cut::Refuse, &listed, unchanged);
    t.offline_round(&ask, &guard, Cut::Drop, &listed, unchanged);
    drop(guard);
    drop(t);
    let _ = std::fs::remove_dir_all(&state);
}
