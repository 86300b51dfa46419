//! `WebDavConfig`: where the vault lives on a WebDAV server, parsed from the
//! STORAGE forms of the CLI contract (`dav://`, `davs://`, `http(s)://`).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use percent_encoding::percent_decode_str;
use reqwest::Url;
use secrecy::SecretString;

/// Whether to use the Nextcloud protocol extensions (chunked upload v2,
/// `PROPPATCH` of the modification time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextcloudMode {
    /// Use them when the URL has Nextcloud's `/remote.php/dav/files/USER/`
    /// layout *and* `status.php` beside `remote.php` says the server is
    /// Nextcloud (or ownCloud).
    Auto,
    /// Plain WebDAV only.
    Off,
}

/// Whether a removal of a file the metadata cache has just seen listed is one `DELETE` with
/// `If-Match: <its ETag>` (the server refuses with 412 a changed file or a folder put in its
/// place; then the removal asks what is there, as without a tag) instead of a `PROPFIND` and a
/// `DELETE`. Only for servers known to check the tag of every kind of resource: measured on
/// loopback, Nextcloud 34 and Apache 2.4 mod_dav_fs do; Debian's SabreDAV 1.8 deletes a folder
/// whatever its `If-Match` says, and rclone ignores `If-Match` altogether, so a folder put in
/// the file's place would go with everything in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatchDelete {
    /// On a server detected as Nextcloud or ownCloud (as for [`NextcloudMode::Auto`]) or as
    /// Apache mod_dav_fs (its `DAV:` header, asked with `OPTIONS` once).
    Auto,
    /// Never: always a `PROPFIND` first.
    Never,
}

/// Everything [`crate::WebDavStorage::connect`] needs. The password is a
/// [`SecretString`] (zeroized on drop) and never appears in `Debug` output.
#[derive(Clone)]
pub struct WebDavConfig {
    /// The vault's root collection, always ending in `/` (`http` or `https`).
    pub base_url: Url,
    /// The login name for HTTP basic auth (from the URL's user part).
    pub user: Option<String>,
    /// The (app) password, supplied by the caller (prompt, askpass, keyring).
    pub password: Option<SecretString>,
    /// Extra trusted root certificate(s) in PEM (`--ca-cert FILE`), added to
    /// the system roots. There is no "accept any certificate" mode.
    pub ca_cert: Option<PathBuf>,
    /// Limit for one request without a body to stream (PROPFIND, MOVE, …), and
    /// the longest time a streaming upload or download may make no progress.
    pub timeout: Duration,
    /// Limit for establishing a connection (TCP + TLS).
    pub connect_timeout: Duration,
    /// Nextcloud extensions.
    pub nextcloud: NextcloudMode,
    /// Allow the password and session cookies over plain `http://` to a host
    /// that is not loopback (`--insecure-http`); refused otherwise, see
    /// [`vault_storage::cleartext::may_send_credentials`].
    pub insecure_http: bool,
    /// On Nextcloud, writes of more than this many bytes use chunked upload v2.
    pub chunk_threshold: u64,
    /// Chunk size for chunked upload v2 (Nextcloud accepts 5 MiB to 5 GiB;
    /// only the last chunk may be smaller).
    pub chunk_size: u64,
    /// `connect` checks the credentials and the certificate with a listing of
    /// the root (default). Off, it sends nothing of its own: the caller's
    /// first request meets any such failure (a one-shot command saves a request).
    pub check_at_connect: bool,
    /// Removals of listed files in one request (see [`IfMatchDelete`]).
    pub if_match_delete: IfMatchDelete,
}

impl fmt::Debug for WebDavConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebDavConfig")
            .field("base_url", &self.base_url.as_str())
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_cert", &self.ca_cert)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("nextcloud", &self.nextcloud)
            .field("insecure_http", &self.insecure_http)
            .field("chunk_threshold", &self.chunk_threshold)
            .field("chunk_size", &self.chunk_size)
            .field("check_at_connect", &self.check_at_connect)
            .finish()
    }
}

/// A STORAGE string that is not a usable WebDAV URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError(pub String);

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UrlError {}

