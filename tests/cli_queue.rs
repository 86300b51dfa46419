//! Issue 12, the upload queue (`--cache=full`), through the `vault` binary and a real FUSE mount
//! over SFTP (the key-only OpenSSH sshd of `vault-sftp/tests/servers/sshd-2fa.sh`, mode `key`,
//! in the cloud namespace of `hotel-net.sh`, the client in the hotel one).
//!
//! `sftp_queue_survives_a_sigkill_and_resumes_on_the_next_mount`: mounted with
//! `--cache=full`, the link then cut (packets dropped): 50 files written (25 of them written
//! twice, a folder made, one file renamed) all return at local speed; the daemon is SIGKILLed
//! with the uploads not done (the journal holds them: its object files are counted, 0600 in a
//! 0700 folder, no cleartext marker in them). The link back, the vault mounted again: the
//! journal drains without user action and empties; read back with `vault cat` (its own
//! connection, no mount): every file holds exactly its last written version, the renamed one is
//! only under its new name. `vault queue` lists the pending changes and takes `--retry`;
//! `vault status -l` shows `cache=full` and the queue's figures; `vault unmount` waits for a
//! last write; with the link cut it waits at most `drain_timeout` (5 s), says what it left, and
//! the next mount sends it.
//!
//! `hotel_network_full_cache_cp_r_300_small_files`: issue 12 acceptance 1 (see its comment).
//!
//! `VAULT_TEST_QUEUE_VAULT_LOG` (an env filter) is passed on as `VAULT_LOG`, so the daemon's
//! `--log-file` shows its FUSE and SFTP traffic when a figure needs explaining.
//!
//! Needs root, FUSE, iproute2, iptables, openssh-server, /opt/vault-test-pyvenv (pycryptomator).
//! `VAULT_CACHE_SKIP_NETNS=1` skips both tests.

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::*;

const VAULT_PW: &str = "queue test password 5e1f";

fn content(i: usize, version: u32) -> Vec<u8> {
    format!("queued file {i} version {version} ")
        .repeat(100 + i)
        .into_bytes()
}

struct Client {
    ns: String,
    tmp: tempfile::TempDir,
    url: String,
    common: Vec<String>,
    ask: PathBuf,
}

impl Client {
    fn mnt(&self) -> PathBuf {
        self.tmp.path().join("mnt")
    }
    fn cache(&self) -> PathBuf {
        self.tmp.path().join("cache")
    }
    fn log(&self) -> PathBuf {
        self.tmp.path().join("daemon.log")
    }

    fn run_bare(&self, args: &[&str]) -> Run {
        self.run_in(&self.cache(), args)
    }

    /// `vault ARGS` in the hotel namespace with `cache` as XDG_CACHE_HOME.
    fn run_in(&self, cache: &Path, args: &[&str]) -> Run {
        let netns = format!("--net=/run/netns/{}", self.ns);
        let mut cmd = Command::new("timeout");
        cmd.args(["120", "nsenter", netns.as_str(), "--", bin()])
            .args(args)
            .env_remove("VAULT_LOG")
            .envs(std::env::var_os("VAULT_TEST_QUEUE_VAULT_LOG").map(|l| ("VAULT_LOG", l)))
            .env("XDG_CACHE_HOME", cache)
            .env_remove("VAULT_ASKPASS")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null());
        run_cmd(&mut cmd)
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut full: Vec<&str> = args.to_vec();
        full.extend(self.common.iter().map(String::as_str));
        full.extend(["--askpass", self.ask.to_str().unwrap()]);
        self.run_bare(&full)
    }

    fn mount_full(&self) -> Run {
        let (m, log) = (self.mnt(), self.log());
        self.run(&[
            "mount",
            &self.url,
            m.to_str().unwrap(),
            "--cache=full",
            "-o",
            "attr_timeout=0,entry_timeout=0,drain_timeout=5s",
            "--log-file",
            log.to_str().unwrap(),
        ])
    }

    /// Every file in the journal folders under the cache: (object files, log bytes).
    fn journal(&self) -> (usize, u64) {
        journal_counts(&self.cache())
    }
}

