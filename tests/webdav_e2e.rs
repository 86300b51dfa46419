//! Issue 6 end-to-end acceptance through the `vault` CLI over WebDAV, against real servers
//! started from `tests/servers/webdav.sh` (Apache mod_dav and `rclone serve webdav` on loopback):
//!
//! - `mount_*`: `vault create` + `vault mount` over `dav://`, `cp -a` of a mixed tree (~200 files,
//!   a few up to 2 MiB, >146-byte and Unicode names, nested dirs, symlinks), `diff -r`, unmount,
//!   mount again, `diff -r`; then pycryptomator reads the vault from the server's folder on disk.
//! - `conflicts_*`: Nextcloud-client sync-conflict copies made in the server's folder on disk
//!   (a file node; a folder node with an identical `dir.c9r`; a folder node with another dir ID
//!   whose content dir exists): `ls`/`cat`/`check` write nothing and present the docs/vault-format.md §10 names,
//!   `check --repair` resolves them on storage to the same names, pycryptomator agrees.
//! - `outage_*`: the server killed during a 32 MiB `vault put`: clear failure, the old version
//!   stays readable and its object unchanged, the next put succeeds.
//! - `create_makes_a_missing_webdav_folder`: cli.md/create.rs say the folder is made if missing.
//!
//! Needs root, /dev/fuse + fusermount3, the packages of `tests/servers/install-webdav.sh` and
//! pycryptomator in /opt/vault-test-pyvenv (or `VAULT_TEST_PYTHON`). Ports: base
//! `VAULT_TEST_E2E_PORT_BASE` (default 29700) + 3..6 for the shared servers and + 13..16, + 23..26
//! for the outage tests (each kills its own server); instances `e2e`, `e2eo`, `e2ep`
//! (prefix `VAULT_TEST_E2E_INSTANCE`, default `e2e`). Servers stop in drop guards and, whatever
//! happens, by a detached watchdog when the test process exits.

mod cli_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cli_support::{
    MountGuard, Run, bin, daemon_running, is_mounted, sha256, tree_state, wait_until, write_askpass,
};
use test_support::process::sh;
use test_support::pyvenv::python;
use test_support::rng::Rng;
use test_support::tree::{TreeSpec, generate_tree};
use test_support::wait::timed;

const DAV_USER: &str = "vault-user";
const DAV_PASS: &str = "vault-pass";
const VAULT_PASS: &str = "correct horse e2e ü";
const CONFLICT: &str = " (conflicted copy 2026-11-25 101010)";

// ---------------------------------------------------------------- servers

fn port_base() -> u16 {
    test_support::ports::port_base("VAULT_TEST_E2E_PORT_BASE", 29700)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Srv {
    Apache,
    Rclone,
}

impl Srv {
    fn name(self) -> &'static str {
        match self {
            Srv::Apache => "apache",
            Srv::Rclone => "rclone",
        }
    }
}

/// One instance of `webdav.sh` (its own state dir and ports).
struct Servers {
    instance: String,
    base: u16,
    env: BTreeMap<String, String>,
    which: Vec<Srv>,
}

impl Servers {
    fn script(instance: &str, base: u16, args: &[&str]) -> std::process::Output {
        test_support::webdav::webdav_sh(instance, base)
            .args(args)
            .output()
            .expect("run tests/servers/webdav.sh")
    }

