//! WebDAV and Nextcloud backend: [`WebDavStorage`] implements
//! [`vault_storage::Storage`] on any WebDAV server (Apache mod_dav,
//! `rclone serve webdav`, SabreDAV, Nextcloud, …).
//!
//! # Why a thin client and not `reqwest_dav`
//! `reqwest_dav` 0.3.3 was checked first. Its `get` sends no `Range` header
//! (no ranged reads), its `list` always sends `<allprop/>` (no named
//! PROPFIND properties), and its `mv` sends only `Destination`, never
//! `Overwrite` (so a no-replace rename cannot be expressed: servers default
//! to `Overwrite: T`). Its destination paths are also not percent-encoded.
//! What is left, `start_request`, is a bare `reqwest::RequestBuilder`, so this
//! crate is a thin client directly on `reqwest` (rustls with the `ring`
//! provider and the system roots from `rustls-native-certs`) and `quick-xml`.
//!
//! # Protocol use
//! - `list_dir`: one `PROPFIND Depth: 1` with the named properties
//!   `resourcetype`, `getcontentlength`, `getlastmodified`; hrefs are
//!   percent-decoded, the folder itself is skipped. `metadata`: `Depth: 0`.
//! - `read_at`: `GET` with `Range`; `206` is the normal answer, a `200` (a
//!   server ignoring `Range`) is skipped/limited in the client, `416` means
//!   past the end.
//! - `write`: streaming `PUT` to a hidden temporary name in the same folder
//!   (`.vault-tmp-…`, never ending in `.c9r`), then `MOVE` onto the target
//!   (`Overwrite: F` for [`WriteMode::CreateNew`], `T` otherwise), so readers
//!   never see a partial object. A server that dies mid-upload leaves the
//!   previous object intact (and maybe a hidden temporary object).
//! - `create_dir`: existence is checked first, because rclone answers `201`
//!   to `MKCOL` on an existing folder; `405` also means "exists".
//! - `rename`: `MOVE` with `Overwrite: T/F`; `412` means the target exists.
//! - ETags are never used (SabreDAV's file backend has none, Apache's may be
//!   weak, rclone's change on every write).
//! - Nextcloud (detected through `status.php`): writes above
//!   [`WebDavConfig::chunk_threshold`] use chunked upload v2, retrying the
//!   final `MOVE` on `423 Locked` and checking the size before reporting
//!   success; `set_modified` is a `PROPPATCH` of `{DAV:}lastmodified`.
//!   [`login_flow_v2`] is Nextcloud's Login Flow v2 for `vault login nextcloud`.
//!
//! `MOVE` with `Overwrite: T` is not atomic on any server tested: Apache,
//! rclone and SabreDAV (so Nextcloud too) delete the target, then rename. So
//! [`Capabilities::atomic_replace`] is `false`, and a reader racing an
//! overwrite may see "not found" (Apache even 403) for a moment, never a
//! prefix. One exception avoids that window: Apache mod_dav_fs (detected by
//! its `DAV: <http://apache.org/dav/propset/fs/1>` header) itself writes a
//! `PUT` to a hidden `.davfs.tmp*` file and renames it over the target when
//! the body is complete (verified), so there `write(.., Overwrite)` is one
//! direct `PUT`, with the same guarantees (a server killed mid-upload leaves
//! the old object) and a truly atomic replace. Nextcloud's PUT is atomic the
//! same way (a `.part` file renamed at the end), so there new objects up to
//! the chunking threshold are one `PUT` (an overwrite keeps temp + `MOVE`: it
//! may meet `423 Locked` while the old version is read, and only the `MOVE`
//! can be retried). A no-replace write is a `PUT` with `If-None-Match: *`
//! (412 if the target exists). rclone and SabreDAV's file
//! backend write the target in place: those keep the temporary name + `MOVE`.
//!
//! # Requests and sessions
//! Every request carries the Basic credentials and the session cookies the
//! server set (`session.rs`): Nextcloud then skips its slow password check.
//! `OPTIONS` (to recognise mod_dav_fs) is sent on the first write only.
//!
//! `MOVE` with `Overwrite: F` is check-then-rename on those servers: two
//! clients racing a no-replace create of one name may both succeed. Within
//! one process, [`WebDavStorage`] serialises these per target name.

