//! The thin HTTP layer: one `reqwest::Client` (rustls with the ring provider,
//! system roots plus `--ca-cert`), URL building, timeouts, and the ONE
//! `classify` fn that maps HTTP statuses and transport failures to
//! [`StorageErrorKind`].

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use secrecy::ExposeSecret;
use vault_storage::{StorageError, StorageErrorKind, StoragePath};

use crate::config::WebDavConfig;
use crate::session::CookieJar;

/// Characters kept as they are in a path segment: RFC 3986 unreserved.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one path segment.
pub(crate) fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// The message carried as the source of a [`StorageError`]: one line, no secrets.
#[derive(Debug)]
pub(crate) struct DavError(pub String);

impl fmt::Display for DavError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DavError {}

/// What went wrong with one request, before classification.
pub(crate) enum Failure {
    /// The server answered with an unexpected status.
    Status {
        method: Method,
        status: StatusCode,
        location: Option<String>,
    },
    /// reqwest failed (connect, TLS, I/O, timeout inside reqwest).
    Transport(reqwest::Error),
    /// Our own deadline (request timeout or a stalled transfer) passed.
    Timeout(&'static str, Duration),
    /// Reading the request body from the caller failed.
    BodyRead(std::io::Error),
    /// The server's answer made no sense (bad XML, wrong Content-Range, …).
    Protocol(String),
}

/// Where the requests go: credentials, base URL, the HTTP client.
pub(crate) struct Dav {
    pub http: reqwest::Client,
    pub base: Url,
    /// `Authorization: Basic …`, built once and marked sensitive (never
    /// logged by reqwest/hyper); no per-request copies of the password.
    authorization: Option<HeaderValue>,
    pub timeout: Duration,
    /// `user@host:port` for messages.
    pub who: String,
    /// The server's session cookies (see `session.rs`).
    jar: CookieJar,
}

fn tls_config(ca_cert: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A system certificate rustls cannot parse is skipped, as browsers do.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_cert {
        let mut added = 0usize;
        let iter = CertificateDer::pem_file_iter(path).map_err(|e| {
            format!(
                "cannot read the CA certificate file {}: {e}",
                path.display()
            )
        })?;
        for cert in iter {
            let cert = cert.map_err(|e| {
                format!("bad PEM in the CA certificate file {}: {e}", path.display())
            })?;
            roots.add(cert).map_err(|e| {
                format!(
                    "the CA certificate in {} is not usable: {e}",
                    path.display()
                )
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(format!(
                "the CA certificate file {} holds no PEM certificate",
                path.display()
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Largest PROPFIND answer read (a `Depth: 1` listing of about 40 000
/// entries): a hostile server streaming forever is cut off here.
pub(crate) const MAX_LISTING_BODY: usize = 16 << 20;
/// Largest other body parsed (JSON of `status.php` and the login flow,
/// `PROPPATCH` answers).
pub(crate) const MAX_SMALL_BODY: usize = 64 << 10;
/// A body we parse must be complete this long after its headers arrived, even
/// while bytes keep trickling in (an endless listing never stalls). Real
/// listings arrive well within it; it keeps a mount's operation below 10 s.
pub(crate) const BODY_DEADLINE: Duration = Duration::from_secs(8);

/// A body read in the chunks it arrived in (no doubling `Vec` growth, so a
/// capped body costs its size and not twice that), readable as `BufRead`.
#[derive(Default)]
pub(crate) struct Chunks {
    parts: std::collections::VecDeque<Bytes>,
}

impl std::io::Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let src = std::io::BufRead::fill_buf(self)?;
            let n = src.len().min(buf.len());
            buf[..n].copy_from_slice(&src[..n]);
            n
        };
        std::io::BufRead::consume(self, n);
        Ok(n)
    }
}

impl std::io::BufRead for Chunks {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.parts.front().is_some_and(Bytes::is_empty) {
            self.parts.pop_front();
        }
        Ok(self.parts.front().map_or(&[], |b| &b[..]))
    }

    fn consume(&mut self, amt: usize) {
        if let Some(front) = self.parts.front_mut() {
            bytes::Buf::advance(front, amt.min(front.len()));
        }
    }
}

impl Dav {
    pub(crate) fn new(config: &WebDavConfig) -> Result<Self, StorageError> {
        let root = StoragePath::root();
        let host = config.base_url.host_str().unwrap_or("");
        if config.user.is_some()
            && !vault_storage::cleartext::may_send_credentials(
                config.base_url.scheme(),
                host,
                config.insecure_http,
            )
        {
            return Err(StorageError::with_source(
                StorageErrorKind::PermissionDenied,
                &root,
                DavError(vault_storage::cleartext::refusal(
                    "the WebDAV password",
                    host,
                )),
            ));
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .tcp_keepalive(Duration::from_secs(30))
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(50))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vault-webdav/", env!("CARGO_PKG_VERSION")));
        // Always our own rustls config (ring provider), also for http:// (reqwest
        // would otherwise look for a process-wide provider). With http:// a
        // typo in --ca-cert is still reported, not ignored.
        let tls = tls_config(config.ca_cert.as_deref())
            .map_err(|m| StorageError::with_source(StorageErrorKind::Other, &root, DavError(m)))?;
        builder = builder.tls_backend_preconfigured(tls);
        let http = builder.build().map_err(|e| {
            StorageError::with_source(
                StorageErrorKind::Other,
                &root,
                DavError(format!("HTTP client setup failed: {e}")),
            )
        })?;
        let authorization = match &config.user {
            Some(user) => {
                let password = config.password.as_ref().map(|p| p.expose_secret());
                // Built without being sent, just to get reqwest's header encoding.
                let probe = http
                    .get(config.base_url.clone())
                    .basic_auth(user, password)
                    .build()
                    .map_err(|e| {
                        StorageError::with_source(
                            StorageErrorKind::Other,
                            &root,
                            DavError(format!("bad credentials encoding: {e}")),
                        )
                    })?;
                probe
                    .headers()
                    .get(reqwest::header::AUTHORIZATION)
                    .cloned()
                    .map(|mut v| {
                        v.set_sensitive(true);
                        v
                    })
            }
            None => None,
        };
        Ok(Dav {
            http,
            base: config.base_url.clone(),
            authorization,
            timeout: config.timeout,
            who: config.user_at_host(),
            jar: CookieJar::new(&config.base_url, config.insecure_http),
        })
    }

    /// The URL of `path` below the base; `collection` adds the trailing `/`.
    pub(crate) fn url(&self, path: &StoragePath, collection: bool) -> Url {
        Self::url_below(&self.base, path, collection)
    }

    pub(crate) fn url_below(base: &Url, path: &StoragePath, collection: bool) -> Url {
        let mut s = base.as_str().to_owned();
        let mut first = true;
        for comp in path.components() {
            if !first {
                s.push('/');
            }
            first = false;
            s.push_str(&encode_segment(comp));
        }
        if collection && !path.is_root() {
            s.push('/');
        }
        // The base is a valid URL and the segments are percent-encoded.
        Url::parse(&s).unwrap_or_else(|_| base.clone())
    }

    /// A request with credentials. No total timeout: callers add one
    /// (`send_small`) or watch progress (`send_streaming`).
    pub(crate) fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let rb = self.http.request(method, url);
        match &self.authorization {
            Some(value) => rb.header(reqwest::header::AUTHORIZATION, value.clone()),
            None => rb,
        }
    }

    /// Sends a request whose body is small, with the configured timeout for
    /// the whole exchange up to the response headers.
    pub(crate) async fn send_small(&self, rb: RequestBuilder) -> Result<Response, Failure> {
        match tokio::time::timeout(self.timeout, self.exchange(rb)).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(Failure::Transport(e)),
            Err(_) => Err(Failure::Timeout("no answer", self.timeout)),
        }
    }

    /// Sends one request with the session cookies and keeps the ones the
    /// answer sets. A `401` to a request that carried cookies means the
    /// session expired or was refused: the cookies are dropped and the request
    /// is sent once more with the credentials alone (when its body can be
    /// replayed; a streamed upload fails, and the next request starts afresh).
    pub(crate) async fn exchange(&self, rb: RequestBuilder) -> Result<Response, reqwest::Error> {
        let mut req = rb.build()?;
        let url = req.url().clone();
        let with_cookies = self.jar.attach(&url, req.headers_mut());
        let retry = if with_cookies { req.try_clone() } else { None };
        let resp = self.http.execute(req).await?;
        self.jar.absorb(&url, resp.headers());
        if resp.status() != StatusCode::UNAUTHORIZED || !with_cookies {
            return Ok(resp);
        }
        self.jar.clear();
        let Some(mut again) = retry else {
            return Ok(resp);
        };
        tracing::debug!(target: "vault_webdav", "401 with a session: once more with the credentials alone");
        again.headers_mut().remove(reqwest::header::COOKIE);
        let resp = self.http.execute(again).await?;
        self.jar.absorb(&url, resp.headers());
        Ok(resp)
    }

    /// Sends an idempotent read (GET, PROPFIND) like [`Dav::send_small`], and
    /// repeats it twice (after 20 and 100 ms) on 403, 423 or 5xx: rclone and
    /// Apache answer 403/5xx for a moment while another client replaces the
    /// object (their MOVE deletes the target, then renames), Nextcloud 423
    /// while it moves a new version in.
    pub(crate) async fn send_read(&self, rb: RequestBuilder) -> Result<Response, Failure> {
        let mut waits = [Duration::from_millis(20), Duration::from_millis(100)].into_iter();
        let mut rb = rb;
        loop {
            let retry = rb.try_clone();
            let resp = self.send_small(rb).await?;
            let transient = matches!(resp.status(), StatusCode::FORBIDDEN | StatusCode::LOCKED)
                || resp.status().is_server_error();
            match (transient, retry, waits.next()) {
                (true, Some(again), Some(wait)) => {
                    tokio::time::sleep(wait).await;
                    rb = again;
                }
                _ => return Ok(resp),
            }
        }
    }

    /// Sends a request with a streamed body of `len` bytes. Fails with a
    /// timeout when the upload makes no progress for `timeout`, or when the
    /// answer does not come within `timeout` after the last byte was sent.
    pub(crate) async fn send_streaming(
        &self,
        rb: RequestBuilder,
        reader: Box<dyn tokio::io::AsyncRead + Send + Unpin>,
        len: u64,
    ) -> Result<Response, Failure> {
        let progress = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&progress);
        let stream = tokio_util::io::ReaderStream::with_capacity(
            tokio::io::AsyncReadExt::take(reader, len),
            256 * 1024,
        )
        .map(move |chunk| {
            if let Ok(c) = &chunk {
                counter.fetch_add(c.len() as u64, Ordering::Relaxed);
            }
            chunk
        });
        let rb = rb
            .header(reqwest::header::CONTENT_LENGTH, HeaderValue::from(len))
            .body(reqwest::Body::wrap_stream(stream));
        let send = self.exchange(rb);
        tokio::pin!(send);
        let tick = (self.timeout / 4).max(Duration::from_millis(50));
        let mut last = 0u64;
        let mut last_change = Instant::now();
        loop {
            tokio::select! {
                result = &mut send => {
                    return match result {
                        Ok(resp) => Ok(resp),
                        Err(e) => {
                            // A short body: the reader ended early.
                            let sent = progress.load(Ordering::Relaxed);
                            if sent < len && !e.is_connect() && e.is_body() {
                                Err(Failure::BodyRead(std::io::Error::new(
                                    std::io::ErrorKind::UnexpectedEof,
                                    format!("the body yielded {sent} of {len} bytes"),
                                )))
                            } else {
                                Err(Failure::Transport(e))
                            }
                        }
                    };
                }
                _ = tokio::time::sleep(tick) => {
                    let now = progress.load(Ordering::Relaxed);
                    if now != last {
                        last = now;
                        last_change = Instant::now();
                    } else if last_change.elapsed() >= self.timeout {
                        return Err(Failure::Timeout(
                            if now >= len { "no answer after the upload" } else { "upload stalled" },
                            self.timeout,
                        ));
                    }
                }
            }
        }
    }

    /// Reads up to `limit` bytes of a response body after skipping `skip`
    /// bytes, failing if no data arrives for `timeout`.
    pub(crate) async fn read_body(
        &self,
        resp: Response,
        skip: u64,
        limit: usize,
    ) -> Result<Bytes, Failure> {
        let expected = resp
            .content_length()
            .map_or(1 << 20, |n| n.saturating_sub(skip));
        let mut stream = resp.bytes_stream();
        let mut out = Vec::with_capacity(
            limit
                .min(usize::try_from(expected).unwrap_or(usize::MAX))
                .min(64 << 20),
        );
        let mut to_skip = skip;
        while out.len() < limit {
            let next = match tokio::time::timeout(self.timeout, stream.next()).await {
                Ok(n) => n,
                Err(_) => return Err(Failure::Timeout("download stalled", self.timeout)),
            };
            let Some(chunk) = next else { break };
            let mut chunk = chunk.map_err(Failure::Transport)?;
            if to_skip > 0 {
                let n = (to_skip.min(chunk.len() as u64)) as usize;
                chunk = chunk.slice(n..);
                to_skip -= n as u64;
            }
            let room = limit - out.len();
            out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        Ok(Bytes::from(out))
    }

    /// Reads a whole body of at most `cap` bytes, complete within
    /// [`BODY_DEADLINE`]; a longer or slower body fails the request.
    pub(crate) async fn capped_body(&self, resp: Response, cap: usize) -> Result<Chunks, Failure> {
        let too_big = || {
            Failure::Protocol(format!(
                "the answer of the WebDAV server {} is larger than {} KiB (a hostile or broken server?)",
                self.who,
                cap >> 10
            ))
        };
        if resp.content_length().is_some_and(|n| n > cap as u64) {
            return Err(too_big());
        }
        let mut stream = resp.bytes_stream();
        let mut body = Chunks::default();
        let mut total = 0usize;
        let read_all = async {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(Failure::Transport)?;
                total += chunk.len();
                if total > cap {
                    return Err(too_big());
                }
                body.parts.push_back(chunk);
            }
            Ok(())
        };
        match tokio::time::timeout(BODY_DEADLINE.min(self.timeout), read_all).await {
            Ok(Ok(())) => Ok(body),
            Ok(Err(f)) => Err(f),
            Err(_) => Err(Failure::Timeout(
                "answer not complete",
                BODY_DEADLINE.min(self.timeout),
            )),
        }
    }

    /// Reads a small whole body (JSON, a short XML answer), capped at
    /// [`MAX_SMALL_BODY`].
    pub(crate) async fn small_body(&self, resp: Response) -> Result<Bytes, Failure> {
        let mut chunks = self.capped_body(resp, MAX_SMALL_BODY).await?;
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut chunks, &mut out)
            .map_err(|e| Failure::Protocol(format!("reading the answer failed: {e}")))?;
        Ok(Bytes::from(out))
    }

    /// Decodes an href (absolute URL or absolute path) to its decoded path.
    pub(crate) fn href_path(&self, href: &str) -> Option<String> {
        let url = self.base.join(href).ok()?;
        let decoded = percent_decode_str(url.path()).decode_utf8().ok()?;
        Some(decoded.into_owned())
    }

    /// The decoded path of a URL.
    pub(crate) fn decoded_path(url: &Url) -> String {
        percent_decode_str(url.path())
            .decode_utf8_lossy()
            .into_owned()
    }

    /// Classifies a failure of `method`-on-`path`. THE one place statuses map to kinds.
    pub(crate) fn classify(&self, path: &StoragePath, failure: Failure) -> StorageError {
        let (kind, msg) = match failure {
            Failure::Status {
                method,
                status,
                location,
            } => {
                let code = status.as_u16();
                let kind = match code {
                    401 => StorageErrorKind::AuthenticationFailed,
                    403 => StorageErrorKind::PermissionDenied,
                    404 | 409 | 410 => StorageErrorKind::NotFound,
                    405 if method.as_str() == "MKCOL" => StorageErrorKind::AlreadyExists,
                    412 => StorageErrorKind::AlreadyExists,
                    507 => StorageErrorKind::StorageFull,
                    408 | 423 | 425 | 429 => StorageErrorKind::Unavailable,
                    500..=599 => StorageErrorKind::Unavailable,
                    _ => StorageErrorKind::Other,
                };
                let msg = match code {
                    401 => format!(
                        "the WebDAV server refused the login {} (HTTP 401 Unauthorized): check the user name and the password \
                         (Nextcloud accounts with two-factor login need an app password)",
                        self.who
                    ),
                    403 => format!("{method} refused by the server (HTTP 403 Forbidden)"),
                    423 => format!(
                        "{method}: the object is locked on the server (HTTP 423 Locked); try again later"
                    ),
                    429 => format!(
                        "{method}: the server is rate-limiting this client (HTTP 429); try again later"
                    ),
                    503 => format!(
                        "{method}: the server is unavailable (HTTP 503, maintenance mode?); try again later"
                    ),
                    507 => format!(
                        "{method}: the server has no space left (HTTP 507 Insufficient Storage)"
                    ),
                    300..=399 => format!(
                        "{method}: the server redirects to {} (HTTP {code}); redirects are not followed \
                         (they could carry the password elsewhere): if that server is the right one, \
                         use its URL as STORAGE",
                        self.redirect_target(location.as_deref())
                    ),
                    _ => format!("{method} failed: HTTP {status}"),
                };
                (kind, msg)
            }
            Failure::Transport(e) => transport_message(&e, &self.who),
            Failure::Timeout(what, limit) => (
                StorageErrorKind::Unavailable,
                format!(
                    "{what}: the WebDAV server {} did not respond within {} s",
                    self.who,
                    limit.as_secs_f32()
                ),
            ),
            Failure::BodyRead(e) => (
                StorageErrorKind::Other,
                format!("reading the data to upload failed: {e}"),
            ),
            Failure::Protocol(m) => (StorageErrorKind::Other, m),
        };
        StorageError::with_source(kind, path, DavError(msg))
    }

    /// Where a `Location` points, for messages: the host (and port) only, so
    /// nothing of the server's text but a parsed host name reaches the user.
    fn redirect_target(&self, location: Option<&str>) -> String {
        let Some(target) = location.and_then(|l| self.base.join(l).ok()) else {
            return "an address that is not a URL".to_owned();
        };
        let host = target.host_str().unwrap_or("");
        let same = target.host_str() == self.base.host_str()
            && target.port_or_known_default() == self.base.port_or_known_default();
        let port = target.port().map(|p| format!(":{p}")).unwrap_or_default();
        let place = format!("{}://{host}{port}", target.scheme());
        if same {
            format!("another path on {place}")
        } else {
            format!("the host {place}")
        }
    }

    /// A failure for an unexpected status of `resp`.
    pub(crate) fn status_failure(method: &Method, resp: &Response) -> Failure {
        Failure::Status {
            method: method.clone(),
            status: resp.status(),
            location: resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }
    }

    /// Headers for a body-less request from a list of pairs.
    pub(crate) fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            if let Ok(v) = HeaderValue::from_str(v) {
                map.insert(*k, v);
            }
        }
        map
    }
}