    fn start(suffix: &str, offset: u16, which: &[Srv]) -> Servers {
        let prefix = std::env::var("VAULT_TEST_E2E_INSTANCE").unwrap_or_else(|_| "e2e".into());
        let instance = format!("{prefix}{suffix}");
        let base = port_base() + offset;
        for s in which {
            let out = Self::script(&instance, base, &["start", s.name()]);
            assert!(
                out.status.success(),
                "starting {} failed (run tests/servers/install-webdav.sh as root):\n{}{}",
                s.name(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // Stop them when this test process exits, however it exits.
        test_support::webdav::stop_all_after_exit(&instance, base, None);
        let out = Self::script(&instance, base, &["env"]);
        let env = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Servers {
            instance,
            base,
            env,
            which: which.to_vec(),
        }
    }

    fn var(&self, k: &str) -> String {
        self.env
            .get(k)
            .cloned()
            .unwrap_or_else(|| panic!("webdav.sh env lacks {k}"))
    }

    fn port(&self, s: Srv) -> u16 {
        match s {
            Srv::Apache => self.base + 3,
            Srv::Rclone => self.base + 5,
        }
    }

    /// The server's data folder on disk.
    fn root(&self, s: Srv) -> PathBuf {
        PathBuf::from(self.var(match s {
            Srv::Apache => "VAULT_TEST_WEBDAV_APACHE_ROOT",
            Srv::Rclone => "VAULT_TEST_WEBDAV_RCLONE_ROOT",
        }))
    }

    /// `dav://USER@127.0.0.1:PORT/sub` (the folder is made first, see `mkcol`).
    fn url(&self, s: Srv, sub: &str) -> String {
        format!("dav://{DAV_USER}@127.0.0.1:{}/{sub}", self.port(s))
    }

    /// MKCOL of a folder (the vault into an existing empty folder; a missing one made by
    /// `vault create` itself is `create_makes_a_missing_webdav_folder`).
    fn mkcol(&self, s: Srv, sub: &str) {
        assert!(
            !self.root(s).join(sub).exists(),
            "{sub} exists already on {s:?}"
        );
        let out = Command::new("curl")
            .args([
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-X",
                "MKCOL",
                "-u",
            ])
            .arg(format!("{DAV_USER}:{DAV_PASS}"))
            .arg(format!("http://127.0.0.1:{}/{sub}/", self.port(s)))
            .output()
            .expect("curl");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "201",
            "MKCOL {sub} on {s:?}"
        );
    }

    fn pid(&self, s: Srv) -> Option<u32> {
        let file = match s {
            Srv::Apache => "httpd.pid",
            Srv::Rclone => "rclone.pid",
        };
        let dir = self.root(s).parent()?.to_path_buf();
        std::fs::read_to_string(dir.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn start_one(&self, s: Srv) {
        let out = Self::script(&self.instance, self.base, &["start", s.name()]);
        assert!(
            out.status.success(),
            "restart {s:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn stop_all(&self) {
        for s in &self.which {
            let _ = Self::script(&self.instance, self.base, &["stop", s.name()]);
        }
    }
}

/// Servers owned by one test: stopped when it ends (also on panic).
struct OwnedServers(Servers);

impl Drop for OwnedServers {
    fn drop(&mut self) {
        self.0.stop_all();
    }
}

static SHARED: OnceLock<Servers> = OnceLock::new();

/// Apache + rclone shared by the mount and conflict tests (stopped by the watchdog).
fn shared() -> &'static Servers {
    SHARED.get_or_init(|| Servers::start("", 0, &[Srv::Apache, Srv::Rclone]))
}

// ---------------------------------------------------------------- CLI

/// A temp folder with the askpass program (server password for `Password for USER@HOST: `,
/// the vault password for everything else).
struct Work {
    tmp: tempfile::TempDir,
    askpass: PathBuf,
}

impl Work {
    fn new() -> Work {
        let tmp = tempfile::tempdir().expect("tempdir");
        let askpass = tmp.path().join("askpass.sh");
        let server_prompt = format!("\"Password for {DAV_USER}@\"*");
        write_askpass(
            &askpass,
            false,
            &[
                (
                    server_prompt.as_str(),
                    format!("printf '%s\\n' '{DAV_PASS}'"),
                ),
                (
                    "\"Vault password for \"*",
                    format!("printf '%s\\n' '{VAULT_PASS}'"),
                ),
            ],
        );
        Work { tmp, askpass }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args);
        if !matches!(args.first(), Some(&("unmount" | "status"))) {
            c.arg("--askpass").arg(&self.askpass);
        }
        c.env_remove("VAULT_ASKPASS")
            .env_remove("VAULT_LOG")
            .current_dir(self.tmp.path())
            .stdin(Stdio::null());
        c
    }

    /// `vault ARGS --askpass …`, bounded to `limit`.
    fn vault_t(&self, args: &[&str], limit: Duration) -> Run {
        let mut child = self
            .cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run vault");
        let mut out = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        let t_out = std::thread::spawn(move || {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut out, &mut v).ok();
            v
        });
        let t_err = std::thread::spawn(move || {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut err, &mut v).ok();
            v
        });
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!("vault {args:?} did not finish within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Run {
            code: status.code().unwrap_or(-1),
            stdout: t_out.join().expect("stdout thread"),
            stderr: String::from_utf8_lossy(&t_err.join().expect("stderr thread")).into_owned(),
        }
    }

    fn vault(&self, args: &[&str]) -> Run {
        self.vault_t(args, Duration::from_secs(180))
    }
}

/// Prints how long a whole test took (also when it fails).
struct TestTimer(&'static str, Instant);

impl TestTimer {
    fn new(name: &'static str) -> TestTimer {
        TestTimer(name, Instant::now())
    }
}

impl Drop for TestTimer {
    fn drop(&mut self) {
        eprintln!("TEST {} took {:.1?}", self.0, self.1.elapsed());
    }
}

/// Runs tests/webdav_e2e/pyc.py and returns its JSON.
fn pyc(mode: &str, vault_dir: &Path, paths: &[&str]) -> serde_json::Value {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out.json");
    let mut child = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/webdav_e2e/pyc.py"))
        .arg(mode)
        .arg(vault_dir)
        .arg(&out)
        .args(paths)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{VAULT_PASS}\n").as_bytes())
        .expect("password");
    let res = child.wait_with_output().expect("python");
    assert!(
        res.status.success(),
        "pycryptomator {mode} failed:\n{}{}",
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
    serde_json::from_slice(&std::fs::read(&out).expect("out.json")).expect("json")
}

/// A local tree in pyc.py's `tree` form.
fn local_tree(root: &Path) -> BTreeMap<String, serde_json::Value> {
    tree_state(root)
        .into_iter()
        .map(|(rel, v)| {
            let j = if v == "d" {
                serde_json::json!(["D"])
            } else if let Some(t) = v.strip_prefix("l ") {
                serde_json::json!(["L", t])
            } else {
                serde_json::json!(["F", v.strip_prefix("f ").expect("file")])
            };
            (format!("/{rel}"), j)
        })
        .collect()
}

fn as_map(v: serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    v.as_object().expect("object").clone().into_iter().collect()
}

// ---------------------------------------------------------------- tree

// ---------------------------------------------------------------- 1. mount

/// A folder name unique to this run (the servers' data folders outlive a run).
fn unique(sub: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{sub}-{}-{t}", std::process::id())
}

fn mount_round_trip(srv: Srv, sub: &str) {
    let sub = &unique(sub);
    let servers = shared();
    let w = Work::new();
    servers.mkcol(srv, sub);
    let url = servers.url(srv, sub);
    timed("vault create", || w.vault(&["create", &url]).ok());

    let src = w.path("src");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    eprintln!("tree seed {seed}");
    generate_tree(&src, &TreeSpec::mixed(200), &mut Rng::new(seed));
    let mnt = w.path("mnt");
    std::fs::create_dir(&mnt).expect("mnt");
    let _guard = MountGuard::lazy(mnt.clone());
    let (s, m) = (src.to_str().expect("utf-8"), mnt.to_str().expect("utf-8"));

    // --symlinks=all: the tree's absolute and climbing links must round-trip verbatim.
    timed("vault mount", || {
        w.vault(&["mount", &url, m, "--symlinks=all"]).ok()
    });
    assert!(
        is_mounted(&mnt),
        "vault mount returned 0 but {m} is not mounted"
    );
    timed("cp -a", || sh(&format!("cp -a '{s}/.' '{m}/'")));
    timed("diff -r (mounted)", || {
        sh(&format!("diff -r --no-dereference '{s}' '{m}'"))
    });
    timed("vault unmount", || w.vault(&["unmount", m]).ok());
    assert!(!is_mounted(&mnt));
    wait_until("the mount daemon to exit", Duration::from_secs(20), || {
        !daemon_running(&mnt)
    });

    timed("vault mount (again)", || {
        w.vault(&["mount", &url, m, "--symlinks=all"]).ok()
    });
    timed("diff -r (after remount)", || {
        sh(&format!("diff -r --no-dereference '{s}' '{m}'"))
    });
    timed("vault unmount", || w.vault(&["unmount", m]).ok());
    wait_until("the mount daemon to exit", Duration::from_secs(20), || {
        !daemon_running(&mnt)
    });

    // An independent implementation reads the server's folder on disk.
    let theirs = timed("pycryptomator", || {
        as_map(pyc("tree", &servers.root(srv).join(sub), &[]))
    });
    let ours = local_tree(&src);
    assert!(ours.len() > 200, "the tree has {} nodes", ours.len());
    let diff: Vec<_> = ours
        .keys()
        .chain(theirs.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| ours.get(*k) != theirs.get(*k))
        .take(10)
        .map(|k| format!("{k}: source {:?} vault {:?}", ours.get(k), theirs.get(k)))
        .collect();
    assert!(
        diff.is_empty(),
        "pycryptomator reads the vault differently:\n{}",
        diff.join("\n")
    );
}

#[test]
fn mount_cp_diff_remount_diff_pycryptomator_rclone() {
    let _t = TestTimer::new("mount_cp_diff_remount_diff_pycryptomator_rclone");
    mount_round_trip(Srv::Rclone, "mount-rclone");
}

#[test]
fn mount_cp_diff_remount_diff_pycryptomator_apache() {
    let _t = TestTimer::new("mount_cp_diff_remount_diff_pycryptomator_apache");
    mount_round_trip(Srv::Apache, "mount-apache");
}

// ---------------------------------------------------------------- 2. conflicts

fn put_bytes(w: &Work, url: &str, path: &str, data: &[u8]) {
    let f = w.path("put.tmp");
    std::fs::write(&f, data).expect("write");
    w.vault(&["put", url, f.to_str().expect("utf-8"), path])
        .ok();
}

fn ls(w: &Work, url: &str, path: &str) -> Vec<String> {
    let mut v: Vec<String> = w
        .vault(&["ls", url, path])
        .ok()
        .lines()
        .map(String::from)
        .collect();
    v.sort();
    v
}

/// `NAME.c9r` → `NAME (conflicted copy …).c9r`, as the Nextcloud client names it.
fn conflict_name(node: &Path) -> PathBuf {
    let name = node.file_name().expect("name").to_str().expect("utf-8");
    let base = name.strip_suffix(".c9r").expect("a .c9r node");
    node.with_file_name(format!("{base}{CONFLICT}.c9r"))
}

fn conflicts(srv: Srv, sub: &str) {
    let sub = &unique(sub);
    let servers = shared();
    let w = Work::new();
    servers.mkcol(srv, sub);
    let url = servers.url(srv, sub);
    let disk = servers.root(srv).join(sub);
    w.vault(&["create", &url]).ok();
    let (a, b) = (
        b"version A, the original\n".to_vec(),
        b"version B, the other device\n".to_vec(),
    );
    put_bytes(&w, &url, "/report.txt", &a);
    put_bytes(&w, &url, "/scratch.txt", &b);
    for d in ["photos", "docs", "other"] {
        w.vault(&["mkdir", &url, &format!("/{d}")]).ok();
    }
    put_bytes(&w, &url, "/photos/p1.jpg", b"p1");
    put_bytes(&w, &url, "/docs/d1.txt", b"d1");
    put_bytes(&w, &url, "/other/o1.txt", b"o1");
    put_bytes(&w, &url, "/other/o2.txt", b"o2");

    // Where the nodes are on disk (pycryptomator computes it independently).
    let real = pyc(
        "paths",
        &disk,
        &["/report.txt", "/scratch.txt", "/photos", "/docs", "/other"],
    );
    let node = |p: &str| PathBuf::from(real[p]["node"].as_str().expect("node"));
    // The Nextcloud client's copies, made in the server's folder:
    // a file node with other content (scratch's ciphertext under report's conflict name) ...
    std::fs::rename(node("/scratch.txt"), conflict_name(&node("/report.txt"))).expect("file copy");
    // ... a folder node whose dir.c9r is identical (a duplicate) ...
    sh(&format!(
        "cp -a '{}' '{}'",
        node("/photos").display(),
        conflict_name(&node("/photos")).display()
    ));
    // ... and a folder node with another dir ID whose content dir exists.
    std::fs::rename(node("/other"), conflict_name(&node("/docs"))).expect("dir copy");
    if srv == Srv::Apache {
        sh(&format!("chown -R www-data:www-data '{}'", disk.display()));
    }
    // rclone caches folder listings for 1 s (webdav.sh --dir-cache-time 1s).
    std::thread::sleep(Duration::from_millis(1500));

    let file_copy = format!("report{CONFLICT}.txt");
    let dir_copy = format!("docs{CONFLICT}");
    let want_root: Vec<String> = {
        let mut v = vec![
            "docs/".to_owned(),
            format!("{dir_copy}/"),
            "photos/".into(),
            file_copy.clone(),
            "report.txt".into(),
        ];
        v.sort();
        v
    };

    // Read-only use: the docs/vault-format.md §10 names, nothing written.
    let before = tree_state(&disk);
    assert_eq!(
        ls(&w, &url, "/"),
        want_root,
        "vault ls presents the conflict copies"
    );
    assert_eq!(
        ls(&w, &url, &format!("/{dir_copy}")),
        vec!["o1.txt", "o2.txt"]
    );
    assert_eq!(ls(&w, &url, "/photos"), vec!["p1.jpg"]);
    assert_eq!(
        w.vault(&["cat", &url, &format!("/{file_copy}")]).stdout,
        b,
        "cat of the presented copy"
    );
    assert_eq!(w.vault(&["cat", &url, "/report.txt"]).stdout, a);
    assert_eq!(
        w.vault(&["cat", &url, &format!("/{dir_copy}/o2.txt")])
            .stdout,
        b"o2"
    );
    let check = w.vault(&["check", &url]);
    assert_eq!(
        check.code,
        6,
        "check finds the copies: {}\n{}",
        check.stdout_str(),
        check.stderr
    );
    let report = check.stdout_str();
    eprintln!("vault check:\n{report}{}", check.stderr);
    let problems: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("problem: "))
        .collect();
    assert_eq!(problems.len(), 3, "three conflict copies: {report}");
    assert!(
        problems.iter().all(|l| l.contains("sync-conflict copy")),
        "{report}"
    );
    let has = |lines: &[&str], start: String, end: &str| {
        lines
            .iter()
            .any(|l| l.starts_with(&start) && l.ends_with(end))
    };
    assert!(
        has(
            &problems,
            "problem: /photos (".into(),
            "identical duplicate: hidden"
        ),
        "{report}"
    );
    assert!(
        has(
            &problems,
            format!("problem: /{file_copy} ("),
            "shown under a new name"
        ),
        "{report}"
    );
    assert!(
        has(
            &problems,
            format!("problem: /{dir_copy} ("),
            "shown under a new name"
        ),
        "{report}"
    );
    assert_eq!(
        tree_state(&disk),
        before,
        "ls/cat/check wrote to the server"
    );

    // check --repair resolves on storage to the same names.
    let repair = w.vault(&["check", "--repair", &url]);
    eprintln!(
        "vault check --repair:\n{}{}",
        repair.stdout_str(),
        repair.stderr
    );
    assert_eq!(repair.code, 0, "{}\n{}", repair.stdout_str(), repair.stderr);
    let repaired = repair.stdout_str();
    let repaired: Vec<&str> = repaired
        .lines()
        .filter(|l| l.starts_with("repaired: "))
        .collect();
    assert_eq!(repaired.len(), 3, "{repaired:?}");
    assert!(
        has(
            &repaired,
            "repaired: /photos (".into(),
            "identical duplicate: deleted"
        ),
        "{repaired:?}"
    );
    assert!(
        has(
            &repaired,
            format!("repaired: /{file_copy} ("),
            "renamed to a new name"
        ),
        "{repaired:?}"
    );
    assert!(
        has(
            &repaired,
            format!("repaired: /{dir_copy} ("),
            "renamed to a new name"
        ),
        "{repaired:?}"
    );
    assert!(
        !conflict_name(&node("/photos")).exists(),
        "the identical duplicate was deleted"
    );
    assert!(
        !conflict_name(&node("/report.txt")).exists(),
        "the file copy was renamed"
    );
    assert!(
        !conflict_name(&node("/docs")).exists(),
        "the folder copy was renamed"
    );
    std::thread::sleep(Duration::from_millis(1500));
    w.vault(&["check", &url]).ok();
    assert_eq!(
        ls(&w, &url, "/"),
        want_root,
        "the same names after resolution"
    );
    assert_eq!(w.vault(&["cat", &url, &format!("/{file_copy}")]).stdout, b);
    // pycryptomator sees the resolved vault the same way.
    let theirs = as_map(pyc("tree", &disk, &[]));
    let names: BTreeSet<&str> = theirs.keys().map(String::as_str).collect();
    let want: BTreeSet<String> = [
        "/report.txt".to_owned(),
        format!("/{file_copy}"),
        "/photos".into(),
        "/photos/p1.jpg".into(),
        "/docs".into(),
        "/docs/d1.txt".into(),
        format!("/{dir_copy}"),
        format!("/{dir_copy}/o1.txt"),
        format!("/{dir_copy}/o2.txt"),
    ]
    .into();
    assert_eq!(
        names,
        want.iter().map(String::as_str).collect(),
        "pycryptomator after repair"
    );
    assert_eq!(theirs[&format!("/{file_copy}")][1], sha256(&b));
}

#[test]
fn conflicts_ls_cat_check_repair_apache() {
    let _t = TestTimer::new("conflicts_ls_cat_check_repair_apache");
    conflicts(Srv::Apache, "conflicts-apache");
}

#[test]
fn conflicts_ls_cat_check_repair_rclone() {
    let _t = TestTimer::new("conflicts_ls_cat_check_repair_rclone");
    conflicts(Srv::Rclone, "conflicts-rclone");
}

// ---------------------------------------------------------------- 3. outage

fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_left(7) as u8 ^ salt)
        .collect()
}