#![forbid(unsafe_code)]

mod client;
mod config;
mod nextcloud;
mod propfind;
mod recent;
mod session;
mod upload;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::{Method, StatusCode};
use vault_storage::{
    Body, Capabilities, DirEntry, EntryKind, Metadata, RenameMode, SpaceInfo, Storage,
    StorageError, StorageErrorKind, StoragePath, WriteMode,
};

use crate::client::{Dav, DavError, Failure};
pub use crate::config::{NextcloudMode, UrlError, WebDavConfig, is_webdav_url, redact_password};
pub use crate::nextcloud::{
    LoginFlow, LoginPoll, NextcloudLogin, login_flow_v2, login_flow_v2_with,
};
use crate::propfind::{DavEntry, PROPFIND_BODY, QUOTA_BODY, parse_multistatus};

/// Prefix of the hidden temporary objects that `write` uploads before the
/// final `MOVE`. Starts with `.` and never ends in `.c9r`, so vault readers
/// (ours and Cryptomator's) ignore leftovers.
pub const TEMP_PREFIX: &str = ".vault-tmp-";

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn temp_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{TEMP_PREFIX}{:x}-{:x}-{n:x}.tmp",
        std::process::id(),
        nanos & 0xffff_ffff_ffff
    )
}

/// Nextcloud specifics found at connect time.
#[derive(Debug, Clone)]
pub(crate) struct NextcloudInfo {
    /// `https://host/prefix/remote.php/dav/uploads/USER/`
    pub uploads_url: reqwest::Url,
}

/// Number of lock stripes serialising no-replace MOVEs of this process.
const STRIPES: usize = 64;

/// A vault folder on a WebDAV server.
pub struct WebDavStorage {
    dav: Dav,
    /// `MOVE` with `Overwrite: F` is check-then-rename on the servers tested
    /// (not atomic): two racing no-replace moves onto one name may both
    /// "win". Within this process they are serialised per target name.
    stripes: Vec<tokio::sync::Mutex<()>>,
    /// The server is Apache mod_dav_fs, whose PUT writes a temporary file and
    /// renames it over the target at the end (atomic, crash-safe). Asked
    /// (`OPTIONS`) on the first write only: reads never need it.
    mod_dav_fs: tokio::sync::OnceCell<bool>,
    describe: String,
    nextcloud: Option<NextcloudInfo>,
    chunk_threshold: u64,
    chunk_size: u64,
    /// The root folder's metadata as the connect-time PROPFIND found it,
    /// taken (once) by `create_root_if_missing`, which need not ask again.
    root_at_connect: std::sync::Mutex<Option<Option<Metadata>>>,
    /// Metadata learnt moments ago (see `recent.rs`).
    recent: recent::Recent,
}

impl std::fmt::Debug for WebDavStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebDavStorage")
            .field("describe", &self.describe)
            .finish_non_exhaustive()
    }
}

fn dav_err(kind: StorageErrorKind, path: &StoragePath, msg: impl Into<String>) -> StorageError {
    StorageError::with_source(kind, path, DavError(msg.into()))
}

