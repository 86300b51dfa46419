//! What the caller tells the S3 backend: endpoint, bucket, prefix, region,
//! credentials and tuning. Validation of the endpoint (the plain-http rule)
//! lives here too, so no connection is ever made to a refused endpoint.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;
use zeroize::Zeroizing;

/// Access key id, secret key and optional session token. The secret and the
/// token are zeroized on drop and never printed (`Debug` shows the key id only).
#[derive(Clone)]
pub struct S3Credentials {
    /// The access key id (not a secret: it names the key, like a user name).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Zeroizing<String>,
    /// The session token of temporary credentials.
    pub session_token: Option<Zeroizing<String>>,
}

impl fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Everything the backend needs to reach one `s3://BUCKET/PREFIX`.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// `https://s3.eu-central-1.amazonaws.com`, `http://127.0.0.1:9000`, …
    pub endpoint: Url,
    /// Path-style (`endpoint/bucket/key`, custom endpoints) or virtual-hosted
    /// (`bucket.endpoint/key`, AWS).
    pub path_style: bool,
    /// The bucket name.
    pub bucket: String,
    /// The vault's prefix inside the bucket, without leading or trailing `/`
    /// (`""` = the bucket root).
    pub prefix: String,
    /// The signing region (`us-east-1` for most self-hosted stores).
    pub region: String,
    /// `None`: unsigned requests (public buckets, tests).
    pub credentials: Option<S3Credentials>,
    /// Allow `http://` to a host that is not loopback (credentials and
    /// ciphertext travel in the clear; the user asked for it).
    pub insecure_http: bool,
    /// `CreateNew` by conditional put (`If-None-Match: *`), the default. Off:
    /// HEAD-then-PUT, for stores that ignore the header (a race between two
    /// writers of one name can then let both succeed; see README).
    pub conditional_put: bool,
    /// Objects larger than this go up as a multipart upload.
    pub multipart_threshold: u64,
    /// Size of each part of a multipart upload (S3's minimum is 5 MiB).
    pub part_size: usize,
    /// Parts uploaded at the same time.
    pub part_concurrency: usize,
    /// Retries of a failed request (5xx, SlowDown, dropped connection).
    pub max_retries: u32,
    /// First backoff delay; doubles per retry up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest backoff delay.
    pub max_backoff: Duration,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// A request (or a body read) making no progress for this long fails.
    pub read_timeout: Duration,
    /// An extra PEM CA certificate trusted for https endpoints.
    pub ca_cert: Option<PathBuf>,
    /// `None` (default): a folder marker is the zero-byte key `PREFIX/`, as
    /// the S3 consoles, Cyberduck and rclone make it. `Some(name)`: the
    /// zero-byte key `PREFIX/name` instead, left out of listings; for stores
    /// that turn a `PREFIX/` key into a real directory that listings do not
    /// show while it is empty (s3s-fs; MinIO's old FS mode). Folders with
    /// `PREFIX/` markers or none still list either way.
    pub marker_file: Option<String>,
}

/// Default multipart threshold and part size: 8 MiB parts, so a 40 MiB
/// object goes up in 5 parts, 4 at a time.
pub const DEFAULT_PART_SIZE: usize = 8 << 20;
/// Objects above 16 MiB are uploaded in parts.
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 16 << 20;
/// S3's smallest allowed part (all but the last).
pub const MIN_PART_SIZE: usize = 5 << 20;

impl S3Config {
    /// A configuration with the defaults for everything but the location.
    pub fn new(endpoint: Url, bucket: &str, prefix: &str, region: &str) -> Self {
        S3Config {
            endpoint,
            path_style: true,
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            region: region.to_owned(),
            credentials: None,
            insecure_http: false,
            conditional_put: true,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            part_size: DEFAULT_PART_SIZE,
            part_concurrency: 4,
            max_retries: 6,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            ca_cert: None,
            marker_file: None,
        }
    }

    /// Checks the endpoint before any connection: http or https, a host, and
    /// plain http only to loopback unless `insecure_http`.
    pub fn check_endpoint(&self) -> Result<(), String> {
        check_endpoint(&self.endpoint, self.insecure_http)
    }
}

/// The plain-http rule for S3 endpoints (the workspace's one rule,
/// `vault_storage::cleartext`): ciphertext is encrypted, but the SigV4
/// signature, the key id, a session token and the vault's layout are not, so
/// http to anything but this machine needs an explicit opt-in.
pub fn check_endpoint(endpoint: &Url, insecure_http: bool) -> Result<(), String> {
    let Some(host) = endpoint.host_str().filter(|h| !h.is_empty()) else {
        return Err(format!("the S3 endpoint {endpoint} has no host"));
    };
    match endpoint.scheme() {
        scheme @ ("http" | "https") => {
            if vault_storage::cleartext::may_send_credentials(scheme, host, insecure_http) {
                Ok(())
            } else {
                Err(vault_storage::cleartext::refusal("signed S3 requests", host))
            }
        }
        other => Err(format!(
            "the S3 endpoint must be http:// or https://, not {other}://"
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn plain_http_only_to_loopback_unless_insecure() {
        for ok in [
            "http://127.0.0.1:9000",
            "http://127.8.9.10",
            "http://localhost:1",
            "http://[::1]:9000",
            "https://s3.example.com",
        ] {
            assert!(
                check_endpoint(&Url::parse(ok).unwrap(), false).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "http://10.0.0.1:9000",
            "http://minio.lan",
            "http://[::2]:80",
        ] {
            let url = Url::parse(bad).unwrap();
            let err = check_endpoint(&url, false).unwrap_err();
            assert!(err.contains("--insecure-http"), "{err}");
            assert!(
                check_endpoint(&url, true).is_ok(),
                "{bad} with insecure_http"
            );
        }
        let ftp = Url::parse("ftp://127.0.0.1").unwrap();
        assert!(check_endpoint(&ftp, true).is_err());
    }

    #[test]
    fn debug_hides_the_secret() {
        let creds = S3Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Zeroizing::new("very-secret-key".into()),
            session_token: Some(Zeroizing::new("token-secret".into())),
        };
        let shown = format!("{creds:?}");
        assert!(shown.contains("AKIDEXAMPLE"));
        assert!(
            !shown.contains("very-secret") && !shown.contains("token-secret"),
            "{shown}"
        );
        let mut config = S3Config::new(Url::parse("http://127.0.0.1:1").unwrap(), "b", "/p/", "r");
        config.credentials = Some(creds);
        assert_eq!(config.prefix, "p");
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("very-secret") && !shown.contains("token-secret"),
            "{shown}"
        );
    }
}
