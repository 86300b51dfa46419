//! `sftp://` URLs, `~/.ssh/config` and the connection settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::SftpError;
use crate::ssh_config::{HostSettings, Proxy, expand_tokens, ssh_config_lookup};

/// Where the vault lives on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteRoot {
    /// An absolute path (`sftp://host/srv/vault` → `/srv/vault`).
    Absolute(String),
    /// A path relative to the login's home (`sftp://host/~/vault` → `vault`;
    /// `sftp://host/~` → the home itself, the empty string).
    Home(String),
}

impl std::fmt::Display for RemoteRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoteRoot::Absolute(p) => f.write_str(p),
            RemoteRoot::Home(p) if p.is_empty() => f.write_str("~"),
            RemoteRoot::Home(p) => write!(f, "~/{p}"),
        }
    }
}

/// A parsed `sftp://[user@]host[:port]/path` URL (nothing resolved yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SftpUrl {
    /// The user from the URL, if any.
    pub user: Option<String>,
    /// The host as written (a `~/.ssh/config` alias, name or address; IPv6 without brackets).
    pub host: String,
    /// The port from the URL, if any.
    pub port: Option<u16>,
    /// The remote folder.
    pub root: RemoteRoot,
}

fn percent_decode(s: &str) -> Result<String, SftpError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .ok_or_else(|| SftpError::InvalidUrl(format!("bad %-escape in {s:?}")))?;
            let v = u8::from_str_radix(hex, 16)
                .map_err(|_| SftpError::InvalidUrl(format!("bad %-escape in {s:?}")))?;
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| SftpError::InvalidUrl(format!("{s:?} is not UTF-8 after %-decoding")))
}

/// Parses `sftp://[user@]host[:port]/path`. The path is absolute on the
/// server; `/~/path` (or `/~`) is relative to the login's home, as in curl and
/// GVFS. `%XX` escapes are decoded in the user and the path. A trailing `/` is
/// ignored.
pub fn parse_sftp_url(url: &str) -> Result<SftpUrl, SftpError> {
    let rest = url
        .strip_prefix("sftp://")
        .ok_or_else(|| SftpError::InvalidUrl(format!("{url:?} does not start with sftp://")))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (user, hostport) = match authority.rfind('@') {
        Some(i) => (Some(percent_decode(&authority[..i])?), &authority[i + 1..]),
        None => (None, authority),
    };
    if user.as_deref() == Some("") {
        return Err(SftpError::InvalidUrl(format!("empty user name in {url:?}")));
    }
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let end = v6
            .find(']')
            .ok_or_else(|| SftpError::InvalidUrl(format!("unclosed [ in {url:?}")))?;
        let host = &v6[..end];
        let after = &v6[end + 1..];
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| SftpError::InvalidUrl(format!("junk after ] in {url:?}")))?,
            ),
        };
        (host.to_owned(), port)
    } else {
        match hostport.rfind(':') {
            Some(i) => (hostport[..i].to_owned(), Some(&hostport[i + 1..])),
            None => (hostport.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err(SftpError::InvalidUrl(format!("no host in {url:?}")));
    }
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| SftpError::InvalidUrl(format!("bad port {p:?} in {url:?}")))?,
        ),
    };
    let path = percent_decode(path)?;
    let trimmed = path.trim_end_matches('/');
    let root = if trimmed == "/~" {
        RemoteRoot::Home(String::new())
    } else if let Some(rel) = trimmed.strip_prefix("/~/") {
        RemoteRoot::Home(rel.trim_start_matches('/').to_owned())
    } else if trimmed.is_empty() {
        RemoteRoot::Absolute("/".to_owned())
    } else {
        RemoteRoot::Absolute(trimmed.to_owned())
    };
    Ok(SftpUrl {
        user,
        host,
        port,
        root,
    })
}

