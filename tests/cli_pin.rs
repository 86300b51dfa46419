//! Issue 12, keep offline: `vault mount --cache=full` and `vault pin`, through the `vault`
//! binary, a real FUSE mount and the key-only OpenSSH sshd of
//! `vault-sftp/tests/servers/sshd-2fa.sh` (mode `key`, version tag size+mtime), and again over
//! `rclone serve webdav` of `tests/servers/webdav.sh` (version tag the ETag), both on loopback.
//!
//! Online: a folder with a file to pin, a file never read and a subfolder, written and listed;
//! `vault pin FILE --wait` and `vault pin SUBFOLDER --wait` fetch their content (a PATH outside
//! any mount exits 2); unmounted. Then the server stopped (connections refused): `vault mount
//! --cache=full` starts from the cache, the pinned file and the file in the pinned folder read
//! back exactly (also a file and a folder added to the pinned folder after the pin), the file
//! never read fails with EIO in under 2 s and the daemon's log names its
//! ciphertext path. Throughout, the cache folder and everything in it is for its owner only
//! (0700 / 0600) and holds no cleartext: neither a file name nor a content marker.
//!
//! Over SFTP also, started offline after a pin, with the upload queue: a new file written
//! (close returns 0) is pending in `vault queue` and reaches the server once it is started,
//! without user action; and with the cache folder on a 4 MiB tmpfs, files are written until a
//! close fails with ENOSPC, and every file closed before reaches the server intact.
//!
//! Needs root (the sshd's test user, the tmpfs), FUSE, openssh-server, rclone. `VAULT_PIN_SKIP=1` skips it.

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::*;

const VAULT_PW: &str = "pin test password 5c1e";
const MARK: &str = "pinmarker";

fn keep_content() -> Vec<u8> {
    // Several 32 KiB chunks, so that a read crosses chunk boundaries.
    format!("{MARK}-keep-content ").repeat(6000).into_bytes()
}

fn deep_content() -> Vec<u8> {
    format!("{MARK}-deep-content ").repeat(300).into_bytes()
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

/// Every folder under `root` 0700, every file 0600, no cleartext marker in any file (content or
/// name); returns how many files were looked at.
fn check_no_cleartext(root: &Path) -> usize {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut files = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            assert!(!name.contains(MARK), "cleartext name {}", p.display());
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            assert_eq!(mode(&p), 0o600, "{}", p.display());
            let bytes = std::fs::read(&p).unwrap();
            assert!(
                !bytes.windows(MARK.len()).any(|w| w == MARK.as_bytes()),
                "cleartext in {}",
                p.display()
            );
            files += 1;
        }
    }
    files
}

