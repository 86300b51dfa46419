//! Issue 11, acceptance 1: a hostile SFTP server never gets a local secret.
//!
//! The server (`tests/hostile/sftp_server.rs`, russh's server side in this process, OpenSSH's
//! `sftp-server` behind it) refuses public keys and asks a keyboard-interactive
//! `Verification code: `. Once a detached `vault mount --remember` is up, it drops every
//! connection and asks each new login, in our own wording, for the vault password
//! (`Vault password for STORAGE: `), the key passphrase (`Passphrase for key FILE: `) and a
//! recovery key. The askpass answers only the exact local prompts (and the marked code
//! prompt) and logs what it is shown.
//!
//! Asserted: the server's log of answers holds no local secret, neither from the daemon's
//! reconnect nor from a one-shot `vault ls` whose passphrase and vault password are in the
//! keyring (`--remember`, kernel keyring): no secret is looked up by server text; every
//! server text shown starts with `[sftp USER@HOST] `.
//!
//! `endless_listing_and_silent_read_fail_with_eio_within_10s`: the same server answers the
//! READDIR of one folder with names forever and never answers the READ of one file: both fail
//! with EIO within 10 s, the daemon's RSS grows by less than 64 MiB, and another file of the
//! mount reads meanwhile.
//!
//! Needs root, FUSE and OpenSSH's `sftp-server` (package openssh-sftp-server).

#![allow(clippy::unwrap_used)]

mod cli_support;
#[path = "hostile/sftp_server.rs"]
mod hostile;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cli_support::mount::{MountGuard, wait_until};
use cli_support::*;

const VAULT_PW: &str = "hostile-test vault password";
const KEY_PP: &str = "hostile-test key passphrase";
const CODE: &str = "424242";

/// A passphrase-protected ed25519 key in `dir`.
fn client_key(dir: &Path) -> String {
    let key = dir.join("id_ed25519");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", KEY_PP, "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    key.to_str().unwrap().to_string()
}

struct Setup {
    _tmp: tempfile::TempDir,
    server: hostile::Hostile,
    url: String,
    user_host: String,
    key: String,
    kh: String,
    ask: std::path::PathBuf,
    config: std::path::PathBuf,
    mnt: std::path::PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let srv = tmp.path().join("srv");
        std::fs::create_dir(&srv).unwrap();
        let server = hostile::Hostile::start(&srv, tmp.path());
        let kh = tmp.path().join("known_hosts");
        std::fs::write(&kh, &server.host_key_line).unwrap();
        let user = "traveller";
        let url = format!(
            "sftp://{user}@127.0.0.1:{}{}/vault",
            server.port,
            srv.display()
        );
        let ask = tmp.path().join("ask.sh");
        // Only the exact local prompts, and the server's code prompt as it must be shown.
        write_askpass(
            &ask,
            true,
            &[
                (
                    format!("'Vault password for {url}: '").as_str(),
                    format!("printf '%s\\n' '{VAULT_PW}'"),
                ),
                (
                    "'Passphrase for key '*': '",
                    format!("printf '%s\\n' '{KEY_PP}'"),
                ),
                (
                    "'[sftp traveller@127.0.0.1] Verification code: '",
                    format!("echo {CODE}"),
                ),
            ],
        );
        let mnt = tmp.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        Setup {
            key: client_key(tmp.path()),
            kh: kh.to_str().unwrap().to_string(),
            config: tmp.path().join("config.toml"),
            user_host: format!("{user}@127.0.0.1"),
            server,
            url,
            ask,
            mnt,
            _tmp: tmp,
        }
    }

    /// `vault ARGS STORAGE-FLAGS` with the test's askpass, config and kernel keyring.
    fn vault(&self, args: &[&str]) -> Run {
        self.vault_env(args, &[])
    }

    /// [`Setup::vault`] with extra environment variables.
    fn vault_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.extend([
            "--identity",
            &self.key,
            "--known-hosts",
            &self.kh,
            "--askpass",
            self.ask.to_str().unwrap(),
        ]);
        run_cmd(
            vault_cmd(120, &all)
                .env("VAULT_CONFIG", &self.config)
                .env("VAULT_KEYRING", "keyutils")
                .env_remove("SSH_AUTH_SOCK")
                .env_remove("VAULT_ASKPASS")
                .envs(env.iter().copied()),
        )
    }

    /// The local-secret-shaped questions the server asks once hostile.
    fn bait(&self) -> Vec<String> {
        vec![
            format!("Vault password for {}: ", self.url),
            format!("Passphrase for key {}: ", self.key),
            format!("Recovery key for {}: ", self.url),
        ]
    }
}