/// Walks an error's causes, looking inside `io::Error`s too (their `source()`
/// skips the wrapped error itself).
fn find_rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(r) = find_rustls_error(inner)
        {
            return Some(r);
        }
        cur = err.source();
    }
    None
}

fn certificate_problem(e: &rustls::Error) -> Option<String> {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(ce) = e else {
        return None;
    };
    Some(match ce {
        C::UnknownIssuer => {
            "it is not signed by a trusted certificate authority (unknown issuer)".to_owned()
        }
        C::Expired | C::ExpiredContext { .. } => "it has expired".to_owned(),
        C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet".to_owned(),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "it was issued for another host name (name mismatch)".to_owned()
        }
        C::Revoked => "it has been revoked".to_owned(),
        C::BadSignature => "its signature is invalid".to_owned(),
        other => format!("{other:?}"),
    })
}

fn transport_message(e: &reqwest::Error, who: &str) -> (StorageErrorKind, String) {
    if let Some(r) = find_rustls_error(e) {
        if let Some(problem) = certificate_problem(r) {
            return (
                StorageErrorKind::Other,
                format!(
                    "the TLS certificate of {who} is not trusted: {problem}. If the server uses a private CA, \
                     pass its certificate with --ca-cert FILE"
                ),
            );
        }
        return (
            StorageErrorKind::Unavailable,
            format!("TLS with {who} failed: {r}"),
        );
    }
    let text = error_chain(e);
    if e.is_timeout() {
        return (
            StorageErrorKind::Unavailable,
            format!("the WebDAV server {who} timed out: {text}"),
        );
    }
    if e.is_connect() {
        return (
            StorageErrorKind::Unavailable,
            format!("cannot connect to the WebDAV server {who}: {text}"),
        );
    }
    // Connection reset / closed mid-request, broken pipe: the server went away.
    (
        StorageErrorKind::Unavailable,
        format!("the connection to the WebDAV server {who} failed: {text}"),
    )
}