/// Everything needed to connect. Build it with [`SftpConfig::from_url`] (which
/// honours `~/.ssh/config`), then adjust fields (`-i`, `--known-hosts`,
/// `--accept-new-host-key`) before [`crate::SftpStorage::connect`].
#[derive(Debug, Clone)]
pub struct SftpConfig {
    /// Host name or address to connect to (after `HostName` from `~/.ssh/config`).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Login name.
    pub user: String,
    /// The vault folder on the server.
    pub root: RemoteRoot,
    /// Private key files to try, in order (`-i` first, then `IdentityFile`,
    /// else `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`). Missing files are skipped.
    pub identity_files: Vec<PathBuf>,
    /// Try keys from ssh-agent (`$SSH_AUTH_SOCK`) before the identity files.
    pub use_agent: bool,
    /// The known_hosts file checked and appended to.
    pub known_hosts: PathBuf,
    /// The system-wide known_hosts consulted too (read only): `/etc/ssh/ssh_known_hosts`
    /// by default, `None` when the user named a file (`--known-hosts`).
    pub global_known_hosts: Option<PathBuf>,
    /// Accept (and record) an unknown host key without asking.
    pub accept_new_host_key: bool,
    /// TCP connect + SSH handshake limit for one attempt.
    pub connect_timeout: Duration,
    /// Longest a single storage call waits for its SFTP replies.
    pub request_timeout: Duration,
    /// Longest a call waits for a dropped connection to come back before it
    /// fails with `Unavailable`.
    pub reconnect_wait: Duration,
    /// SSH keepalive interval (when the server is silent this long).
    pub keepalive_interval: Duration,
    /// Unanswered keepalives after which the connection counts as dead.
    pub keepalive_max: usize,
    /// Bytes per SFTP read/write request in large transfers.
    pub chunk_size: u32,
    /// SFTP requests in flight per large transfer.
    pub pipeline_depth: usize,
    /// Create the vault folder (one level, its parent must exist) when it is
    /// missing, as `vault create` does for a local folder.
    pub create_root: bool,
    /// Jump hosts, outermost first (`ProxyJump`, `-J`): each is a full SSH login of its
    /// own, and the next hop's connection runs through a `direct-tcpip` channel of it.
    pub proxy_jump: Vec<JumpHost>,
    /// A command whose stdin/stdout carry the connection (`ProxyCommand`, tokens already
    /// substituted), run as `sh -c "exec COMMAND"`. Not used when `proxy_jump` is set.
    pub proxy_command: Option<String>,
    /// The ssh_config text `from_url` read (jump hosts are looked up in it too).
    pub(crate) ssh_config_text: Option<String>,
}

impl SftpConfig {
    /// How long a connection may stay silent (no reply to keepalives, or a write that
    /// cannot be sent) before it counts as dead: the keepalive interval times one more
    /// than the unanswered keepalives allowed. `None` when keepalives are off.
    pub fn dead_after(&self) -> Option<Duration> {
        if self.keepalive_max == 0 || self.keepalive_interval.is_zero() {
            return None;
        }
        let rounds = u32::try_from(self.keepalive_max)
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        Some(self.keepalive_interval.saturating_mul(rounds))
    }
}

/// The system-wide known_hosts of OpenSSH.
pub const GLOBAL_KNOWN_HOSTS: &str = "/etc/ssh/ssh_known_hosts";

impl SftpConfig {
    /// A configuration with defaults and no `~/.ssh/config` (for tests and
    /// callers that resolved everything themselves).
    pub fn new(
        host: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        root: RemoteRoot,
    ) -> Self {
        let home = home_dir();
        SftpConfig {
            host: host.into(),
            port,
            user: user.into(),
            root,
            identity_files: default_identities(home.as_deref()),
            use_agent: true,
            known_hosts: home
                .map(|h| h.join(".ssh/known_hosts"))
                .unwrap_or_else(|| PathBuf::from(".ssh/known_hosts")),
            global_known_hosts: Some(PathBuf::from(GLOBAL_KNOWN_HOSTS)),
            accept_new_host_key: false,
            connect_timeout: Duration::from_secs(20),
            request_timeout: Duration::from_secs(60),
            reconnect_wait: Duration::from_secs(60),
            keepalive_interval: Duration::from_secs(15),
            keepalive_max: 4,
            chunk_size: 32 * 1024,
            pipeline_depth: 64,
            create_root: false,
            proxy_jump: Vec::new(),
            proxy_command: None,
            ssh_config_text: None,
        }
    }