impl WebDavStorage {
    /// Connects: builds the HTTP client, checks the credentials and the TLS
    /// certificate with a `PROPFIND Depth: 1` on the vault root, and detects
    /// Nextcloud. A wrong password gives
    /// [`StorageErrorKind::AuthenticationFailed`]; an untrusted certificate an
    /// error naming the certificate problem. A missing root folder is not an
    /// error here (operations on it report `NotFound`).
    pub async fn connect(config: WebDavConfig) -> Result<Self, StorageError> {
        let dav = Dav::new(&config)?;
        let root = StoragePath::root();
        let describe = {
            let mut shown = config.base_url.clone();
            if let Some(user) = &config.user {
                let _ = shown.set_username(&client::encode_segment(user));
            }
            format!("webdav {shown}")
        };
        let mut storage = WebDavStorage {
            dav,
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            mod_dav_fs: tokio::sync::OnceCell::new(),
            describe,
            nextcloud: None,
            chunk_threshold: config.chunk_threshold,
            chunk_size: config.chunk_size.max(1 << 20),
            root_at_connect: std::sync::Mutex::new(None),
            recent: recent::Recent::default(),
        };
        // Credentials and certificate check, as a listing of the root: a vault
        // root holds a handful of objects, and the unlock that follows asks
        // for their metadata (answered from `recent`). What it finds is kept
        // for `create_root_if_missing`, which `vault create` calls next.
        let root_meta = match storage.list_dir(&root).await {
            Ok(_) => Some(Metadata {
                kind: EntryKind::Dir,
                size: 0,
                modified: None,
            }),
            Err(e) if e.kind() == StorageErrorKind::NotFound => None,
            Err(e) if e.kind() == StorageErrorKind::NotADirectory => Some(Metadata {
                kind: EntryKind::File,
                size: 0,
                modified: None,
            }),
            Err(e) => return Err(e),
        };
        if let Ok(mut known) = storage.root_at_connect.lock() {
            *known = Some(root_meta);
        }
        storage.nextcloud = match config.nextcloud {
            NextcloudMode::Off => None,
            NextcloudMode::Auto => nextcloud::detect(&storage.dav, &config).await,
        };
        tracing::debug!(target: "vault_webdav", describe = %storage.describe, nextcloud = storage.nextcloud.is_some(), "connected");
        Ok(storage)
    }

    /// Creates the vault's root folder itself if it does not exist yet (for
    /// `vault create` on a new URL; its parent must exist). `Ok(true)` if it
    /// was created, `Ok(false)` if it was there.
    pub async fn create_root_if_missing(&self) -> Result<bool, StorageError> {
        let root = StoragePath::root();
        let known = self
            .root_at_connect
            .lock()
            .map(|mut k| k.take())
            .unwrap_or(None);
        let meta = match known {
            Some(meta) => meta,
            None => self.stat(&root).await?,
        };
        if let Some(meta) = meta {
            return match meta.kind {
                EntryKind::Dir => Ok(false),
                EntryKind::File => Err(StorageError::new(StorageErrorKind::NotADirectory, root)),
            };
        }
        // (Only a creation forgets what the connect-time listing learnt.)
        let _mutating = self.recent.mutating();
        let method = Method::from_bytes(b"MKCOL").unwrap_or(Method::PUT);
        let resp = self
            .simple(
                &root,
                method.clone(),
                self.dav.base.clone(),
                Default::default(),
            )
            .await?;
        if resp.status().is_success() {
            Ok(true)
        } else {
            Err(self
                .dav
                .classify(&root, Dav::status_failure(&method, &resp)))
        }
    }

    /// True if the server was detected as Nextcloud (chunked upload, mtime).
    pub fn is_nextcloud(&self) -> bool {
        self.nextcloud.is_some()
    }

    fn propfind_method() -> Method {
        Method::from_bytes(b"PROPFIND").unwrap_or(Method::GET)
    }

    /// One PROPFIND; the status and, for 207, the parsed entries.
    async fn propfind_once(
        &self,
        path: &StoragePath,
        depth: &'static str,
        collection: bool,
        body: &'static str,
    ) -> Result<(StatusCode, reqwest::Url, Vec<DavEntry>, Option<Failure>), StorageError> {
        let url = self.dav.url(path, collection);
        let method = Self::propfind_method();
        let rb = self
            .dav
            .request(method.clone(), url.clone())
            .header("Depth", depth)
            .header("Content-Type", "application/xml; charset=utf-8")
            .body(body);
        let resp = self
            .dav
            .send_read(rb)
            .await
            .map_err(|f| self.dav.classify(path, f))?;
        let status = resp.status();
        if status != StatusCode::MULTI_STATUS {
            let failure = Dav::status_failure(&method, &resp);
            return Ok((status, url, Vec::new(), Some(failure)));
        }
        let body = self
            .dav
            .capped_body(resp, client::MAX_LISTING_BODY)
            .await
            .map_err(|f| self.dav.classify(path, f))?;
        let entries =
            parse_multistatus(body).map_err(|m| self.dav.classify(path, Failure::Protocol(m)))?;
        Ok((status, url, entries, None))
    }

