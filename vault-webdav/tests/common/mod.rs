//! Test harness: the three WebDAV servers of `tests/servers/webdav.sh` (from `test-support`:
//! started once per test binary, on ports and a state dir of its own, stopped when the test
//! process exits), and the backend's configs and connections to them.
#![allow(dead_code, unused_imports)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use secrecy::SecretString;
pub use test_support::webdav::Server;
use vault_storage::{Storage, StorageErrorKind, StoragePath};
use vault_webdav::{WebDavConfig, WebDavStorage};

pub fn scripts_dir() -> PathBuf {
    test_support::paths::servers_dir()
}

/// One running set of servers (every method of `test_support::webdav::Servers`, and the
/// backend's configs and connections).
pub struct Servers(test_support::webdav::Servers);

impl std::ops::Deref for Servers {
    type Target = test_support::webdav::Servers;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Servers {
    /// Starts (or finds running) every server for this binary's instance.
    /// `suffix` is one letter per test binary, `offset` its port offset.
    pub fn start(suffix: &str, offset: u16) -> Servers {
        Servers(test_support::webdav::Servers::start(suffix, offset))
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