    /// From a parsed URL, honouring `ssh_config` (`None`: `~/.ssh/config` if it
    /// exists) for `HostName`, `Port`, `User` and `IdentityFile`. URL values win
    /// over the file, as on the ssh command line. Add `-i` files with
    /// [`SftpConfig::add_identity_first`].
    pub fn from_url(url: &SftpUrl, ssh_config: Option<&Path>) -> Result<Self, SftpError> {
        let home = home_dir();
        let file = match ssh_config {
            Some(p) => Some(p.to_path_buf()),
            None => home
                .as_ref()
                .map(|h| h.join(".ssh/config"))
                .filter(|p| p.exists()),
        };
        let text = match &file {
            Some(p) => Some(
                std::fs::read_to_string(p)
                    .map_err(|e| SftpError::Config(format!("cannot read {}: {e}", p.display())))?,
            ),
            None => None,
        };
        let found = match &text {
            Some(text) => ssh_config_lookup(text, &url.host)?,
            None => HostSettings::default(),
        };
        let user = url
            .user
            .clone()
            .or(found.user)
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("LOGNAME").ok())
            .ok_or_else(|| SftpError::Config("no user name: put user@ in the URL".into()))?;
        let host = found
            .hostname
            .map(|h| h.replace("%h", &url.host))
            .unwrap_or_else(|| url.host.clone());
        let port = url.port.or(found.port).unwrap_or(22);
        let mut cfg = SftpConfig::new(host, port, user, url.root.clone());
        if !found.identity_files.is_empty() {
            cfg.identity_files = found
                .identity_files
                .iter()
                .map(|f| expand_tokens(f, home.as_deref(), &cfg.host, &url.host, port, &cfg.user))
                .collect();
        }
        cfg.ssh_config_text = text.clone();
        match found.proxy {
            Some(Proxy::Jump(spec)) => cfg.set_proxy_jump(&spec)?,
            Some(Proxy::Command(cmd)) if cmd != "none" => {
                let expanded =
                    expand_tokens(&cmd, home.as_deref(), &cfg.host, &url.host, port, &cfg.user);
                cfg.proxy_command = Some(expanded.to_string_lossy().into_owned());
            }
            _ => {}
        }
        Ok(cfg)
    }

    /// Puts `-i FILE` in front of the identity list (OpenSSH tries it first).
    pub fn add_identity_first(&mut self, file: PathBuf) {
        self.identity_files.retain(|f| f != &file);
        self.identity_files.insert(0, file);
    }

    /// The name known_hosts uses for this server: `host` on port 22, else `[host]:port`
    /// (lowercase: host names compare case-insensitively).
    pub fn known_hosts_name(&self) -> String {
        known_hosts_name(&self.host, self.port)
    }

    /// `--known-hosts FILE`: the file the user named is the only one consulted (OpenSSH's
    /// `UserKnownHostsFile FILE` with `GlobalKnownHostsFile none`), so a test or a locked-down
    /// setup is not overruled by a key in `/etc/ssh/ssh_known_hosts`.
    pub fn use_known_hosts_file(&mut self, file: PathBuf) {
        self.known_hosts = file;
        self.global_known_hosts = None;
    }
}

pub(crate) fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

pub(crate) fn default_identities(home: Option<&Path>) -> Vec<PathBuf> {
    match home {
        Some(h) => ["id_ed25519", "id_ecdsa", "id_rsa"]
            .iter()
            .map(|n| h.join(".ssh").join(n))
            .collect(),
        None => Vec::new(),
    }
}

/// Jump hosts allowed in one chain (OpenSSH has no limit; a longer chain is a mistake).
const MAX_JUMPS: usize = 8;

/// One jump host, resolved through ssh_config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpHost {
    /// Host name or address to connect to (after `HostName`).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Login name on the jump host (its `User`, else the local user: not the final
    /// server's user, as in ssh).
    pub user: String,
    /// Private key files to try (its `IdentityFile`s, else the defaults).
    pub identity_files: Vec<PathBuf>,
}

impl JumpHost {
    /// The name known_hosts uses for it (`host`, or `[host]:port` off port 22).
    pub fn known_hosts_name(&self) -> String {
        known_hosts_name(&self.host, self.port)
    }
}

pub(crate) fn known_hosts_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

impl SftpConfig {
    /// Sets the jump hosts from `-J` / `ProxyJump` text: `[user@]host[:port]` or
    /// `ssh://[user@]host[:port]`, comma-separated, outermost first; `none` removes them.
    /// Each host is looked up in the ssh_config [`SftpConfig::from_url`] read (`HostName`,
    /// `Port`, `User`, `IdentityFile`; a jump host's own `ProxyJump` is not followed).
    /// Replaces a `ProxyCommand`.
    pub fn set_proxy_jump(&mut self, spec: &str) -> Result<(), SftpError> {
        self.proxy_command = None;
        self.proxy_jump.clear();
        let spec = spec.trim();
        if spec.eq_ignore_ascii_case("none") {
            return Ok(());
        }
        let words: Vec<&str> = spec.split(',').map(str::trim).collect();
        if words.len() > MAX_JUMPS {
            return Err(SftpError::Config(format!(
                "more than {MAX_JUMPS} jump hosts in {spec:?}"
            )));
        }
        for word in words {
            let jump = self.resolve_jump(word)?;
            self.proxy_jump.push(jump);
        }
        Ok(())
    }

