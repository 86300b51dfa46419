//! Issue 12, the metadata cache (`--cache=metadata`), through the `vault` binary and a real FUSE
//! mount against the 2FA OpenSSH sshd of `vault-sftp/tests/servers/sshd-2fa.sh`, the server in
//! the hotel-network namespaces of `hotel-net.sh` (no impairment: only the link cut is needed).
//!
//! `listing_during_a_link_cut_and_after_a_remount_comes_from_the_cache` (one test, one server, to
//! keep CI cost down, about 30 s):
//! - acceptance 2: a folder listed once, the metadata cache's time passed, the link cut: `ls -l`
//!   answers in under 1 s with the complete listing (kernel caches off: `attr_timeout=0`,
//!   `entry_timeout=0`, so the answer comes from the vault's cache, not the kernel's);
//! - a second mount of the same vault and storage with `--cache=metadata` is refused (exit 1, the
//!   documented message); `vault status -l` shows `cache=metadata`;
//! - persistence: unmounted, mounted again, the link cut at once: a folder this mount never
//!   listed answers from the cache on disk, in under 1 s, the same as before;
//! - acceptance 6 (parts): the cache folder holds none of the cleartext names, contents or the
//!   vault password written in the workload (marker test); folder 0700, every file 0600.
//!
//! `unknown_cache_mode_and_bad_max_size_are_refused`: an unknown `--cache` / `-o cache=` mode and
//! a bad `--cache-max-size` / `-o cache_max_size=` exit 2 before anything is asked (no server).
//!
//! Needs root, FUSE, iproute2, openssh-server, oathtool, libpam-google-authenticator.
//! `VAULT_CACHE_SKIP_NETNS=1` skips it.

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::*;

const VAULT_PW: &str = "cache test password 9c1d";
/// In every cleartext name and content of the workload; must never reach the cache folder.
const MARKER: &str = "CLEARTEXT-MARKER-5b8e";

/// `vault ARGS` inside the hotel netns (nsenter --net: FUSE mounts stay visible), with its own
/// cache folder.
fn vault_hotel(ns: &str, cache: &Path, args: &[&str]) -> Run {
    let netns = format!("--net=/run/netns/{ns}");
    let mut full = vec!["120", "nsenter", netns.as_str(), "--", bin()];
    full.extend_from_slice(args);
    let mut cmd = Command::new("timeout");
    cmd.env_remove("VAULT_LOG");
    // VAULT_CACHE_TEST_LOG=DIRECTIVE: the daemons log that (see --log-file below).
    if let Some(log) = std::env::var_os("VAULT_CACHE_TEST_LOG") {
        cmd.env("VAULT_LOG", log);
    }
    run_cmd(
        cmd.args(&full)
            .env("XDG_CACHE_HOME", cache)
            .env_remove("VAULT_ASKPASS")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null()),
    )
}

/// `ls -ln --time-style=full-iso DIR` bounded to 10 s: (output, time taken).
fn timed_ls(dir: &Path) -> (String, Duration) {
    let t = Instant::now();
    let out = Command::new("timeout")
        .args(["10", "ls", "-ln", "--time-style=full-iso"])
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "ls -l {} failed after {took:.2?}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    (String::from_utf8_lossy(&out.stdout).into_owned(), took)
}

/// Every file below `dir`: (path, bytes, mode).
fn files_below(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>, u32)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.is_dir() {
            assert_eq!(meta.permissions().mode() & 0o777, 0o700, "{}", p.display());
            files_below(&p, out);
        } else {
            out.push((
                p.clone(),
                std::fs::read(&p).unwrap(),
                meta.permissions().mode() & 0o777,
            ));
        }
    }
}

