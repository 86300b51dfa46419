//! Issue 14 request budgets: every HTTP request the `vault` CLI and the mount send to a
//! WebDAV server (401 challenges included) is counted by `tests/servers/dav-proxy.py`, a
//! proxy in front of Apache mod_dav and `rclone serve webdav` (started from
//! `tests/servers/webdav.sh`). The budgets asserted are issue 14's (see `Budget`), and the
//! README's "Requests per operation" table.
//!
//! `slow_auth_*`: the proxy stands in for Nextcloud's cost of checking a password: a
//! request without its session cookie waits 300 ms, and an accepted Basic-auth request
//! gets the cookie. With sessions, at most one request per connection pays.
//!
//! Needs root, /dev/fuse + fusermount3, python3 and the packages of
//! `tests/servers/install-webdav.sh`. Ports: base `VAULT_TEST_REQ_PORT_BASE` (default
//! 29780) + 3..5; instance `VAULT_TEST_REQ_INSTANCE` (default `req`).

mod cli_support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use cli_support::{KillOnDrop, MountGuard, Run, bin, daemon_running, wait_until, write_askpass};

const DAV_USER: &str = "vault-user";
const DAV_PASS: &str = "vault-pass";
const VAULT_PASS: &str = "requests counted";

fn scripts() -> PathBuf {
    test_support::paths::servers_dir()
}

fn instance() -> String {
    std::env::var("VAULT_TEST_REQ_INSTANCE").unwrap_or_else(|_| "req".into())
}

fn port_base() -> u16 {
    test_support::ports::port_base("VAULT_TEST_REQ_PORT_BASE", 29780)
}

fn webdav_sh(args: &[&str]) -> std::process::Output {
    test_support::webdav::webdav_sh(&instance(), port_base())
        .args(args)
        .output()
        .expect("run tests/servers/webdav.sh")
}

#[derive(Clone, Copy, Debug)]
enum Srv {
    Apache,
    Rclone,
}

impl Srv {
    fn port(self) -> u16 {
        port_base()
            + match self {
                Srv::Apache => 3,
                Srv::Rclone => 5,
            }
    }
}

/// Starts Apache and rclone once per test binary; a detached watchdog stops them when the
/// test process exits.
fn servers() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        for s in ["apache", "rclone"] {
            let out = webdav_sh(&["start", s]);
            assert!(
                out.status.success(),
                "starting {s} failed (run tests/servers/install-webdav.sh as root):\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        test_support::webdav::stop_all_after_exit(&instance(), port_base(), None);
    });
}

/// One request as the proxy logged it.
#[derive(Debug, Clone)]
struct Req {
    conn: u64,
    line: String,
    delayed: bool,
}

/// `dav-proxy.py` in front of one server, counting requests.
struct Proxy {
    _child: KillOnDrop,
    port: u16,
    log: PathBuf,
}

impl Proxy {
    fn start(srv: Srv, dir: &Path, options: &[&str]) -> Proxy {
        let log = dir.join(format!("requests-{}.log", srv.port()));
        let mut cmd = Command::new("python3");
        cmd.arg(scripts().join("dav-proxy.py"))
            .arg(format!("http://127.0.0.1:{}/", srv.port()))
            .arg(&log);
        cmd.args(options);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tests/servers/dav-proxy.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the proxy's port");
        let port = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("dav-proxy.py said {line:?}"));
        Proxy {
            _child: KillOnDrop(child),
            port,
            log,
        }
    }

    fn url(&self, sub: &str) -> String {
        format!("dav://{DAV_USER}@127.0.0.1:{}/{sub}", self.port)
    }

    /// The requests since the last call (and forgets them).
    fn take(&self) -> Vec<Req> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        std::fs::write(&self.log, "").expect("truncate the request log");
        text.lines()
            .map(|l| {
                let mut f = l.split(' ');
                let conn = f.next().and_then(|c| c.parse().ok()).unwrap_or(0);
                let delayed = l.ends_with(" 1");
                Req {
                    conn,
                    line: l.to_owned(),
                    delayed,
                }
            })
            .collect()
    }
}