    /// PROPFIND with `depth` on `path`; `Ok(None)` for 404/409.
    async fn propfind(
        &self,
        path: &StoragePath,
        depth: &'static str,
        collection: bool,
        body: &'static str,
    ) -> Result<Option<(reqwest::Url, Vec<DavEntry>)>, StorageError> {
        let (status, url, entries, failure) =
            self.propfind_once(path, depth, collection, body).await?;
        match (status, failure) {
            (StatusCode::MULTI_STATUS, _) => Ok(Some((url, entries))),
            (StatusCode::NOT_FOUND | StatusCode::CONFLICT, _) => Ok(None),
            (StatusCode::BAD_REQUEST, Some(failure)) => {
                // Apache answers 400 for a path through a file (`file/child`).
                if let Some(parent) = path.parent().filter(|p| !p.is_root()) {
                    let (pstatus, _, pentries, _) = self
                        .propfind_once(&parent, "0", false, PROPFIND_BODY)
                        .await?;
                    if pstatus == StatusCode::MULTI_STATUS
                        && pentries.first().is_some_and(|e| !e.is_collection)
                    {
                        return Err(StorageError::new(
                            StorageErrorKind::NotADirectory,
                            path.clone(),
                        ));
                    }
                    if matches!(
                        pstatus,
                        StatusCode::NOT_FOUND | StatusCode::CONFLICT | StatusCode::BAD_REQUEST
                    ) {
                        return Ok(None);
                    }
                }
                Err(self.dav.classify(path, failure))
            }
            (_, Some(failure)) => Err(self.dav.classify(path, failure)),
            (_, None) => Err(self.dav.classify(
                path,
                Failure::Protocol("unexpected PROPFIND answer".to_owned()),
            )),
        }
    }

    fn to_metadata(e: &DavEntry) -> Metadata {
        Metadata {
            kind: if e.is_collection {
                EntryKind::Dir
            } else {
                EntryKind::File
            },
            size: if e.is_collection {
                0
            } else {
                e.content_length.unwrap_or(0)
            },
            modified: e.last_modified,
        }
    }

    /// Metadata, or `None` if the path does not exist.
    async fn stat(&self, path: &StoragePath) -> Result<Option<Metadata>, StorageError> {
        let generation = self.recent.generation();
        let found = self.stat_uncached(path).await?;
        self.recent.put(generation, path, found.clone());
        Ok(found)
    }

    async fn stat_uncached(&self, path: &StoragePath) -> Result<Option<Metadata>, StorageError> {
        let Some((url, entries)) = self.propfind(path, "0", false, PROPFIND_BODY).await? else {
            return Ok(None);
        };
        let want = Dav::decoded_path(&url);
        let want = want.trim_end_matches('/');
        let entry = entries
            .iter()
            .find(|e| {
                self.dav
                    .href_path(&e.href)
                    .is_some_and(|p| p.trim_end_matches('/') == want)
            })
            .or_else(|| entries.first());
        match entry {
            Some(e) => Ok(Some(Self::to_metadata(e))),
            None => Err(self.dav.classify(
                path,
                Failure::Protocol("PROPFIND answered with no entry".to_owned()),
            )),
        }
    }

    async fn stat_required(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        self.stat(path)
            .await?
            .ok_or_else(|| StorageError::new(StorageErrorKind::NotFound, path.clone()))
    }

    /// A body-less request (MKCOL, DELETE, MOVE, …); returns the response.
    async fn simple(
        &self,
        path: &StoragePath,
        method: Method,
        url: reqwest::Url,
        headers: reqwest::header::HeaderMap,
    ) -> Result<reqwest::Response, StorageError> {
        self.dav
            .send_small(self.dav.request(method, url).headers(headers))
            .await
            .map_err(|f| self.dav.classify(path, f))
    }

