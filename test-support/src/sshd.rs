//! The OpenSSH sshd of `vault-sftp/tests/servers/sshd-2fa.sh` as a test's own instance: started
//! with its own `VAULT_TEST_INSTANCE`, `VAULT_TEST_PORT_BASE` (and state folder), its `env`
//! output read, stopped and purged when dropped; plus an askpass answering its prompts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::askpass::write_askpass;
use crate::scripts::ServerScript;

/// A running instance of `sshd-2fa.sh`; `purge`d when dropped (unless [`Sshd::keep`]).
pub struct Sshd {
    script: ServerScript,
    vars: HashMap<String, String>,
    mode: String,
    purge: bool,
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
        let mut env = vec![("VAULT_TEST_STATE_DIR", state_dir)];
        env.extend_from_slice(extra);
        Sshd::start_in_default_state(instance, port_base, mode, &env)
    }

    /// As [`Sshd::start`], with the script's own state folder unless `extra` names one.
    pub fn start_in_default_state(
        instance: &str,
        port_base: u32,
        mode: &str,
        extra: &[(&str, &str)],
    ) -> Sshd {
        let port_base = port_base.to_string();
        let mut env = vec![
            ("VAULT_TEST_INSTANCE", instance),
            ("VAULT_TEST_PORT_BASE", port_base.as_str()),
        ];
        env.extend_from_slice(extra);
        let mut s = Sshd {
            script: ServerScript::new("sshd-2fa.sh", &env),
            vars: HashMap::new(),
            mode: mode.to_string(),
            purge: true,
        };
        let out = s.run(&["start", mode]);
        assert!(
            out.status.success(),
            "sshd start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        s.vars = s.script.env_vars();
        s
    }

    /// `sshd-2fa.sh ARGS` for this instance, bounded to 120 s.
    pub fn run(&self, args: &[&str]) -> Output {
        self.script.run(args)
    }

    /// Another script of `vault-sftp/tests/servers/` with this instance's environment.
    pub fn script(&self, name: &str, args: &[&str]) -> Output {
        let env: Vec<(&str, &str)> = self
            .script
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        ServerScript::new(name, &env).run(args)
    }

    /// The environment every script call of this instance gets.
    pub fn script_env(&self) -> &[(String, String)] {
        &self.script.env
    }

    /// The variables of the script's `env` output.
    pub fn vars(&self) -> &HashMap<String, String> {
        &self.vars
    }

    /// A variable of the script's `env` output.
    pub fn var(&self, k: &str) -> String {
        self.vars
            .get(k)
            .unwrap_or_else(|| panic!("{k} not in sshd-2fa.sh env"))
            .clone()
    }

    /// Leaves the instance running when dropped (another owner purges it).
    pub fn keep(&mut self) {
        self.purge = false;
    }

    /// Stops the instance and deletes its state now (instead of when dropped).
    pub fn purge(&mut self) {
        self.purge = false;
        let out = self.run(&["purge"]);
        if !out.status.success() {
            eprintln!(
                "sshd purge failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
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
        if self.purge {
            self.purge();
        }
    }
}
