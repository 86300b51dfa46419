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
//! Needs root (the sshd's test user), FUSE, openssh-server, rclone. `VAULT_PIN_SKIP=1` skips it.

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
    let pid = std::process::id();
    let sshd = Sshd::start(
        &format!("p{}", pid % 100_000),
        port_base("VAULT_TEST_PIN_PORT_BASE", 36_100 + (pid % 200) * 4),
        &format!("/tmp/vault-pin-sshd-{pid}"),
        "key",
        &[],
    );
    let tmp = tempfile::tempdir().unwrap();
    let kh = sshd.known_hosts_in(tmp.path());
    let user = sshd.var("VAULT_TEST_SSH_USER");
    let url = format!(
        "sftp://{user}@{}:{}/~/Vault",
        sshd.var("VAULT_TEST_SSH_HOST"),
        sshd.var("VAULT_TEST_SSH_PORT_KEYONLY")
    );
    let remote = PathBuf::from(sshd.var("VAULT_TEST_SFTP_ROOT")).join("Vault");
    assert!(
        Command::new("install")
            .args(["-d", "-o", &user, "-g", &user])
            .arg(&remote)
            .status()
            .unwrap()
            .success()
    );
    let ask = tmp.path().join("ask.sh");
    write_askpass(
        &ask,
        false,
        &[
            (
                "'Passphrase for key '*",
                format!(
                    "printf '%s\\n' '{}'",
                    sshd.var("VAULT_TEST_SSH_KEY_PASSPHRASE")
                ),
            ),
            (
                "'Vault password for '*",
                format!("printf '%s\\n' '{VAULT_PW}'"),
            ),
        ],
    );
    let env = Env {
        common: vec![
            "--identity".into(),
            sshd.var("VAULT_TEST_SSH_KEY"),
            "--known-hosts".into(),
            kh.to_str().unwrap().into(),
            "--askpass".into(),
            ask.to_str().unwrap().into(),
        ],
        tmp,
        url,
    };
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

/// `tests/servers/webdav.sh ARGS rclone` for one instance on loopback; stopped when dropped.
struct Dav {
    env: Vec<(String, String)>,
}

impl Dav {
    fn run(&self, cmd: &str) -> std::process::Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/webdav.sh");
        Command::new("timeout")
            .arg("120")
            .arg(script)
            .args([cmd, "rclone"])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap()
    }

    fn ok(&self, cmd: &str) -> String {
        let out = self.run(cmd);
        assert!(
            out.status.success(),
            "webdav.sh {cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn var(&self, k: &str) -> String {
        self.ok("env")
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} not in webdav.sh env"))
            .trim_matches('\'')
            .to_string()
    }
}

impl Drop for Dav {
    fn drop(&mut self) {
        let _ = self.run("stop");
    }
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
