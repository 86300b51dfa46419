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
//! - `remove_file`: `PROPFIND Depth: 0` first, because a `DELETE` of a
//!   collection is recursive. `remove_listed_file` (a file the metadata cache
//!   has just seen listed) on Nextcloud and Apache mod_dav_fs: one `DELETE`
//!   with `If-Match: <ETag>`; `412` (another version, or a folder, is there
//!   now) falls back to `remove_file` (see [`IfMatchDelete`] for why only there).
//! - Otherwise ETags are never sent in conditional requests (SabreDAV's file
//!   backend has none, Apache's may be weak, rclone's change on every write,
//!   and rclone ignores `If-Match`); a `getetag` the server lists is passed on
//!   as the metadata's version tag.
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
//! `OPTIONS` (to recognise mod_dav_fs) is sent on the first write or listed removal only.
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
mod requests;
mod session;
mod storage;
mod upload;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::Method;
use vault_storage::{EntryKind, Metadata, Storage, StorageError, StorageErrorKind, StoragePath};

use crate::client::{Dav, DavError};
pub use crate::config::{
    IfMatchDelete, NextcloudMode, UrlError, WebDavConfig, is_webdav_url, redact_password,
};
pub use crate::nextcloud::{
    LoginFlow, LoginPoll, NextcloudLogin, login_flow_v2, login_flow_v2_with,
};

/// Prefix of the hidden temporary objects that `write` uploads before the
/// final `MOVE`. Starts with `.` and never ends in `.c9r`, so vault readers
/// (ours and Cryptomator's) ignore leftovers.
pub use vault_storage::TEMP_PREFIX;

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
    /// As configured (see [`WebDavStorage::if_match_tag`]).
    if_match_delete: IfMatchDelete,
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
    /// certificate with a `PROPFIND Depth: 1` on the vault root (unless
    /// [`WebDavConfig::check_at_connect`] is off), and detects Nextcloud. A wrong password gives
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
            if_match_delete: config.if_match_delete,
            root_at_connect: std::sync::Mutex::new(None),
            recent: recent::Recent::default(),
        };
        // Credentials and certificate check, as a listing of the root: a vault
        // root holds a handful of objects, and the unlock that follows asks
        // for their metadata (answered from `recent`). What it finds is kept
        // for `create_root_if_missing`, which `vault create` calls next.
        if !config.check_at_connect {
            storage.nextcloud = match config.nextcloud {
                NextcloudMode::Off => None,
                NextcloudMode::Auto => nextcloud::detect(&storage.dav, &config).await,
            };
            tracing::debug!(target: "vault_webdav", describe = %storage.describe, nextcloud = storage.nextcloud.is_some(), "connected (unchecked)");
            return Ok(storage);
        }
        let root_meta = match storage.list_dir(&root).await {
            Ok(_) => Some(Metadata {
                kind: EntryKind::Dir,
                size: 0,
                modified: None,
                version: None,
            }),
            Err(e) if e.kind() == StorageErrorKind::NotFound => None,
            Err(e) if e.kind() == StorageErrorKind::NotADirectory => Some(Metadata {
                kind: EntryKind::File,
                size: 0,
                modified: None,
                version: None,
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
