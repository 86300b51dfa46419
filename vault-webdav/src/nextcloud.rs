//! Nextcloud extensions: detection through `status.php`, chunked upload v2,
//! `PROPPATCH {DAV:}lastmodified` for `set_modified`, and Login Flow v2.
//!
//! Coded from Nextcloud's public developer documentation (WebDAV "chunked
//! file upload v2", "Login Flow v2") and checked against Nextcloud 34's
//! `apps/dav` (the `{DAV:}lastmodified` PROPPATCH handler in `FilesPlugin`).

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};

use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use vault_storage::{Body, StorageError, StorageErrorKind, StoragePath};

use crate::client::{Dav, Failure, encode_segment};
use crate::config::WebDavConfig;
use crate::propfind::PROPFIND_BODY;
use crate::{LOCKED_BACKOFF, NextcloudInfo, WebDavStorage, error_for};

/// Asks `status.php` beside `remote.php` whether this is Nextcloud/ownCloud.
pub(crate) async fn detect(dav: &Dav, config: &WebDavConfig) -> Option<NextcloudInfo> {
    let (server, user) = config.nextcloud_layout()?;
    let status_url = server.join("status.php").ok()?;
    let resp = dav.send_small(dav.http.get(status_url)).await.ok()?;
    if resp.status() != StatusCode::OK {
        return None;
    }
    let body = dav.small_body(resp).await.ok()?;
    let json: serde_json::Value = serde_json::from_slice(&body).ok()?;
    let installed = json.get("installed").and_then(|v| v.as_bool()) == Some(true);
    let has_version = json.get("version").and_then(|v| v.as_str()).is_some();
    if !(installed && has_version) {
        return None;
    }
    let uploads_url = server
        .join(&format!(
            "remote.php/dav/uploads/{}/",
            encode_segment(&user)
        ))
        .ok()?;
    Some(NextcloudInfo { uploads_url })
}

fn method(name: &'static [u8]) -> Method {
    Method::from_bytes(name).unwrap_or(Method::GET)
}

/// Reads up to `max` bytes (fewer only at the end of the reader).
async fn read_chunk(
    reader: &mut (dyn tokio::io::AsyncRead + Send + Unpin),
    max: usize,
) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; max];
    let mut filled = 0;
    while filled < max {
        let n = reader.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    Ok(buf)
}

/// Chunked upload v2 of `body` to `dest` (an absolute files URL):
/// `MKCOL uploads/USER/<id>` with `Destination`, `PUT <id>/1..N`, then
/// `MOVE <id>/.file` with `OC-Total-Length`, retrying on `423 Locked`, and a
/// `PROPFIND` checking the size before reporting success.
pub(crate) async fn chunked_upload(
    storage: &WebDavStorage,
    nc: &NextcloudInfo,
    path: &StoragePath,
    dest: &Url,
    body: Body,
    chunk_size: u64,
) -> Result<(), StorageError> {
    let dav = &storage.dav;
    let total = body.len();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let id = format!("vault-{:x}-{nanos:x}", std::process::id());
    let upload_dir = nc.uploads_url.join(&format!("{id}/")).map_err(|e| {
        error_for(
            StorageErrorKind::Other,
            path,
            format!("bad upload URL: {e}"),
        )
    })?;
    let upload = Upload {
        dav,
        path,
        dir: &upload_dir,
        dest,
        total,
    };
    let result = async {
        upload.open().await?;
        upload.send_chunks(body, chunk_size).await?;
        upload.assemble().await?;
        upload.check_size().await
    }
    .await;
    if result.is_err() {
        // The server removes a finished upload folder itself; a failed one we remove.
        let _ = dav
            .send_small(dav.request(Method::DELETE, upload_dir))
            .await;
    }
    result
}

/// One chunked upload: its upload folder, where it goes and how long it is.
struct Upload<'a> {
    dav: &'a Dav,
    path: &'a StoragePath,
    /// `uploads/USER/<id>/`.
    dir: &'a Url,
    dest: &'a Url,
    total: u64,
}

