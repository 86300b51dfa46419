//! Which host key a connection accepts: known_hosts (the user's file, then the system-wide
//! one), and a key pinned in memory for the life of the process.
//!
//! The pin is why a reconnect never asks again or takes a different key: once a key is
//! accepted (known, confirmed or `--accept-new-host-key`), every later connection of this
//! storage must present the same key, even when known_hosts could not be written.

use std::path::PathBuf;
use std::sync::Mutex;

use russh::keys::ssh_key::PublicKey;
use tracing::{debug, info, warn};

use crate::known_hosts::{self, HostKeyStatus};
use crate::{SftpConfig, SftpError};

/// What the known_hosts files and the pin say about a presented key.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Accept: known or pinned.
    Known,
    /// Nobody knows this host: accept only if the user (or `--accept-new-host-key`) says so.
    Unknown,
    /// Refuse with this error.
    Refuse(SftpError),
}

/// Host key policy of one storage (shared by all its connections).
pub(crate) struct HostKeys {
    user_file: PathBuf,
    global_file: Option<PathBuf>,
    name: String,
    pinned: Mutex<Option<PublicKey>>,
}

impl HostKeys {
    pub fn new(cfg: &SftpConfig) -> HostKeys {
        HostKeys::for_name(cfg, cfg.known_hosts_name())
    }

    /// The policy for another host of the same configuration (a jump host): the same
    /// files, its own name and pin.
    pub fn for_name(cfg: &SftpConfig, name: String) -> HostKeys {
        HostKeys {
            user_file: cfg.known_hosts.clone(),
            global_file: cfg.global_known_hosts.clone(),
            name,
            pinned: Mutex::new(None),
        }
    }

