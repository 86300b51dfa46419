//! Issue 12 acceptance 5, through the `vault` binary and a real FUSE mount over SFTP (the
//! key-only OpenSSH sshd of `vault-sftp/tests/servers/sshd-2fa.sh`, mode `key`).
//!
//! `sftp_queue_conflicts_keep_both_versions`: mounted with `--cache=full`, three files and a
//! folder written and sent; then the queue held (the debug-build hook
//! `VAULT_TEST_QUEUE_PAUSE_FILE`: while that file exists the worker sends nothing), so that what
//! follows waits in the journal: `doc.txt` and `keep.txt` overwritten, `folder/queued.txt`
//! written. Meanwhile "another client" (a second `vault` process with a cache of its own)
//! overwrites `doc.txt` with `vault put` and deletes `folder` with `vault rm -r`. The hold
//! lifted, the queue drains; then, as README "Upload queue" documents:
//! - `doc.txt` holds the other client's bytes; ours is a conflict copy that both the mount and a
//!   fresh `vault ls` list under a new cleartext name, holding exactly our bytes;
//! - the same for a file whose name is stored shortened (`H.c9s/contents.c9r`): ours is a new
//!   long-named node `NAME (conflicted copy YYYY-MM-DD HHMMSS).txt`;
//! - `keep.txt`, changed by nobody else, holds our bytes and made no conflict copy;
//! - `queued.txt` is readable with our bytes in `folder (recovered YYYY-MM-DD HHMMSS)` in the
//!   root (its folder recreated and linked back by the mount), through the mount and a fresh
//!   `vault ls`/`cat`; the rest of `folder` stays deleted;
//! - `vault status -l` and `vault queue` count exactly two conflicts; `vault check` passes.
//!
//! Needs root, FUSE, openssh-server.

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::*;

const VAULT_PW: &str = "conflict test password 9a2c";

struct Client {
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

    fn pause_file(&self) -> PathBuf {
        self.tmp.path().join("queue-paused")
    }

    /// `vault ARGS` with `cache` as XDG_CACHE_HOME.
    fn run_in(&self, cache: &Path, args: &[&str]) -> Run {
        let mut cmd = Command::new("timeout");
        cmd.arg("120")
            .arg(bin())
            .args(args)
            .env("VAULT_TEST_QUEUE_PAUSE_FILE", self.pause_file())
            .env_remove("VAULT_LOG")
            .env("XDG_CACHE_HOME", cache)
            .env_remove("VAULT_ASKPASS")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null());
        run_cmd(&mut cmd)
    }

    /// `vault ARGS` of the mount's side (the mount's cache), no secrets.
    fn run_bare(&self, args: &[&str]) -> Run {
        self.run_in(&self.cache(), args)
    }

    fn with_secrets<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut full: Vec<&str> = args.to_vec();
        full.extend(self.common.iter().map(String::as_str));
        full.extend(["--askpass", self.ask.to_str().unwrap()]);
        full
    }

    /// `vault ARGS` on the mount's side, with the login options.
    fn run(&self, args: &[&str]) -> Run {
        self.run_bare(&self.with_secrets(args))
    }

    /// `vault ARGS` as the other client: a cache folder of its own.
    fn other(&self, args: &[&str]) -> Run {
        let cache = self.tmp.path().join("other-cache");
        self.run_in(&cache, &self.with_secrets(args))
    }

    /// Every file in the journal folders under the cache: (object files, log bytes).
    fn journal(&self) -> (usize, u64) {
        journal_counts(&self.cache())
    }
}

/// The key-only sshd (ports from `VAULT_TEST_QCONFLICT_PORT_BASE`, default
/// 40,100 + 4 × (pid mod 200)), an empty folder `Vault` on it, and a client with its askpass
/// and known_hosts.
fn setup() -> (Sshd, Client) {
    let pid = std::process::id();
    let inst = format!("qc{}", pid % 100_000);
    let (sshd, KeyOnlyClient { tmp, url, login }) = key_only_sshd(
        &inst,
        port_base("VAULT_TEST_QCONFLICT_PORT_BASE", 40_100 + (pid % 200) * 4),
        &format!("/tmp/vault-qconflict-sshd-{inst}"),
        &[],
    );
    let ask = tmp.path().join("ask.sh");
    key_askpass(&sshd, &ask, &[("'Vault password for '*", VAULT_PW)]);
    let c = Client {
        tmp,
        url,
        common: login,
        ask,
    };
    (sshd, c)
}