impl Upload<'_> {
    /// `MKCOL` of the upload folder, naming the destination.
    async fn open(&self) -> Result<(), StorageError> {
        let (dav, path) = (self.dav, self.path);
        let mkcol = method(b"MKCOL");
        let rb = dav
            .request(mkcol.clone(), self.dir.clone())
            .header("Destination", self.dest.as_str());
        let resp = dav
            .send_small(rb)
            .await
            .map_err(|f| dav.classify(path, f))?;
        if !resp.status().is_success() {
            return Err(dav.classify(path, Dav::status_failure(&mkcol, &resp)));
        }
        Ok(())
    }

    /// `PUT <id>/1..N` of `chunk_size` pieces of `body` (one empty chunk for an empty body).
    async fn send_chunks(&self, body: Body, chunk_size: u64) -> Result<(), StorageError> {
        let (dav, path, total) = (self.dav, self.path, self.total);
        let mut reader = body.into_reader();
        let mut sent = 0u64;
        let mut n = 0u32;
        while sent < total || n == 0 {
            n += 1;
            let want = (total - sent).min(chunk_size) as usize;
            let chunk = read_chunk(reader.as_mut(), want)
                .await
                .map_err(|e| dav.classify(path, Failure::BodyRead(e)))?;
            if chunk.len() != want {
                return Err(dav.classify(
                    path,
                    Failure::BodyRead(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!(
                            "the body yielded {} of {total} bytes",
                            sent + chunk.len() as u64
                        ),
                    )),
                ));
            }
            let len = chunk.len() as u64;
            let url = self.dir.join(&n.to_string()).map_err(|e| {
                error_for(StorageErrorKind::Other, path, format!("bad chunk URL: {e}"))
            })?;
            let rb = dav
                .request(Method::PUT, url)
                .header("Destination", self.dest.as_str())
                .header("OC-Total-Length", total.to_string());
            let resp = dav
                .send_streaming(rb, Box::new(std::io::Cursor::new(chunk)), len)
                .await
                .map_err(|f| dav.classify(path, f))?;
            if !resp.status().is_success() {
                return Err(dav.classify(path, Dav::status_failure(&Method::PUT, &resp)));
            }
            sent += len;
            if total == 0 {
                break;
            }
        }
        Ok(())
    }

    /// `MOVE <id>/.file` to the destination; the server may hold a lock on the target for a
    /// moment (`423`, retried).
    async fn assemble(&self) -> Result<(), StorageError> {
        let (dav, path) = (self.dav, self.path);
        let file_url = self.dir.join(".file").map_err(|e| {
            error_for(
                StorageErrorKind::Other,
                path,
                format!("bad upload URL: {e}"),
            )
        })?;
        let mv = method(b"MOVE");
        let mut tries = LOCKED_BACKOFF.iter();
        loop {
            let rb = dav
                .request(mv.clone(), file_url.clone())
                .header("Destination", self.dest.as_str())
                .header("OC-Total-Length", self.total.to_string())
                .header("Overwrite", "T");
            // Assembling a big file takes time on the server: allow for it.
            let rb = rb.timeout(dav.timeout.max(Duration::from_secs(1)) * 10);
            let resp = match dav.exchange(rb).await {
                Ok(r) => r,
                Err(e) => return Err(dav.classify(path, Failure::Transport(e))),
            };
            if resp.status().is_success() {
                return Ok(());
            }
            if resp.status() == StatusCode::LOCKED
                && let Some(wait) = tries.next()
            {
                tracing::debug!(target: "vault_webdav", ?wait, "chunked upload: 423 Locked, retrying the final MOVE");
                tokio::time::sleep(*wait).await;
                continue;
            }
            return Err(dav.classify(path, Dav::status_failure(&mv, &resp)));
        }
    }

    /// A `PROPFIND` of the destination: the assembled file has the size sent.
    async fn check_size(&self) -> Result<(), StorageError> {
        let (dav, path, total) = (self.dav, self.path, self.total);
        let pf = method(b"PROPFIND");
        let resp = dav
            .send_small(
                dav.request(pf.clone(), self.dest.clone())
                    .header("Depth", "0")
                    .header("Content-Type", "application/xml; charset=utf-8")
                    .body(PROPFIND_BODY),
            )
            .await
            .map_err(|f| dav.classify(path, f))?;
        if resp.status() != StatusCode::MULTI_STATUS {
            return Err(dav.classify(path, Dav::status_failure(&pf, &resp)));
        }
        let bytes = dav
            .small_body(resp)
            .await
            .map_err(|f| dav.classify(path, f))?;
        let entries = crate::propfind::parse_multistatus(&bytes[..])
            .map_err(|m| dav.classify(path, Failure::Protocol(m)))?;
        let size = entries.first().and_then(|e| e.content_length);
        if size != Some(total) {
            return Err(error_for(
                StorageErrorKind::Other,
                path,
                format!(
                    "chunked upload: the server reports {size:?} bytes after assembly, {total} were sent"
                ),
            ));
        }
        Ok(())
    }
}