    async fn delete_url(&self, path: &StoragePath, url: reqwest::Url) -> Result<(), StorageError> {
        let resp = self
            .simple(path, Method::DELETE, url, Default::default())
            .await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(self
                .dav
                .classify(path, Dav::status_failure(&Method::DELETE, &resp)))
        }
    }

    fn stripe(&self, path: &StoragePath) -> &tokio::sync::Mutex<()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        path.hash(&mut h);
        &self.stripes[(h.finish() as usize) % STRIPES]
    }

    /// Why a MOVE of `from` onto `to` failed with a non-412 status: a missing
    /// source or a missing target folder is `NotFound` (servers say 403, 404,
    /// 409 or even 500 for these), anything else is classified as is.
    async fn diagnose_move(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        failure: Failure,
    ) -> StorageError {
        match self.stat(from).await {
            Ok(None) => return StorageError::new(StorageErrorKind::NotFound, from.clone()),
            Err(e) => return e,
            Ok(Some(_)) => {}
        }
        if let Some(parent) = to.parent() {
            match self.stat(&parent).await {
                Ok(None) => return StorageError::new(StorageErrorKind::NotFound, to.clone()),
                Ok(Some(m)) if m.kind != EntryKind::Dir => {
                    return StorageError::new(StorageErrorKind::NotADirectory, to.clone());
                }
                Err(e) => return e,
                Ok(Some(_)) => {}
            }
        }
        self.dav.classify(to, failure)
    }

    /// MOVE `from_url` to `to`; statuses mapped for `to`.
    async fn move_to(
        &self,
        path_for_errors: &StoragePath,
        from_url: reqwest::Url,
        to_url: &reqwest::Url,
        overwrite: bool,
    ) -> Result<reqwest::Response, StorageError> {
        let method = Method::from_bytes(b"MOVE").unwrap_or(Method::POST);
        let headers = Dav::headers(&[
            ("Destination", to_url.as_str().to_owned()),
            ("Overwrite", if overwrite { "T" } else { "F" }.to_owned()),
        ]);
        // Nextcloud locks an object while it is read: 423 Locked until the
        // reader is done. Retry with backoff (about 16 s in all).
        let mut waits = LOCKED_BACKOFF.iter();
        loop {
            let resp = self
                .simple(
                    path_for_errors,
                    method.clone(),
                    from_url.clone(),
                    headers.clone(),
                )
                .await?;
            match (resp.status(), waits.next()) {
                (StatusCode::LOCKED, Some(wait)) => {
                    tracing::debug!(target: "vault_webdav", ?wait, "MOVE: 423 Locked, retrying");
                    tokio::time::sleep(*wait).await;
                }
                _ => return Ok(resp),
            }
        }
    }

    /// The collection URL for `path` that the MOVE destination uses.
    fn dest_url(&self, path: &StoragePath) -> reqwest::Url {
        self.dav.url(path, false)
    }
}