/// Regular files under `dir` with their sizes.
fn files_with_sizes(dir: &Path) -> BTreeMap<PathBuf, u64> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() {
                out.insert(e.path(), m.len());
            }
        }
    }
    out
}

fn outage(srv: Srv, suffix: &str, offset: u16) {
    let servers = OwnedServers(Servers::start(suffix, offset, &[srv]));
    let s = &servers.0;
    let w = Work::new();
    let sub = &unique("vault");
    s.mkcol(srv, sub);
    let url = s.url(srv, sub);
    let disk = s.root(srv).join(sub);
    w.vault(&["create", &url]).ok();
    let old = pattern(3 << 20, 0x11);
    put_bytes(&w, &url, "/big.bin", &old);
    let before = files_with_sizes(&disk);
    let object = pyc("paths", &disk, &["/big.bin"])["/big.bin"]["node"]
        .as_str()
        .expect("node")
        .to_owned();
    let object_sha = sha256(&std::fs::read(&object).expect("object"));

    let new = pattern(32 << 20, 0x5a);
    let new_file = w.path("new.bin");
    std::fs::write(&new_file, &new).expect("write");
    let mut put = w
        .cmd(&["put", &url, new_file.to_str().expect("utf-8"), "/big.bin"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vault put");
    // Kill the server once the upload is under way on disk (a new file of ≥ 4 MiB on the
    // server: truly in the middle of the transfer), bounded to 30 s.
    let start = Instant::now();
    loop {
        let growing = files_with_sizes(&disk)
            .iter()
            .any(|(p, n)| *n >= 4 << 20 && !before.contains_key(p));
        if growing {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no upload showed on the server within 30 s"
        );
        assert!(
            put.try_wait().expect("wait").is_none(),
            "the put ended before the server was stopped"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = s.pid(srv).expect("server pid");
    // SIGKILL the server's process group (Apache's workers too): a crash, not a clean stop.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .status();
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
    eprintln!("  server killed {:.2?} into the put", start.elapsed());
    let t = Instant::now();
    let status = loop {
        if let Some(st) = put.try_wait().expect("wait") {
            break st;
        }
        if t.elapsed() > Duration::from_secs(120) {
            let _ = put.kill();
            panic!("vault put did not fail within 120 s of the server's death");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut put.stderr.take().expect("stderr"), &mut stderr).ok();
    eprintln!("  vault put failed after {:.2?}: {stderr}", t.elapsed());
    assert!(
        !status.success(),
        "vault put succeeded although the server died mid-upload"
    );
    let code = status.code().expect("exit code, not a signal");
    assert_eq!(code, 5, "exit 5 (storage unreachable): {stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim_start().starts_with("WARN "))
        .collect();
    assert_eq!(lines.len(), 1, "one error line: {stderr:?}");
    assert!(lines[0].starts_with("vault: "), "{stderr}");
    assert!(
        lines[0].contains("storage unavailable"),
        "says the storage is unavailable: {stderr}"
    );
    assert!(
        lines[0].contains(&format!("127.0.0.1:{}", s.port(srv))),
        "names the server: {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );

    // The server returns: the previous version, untouched.
    s.start_one(srv);
    assert_eq!(
        sha256(&std::fs::read(&object).expect("object after")),
        object_sha,
        "the object was replaced"
    );
    assert_eq!(
        w.vault(&["cat", &url, "/big.bin"]).stdout,
        old,
        "the previous version is readable"
    );
    assert_eq!(
        ls(&w, &url, "/"),
        vec!["big.bin"],
        "no partial object is listed"
    );
    // The next put succeeds.
    timed("vault put after restart", || {
        w.vault(&["put", &url, new_file.to_str().expect("utf-8"), "/big.bin"])
            .ok()
    });
    assert!(
        w.vault(&["cat", &url, "/big.bin"]).stdout == new,
        "the new version after the retry"
    );
    // Leftovers of the interrupted upload hold only ciphertext: check passes with notes,
    // and --repair clears them.
    let out = w.vault(&["check", &url]).ok();
    assert!(
        out.lines()
            .all(|l| l.starts_with("note: ") && l.contains("leftover temp")),
        "{out}"
    );
    w.vault(&["check", "--repair", &url]).ok();
    assert_eq!(w.vault(&["check", &url]).ok(), "");
}

#[test]
fn outage_during_put_rclone() {
    let _t = TestTimer::new("outage_during_put_rclone");
    outage(Srv::Rclone, "o", 10);
}

#[test]
fn outage_during_put_apache() {
    let _t = TestTimer::new("outage_during_put_apache");
    outage(Srv::Apache, "p", 20);
}

// ---------------------------------------------------------------- create

#[test]
fn create_makes_a_missing_webdav_folder() {
    let _t = TestTimer::new("create_makes_a_missing_webdav_folder");
    let servers = shared();
    let w = Work::new();
    // cli.md / create.rs: "the folder is made if missing" (works for local folders).
    let sub = unique("made-by-create");
    let url = servers.url(Srv::Rclone, &sub);
    let run = w.vault(&["create", &url]);
    assert_eq!(
        run.code, 0,
        "vault create on a missing WebDAV folder: {}",
        run.stderr
    );
    assert!(
        servers
            .root(Srv::Rclone)
            .join(&sub)
            .join("masterkey.cryptomator")
            .exists()
    );
}