/// True if `storage` is one of the WebDAV STORAGE forms (`dav://`, `davs://`,
/// `http://`, `https://`), case-insensitively.
pub fn is_webdav_url(storage: &str) -> bool {
    let lower = storage.get(..8).unwrap_or(storage).to_ascii_lowercase();
    ["dav://", "davs://", "http://", "https://"]
        .iter()
        .any(|p| lower.starts_with(p))
}

impl WebDavConfig {
    /// Default request/stall timeout.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
    /// Default connect timeout.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
    /// Default threshold for Nextcloud chunked upload (larger bodies are chunked).
    pub const DEFAULT_CHUNK_THRESHOLD: u64 = 16 << 20;
    /// Default chunk size for Nextcloud chunked upload.
    pub const DEFAULT_CHUNK_SIZE: u64 = 10 << 20;

    /// A config for `base_url` (made to end in `/`) with defaults and no credentials.
    pub fn new(mut base_url: Url) -> Self {
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        base_url.set_query(None);
        base_url.set_fragment(None);
        WebDavConfig {
            base_url,
            user: None,
            password: None,
            ca_cert: None,
            timeout: Self::DEFAULT_TIMEOUT,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            nextcloud: NextcloudMode::Auto,
            insecure_http: false,
            chunk_threshold: Self::DEFAULT_CHUNK_THRESHOLD,
            chunk_size: Self::DEFAULT_CHUNK_SIZE,
            check_at_connect: true,
            if_match_delete: IfMatchDelete::Auto,
        }
    }

    /// Parses a STORAGE string: `dav://[user@]host[:port]/path` (HTTP),
    /// `davs://…` (HTTPS), or a plain `http(s)://[user@]host[:port]/path` such
    /// as Nextcloud's `https://host/remote.php/dav/files/USER/path`.
    ///
    /// The user name may be percent-encoded (`me%40example.org@host`). A
    /// password in the URL is refused: secrets never go on the command line.
    pub fn parse(storage: &str) -> Result<Self, UrlError> {
        let trimmed = storage.trim();
        let (scheme, rest) = trimmed.split_once("://").ok_or_else(|| {
            UrlError(format!(
                "{:?} is not a WebDAV URL (dav://, davs://, http:// or https://)",
                redact_password(storage)
            ))
        })?;
        let http_scheme = match scheme.to_ascii_lowercase().as_str() {
            "dav" | "http" => "http",
            "davs" | "https" => "https",
            other => {
                return Err(UrlError(format!(
                    "unknown URL scheme {other:?}: use dav://, davs://, http:// or https://"
                )));
            }
        };
        // Messages show the URL without a password typed into it.
        let shown = redact_password(storage);
        let url = Url::parse(&format!("{http_scheme}://{rest}"))
            .map_err(|e| UrlError(format!("{shown:?} is not a valid URL: {e}")))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(UrlError(format!("{shown:?} has no host name")));
        }
        if url.password().is_some() {
            return Err(UrlError(
                "a password in the URL is not accepted (it would show in the process list and shell history); \
                 give it at the prompt or through --askpass"
                    .to_owned(),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(UrlError(format!(
                "{shown:?}: a WebDAV URL takes no ?query or #fragment"
            )));
        }
        let user = if url.username().is_empty() {
            None
        } else {
            Some(
                percent_decode_str(url.username())
                    .decode_utf8()
                    .map_err(|_| {
                        UrlError("the user name in the URL is not valid UTF-8".to_owned())
                    })?
                    .into_owned(),
            )
        };
        let mut base = url.clone();
        // Credentials travel in the Authorization header, never in the URL.
        let _ = base.set_username("");
        let mut config = WebDavConfig::new(base);
        config.user = user;
        Ok(config)
    }

    /// The user name with the host, as in the CLI contract's prompt
    /// `Password for USER@HOST: ` (without the trailing prompt text).
    pub fn user_at_host(&self) -> String {
        let host = self.host_port();
        match &self.user {
            Some(u) => format!("{u}@{host}"),
            None => host,
        }
    }

    /// The prompt text for this server's password, per the CLI contract.
    pub fn password_prompt(&self) -> String {
        format!("Password for {}: ", self.user_at_host())
    }

    fn host_port(&self) -> String {
        let host = self.base_url.host_str().unwrap_or("");
        match self.base_url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        }
    }