#[test]
fn listing_during_a_link_cut_and_after_a_remount_comes_from_the_cache() {
    if std::env::var_os("VAULT_CACHE_SKIP_NETNS").is_some() {
        eprintln!("VAULT_CACHE_SKIP_NETNS set: skipped");
        return;
    }
    let pid = std::process::id();
    let inst = format!("k{}", pid % 100_000);
    let net = HotelNet::up(&inst, format!("/tmp/vault-cache-hotel-{pid}"));
    let ns = format!("vt-hotel-{inst}");
    let cloud = format!("vt-cloud-{inst}");
    let sshd = Sshd::start(
        &format!("{inst}s"),
        port_base("VAULT_TEST_CACHE_PORT_BASE", 33_100 + (pid % 200) * 4),
        &format!("/tmp/vault-cache-sshd-{pid}"),
        "2fa",
        &[
            ("VAULT_TEST_TOTP_REUSE", "allow"),
            ("VAULT_TEST_NETNS", cloud.as_str()),
        ],
    );
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let ask = sshd.askpass(tmp.path(), "ask.sh", VAULT_PW, None, None);
    let kh = sshd.known_hosts_in(tmp.path());
    let key = sshd.var("VAULT_TEST_SSH_KEY");
    let url = sshd.url("/~/Vault");
    empty_remote_dir(&sshd, "Vault");
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
    let mnt2 = tmp.path().join("mnt2");
    std::fs::create_dir(&mnt).unwrap();
    std::fs::create_dir(&mnt2).unwrap();
    let m = mnt.to_str().unwrap().to_string();
    let guard = MountGuard::new(mnt.clone());
    let _guard2 = MountGuard::lazy(mnt2.clone());
    let log = std::env::var("VAULT_CACHE_TEST_LOG_FILE")
        .unwrap_or_else(|_| tmp.path().join("daemon.log").to_string_lossy().into_owned());
    let mount_args = [
        "mount",
        url.as_str(),
        m.as_str(),
        "--cache=metadata",
        "-o",
        "attr_timeout=0,entry_timeout=0",
        "--log-file",
        log.as_str(),
    ];
    run(&mount_args).ok();
    guard.wait_mounted(Duration::from_secs(30));

    // The workload: a folder of 40 files and a subfolder, cleartext names and contents marked.
    let dir = mnt.join(format!("{MARKER}-folder"));
    std::fs::create_dir(&dir).unwrap();
    std::fs::create_dir(dir.join(format!("{MARKER}-sub"))).unwrap();
    for i in 0..40 {
        std::fs::write(
            dir.join(format!("{MARKER}-file-{i:02}.txt")),
            format!("{MARKER} content of file {i}\n").repeat(i + 1),
        )
        .unwrap();
    }
    let other = mnt.join(format!("{MARKER}-other"));
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join(format!("{MARKER}-x.txt")), MARKER).unwrap();
    // Listed once, as a file manager does on the way there: the root, then each folder.
    timed_ls(&mnt);
    let (listed, before) = timed_ls(&dir);
    eprintln!("[cli_cache] ls -l of 41 entries, link up: {before:.2?}");
    assert_eq!(
        listed.lines().filter(|l| l.contains(MARKER)).count(),
        41,
        "{listed}"
    );
    let (listed_other, _) = timed_ls(&other);

    // status -l names the mode; a second mount of the same cache is refused.
    let status = vault_hotel(&ns, &cache, &["status", "-l"]).ok();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with(&format!("{m}\t")) && l.contains("\trw\tcache=metadata")),
        "{status}"
    );
    let mut second = mount_args.to_vec();
    second[2] = mnt2.to_str().unwrap();
    let refused = run(&second);
    assert_eq!(refused.code, 1, "second mount: {}", refused.stderr);
    let refused = refused.stderr;
    assert!(
        refused.contains("is in use by another mount") && refused.contains("--cache=off"),
        "{refused}"
    );
    assert!(!is_mounted(&mnt2));

    // Acceptance 2: the cache's time passes, the link is cut, `ls -l` answers from the cache.
    std::thread::sleep(Duration::from_millis(1500));
    net.script.ok(&["cut", "down"]);
    let (during, took) = timed_ls(&dir);
    eprintln!("[cli_cache] ls -l of 41 entries during a link cut: {took:.2?}");
    net.script.ok(&["restore"]);
    assert_eq!(
        during, listed,
        "the listing during the cut is incomplete or differs"
    );
    assert!(
        took < Duration::from_secs(1),
        "ls -l during the cut took {took:.2?}"
    );
    vault_hotel(&ns, &cache, &["unmount", &m]).ok();

    // Persistence: mounted again, the link cut at once; a folder this mount never listed.
    run(&mount_args).ok();
    guard.wait_mounted(Duration::from_secs(30));
    net.script.ok(&["cut", "down"]);
    let (again, took) = timed_ls(&other);
    eprintln!("[cli_cache] ls -l after a remount, link cut: {took:.2?}");
    net.script.ok(&["restore"]);
    assert_eq!(again, listed_other, "the persisted listing differs");
    assert!(
        took < Duration::from_secs(1),
        "ls -l from the persisted cache took {took:.2?}"
    );
    vault_hotel(&ns, &cache, &["unmount", &m]).ok();

    // Acceptance 6 (parts): nothing cleartext in the cache folder; only the owner reads it.
    let vault_dir = cache.join("vault");
    assert_eq!(
        std::fs::metadata(&vault_dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let mut files = Vec::new();
    files_below(&vault_dir, &mut files);
    assert!(
        files
            .iter()
            .any(|(p, b, _)| p.ends_with("metadata.json") && b.len() > 1000),
        "no metadata.json with content: {:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (path, bytes, mode) in &files {
        assert_eq!(*mode, 0o600, "{} is mode {mode:o}", path.display());
        for secret in [MARKER, VAULT_PW, "content of file"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds cleartext {secret:?}",
                path.display()
            );
        }
    }
    drop(sshd);
    drop(net);
}

/// An unknown cache mode (flag or `-o`) names the valid ones, and a bad `--cache-max-size` is a
/// usage error, both before anything is asked.
#[test]
fn unknown_cache_mode_and_bad_max_size_are_refused() {
    let fx = copy_fixture("vault-v8");
    let mnt = fx.tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let m = mnt.to_str().unwrap();
    for args in [
        vec!["mount", fx.vault_str(), m, "--cache=sometimes"],
        vec!["mount", fx.vault_str(), m, "-o", "cache=sometimes"],
    ] {
        let out = vault(&args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("off, metadata or full"),
            "{}",
            out.stderr
        );
        assert!(!is_mounted(&mnt));
    }
    for args in [
        vec!["mount", fx.vault_str(), m, "--cache-max-size=lots"],
        vec!["mount", fx.vault_str(), m, "-o", "cache_max_size=1X"],
    ] {
        let out = vault(&args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("invalid size"), "{}", out.stderr);
        assert!(!is_mounted(&mnt));
    }
}
