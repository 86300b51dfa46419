//! Test harness: starts the three WebDAV servers of `tests/servers/webdav.sh`
//! (Apache mod_dav HTTP + HTTPS, `rclone serve webdav`, SabreDAV under
//! `php -S`) once per test binary, on ports and a state dir of its own, and
//! stops them when the test process exits (a detached watchdog waits for our
//! pid, then runs `webdav.sh stop all`).
//!
//! Environment: `VAULT_TEST_INSTANCE` (prefix of the instance name, default
//! `wd`; each test binary appends its own letter) and `VAULT_TEST_PORT_BASE`
//! (default 29600; each binary adds its own offset). Needs root and the
//! packages of `tests/servers/install-webdav.sh`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use secrecy::SecretString;
use vault_storage::{Storage, StorageErrorKind, StoragePath};
use vault_webdav::{WebDavConfig, WebDavStorage};

pub fn scripts_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/servers"))
}

/// One running set of servers and its `webdav.sh env` variables.
pub struct Servers {
    pub instance: String,
    pub port_base: u16,
    pub env: HashMap<String, String>,
}

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

    pub fn url_var(self) -> &'static str {
        match self {
            Server::ApacheHttp => "VAULT_TEST_WEBDAV_APACHE_URL",
            Server::ApacheHttps => "VAULT_TEST_WEBDAV_APACHE_HTTPS_URL",
            Server::Rclone => "VAULT_TEST_WEBDAV_RCLONE_URL",
            Server::Sabre => "VAULT_TEST_WEBDAV_SABRE_URL",
        }
    }

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
}

fn run_script(instance: &str, base: u16, args: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg(scripts_dir().join("webdav.sh"))
        .args(args)
        .env("VAULT_TEST_INSTANCE", instance)
        .env("VAULT_TEST_PORT_BASE", base.to_string())
        .env_remove("VAULT_TEST_STATE_DIR")
        .env_remove("VAULT_TEST_NETNS")
        .env_remove("VAULT_TEST_BIND")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run tests/servers/webdav.sh: {e}"))
}

impl Servers {
    /// Starts (or finds running) every server for this binary's instance.
    /// `suffix` is one letter per test binary, `offset` its port offset.
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
        let base: u16 = std::env::var("VAULT_TEST_PORT_BASE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(29600);
        let port_base = base + offset;
        // A watchdog of an earlier run of this binary may still be stopping
        // the servers: flock waits for it (it holds the lock until done).
        let lock = format!("/tmp/vault-webdav-harness-{instance}.lock");
        let out = Command::new("flock")
            .args(["-o", "-w", "60", &lock, "bash"])
            .arg(scripts_dir().join("webdav.sh"))
            .args(["start", "all"])
            .env("VAULT_TEST_INSTANCE", &instance)
            .env("VAULT_TEST_PORT_BASE", port_base.to_string())
            .env_remove("VAULT_TEST_STATE_DIR")
            .env_remove("VAULT_TEST_NETNS")
            .env_remove("VAULT_TEST_BIND")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run flock + tests/servers/webdav.sh: {e}"));
        assert!(
            out.status.success(),
            "starting the WebDAV test servers failed (run tests/servers/install-webdav.sh as root first):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // Stop them when this test process exits, however it exits.
        let watchdog = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; exec bash {script} stop all",
            pid = std::process::id(),
            script = scripts_dir().join("webdav.sh").display()
        );
        // Detached on purpose: it outlives this process to stop the servers.
        #[allow(clippy::zombie_processes)]
        Command::new("setsid")
            .args(["flock", "-o", &lock, "bash", "-c", &watchdog])
            .env("VAULT_TEST_INSTANCE", &instance)
            .env("VAULT_TEST_PORT_BASE", port_base.to_string())
            .env_remove("VAULT_TEST_STATE_DIR")
            .env_remove("VAULT_TEST_NETNS")
            .env_remove("VAULT_TEST_BIND")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the server watchdog");
        let out = run_script(&instance, port_base, &["env"]);
        let env = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Servers {
            instance,
            port_base,
            env,
        }
    }

    pub fn var(&self, key: &str) -> String {
        self.env
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("webdav.sh env lacks {key}"))
    }

    pub fn ca_cert(&self) -> PathBuf {
        PathBuf::from(self.var("VAULT_TEST_WEBDAV_CA_CERT"))
    }

    /// Stops one server (`webdav.sh stop NAME`).
    pub fn stop(&self, server: Server) {
        let out = run_script(
            &self.instance,
            self.port_base,
            &["stop", server.script_name()],
        );
        assert!(
            out.status.success(),
            "stop {server:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts one server again.
    pub fn restart(&self, server: Server) {
        let out = run_script(
            &self.instance,
            self.port_base,
            &["start", server.script_name()],
        );
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
        let file = match server {
            Server::ApacheHttp | Server::ApacheHttps => "httpd.pid",
            Server::Rclone => "rclone.pid",
            Server::Sabre => "php.pid",
        };
        std::fs::read_to_string(dir.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// A config for `server` below `sub` (a folder created on demand).
    pub fn config(&self, server: Server, sub: &str) -> WebDavConfig {
        let url = format!("{}{sub}/", self.var(server.url_var()));
        let mut config = WebDavConfig::parse(&url).expect("test URL parses");
        config.user = Some(self.var("VAULT_TEST_WEBDAV_USER"));
        config.password = Some(SecretString::from(self.var("VAULT_TEST_WEBDAV_PASSWORD")));
        if server == Server::ApacheHttps {
            config.ca_cert = Some(self.ca_cert());
        }
        config.timeout = Duration::from_secs(30);
        config
    }

    /// Connects to `server` below folder `sub`, creating it first.
    pub async fn storage(&self, server: Server, sub: &str) -> Arc<WebDavStorage> {
        let mut parent = self.config(server, "");
        parent.base_url = reqwest::Url::parse(&self.var(server.url_var())).expect("server URL");
        let at_root = WebDavStorage::connect(parent)
            .await
            .unwrap_or_else(|e| panic!("connect {server:?}: {e}"));
        match at_root
            .create_dir(&StoragePath::new(sub).expect("sub folder name"))
            .await
        {
            Ok(()) => {}
            Err(e) if e.kind() == StorageErrorKind::AlreadyExists => {}
            Err(e) => panic!("create {sub} on {server:?}: {e}"),
        }
        let storage = WebDavStorage::connect(self.config(server, sub))
            .await
            .unwrap_or_else(|e| panic!("connect {server:?}/{sub}: {e}"));
        Arc::new(storage)
    }
}

static SHARED: OnceLock<Servers> = OnceLock::new();

/// The servers shared by all tests of one binary.
pub fn shared(suffix: &str, offset: u16) -> &'static Servers {
    SHARED.get_or_init(|| Servers::start(suffix, offset))
}

/// Quirks of all three servers: HTTP dates keep whole seconds.
pub fn quirks() -> vault_storage::conformance::Quirks {
    vault_storage::conformance::Quirks {
        mtime_granularity: Duration::from_secs(1),
        ..Default::default()
    }
}

pub fn as_dyn(s: Arc<WebDavStorage>) -> Arc<dyn Storage> {
    s
}