#[async_trait]
impl Storage for WebDavStorage {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            random_write: false,
            atomic_replace: false,
            max_name_len: if self.nextcloud.is_some() { 250 } else { 255 },
            set_modified: self.nextcloud.is_some(),
        }
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }

    async fn metadata(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        // The one place answers from moments ago are used (see recent.rs).
        if let Some(known) = self.recent.get(path) {
            return known
                .ok_or_else(|| StorageError::new(StorageErrorKind::NotFound, path.clone()));
        }
        self.stat_required(path).await
    }

    async fn list_dir(&self, path: &StoragePath) -> Result<Vec<DirEntry>, StorageError> {
        // Without the trailing `/`: Apache answers 400 to `file/`, and all
        // servers answer a collection's PROPFIND without it.
        if let Some(entries) = self.recent.listing(path) {
            return Ok(entries);
        }
        let generation = self.recent.generation();
        let Some((url, entries)) = self.propfind(path, "1", false, PROPFIND_BODY).await? else {
            return Err(StorageError::new(StorageErrorKind::NotFound, path.clone()));
        };
        let own = Dav::decoded_path(&url);
        let own = own.trim_end_matches('/').to_owned();
        let mut out = Vec::with_capacity(entries.len().saturating_sub(1));
        let mut saw_self_as_file = false;
        for e in &entries {
            let Some(p) = self.dav.href_path(&e.href) else {
                tracing::warn!(target: "vault_webdav", href = %e.href, "skipping an href that is not UTF-8");
                continue;
            };
            let trimmed = p.trim_end_matches('/');
            if trimmed == own {
                if !e.is_collection {
                    saw_self_as_file = true;
                }
                continue;
            }
            let Some((parent, name)) = trimmed.rsplit_once('/') else {
                continue;
            };
            if parent != own || name.is_empty() {
                continue;
            }
            // Our own upload temporaries, and Apache mod_dav_fs's.
            if name.starts_with(TEMP_PREFIX) || name.starts_with(".davfs.tmp") {
                continue;
            }
            out.push(DirEntry {
                name: name.to_owned(),
                metadata: Self::to_metadata(e),
            });
        }
        if saw_self_as_file {
            return Err(StorageError::new(
                StorageErrorKind::NotADirectory,
                path.clone(),
            ));
        }
        for e in &out {
            if let Ok(child) = path.join(&e.name) {
                self.recent
                    .put(generation, &child, Some(e.metadata.clone()));
            }
        }
        self.recent.put_listing(generation, path, &out);
        Ok(out)
    }

    async fn read_at(
        &self,
        path: &StoragePath,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, StorageError> {
        if len == 0 {
            let meta = self.stat_required(path).await?;
            if meta.kind == EntryKind::Dir {
                return Err(StorageError::new(
                    StorageErrorKind::IsADirectory,
                    path.clone(),
                ));
            }
            return Ok(Bytes::new());
        }
        let last = offset.saturating_add(len as u64 - 1);
        let url = self.dav.url(path, false);
        let rb = self
            .dav
            .request(Method::GET, url)
            .header("Range", format!("bytes={offset}-{last}"));
        let resp = self
            .dav
            .send_read(rb)
            .await
            .map_err(|f| self.dav.classify(path, f))?;
        match resp.status() {
            StatusCode::PARTIAL_CONTENT => {
                // Nextcloud answers a GET on a folder with an HTML notice, which
                // Apache then cuts to the range: 206 for a folder. Vault objects
                // are never served as HTML, so only then look closer.
                let html = resp
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("text/html"));
                if html && self.stat_required(path).await?.kind == EntryKind::Dir {
                    return Err(StorageError::new(
                        StorageErrorKind::IsADirectory,
                        path.clone(),
                    ));
                }
                // Check the server sent the range we asked for.
                if let Some(cr) = resp
                    .headers()
                    .get(reqwest::header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                {
                    let start = cr
                        .strip_prefix("bytes ")
                        .and_then(|r| r.split('-').next())
                        .and_then(|s| s.trim().parse::<u64>().ok());
                    if start != Some(offset) {
                        return Err(self.dav.classify(
                            path,
                            Failure::Protocol(format!(
                                "the server sent range {cr:?} for bytes={offset}-{last}"
                            )),
                        ));
                    }
                }
                self.dav
                    .read_body(resp, 0, len)
                    .await
                    .map_err(|f| self.dav.classify(path, f))
            }
            StatusCode::OK => {
                // The server ignored Range (or this is a folder listing page).
                let meta = self.stat_required(path).await?;
                if meta.kind == EntryKind::Dir {
                    return Err(StorageError::new(
                        StorageErrorKind::IsADirectory,
                        path.clone(),
                    ));
                }
                if offset >= meta.size {
                    return Ok(Bytes::new());
                }
                self.dav
                    .read_body(resp, offset, len)
                    .await
                    .map_err(|f| self.dav.classify(path, f))
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                // Past the end of a file (Content-Range: bytes */SIZE), or an
                // empty file; make sure it is not a folder.
                let is_file_answer = resp
                    .headers()
                    .get(reqwest::header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("bytes */"));
                if !is_file_answer {
                    let meta = self.stat_required(path).await?;
                    if meta.kind == EntryKind::Dir {
                        return Err(StorageError::new(
                            StorageErrorKind::IsADirectory,
                            path.clone(),
                        ));
                    }
                }
                Ok(Bytes::new())
            }
            _ => {
                let failure = Dav::status_failure(&Method::GET, &resp);
                // A GET on a folder: servers answer 403/404/405/501/…; name it.
                if !matches!(resp.status(), StatusCode::UNAUTHORIZED)
                    && let Ok(Some(meta)) = self.stat(path).await
                    && meta.kind == EntryKind::Dir
                {
                    return Err(StorageError::new(
                        StorageErrorKind::IsADirectory,
                        path.clone(),
                    ));
                }
                Err(self.dav.classify(path, failure))
            }
        }
    }

    async fn write(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        let _mutating = self.recent.mutating();
        let Some(parent) = path.parent() else {
            return Err(StorageError::new(
                StorageErrorKind::IsADirectory,
                path.clone(),
            ));
        };
        if self.put_is_atomic(body.len(), mode).await {
            return self.write_direct(path, &parent, body, mode).await;
        }
        self.write_via_temp(path, &parent, body, mode).await
    }

    async fn write_at(
        &self,
        path: &StoragePath,
        _offset: u64,
        _data: Bytes,
    ) -> Result<(), StorageError> {
        Err(StorageError::new(
            StorageErrorKind::Unsupported,
            path.clone(),
        ))
    }

    async fn set_len(&self, path: &StoragePath, _len: u64) -> Result<(), StorageError> {
        Err(StorageError::new(
            StorageErrorKind::Unsupported,
            path.clone(),
        ))
    }

    async fn sync(&self, _path: &StoragePath) -> Result<(), StorageError> {
        // `write` returns only after the server answered the final MOVE.
        Ok(())
    }

    async fn create_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        let _mutating = self.recent.mutating();
        if path.is_root() {
            return Err(StorageError::new(
                StorageErrorKind::AlreadyExists,
                path.clone(),
            ));
        }
        // rclone answers 201 to MKCOL on an existing folder: look first,
        // except where MKCOL itself reports an existing one (405).
        if !self.mkcol_refuses_existing().await && self.stat(path).await?.is_some() {
            return Err(StorageError::new(
                StorageErrorKind::AlreadyExists,
                path.clone(),
            ));
        }
        let method = Method::from_bytes(b"MKCOL").unwrap_or(Method::PUT);
        let resp = self
            .simple(
                path,
                method.clone(),
                self.dav.url(path, true),
                Default::default(),
            )
            .await?;
        if resp.status().is_success() {
            return Ok(());
        }
        let failure = Dav::status_failure(&method, &resp);
        if matches!(
            resp.status(),
            StatusCode::METHOD_NOT_ALLOWED
                | StatusCode::CONFLICT
                | StatusCode::FORBIDDEN
                | StatusCode::BAD_REQUEST
                | StatusCode::LOCKED
                | StatusCode::SERVICE_UNAVAILABLE
        ) {
            // Without the look first, Apache says 400 for a file at the path;
            // Nextcloud 423/503 while another client makes the same folder.
            if self.stat(path).await?.is_some() {
                return Err(StorageError::new(
                    StorageErrorKind::AlreadyExists,
                    path.clone(),
                ));
            }
            // 405/400 also come for "the parent is a file" (Apache): look at the parent.
            if let Some(parent) = path.parent() {
                match self.stat(&parent).await? {
                    None => {
                        return Err(StorageError::new(StorageErrorKind::NotFound, path.clone()));
                    }
                    Some(m) if m.kind != EntryKind::Dir => {
                        return Err(StorageError::new(
                            StorageErrorKind::NotADirectory,
                            path.clone(),
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        Err(self.dav.classify(path, failure))
    }

    async fn remove_file(&self, path: &StoragePath) -> Result<(), StorageError> {
        let _mutating = self.recent.mutating();
        // DELETE on a collection is recursive: never let remove_file do that.
        let meta = self.stat_required(path).await?;
        if meta.kind == EntryKind::Dir {
            return Err(StorageError::new(
                StorageErrorKind::IsADirectory,
                path.clone(),
            ));
        }
        self.delete_url(path, self.dav.url(path, false)).await
    }

    async fn remove_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        let _mutating = self.recent.mutating();
        // DELETE is recursive: refuse a non-empty folder ourselves.
        let children = self.list_dir(path).await?;
        if !children.is_empty() {
            return Err(StorageError::new(StorageErrorKind::NotEmpty, path.clone()));
        }
        if path.is_root() {
            return Err(StorageError::new(
                StorageErrorKind::PermissionDenied,
                path.clone(),
            ));
        }
        self.delete_url(path, self.dav.url(path, true)).await
    }

    async fn remove_dir_all(&self, path: &StoragePath) -> Result<(), StorageError> {
        let _mutating = self.recent.mutating();
        let meta = self.stat_required(path).await?;
        if meta.kind != EntryKind::Dir {
            return Err(StorageError::new(
                StorageErrorKind::NotADirectory,
                path.clone(),
            ));
        }
        if path.is_root() {
            return Err(StorageError::new(
                StorageErrorKind::PermissionDenied,
                path.clone(),
            ));
        }
        // One recursive DELETE.
        self.delete_url(path, self.dav.url(path, true)).await
    }

    async fn rename(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        let _mutating = self.recent.mutating();
        if from.is_root() || to.is_root() {
            return Err(StorageError::new(
                StorageErrorKind::PermissionDenied,
                from.clone(),
            ));
        }
        if mode == RenameMode::Replace {
            // Overwrite: T deletes whatever is at the target, a whole folder
            // included: allow only what rename(2) allows.
            if let Some(target) = self.stat(to).await? {
                if target.kind == EntryKind::Dir {
                    let source = self.stat_required(from).await?;
                    if source.kind != EntryKind::Dir {
                        return Err(StorageError::new(
                            StorageErrorKind::IsADirectory,
                            to.clone(),
                        ));
                    }
                    if !self.list_dir(to).await?.is_empty() {
                        return Err(StorageError::new(StorageErrorKind::NotEmpty, to.clone()));
                    }
                } else if self.stat_required(from).await?.kind == EntryKind::Dir {
                    return Err(StorageError::new(
                        StorageErrorKind::NotADirectory,
                        to.clone(),
                    ));
                }
            }
        }
        let _guard = match mode {
            RenameMode::NoReplace => Some(self.stripe(to).lock().await),
            RenameMode::Replace => None,
        };
        let resp = self
            .move_to(
                from,
                self.dav.url(from, false),
                &self.dest_url(to),
                mode == RenameMode::Replace,
            )
            .await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let failure =
            Dav::status_failure(&Method::from_bytes(b"MOVE").unwrap_or(Method::POST), &resp);
        match status {
            StatusCode::PRECONDITION_FAILED => Err(StorageError::new(
                StorageErrorKind::AlreadyExists,
                to.clone(),
            )),
            StatusCode::UNAUTHORIZED | StatusCode::INSUFFICIENT_STORAGE | StatusCode::LOCKED => {
                Err(self.dav.classify(from, failure))
            }
            // rclone answers 403 for a missing source, Apache 500 for a
            // missing target folder: find out which.
            _ => Err(self.diagnose_move(from, to, failure).await),
        }
    }

    async fn set_modified(
        &self,
        path: &StoragePath,
        modified: SystemTime,
    ) -> Result<(), StorageError> {
        let _mutating = self.recent.mutating();
        if self.nextcloud.is_none() {
            return Err(StorageError::new(
                StorageErrorKind::Unsupported,
                path.clone(),
            ));
        }
        nextcloud::set_mtime(self, path, modified).await
    }

    async fn space(&self) -> Result<Option<SpaceInfo>, StorageError> {
        let root = StoragePath::root();
        let Some((_, entries)) = self.propfind(&root, "0", true, QUOTA_BODY).await? else {
            return Ok(None);
        };
        let Some(e) = entries.first() else {
            return Ok(None);
        };
        match (e.quota_available, e.quota_used) {
            // Negative values mean "unknown" / "unlimited" (Nextcloud: -2, -3).
            (Some(avail), Some(used)) if avail >= 0 && used >= 0 => Ok(Some(SpaceInfo {
                total: (avail as u64).saturating_add(used as u64),
                available: avail as u64,
            })),
            _ => Ok(None),
        }
    }
}

/// How long chunked upload waits between tries of the final MOVE on `423 Locked`.
pub(crate) const LOCKED_BACKOFF: [Duration; 6] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
];

pub(crate) fn error_for(
    kind: StorageErrorKind,
    path: &StoragePath,
    msg: impl Into<String>,
) -> StorageError {
    dav_err(kind, path, msg)
}