    fn resolve_jump(&self, word: &str) -> Result<JumpHost, SftpError> {
        let bad = |why: &str| SftpError::Config(format!("bad jump host {word:?}: {why}"));
        let bare = word.strip_prefix("ssh://").unwrap_or(word);
        if bare.is_empty() || bare.contains('/') || bare.starts_with('-') {
            return Err(bad("expected [USER@]HOST[:PORT]"));
        }
        let url = parse_sftp_url(&format!("sftp://{bare}")).map_err(|e| bad(&e.to_string()))?;
        let found = match &self.ssh_config_text {
            Some(text) => ssh_config_lookup(text, &url.host)?,
            None => Default::default(),
        };
        let home = home_dir();
        let user = url
            .user
            .or(found.user)
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("LOGNAME").ok())
            .ok_or_else(|| bad("no user name: write USER@HOST"))?;
        let host = found
            .hostname
            .map(|h| h.replace("%h", &url.host))
            .unwrap_or_else(|| url.host.clone());
        let port = url.port.or(found.port).unwrap_or(22);
        let identity_files = if found.identity_files.is_empty() {
            default_identities(home.as_deref())
        } else {
            found
                .identity_files
                .iter()
                .map(|f| expand_tokens(f, home.as_deref(), &host, &url.host, port, &user))
                .collect()
        };
        Ok(JumpHost {
            host,
            port,
            user,
            identity_files,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_system_known_hosts_is_consulted_unless_a_file_is_named() {
        let mut c = SftpConfig::new("h", 22, "u", RemoteRoot::Home(String::new()));
        assert_eq!(
            c.global_known_hosts.as_deref(),
            Some(Path::new(GLOBAL_KNOWN_HOSTS))
        );
        c.use_known_hosts_file(PathBuf::from("/tmp/kh"));
        assert_eq!(c.known_hosts, Path::new("/tmp/kh"));
        assert_eq!(c.global_known_hosts, None);
    }

    #[test]
    fn a_connection_is_dead_after_the_keepalives_it_may_miss() {
        let mut c = SftpConfig::new("h", 22, "u", RemoteRoot::Home(String::new()));
        assert_eq!(
            c.dead_after(),
            Some(Duration::from_secs(75)),
            "15 s x (4 + 1)"
        );
        c.keepalive_interval = Duration::from_secs(3);
        c.keepalive_max = 3;
        assert_eq!(c.dead_after(), Some(Duration::from_secs(12)));
        c.keepalive_max = 0;
        assert_eq!(
            c.dead_after(),
            None,
            "keepalives off: no silence limit either"
        );
    }

    #[test]
    fn urls() {
        let u = parse_sftp_url("sftp://traveller@example.org:2222/srv/vault/").unwrap();
        assert_eq!(u.user.as_deref(), Some("traveller"));
        assert_eq!(u.host, "example.org");
        assert_eq!(u.port, Some(2222));
        assert_eq!(u.root, RemoteRoot::Absolute("/srv/vault".into()));
        let u = parse_sftp_url("sftp://host/~/My%20Vault").unwrap();
        assert_eq!(u.user, None);
        assert_eq!(u.port, None);
        assert_eq!(u.root, RemoteRoot::Home("My Vault".into()));
        assert_eq!(
            parse_sftp_url("sftp://host/~").unwrap().root,
            RemoteRoot::Home(String::new())
        );
        assert_eq!(
            parse_sftp_url("sftp://host").unwrap().root,
            RemoteRoot::Absolute("/".into())
        );
        let u = parse_sftp_url("sftp://me@[::1]:22/x").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", Some(22)));
        for bad in [
            "http://x/y",
            "sftp:///x",
            "sftp://h:0/x",
            "sftp://h:99999/x",
            "sftp://@h/x",
            "sftp://h/%zz",
        ] {
            assert!(
                matches!(parse_sftp_url(bad), Err(SftpError::InvalidUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn config_from_url_with_ssh_config() {
        let dir = tempfile::tempdir().unwrap();
        let cfgfile = dir.path().join("config");
        std::fs::write(
            &cfgfile,
            "Host trip\n HostName 10.0.0.7\n Port 2022\n User carol\n IdentityFile /keys/%r_%h\n",
        )
        .unwrap();
        let url = parse_sftp_url("sftp://trip/~/v").unwrap();
        let c = SftpConfig::from_url(&url, Some(&cfgfile)).unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.user.as_str()),
            ("10.0.0.7", 2022, "carol")
        );
        assert_eq!(
            c.identity_files,
            vec![PathBuf::from("/keys/carol_10.0.0.7")]
        );
        assert_eq!(c.known_hosts_name(), "[10.0.0.7]:2022");
        let url = parse_sftp_url("sftp://dave@trip:23/abs").unwrap();
        let mut c = SftpConfig::from_url(&url, Some(&cfgfile)).unwrap();
        assert_eq!((c.port, c.user.as_str()), (23, "dave"));
        c.add_identity_first(PathBuf::from("/k/i"));
        assert_eq!(c.identity_files[0], PathBuf::from("/k/i"));
    }
}