    /// For a Nextcloud-style URL (`…/remote.php/dav/files/USER/…`): the
    /// server's base URL (before `remote.php`, ending in `/`) and the user id.
    pub fn nextcloud_layout(&self) -> Option<(Url, String)> {
        let path = self.base_url.path();
        let idx = path.find("/remote.php/dav/files/")?;
        let after = &path[idx + "/remote.php/dav/files/".len()..];
        let user_enc = after.split('/').next().filter(|s| !s.is_empty())?;
        let user = percent_decode_str(user_enc)
            .decode_utf8()
            .ok()?
            .into_owned();
        let mut server = self.base_url.clone();
        server.set_path(&path[..=idx]);
        Some((server, user))
    }
}

/// `storage` with the password of a `scheme://user:password@host…` form
/// replaced by `***`, for messages and logs. Text without such a part is
/// returned as it is.
pub fn redact_password(storage: &str) -> String {
    let Some((scheme, rest)) = storage.split_once("://") else {
        return storage.to_owned();
    };
    // The authority ends at the first `/`, `?` or `#`; its user part at the last `@`.
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let Some(at) = authority.rfind('@') else {
        return storage.to_owned();
    };
    let Some(colon) = authority[..at].find(':') else {
        return storage.to_owned();
    };
    format!("{scheme}://{}:***{}", &authority[..colon], &rest[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_storage_forms() {
        let c = WebDavConfig::parse("dav://alice@example.org:8080/vaults/My Vault")
            .expect("test value");
        assert_eq!(
            c.base_url.as_str(),
            "http://example.org:8080/vaults/My%20Vault/"
        );
        assert_eq!(c.user.as_deref(), Some("alice"));
        assert_eq!(c.password_prompt(), "Password for alice@example.org:8080: ");

        let c = WebDavConfig::parse("davs://host/v").expect("test value");
        assert_eq!(c.base_url.as_str(), "https://host/v/");
        assert_eq!(c.user, None);

        let c = WebDavConfig::parse(
            "https://me%40mail.org@cloud.example.org/remote.php/dav/files/me%40mail.org/Vault/",
        )
        .expect("test value");
        assert_eq!(c.user.as_deref(), Some("me@mail.org"));
        assert_eq!(c.base_url.username(), "");
        let (server, user) = c.nextcloud_layout().expect("test value");
        assert_eq!(server.as_str(), "https://cloud.example.org/");
        assert_eq!(user, "me@mail.org");

        let c = WebDavConfig::parse("http://127.0.0.1:8083/nc/remote.php/dav/files/vault-user")
            .expect("test value");
        let (server, user) = c.nextcloud_layout().expect("test value");
        assert_eq!(server.as_str(), "http://127.0.0.1:8083/nc/");
        assert_eq!(user, "vault-user");
        assert!(
            WebDavConfig::parse("dav://h/x")
                .expect("test value")
                .nextcloud_layout()
                .is_none()
        );
    }

    #[test]
    fn refuses_bad_urls() {
        for bad in [
            "ftp://h/x",
            "dav://",
            "dav://u:secret@h/x",
            "https://h/x?a=1",
            "no-scheme",
        ] {
            assert!(WebDavConfig::parse(bad).is_err(), "{bad}");
        }
        for bad in [
            "dav://u:secret@h/x",
            "dav://u:secret@h:99999/x",
            "dav://u:secret@/x",
            "https://u:secret@h/x?q#f",
            "https://u:secret@h:port/x",
        ] {
            let err = WebDavConfig::parse(bad).expect_err("must fail");
            assert!(!err.to_string().contains("secret"), "{err}");
        }
        assert_eq!(redact_password("dav://u:pw@h/a:b@c"), "dav://u:***@h/a:b@c");
        assert_eq!(redact_password("dav://u@h/a:b@c"), "dav://u@h/a:b@c");
        assert!(
            is_webdav_url("DAVS://h/x") && is_webdav_url("https://h") && !is_webdav_url("./Vault")
        );
    }

    #[test]
    fn debug_hides_the_password() {
        let mut c = WebDavConfig::parse("dav://u@h/x").expect("test value");
        c.password = Some(SecretString::from("hunter2-secret".to_owned()));
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("hunter2") && dbg.contains("<redacted>"),
            "{dbg}"
        );
    }
}
