//! The WebDAV servers of `tests/servers/webdav.sh` (Apache mod_dav over HTTP and HTTPS,
//! `rclone serve webdav`, SabreDAV under `php -S`) for one test binary: started once on ports
//! and a state folder of its own, and stopped when the test process exits (a detached watchdog
//! waits for our pid, then runs `webdav.sh stop all`).
//!
//! Environment: `VAULT_TEST_INSTANCE` (prefix of the instance name, default `wd`; each test
//! binary appends its own suffix) and `VAULT_TEST_PORT_BASE` (default 29600; each binary adds
//! its own offset). Needs root and the packages of `tests/servers/install-webdav.sh`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use crate::paths::servers_dir;
use crate::ports::port_base;
use crate::process::after_exit;
use crate::scripts::parse_env;

/// One of the servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    ApacheHttp,
    ApacheHttps,
    Rclone,
    Sabre,
}

impl Server {
    pub const ALL: [Server; 4] = [
        Server::ApacheHttp,
        Server::ApacheHttps,
        Server::Rclone,
        Server::Sabre,
    ];

    /// The `webdav.sh env` variable holding its URL.
    pub fn url_var(self) -> &'static str {
        match self {
            Server::ApacheHttp => "VAULT_TEST_WEBDAV_APACHE_URL",
            Server::ApacheHttps => "VAULT_TEST_WEBDAV_APACHE_HTTPS_URL",
            Server::Rclone => "VAULT_TEST_WEBDAV_RCLONE_URL",
            Server::Sabre => "VAULT_TEST_WEBDAV_SABRE_URL",
        }
    }

    /// The `webdav.sh env` variable holding the folder it serves.
    pub fn root_var(self) -> &'static str {
        match self {
            Server::ApacheHttp | Server::ApacheHttps => "VAULT_TEST_WEBDAV_APACHE_ROOT",
            Server::Rclone => "VAULT_TEST_WEBDAV_RCLONE_ROOT",
            Server::Sabre => "VAULT_TEST_WEBDAV_SABRE_ROOT",
        }
    }

    /// The name `webdav.sh` uses.
    pub fn script_name(self) -> &'static str {
        match self {
            Server::ApacheHttp | Server::ApacheHttps => "apache",
            Server::Rclone => "rclone",
            Server::Sabre => "sabre",
        }
    }

    fn pid_file(self) -> &'static str {
        match self {
            Server::ApacheHttp | Server::ApacheHttps => "httpd.pid",
            Server::Rclone => "rclone.pid",
            Server::Sabre => "php.pid",
        }
    }
}

/// `webdav.sh` for instance `instance` on ports from `port_base`, with none of the caller's
/// state, netns or bind settings; the caller adds the arguments.
pub fn webdav_sh(instance: &str, port_base: u16) -> Command {
    script(instance, port_base, &[])
}

/// `WRAPPER… bash webdav.sh` for one instance (`wrapper` such as `flock -o LOCK`).
fn script(instance: &str, port_base: u16, wrapper: &[&str]) -> Command {
    let mut cmd = Command::new(wrapper.first().copied().unwrap_or("bash"));
    if !wrapper.is_empty() {
        cmd.args(&wrapper[1..]).arg("bash");
    }
    cmd.arg(servers_dir().join("webdav.sh"))
        .env("VAULT_TEST_INSTANCE", instance)
        .env("VAULT_TEST_PORT_BASE", port_base.to_string())
        .env_remove("VAULT_TEST_STATE_DIR")
        .env_remove("VAULT_TEST_NETNS")
        .env_remove("VAULT_TEST_BIND")
        .stdin(Stdio::null());
    cmd
}

/// Runs `webdav.sh stop all` for the instance once this test process has exited, however it
/// exits; under `flock -o LOCK` when `lock` is given (held from now until the servers are
/// down, so a later start of the same instance waits for the stop).
pub fn stop_all_after_exit(instance: &str, port_base: u16, lock: Option<&str>) {
    let stop = format!(
        "unset VAULT_TEST_STATE_DIR VAULT_TEST_NETNS VAULT_TEST_BIND; exec bash '{}' stop all",
        servers_dir().join("webdav.sh").display()
    );
    let wrapper: Vec<&str> = match lock {
        Some(lock) => vec!["flock", "-o", lock],
        None => Vec::new(),
    };
    after_exit(
        &wrapper,
        &stop,
        &[
            ("VAULT_TEST_INSTANCE", instance.to_owned()),
            ("VAULT_TEST_PORT_BASE", port_base.to_string()),
        ],
    );
}

/// One running set of servers and its `webdav.sh env` variables.
pub struct Servers {
    pub instance: String,
    pub port_base: u16,
    pub env: HashMap<String, String>,
}

impl Servers {
    /// Starts (or finds running) every server for this binary's instance. `suffix` is one
    /// letter per test binary, `offset` its port offset.
    pub fn start(suffix: &str, offset: u16) -> Servers {
        let prefix = std::env::var("VAULT_TEST_INSTANCE").unwrap_or_else(|_| "wd".to_owned());
        let instance = format!("{prefix}{suffix}");
        assert!(
            instance.len() <= 8
                && instance
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "VAULT_TEST_INSTANCE must be 1-7 characters [a-z0-9] (the harness appends one)"
        );
        let port_base = port_base("VAULT_TEST_PORT_BASE", 29600u16) + offset;
        // A watchdog of an earlier run of this binary may still be stopping the servers:
        // flock waits for it (it holds the lock until done).
        let lock = format!("/tmp/vault-webdav-harness-{instance}.lock");
        let out = script(&instance, port_base, &["flock", "-o", "-w", "60", &lock])
            .args(["start", "all"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run flock + tests/servers/webdav.sh: {e}"));
        assert!(
            out.status.success(),
            "starting the WebDAV test servers failed (run tests/servers/install-webdav.sh as root first):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        stop_all_after_exit(&instance, port_base, Some(&lock));
        let mut s = Servers {
            instance,
            port_base,
            env: HashMap::new(),
        };
        s.env = parse_env(&String::from_utf8_lossy(&s.run(&["env"]).stdout));
        s
    }

    /// `webdav.sh ARGS` for this instance.
    pub fn run(&self, args: &[&str]) -> Output {
        script(&self.instance, self.port_base, &[])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run tests/servers/webdav.sh: {e}"))
    }

    /// A variable of `webdav.sh env`.
    pub fn var(&self, key: &str) -> String {
        self.env
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("webdav.sh env lacks {key}"))
    }

    /// The CA certificate of the HTTPS server.
    pub fn ca_cert(&self) -> PathBuf {
        PathBuf::from(self.var("VAULT_TEST_WEBDAV_CA_CERT"))
    }

    /// Stops one server (`webdav.sh stop NAME`).
    pub fn stop(&self, server: Server) {
        let out = self.run(&["stop", server.script_name()]);
        assert!(
            out.status.success(),
            "stop {server:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts one server again.
    pub fn restart(&self, server: Server) {
        let out = self.run(&["start", server.script_name()]);
        assert!(
            out.status.success(),
            "start {server:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The pid of a running server (from its pid file).
    pub fn pid(&self, server: Server) -> Option<u32> {
        let state = PathBuf::from(self.var(server.root_var()));
        let dir = state.parent()?;
        std::fs::read_to_string(dir.join(server.pid_file()))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}
