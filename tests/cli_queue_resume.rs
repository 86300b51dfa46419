//! Issue 12 acceptance 3 through the `vault` binary and a real FUSE mount over SFTP (the
//! key-only OpenSSH sshd of `vault-sftp/tests/servers/sshd-2fa.sh`, mode `key`, in the cloud
//! namespace of `hotel-net.sh`, the client in the hotel one), with `--cache=full`:
//!
//! 1. Online: 50 files written into a new folder, all uploaded (the journal empties), read
//!    back once (their ciphertext then in the content cache).
//! 2. The link cut: 25 of them overwritten (version 2, larger), 10 of those once more
//!    (version 3): each an overwrite of an uploaded file, queued against its server version.
//! 3. The daemon SIGKILLed with all of that in the journal.
//! 4. Remounted over an impaired link (100 ms RTT): once the resumed upload is seen running
//!    (objects left the journal, others still in it), the link is cut (packets dropped) and the
//!    server's sessions killed, so the connection the transfers run on dies (the daemon logs a
//!    reconnect or a retry); no object leaves the journal during the cut. The link back: the journal empties without
//!    user action within 5 minutes.
//! 5. With the uploads drained, the folder listed and one more file uploaded into it, the link
//!    cut again: a new file in that folder is written at once and queued (the upload kept the
//!    folder's listing current), and sent once the link is back.
//! 6. Unmounted; pycryptomator reads the server's folder: exactly the 52 files, each its last
//!    written version (no conflict copy, nothing torn or lost); `vault check` passes.
//!
//! `VAULT_TEST_QUEUE_VAULT_LOG` (an env filter, default `info`) is passed on as `VAULT_LOG`.
//! Needs root, FUSE, iproute2, iptables, openssh-server, /opt/vault-test-pyvenv (pycryptomator).
//! `VAULT_CACHE_SKIP_NETNS=1` skips it.

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::*;

const VAULT_PW: &str = "queue resume test password 7c2a";

/// Version 1 is a few KiB; later versions about 200 KiB, so that the resumed upload lasts
/// long enough over the impaired link to be cut.
fn content(i: usize, version: u32) -> Vec<u8> {
    let n = if version == 1 {
        150 + i
    } else {
        7_000 + 100 * i
    };
    format!("resumed file {i:02} version {version} ")
        .repeat(n)
        .into_bytes()
}

