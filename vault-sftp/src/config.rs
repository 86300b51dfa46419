//! `sftp://` URLs, `~/.ssh/config` and the connection settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{JumpHost, SftpError};

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
    /// substituted), run with `sh -c`. Not used when `proxy_jump` is set.
    pub proxy_command: Option<String>,
    /// The ssh_config text `from_url` read (jump hosts are looked up in it too).
    pub(crate) ssh_config_text: Option<String>,
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
        crate::proxy::known_hosts_name(&self.host, self.port)
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

pub(crate) fn expand_tokens(
    f: &str,
    home: Option<&Path>,
    host: &str,
    alias: &str,
    port: u16,
    user: &str,
) -> PathBuf {
    let mut s = String::new();
    let mut chars = f.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some('h') => s.push_str(host),
                Some('n') => s.push_str(alias),
                Some('p') => s.push_str(&port.to_string()),
                Some('r') => s.push_str(user),
                Some('d') => s.push_str(&home.map(|h| h.display().to_string()).unwrap_or_default()),
                Some('%') => s.push('%'),
                Some(o) => {
                    s.push('%');
                    s.push(o)
                }
                None => s.push('%'),
            }
        } else {
            s.push(c);
        }
    }
    if let (Some(rest), Some(h)) = (s.strip_prefix("~/"), home) {
        return h.join(rest);
    }
    PathBuf::from(s)
}

/// How the connection reaches the host (`ProxyJump` and `ProxyCommand` compete: the first
/// one given wins, as in ssh).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proxy {
    /// `ProxyJump` text (`none` included).
    Jump(String),
    /// `ProxyCommand` text, unexpanded (`none` included).
    Command(String),
}

/// The settings `~/.ssh/config` gives one host (first value wins, as in ssh;
/// `IdentityFile` accumulates).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HostSettings {
    /// `HostName`.
    pub hostname: Option<String>,
    /// `Port`.
    pub port: Option<u16>,
    /// `User`.
    pub user: Option<String>,
    /// `IdentityFile` values, unexpanded.
    pub identity_files: Vec<String>,
    /// `ProxyJump` or `ProxyCommand`, whichever came first.
    pub proxy: Option<Proxy>,
}

/// `*` and `?` glob match as in ssh_config(5).
fn glob(pat: &[u8], s: &[u8]) -> bool {
    match (pat.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&pat[1..], s) || (!s.is_empty() && glob(pat, &s[1..])),
        (Some(b'?'), Some(_)) => glob(&pat[1..], &s[1..]),
        (Some(p), Some(c)) if p.eq_ignore_ascii_case(c) => glob(&pat[1..], &s[1..]),
        _ => false,
    }
}

/// Matches a comma/space list of patterns with `!` negation.
pub(crate) fn pattern_list_matches(patterns: &[&str], name: &str) -> bool {
    let mut matched = false;
    for p in patterns {
        if let Some(neg) = p.strip_prefix('!') {
            if glob(neg.as_bytes(), name.as_bytes()) {
                return false;
            }
        } else if glob(p.as_bytes(), name.as_bytes()) {
            matched = true;
        }
    }
    matched
}

/// Looks `host` up in the text of an ssh_config file: `Host` blocks (patterns,
/// `!` negation) and `Match all`/`Match host`; other `Match` criteria are
/// skipped with their block. `Include` is not followed.
pub fn ssh_config_lookup(text: &str, host: &str) -> Result<HostSettings, SftpError> {
    let mut out = HostSettings::default();
    let mut active = true;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.find(|c: char| c.is_whitespace() || c == '=') {
            Some(i) => (
                &line[..i],
                line[i..]
                    .trim_start_matches(|c: char| c.is_whitespace() || c == '=')
                    .trim(),
            ),
            None => (line, ""),
        };
        let value = value.trim_matches('"');
        let key = key.to_ascii_lowercase();
        match key.as_str() {
            "host" => {
                let pats: Vec<&str> = value.split_whitespace().collect();
                active = pattern_list_matches(&pats, host);
            }
            "match" => {
                let words: Vec<&str> = value.split_whitespace().collect();
                active = match words.as_slice() {
                    ["all"] => true,
                    ["host", list] => {
                        pattern_list_matches(&list.split(',').collect::<Vec<_>>(), host)
                    }
                    _ => false,
                };
            }
            _ if !active => {}
            "hostname" if out.hostname.is_none() => out.hostname = Some(value.to_owned()),
            "user" if out.user.is_none() => out.user = Some(value.to_owned()),
            "port" if out.port.is_none() => {
                out.port = Some(value.parse().map_err(|_| {
                    SftpError::Config(format!("ssh config line {}: bad Port {value:?}", n + 1))
                })?)
            }
            "identityfile" => out.identity_files.push(value.to_owned()),
            "proxyjump" if out.proxy.is_none() => out.proxy = Some(Proxy::Jump(value.to_owned())),
            // The command keeps its quotes: it goes to `sh -c` as written.
            "proxycommand" if out.proxy.is_none() => {
                let raw = line[key.len()..]
                    .trim_start_matches(|c: char| c.is_whitespace() || c == '=')
                    .trim();
                out.proxy = Some(Proxy::Command(raw.to_owned()))
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
    fn ssh_config() {
        let text = "# comment\nHost *.example.org !bad.example.org\n  User alice\n  Port 2200\n\
                    Host vault\n  HostName real.example.org\n  IdentityFile ~/.ssh/travel_key\n  User bob\n\
                    Host *\n  User nobody\n  IdentityFile=%d/.ssh/id_other\n";
        let s = ssh_config_lookup(text, "vault").unwrap();
        assert_eq!(s.hostname.as_deref(), Some("real.example.org"));
        assert_eq!(s.user.as_deref(), Some("bob"));
        assert_eq!(s.port, None);
        assert_eq!(
            s.identity_files,
            vec!["~/.ssh/travel_key", "%d/.ssh/id_other"]
        );
        let s = ssh_config_lookup(text, "a.example.org").unwrap();
        assert_eq!((s.user.as_deref(), s.port), (Some("alice"), Some(2200)));
        let s = ssh_config_lookup(text, "bad.example.org").unwrap();
        assert_eq!((s.user.as_deref(), s.port), (Some("nobody"), None));
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
