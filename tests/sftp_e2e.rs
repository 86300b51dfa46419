//! Issue 5 end to end, through the `vault` binary, against the 2FA OpenSSH sshd of
//! `vault-sftp/tests/servers/sshd-2fa.sh` (public key with passphrase + TOTP through PAM,
//! `AuthenticationMethods publickey,keyboard-interactive`, TOTP reuse allowed so the many
//! logins of this test need no wait for a fresh 30 s window).
//!
//! Every secret comes from one askpass script that matches the prompt text: the key
//! passphrase (`Passphrase for key FILE: `), the TOTP code (`[sftp USER@HOST] Verification code: `, computed
//! with `oathtool --totp`) and the vault password (`Vault password for STORAGE: `).
//!
//! - `mount_copy_diff_remount_diff_pycryptomator`: `vault create sftp://…`, `vault mount`,
//!   `cp -a` a generated mixed tree in (~200 files, a few up to 2 MiB, names > 146 bytes,
//!   Unicode names, nested dirs, symlinks), `diff -r`, unmount, mount, `diff -r`, unmount;
//!   pycryptomator reads the vault folder on the server's disk and matches the source; then
//!   `vault ls`, `get`, `put`, `check` over sftp.
//! - `login_failures_and_host_keys`: wrong TOTP code and wrong key passphrase (their own
//!   messages, exit 3); unknown host key without `--accept-new-host-key` and no terminal
//!   (exit 7, nothing recorded); a changed host key (exit 7, also with
//!   `--accept-new-host-key`).
//!
//! Servers: own `VAULT_TEST_INSTANCE` (`e<pid mod 100000><test number>`), ports from `VAULT_TEST_E2E_PORT_BASE`
//! (default 30100 + 4 × (pid mod 200) + 1000 × test number), state dir under /tmp; stopped
//! and purged by a drop guard, mounts unmounted by a drop guard. Needs root, FUSE, oathtool,
//! openssh-server, libpam-google-authenticator, /opt/vault-test-pyvenv (pycryptomator).

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::*;
use test_support::process::sh;
use test_support::pyvenv::python;
use test_support::rng::Rng;
use test_support::tree::{TreeSpec, generate_tree};
use test_support::wait::timed;

const VAULT_PW: &str = "correct horse, sftp edition";

// ---------------------------------------------------------------- servers

/// The 2FA sshd of instance `e<pid><n>` (n separates the tests of this binary, which run in
/// parallel threads), TOTP reuse allowed, `extra` environment on top.
fn sshd(n: u32, extra: &[(&str, &str)]) -> Sshd {
    let pid = std::process::id();
    let base = port_base("VAULT_TEST_E2E_PORT_BASE", 30_100 + (pid % 200) * 4) + 1000 * n;
    let mut env = vec![("VAULT_TEST_TOTP_REUSE", "allow")];
    env.extend_from_slice(extra);
    Sshd::start(
        &format!("e{}{n}", pid % 100_000),
        base,
        &format!("/tmp/vault-e2e-sshd-{pid}-{n}"),
        "2fa",
        &env,
    )
}

// ---------------------------------------------------------------- helpers

/// Runs `vault ARGS` with a time limit (never a hung test).
fn vault_t(args: &[&str]) -> Run {
    run_cmd(&mut vault_cmd(300, args))
}

fn diff(src: &Path, mnt: &Path) {
    sh(&format!(
        "diff -r --no-dereference '{}' '{}'",
        src.display(),
        mnt.display()
    ));
    // sizes and mtimes as cp -a preserved them; whole seconds (SFTP v3 setstat carries
    // 32-bit seconds only, so the server keeps no fraction)
    let listing = |root: &Path| -> Vec<String> {
        sh(&format!(
            "cd '{}' && find . -type f -printf '%p %s %T@\\n' | sort",
            root.display()
        ))
        .lines()
        .map(|l| l.rsplit_once('.').map_or(l, |(a, _)| a).to_string())
        .collect()
    };
    let (got, want) = (listing(mnt), listing(src));
    let differ: Vec<_> = got
        .iter()
        .filter(|l| !want.contains(l))
        .chain(want.iter().filter(|l| !got.contains(l)))
        .take(10)
        .collect();
    assert!(differ.is_empty(), "sizes/mtimes differ: {differ:#?}");
}