    /// The known_hosts name of the server.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn pinned(&self) -> Option<PublicKey> {
        self.pinned.lock().ok().and_then(|p| p.clone())
    }

    fn pin(&self, key: &PublicKey) {
        if let Ok(mut p) = self.pinned.lock() {
            *p = Some(key.clone());
        }
    }

    /// Judges `key`; a known key is pinned.
    pub fn check(&self, key: &PublicKey) -> Verdict {
        let fingerprint = known_hosts::fingerprint(key);
        if let Some(p) = self.pinned() {
            if p.key_data() == key.key_data() {
                return Verdict::Known;
            }
            warn!(host = %self.name, "host key differs from the one accepted earlier");
            return Verdict::Refuse(SftpError::HostKeyChangedSinceAccepted {
                host: self.name.clone(),
                fingerprint,
            });
        }
        let mut known = false;
        let mut authority = None;
        let files = std::iter::once(&self.user_file).chain(self.global_file.as_ref());
        for (n, file) in files.enumerate() {
            let status = match known_hosts::check(file, &self.name, key) {
                Ok(s) => s,
                // The system-wide file is optional: unreadable counts as empty.
                Err(e) if n > 0 => {
                    debug!("ignoring {}: {e}", file.display());
                    continue;
                }
                Err(e) => {
                    return Verdict::Refuse(SftpError::Config(format!(
                        "cannot read {}: {e}",
                        file.display()
                    )));
                }
            };
            match status {
                HostKeyStatus::Known => known = true,
                HostKeyStatus::Unknown => {}
                HostKeyStatus::CertAuthority { line } => {
                    authority = authority.or(Some((file.clone(), line)));
                }
                HostKeyStatus::Changed { line } => {
                    warn!(host = %self.name, "host key changed");
                    return Verdict::Refuse(SftpError::HostKeyChanged {
                        host: self.name.clone(),
                        fingerprint,
                        known_hosts: file.clone(),
                        line,
                    });
                }
            }
        }
        if known {
            self.pin(key);
            return Verdict::Known;
        }
        match authority {
            Some((known_hosts, line)) => Verdict::Refuse(SftpError::HostCertificatesUnsupported {
                host: self.name.clone(),
                known_hosts,
                line,
            }),
            None => Verdict::Unknown,
        }
    }

    /// The user accepted an unknown `key`: pinned for this process, and recorded in the
    /// user's known_hosts when that can be written.
    pub fn accept(&self, key: &PublicKey) {
        self.pin(key);
        let fp = known_hosts::fingerprint(key);
        match known_hosts::append(&self.user_file, &self.name, key) {
            Ok(()) => info!(host = %self.name, fingerprint = %fp, "added host key to known_hosts"),
            Err(e) => warn!(
                "could not add the host key to {}: {e}; it stays accepted until this process ends",
                self.user_file.display()
            ),
        }
    }

    /// Host key algorithms recorded for the server in either file.
    pub fn recorded_algorithms(&self) -> Vec<russh::keys::Algorithm> {
        let mut out = known_hosts::recorded_algorithms(&self.user_file, &self.name);
        if let Some(g) = &self.global_file {
            for a in known_hosts::recorded_algorithms(g, &self.name) {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::RemoteRoot;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINvxXSjGj55Dc5RDyGQqU67NcSWUJvx+PBgvkakd7Rus";
    const ED2: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIt8Oj0WBRYSN17veBKbdbG3YES1g/uWbWvFUAUYAkFE";

    fn keys(dir: &std::path::Path, global: Option<PathBuf>) -> HostKeys {
        let mut cfg = SftpConfig::new("Box.Example", 2222, "u", RemoteRoot::Home(String::new()));
        cfg.known_hosts = dir.join("kh");
        cfg.global_known_hosts = global;
        HostKeys::new(&cfg)
    }

    #[test]
    fn an_accepted_key_stays_pinned_when_known_hosts_cannot_be_written() {
        let dir = tempfile::tempdir().unwrap();
        // known_hosts under a plain file: it reads as empty and cannot be written.
        std::fs::write(dir.path().join("blocker"), b"").unwrap();
        let mut cfg = SftpConfig::new("h", 2222, "u", RemoteRoot::Home(String::new()));
        cfg.known_hosts = dir.path().join("blocker/kh");
        cfg.global_known_hosts = None;
        let hk = HostKeys::new(&cfg);
        let key = PublicKey::from_openssh(ED).unwrap();
        let other = PublicKey::from_openssh(ED2).unwrap();
        assert!(matches!(hk.check(&key), Verdict::Unknown));
        hk.accept(&key);
        assert!(!dir.path().join("blocker/kh").exists());
        assert!(matches!(hk.check(&key), Verdict::Known));
        match hk.check(&other) {
            Verdict::Refuse(e @ SftpError::HostKeyChangedSinceAccepted { .. }) => {
                assert_eq!(e.exit_code(), 7);
            }
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn the_system_file_is_consulted_unless_a_file_was_named() {
        let dir = tempfile::tempdir().unwrap();
        let global = dir.path().join("ssh_known_hosts");
        std::fs::write(&global, format!("[box.example]:2222 {ED}\n")).unwrap();
        let key = PublicKey::from_openssh(ED).unwrap();
        let other = PublicKey::from_openssh(ED2).unwrap();
        assert!(matches!(
            keys(dir.path(), Some(global.clone())).check(&key),
            Verdict::Known
        ));
        assert!(matches!(
            keys(dir.path(), Some(global.clone())).check(&other),
            Verdict::Refuse(SftpError::HostKeyChanged { .. })
        ));
        assert!(matches!(
            keys(dir.path(), None).check(&key),
            Verdict::Unknown
        ));
        // The default configuration reads OpenSSH's system-wide file.
        let cfg = SftpConfig::new("h", 22, "u", RemoteRoot::Home(String::new()));
        assert_eq!(
            cfg.global_known_hosts.as_deref(),
            Some(std::path::Path::new("/etc/ssh/ssh_known_hosts"))
        );
    }

    #[test]
    fn a_cert_authority_gives_a_clear_refusal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kh"), format!("@cert-authority * {ED2}\n")).unwrap();
        let key = PublicKey::from_openssh(ED).unwrap();
        match keys(dir.path(), None).check(&key) {
            Verdict::Refuse(e @ SftpError::HostCertificatesUnsupported { .. }) => {
                let text = e.to_string();
                assert!(
                    text.contains("line 1") && text.contains("not supported"),
                    "{text}"
                );
                assert_eq!(e.exit_code(), 7);
            }
            v => panic!("{v:?}"),
        }
    }
}