#[test]
fn a_hostile_sftp_server_gets_no_local_secret() {
    let s = Setup::new();
    s.vault(&["create", &s.url]).ok();
    let guard = MountGuard::new(s.mnt.clone());
    // Debug lines name every keyring lookup (not its account): the daemon's must show none.
    let log = s.mnt.parent().unwrap().join("daemon.log");
    let debug = [("VAULT_LOG", "vault=debug")];
    let r = s.vault_env(
        &[
            "mount",
            &s.url,
            s.mnt.to_str().unwrap(),
            "--remember",
            "--log-file",
            log.to_str().unwrap(),
        ],
        &debug,
    );
    assert_eq!(r.code, 0, "mount: {}", r.stderr);
    guard.wait_mounted(Duration::from_secs(30));
    std::fs::write(
        s.mnt.join("before.txt"),
        b"written before the server turned",
    )
    .unwrap();
    assert!(
        s.server.answers().iter().all(|a| a == CODE),
        "only codes so far: {:?}",
        s.server.answers()
    );

    // The server turns: every connection dropped, the reconnect asked for local secrets.
    s.server.turn(s.bait());
    let t = Instant::now();
    let listed = std::fs::read_dir(&s.mnt).and_then(|d| d.collect::<Result<Vec<_>, _>>());
    eprintln!(
        "listing after the turn: {:?} in {:?}",
        listed.as_ref().map(Vec::len),
        t.elapsed()
    );
    // A one-shot command whose passphrase and vault password are in the keyring.
    let ls = s.vault_env(&["ls", &s.url], &debug);
    assert_ne!(ls.code, 0, "the server refuses every login now");
    // The one-shot looks its own local prompts up (so the log line below exists and shows).
    assert!(ls.stderr.contains("keyring lookup"), "{}", ls.stderr);
    // Each access makes the daemon log in again: one bait question per login.
    let mark = format!("[sftp {}] ", s.user_host);
    wait_until(
        "every bait question was asked",
        Duration::from_secs(30),
        || {
            let _ = std::fs::read_dir(&s.mnt).map(|d| d.count());
            let seen = prompts_seen(&s.ask);
            s.bait()
                .iter()
                .all(|b| seen.contains(&format!("{mark}{b}")))
        },
    );

    // The daemon logged at debug level, reconnected, and never looked at the keyring.
    let daemon_log = std::fs::read_to_string(&log).unwrap();
    assert!(daemon_log.contains("DEBUG"), "{daemon_log}");
    assert!(
        !daemon_log.contains("keyring lookup"),
        "the daemon looked up the keyring: {daemon_log}"
    );

    let answers = s.server.answers();
    for secret in [VAULT_PW, KEY_PP] {
        assert!(
            !answers.iter().any(|a| a.contains(secret)),
            "the server received a local secret: {answers:?}"
        );
    }
    assert!(answers.iter().all(|a| a == CODE), "{answers:?}");
    let local = [
        format!("Vault password for {}: ", s.url),
        format!("Passphrase for key {}: ", s.key),
    ];
    let seen = prompts_seen(&s.ask);
    for p in &seen {
        assert!(
            local.contains(p) || p.starts_with(&mark),
            "a prompt neither local nor marked as the server's: {p:?} (all: {seen:?})"
        );
    }
    for bait in s.bait() {
        assert!(
            seen.contains(&format!("{mark}{bait}")),
            "the server's question shown marked: {bait:?} in {seen:?}"
        );
    }
    drop(guard);
    // Leave nothing in the kernel keyring.
    s.vault(&["forget", &s.url]).ok();
}

