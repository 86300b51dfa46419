//! How `write` uploads: one direct `PUT` where the server's PUT is atomic,
//! otherwise a `PUT` to a hidden temporary name and a `MOVE` onto the target
//! (see the crate documentation for which servers are which).

use reqwest::{Method, StatusCode};
use vault_storage::{Body, EntryKind, StorageError, StorageErrorKind, StoragePath, WriteMode};

use crate::client::Dav;
use crate::{WebDavStorage, nextcloud, temp_name};

impl WebDavStorage {
    /// True if one `PUT` of `len` bytes replaces the target atomically and
    /// leaves it intact when the upload breaks off: Apache mod_dav_fs (it
    /// writes a hidden temporary file and renames it at the end) and Nextcloud
    /// below the chunking threshold (it writes a `.part` file and renames).
    /// Both are recognised from what the server says about itself: a false
    /// claim only endangers that server's own atomicity.
    ///
    /// On Nextcloud only for a new object: an overwrite meets `423 Locked`
    /// while someone reads the old version, after the body was sent (a
    /// streamed body cannot be sent again), whereas the final `MOVE` of the
    /// temporary object can simply be retried.
    pub(crate) async fn put_is_atomic(&self, len: u64, mode: WriteMode) -> bool {
        if self.nextcloud.is_some() {
            return mode == WriteMode::CreateNew && len <= self.chunk_threshold;
        }
        self.is_mod_dav_fs().await
    }

    /// The server is Apache mod_dav_fs (asked once, with `OPTIONS`).
    pub(crate) async fn is_mod_dav_fs(&self) -> bool {
        *self
            .mod_dav_fs
            .get_or_init(|| detect_mod_dav_fs(&self.dav))
            .await
    }

    /// True if `MKCOL` on an existing folder fails with 405 (Apache mod_dav_fs,
    /// Nextcloud), so `create_dir` needs no look first. A false claim only
    /// makes that server's own `create_dir` report success for a folder
    /// that was there.
    pub(crate) async fn mkcol_refuses_existing(&self) -> bool {
        self.nextcloud.is_some() || self.is_mod_dav_fs().await
    }

    /// `write` on a server whose PUT is atomic: one `PUT` onto the target,
    /// with `If-None-Match: *` for [`WriteMode::CreateNew`] (both servers
    /// answer 412 when the target exists). No temporary name, no `MOVE`, and
    /// no look first: a PUT onto a folder fails (409/405), and only then is the
    /// target looked at to name the error.
    pub(crate) async fn write_direct(
        &self,
        path: &StoragePath,
        parent: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        let url = self.dav.url(path, false);
        let _guard = match mode {
            WriteMode::CreateNew => Some(self.stripe(path).lock().await),
            WriteMode::Overwrite => None,
        };
        let mut headers = reqwest::header::HeaderMap::new();
        if mode == WriteMode::CreateNew {
            headers.insert(
                reqwest::header::IF_NONE_MATCH,
                reqwest::header::HeaderValue::from_static("*"),
            );
        }
        let resp = self.put_request(path, url, body, headers).await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        if status == StatusCode::PRECONDITION_FAILED && mode == WriteMode::CreateNew {
            return Err(StorageError::new(
                StorageErrorKind::AlreadyExists,
                path.clone(),
            ));
        }
        let failure = Dav::status_failure(&Method::PUT, &resp);
        if matches!(
            status,
            StatusCode::CONFLICT | StatusCode::METHOD_NOT_ALLOWED | StatusCode::FORBIDDEN
        ) && let Ok(Some(meta)) = self.stat(path).await
        {
            return Err(if mode == WriteMode::CreateNew {
                StorageError::new(StorageErrorKind::AlreadyExists, path.clone())
            } else if meta.kind == EntryKind::Dir {
                StorageError::new(StorageErrorKind::IsADirectory, path.clone())
            } else {
                self.dav.classify(path, failure)
            });
        }
        let e = self.dav.classify(path, failure);
        Err(self.explain_put_failure(path, parent, e).await)
    }

    /// One streaming PUT of `body` to `url` with extra `headers`.
    pub(crate) async fn put_request(
        &self,
        path: &StoragePath,
        url: reqwest::Url,
        body: Body,
        headers: reqwest::header::HeaderMap,
    ) -> Result<reqwest::Response, StorageError> {
        let len = body.len();
        let rb = self.dav.request(Method::PUT, url).headers(headers);
        self.dav
            .send_streaming(rb, body.into_reader(), len)
            .await
            .map_err(|f| self.dav.classify(path, f))
    }

