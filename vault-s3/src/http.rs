//! The HTTP layer: one `reqwest::Client` (rustls with the ring provider),
//! presigned SigV4 requests from rusty-s3, retries with backoff, and the ONE
//! `classify` fn mapping S3 answers to [`StorageErrorKind`].
//!
//! Requests are signed in the query string (presigned URLs), so a URL holds
//! the key id and, with temporary credentials, the session token: URLs are
//! therefore never put into errors or logs (`reqwest::Error::without_url`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use url::Url;
use vault_storage::{StorageError, StorageErrorKind, StoragePath};

use crate::config::S3Config;

/// Presigned URLs live this long: enough for a slow part upload with retries.
pub(crate) const SIGN_FOR: Duration = Duration::from_secs(3600);

/// The message carried as the source of a [`StorageError`]: one line, no secrets.
#[derive(Debug)]
pub(crate) struct S3Message(pub String);

impl fmt::Display for S3Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for S3Message {}

/// One failed request, before classification.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server answered with an error status; `code` from the XML body.
    Status {
        what: &'static str,
        status: StatusCode,
        code: String,
        region: Option<String>,
    },
    /// Connect, TLS, timeout or I/O failure (URL stripped).
    Transport(&'static str, reqwest::Error),
    /// The answer made no sense (bad XML, too long a body, …).
    Protocol(String),
}

impl Failure {
    pub(crate) fn status(&self) -> Option<StatusCode> {
        match self {
            Failure::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Worth another try: 5xx, 429, SlowDown, and transport failures.
    fn retryable(&self) -> bool {
        match self {
            Failure::Status { status, code, .. } => {
                status.is_server_error()
                    || *status == StatusCode::TOO_MANY_REQUESTS
                    || *status == StatusCode::REQUEST_TIMEOUT
                    || code == "SlowDown"
                    || code == "RequestTimeout"
            }
            Failure::Transport(_, e) => {
                e.is_connect() || e.is_timeout() || e.is_request() || e.is_body()
            }
            Failure::Protocol(_) => false,
        }
    }

    /// The storage error for `path`, with a one-line cause.
    pub(crate) fn into_error(self, path: &StoragePath, bucket: &str) -> StorageError {
        let (kind, message) = classify(&self, bucket);
        StorageError::with_source(kind, path, S3Message(message))
    }
}

/// The ONE place S3 answers become [`StorageErrorKind`]s.
fn classify(failure: &Failure, bucket: &str) -> (StorageErrorKind, String) {
    use StorageErrorKind as K;
    match failure {
        Failure::Status {
            what,
            status,
            code,
            region,
        } => {
            let kind = match (status.as_u16(), code.as_str()) {
                (_, "NoSuchBucket") => K::NotFound,
                (404, _) => K::NotFound,
                (412, _) => K::AlreadyExists,
                (_, "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "ExpiredToken") | (401, _) => {
                    K::AuthenticationFailed
                }
                (403, _) => K::PermissionDenied,
                (_, "EntityTooLarge" | "QuotaExceeded") | (507, _) => K::StorageFull,
                (301 | 307, _) => K::Other,
                (s, _) if s >= 500 || s == 429 => K::Unavailable,
                _ => K::Other,
            };
            let code = if code.is_empty() { "" } else { code.as_str() };
            let message = match (status.as_u16(), region) {
                (301 | 307 | 400, Some(r)) => {
                    format!("bucket {bucket} is in region {r}: use --s3-region {r}")
                }
                _ if code == "NoSuchBucket" => format!("bucket {bucket} does not exist"),
                _ => format!("S3 {what}: HTTP {} {code}", status.as_u16()),
            };
            (kind, message.trim_end().to_owned())
        }
        Failure::Transport(what, e) => (K::Unavailable, format!("S3 {what}: {e}")),
        Failure::Protocol(m) => (K::Other, m.clone()),
    }
}

/// One request to send: method, presigned URL, extra headers (those signed
/// must match the ones given to the signer), body.
pub(crate) struct Req {
    pub what: &'static str,
    pub method: Method,
    pub url: Url,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Bytes>,
}

/// The HTTP client and the retry policy.
pub(crate) struct Http {
    client: reqwest::Client,
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
}

fn tls_config(config: &S3Config) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A system certificate rustls cannot parse is skipped, as browsers do.
        let _ = roots.add(cert);
    }
    if let Some(path) = &config.ca_cert {
        let shown = path.display();
        let iter = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read the CA certificate file {shown}: {e}"))?;
        let mut added = 0usize;
        for cert in iter {
            let cert = cert.map_err(|e| format!("bad PEM in {shown}: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("the CA certificate in {shown} is not usable: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("{shown} holds no PEM certificate"));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tls)
}

impl Http {
    pub(crate) fn new(config: &S3Config) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .tcp_keepalive(Duration::from_secs(30))
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(50))
            // A wrong-region answer must reach us as such, not be followed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vault-s3/", env!("CARGO_PKG_VERSION")))
            .tls_backend_preconfigured(tls_config(config)?)
            .build()
            .map_err(|e| format!("HTTP client setup failed: {}", e.without_url()))?;
        Ok(Http {
            client,
            max_retries: config.max_retries,
            initial_backoff: config.initial_backoff,
            max_backoff: config.max_backoff,
        })
    }