fn wait_mounted(g: &MountGuard) {
    g.wait_mounted(Duration::from_secs(30));
}

/// A folder in the test user's home on the server, owned by that user.
fn make_remote_dir(sshd: &Sshd, dir: &Path) {
    let user = sshd.var("VAULT_TEST_SSH_USER");
    sh(&format!(
        "install -d -o '{user}' -g '{user}' '{}'",
        dir.display()
    ));
}

// ---------------------------------------------------------------- tests

/// `vault create` makes a missing folder for local storage (src/cli/commands/create.rs: "the
/// folder is made if missing"); over sftp it must too. FAILS today: the sftp connect checks the
/// root before anything else and `vault create sftp://…/~/New` ends with exit 5
/// "…/New not found on USER@HOST" (bug in src/cli/storage_arg.rs `connect_sftp`, which ignores
/// `Purpose::Create`; vault-sftp has no way to ask for the root to be created).
#[test]
fn create_makes_a_missing_folder() {
    let sshd = sshd(2, &[]);
    let tmp = tempfile::tempdir().unwrap();
    let ask = sshd.askpass(tmp.path(), "ask.sh", VAULT_PW, None, None);
    let kh = sshd.known_hosts_in(tmp.path());
    let key = sshd.var("VAULT_TEST_SSH_KEY");
    let url = sshd.url("/~/New");
    let out = vault_t(&[
        "create",
        &url,
        "--identity",
        &key,
        "--known-hosts",
        kh.to_str().unwrap(),
        "--askpass",
        ask.to_str().unwrap(),
    ]);
    assert_eq!(
        out.code, 0,
        "vault create into a missing sftp folder: {}",
        out.stderr
    );
    let dir = PathBuf::from(sshd.var("VAULT_TEST_SFTP_ROOT")).join("New");
    assert!(dir.join("vault.cryptomator").is_file());
}

