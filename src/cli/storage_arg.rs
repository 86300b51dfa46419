//! STORAGE arguments (docs/cli.md "STORAGE"): parsing the forms and the connection options.
//!
//! Connecting lives in `cli::connect`, above the secrets it asks for; this module stays at the
//! bottom of the CLI's module graph so config, keyring and secrets may all name it.

use std::path::PathBuf;
use std::sync::Arc;

use super::exit::{CliError, CliResult};

/// A parsed STORAGE argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageSpec {
    /// A local folder (`~` expanded).
    Local(PathBuf),
    /// `sftp://[user@]host[:port]/path` (`/~/path` is relative to the login's home).
    Sftp(RemoteSpec),
    /// `dav://` (HTTP) or `davs://` (HTTPS).
    Dav {
        /// HTTPS when true.
        tls: bool,
        /// Host, user, port, path.
        remote: RemoteSpec,
    },
    /// A plain `https://` (or `http://`) WebDAV URL, e.g. Nextcloud's `…/remote.php/dav/files/USER/path`.
    WebDavUrl(String),
    /// `s3://BUCKET/PREFIX` (see `s3_arg`).
    S3 {
        /// The bucket.
        bucket: String,
        /// The vault's prefix in it, without leading or trailing `/`.
        prefix: String,
    },
    /// A bare word: a named vault from the config file.
    Named(String),
}

/// The parts of a remote STORAGE URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSpec {
    /// `user@` part, if given.
    pub user: Option<String>,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// `:port`, if given.
    pub port: Option<u16>,
    /// The path, starting with `/`.
    pub path: String,
}

/// Parses a STORAGE argument. Errors are usage errors (exit 2).
pub fn parse(arg: &str) -> CliResult<StorageSpec> {
    if arg.is_empty() {
        return Err(CliError::usage("empty STORAGE"));
    }
    if let Some((scheme, rest)) = arg.split_once("://") {
        return match scheme.to_ascii_lowercase().as_str() {
            "sftp" => Ok(StorageSpec::Sftp(parse_remote(arg, rest)?)),
            "dav" | "webdav" => Ok(StorageSpec::Dav {
                tls: false,
                remote: parse_remote(arg, rest)?,
            }),
            "davs" | "webdavs" => Ok(StorageSpec::Dav {
                tls: true,
                remote: parse_remote(arg, rest)?,
            }),
            "https" | "http" => {
                parse_remote(arg, rest)?;
                Ok(StorageSpec::WebDavUrl(arg.to_string()))
            }
            "file" => Ok(StorageSpec::Local(PathBuf::from(rest))),
            "s3" => {
                let (bucket, prefix) = super::s3_arg::parse(arg, rest)?;
                Ok(StorageSpec::S3 { bucket, prefix })
            }
            other => Err(CliError::usage(format!(
                "unknown storage scheme {other}:// in {} (use a folder, sftp://, dav://, davs://, https:// or s3://)",
                vault_webdav::redact_password(arg)
            ))),
        };
    }
    if arg.contains('/') || arg.starts_with('.') || arg.starts_with('~') {
        return Ok(StorageSpec::Local(expand_tilde(arg)?));
    }
    Ok(StorageSpec::Named(arg.to_string()))
}

fn expand_tilde(arg: &str) -> CliResult<PathBuf> {
    if arg == "~" || arg.starts_with("~/") {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .ok_or_else(|| CliError::usage(format!("cannot expand ~ in {arg}: HOME is not set")))?;
        let mut p = PathBuf::from(home);
        if let Some(rest) = arg.strip_prefix("~/") {
            p.push(rest);
        }
        return Ok(p);
    }
    Ok(PathBuf::from(arg))
}