    /// Sends `req` once; a non-2xx answer becomes a [`Failure::Status`].
    async fn send_once(&self, req: &Req) -> Result<reqwest::Response, Failure> {
        let mut headers = HeaderMap::new();
        for (name, value) in &req.headers {
            let value = HeaderValue::from_str(value)
                .map_err(|_| Failure::Protocol(format!("bad header value for {name}")))?;
            headers.insert(HeaderName::from_static(name), value);
        }
        let mut builder = self
            .client
            .request(req.method.clone(), req.url.clone())
            .headers(headers);
        if let Some(body) = &req.body {
            // Set explicitly: reqwest leaves it out for an empty body, and S3 wants it.
            builder = builder
                .header(reqwest::header::CONTENT_LENGTH, body.len())
                .body(body.clone());
        } else if req.method == Method::PUT || req.method == Method::POST {
            builder = builder.header(reqwest::header::CONTENT_LENGTH, 0);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| Failure::Transport(req.what, e.without_url()))?;
        if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
            return Ok(response);
        }
        Err(status_failure(req.what, response).await)
    }

    /// Sends `req`, retrying retryable failures with exponential backoff.
    /// Returns the response and how many attempts it took.
    pub(crate) async fn send(&self, req: &Req) -> Result<(reqwest::Response, u32), Failure> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let sent = self.send_once(req).await;
            // The request log (`VAULT_LOG=vault_s3=trace`): the path only, never the
            // query (a presigned URL's query holds the key id and any session token).
            tracing::trace!(
                what = req.what,
                path = req.url.path(),
                range = req
                    .headers
                    .iter()
                    .find(|(n, _)| *n == "range")
                    .map(|(_, v)| v.as_str()),
                status = sent.as_ref().map_or_else(
                    |f| f.status().map(|s| s.as_u16()),
                    |r| Some(r.status().as_u16())
                ),
                attempt,
                "S3 request"
            );
            match sent {
                Ok(r) => return Ok((r, attempt)),
                Err(f) if f.retryable() && attempt <= self.max_retries => {
                    let delay = self.backoff(attempt);
                    tracing::debug!(
                        what = req.what,
                        attempt,
                        ?delay,
                        "S3 request failed, retrying: {f:?}"
                    );
                    tokio::time::sleep(delay).await;
                }
                Err(f) => return Err(f),
            }
        }
    }

    /// Backoff before retry `attempt` (1-based): doubling, capped, with jitter
    /// so parallel part uploads do not retry in lockstep.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.max_backoff);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let jitter = capped.mul_f64(f64::from(nanos % 1000) / 4000.0);
        capped + jitter
    }
}

/// Longest error body read (the XML `<Error>` is short).
const MAX_ERROR_BODY: usize = 16 << 10;

async fn status_failure(what: &'static str, response: reqwest::Response) -> Failure {
    let status = response.status();
    let region = response
        .headers()
        .get("x-amz-bucket-region")
        .and_then(|v| v.to_str().ok())
        .filter(|r| r.len() < 64 && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_owned);
    let body = read_capped(response, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    Failure::Status {
        what,
        status,
        code: error_code(&body),
        region,
    }
}

/// The `<Code>` of an S3 XML error body (ASCII letters only, bounded), or "".
pub(crate) fn error_code(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let Some(start) = text.find("<Code>") else {
        return String::new();
    };
    let rest = &text[start + 6..];
    let end = rest.find('<').unwrap_or(0);
    let code = &rest[..end];
    if code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        code.to_owned()
    } else {
        String::new()
    }
}

/// Reads at most `cap` bytes of a body; more is a protocol error.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Bytes, Failure> {
    let mut buf = Vec::with_capacity(cap.min(1 << 20));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Failure::Transport("read", e.without_url()))?
    {
        if buf.len() + chunk.len() > cap {
            return Err(Failure::Protocol(format!(
                "the server sent more than the {cap} bytes expected"
            )));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_code_is_bounded_and_clean() {
        let xml =
            b"<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>x</Message></Error>";
        assert_eq!(error_code(xml), "SlowDown");
        assert_eq!(error_code(b"<Code>a b</Code>"), "");
        assert_eq!(error_code(b"no xml"), "");
    }
}