fn last_version(i: usize) -> u32 {
    match i {
        0..10 => 3,
        10..25 => 2,
        _ => 1,
    }
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
    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    /// `vault ARGS` in the hotel namespace with `cache` as XDG_CACHE_HOME.
    fn run_in(&self, cache: &Path, args: &[&str]) -> Run {
        let netns = format!("--net=/run/netns/{}", self.ns);
        let mut cmd = Command::new("timeout");
        cmd.args(["120", "nsenter", netns.as_str(), "--", bin()])
            .args(args)
            // Info: the reconnect after the cut is logged at that level.
            .env(
                "VAULT_LOG",
                std::env::var_os("VAULT_TEST_QUEUE_VAULT_LOG").unwrap_or_else(|| "info".into()),
            )
            .env("XDG_CACHE_HOME", cache)
            .env_remove("VAULT_ASKPASS")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null());
        run_cmd(&mut cmd)
    }

    fn run_bare(&self, args: &[&str]) -> Run {
        self.run_in(&self.cache(), args)
    }

    /// With the key, known_hosts and askpass options; `cache` as XDG_CACHE_HOME.
    fn run_with(&self, cache: &Path, args: &[&str]) -> Run {
        let mut full: Vec<&str> = args.to_vec();
        full.extend(self.common.iter().map(String::as_str));
        full.extend(["--askpass", self.ask.to_str().unwrap()]);
        self.run_in(cache, &full)
    }

    fn mount_full(&self) -> Run {
        let (m, log) = (self.mnt(), self.log());
        self.run_with(
            &self.cache(),
            &[
                "mount",
                &self.url,
                m.to_str().unwrap(),
                "--cache=full",
                "-o",
                "attr_timeout=0,entry_timeout=0,drain_timeout=30s",
                "--log-file",
                log.to_str().unwrap(),
            ],
        )
    }

    /// Object files in the journal folders under the cache, and the log's bytes.
    fn journal(&self) -> (usize, u64) {
        journal_counts(&self.cache())
    }

    fn wait_drained(&self, what: &str, limit: Duration) -> Duration {
        let t = Instant::now();
        while self.journal() != (0, 0) {
            assert!(
                t.elapsed() < limit,
                "{what}: journal {:?} after {limit:?}; log:\n{}",
                self.journal(),
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        t.elapsed()
    }
}

/// The hotel namespaces of instance `inst`, the key-only sshd in the cloud one, an empty
/// folder `Vault` on it, and a client in the hotel namespace with its askpass and known_hosts.
fn setup(inst: &str) -> (HotelNet, Sshd, Client) {
    let pid = std::process::id();
    let net = HotelNet::up(inst, format!("/tmp/vault-qresume-hotel-{inst}"));
    let cloud = format!("vt-cloud-{inst}");
    let (sshd, KeyOnlyClient { tmp, url, login }) = key_only_sshd(
        &format!("{inst}s"),
        port_base("VAULT_TEST_QRESUME_PORT_BASE", 41_100 + (pid % 200) * 4),
        &format!("/tmp/vault-qresume-sshd-{inst}"),
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

/// pycryptomator reads the vault folder on the server and compares it with `tree`.
fn pycryptomator_matches(vault_dir: &Path, tree: &Path) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/vault-fs/tests/pycryptomator_compare.py"
    );
    let mut child = Command::new("timeout")
        .arg("120")
        .arg(test_support::pyvenv::python())
        .arg(script)
        .arg(vault_dir)
        .arg(tree)
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
    eprintln!(
        "[cli_queue_resume] {}",
        String::from_utf8_lossy(&out.stdout).trim()
    );
    assert!(
        out.status.success(),
        "pycryptomator disagrees:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sftp_resumed_upload_survives_a_link_cut_and_every_file_ends_at_its_last_version() {
    if std::env::var_os("VAULT_CACHE_SKIP_NETNS").is_some() {
        eprintln!("VAULT_CACHE_SKIP_NETNS set: skipped");
        return;
    }
    let started = Instant::now();
    let tag = "[cli_queue_resume]";
    let pid = std::process::id();
    let (net, sshd, c) = setup(&format!("r{}", pid % 100_000));
    std::fs::create_dir(c.mnt()).unwrap();
    let guard = MountGuard::lazy(c.mnt());
    c.run_with(&c.cache(), &["create", &c.url]).ok();
    let m = c.mnt();
    let docs = m.join("docs");
    let file = |i: usize| docs.join(format!("f{i:02}.txt"));
    let step = |what: &str, r: std::io::Result<()>| {
        if let Err(e) = r {
            panic!("{what}: {e}\n{}", c.log_text());
        }
    };

    // 1. Online: 50 files in a new folder, all uploaded.
    c.mount_full().ok();
    guard.wait_mounted(Duration::from_secs(30));
    step("mkdir docs", std::fs::create_dir(&docs));
    for i in 0..50 {
        step(
            &format!("f{i:02} v1"),
            std::fs::write(file(i), content(i, 1)),
        );
    }
    let took = c.wait_drained("version 1 uploaded", Duration::from_secs(60));
    eprintln!("{tag} 50 files written and uploaded online: drained {took:.2?} after the last");
    assert_eq!(std::fs::read_dir(&docs).unwrap().count(), 50);
    // Read back once (as a user opening them would): `full` keeps their ciphertext, and an
    // overwrite reads the old header, which the cut link could not give.
    for i in 0..50 {
        assert_eq!(std::fs::read(file(i)).unwrap(), content(i, 1), "f{i:02}");
    }

    // 2. The link cut: 25 overwrites of uploaded files, 10 of them twice.
    net.script.ok(&["cut", "drop"]);
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    for i in 0..25 {
        step(
            &format!("f{i:02} v2"),
            std::fs::write(file(i), content(i, 2)),
        );
    }
    for i in 0..10 {
        step(
            &format!("f{i:02} v3"),
            std::fs::write(file(i), content(i, 3)),
        );
    }
    let took = t.elapsed();
    eprintln!("{tag} 35 overwrites with the link cut: {took:.2?}");
    assert!(took < Duration::from_secs(20), "overwrites took {took:.2?}");
    assert_eq!(std::fs::read(file(3)).unwrap(), content(3, 3));
    assert_eq!(std::fs::read(file(13)).unwrap(), content(13, 2));

    // 3. SIGKILL with none of it sent.
    let (queued, _) = c.journal();
    eprintln!("{tag} journal before the kill: {queued} objects");
    assert!(queued >= 25, "the journal holds {queued} objects");
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

    // 4. Remounted over an impaired link (impaired before the mount: see cli_queue.rs); the
    //    resumed upload cut once it is seen running.
    net.script.ok(&["restore"]);
    net.script.ok(&["impair", "100", "0", "0"]);
    let log_before = c.log_text().len();
    c.mount_full().ok();
    guard.wait_mounted(Duration::from_secs(30));
    let t = Instant::now();
    let at_mount = c.journal().0;
    let mut running = None;
    while t.elapsed() < Duration::from_secs(60) {
        let (objs, _) = c.journal();
        if objs > 0 && objs < at_mount {
            running = Some(objs);
            break;
        }
        assert!(objs > 0, "the resumed upload ended before it could be cut");
        std::thread::sleep(Duration::from_millis(20));
    }
    let Some(left) = running else {
        panic!(
            "no upload finished within 60 s of the remount; log:\n{}",
            c.log_text()
        );
    };
    eprintln!(
        "{tag} remounted: {at_mount} objects journaled, {left} left after {:.2?}: cutting",
        t.elapsed()
    );
    net.script.ok(&["cut", "drop"]);
    // The server's end of every session goes too: the transfers in flight cannot resume on
    // their connection once the link is back.
    sshd.kill_sessions();
    std::thread::sleep(Duration::from_millis(500));
    let (during, _) = c.journal();
    std::thread::sleep(Duration::from_secs(4));
    let (after, _) = c.journal();
    eprintln!("{tag} during the cut: {during} objects, {after} after 4 s");
    assert!(after > 0, "everything was sent before the cut took hold");
    assert_eq!(during, after, "objects left the journal with the link cut");
    net.script.ok(&["restore"]);
    let took = c.wait_drained("resumed upload after the cut", Duration::from_secs(300));
    eprintln!("{tag} link back: journal drained in {took:.2?}");
    // The connection the transfers ran on died with the cut: the SFTP layer reconnected (and
    // sent again what it carried) or the queue retried.
    let log = c.log_text()[log_before..].to_string();
    let reconnects = log.matches("sftp connection re-established").count();
    let retries = log.matches("upload queue: will retry").count();
    eprintln!("{tag} reconnects logged: {reconnects}, queue retries: {retries}");
    assert!(
        reconnects + retries > 0,
        "no transfer was interrupted by the cut; log:\n{log}"
    );
    assert!(
        !log.contains("conflicted copy") && !log.contains("upload queue: conflict"),
        "{log}"
    );

    // 5. The folder browsed (as a user would), one more upload into it finished, then the link
    //    cut: a new file in that folder is queued at once (its listing was kept current by the
    //    upload, not dropped).
    assert_eq!(std::fs::read_dir(&docs).unwrap().count(), 50);
    step(
        "a new file online",
        std::fs::write(docs.join("online.txt"), b"uploaded just before the cut"),
    );
    c.wait_drained("the online file sent", Duration::from_secs(60));
    net.script.ok(&["cut", "drop"]);
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    step(
        "a new file while offline",
        std::fs::write(
            docs.join("offline.txt"),
            b"written after the drain, link cut",
        ),
    );
    let took = t.elapsed();
    eprintln!("{tag} new file in the uploaded folder with the link cut: {took:.2?}");
    assert!(took < Duration::from_secs(5), "took {took:.2?}");
    assert_eq!(c.journal().0, 1, "the new file is not queued");
    // `vault queue` lists it (the daemon's figures are at most half a second old).
    wait_until(
        "vault queue lists the write",
        Duration::from_secs(5),
        || {
            let listed = c.run_bare(&["queue", m.to_str().unwrap()]).ok();
            listed.starts_with("pending=1\t") && listed.lines().any(|l| l.starts_with("write\t"))
        },
    );
    net.script.ok(&["restore"]);
    c.wait_drained("the offline file sent", Duration::from_secs(60));
    let out = c.run_bare(&["unmount", m.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!guard.mounted());
    assert_eq!(c.journal(), (0, 0));

    // 6. What the server holds, read without this mount's cache.
    net.script.ok(&["impair", "0", "0", "0"]);
    let tree = c.tmp.path().join("tree");
    std::fs::create_dir_all(tree.join("docs")).unwrap();
    for i in 0..50 {
        std::fs::write(
            tree.join("docs").join(format!("f{i:02}.txt")),
            content(i, last_version(i)),
        )
        .unwrap();
    }
    std::fs::write(
        tree.join("docs").join("offline.txt"),
        b"written after the drain, link cut",
    )
    .unwrap();
    std::fs::write(
        tree.join("docs").join("online.txt"),
        b"uploaded just before the cut",
    )
    .unwrap();
    let vault_dir = PathBuf::from(sshd.var("VAULT_TEST_SFTP_ROOT")).join("Vault");
    pycryptomator_matches(&vault_dir, &tree);
    let other = c.tmp.path().join("other-cache");
    let chk = c.run_with(&other, &["check", &c.url]);
    eprintln!("{tag} vault check: {}", chk.stdout_str().trim());
    assert_eq!(chk.code, 0, "check: {}\n{}", chk.stdout_str(), chk.stderr);
    eprintln!("{tag} whole test: {:.2?}", started.elapsed());
    drop(sshd);
    drop(net);
}