fn parse_remote(arg: &str, rest: &str) -> CliResult<RemoteSpec> {
    // A password typed into the URL never reaches a message.
    let shown = vault_webdav::redact_password(arg);
    let bad = |why: &str| CliError::usage(format!("invalid storage URL {shown}: {why}"));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (user, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => {
            if u.contains(':') {
                return Err(bad("put no password in the URL; it is asked for"));
            }
            (Some(u.to_string()).filter(|u| !u.is_empty()), h)
        }
        None => (None, authority),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse::<u16>().map_err(|_| bad("invalid port"))?),
            None if after.is_empty() => None,
            None => return Err(bad("junk after ]")),
        };
        (h.to_string(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                Some(p.parse::<u16>().map_err(|_| bad("invalid port"))?),
            ),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok(RemoteSpec {
        user,
        host,
        port,
        path: path.to_string(),
    })
}

/// What `create` needs: a missing local folder is made (its parent must exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Open an existing vault.
    Open,
    /// Create a new vault.
    Create,
}

/// A prompter handed to the SFTP backend instead of the default terminal/askpass one.
#[derive(Clone)]
pub struct SharedPrompter(pub Arc<dyn vault_sftp::Prompter>);

impl std::fmt::Debug for SharedPrompter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedPrompter")
    }
}

/// Connection options besides the STORAGE itself (none of them secret).
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// `--ca-cert FILE` (davs, https).
    pub ca_cert: Option<PathBuf>,
    /// `--identity FILE` (sftp).
    pub identity: Option<PathBuf>,
    /// `--known-hosts FILE` (sftp).
    pub known_hosts: Option<PathBuf>,
    /// `--accept-new-host-key` (sftp).
    pub accept_new_host_key: bool,
    /// `-J HOSTS` (sftp).
    pub proxy_jump: Option<String>,
    /// `--insecure-http`: a password over plain HTTP to a host that is not loopback.
    pub insecure_http: bool,
    /// Who answers the SFTP login's questions instead of the terminal/askpass (the mount daemon).
    pub sftp_prompter: Option<SharedPrompter>,
    /// `--s3-endpoint`, `--s3-region`, `--s3-profile`, `--s3-addressing`, `--s3-conditional-put`.
    pub s3: super::args::S3Args,
    /// `--create-bucket` (vault create on s3).
    pub create_bucket: bool,
    /// `--cache`, `--dir-cache-time` (mount; other commands use the defaults).
    pub cache: super::cache::CacheChoice,
}

impl ConnectOptions {
    /// From the command's flags.
    pub fn from_args(args: &super::args::SecretArgs) -> Self {
        ConnectOptions {
            ca_cert: args.ca_cert.clone(),
            identity: args.identity.clone(),
            known_hosts: args.known_hosts.clone(),
            accept_new_host_key: args.accept_new_host_key,
            proxy_jump: args.proxy_jump.clone(),
            insecure_http: args.insecure_http,
            sftp_prompter: None,
            s3: args.s3.clone(),
            create_bucket: args.create_bucket,
            cache: Default::default(),
        }
    }

    /// The same options as command-line words (for the mount daemon), paths made absolute.
    pub fn to_argv(&self) -> Vec<std::ffi::OsString> {
        let abs = |p: &PathBuf| {
            std::path::absolute(p)
                .unwrap_or_else(|_| p.clone())
                .into_os_string()
        };
        let mut v = Vec::new();
        if let Some(p) = &self.ca_cert {
            v.push("--ca-cert".into());
            v.push(abs(p));
        }
        if let Some(p) = &self.identity {
            v.push("--identity".into());
            v.push(abs(p));
        }
        if let Some(p) = &self.known_hosts {
            v.push("--known-hosts".into());
            v.push(abs(p));
        }
        if self.accept_new_host_key {
            v.push("--accept-new-host-key".into());
        }
        if let Some(j) = &self.proxy_jump {
            v.push("--proxy-jump".into());
            v.push(j.into());
        }
        for (flag, value) in [
            ("--s3-endpoint", &self.s3.s3_endpoint),
            ("--s3-region", &self.s3.s3_region),
            ("--s3-profile", &self.s3.s3_profile),
            ("--s3-addressing", &self.s3.s3_addressing),
            ("--s3-conditional-put", &self.s3.s3_conditional_put),
        ] {
            if let Some(value) = value {
                v.push(flag.into());
                v.push(value.into());
            }
        }
        if self.insecure_http {
            v.push("--insecure-http".into());
        }
        v
    }
}

