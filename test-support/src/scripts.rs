//! The test-server scripts (`sshd-2fa.sh`, `hotel-net.sh`, `webdav.sh`, …) run for one instance:
//! its environment on every call, a time bound, and their `env` output read as variables.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use crate::paths::sftp_servers_dir;

/// A script with the environment of one instance.
pub struct ServerScript {
    path: PathBuf,
    pub env: Vec<(String, String)>,
}

impl ServerScript {
    /// A script of `vault-sftp/tests/servers/` (`sshd-2fa.sh`, `hotel-net.sh`).
    pub fn new(name: &str, env: &[(&str, &str)]) -> ServerScript {
        ServerScript::at(sftp_servers_dir().join(name), env)
    }

    /// The script at `path`.
    pub fn at(path: PathBuf, env: &[(&str, &str)]) -> ServerScript {
        ServerScript {
            path,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// `SCRIPT ARGS` for this instance, bounded to 120 s, no stdin.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("timeout")
            .arg("120")
            .arg(&self.path)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.path.display()))
    }

    /// [`ServerScript::run`], failing the test unless the script succeeds.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{} {args:?}: {}",
            self.path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The variables `SCRIPT env` prints (`KEY=VALUE` lines, single quotes around values
    /// dropped).
    pub fn env_vars(&self) -> HashMap<String, String> {
        let out = self.run(&["env"]);
        assert!(
            out.status.success(),
            "{} env: {}",
            self.path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        parse_env(&String::from_utf8_lossy(&out.stdout))
    }
}

/// `KEY=VALUE` lines as a map (single quotes around values dropped; other lines ignored).
pub fn parse_env(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect()
}