    /// Uploads `body` to `url` with one streaming PUT.
    pub(crate) async fn put_stream(
        &self,
        path: &StoragePath,
        url: reqwest::Url,
        body: Body,
    ) -> Result<(), StorageError> {
        let resp = self
            .put_request(path, url, body, Default::default())
            .await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(self
                .dav
                .classify(path, Dav::status_failure(&Method::PUT, &resp)))
        }
    }

    /// A missing parent or a file as parent: servers say 400, 404 or 409.
    pub(crate) async fn explain_put_failure(
        &self,
        path: &StoragePath,
        parent: &StoragePath,
        e: StorageError,
    ) -> StorageError {
        if matches!(
            e.kind(),
            StorageErrorKind::NotFound
                | StorageErrorKind::Other
                | StorageErrorKind::PermissionDenied
        ) && !parent.is_root()
        {
            match self.stat(parent).await {
                Ok(None) => return StorageError::new(StorageErrorKind::NotFound, path.clone()),
                Ok(Some(m)) if m.kind != EntryKind::Dir => {
                    return StorageError::new(StorageErrorKind::NotADirectory, path.clone());
                }
                _ => {}
            }
        }
        e
    }

    pub(crate) async fn best_effort_delete(&self, url: reqwest::Url) {
        let _ = self
            .dav
            .send_small(self.dav.request(Method::DELETE, url))
            .await;
    }

    /// `write` on a server whose PUT is not atomic: upload to a temporary
    /// name, then `MOVE` it onto the target.
    pub(crate) async fn write_via_temp(
        &self,
        path: &StoragePath,
        parent: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        if mode == WriteMode::Overwrite {
            // MOVE with Overwrite: T would replace a whole folder: refuse first.
            if let Some(meta) = self.stat(path).await?
                && meta.kind == EntryKind::Dir
            {
                return Err(StorageError::new(
                    StorageErrorKind::IsADirectory,
                    path.clone(),
                ));
            }
        }
        let temp = parent.join(&temp_name())?;
        let temp_url = self.dav.url(&temp, false);
        let len = body.len();
        let uploaded = match &self.nextcloud {
            Some(nc) if len > self.chunk_threshold => {
                nextcloud::chunked_upload(self, nc, path, &temp_url, body, self.chunk_size).await
            }
            _ => self.put_stream(path, temp_url.clone(), body).await,
        };
        if let Err(e) = uploaded {
            self.best_effort_delete(temp_url).await;
            return Err(self.explain_put_failure(path, parent, e).await);
        }
        let target = self.dest_url(path);
        let _guard = match mode {
            WriteMode::CreateNew => Some(self.stripe(path).lock().await),
            WriteMode::Overwrite => None,
        };
        let resp = match self
            .move_to(
                path,
                temp_url.clone(),
                &target,
                mode == WriteMode::Overwrite,
            )
            .await
        {
            Ok(r) => r,
            Err(e) => {
                self.best_effort_delete(temp_url).await;
                return Err(e);
            }
        };
        if resp.status().is_success() {
            return Ok(());
        }
        let status = resp.status();
        let failure =
            Dav::status_failure(&Method::from_bytes(b"MOVE").unwrap_or(Method::POST), &resp);
        let err = if status == StatusCode::PRECONDITION_FAILED {
            StorageError::new(StorageErrorKind::AlreadyExists, path.clone())
        } else if status.is_server_error() && mode == WriteMode::CreateNew {
            // Some servers answer 5xx when the target appeared meanwhile.
            match self.stat(path).await {
                Ok(Some(_)) => StorageError::new(StorageErrorKind::AlreadyExists, path.clone()),
                _ => self.dav.classify(path, failure),
            }
        } else {
            self.dav.classify(path, failure)
        };
        self.best_effort_delete(temp_url).await;
        Err(err)
    }
}

/// `OPTIONS` on the base URL: Apache's mod_dav_fs announces its property
/// set in the `DAV:` header.
async fn detect_mod_dav_fs(dav: &Dav) -> bool {
    let Ok(resp) = dav
        .send_small(dav.request(Method::OPTIONS, dav.base.clone()))
        .await
    else {
        return false;
    };
    resp.headers()
        .get_all("dav")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("apache.org/dav/propset/fs/"))
}