/// Every path below `root`, relative, directories with a trailing `/`.
fn tree(root: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                out.insert(format!("{rel}/"));
                walk(root, &p, out);
            } else {
                out.insert(rel);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

/// Resident memory of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn endless_listing_and_silent_read_fail_with_eio_within_10s() {
    let s = Setup::new();
    s.vault(&["create", &s.url]).ok();
    let vault_dir = PathBuf::from(s.url.split_once("127.0.0.1:").unwrap().1)
        .components()
        .skip(1)
        .collect::<PathBuf>();
    let vault_dir = Path::new("/").join(vault_dir);
    let local = s.mnt.parent().unwrap().join("data.bin");
    std::fs::write(&local, vec![7u8; 100_000]).unwrap();
    // The ciphertext of a folder and of a file, made before the mount (nothing cached).
    let before = tree(&vault_dir);
    s.vault(&["mkdir", &s.url, "/endless"]).ok();
    let after_mkdir = tree(&vault_dir);
    let endless = after_mkdir
        .difference(&before)
        .find(|p| p.starts_with("d/") && p.matches('/').count() == 3)
        .unwrap()
        .clone();
    s.vault(&["put", &s.url, local.to_str().unwrap(), "/silent.bin"])
        .ok();
    s.vault(&["put", &s.url, local.to_str().unwrap(), "/other.bin"])
        .ok();
    let after_put = tree(&vault_dir);
    let new_files: Vec<&String> = after_put
        .difference(&after_mkdir)
        .filter(|p| p.ends_with(".c9r"))
        .collect();
    assert_eq!(new_files.len(), 2, "{new_files:?}");

    let guard = MountGuard::new(s.mnt.clone());
    let log = s.mnt.parent().unwrap().join("daemon.log");
    let r = s.vault(&[
        "mount",
        &s.url,
        s.mnt.to_str().unwrap(),
        "--log-file",
        log.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "mount: {}", r.stderr);
    guard.wait_mounted(Duration::from_secs(30));
    let pid = cli_support::mount::daemon_pids(&s.mnt)[0];
    // Which of the two new nodes is silent.bin: the first one, by its ciphertext name.
    // (Both hold the same cleartext, so reading "the other" one must work whichever it is.)
    *s.server.shared.endless_dir.lock().unwrap() = Some(endless.clone());
    *s.server.shared.silent_file.lock().unwrap() = Some(new_files[0].clone());
    let rss_before = rss_kib(pid);

    // The endless listing, while another file reads.
    let t = Instant::now();
    let dir = s.mnt.join("endless");
    let (tx, lister) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = std::fs::read_dir(&dir).and_then(|d| d.collect::<Result<Vec<_>, _>>());
        let _ = tx.send((r.map(|v| v.len()), t.elapsed()));
    });
    std::thread::sleep(Duration::from_millis(300));
    let (silent, other) = {
        let a = std::fs::read(s.mnt.join("silent.bin"));
        let b = std::fs::read(s.mnt.join("other.bin"));
        (a, b)
    };
    let read_took = t.elapsed();
    // (bounded: without the caps an endless listing never ends)
    let (listed, list_took) = lister
        .recv_timeout(Duration::from_secs(20))
        .expect("the endless listing did not fail within 20 s");
    let rss_after = rss_kib(pid);
    eprintln!(
        "listing: {listed:?} in {list_took:?}; reads done after {read_took:?}; \
         daemon RSS {rss_before} -> {rss_after} KiB"
    );
    assert_eq!(
        listed.unwrap_err().raw_os_error(),
        Some(5),
        "EIO for the endless listing"
    );
    assert!(list_took < Duration::from_secs(10), "{list_took:?}");
    // One of the two files is the silent one: it fails with EIO, the other reads.
    let (bad, good) = match (silent, other) {
        (Err(e), Ok(d)) | (Ok(d), Err(e)) => (e, d),
        other => panic!(
            "exactly one read must fail: {other:?}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        ),
    };
    assert_eq!(bad.raw_os_error(), Some(5), "EIO for the silent read");
    assert_eq!(good, vec![7u8; 100_000]);
    assert!(read_took < Duration::from_secs(10), "{read_took:?}");
    assert!(
        rss_after < rss_before + 64 * 1024,
        "daemon RSS grew from {rss_before} to {rss_after} KiB"
    );
    // The mount stays usable.
    assert_eq!(
        std::fs::read(s.mnt.join("other.bin"))
            .unwrap_or_else(|_| std::fs::read(s.mnt.join("silent.bin")).unwrap()),
        vec![7u8; 100_000]
    );
    drop(guard);
}
