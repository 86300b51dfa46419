//! The OpenSSH sshd of `vault-sftp/tests/servers/sshd-2fa.sh` as a test's own instance:
//! started with its own `VAULT_TEST_INSTANCE`, `VAULT_TEST_PORT_BASE` and
//! `VAULT_TEST_STATE_DIR`, its `env` output read, stopped and purged when dropped; plus the
//! askpass programs and TOTP clock helpers of the sftp tests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::write_askpass;

/// `$var` as a port number if set and valid, else `default`.
pub fn port_base(var: &str, default: u32) -> u32 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(default)
}

/// A script of `vault-sftp/tests/servers/` (`sshd-2fa.sh`, `hotel-net.sh`) with the environment
/// of one instance.
pub struct ServerScript {
    name: &'static str,
    pub env: Vec<(String, String)>,
}

impl ServerScript {
    pub fn new(name: &'static str, env: &[(&str, &str)]) -> ServerScript {
        ServerScript {
            name,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn path(&self) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("vault-sftp/tests/servers")
            .join(self.name)
    }

    /// `SCRIPT ARGS` for this instance, bounded to 120 s.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("timeout")
            .arg("120")
            .arg(self.path())
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap()
    }

    /// [`ServerScript::run`], failing the test unless the script succeeds.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{} {args:?}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A running instance of `sshd-2fa.sh`; `purge`d when dropped.
pub struct Sshd {
    script: ServerScript,
    vars: HashMap<String, String>,
    mode: String,
}

impl Sshd {
    /// `sshd-2fa.sh start MODE` as instance `instance` with ports from `port_base` and state in
    /// `state_dir`; `extra` environment on top (`VAULT_TEST_TOTP_REUSE`, `VAULT_TEST_NETNS`, …).
    /// Every test binary (they run in parallel) keeps its own range of port bases.
    pub fn start(
        instance: &str,
        port_base: u32,
        state_dir: &str,
        mode: &str,
        extra: &[(&str, &str)],
    ) -> Sshd {
        let port_base = port_base.to_string();
        let mut env = vec![
            ("VAULT_TEST_INSTANCE", instance),
            ("VAULT_TEST_PORT_BASE", port_base.as_str()),
            ("VAULT_TEST_STATE_DIR", state_dir),
        ];
        env.extend_from_slice(extra);
        let mut s = Sshd {
            script: ServerScript::new("sshd-2fa.sh", &env),
            vars: HashMap::new(),
            mode: mode.to_string(),
        };
        let out = s.run(&["start", mode]);
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

    /// `sshd-2fa.sh ARGS` for this instance, bounded to 120 s.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        self.script.run(args)
    }

    /// A variable of the script's `env` output.
    pub fn var(&self, k: &str) -> String {
        self.vars
            .get(k)
            .unwrap_or_else(|| panic!("{k} not in sshd-2fa.sh env"))
            .clone()
    }

    /// `sftp://USER@HOST:PORT<path>` (the port of the 2FA listener).
    pub fn url(&self, path: &str) -> String {
        format!(
            "sftp://{}@{}:{}{path}",
            self.var("VAULT_TEST_SSH_USER"),
            self.var("VAULT_TEST_SSH_HOST"),
            self.var("VAULT_TEST_SSH_PORT")
        )
    }

    /// Ends every SSH session of the server (the listener stays): the mounts' links drop.
    pub fn kill_sessions(&self) {
        self.script.ok(&["kill-sessions", &self.mode]);
    }

    /// A copy of the server's host key as `dir/known_hosts` (a known host).
    pub fn known_hosts_in(&self, dir: &Path) -> PathBuf {
        let kh = dir.join("known_hosts");
        std::fs::copy(self.var("VAULT_TEST_SSH_KNOWN_HOSTS"), &kh).unwrap();
        kh
    }

    /// An askpass program `dir/name` answering the key passphrase, the TOTP code and the vault
    /// password (`vault_pw`) by prompt text; every prompt it gets is appended to
    /// `dir/name.log` (see `prompts_seen`). `passphrase` / `totp` override the right answers
    /// (shell snippets printing the answer).
    pub fn askpass(
        &self,
        dir: &Path,
        name: &str,
        vault_pw: &str,
        passphrase: Option<&str>,
        totp: Option<&str>,
    ) -> PathBuf {
        let path = dir.join(name);
        let good_pp = format!(
            "printf '%s\\n' '{}'",
            self.var("VAULT_TEST_SSH_KEY_PASSPHRASE")
        );
        let good_totp = format!(
            "oathtool --totp -b '{}'",
            self.var("VAULT_TEST_SSH_TOTP_SECRET")
        );
        let vault_pw = format!("printf '%s\\n' '{vault_pw}'");
        write_askpass(
            &path,
            true,
            &[
                ("'Passphrase for key '*': '", passphrase.unwrap_or(&good_pp)),
                (
                    "'[sftp '*'] Verification code: '",
                    totp.unwrap_or(&good_totp),
                ),
                ("'Vault password for '*': '", &vault_pw),
            ],
        );
        path
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.run(&["purge"]);
    }
}

/// Seconds since the epoch (TOTP windows are 30 of them).
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Sleeps into the next 30 s TOTP window (half a second past its start).
pub fn sleep_to_next_totp_window() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    std::thread::sleep(
        Duration::from_secs((now.as_secs() / 30 + 1) * 30).saturating_sub(now)
            + Duration::from_millis(500),
    );
}

/// A password-login sshd (instance `instance`, ports from `port_base`) whose test user owns a copy
/// of the `vault-v8` fixture at `~/V`; returns the server and `sftp://USER@127.0.0.1:PORT/~/V`.
pub fn sshd_with_fixture_vault(instance: &str, port_base: u32, state_dir: &str) -> (Sshd, String) {
    let sshd = Sshd::start(instance, port_base, state_dir, "password", &[]);
    let user = sshd.var("VAULT_TEST_SSH_USER");
    let port = sshd.var("VAULT_TEST_SSH_PORT_PASSWORD");
    let root = std::path::PathBuf::from(sshd.var("VAULT_TEST_SFTP_ROOT"));
    super::copy_tree(&super::fixtures().join("vault-v8/vault"), &root.join("V"));
    assert!(
        std::process::Command::new("chown")
            .args(["-R", &user])
            .arg(root.join("V"))
            .status()
            .unwrap()
            .success()
    );
    (sshd, format!("sftp://{user}@127.0.0.1:{port}/~/V"))
}