fn show(reqs: &[Req]) -> String {
    reqs.iter().map(|r| format!("\n  {}", r.line)).collect()
}

/// Asserts `reqs.len() <= budget`, listing the requests otherwise.
#[track_caller]
fn within(what: &str, reqs: &[Req], budget: usize) {
    eprintln!("{what}: {} requests{}", reqs.len(), show(reqs));
    assert!(
        reqs.len() <= budget,
        "{what}: {} requests, budget {budget}:{}",
        reqs.len(),
        show(reqs)
    );
}

struct Work {
    tmp: tempfile::TempDir,
    askpass: PathBuf,
}

impl Work {
    fn new() -> Work {
        let tmp = tempfile::tempdir().expect("tempdir");
        let askpass = tmp.path().join("askpass.sh");
        write_askpass(
            &askpass,
            false,
            &[
                (
                    format!("\"Password for {DAV_USER}@\"*").as_str(),
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

    fn vault(&self, args: &[&str]) -> Run {
        let mut c = Command::new("timeout");
        // VAULT_TEST_REQ_BIN: another build of `vault`, to measure a change (see the README).
        let vault = std::env::var_os("VAULT_TEST_REQ_BIN").unwrap_or_else(|| bin().into());
        c.arg("300").arg(vault).args(args);
        if !matches!(args.first(), Some(&"unmount")) {
            c.arg("--askpass").arg(&self.askpass);
        }
        let out = c
            .env_remove("VAULT_ASKPASS")
            .env_remove("VAULT_LOG")
            .current_dir(self.tmp.path())
            .stdin(Stdio::null())
            .output()
            .expect("run vault");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A new empty folder on the server (made directly, not counted).
fn mkcol(srv: Srv, sub: &str) {
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
        .arg(format!("http://127.0.0.1:{}/{sub}/", srv.port()))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "201", "MKCOL {sub}");
}

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{name}-{}-{nanos:x}", std::process::id())
}

fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[0] ^ salt)
        .collect()
}

// Issue 14's budgets: create ≤ 8, put of a new file into an existing folder ≤ 6, ls of a root
// of 1,000 files ≤ 3, open + read through the mount ≤ 3. Where they go: every command reads
// vault.cryptomator (its "is it a vault?" check) and masterkey.cryptomator once; a new file is
// one no-replace PUT carrying its content (no lookup, no listing of the folder first); a
// folder on the way costs a GET of its dir.c9r (nothing else); the first write of
// a process asks OPTIONS (is PUT atomic here?). rclone's PUT is not atomic, so every write
// there is a temporary name + MOVE (one more request), and MKCOL needs a look first (it
// answers 201 on an existing folder).
struct Budget {
    create: usize,
    put_root: usize,
    put_folder: usize,
    mount_read: usize,
}

const APACHE: Budget = Budget {
    create: 8,
    put_root: 4,
    put_folder: 5,
    mount_read: 3,
};
const RCLONE: Budget = Budget {
    create: 14,
    put_root: 5,
    put_folder: 6,
    mount_read: 3,
};
const BUDGET_LS: usize = 3;

fn budgets(srv: Srv, budget: Budget) {
    servers();
    let w = Work::new();
    let proxy = Proxy::start(srv, w.tmp.path(), &[]);
    let sub = unique("budget");
    mkcol(srv, &sub);
    let url = proxy.url(&sub);

    w.vault(&["create", &url]).ok();
    within("vault create", &proxy.take(), budget.create);

    w.vault(&["mkdir", &url, "/d"]).ok();
    let data = pattern(1 << 20, 7);
    std::fs::write(w.path("one.bin"), &data).expect("write");
    proxy.take();
    w.vault(&["put", &url, "one.bin", "/one.bin"]).ok();
    within(
        "vault put (1 MiB, vault root)",
        &proxy.take(),
        budget.put_root,
    );
    w.vault(&["put", &url, "one.bin", "/d/two.bin"]).ok();
    within(
        "vault put (1 MiB, existing folder /d)",
        &proxy.take(),
        budget.put_folder,
    );
    let back = w.vault(&["cat", &url, "/d/two.bin"]);
    back.ok();
    assert!(back.stdout == data, "the file put into /d reads back");
    proxy.take();
    // A PATH one level deep adds at most one request (its dir.c9r).
    let listed = w.vault(&["ls", &url, "/d"]).ok();
    assert_eq!(listed.trim(), "two.bin");
    within("vault ls /d", &proxy.take(), BUDGET_LS + 1);

    // Through the mount: lookup, open and read of the 1 MiB file.
    let mnt = w.path("mnt");
    std::fs::create_dir(&mnt).expect("mnt");
    let guard = MountGuard::new(mnt.clone());
    w.vault(&["mount", &url, mnt.to_str().expect("utf-8")]).ok();
    guard.wait_mounted(Duration::from_secs(30));
    // What the mount does by itself (unlock, root listing) is not the read's.
    std::thread::sleep(Duration::from_millis(300));
    proxy.take();
    let read = std::fs::read(mnt.join("one.bin")).expect("read through the mount");
    assert!(read == data, "the file read through the mount differs");
    within(
        "open + read 1 MiB through the mount",
        &proxy.take(),
        budget.mount_read,
    );
    w.vault(&["unmount", mnt.to_str().expect("utf-8")]).ok();
    wait_until("the mount daemon to exit", Duration::from_secs(20), || {
        !daemon_running(&mnt)
    });
}

#[test]
fn request_budgets_apache() {
    budgets(Srv::Apache, APACHE);
}

#[test]
fn request_budgets_rclone() {
    budgets(Srv::Rclone, RCLONE);
}

/// `vault ls` of a root holding 1,000 files with short names.
#[test]
fn ls_of_1000_files_apache() {
    servers();
    let srv = Srv::Apache;
    let w = Work::new();
    let proxy = Proxy::start(srv, w.tmp.path(), &[]);
    let sub = unique("ls");
    mkcol(srv, &sub);
    let url = proxy.url(&sub);
    w.vault(&["create", &url]).ok();
    let src = w.path("many");
    std::fs::create_dir(&src).expect("mkdir");
    for i in 0..1000 {
        std::fs::write(src.join(format!("f{i:04}")), b"x").expect("write");
    }
    // Filled through the mount: one cp, not 1,000 CLI runs.
    let mnt = w.path("mnt");
    std::fs::create_dir(&mnt).expect("mnt");
    let guard = MountGuard::new(mnt.clone());
    w.vault(&["mount", &url, mnt.to_str().expect("utf-8")]).ok();
    guard.wait_mounted(Duration::from_secs(30));
    let ok = Command::new("cp")
        .arg("-r")
        .arg(format!("{}/.", src.display()))
        .arg(&mnt)
        .status()
        .expect("cp");
    assert!(ok.success(), "cp into the mount");
    w.vault(&["unmount", mnt.to_str().expect("utf-8")]).ok();
    wait_until("the mount daemon to exit", Duration::from_secs(60), || {
        !daemon_running(&mnt)
    });
    proxy.take();
    let out = w.vault(&["ls", &url, "/"]).ok();
    let reqs = proxy.take();
    assert_eq!(out.lines().count(), 1000, "vault ls lists every file");
    within("vault ls (1,000 files)", &reqs, BUDGET_LS);
}

/// With the slow-auth stand-in: the session cookie the proxy sets is sent back, so at most
/// one request per connection pays the 300 ms (without sessions, every request pays).
#[test]
fn slow_auth_at_most_one_request_per_connection_pays() {
    servers();
    let srv = Srv::Apache;
    let w = Work::new();
    let proxy = Proxy::start(srv, w.tmp.path(), &["--slow-auth", "300"]);
    let sub = unique("slow");
    mkcol(srv, &sub);
    let url = proxy.url(&sub);
    w.vault(&["create", &url]).ok();
    std::fs::write(w.path("a.bin"), pattern(100_000, 3)).expect("write");
    w.vault(&["put", &url, "a.bin", "/a.bin"]).ok();
    w.vault(&["ls", &url, "/"]).ok();
    let reqs = proxy.take();
    let mut per_conn: BTreeMap<u64, usize> = BTreeMap::new();
    for r in reqs.iter().filter(|r| r.delayed) {
        *per_conn.entry(r.conn).or_default() += 1;
    }
    let delayed: usize = per_conn.values().sum();
    eprintln!(
        "slow auth: {delayed} of {} requests delayed, {} connections",
        reqs.len(),
        reqs.iter()
            .map(|r| r.conn)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    );
    assert!(
        per_conn.values().all(|&n| n <= 1),
        "a connection paid the auth delay more than once:{}",
        show(&reqs)
    );
    // Three CLI runs, each a new session: about three requests pay, not all of them.
    assert!(delayed <= 3 * 2, "{delayed} requests paid:{}", show(&reqs));
}

/// A session the server ends (it answers 401 to the old cookie): the client drops it, asks
/// again with the credentials alone and carries on with the new session.
#[test]
fn an_ended_session_is_renewed_transparently() {
    servers();
    let srv = Srv::Apache;
    let w = Work::new();
    let sub = unique("renew");
    mkcol(srv, &sub);
    let direct = format!("dav://{DAV_USER}@127.0.0.1:{}/{sub}", srv.port());
    w.vault(&["create", &direct]).ok();
    w.vault(&["mkdir", &direct, "/kept"]).ok();
    // `ls` is three requests: the first logs in, the second carries the session (which then
    // ends), the third meets the ended session.
    let proxy = Proxy::start(
        srv,
        w.tmp.path(),
        &["--slow-auth", "1", "--expire-sessions-after", "1"],
    );
    let out = w.vault(&["ls", &proxy.url(&sub), "/"]).ok();
    assert_eq!(out.trim(), "kept/", "the listing after the renewal");
    let reqs = proxy.take();
    let refused: Vec<_> = reqs.iter().filter(|r| r.line.ends_with(" 401 0")).collect();
    assert_eq!(
        refused.len(),
        1,
        "one request met the ended session:{}",
        show(&reqs)
    );
    let delayed = reqs.iter().filter(|r| r.delayed).count();
    assert_eq!(
        delayed,
        2,
        "the first request and the one retried after the 401 log in, the others carry the session:{}",
        show(&reqs)
    );
}

/// `PROPFIND 12, GET 200, …`: the requests counted by method.
fn by_method(reqs: &[Req]) -> String {
    let mut n: BTreeMap<&str, usize> = BTreeMap::new();
    for r in reqs {
        let method = r.line.split(' ').nth(1).unwrap_or("?");
        *n.entry(method).or_default() += 1;
    }
    n.iter()
        .map(|(m, c)| format!("{m} {c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A tree of 200 small files in 10 folders (1–20 KiB each).
fn small_tree(root: &Path) {
    for d in 0..10 {
        let dir = root.join(format!("dir{d:02}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        for f in 0..20 {
            let len = 1024 * (1 + (d * 20 + f) % 20);
            std::fs::write(
                dir.join(format!("file{f:02}.bin")),
                pattern(len, (d * 20 + f) as u8),
            )
            .expect("write");
        }
    }
}

/// `rclone copy FROM TO` with the proxy as its WebDAV remote; the requests it made.
fn rclone_copy(proxy: &Proxy, from: &str, to: &str) -> (Vec<Req>, Duration) {
    let obscured = Command::new("rclone")
        .args(["obscure", DAV_PASS])
        .output()
        .expect("rclone obscure");
    let obscured = String::from_utf8_lossy(&obscured.stdout).trim().to_owned();
    proxy.take();
    let started = std::time::Instant::now();
    let out = Command::new("rclone")
        .args(["copy", from, to, "--config", "/dev/null", "--use-cookies"])
        .arg(format!("--webdav-url=http://127.0.0.1:{}/", proxy.port))
        .arg(format!("--webdav-user={DAV_USER}"))
        .arg(format!("--webdav-pass={obscured}"))
        .stdin(Stdio::null())
        .output()
        .expect("run rclone");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "rclone copy {from} {to}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (proxy.take(), took)
}

/// Issue 14, acceptance 2: on the slow-auth stand-in, `put -r` and `get -r` of a 200-file
/// tree make at most 1.2× the requests of `rclone copy --use-cookies` of the same cleartext
/// tree. Also measures `check` and `rm -r` of it (printed, for the README).
#[test]
fn tree_copies_within_1_2x_of_rclone_slow_auth() {
    servers();
    let srv = Srv::Apache;
    let w = Work::new();
    let proxy = Proxy::start(srv, w.tmp.path(), &["--slow-auth", "300"]);
    let sub = unique("tree");
    mkcol(srv, &sub);
    mkcol(srv, &format!("{sub}/vault"));
    mkcol(srv, &format!("{sub}/plain"));
    let url = proxy.url(&format!("{sub}/vault"));
    let src = w.path("tree");
    small_tree(&src);
    w.vault(&["create", &url]).ok();
    proxy.take();

    let timed = |what: &str, args: &[&str]| {
        let started = std::time::Instant::now();
        w.vault(args).ok();
        let took = started.elapsed();
        let reqs = proxy.take();
        let delayed = reqs.iter().filter(|r| r.delayed).count();
        eprintln!(
            "{what}: {} requests ({delayed} paid the auth delay), {:.2} s; {}",
            reqs.len(),
            took.as_secs_f64(),
            by_method(&reqs)
        );
        if std::env::var_os("VAULT_TEST_REQ_SHOW").is_some() {
            eprintln!("{}", show(&reqs));
        }
        reqs
    };
    let src_arg = src.to_str().expect("utf-8").to_owned();
    let put = timed(
        "vault put -r (200 files)",
        &["put", "-r", &url, &src_arg, "/tree"],
    );
    let back = w.path("back");
    let back_arg = back.to_str().expect("utf-8").to_owned();
    let get = timed(
        "vault get -r (200 files)",
        &["get", "-r", &url, "/tree", &back_arg],
    );
    for d in 0..10 {
        for f in 0..20 {
            let rel = format!("dir{d:02}/file{f:02}.bin");
            let a = std::fs::read(src.join(&rel)).expect("source");
            let b = std::fs::read(back.join(&rel)).expect("copied back");
            assert!(a == b, "{rel} differs after put -r / get -r");
        }
    }
    timed("vault check (200 files)", &["check", &url]);
    timed("vault rm -r (200 files)", &["rm", "-r", &url, "/tree"]);

    let remote = format!(":webdav:{sub}/plain/tree");
    let (rc_put, t_put) = rclone_copy(&proxy, &src_arg, &remote);
    eprintln!(
        "rclone copy up: {} requests, {:.2} s; {}",
        rc_put.len(),
        t_put.as_secs_f64(),
        by_method(&rc_put)
    );
    let rc_back = w.path("rc-back");
    let (rc_get, t_get) = rclone_copy(&proxy, &remote, rc_back.to_str().expect("utf-8"));
    eprintln!(
        "rclone copy down: {} requests, {:.2} s; {}",
        rc_get.len(),
        t_get.as_secs_f64(),
        by_method(&rc_get)
    );
    let limit = |n: usize| n * 12 / 10;
    assert!(
        put.len() <= limit(rc_put.len()),
        "put -r: {} requests, rclone copy {} (limit 1.2×):{}",
        put.len(),
        rc_put.len(),
        show(&put)
    );
    assert!(
        get.len() <= limit(rc_get.len()),
        "get -r: {} requests, rclone copy {} (limit 1.2×):{}",
        get.len(),
        rc_get.len(),
        show(&get)
    );
}