/// The journal folder 0700, its files 0600, no cleartext marker in them.
fn check_journal(root: &Path) -> usize {
    use std::os::unix::fs::PermissionsExt;
    let mut files = 0;
    for entry in std::fs::read_dir(root).unwrap().flatten() {
        let j = entry.path().join("journal");
        if !j.is_dir() {
            continue;
        }
        let mode = std::fs::metadata(&j).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", j.display());
        for f in std::fs::read_dir(&j).unwrap().flatten() {
            let f = f.path();
            let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
            let bytes = std::fs::read(&f).unwrap();
            for marker in [&b"queued file"[..], b"q07.txt", b"sub"] {
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
    files
}

/// The hotel namespaces of instance `inst`, the key-only sshd in the cloud one (ports from
/// `VAULT_TEST_QUEUE_PORT_BASE`, default `port_default` + 4 × (pid mod 200)), an empty folder
/// `Vault` on it, and a client in the hotel namespace with its askpass and known_hosts.
fn setup(inst: &str, port_default: u32) -> (HotelNet, Sshd, Client) {
    let pid = std::process::id();
    let net = HotelNet::up(inst, format!("/tmp/vault-queue-hotel-{inst}"));
    let cloud = format!("vt-cloud-{inst}");
    let (sshd, KeyOnlyClient { tmp, url, login }) = key_only_sshd(
        &format!("{inst}s"),
        port_base("VAULT_TEST_QUEUE_PORT_BASE", port_default + (pid % 200) * 4),
        &format!("/tmp/vault-queue-sshd-{inst}"),
        &[("VAULT_TEST_NETNS", cloud.as_str())],
    );
    let ask = tmp.path().join("ask.sh");
    key_askpass(&sshd, &ask, &[("'Vault password for '*", VAULT_PW)]);
    let c = Client {
        ns: format!("vt-hotel-{inst}"),
        tmp,
        url,
        common: login,
        ask,
    };
    (net, sshd, c)
}

#[test]
fn sftp_queue_survives_a_sigkill_and_resumes_on_the_next_mount() {
    if std::env::var_os("VAULT_CACHE_SKIP_NETNS").is_some() {
        eprintln!("VAULT_CACHE_SKIP_NETNS set: skipped");
        return;
    }
    let pid = std::process::id();
    let (net, sshd, c) = setup(&format!("q{}", pid % 100_000), 35_100);
    std::fs::create_dir(c.mnt()).unwrap();
    let guard = MountGuard::lazy(c.mnt());
    c.run(&["create", &c.url]).ok();

    // Online: mounted, the root listed once (so that the cut mount answers from the cache).
    c.mount_full().ok();
    guard.wait_mounted(Duration::from_secs(30));
    let m = c.mnt();
    assert!(std::fs::read_dir(&m).unwrap().next().is_none());
    let status = c.run_bare(&["status", "-l"]).ok();
    assert!(status.contains("cache=full"), "{status}");

    // The link cut: every change goes to the journal only.
    net.script.ok(&["cut", "drop"]);
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    let log = || std::fs::read_to_string(c.log()).unwrap_or_default();
    let step = |what: &str, r: std::io::Result<()>| {
        if let Err(e) = r {
            panic!("{what} after {:.2?}: {e}\n{}", t.elapsed(), log());
        }
    };
    for i in 0..50 {
        let f = format!("q{i:02}.txt");
        step(&f, std::fs::write(m.join(&f), content(i, 1)));
    }
    eprintln!(
        "[cli_queue] 50 new files with the link cut: {:.2?}",
        t.elapsed()
    );
    for i in 0..25 {
        let f = format!("q{i:02}.txt");
        step(&f, std::fs::write(m.join(&f), content(i, 2)));
    }
    eprintln!("[cli_queue] 25 overwrites: {:.2?}", t.elapsed());
    step("mkdir sub", std::fs::create_dir(m.join("sub")));
    eprintln!("[cli_queue] mkdir: {:.2?}", t.elapsed());
    step(
        "rename",
        std::fs::rename(m.join("q49.txt"), m.join("sub").join("moved.txt")),
    );
    let took = t.elapsed();
    eprintln!("[cli_queue] 75 writes, a mkdir and a rename with the link cut: {took:.2?}");
    assert!(
        took < Duration::from_secs(15),
        "queued writes took {took:.2?}"
    );
    // The mount sees its own writes.
    assert_eq!(std::fs::read(m.join("q03.txt")).unwrap(), content(3, 2));
    assert_eq!(std::fs::read(m.join("q30.txt")).unwrap(), content(30, 1));
    assert_eq!(
        std::fs::read(m.join("sub").join("moved.txt")).unwrap(),
        content(49, 1)
    );
    assert!(!m.join("q49.txt").exists());

    // `vault queue` lists what waits (the daemon's figures are at most half a second old);
    // `--retry` is answered.
    wait_until(
        "vault queue lists the rename",
        Duration::from_secs(5),
        || {
            let listed = c.run_bare(&["queue", m.to_str().unwrap()]).ok();
            let first = listed.lines().next().unwrap_or("");
            assert!(
                first.starts_with("pending=") && !first.starts_with("pending=0"),
                "{listed}"
            );
            assert!(listed.lines().any(|l| l.starts_with("write\t")), "{listed}");
            listed.lines().filter(|l| l.starts_with("rename\t")).count() >= 2
        },
    );
    c.run_bare(&["queue", m.to_str().unwrap(), "--retry"]).ok();

    // SIGKILL with the uploads not done.
    let (objs, log) = c.journal();
    eprintln!("[cli_queue] journal before the kill: {objs} object files, log {log} bytes");
    assert!(objs >= 50, "the journal holds {objs} objects");
    assert!(check_journal(&c.cache().join("vault")) > 0);
    let daemons = daemon_pids(&m);
    assert!(!daemons.is_empty(), "no daemon for {}", m.display());
    for d in &daemons {
        let _ = Command::new("kill").args(["-9", &d.to_string()]).status();
    }
    wait_until("the daemon gone", Duration::from_secs(10), || {
        daemon_pids(&m).is_empty()
    });
    guard.unmount();
    assert!(!guard.mounted());
    net.script.ok(&["restore"]);

    // Mounted again with the link up: the journal drains without user action.
    c.mount_full().ok();
    guard.wait_mounted(Duration::from_secs(30));
    let t = Instant::now();
    wait_until("the journal drained", Duration::from_secs(120), || {
        c.journal() == (0, 0)
    });
    eprintln!(
        "[cli_queue] remounted: journal drained in {:.2?}",
        t.elapsed()
    );
    // The daemon's figures are at most a second old.
    wait_until("vault status -l: pending=0", Duration::from_secs(5), || {
        let status = c.run_bare(&["status", "-l"]).ok();
        assert!(status.contains("cache=full"), "{status}");
        status.contains("pending=0\tbytes=0")
    });
    // A change made now is waited for by `vault unmount`.
    std::fs::write(m.join("last.txt"), b"written just before the unmount").unwrap();
    let out = c.run_bare(&["unmount", m.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!guard.mounted());
    assert_eq!(c.journal(), (0, 0), "the unmount left uploads pending");

    // The link cut at unmount: `vault unmount` waits at most drain_timeout (5 s), says what it
    // left, and the next mount sends it.
    c.mount_full().ok();
    guard.wait_mounted(Duration::from_secs(30));
    // Listed once (as a user browsing it would), so the mount knows the folder during the cut.
    assert_eq!(std::fs::read_dir(&m).unwrap().count(), 51);
    net.script.ok(&["cut", "drop"]);
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(m.join("late.txt"), b"written with the link cut").unwrap();
    let t = Instant::now();
    let out = c.run_bare(&["unmount", m.to_str().unwrap()]);
    let took = t.elapsed();
    eprintln!(
        "[cli_queue] unmount with the link cut: {took:.2?}: {}",
        out.stderr.trim()
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("left pending in the journal"),
        "{}",
        out.stderr
    );
    assert!(took < Duration::from_secs(20), "unmount took {took:.2?}");
    assert!(!guard.mounted());
    wait_until("the daemon gone", Duration::from_secs(20), || {
        daemon_pids(&m).is_empty()
    });
    assert_eq!(c.journal().0, 1, "the late write is not in the journal");
    net.script.ok(&["restore"]);
    c.mount_full().ok();
    guard.wait_mounted(Duration::from_secs(30));
    wait_until("the late write sent", Duration::from_secs(60), || {
        c.journal() == (0, 0)
    });
    c.run_bare(&["unmount", "--leave-pending", m.to_str().unwrap()])
        .ok();

    // Read back without the mount: exactly the last version of each file.
    let cat = |p: &str| -> Vec<u8> {
        let out = Command::new("timeout")
            .args([
                "60",
                "nsenter",
                &format!("--net=/run/netns/{}", c.ns),
                "--",
                bin(),
                "cat",
                &c.url,
                p,
                "--identity",
                &c.common[1],
                "--known-hosts",
                &c.common[3],
                "--askpass",
                c.ask.to_str().unwrap(),
            ])
            .env("XDG_CACHE_HOME", c.tmp.path().join("other-cache"))
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "vault cat {p}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    for i in 0..49 {
        let want = content(i, if i < 25 { 2 } else { 1 });
        assert_eq!(cat(&format!("q{i:02}.txt")), want, "q{i:02}.txt");
    }
    assert_eq!(cat("sub/moved.txt"), content(49, 1));
    assert_eq!(cat("last.txt"), b"written just before the unmount");
    assert_eq!(cat("late.txt"), b"written with the link cut");
    let ls = c.run(&["ls", &c.url]).ok();
    assert!(!ls.contains("q49.txt"), "{ls}");
    assert!(!ls.contains("conflicted"), "{ls}");
    assert_eq!(
        ls.lines().filter(|l| l.ends_with(".txt")).count(),
        51,
        "{ls}"
    );
    drop(sshd);
    drop(net);
}

/// Issue 12 acceptance 1: on the hotel network (80 ms ± 20 ms, 1 % loss) over SFTP with
/// `--cache=full`, 300 files of 4 KiB written by one `cp -r` into a new folder return within
/// 10 s; the queue is empty (`vault queue`: pending=0, the journal folder empty) within 120 s
/// after `cp` ends (its last close); then, the link unimpaired (to keep the CI cost down),
/// `vault check` exits 0, `vault cat` (a fresh cache) reads files back, and pycryptomator reads
/// the server's folder and matches the source. ~1-2 min; `VAULT_SFTP_E2E_SKIP_HOTEL=1` or
/// `VAULT_CACHE_SKIP_NETNS=1` skips it.
#[test]
fn hotel_network_full_cache_cp_r_300_small_files() {
    if std::env::var_os("VAULT_SFTP_E2E_SKIP_HOTEL").is_some()
        || std::env::var_os("VAULT_CACHE_SKIP_NETNS").is_some()
    {
        eprintln!("VAULT_SFTP_E2E_SKIP_HOTEL or VAULT_CACHE_SKIP_NETNS set: skipped");
        return;
    }
    const FILES: usize = 300;
    let pid = std::process::id();
    let (net, sshd, c) = setup(&format!("h{}", pid % 100_000), 36_100);
    // Impaired before the mount: hotel-net.sh's delay process runs in a mount namespace of its
    // own, and one started while the FUSE mount exists keeps a copy of it, so the unmount never
    // ends the daemon's session and `vault unmount` waits for the daemon forever.
    net.script.ok(&["impair", "80", "1", "20"]);
    std::fs::create_dir(c.mnt()).unwrap();
    let guard = MountGuard::lazy(c.mnt());
    c.run(&["create", &c.url]).ok();
    let (m, log) = (c.mnt(), c.log());
    let ms = m.to_str().unwrap();
    c.run(&[
        "mount",
        &c.url,
        ms,
        "--cache=full",
        "--log-file",
        log.to_str().unwrap(),
    ])
    .ok();
    guard.wait_mounted(Duration::from_secs(30));
    let daemon_log = || std::fs::read_to_string(&log).unwrap_or_default();

    // The source: `tree/new/f000 … f299`, 4 KiB each, distinct bytes.
    let tree = c.tmp.path().join("tree");
    let src = tree.join("new");
    std::fs::create_dir_all(&src).unwrap();
    let data = |i: usize| -> Vec<u8> {
        let mut d = Vec::with_capacity(4096);
        let mut x = 0x9e37_79b9_u32 ^ (i as u32).wrapping_mul(0x85eb_ca6b);
        while d.len() < 4096 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            d.extend_from_slice(&x.to_le_bytes());
        }
        d
    };
    for i in 0..FILES {
        std::fs::write(src.join(format!("f{i:03}")), data(i)).unwrap();
    }

    let t = Instant::now();
    let out = Command::new("timeout")
        .args(["300", "cp", "-r"])
        .arg(&src)
        .arg(&m)
        .output()
        .unwrap();
    let copied = t.elapsed();
    assert!(
        out.status.success(),
        "cp -r after {copied:.2?}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        daemon_log()
    );
    eprintln!("[cli_queue] hotel full: cp -r of {FILES} files of 4 KiB: {copied:.2?}");

    // Until the queue is empty, as `vault queue` reports it (the daemon's figures are at most a
    // second old) and as the journal folder shows.
    let t = Instant::now();
    let mut polls = 0;
    let drained = loop {
        polls += 1;
        let listed = c.run_bare(&["queue", ms]).ok();
        let first = listed.lines().next().unwrap_or("").to_string();
        assert!(first.starts_with("pending="), "{listed}");
        if first.starts_with("pending=0") && c.journal() == (0, 0) {
            break Some(t.elapsed());
        }
        if t.elapsed() > Duration::from_secs(120) {
            eprintln!("[cli_queue] hotel full: still {first} after 120 s");
            break None;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    eprintln!("[cli_queue] hotel full: queue drained after cp in {drained:.2?} ({polls} polls)");
    let status = c.run_bare(&["status", "-l"]).ok();
    eprintln!("[cli_queue] hotel full: vault status -l: {}", status.trim());
    assert!(
        drained.is_some(),
        "queue not empty 120 s after cp; log:\n{}",
        daemon_log()
    );
    assert!(status.contains("pending=0\tbytes=0"), "{status}");
    // Asserted at the end, after what the server holds is known.
    let names: Vec<String> = std::fs::read_dir(m.join("new"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let unlisted: Vec<String> = (0..FILES)
        .map(|i| format!("f{i:03}"))
        .filter(|n| !names.contains(n))
        .collect();
    eprintln!("[cli_queue] hotel full: missing from the mount's listing: {unlisted:?}");
    let t = Instant::now();
    let out = c.run_bare(&["unmount", ms]);
    eprintln!(
        "[cli_queue] hotel full: vault unmount: exit {} in {:.2?}",
        out.code,
        t.elapsed()
    );
    assert_eq!(out.code, 0, "{}\nlog:\n{}", out.stderr, daemon_log());
    assert!(!guard.mounted());
    assert_eq!(c.journal(), (0, 0), "the unmount left uploads pending");

    // What the server holds, read without the mount and without this mount's cache.
    net.script.ok(&["impair", "0", "0", "0"]);
    let other = c.tmp.path().join("other-cache");
    let with_common = |args: &[&str]| -> Run {
        let mut v: Vec<&str> = args.to_vec();
        v.extend(c.common.iter().map(String::as_str));
        v.extend(["--askpass", c.ask.to_str().unwrap()]);
        c.run_in(&other, &v)
    };
    let ls = with_common(&["ls", &c.url, "/new"]).ok();
    let on_server = ls.lines().filter(|l| l.starts_with('f')).count();
    eprintln!("[cli_queue] hotel full: files on the server: {on_server}");
    let chk = with_common(&["check", &c.url]);
    assert_eq!(chk.code, 0, "check: {}\n{}", chk.stdout_str(), chk.stderr);
    for i in [0, 1, 149, 298, 299] {
        let p = format!("new/f{i:03}");
        let got = with_common(&["cat", &c.url, &p]);
        assert_eq!(got.code, 0, "vault cat {p}: {}", got.stderr);
        assert!(got.stdout == data(i), "vault cat {p}: other bytes");
    }
    let vault_dir = PathBuf::from(sshd.var("VAULT_TEST_SFTP_ROOT")).join("Vault");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/vault-fs/tests/pycryptomator_compare.py"
    );
    let mut child = Command::new("timeout")
        .arg("120")
        .arg(test_support::pyvenv::python())
        .arg(script)
        .arg(&vault_dir)
        .arg(&tree)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("{VAULT_PW}\n").as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "pycryptomator disagrees:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    drop(sshd);
    drop(net);
    // Asserted last, so that a slow copy still reports the drain, check and read-back above.
    assert!(unlisted.is_empty(), "not listed on the mount: {unlisted:?}");
    assert!(
        copied < Duration::from_secs(10),
        "cp -r of {FILES} files took {copied:.2?} (target 10 s)"
    );
}
