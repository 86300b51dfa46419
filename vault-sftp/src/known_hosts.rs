//! known_hosts checking (plain and hashed `|1|salt|hash` entries, patterns
//! with `*`/`?`/`!`, `@revoked`), and appending accepted keys. Host names compare
//! case-insensitively, as in OpenSSH (which lowercases a name before matching or hashing).
//! `@cert-authority` lines are recognised only to say that host certificates are not
//! supported.

use std::io::Write;
use std::path::Path;

use data_encoding::BASE64;
use hmac::{Hmac, Mac};
use russh::keys::ssh_key::{Algorithm, HashAlg, PublicKey};
use sha1::Sha1;

use crate::ssh_config::pattern_list_matches;

/// What known_hosts says about a server key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyStatus {
    /// A line for this host holds exactly this key.
    Known,
    /// No line for this host at all.
    Unknown,
    /// The host has recorded keys but not this one (same type: changed; other
    /// types only: also refused, stricter than OpenSSH), or the key is `@revoked`.
    Changed {
        /// 1-based line of the first recorded key for the host (or the revocation).
        line: usize,
    },
    /// No key for this host, but an `@cert-authority` line names it: the user relies on
    /// host certificates, which this client does not support.
    CertAuthority {
        /// 1-based line of the `@cert-authority` entry.
        line: usize,
    },
}

/// `SHA256:…` as OpenSSH prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

fn hashed_matches(entry: &str, name: &str) -> bool {
    let Some(rest) = entry.strip_prefix("|1|") else {
        return false;
    };
    let Some((salt, hash)) = rest.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (
        BASE64.decode(salt.as_bytes()),
        BASE64.decode(hash.as_bytes()),
    ) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha1> as Mac>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// Whether a known_hosts host field matches `name` (already lowercased).
fn host_matches(field: &str, name: &str) -> bool {
    if field.starts_with("|1|") {
        return hashed_matches(field, name);
    }
    let field = field.to_ascii_lowercase();
    let pats: Vec<&str> = field.split(',').collect();
    pattern_list_matches(&pats, name)
}

struct Entry {
    line: usize,
    revoked: bool,
    /// An `@cert-authority` line (its key signs host certificates; not used here).
    authority: bool,
    key: PublicKey,
}

fn entries_for(text: &str, name: &str) -> Vec<Entry> {
    let name = name.to_ascii_lowercase();
    let name = name.as_str();
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let mut first = fields.next().unwrap_or("");
        let (mut revoked, mut authority) = (false, false);
        if first.starts_with('@') {
            match first {
                "@revoked" => revoked = true,
                "@cert-authority" => authority = true,
                _ => continue,
            }
            first = fields.next().unwrap_or("");
        }
        if !host_matches(first, name) {
            continue;
        }
        let (Some(kt), Some(b64)) = (fields.next(), fields.next()) else {
            continue;
        };
        if let Ok(key) = PublicKey::from_openssh(&format!("{kt} {b64}")) {
            out.push(Entry {
                line: i + 1,
                revoked,
                authority,
                key,
            });
        }
    }
    out
}

/// Checks `key` for the known_hosts `name` (`host` or `[host]:port`). A missing file is empty.
/// An `@cert-authority` line for the host is reported only when no key is recorded for it.
pub fn check(path: &Path, name: &str, key: &PublicKey) -> std::io::Result<HostKeyStatus> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        // (a path under a plain file does not exist either)
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            String::new()
        }
        Err(e) => return Err(e),
    };
    let (authorities, entries): (Vec<Entry>, Vec<Entry>) = entries_for(&text, name)
        .into_iter()
        .partition(|e| e.authority);
    if let Some(r) = entries
        .iter()
        .find(|e| e.revoked && e.key.key_data() == key.key_data())
    {
        return Ok(HostKeyStatus::Changed { line: r.line });
    }
    let recorded: Vec<&Entry> = entries.iter().filter(|e| !e.revoked).collect();
    if recorded.iter().any(|e| e.key.key_data() == key.key_data()) {
        return Ok(HostKeyStatus::Known);
    }
    match recorded
        .iter()
        .find(|e| same_family(&e.key.algorithm(), &key.algorithm()))
        .or(recorded.first())
    {
        Some(e) => Ok(HostKeyStatus::Changed { line: e.line }),
        None => Ok(match authorities.first() {
            Some(a) => HostKeyStatus::CertAuthority { line: a.line },
            None => HostKeyStatus::Unknown,
        }),
    }
}

fn same_family(a: &Algorithm, b: &Algorithm) -> bool {
    matches!((a, b), (Algorithm::Rsa { .. }, Algorithm::Rsa { .. })) || a == b
}