#[test]
fn mount_copy_diff_remount_diff_pycryptomator() {
    let sshd = sshd(0, &[]);
    let tmp = tempfile::tempdir().unwrap();
    let ask = sshd.askpass(tmp.path(), "ask.sh", VAULT_PW, None, None);
    let kh = sshd.known_hosts_in(tmp.path());
    let key = sshd.var("VAULT_TEST_SSH_KEY");
    let url = sshd.url("/~/Vault");
    let (a, k) = (ask.to_str().unwrap(), kh.to_str().unwrap());
    let common = [
        "--identity",
        key.as_str(),
        "--known-hosts",
        k,
        "--askpass",
        a,
    ];
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(common.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let run = |args: &[&str]| {
        let v = with(args);
        let r: Vec<&str> = v.iter().map(String::as_str).collect();
        vault_t(&r)
    };

    // The folder is made on the server first: `vault create` into a missing sftp folder fails
    // today (see `create_makes_a_missing_folder`).
    let root = PathBuf::from(sshd.var("VAULT_TEST_SFTP_ROOT"));
    let vault_dir = root.join("Vault");
    make_remote_dir(&sshd, &vault_dir);
    timed("vault create sftp://", || run(&["create", &url]).ok());
    assert!(
        vault_dir.join("vault.cryptomator").is_file() && vault_dir.join("d").is_dir(),
        "create wrote no vault on the server"
    );
    let prompts = prompts_seen(&ask);
    assert_eq!(
        prompts
            .iter()
            .filter(|p| p.starts_with("Passphrase for key "))
            .count(),
        1,
        "{prompts:?}"
    );
    assert!(
        prompts
            .iter()
            .any(|p| p.starts_with("[sftp ") && p.ends_with("] Verification code: ")),
        "{prompts:?}"
    );
    assert!(
        prompts
            .iter()
            .any(|p| p == &format!("Vault password for {url}: ")),
        "{prompts:?}"
    );

    // the source tree
    let src = tmp.path().join("tree");
    std::fs::create_dir(&src).unwrap();
    let seed = std::env::var("VAULT_TEST_TREE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5f7e_2e2e_u64 ^ u64::from(std::process::id()));
    eprintln!("VAULT_TEST_TREE_SEED={seed}");
    generate_tree(&src, &TreeSpec::mixed(200), &mut Rng::new(seed));

    // mount, cp -a, diff
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let m = mnt.to_str().unwrap();
    let guard = MountGuard::new(mnt.clone());
    timed(
        "vault mount (login: passphrase + TOTP + vault password)",
        // --symlinks=all: the tree's absolute and climbing links must round-trip verbatim.
        || run(&["mount", &url, m, "--symlinks=all"]).ok(),
    );
    wait_mounted(&guard);
    timed("cp -a (200 files, ~9 MiB)", || {
        sh(&format!("cp -a '{}/.' '{m}/'", src.display()))
    });
    timed("diff -r (mounted)", || diff(&src, &mnt));
    timed("vault unmount", || vault_t(&["unmount", m]).ok());
    assert!(!guard.mounted(), "still mounted after vault unmount");

    // mount again, diff
    timed("vault mount (again)", || {
        run(&["mount", &url, m, "--symlinks=all"]).ok()
    });
    wait_mounted(&guard);
    timed("diff -r (after remount)", || diff(&src, &mnt));
    vault_t(&["unmount", m]).ok();
    assert!(!guard.mounted());

    // pycryptomator reads the server's folder
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/vault-fs/tests/pycryptomator_compare.py"
    );
    let mut child = Command::new("timeout")
        .arg("300")
        .arg(python())
        .arg(script)
        .arg(&vault_dir)
        .arg(&src)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{VAULT_PW}\n").as_bytes())
        .unwrap();
    let out = timed("pycryptomator compare", || {
        child.wait_with_output().unwrap()
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "pycryptomator disagrees:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // ls / get / put / check over sftp
    let out = timed("vault ls", || run(&["ls", &url, "/"]).ok());
    // `vault ls` marks folders with a trailing `/` (and may add ` -> TARGET` to links)
    let listed = |want: &str| {
        out.lines()
            .any(|l| l == want || l == format!("{want}/") || l.starts_with(&format!("{want} ")))
    };
    let top = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect::<Vec<_>>();
    assert!(
        top.iter().any(|n| n.len() > 146),
        "tree has a long name at the top"
    );
    for n in &top {
        assert!(listed(n), "ls lacks {n}: {out}");
    }
    assert_eq!(out.lines().count(), top.len(), "ls: {out}");
    let big = sh(&format!(
        "cd '{}' && find . -type f -size +1M | head -1",
        src.display()
    ));
    let big = big.trim().trim_start_matches('.');
    assert!(!big.is_empty());
    let got = tmp.path().join("got.bin");
    timed("vault get (2 MiB)", || {
        run(&["get", &url, big, got.to_str().unwrap()]).ok()
    });
    assert_eq!(
        std::fs::read(&got).unwrap(),
        std::fs::read(src.join(big.trim_start_matches('/'))).unwrap(),
        "get returned other bytes"
    );
    let up = tmp.path().join("put-ü.bin");
    let mut data = vec![0u8; 700_000];
    Rng::new(77).fill(&mut data);
    std::fs::write(&up, &data).unwrap();
    timed("vault put (700 kB)", || {
        run(&["put", &url, up.to_str().unwrap(), "/put-ü.bin"]).ok()
    });
    let back = tmp.path().join("back.bin");
    run(&["get", &url, "/put-ü.bin", back.to_str().unwrap()]).ok();
    assert_eq!(std::fs::read(&back).unwrap(), data, "put/get round trip");
    let out = timed("vault check", || run(&["check", &url]));
    assert_eq!(out.code, 0, "check: {}\n{}", out.stdout_str(), out.stderr);
}

#[test]
fn login_failures_and_host_keys() {
    let sshd = sshd(1, &[]);
    let tmp = tempfile::tempdir().unwrap();
    let kh = sshd.known_hosts_in(tmp.path());
    let key = sshd.var("VAULT_TEST_SSH_KEY");
    let url = sshd.url("/~/Vault");
    let good = sshd.askpass(tmp.path(), "good.sh", VAULT_PW, None, None);
    // `vault CMD URL` with the key, a known_hosts file and an askpass.
    let login_as = |cmd: &str, known_hosts: &Path, ask: &Path| {
        vault_t(&[
            cmd,
            &url,
            "--identity",
            &key,
            "--known-hosts",
            known_hosts.to_str().unwrap(),
            "--askpass",
            ask.to_str().unwrap(),
        ])
    };
    make_remote_dir(
        &sshd,
        &PathBuf::from(sshd.var("VAULT_TEST_SFTP_ROOT")).join("Vault"),
    );
    login_as("create", &kh, &good).ok();

    // wrong TOTP code: a code of the year 2001 (not within the server's window)
    let secret = sshd.var("VAULT_TEST_SSH_TOTP_SECRET");
    let bad_totp = sshd.askpass(
        tmp.path(),
        "bad-totp.sh",
        VAULT_PW,
        None,
        Some(&format!(
            "oathtool --totp -b '{secret}' --now '2001-01-01 00:00:00 UTC'"
        )),
    );
    let line = timed("wrong TOTP", || login_as("ls", &kh, &bad_totp).fails(3));
    assert!(
        line.contains("refused the answer to") && line.contains("Verification code"),
        "{line}"
    );
    assert!(!line.contains("passphrase"), "{line}");

    // wrong key passphrase: never reaches the TOTP prompt
    let bad_pp = sshd.askpass(
        tmp.path(),
        "bad-pp.sh",
        VAULT_PW,
        Some("printf '%s\\n' 'not the passphrase'"),
        None,
    );
    let line = timed("wrong passphrase", || login_as("ls", &kh, &bad_pp).fails(3));
    assert!(line.contains("wrong passphrase for key"), "{line}");
    assert!(
        !prompts_seen(&bad_pp)
            .iter()
            .any(|p| p.starts_with("[sftp ") && p.ends_with("] Verification code: ")),
        "TOTP asked after a wrong passphrase: {:?}",
        prompts_seen(&bad_pp)
    );
    assert_ne!(
        line,
        login_as("ls", &kh, &bad_totp).fails(3),
        "the two failures must be told apart"
    );

    // unknown host key, no terminal, no --accept-new-host-key: refused, nothing recorded
    let empty = tmp.path().join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let line = login_as("ls", &empty, &good).fails(7);
    assert!(line.contains("is not known and was not accepted"), "{line}");
    assert!(line.contains("SHA256:"), "{line}");
    assert!(std::fs::read_to_string(&empty).unwrap().is_empty());

    // a changed host key: known_hosts records another key for this host:port
    let other = tmp.path().join("other_host_key");
    sh(&format!(
        "ssh-keygen -q -t ed25519 -N '' -f '{}'",
        other.display()
    ));
    let pubkey = std::fs::read_to_string(tmp.path().join("other_host_key.pub")).unwrap();
    let pubkey: Vec<&str> = pubkey.split_whitespace().take(2).collect();
    let changed = tmp.path().join("changed_known_hosts");
    std::fs::write(
        &changed,
        format!(
            "[{}]:{} {} {}\n",
            sshd.var("VAULT_TEST_SSH_HOST"),
            sshd.var("VAULT_TEST_SSH_PORT"),
            pubkey[0],
            pubkey[1]
        ),
    )
    .unwrap();
    for extra in [None, Some("--accept-new-host-key")] {
        let mut args = vec![
            "ls",
            &url,
            "--identity",
            &key,
            "--known-hosts",
            changed.to_str().unwrap(),
            "--askpass",
            good.to_str().unwrap(),
        ];
        args.extend(extra);
        let line = vault_t(&args).fails(7);
        assert!(line.contains("HOST KEY CHANGED"), "{extra:?}: {line}");
    }
    assert!(
        !prompts_seen(&good)
            .iter()
            .skip(3)
            .any(|p| p.starts_with("Passphrase")),
        "secrets asked before the host key was checked: {:?}",
        prompts_seen(&good)
    );

    // and the right answers still work
    let out = login_as("ls", &kh, &good);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

// ---------------------------------------------------------------- hotel network

/// hotel-net.sh namespaces of one instance; `down` when dropped.
struct HotelNet {
    script: ServerScript,
    hotel_ns: String,
}

impl HotelNet {
    fn ok(&self, args: &[&str]) {
        self.script.ok(args);
    }
}

impl Drop for HotelNet {
    fn drop(&mut self) {
        let _ = self.script.run(&["down"]);
        if let Some((_, dir)) = self
            .script
            .env
            .iter()
            .find(|(k, _)| k == "VAULT_TEST_STATE_DIR")
        {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A hotel-network test's start: the namespaces of instance `PREFIX<pid>` (state in
/// `/tmp/STATE-<pid>`), the 2FA sshd `n` in the cloud one, a new vault in its `~/Vault`
/// created from the hotel one and mounted at `mnt`. The fields drop in this order (as the
/// test's own variables did): the mount guard first, then the client's folder, the server and
/// the namespaces.
struct HotelVault {
    guard: MountGuard,
    m: String,
    mnt: PathBuf,
    url: String,
    login: HotelLogin,
    tmp: tempfile::TempDir,
    /// Held for its drop (the server stopped before the namespaces go).
    _sshd: Sshd,
    net: HotelNet,
}

/// The hotel namespace and the login options of a [`HotelVault`].
struct HotelLogin {
    ns: String,
    ask: PathBuf,
    kh: PathBuf,
    key: String,
}

impl HotelLogin {
    /// `vault ARGS --identity … --known-hosts … --askpass …` in the hotel namespace.
    fn run(&self, args: &[&str]) -> Run {
        let mut v: Vec<&str> = args.to_vec();
        v.extend_from_slice(&[
            "--identity",
            self.key.as_str(),
            "--known-hosts",
            self.kh.to_str().unwrap(),
            "--askpass",
            self.ask.to_str().unwrap(),
        ]);
        vault_hotel(&self.ns, &v)
    }
}

impl HotelVault {
    fn mounted(prefix: &str, state: &str, n: u32) -> HotelVault {
        let inst = format!("{prefix}{}", std::process::id() % 100_000);
        let state = format!("/tmp/{state}-{}", std::process::id());
        let net = HotelNet {
            script: ServerScript::new(
                "hotel-net.sh",
                &[
                    ("VAULT_TEST_INSTANCE", inst.as_str()),
                    ("VAULT_TEST_STATE_DIR", state.as_str()),
                ],
            ),
            hotel_ns: format!("vt-hotel-{inst}"),
        };
        net.ok(&["up", "0", "0", "0"]);
        let cloud = format!("vt-cloud-{inst}");
        let sshd = sshd(n, &[("VAULT_TEST_NETNS", cloud.as_str())]);
        let ns = net.hotel_ns.clone();
        let tmp = tempfile::tempdir().unwrap();
        let ask = sshd.askpass(tmp.path(), "ask.sh", VAULT_PW, None, None);
        let kh = sshd.known_hosts_in(tmp.path());
        let key = sshd.var("VAULT_TEST_SSH_KEY");
        let url = sshd.url("/~/Vault");
        make_remote_dir(
            &sshd,
            &PathBuf::from(sshd.var("VAULT_TEST_SFTP_ROOT")).join("Vault"),
        );
        let login = HotelLogin { ns, ask, kh, key };
        login.run(&["create", &url]).ok();
        let mnt = tmp.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let m = mnt.to_str().unwrap().to_string();
        let guard = MountGuard::new(mnt.clone());
        login.run(&["mount", &url, &m]).ok();
        wait_mounted(&guard);
        HotelVault {
            guard,
            m,
            mnt,
            url,
            login,
            tmp,
            _sshd: sshd,
            net,
        }
    }
}

/// Runs `vault ARGS` inside the hotel netns (nsenter --net: FUSE mounts stay visible).
fn vault_hotel(ns: &str, args: &[&str]) -> Run {
    let netns = format!("--net=/run/netns/{ns}");
    let mut full = vec!["600", "nsenter", netns.as_str(), "--", bin()];
    full.extend_from_slice(args);
    run_cmd(
        Command::new("timeout")
            .args(&full)
            .env_remove("VAULT_ASKPASS")
            .env_remove("VAULT_LOG")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null()),
    )
}

fn timed_listing(dir: &Path) -> Duration {
    let t = Instant::now();
    let n = sh(&format!("ls -f '{}' | wc -l", dir.display()));
    let took = t.elapsed();
    assert!(n.trim().parse::<usize>().unwrap() >= 1000, "listed {n}");
    took
}

/// Runs the shell `copy` in a thread and, 2 s into it, lists `dir`: (copy time, listing time).
fn copy_while_listing(copy: String, dir: &Path) -> (Duration, Duration) {
    let copying = std::thread::spawn(move || {
        let t = Instant::now();
        sh(&copy);
        t.elapsed()
    });
    std::thread::sleep(Duration::from_secs(2));
    let listing = timed_listing(dir);
    (copying.join().unwrap(), listing)
}

/// Issue 5 acceptance 3, CI-sized: 80 ms ± 20 ms, 1 % loss. Mount inside the hotel netns;
/// copy 2 MiB in and out while listing a 1,000-entry folder (times printed); cut the link for
/// 20 s in the middle of a 2 MiB copy and restore it: the copy completes or fails cleanly,
/// nothing earlier is lost or corrupted, `vault check` passes. ~2-3 min; skipped with
/// VAULT_SFTP_E2E_SKIP_HOTEL=1.
#[test]
fn hotel_network_copy_list_and_cut() {
    if std::env::var_os("VAULT_SFTP_E2E_SKIP_HOTEL").is_some() {
        eprintln!("VAULT_SFTP_E2E_SKIP_HOTEL set: skipped");
        return;
    }
    let h = HotelVault::mounted("h", "vault-e2e-hotel", 3);
    let (net, ns, tmp, ask, url) = (&h.net, &h.login.ns, &h.tmp, &h.login.ask, &h.url);
    let (mnt, m, guard) = (&h.mnt, &h.m, &h.guard);
    let run = |args: &[&str]| h.login.run(args);
    // 1,000 entries made before the link is impaired
    timed("1,000 entries (no delay)", || {
        sh(&format!(
            "mkdir '{m}/list1000' && cd '{m}/list1000' && for i in $(seq 1 1000); do : > entry-$i; done"
        ))
    });
    let mut data = vec![0u8; 2 << 20];
    Rng::new(4242).fill(&mut data);
    let src = tmp.path().join("two.bin");
    std::fs::write(&src, &data).unwrap();
    net.ok(&["impair", "80", "1", "20"]);

    // copy in, then out, each while listing
    let out = tmp.path().join("out.bin");
    let (t_in, l1) = copy_while_listing(
        format!("cp '{}' '{m}/in.bin' && sync '{m}/in.bin'", src.display()),
        &mnt.join("list1000"),
    );
    eprintln!(
        "[sftp_e2e] hotel: copy 2 MiB in {t_in:.2?}; listing 1,000 entries during it {l1:.2?}"
    );
    let (t_out, l2) = copy_while_listing(
        format!(
            "echo 3 > /proc/sys/vm/drop_caches; cp '{m}/in.bin' '{}'",
            out.display()
        ),
        &mnt.join("list1000"),
    );
    eprintln!(
        "[sftp_e2e] hotel: copy 2 MiB out {t_out:.2?}; listing 1,000 entries during it {l2:.2?}"
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        data,
        "copied out != copied in"
    );

    // a 20 s cut in the middle of a copy
    let mut data2 = vec![0u8; 2 << 20];
    Rng::new(777).fill(&mut data2);
    let src2 = tmp.path().join("cut.bin");
    std::fs::write(&src2, &data2).unwrap();
    let (s3, m4) = (src2.clone(), m.clone());
    let cut_copy = std::thread::spawn(move || {
        let t = Instant::now();
        let out = Command::new("timeout")
            .args(["400", "bash", "-c"])
            .arg(format!(
                "cp '{}' '{m4}/cut.bin' && sync '{m4}/cut.bin'",
                s3.display()
            ))
            .output()
            .unwrap();
        (out, t.elapsed())
    });
    std::thread::sleep(Duration::from_secs(4));
    net.ok(&["cut", "down"]);
    std::thread::sleep(Duration::from_secs(20));
    net.ok(&["restore"]);
    let (out, took) = cut_copy.join().unwrap();
    eprintln!(
        "[sftp_e2e] hotel: copy with a 20 s cut: {:?} after {took:.2?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    assert_ne!(out.status.code(), Some(124), "copy hung past 400 s");
    net.ok(&["impair", "0", "0", "0"]);
    if out.status.success() {
        assert_eq!(
            std::fs::read(mnt.join("cut.bin")).unwrap(),
            data2,
            "cut.bin corrupted"
        );
    } else {
        eprintln!("[sftp_e2e] hotel: the copy failed cleanly (writer told)");
    }
    assert_eq!(
        std::fs::read(mnt.join("in.bin")).unwrap(),
        data,
        "in.bin lost or corrupted"
    );
    vault_hotel(ns, &["unmount", m]).ok();
    // after a fresh mount: what the server holds
    run(&["mount", url, m]).ok();
    wait_mounted(guard);
    assert_eq!(
        std::fs::read(mnt.join("in.bin")).unwrap(),
        data,
        "in.bin after remount"
    );
    match std::fs::read(mnt.join("cut.bin")) {
        Ok(got) => assert!(
            got == data2 || !out.status.success(),
            "cut.bin differs although cp succeeded"
        ),
        Err(e) => assert!(
            !out.status.success(),
            "cut.bin lost after a successful copy: {e}"
        ),
    }
    assert_eq!(
        sh(&format!("ls -f '{m}/list1000' | grep -c entry-")).trim(),
        "1000"
    );
    vault_hotel(ns, &["unmount", m]).ok();
    let chk = timed("vault check (after the cut)", || run(&["check", url]));
    assert_eq!(chk.code, 0, "check: {}\n{}", chk.stdout_str(), chk.stderr);
    // create, mount, mount again, check: one code each; a fifth only if the cut cost the session
    eprintln!(
        "[sftp_e2e] hotel: TOTP codes asked: {} (4 without a reconnect)",
        prompts_seen(ask)
            .iter()
            .filter(|p| p.starts_with("Verification"))
            .count()
    );
}

/// Issue 14 acceptance 3: at 80 ms ± 20 ms (no loss, as `benches/sftp`), 300 files of 4 KiB
/// written through the mount by eight writers into one new folder in under 90 s (sshfs: 83 s),
/// eight writers at least 5x one writer's rate (40 files into another new folder), and
/// `vault check` of the vault in under 60 s. Each writer is a shell doing `cat SRC > F` (open
/// with O_CREAT|O_TRUNC, as most programs create files). ~2-3 min; skipped with
/// VAULT_SFTP_E2E_SKIP_HOTEL=1.
#[test]
fn hotel_network_eight_writers_create_300_small_files() {
    if std::env::var_os("VAULT_SFTP_E2E_SKIP_HOTEL").is_some() {
        eprintln!("VAULT_SFTP_E2E_SKIP_HOTEL set: skipped");
        return;
    }
    const FILES: usize = 300;
    const ONE_WRITER_FILES: usize = 40;
    let h = HotelVault::mounted("w", "vault-e2e-writers", 4);
    let (net, ns, tmp, url) = (&h.net, &h.login.ns, &h.tmp, &h.url);
    let (mnt, m, guard) = (&h.mnt, &h.m, &h.guard);
    let run = |args: &[&str]| h.login.run(args);
    let mut data = vec![0u8; 4096];
    Rng::new(1414).fill(&mut data);
    let src = tmp.path().join("four.bin");
    std::fs::write(&src, &data).unwrap();
    let src = src.display();
    net.ok(&["impair", "80", "0", "20"]);

    let one = timed("one writer, 40 files", || {
        let t = Instant::now();
        sh(&format!(
            "mkdir '{m}/one' && for i in $(seq 0 {}); do cat '{src}' > '{m}/one/f'$i; done",
            ONE_WRITER_FILES - 1
        ));
        t.elapsed()
    });
    let eight = timed("eight writers, 300 files", || {
        let t = Instant::now();
        sh(&format!(
            "mkdir '{m}/eight' && for w in 0 1 2 3 4 5 6 7; do \
             (for i in $(seq $w 8 {}); do cat '{src}' > '{m}/eight/f'$i || exit 1; done) & \
             done; fail=0; for j in $(jobs -p); do wait $j || fail=1; done; exit $fail",
            FILES - 1
        ));
        t.elapsed()
    });
    let rate1 = ONE_WRITER_FILES as f64 / one.as_secs_f64();
    let rate8 = FILES as f64 / eight.as_secs_f64();
    eprintln!(
        "[sftp_e2e] hotel writers: 8 writers x {FILES} files of 4 KiB in {eight:.2?} \
         ({rate8:.1} files/s); 1 writer {rate1:.2} files/s; ratio {:.1}",
        rate8 / rate1
    );
    let listed = sh(&format!("ls -f '{m}/eight' | grep -c '^f'"));
    assert_eq!(listed.trim(), FILES.to_string(), "files listed");
    vault_hotel(ns, &["unmount", m]).ok();
    net.ok(&["impair", "0", "0", "0"]);
    // What the server holds, after a fresh mount.
    run(&["mount", url, m]).ok();
    wait_mounted(guard);
    for i in [0, 7, 150, 299] {
        assert_eq!(
            std::fs::read(mnt.join(format!("eight/f{i}"))).unwrap(),
            data,
            "f{i}"
        );
    }
    vault_hotel(ns, &["unmount", m]).ok();
    net.ok(&["impair", "80", "0", "20"]);
    let t = Instant::now();
    let chk = run(&["check", url]);
    let check = t.elapsed();
    eprintln!("[sftp_e2e] hotel writers: vault check of the 342-file vault at 80 ms: {check:.2?}");
    assert_eq!(chk.code, 0, "check: {}\n{}", chk.stdout_str(), chk.stderr);
    assert!(
        eight < Duration::from_secs(90),
        "eight writers: {eight:.2?}"
    );
    assert!(
        rate8 >= 5.0 * rate1,
        "8 writers {rate8:.2}/s vs 1 writer {rate1:.2}/s"
    );
    assert!(check < Duration::from_secs(60), "vault check: {check:.2?}");
}
