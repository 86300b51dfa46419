//! Opt-in TOTP secret and remembered SSH secrets (issues 5 and 7), through the `vault` binary,
//! against the real 2FA OpenSSH sshd of `vault-sftp/tests/servers/sshd-2fa.sh` (public key
//! with passphrase + TOTP through PAM, `AuthenticationMethods publickey,keyboard-interactive`,
//! TOTP reuse allowed so the several logins of this test need no wait for a fresh window),
//! with the kernel keyring (`VAULT_KEYRING=keyutils`) as the real store across processes.
//!
//! `remembered_totp_secret_answers_codes_and_forget_drops_it`:
//! 1. `vault create NAME --remember --remember-totp` asks the key passphrase, the TOTP secret
//!    and the vault password (askpass), never a verification code: the code is computed;
//! 2. `vault ls NAME` in a new process with no secret source at all logs in and lists: key
//!    passphrase, TOTP code and vault password all come from the keyring;
//! 3. `vault mount NAME` (detached daemon, handed the TOTP secret) and a listing through it;
//! 4. `vault forget NAME` drops all three; the next login asks for a verification code again.
//!
//! `remembered_totp_mounts_when_the_server_refuses_code_reuse`: the same sshd with reuse
//! denied; `vault mount` (two logins within seconds) still succeeds.
//!
//! Needs root, FUSE, oathtool, openssh-server, libpam-google-authenticator (as sftp_e2e.rs).

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cli_support::*;

const VAULT_PW: &str = "remembered, sftp edition";

struct Sshd {
    env: Vec<(String, String)>,
    vars: HashMap<String, String>,
}

impl Sshd {
    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("timeout")
            .arg("120")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("vault-sftp/tests/servers/sshd-2fa.sh"))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap()
    }
    /// Instance `r<pid><n>`; `reuse`: allow or deny a TOTP code twice in its window.
    fn start(n: u32, reuse: &str) -> Sshd {
        let pid = std::process::id();
        let base = 42_100 + (pid % 500) * 16 + 8 * n;
        let mut s = Sshd {
            env: vec![
                (
                    "VAULT_TEST_INSTANCE".into(),
                    format!("r{}{n}", pid % 100_000),
                ),
                ("VAULT_TEST_PORT_BASE".into(), base.to_string()),
                (
                    "VAULT_TEST_STATE_DIR".into(),
                    format!("/tmp/vault-remember-sshd-{pid}-{n}"),
                ),
                ("VAULT_TEST_TOTP_REUSE".into(), reuse.into()),
            ],
            vars: HashMap::new(),
        };
        let out = s.run(&["start", "2fa"]);
        assert!(
            out.status.success(),
            "sshd start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = s.run(&["env"]);
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some((k, v)) = line.split_once('=') {
                s.vars
                    .insert(k.to_string(), v.trim_matches('\'').to_string());
            }
        }
        s
    }
    fn var(&self, k: &str) -> String {
        self.vars
            .get(k)
            .unwrap_or_else(|| panic!("{k} not in sshd-2fa.sh env"))
            .clone()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.run(&["purge"]);
    }
}

struct Unmount(PathBuf);
impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("fusermount3")
            .args(["-u", "-z"])
            .arg(&self.0)
            .stderr(Stdio::null())
            .status();
    }
}