/// Host key algorithms recorded for `name`, so the client can prefer them
/// (as OpenSSH does) and a known server is never asked about a second key type.
pub fn recorded_algorithms(path: &Path, name: &str) -> Vec<Algorithm> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out: Vec<Algorithm> = Vec::new();
    for e in entries_for(&text, name)
        .into_iter()
        .filter(|e| !e.revoked && !e.authority)
    {
        let a = e.key.algorithm();
        if !out.iter().any(|o| same_family(o, &a)) {
            out.push(a);
        }
    }
    out
}

/// Appends `name keytype base64` to the file (creating it and its folder).
pub fn append(path: &Path, name: &str, key: &PublicKey) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let existing = std::fs::read(path).unwrap_or_default();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if !existing.is_empty() && !existing.ends_with(b"\n") {
        f.write_all(b"\n")?;
    }
    let openssh = key.to_openssh().map_err(std::io::Error::other)?;
    let mut parts = openssh.split_whitespace();
    let (kt, b64) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    writeln!(f, "{} {kt} {b64}", name.to_ascii_lowercase())?;
    f.sync_all()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINvxXSjGj55Dc5RDyGQqU67NcSWUJvx+PBgvkakd7Rus";
    const ED2: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIt8Oj0WBRYSN17veBKbdbG3YES1g/uWbWvFUAUYAkFE";

    fn hashed(name: &str) -> String {
        let salt = [7u8; 20];
        let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(&salt).unwrap();
        mac.update(name.as_bytes());
        format!(
            "|1|{}|{}",
            BASE64.encode(&salt),
            BASE64.encode(&mac.finalize().into_bytes())
        )
    }

    #[test]
    fn plain_hashed_changed_unknown_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kh");
        let key = PublicKey::from_openssh(ED).unwrap();
        let other = PublicKey::from_openssh(ED2).unwrap();
        assert_eq!(check(&p, "h", &key).unwrap(), HostKeyStatus::Unknown);
        std::fs::write(
            &p,
            format!(
                "# c\nother.example {ED2}\n{} {ED}\n*.lan,!x.lan {ED}\n",
                hashed("[h]:2222")
            ),
        )
        .unwrap();
        assert_eq!(check(&p, "[h]:2222", &key).unwrap(), HostKeyStatus::Known);
        assert_eq!(check(&p, "[h]:2223", &key).unwrap(), HostKeyStatus::Unknown);
        assert_eq!(check(&p, "a.lan", &key).unwrap(), HostKeyStatus::Known);
        assert_eq!(check(&p, "x.lan", &key).unwrap(), HostKeyStatus::Unknown);
        assert_eq!(
            check(&p, "other.example", &key).unwrap(),
            HostKeyStatus::Changed { line: 2 }
        );
        assert_eq!(
            check(&p, "other.example", &other).unwrap(),
            HostKeyStatus::Known
        );
        append(&p, "new.example", &key).unwrap();
        assert_eq!(
            check(&p, "new.example", &key).unwrap(),
            HostKeyStatus::Known
        );
        std::fs::write(&p, format!("@revoked * {ED}\nh {ED}\n")).unwrap();
        assert_eq!(
            check(&p, "h", &key).unwrap(),
            HostKeyStatus::Changed { line: 1 }
        );
        assert!(fingerprint(&key).starts_with("SHA256:"));
    }

    #[test]
    fn host_names_compare_case_insensitively() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kh");
        let key = PublicKey::from_openssh(ED).unwrap();
        std::fs::write(
            &p,
            format!(
                "Server.Example.ORG {ED}\n{} {ED}\n",
                hashed("[mixed.lan]:2222")
            ),
        )
        .unwrap();
        assert_eq!(
            check(&p, "server.example.org", &key).unwrap(),
            HostKeyStatus::Known
        );
        assert_eq!(
            check(&p, "SERVER.example.org", &key).unwrap(),
            HostKeyStatus::Known
        );
        assert_eq!(
            check(&p, "[MIXED.lan]:2222", &key).unwrap(),
            HostKeyStatus::Known
        );
        append(&p, "[New.Host]:2", &key).unwrap();
        assert!(
            std::fs::read_to_string(&p)
                .unwrap()
                .contains("[new.host]:2 ssh-ed25519")
        );
        assert_eq!(
            check(&p, "[new.HOST]:2", &key).unwrap(),
            HostKeyStatus::Known
        );
    }

    #[test]
    fn a_cert_authority_line_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kh");
        let key = PublicKey::from_openssh(ED).unwrap();
        std::fs::write(&p, format!("# ca\n@cert-authority *.corp {ED2}\n")).unwrap();
        assert_eq!(
            check(&p, "box.corp", &key).unwrap(),
            HostKeyStatus::CertAuthority { line: 2 }
        );
        assert_eq!(check(&p, "box.home", &key).unwrap(), HostKeyStatus::Unknown);
        // The authority's key is never taken for a host key.
        assert_eq!(
            check(&p, "box.corp", &PublicKey::from_openssh(ED2).unwrap()).unwrap(),
            HostKeyStatus::CertAuthority { line: 2 }
        );
        assert!(recorded_algorithms(&p, "box.corp").is_empty());
    }
}