fn bytes(what: &str, n: usize) -> Vec<u8> {
    format!("{what} ").repeat(n).into_bytes()
}

#[test]
fn sftp_queue_conflicts_keep_both_versions() {
    let (sshd, c) = setup();
    std::fs::create_dir(c.mnt()).unwrap();
    let guard = MountGuard::lazy(c.mnt());
    c.run(&["create", &c.url]).ok();
    let (m, log) = (c.mnt(), c.log());
    let ms = m.to_str().unwrap();
    let daemon_log = || std::fs::read_to_string(&log).unwrap_or_default();
    c.run(&[
        "mount",
        &c.url,
        ms,
        "--cache=full",
        "--dir-cache-time",
        "1s",
        "-o",
        "attr_timeout=0,entry_timeout=0,drain_timeout=5s",
        "--log-file",
        log.to_str().unwrap(),
    ])
    .ok();
    guard.wait_mounted(Duration::from_secs(30));

    // The first versions, sent.
    let base = bytes("base version", 50);
    std::fs::write(m.join("doc.txt"), &base).unwrap();
    std::fs::write(m.join("keep.txt"), &base).unwrap();
    // A name long enough to be stored shortened (`H.c9s/contents.c9r`).
    let long = format!("{}.txt", "a long file name ".repeat(10));
    std::fs::write(m.join(&long), &base).unwrap();
    std::fs::create_dir(m.join("folder")).unwrap();
    std::fs::write(m.join("folder").join("old.txt"), &base).unwrap();
    wait_until("the first versions sent", Duration::from_secs(60), || {
        c.journal() == (0, 0)
    });
    assert_eq!(std::fs::read_dir(&m).unwrap().count(), 4);
    assert_eq!(std::fs::read_dir(m.join("folder")).unwrap().count(), 1);

    // The queue held: our changes wait in the journal.
    std::fs::write(c.pause_file(), b"").unwrap();
    let ours = bytes("our queued version", 70);
    let kept = bytes("a queued version nobody else touched", 40);
    let queued = bytes("a new file queued in a folder", 30);
    let write = |p: &Path, b: &[u8]| {
        if let Err(e) = std::fs::write(p, b) {
            panic!("{}: {e}\n{}", p.display(), daemon_log());
        }
    };
    write(&m.join("doc.txt"), &ours);
    write(&m.join("keep.txt"), &kept);
    let ours_long = bytes("our queued version of the long-named file", 20);
    write(&m.join(&long), &ours_long);
    write(&m.join("folder").join("queued.txt"), &queued);
    let (objs, _) = c.journal();
    assert!(objs >= 4, "the journal holds {objs} objects");

    std::thread::sleep(Duration::from_secs(1));
    assert!(c.journal().0 >= 4, "sent while held");

    // The other client: overwrites doc.txt, deletes folder.
    let theirs = bytes("the other client's version", 90);
    let src = c.tmp.path().join("theirs.txt");
    std::fs::write(&src, &theirs).unwrap();
    c.other(&["put", &c.url, src.to_str().unwrap(), "/doc.txt"])
        .ok();
    let theirs_long = bytes("the other client's version of the long-named file", 25);
    let src_long = c.tmp.path().join("theirs-long.txt");
    std::fs::write(&src_long, &theirs_long).unwrap();
    c.other(&[
        "put",
        &c.url,
        src_long.to_str().unwrap(),
        &format!("/{long}"),
    ])
    .ok();
    c.other(&["rm", "-r", &c.url, "/folder"]).ok();
    let ls = c.other(&["ls", &c.url]).ok();
    assert!(!ls.contains("folder"), "{ls}");
    assert_eq!(c.other(&["cat", &c.url, "/doc.txt"]).stdout, theirs);

    // The hold lifted: the queue drains without user action.
    std::fs::remove_file(c.pause_file()).unwrap();
    let t = Instant::now();
    // The folder is linked back by changes queued once its content folder was recreated.
    wait_until("the folder linked back", Duration::from_secs(60), || {
        daemon_log().contains("linked into the vault root")
    });
    wait_until("the queue drained", Duration::from_secs(90), || {
        c.journal() == (0, 0)
    });
    eprintln!(
        "[cli_queue_conflict] drained {:.2?} after the hold",
        t.elapsed()
    );
    let mut status = String::new();
    // This mount's line (other tests' mounts may be listed too).
    let mine = format!("{ms}\t");
    wait_until("vault status -l: pending=0", Duration::from_secs(5), || {
        let all = c.run_bare(&["status", "-l"]).ok();
        status = all
            .lines()
            .find(|l| l.starts_with(&mine))
            .unwrap_or_default()
            .to_string();
        status.contains("\tpending=0\tbytes=0")
    });
    eprintln!("[cli_queue_conflict] vault status -l: {}", status.trim());
    assert!(status.contains("\tconflicts=2\t"), "{status}");
    let listed = c.run_bare(&["queue", ms]).ok();
    assert!(listed.starts_with("pending=0\t"), "{listed}");
    assert!(listed.contains("\tconflicts=2\t"), "{listed}");
    let dl = daemon_log();
    assert!(dl.contains("conflict copy"), "no conflict log line:\n{dl}");

    // What the server holds, read by the other client (a fresh cache, no mount).
    let ls = c.other(&["ls", &c.url]).ok();
    eprintln!("[cli_queue_conflict] the server's root:\n{ls}");
    let names: Vec<&str> = ls.lines().collect();
    let copies: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !["doc.txt", "keep.txt", long.as_str()].contains(n) && !n.ends_with('/'))
        .collect();
    assert_eq!(copies.len(), 2, "two conflict copies expected: {ls}");
    let copy = *copies.iter().find(|n| n.starts_with("doc")).unwrap();
    let long_copy = *copies.iter().find(|n| **n != copy).unwrap();
    let folders: Vec<&str> = names.iter().filter_map(|n| n.strip_suffix('/')).collect();
    assert_eq!(folders.len(), 1, "one folder expected: {ls}");
    let recovered = folders[0];
    assert_eq!(names.len(), 6, "{ls}");
    assert!(
        copy.starts_with("doc") && copy.ends_with(".txt") && copy.contains("conflicted copy"),
        "{copy}"
    );
    assert_eq!(c.other(&["cat", &c.url, "/doc.txt"]).stdout, theirs);
    assert_eq!(c.other(&["cat", &c.url, &format!("/{copy}")]).stdout, ours);
    assert_eq!(c.other(&["cat", &c.url, "/keep.txt"]).stdout, kept);
    // The long-named file: ours is a new long-named node, not a marked `contents.c9r`.
    assert!(
        long_copy.starts_with("a long file name") && long_copy.contains(" (conflicted copy "),
        "{long_copy}"
    );
    assert_eq!(
        c.other(&["cat", &c.url, &format!("/{long}")]).stdout,
        theirs_long
    );
    assert_eq!(
        c.other(&["cat", &c.url, &format!("/{long_copy}")]).stdout,
        ours_long
    );
    // The deleted folder: recreated under a new name in the root, holding the queued file
    // (and only it: the other client's deletion of the rest stands).
    assert!(recovered.starts_with("folder (recovered "), "{ls}");
    let inside = c.other(&["ls", &c.url, &format!("/{recovered}")]).ok();
    assert_eq!(inside.trim(), "queued.txt", "{inside}");
    assert_eq!(
        c.other(&["cat", &c.url, &format!("/{recovered}/queued.txt")])
            .stdout,
        queued
    );

    // The mount shows the same once it revalidated its listing (dir_cache_time 1 s).
    let mut seen = Vec::new();
    let ok = test_support::wait::wait_for(
        || {
            seen = std::fs::read_dir(&m)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            seen.iter().any(|n| n == copy)
                && seen.iter().any(|n| n == long_copy)
                && seen.iter().any(|n| n == recovered)
                && !seen.iter().any(|n| n == "folder")
                && std::fs::read(m.join("doc.txt")).unwrap() == theirs
        },
        Duration::from_secs(15),
    );
    assert!(
        ok,
        "the mount lists {seen:?}; doc.txt: {:?}",
        String::from_utf8_lossy(&std::fs::read(m.join("doc.txt")).unwrap()).get(..40)
    );
    assert_eq!(std::fs::read(m.join(copy)).unwrap(), ours);
    assert_eq!(std::fs::read(m.join("keep.txt")).unwrap(), kept);
    assert_eq!(std::fs::read(m.join(long_copy)).unwrap(), ours_long);
    assert_eq!(std::fs::read(m.join(&long)).unwrap(), theirs_long);
    assert_eq!(
        std::fs::read(m.join(recovered).join("queued.txt")).unwrap(),
        queued
    );

    let out = c.run_bare(&["unmount", ms]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!guard.mounted());
    let chk = c.other(&["check", &c.url]);
    assert_eq!(chk.code, 0, "check: {}\n{}", chk.stdout_str(), chk.stderr);
    drop(sshd);
}