/// "a: b: c" from an error and its causes (no secrets: reqwest errors carry
/// URLs, and our URLs never hold credentials).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_password_over_plain_http_to_another_host() {
        let mut c = WebDavConfig::parse("dav://u@10.0.0.1/v").expect("test value");
        c.password = Some(secrecy::SecretString::from("pw".to_owned()));
        let e = Dav::new(&c).err().expect("refused");
        assert_eq!(e.kind(), StorageErrorKind::PermissionDenied);
        assert!(e.to_string().contains("--insecure-http"), "{e}");
        c.insecure_http = true;
        assert!(Dav::new(&c).is_ok());
        for ok in [
            "dav://u@127.0.0.1/v",
            "dav://u@localhost/v",
            "davs://u@10.0.0.1/v",
            "dav://10.0.0.1/v",
        ] {
            let c = WebDavConfig::parse(ok).expect("test value");
            assert!(Dav::new(&c).is_ok(), "{ok}");
        }
    }

    #[test]
    fn a_redirect_names_only_the_target_host() {
        let c = WebDavConfig::parse("dav://u@127.0.0.1:8080/v").expect("test value");
        let dav = Dav::new(&c).expect("test value");
        let e = dav.classify(
            &StoragePath::root(),
            Failure::Status {
                method: Method::GET,
                status: StatusCode::FOUND,
                location: Some("http://evil.example:81/x?\x1b[2J".to_owned()),
            },
        );
        let text = e.to_string();
        assert!(text.contains("the host http://evil.example:81"), "{text}");
        assert!(!text.contains('\x1b') && !text.contains("/x?"), "{text}");
    }

    #[test]
    fn urls_encode_segments() {
        let base = Url::parse("http://h/v%20x/").expect("test value");
        let p = StoragePath::new("d/a b=(c).c9r").expect("test value");
        assert_eq!(
            Dav::url_below(&base, &p, false).as_str(),
            "http://h/v%20x/d/a%20b%3D%28c%29.c9r"
        );
        assert_eq!(
            Dav::url_below(&base, &StoragePath::new("d").expect("test value"), true).as_str(),
            "http://h/v%20x/d/"
        );
        assert_eq!(
            Dav::url_below(&base, &StoragePath::root(), true).as_str(),
            "http://h/v%20x/"
        );
    }
}