/// An io::Error without its "(os error N)" suffix.
pub fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}

/// The absolute form of a local STORAGE for a daemon that changes directory; others unchanged.
pub fn absolute(arg: &str, spec: &StorageSpec) -> String {
    match spec {
        StorageSpec::Local(p) => match std::fs::canonicalize(p) {
            Ok(abs) => abs.to_string_lossy().into_owned(),
            Err(_) => arg.to_string(),
        },
        _ => arg.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::cli::exit::Exit;

    #[test]
    fn local_forms() {
        assert_eq!(parse("./V").unwrap(), StorageSpec::Local("./V".into()));
        assert_eq!(
            parse("/media/usb/V").unwrap(),
            StorageSpec::Local("/media/usb/V".into())
        );
        assert_eq!(
            parse(".hidden").unwrap(),
            StorageSpec::Local(".hidden".into())
        );
        assert_eq!(parse("a/b").unwrap(), StorageSpec::Local("a/b".into()));
        if let Some(home) = std::env::var_os("HOME") {
            assert_eq!(
                parse("~/N/V").unwrap(),
                StorageSpec::Local(PathBuf::from(home).join("N/V"))
            );
        }
    }

    #[test]
    fn remote_forms() {
        assert_eq!(
            parse("sftp://me@host:2222/srv/v").unwrap(),
            StorageSpec::Sftp(RemoteSpec {
                user: Some("me".into()),
                host: "host".into(),
                port: Some(2222),
                path: "/srv/v".into()
            })
        );
        assert_eq!(
            parse("sftp://host/~/v").unwrap(),
            StorageSpec::Sftp(RemoteSpec {
                user: None,
                host: "host".into(),
                port: None,
                path: "/~/v".into()
            })
        );
        assert_eq!(
            parse("davs://[::1]:8443/dav").unwrap(),
            StorageSpec::Dav {
                tls: true,
                remote: RemoteSpec {
                    user: None,
                    host: "::1".into(),
                    port: Some(8443),
                    path: "/dav".into()
                }
            }
        );
        assert!(matches!(
            parse("dav://h/x").unwrap(),
            StorageSpec::Dav { tls: false, .. }
        ));
        let nc = "https://cloud.example/remote.php/dav/files/me/Vault";
        assert_eq!(parse(nc).unwrap(), StorageSpec::WebDavUrl(nc.into()));
    }

    #[test]
    fn s3_forms() {
        assert_eq!(
            parse("s3://my-bucket/team/vault/").unwrap(),
            StorageSpec::S3 {
                bucket: "my-bucket".into(),
                prefix: "team/vault".into()
            }
        );
        assert_eq!(
            parse("s3://my-bucket").unwrap(),
            StorageSpec::S3 {
                bucket: "my-bucket".into(),
                prefix: String::new()
            }
        );
        for bad in [
            "s3://",
            "s3://AB/x",
            "s3://b/x",
            "s3://bucket/a//b",
            "s3://bucket/../x",
        ] {
            assert_eq!(parse(bad).unwrap_err().exit, Exit::Usage, "{bad}");
        }
    }

    #[test]
    fn bad_and_named() {
        assert_eq!(parse("Work").unwrap(), StorageSpec::Named("Work".into()));
        for bad in [
            "",
            "ftp://h/x",
            "sftp:///x",
            "sftp://h:99999/x",
            "sftp://u:pw@h/x",
        ] {
            assert_eq!(parse(bad).unwrap_err().exit, Exit::Usage, "{bad}");
        }
        for with_pw in [
            "dav://u:hunter2@h/x",
            "davs://u:hunter2@h:bad/x",
            "sftp://u:hunter2@h/x",
        ] {
            let e = parse(with_pw).unwrap_err();
            assert!(!e.message.contains("hunter2"), "{}", e.message);
        }
    }
}
