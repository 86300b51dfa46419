//! Issue 12, offline start: `vault mount --cache=metadata` with the server unreachable, through
//! the `vault` binary and a real FUSE mount against the key-only OpenSSH sshd of
//! `vault-sftp/tests/servers/sshd-2fa.sh` (mode `key`), the server in the hotel-network
//! namespaces of `hotel-net.sh`.
//!
//! `mount_with_the_server_unreachable_starts_from_the_cache` (one server, about 40 s):
//! - mounted online, a folder written and listed once, unmounted;
//! - the link cut as a silent black hole (packets dropped): `vault mount` returns in under 10 s,
//!   `ls -l` of the folder is complete and the same as online, `cat` of a file never read fails
//!   with EIO in under 2 s and the daemon's log names the file's ciphertext path;
//! - the link restored: the background connect succeeds, the file reads back exactly, a new
//!   listing (of a folder made now) works.
//!
//! Needs root, FUSE, iproute2, iptables, openssh-server. `VAULT_CACHE_SKIP_NETNS=1` skips it.

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::*;

const VAULT_PW: &str = "offline test password 41ab";

/// hotel-net.sh namespaces of one instance; `down` (and the state folder removed) when dropped.
struct HotelNet {
    script: ServerScript,
    state: String,
}

impl Drop for HotelNet {
    fn drop(&mut self) {
        let _ = self.script.run(&["down"]);
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

/// `vault ARGS` inside the hotel netns (FUSE mounts stay visible), with its own cache folder.
fn vault_hotel(ns: &str, cache: &Path, args: &[&str]) -> Run {
    let netns = format!("--net=/run/netns/{ns}");
    let mut full = vec!["120", "nsenter", netns.as_str(), "--", bin()];
    full.extend_from_slice(args);
    let mut cmd = Command::new("timeout");
    cmd.env_remove("VAULT_LOG");
    run_cmd(
        cmd.args(&full)
            .env("XDG_CACHE_HOME", cache)
            .env_remove("VAULT_ASKPASS")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null()),
    )
}

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

#[test]
fn mount_with_the_server_unreachable_starts_from_the_cache() {
    if std::env::var_os("VAULT_CACHE_SKIP_NETNS").is_some() {
        eprintln!("VAULT_CACHE_SKIP_NETNS set: skipped");
        return;
    }
    let pid = std::process::id();
    let inst = format!("o{}", pid % 100_000);
    let state = format!("/tmp/vault-offline-hotel-{pid}");
    let net = HotelNet {
        script: ServerScript::new(
            "hotel-net.sh",
            &[
                ("VAULT_TEST_INSTANCE", inst.as_str()),
                ("VAULT_TEST_STATE_DIR", state.as_str()),
            ],
        ),
        state: state.clone(),
    };
    net.script.ok(&["up", "0", "0", "0"]);
    let ns = format!("vt-hotel-{inst}");
    let cloud = format!("vt-cloud-{inst}");
    let sshd = Sshd::start(
        &format!("{inst}s"),
        port_base("VAULT_TEST_OFFLINE_PORT_BASE", 34_100 + (pid % 200) * 4),
        &format!("/tmp/vault-offline-sshd-{pid}"),
        "key",
        &[("VAULT_TEST_NETNS", cloud.as_str())],
    );
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let ask = sshd.askpass(tmp.path(), "ask.sh", VAULT_PW, None, None);
    let kh = sshd.known_hosts_in(tmp.path());
    let key = sshd.var("VAULT_TEST_SSH_KEY");
    // The key-only listener (`sshd.url` names the 2FA one, which this mode does not start).
    let url = format!(
        "sftp://{}@{}:{}/~/Vault",
        sshd.var("VAULT_TEST_SSH_USER"),
        sshd.var("VAULT_TEST_SSH_HOST"),
        sshd.var("VAULT_TEST_SSH_PORT_KEYONLY")
    );
    let user = sshd.var("VAULT_TEST_SSH_USER");
    let remote = std::path::PathBuf::from(sshd.var("VAULT_TEST_SFTP_ROOT")).join("Vault");
    assert!(
        Command::new("install")
            .args(["-d", "-o", &user, "-g", &user])
            .arg(&remote)
            .status()
            .unwrap()
            .success()
    );
    let (a, k) = (ask.to_str().unwrap(), kh.to_str().unwrap());
    let common = [
        "--identity",
        key.as_str(),
        "--known-hosts",
        k,
        "--askpass",
        a,
    ];
    let run = |args: &[&str]| {
        let mut v: Vec<&str> = args.to_vec();
        v.extend_from_slice(&common);
        vault_hotel(&ns, &cache, &v)
    };
    run(&["create", &url]).ok();
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let m = mnt.to_str().unwrap().to_string();
    let guard = MountGuard::new(mnt.clone());
    let log = tmp.path().join("daemon.log");
    let log_s = log.to_str().unwrap().to_string();
    let mount_args = [
        "mount",
        url.as_str(),
        m.as_str(),
        "--cache=metadata",
        "-o",
        "attr_timeout=0,entry_timeout=0",
        "--log-file",
        log_s.as_str(),
    ];
    run(&mount_args).ok();
    guard.wait_mounted(Duration::from_secs(30));
    let dir = mnt.join("docs");
    std::fs::create_dir(&dir).unwrap();
    // 4 KiB each: larger than what the cache keeps whole, so never read means not cached.
    let content = |i: usize| format!("file {i} ").repeat(512).into_bytes();
    for i in 0..12 {
        std::fs::write(dir.join(format!("f{i:02}.txt")), content(i)).unwrap();
    }
    ls(&mnt);
    let listed = ls(&dir);
    assert_eq!(listed.lines().filter(|l| l.contains(".txt")).count(), 12);
    vault_hotel(&ns, &cache, &["unmount", &m]).ok();

    // The server unreachable, silently (every packet dropped): the worst case for a connect.
    net.script.ok(&["cut", "drop"]);
    let t = Instant::now();
    let mounted = run(&mount_args);
    let took = t.elapsed();
    eprintln!("[cli_offline] vault mount with the server unreachable: {took:.2?}");
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
        "[cli_offline] cat of an uncached file offline: {took:.2?} ({})",
        err.trim()
    );
    assert!(!ok, "an uncached file read offline");
    assert!(err.contains("Input/output error"), "{err}");
    assert!(took < Duration::from_secs(2), "the EIO took {took:.2?}");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let line = text
        .lines()
        .find(|l| l.contains("read refused") && l.contains(".c9r"))
        .unwrap_or_else(|| panic!("no log line for the refused read:\n{text}"));
    assert!(line.contains("d/") && line.contains(".c9r"), "{line}");

    // Back online: the background connect succeeds; the file reads back; a new listing works.
    net.script.ok(&["restore"]);
    let until = Instant::now() + Duration::from_secs(60);
    let got = loop {
        let (ok, out, _, _) = cat(&dir.join("f03.txt"));
        if ok {
            break out;
        }
        assert!(Instant::now() < until, "not reconnected within 60 s");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(got, content(3));
    let fresh = mnt.join("made-online");
    std::fs::create_dir(&fresh).unwrap();
    std::fs::write(fresh.join("n.txt"), b"new").unwrap();
    assert!(ls(&fresh).contains("n.txt"));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("unchanged on the server"),
        "no re-check of the key files logged:\n{text}"
    );
    vault_hotel(&ns, &cache, &["unmount", &m]).ok();
    drop(sshd);
    drop(net);
}