/// `set_modified` on Nextcloud: `PROPPATCH {DAV:}lastmodified` (Unix seconds).
pub(crate) async fn set_mtime(
    storage: &WebDavStorage,
    path: &StoragePath,
    t: SystemTime,
) -> Result<(), StorageError> {
    let dav = &storage.dav;
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| {
            error_for(
                StorageErrorKind::Other,
                path,
                "modification times before 1970 are not supported",
            )
        })?
        .as_secs();
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:lastmodified>{secs}</d:lastmodified></d:prop></d:set></d:propertyupdate>"#
    );
    let pp = method(b"PROPPATCH");
    let resp = dav
        .send_small(
            dav.request(pp.clone(), dav.url(path, false))
                .header("Content-Type", "application/xml; charset=utf-8")
                .body(body),
        )
        .await
        .map_err(|f| dav.classify(path, f))?;
    if resp.status() != StatusCode::MULTI_STATUS {
        return Err(dav.classify(path, Dav::status_failure(&pp, &resp)));
    }
    let bytes = dav
        .small_body(resp)
        .await
        .map_err(|f| dav.classify(path, f))?;
    let text = String::from_utf8_lossy(&bytes);
    if text.contains(" 200 ") || text.contains(" 204 ") {
        Ok(())
    } else {
        Err(error_for(
            StorageErrorKind::Other,
            path,
            "the server did not accept the new modification time",
        ))
    }
}

/// The poll half of a started Login Flow v2.
pub type LoginPoll = Pin<Box<dyn Future<Output = Result<NextcloudLogin, StorageError>> + Send>>;

/// What Login Flow v2 hands out once the user approved in the browser.
pub struct NextcloudLogin {
    /// The server's base URL as it reports it (e.g. `https://cloud.example.org`).
    pub server: String,
    /// The login name (may differ from the user id in DAV paths).
    pub login_name: String,
    /// The new app password (store it in the keyring; never log it).
    pub app_password: SecretString,
}

impl std::fmt::Debug for NextcloudLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NextcloudLogin")
            .field("server", &self.server)
            .field("login_name", &self.login_name)
            .field("app_password", &"<redacted>")
            .finish()
    }
}

/// A started Login Flow v2: show [`LoginFlow::login_url`] to the user (open it
/// in a browser), then await [`LoginFlow::poll`].
pub struct LoginFlow {
    /// The page where the user logs in and grants access.
    pub login_url: String,
    poll: LoginPoll,
}

impl std::fmt::Debug for LoginFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginFlow")
            .field("login_url", &self.login_url)
            .finish_non_exhaustive()
    }
}

impl LoginFlow {
    /// Polls until the user granted access (or the flow expired).
    pub async fn poll(self) -> Result<NextcloudLogin, StorageError> {
        self.poll.await
    }

    /// The login URL to show and the poll future, as a pair.
    pub fn into_parts(self) -> (String, LoginPoll) {
        (self.login_url, self.poll)
    }
}

/// Starts Nextcloud Login Flow v2 at `server_url` (e.g.
/// `https://cloud.example.org`) with the system roots, polling every 2 s for
/// up to 20 minutes (the lifetime of a flow on the server).
pub async fn login_flow_v2(server_url: &str) -> Result<LoginFlow, StorageError> {
    login_flow_v2_with(
        server_url,
        None,
        false,
        Duration::from_secs(2),
        Duration::from_secs(20 * 60),
    )
    .await
}

/// [`login_flow_v2`] with `--ca-cert`, `--insecure-http`, poll interval and
/// overall limit. Over plain `http://` to a host that is not loopback the flow
/// is refused unless `insecure_http` (its poll token and the app password it
/// returns are credentials), with [`StorageErrorKind::PermissionDenied`].
pub async fn login_flow_v2_with(
    server_url: &str,
    ca_cert: Option<&Path>,
    insecure_http: bool,
    poll_interval: Duration,
    give_up_after: Duration,
) -> Result<LoginFlow, StorageError> {
    let (dav, base) = login_client(server_url, ca_cert, insecure_http)?;
    let (login_url, token, endpoint) = start_login(&dav, &base, server_url).await?;
    // Send the token only to the server we were given (a proxied Nextcloud
    // may report an internal http:// address).
    let mut poll_url = base;
    poll_url.set_path(endpoint.path());
    let poll = poll_login(dav, poll_url, token, poll_interval, give_up_after);
    Ok(LoginFlow {
        login_url,
        poll: Box::pin(poll),
    })
}

fn login_error(m: String) -> StorageError {
    error_for(StorageErrorKind::Other, &StoragePath::root(), m)
}

