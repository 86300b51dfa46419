//! The ssh_config(5) subset the backend honours: `Host` / `Match host` blocks and the keys
//! `HostName`, `Port`, `User`, `IdentityFile`, `ProxyJump`, `ProxyCommand`.

use std::path::{Path, PathBuf};

use crate::SftpError;

/// Replaces `%h` (host), `%n` (the name as written), `%p`, `%r` (user), `%d` (home) and `%%`;
/// a leading `~/` becomes the home folder.
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
}