fn write_script(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn remembered_totp_secret_answers_codes_and_forget_drops_it() {
    let sshd = Sshd::start(0, "allow");
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config.toml");
    let kh = tmp.path().join("known_hosts");
    std::fs::copy(sshd.var("VAULT_TEST_SSH_KNOWN_HOSTS"), &kh).unwrap();
    let key = sshd.var("VAULT_TEST_SSH_KEY");
    let secret = sshd.var("VAULT_TEST_SSH_TOTP_SECRET");
    let passphrase = sshd.var("VAULT_TEST_SSH_KEY_PASSPHRASE");
    let url = format!(
        "sftp://{}@{}:{}/~/Vault",
        sshd.var("VAULT_TEST_SSH_USER"),
        sshd.var("VAULT_TEST_SSH_HOST"),
        sshd.var("VAULT_TEST_SSH_PORT")
    );
    let run = |args: &[&str]| -> Run {
        let mut full = vec!["300", bin()];
        full.extend_from_slice(args);
        let out = Command::new("timeout")
            .args(&full)
            .env("VAULT_CONFIG", &config)
            .env("VAULT_KEYRING", "keyutils")
            .env_remove("VAULT_ASKPASS")
            .env_remove("VAULT_LOG")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    // An askpass answering everything but a verification code (logged, then refused).
    let log = tmp.path().join("ask.log");
    let ask = tmp.path().join("ask.sh");
    write_script(
        &ask,
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{log}'\ncase \"$1\" in\n  'Passphrase for key '*': ') printf '%s\\n' '{passphrase}' ;;\n  'TOTP secret for '*) printf '%s\\n' '{secret}' ;;\n  'Vault password for '*': ') printf '%s\\n' '{VAULT_PW}' ;;\n  'Verification code: ') oathtool --totp -b '{secret}' ;;\n  *) echo \"askpass: unexpected prompt: $1\" >&2; exit 1 ;;\nesac\n",
            log = log.display()
        ),
    );
    run(&[
        "add",
        "nas",
        &url,
        "--identity",
        &key,
        "--known-hosts",
        kh.to_str().unwrap(),
    ])
    .ok();
    let dir = PathBuf::from(sshd.var("VAULT_TEST_SFTP_ROOT")).join("Vault");

    // 1. create, remembering everything: no verification code is asked
    let r = run(&[
        "create",
        "nas",
        "--remember",
        "--remember-totp",
        "--askpass",
        ask.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    assert!(dir.join("vault.cryptomator").is_file());
    let seen = lines(&log);
    assert!(
        seen.iter()
            .any(|p| p.starts_with("TOTP secret for sftp://")),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|p| p.starts_with("Passphrase for key ")),
        "{seen:?}"
    );
    assert!(
        !seen.iter().any(|p| p == "Verification code: "),
        "the code was computed, not asked: {seen:?}"
    );

    // 2. a new process with no secret source at all
    std::fs::remove_file(&log).unwrap();
    run(&["mkdir", "nas", "/from-keyring"]).ok();
    let out = run(&["ls", "nas"]).ok();
    assert!(out.lines().any(|l| l == "from-keyring/"), "{out}");
    assert!(lines(&log).is_empty(), "nothing asked");

    // 3. a detached mount: the daemon holds the TOTP secret for reconnects
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let _guard = Unmount(mnt.clone());
    let r = run(&["mount", "nas", mnt.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(mnt.join("from-keyring").is_dir());
    run(&["unmount", mnt.to_str().unwrap()]).ok();

    // 4. forget: all three gone; the server's code prompt is asked again
    let r = run(&["forget", "nas"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for what in ["vault password", "TOTP secret", "SSH key passphrase"] {
        assert!(r.stderr.contains(what), "{what}: {}", r.stderr);
    }
    assert_ne!(run(&["ls", "nas"]).code, 0, "nothing stored, no source");
    run(&["ls", "nas", "--askpass", ask.to_str().unwrap()]).ok();
    let seen = lines(&log);
    assert!(
        seen.iter().any(|p| p == "Verification code: "),
        "asked again after forget: {seen:?}"
    );
}

/// With reuse denied (google-authenticator's default), `vault mount` logs in twice within
/// seconds (the parent checks, the daemon mounts): with a remembered TOTP secret the daemon is
/// told which code the parent used and waits for the next window instead of being refused.
#[test]
fn remembered_totp_mounts_when_the_server_refuses_code_reuse() {
    let sshd = Sshd::start(1, "deny");
    let tmp = tempfile::tempdir().unwrap();
    let kh = tmp.path().join("known_hosts");
    std::fs::copy(sshd.var("VAULT_TEST_SSH_KNOWN_HOSTS"), &kh).unwrap();
    let key = sshd.var("VAULT_TEST_SSH_KEY");
    let secret = sshd.var("VAULT_TEST_SSH_TOTP_SECRET");
    let passphrase = sshd.var("VAULT_TEST_SSH_KEY_PASSPHRASE");
    let url = format!(
        "sftp://{}@{}:{}/~/Vault",
        sshd.var("VAULT_TEST_SSH_USER"),
        sshd.var("VAULT_TEST_SSH_HOST"),
        sshd.var("VAULT_TEST_SSH_PORT")
    );
    let ask = tmp.path().join("ask.sh");
    write_script(
        &ask,
        &format!(
            "#!/bin/sh\ncase \"$1\" in\n  'Passphrase for key '*': ') printf '%s\\n' '{passphrase}' ;;\n  'TOTP secret for '*) printf '%s\\n' '{secret}' ;;\n  'Vault password for '*': ') printf '%s\\n' '{VAULT_PW}' ;;\n  *) echo \"askpass: unexpected prompt: $1\" >&2; exit 1 ;;\nesac\n"
        ),
    );
    let run = |args: &[&str]| -> Run {
        let mut full = vec!["300", bin()];
        full.extend_from_slice(args);
        let out = Command::new("timeout")
            .args(&full)
            .args(["--identity", &key, "--known-hosts", kh.to_str().unwrap()])
            .args(["--askpass", ask.to_str().unwrap()])
            .env("VAULT_KEYRING", "none")
            .env_remove("VAULT_ASKPASS")
            .env_remove("VAULT_LOG")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    // --remember-totp with VAULT_KEYRING=none: the secret is used for this run only (and a
    // warning says nothing was stored); every code is computed
    let r = run(&["create", &url, "--remember-totp"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // create used this window's code: start the mount in a fresh window (separate commands
    // inside one window are refused by such a server, as with typed codes)
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    std::thread::sleep(
        std::time::Duration::from_secs((now.as_secs() / 30 + 1) * 30).saturating_sub(now)
            + std::time::Duration::from_millis(500),
    );
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let _guard = Unmount(mnt.clone());
    let started = std::time::Instant::now();
    let r = run(&["mount", &url, mnt.to_str().unwrap(), "--remember-totp"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    eprintln!(
        "[cli_remember_sftp] mount with reuse denied: {:.1?}",
        started.elapsed()
    );
    assert!(mnt.join(".").is_dir());
    std::fs::write(mnt.join("f.txt"), b"through the daemon").unwrap();
    Command::new(bin())
        .arg("unmount")
        .arg(&mnt)
        .status()
        .unwrap();
    // (the daemon used the next window's code: wait for the one after)
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    std::thread::sleep(
        std::time::Duration::from_secs((now.as_secs() / 30 + 1) * 30).saturating_sub(now)
            + std::time::Duration::from_millis(500),
    );
    let out = run(&["cat", &url, "/f.txt", "--remember-totp"]);
    assert_eq!(out.stdout, b"through the daemon", "{}", out.stderr);
}