/// The client for a login flow at `server_url`, and its base URL; refused over cleartext to
/// a host that is not loopback unless `insecure_http`.
fn login_client(
    server_url: &str,
    ca_cert: Option<&Path>,
    insecure_http: bool,
) -> Result<(Dav, Url), StorageError> {
    let mut config = WebDavConfig::parse(server_url).map_err(|e| login_error(e.to_string()))?;
    config.ca_cert = ca_cert.map(Path::to_path_buf);
    let host = config.base_url.host_str().unwrap_or("");
    if !vault_storage::cleartext::may_send_credentials(
        config.base_url.scheme(),
        host,
        insecure_http,
    ) {
        return Err(error_for(
            StorageErrorKind::PermissionDenied,
            &StoragePath::root(),
            vault_storage::cleartext::refusal("the login token and app password", host),
        ));
    }
    let dav = Dav::new(&config)?;
    Ok((dav, config.base_url))
}

/// `POST index.php/login/v2`: the login page, the poll token and the poll endpoint.
async fn start_login(
    dav: &Dav,
    base: &Url,
    server_url: &str,
) -> Result<(String, SecretString, Url), StorageError> {
    let root = StoragePath::root();
    let start_url = base
        .join("index.php/login/v2")
        .map_err(|e| login_error(format!("bad server URL: {e}")))?;
    let resp = dav
        .send_small(dav.http.post(start_url))
        .await
        .map_err(|f| dav.classify(&root, f))?;
    if resp.status() != StatusCode::OK {
        let failure = Dav::status_failure(&Method::POST, &resp);
        let err = dav.classify(&root, failure);
        return Err(login_error(format!(
            "{server_url} did not start a Nextcloud login flow: {err}"
        )));
    }
    let body = dav
        .small_body(resp)
        .await
        .map_err(|f| dav.classify(&root, f))?;
    let json: serde_json::Value = serde_json::from_slice(&body).map_err(|_| {
        login_error(format!(
            "{server_url} is not a Nextcloud server (login flow answer is not JSON)"
        ))
    })?;
    let login_url = json
        .get("login")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let token = json
        .pointer("/poll/token")
        .and_then(|v| v.as_str())
        .map(|s| SecretString::from(s.to_owned()));
    let endpoint = json
        .pointer("/poll/endpoint")
        .and_then(|v| v.as_str())
        .and_then(|s| Url::parse(s).ok());
    let (Some(login_url), Some(token), Some(endpoint)) = (login_url, token, endpoint) else {
        return Err(login_error(format!(
            "{server_url} answered the login flow without login URL, token or poll endpoint"
        )));
    };
    Ok((login_url, token, endpoint))
}

/// Polls `poll_url` with `token` every `poll_interval` until the user granted access, or
/// `give_up_after` passed.
async fn poll_login(
    dav: Dav,
    poll_url: Url,
    token: SecretString,
    poll_interval: Duration,
    give_up_after: Duration,
) -> Result<NextcloudLogin, StorageError> {
    let root = StoragePath::root();
    let deadline = Instant::now() + give_up_after;
    loop {
        let form = format!("token={}", encode_segment(token.expose_secret()));
        let rb = dav
            .http
            .post(poll_url.clone())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form);
        match dav.send_small(rb).await {
            Ok(resp) if resp.status() == StatusCode::OK => {
                let body = dav
                    .small_body(resp)
                    .await
                    .map_err(|f| dav.classify(&root, f))?;
                return granted_login(&body);
            }
            Ok(resp) if resp.status() == StatusCode::NOT_FOUND => {}
            Ok(resp) => {
                let failure = Dav::status_failure(&Method::POST, &resp);
                return Err(dav.classify(&root, failure));
            }
            // A network hiccup while the user is in the browser: keep polling.
            Err(f) => {
                let e = dav.classify(&root, f);
                if e.kind() != StorageErrorKind::Unavailable {
                    return Err(e);
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(error_for(
                StorageErrorKind::AuthenticationFailed,
                &root,
                "the login was not approved in time; run `vault login nextcloud` again",
            ));
        }
        tokio::time::sleep(poll_interval).await;
    }
}

/// The credentials in the poll endpoint's answer once the user granted access.
fn granted_login(body: &[u8]) -> Result<NextcloudLogin, StorageError> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| login_error("the login flow answer is not JSON".into()))?;
    let get = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    match (get("server"), get("loginName"), get("appPassword")) {
        (Some(server), Some(login_name), Some(pw)) => Ok(NextcloudLogin {
            server,
            login_name,
            app_password: SecretString::from(pw),
        }),
        _ => Err(login_error(
            "the login flow answer lacks the credentials".into(),
        )),
    }
}