/// `vault unmount`, then waits for the daemon to exit (it lets go of the cache then).
fn unmount(guard: &MountGuard, mnt: &Path) {
    guard.unmount();
    let t = Instant::now();
    while daemon_running(mnt) {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "daemon still running"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Env {
    tmp: tempfile::TempDir,
    common: Vec<String>,
    url: String,
}

impl Env {
    fn mnt(&self) -> PathBuf {
        self.tmp.path().join("mnt")
    }
    fn cache(&self) -> PathBuf {
        self.tmp.path().join("cache")
    }
    fn log(&self) -> PathBuf {
        self.tmp.path().join("daemon.log")
    }

    fn vault(&self, args: &[&str], common: bool) -> Run {
        self.vault_env("warn", args, common)
    }

    fn vault_env(&self, log: &str, args: &[&str], common: bool) -> Run {
        let mut cmd = Command::new("timeout");
        cmd.args(["120", bin()]).args(args);
        if common {
            cmd.args(&self.common);
        }
        cmd.env("VAULT_LOG", log)
            .env("XDG_CACHE_HOME", self.cache())
            .env_remove("VAULT_ASKPASS")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null());
        run_cmd(&mut cmd)
    }

    fn mount(&self) -> Run {
        let (m, log) = (self.mnt(), self.log());
        // Info: the line that says new folders inside pinned ones were pinned.
        self.vault_env(
            "info",
            &[
                "mount",
                &self.url,
                m.to_str().unwrap(),
                "--cache=full",
                "-o",
                "attr_timeout=0,entry_timeout=0",
                "--log-file",
                log.to_str().unwrap(),
            ],
            true,
        )
    }
}

#[test]
fn pinned_files_read_back_offline_and_nothing_cleartext_is_cached() {
    if std::env::var_os("VAULT_PIN_SKIP").is_some() {
        eprintln!("VAULT_PIN_SKIP set: skipped");
        return;
    }
    let (sshd, env) = sftp_env("p", 36_100);
    workload(&env, &|| {
        let stop = sshd.run(&["stop", "key"]);
        assert!(stop.status.success());
    });
}

/// The module docs' sequence on `env`; `stop` stops the server.
fn workload(env: &Env, stop: &dyn Fn()) {
    std::fs::create_dir(env.mnt()).unwrap();
    let guard = MountGuard::new(env.mnt());
    env.vault(&["create", &env.url], true).ok();

    // Online: the workload, listed once, and the pins.
    env.mount().ok();
    guard.wait_mounted(Duration::from_secs(30));
    let docs = env.mnt().join(format!("{MARK}-docs"));
    let sub = docs.join(format!("{MARK}-sub"));
    std::fs::create_dir_all(&sub).unwrap();
    let keep = docs.join(format!("{MARK}-keep.txt"));
    let never = docs.join(format!("{MARK}-never-read.txt"));
    let deep = sub.join(format!("{MARK}-deep.txt"));
    std::fs::write(&keep, keep_content()).unwrap();
    std::fs::write(&never, format!("{MARK} never read ").repeat(300)).unwrap();
    std::fs::write(&deep, deep_content()).unwrap();
    for d in [&env.mnt(), &docs, &sub] {
        std::fs::read_dir(d).unwrap().for_each(drop);
    }
    let outside = env.vault(&["pin", "/tmp"], false);
    outside.fails(2);
    let pinned = env.vault(&["pin", "--wait", keep.to_str().unwrap()], false);
    let out = pinned.ok();
    assert!(out.contains("1 object(s) fetched"), "{out}");
    let out = env
        .vault(&["pin", "--wait", sub.to_str().unwrap()], false)
        .ok();
    assert!(out.contains("pinned;"), "{out}");
    eprintln!("[cli_pin] {}", out.trim());
    let status = env.vault(&["status", "-l"], false).ok();
    assert!(status.contains("cache=full"), "{status}");
    // A file written later into the pinned folder is fetched without another `pin`.
    let content_dir = |env: &Env| {
        let root = env.cache().join("vault");
        std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path().join("content"))
            .find(|p| p.is_dir())
            .unwrap()
    };
    // Entries in place (not the temp files of a fetch under way).
    let entries = |d: &Path| {
        std::fs::read_dir(d)
            .unwrap()
            .filter(|e| {
                !e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with('.')
            })
            .count()
    };
    let before = entries(&content_dir(env));
    let later = sub.join(format!("{MARK}-later.txt"));
    std::fs::write(&later, deep_content()).unwrap();
    let t = Instant::now();
    while entries(&content_dir(env)) <= before {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the later file was not fetched"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("[cli_pin] later file fetched after {:.2?}", t.elapsed());
    // A folder made later inside the pinned one: found and pinned, its file fetched.
    let newsub = sub.join(format!("{MARK}-newsub"));
    std::fs::create_dir(&newsub).unwrap();
    let newer = newsub.join(format!("{MARK}-newer.txt"));
    std::fs::write(&newer, deep_content()).unwrap();
    let t = Instant::now();
    let adopted = "pinned the folders made inside pinned folders";
    while !std::fs::read_to_string(env.log())
        .unwrap_or_default()
        .contains(adopted)
    {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the new folder was not pinned"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("[cli_pin] new folder pinned after {:.2?}", t.elapsed());
    std::fs::read_dir(&newsub).unwrap().for_each(drop);
    let t = Instant::now();
    unmount(&guard, &env.mnt());
    eprintln!("[cli_pin] unmount: {:.2?}", t.elapsed());
    let files = check_no_cleartext(&env.cache().join("vault"));
    assert!(files >= 4, "only {files} files in the cache");

    // Offline: the server stopped.
    stop();
    let _ = std::fs::remove_file(env.log());
    let t = Instant::now();
    let m = env.mount();
    assert_eq!(m.code, 0, "offline mount: {}", m.stderr);
    eprintln!("[cli_pin] offline mount: {:.2?}", t.elapsed());
    guard.wait_mounted(Duration::from_secs(5));
    let (ok, got, err, took) = cat(&keep);
    assert!(ok, "pinned file offline: {err}");
    assert!(got == keep_content(), "pinned file read back differs");
    eprintln!("[cli_pin] pinned file read offline in {took:.2?}");
    for f in [&deep, &later, &newer] {
        let (ok, got, err, _) = cat(f);
        assert!(ok, "file in a pinned folder offline: {err}");
        assert!(got == deep_content(), "file in a pinned folder differs");
    }
    let (ok, _, err, took) = cat(&never);
    assert!(!ok, "a file never read was served offline");
    assert!(err.contains("Input/output error"), "{err}");
    assert!(took < Duration::from_secs(2), "the EIO took {took:.2?}");
    eprintln!("[cli_pin] uncached file offline: EIO in {took:.2?}");
    let log = std::fs::read_to_string(env.log()).unwrap_or_default();
    assert!(
        log.lines()
            .any(|l| l.contains("read refused") && l.contains("d/") && l.contains(".c9r")),
        "no log line naming the ciphertext path:\n{log}"
    );
    // Unpinning over the socket works offline too (it only changes the pins file).
    let out = env.vault(&["unpin", keep.to_str().unwrap()], false).ok();
    assert!(out.contains("unpinned"), "{out}");
    unmount(&guard, &env.mnt());
    check_no_cleartext(&env.cache().join("vault"));
}

/// The same over WebDAV (`rclone serve webdav`), where the version tag is the server's ETag.
#[test]
fn webdav_pinned_files_read_back_offline() {
    if std::env::var_os("VAULT_PIN_SKIP").is_some() {
        eprintln!("VAULT_PIN_SKIP set: skipped");
        return;
    }
    let pid = std::process::id();
    let state = format!("/tmp/vault-pin-dav-{pid}");
    let dav = Dav {
        env: vec![
            ("VAULT_TEST_INSTANCE".into(), format!("pd{}", pid % 100_000)),
            (
                "VAULT_TEST_PORT_BASE".into(),
                port_base("VAULT_TEST_PIN_DAV_PORT_BASE", 36_900 + (pid % 200) * 8).to_string(),
            ),
            ("VAULT_TEST_STATE_DIR".into(), state.clone()),
        ],
    };
    dav.ok("start");
    let root = PathBuf::from(dav.var("VAULT_TEST_WEBDAV_RCLONE_ROOT"));
    std::fs::create_dir_all(root.join("Vault")).unwrap();
    let hostport = dav
        .var("VAULT_TEST_WEBDAV_RCLONE_URL")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let url = format!(
        "dav://{}@{hostport}/Vault",
        dav.var("VAULT_TEST_WEBDAV_USER")
    );
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
    let env = Env {
        common: vec![
            "--insecure-http".into(),
            "--askpass".into(),
            ask.to_str().unwrap().into(),
        ],
        tmp,
        url,
    };
    workload(&env, &|| {
        dav.ok("stop");
    });
    drop(dav);
    let _ = std::fs::remove_dir_all(&state);
}

/// The key-only sshd of one instance on loopback and an [`Env`] for its `~/Vault`.
fn sftp_env(tag: &str, base: u32) -> (Sshd, Env) {
    let pid = std::process::id();
    let (sshd, KeyOnlyClient { tmp, url, login }) = key_only_sshd(
        &format!("{tag}{}", pid % 100_000),
        port_base("VAULT_TEST_PIN_PORT_BASE", base + (pid % 200) * 4),
        &format!("/tmp/vault-pin-{tag}-sshd-{pid}"),
        &[],
    );
    let ask = tmp.path().join("ask.sh");
    key_askpass(&sshd, &ask, &[("'Vault password for '*", VAULT_PW)]);
    let mut common = login;
    common.extend(["--askpass".into(), ask.to_str().unwrap().into()]);
    let env = Env { common, tmp, url };
    (sshd, env)
}

/// Online: the vault created, a file written and pinned, the folder listed; unmounted, then
/// the server stopped and the vault mounted again with `--cache=full` (from the cache).
/// Returns the pinned file.
fn mount_offline_after_a_pin(env: &Env, guard: &MountGuard, sshd: &Sshd) -> PathBuf {
    env.vault(&["create", &env.url], true).ok();
    env.mount().ok();
    guard.wait_mounted(Duration::from_secs(30));
    let docs = env.mnt().join(format!("{MARK}-docs"));
    std::fs::create_dir(&docs).unwrap();
    let keep = docs.join(format!("{MARK}-keep.txt"));
    std::fs::write(&keep, keep_content()).unwrap();
    // Pinned and listed once the upload is done (an upload drops its folder's cached
    // listing), as a user browsing it would: offline, a name not in it is known to be free.
    wait_drained(env, Duration::from_secs(20));
    let out = env
        .vault(&["pin", "--wait", keep.to_str().unwrap()], false)
        .ok();
    assert!(out.contains("1 object(s) fetched"), "{out}");
    for d in [&env.mnt(), &docs] {
        std::fs::read_dir(d).unwrap().for_each(drop);
    }
    unmount(guard, &env.mnt());
    assert!(sshd.run(&["stop", "key"]).status.success());
    let m = env.mount();
    assert_eq!(m.code, 0, "offline mount: {}", m.stderr);
    guard.wait_mounted(Duration::from_secs(5));
    keep
}

/// `cp SRC DST` of `data` into the mount, bounded to 30 s; `cp` reports a failed write or
/// close: (exit success, stderr).
fn cp_in(env: &Env, data: &[u8], dst: &Path) -> (bool, String) {
    let src = env.tmp.path().join("cp-src");
    std::fs::write(&src, data).unwrap();
    let out = Command::new("timeout")
        .args(["30", "cp"])
        .arg(&src)
        .arg(dst)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success(), stderr)
}

/// The first line of `vault queue` (`pending=N …`).
fn queue_figures(env: &Env) -> String {
    let m = env.mnt();
    let out = env.vault(&["queue", m.to_str().unwrap()], false).ok();
    out.lines().next().unwrap_or("").to_string()
}

/// Polls `vault queue` until it says `n` changes are pending (the daemon's figures are at most
/// half a second old).
fn wait_pending(env: &Env, n: usize) {
    let t = Instant::now();
    loop {
        let first = queue_figures(env);
        if first.starts_with(&format!("pending={n}\t")) {
            eprintln!("[cli_pin] vault queue after {:.2?}: {first}", t.elapsed());
            return;
        }
        let log = std::fs::read_to_string(env.log()).unwrap_or_default();
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "not {n} pending: {first}\n{log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls `vault queue` until nothing is pending (the daemon's figures are at most half a second
/// old).
fn wait_drained(env: &Env, limit: Duration) {
    let t = Instant::now();
    loop {
        let first = queue_figures(env);
        if first.starts_with("pending=0\t") {
            return;
        }
        assert!(t.elapsed() < limit, "the queue did not drain: {first}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The server started again: the queue empties without user action (bounded), then unmounted.
fn restart_and_drain(env: &Env, guard: &MountGuard, sshd: &Sshd) {
    assert!(sshd.run(&["start", "key"]).status.success());
    let t = Instant::now();
    wait_drained(env, Duration::from_secs(60));
    eprintln!(
        "[cli_pin] queue drained {:.2?} after the restart",
        t.elapsed()
    );
    unmount(guard, &env.mnt());
}

/// `vault cat` from the server: its own connection, no mount, a fresh cache folder.
fn cat_from_server(env: &Env, path: &str) -> Vec<u8> {
    let mut cmd = Command::new("timeout");
    cmd.args(["60", bin(), "cat", &env.url, path])
        .args(&env.common)
        .env("XDG_CACHE_HOME", env.tmp.path().join("other-cache"))
        .env_remove("VAULT_ASKPASS")
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "vault cat {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Acceptance 4: `--cache=full` started with the server down (after an online mount that
/// pinned a file): the pinned file reads back exactly, a new file is written (close returns 0)
/// and is pending in `vault queue`; the server started again, the file reaches it without user
/// action (`vault queue` down to pending=0, then `vault cat` from the server).
#[test]
fn offline_full_mount_queues_a_new_file_and_sends_it_when_the_server_is_back() {
    if std::env::var_os("VAULT_PIN_SKIP").is_some() {
        eprintln!("VAULT_PIN_SKIP set: skipped");
        return;
    }
    let (sshd, env) = sftp_env("po", 38_600);
    std::fs::create_dir(env.mnt()).unwrap();
    let guard = MountGuard::new(env.mnt());
    let keep = mount_offline_after_a_pin(&env, &guard, &sshd);
    let (ok, got, err, _) = cat(&keep);
    assert!(ok, "pinned file offline: {err}");
    assert!(got == keep_content(), "pinned file read back differs");
    let new = keep.with_file_name("written-offline.txt");
    let data = deep_content();
    let t = Instant::now();
    let (ok, err) = cp_in(&env, &data, &new);
    let log = || std::fs::read_to_string(env.log()).unwrap_or_default();
    assert!(ok, "new file offline: {err}\n{}", log());
    eprintln!("[cli_pin] new file written offline in {:.2?}", t.elapsed());
    wait_pending(&env, 1);
    let (ok, got, err, _) = cat(&new);
    assert!(ok && got == data, "the new file offline: {err}");
    restart_and_drain(&env, &guard, &sshd);
    let path = format!("{MARK}-docs/written-offline.txt");
    assert!(
        cat_from_server(&env, &path) == data,
        "{path} differs on the server"
    );
}

/// A tmpfs mounted for the test; unmounted (lazily if busy) when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("tmpfs")
            .arg(at)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount -t tmpfs {}", at.display());
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let plain = Command::new("umount").arg(&self.0).status();
        if !plain.is_ok_and(|s| s.success()) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

fn spaced_content(i: usize) -> Vec<u8> {
    format!("{MARK} enospc file {i} ")
        .repeat(12_000)
        .into_bytes()
}

/// Acceptance 6, a full disk: the cache folder on a 4 MiB tmpfs, mounted `--cache=full` with
/// the server down; files written until one fails with ENOSPC (`cp` reports the errno). The
/// server started again: every file whose close returned 0 reaches it intact.
#[test]
fn a_full_cache_disk_fails_with_enospc_and_loses_nothing_journaled() {
    if std::env::var_os("VAULT_PIN_SKIP").is_some() {
        eprintln!("VAULT_PIN_SKIP set: skipped");
        return;
    }
    let (sshd, env) = sftp_env("pe", 39_400);
    let _tmpfs = Tmpfs::mount(&env.cache(), "4m");
    std::fs::create_dir(env.mnt()).unwrap();
    let guard = MountGuard::new(env.mnt());
    let keep = mount_offline_after_a_pin(&env, &guard, &sshd);
    let docs = keep.parent().unwrap().to_path_buf();
    let mut written = Vec::new();
    let mut failure = None;
    for i in 0..40 {
        let (ok, err) = cp_in(&env, &spaced_content(i), &docs.join(format!("f{i:02}.bin")));
        if !ok {
            failure = Some(err);
            break;
        }
        written.push(i);
    }
    let err = failure.expect("40 files of ~280 KiB fitted in a 4 MiB cache");
    eprintln!(
        "[cli_pin] {} files written, then: {}",
        written.len(),
        err.trim()
    );
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!written.is_empty(), "not even one file fitted");
    // Each file written is pending, and the failed one's create (0 bytes) with it.
    wait_pending(&env, written.len() + 1);
    let m = env.mnt();
    let listed = env.vault(&["queue", m.to_str().unwrap()], false).ok();
    eprintln!("[cli_pin] {listed}");
    restart_and_drain(&env, &guard, &sshd);
    for &i in &written {
        let path = format!("{MARK}-docs/f{i:02}.bin");
        assert!(
            cat_from_server(&env, &path) == spaced_content(i),
            "{path} differs"
        );
    }
    let failed = format!("{MARK}-docs/f{:02}.bin", written.len());
    let got = cat_from_server(&env, &failed);
    eprintln!(
        "[cli_pin] the file whose close failed: {} bytes on the server",
        got.len()
    );
    assert!(
        got.is_empty() || got == spaced_content(written.len()),
        "{failed} is torn"
    );
}
