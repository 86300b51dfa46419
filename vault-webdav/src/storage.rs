//! The `Storage` trait impl of `WebDavStorage`: each call mapped to its WebDAV requests.

use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::{Method, StatusCode};
use vault_storage::{
    Body, Capabilities, DirEntry, EntryKind, Metadata, RenameMode, SpaceInfo, Storage,
    StorageError, StorageErrorKind, StoragePath, WriteMode,
};

use crate::client::{Dav, Failure};
use crate::propfind::{PROPFIND_BODY, QUOTA_BODY};
use crate::{TEMP_PREFIX, WebDavStorage, nextcloud};

#[async_trait]
impl Storage for WebDavStorage {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            random_write: false,
            atomic_replace: false,
            atomic_dir_rename: true,
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

    async fn metadata_uncached(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
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
            self.fail_if_folder(path).await?;
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
            StatusCode::PARTIAL_CONTENT => self.read_partial(path, resp, offset, len).await,
            StatusCode::OK => self.read_whole(path, resp, offset, len).await,
            StatusCode::RANGE_NOT_SATISFIABLE => self.read_past_end(path, &resp).await,
            _ => Err(self.read_refused(path, &resp).await),
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

    async fn remove_listed_file(
        &self,
        path: &StoragePath,
        listed: &Metadata,
    ) -> Result<(), StorageError> {
        if let Some(tag) = self.if_match_tag(listed).await {
            let removed = {
                let _mutating = self.recent.mutating();
                self.delete_if_match(path, tag).await?
            };
            if removed {
                return Ok(());
            }
            tracing::debug!(target: "vault_webdav", %path, "changed since listed (412); asking what is there");
        }
        self.remove_file(path).await
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

// ------------------------------------------------------------------ the answers to a ranged GET

impl WebDavStorage {
    /// `IsADirectory` when `path` is a folder (stat), else nothing.
    async fn fail_if_folder(&self, path: &StoragePath) -> Result<(), StorageError> {
        if self.stat_required(path).await?.kind == EntryKind::Dir {
            return Err(StorageError::new(
                StorageErrorKind::IsADirectory,
                path.clone(),
            ));
        }
        Ok(())
    }

    /// `206 Partial Content`: the range asked for, once its start is checked.
    async fn read_partial(
        &self,
        path: &StoragePath,
        resp: reqwest::Response,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, StorageError> {
        // Nextcloud answers a GET on a folder with an HTML notice, which
        // Apache then cuts to the range: 206 for a folder. Vault objects
        // are never served as HTML, so only then look closer.
        let html = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        if html {
            self.fail_if_folder(path).await?;
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
                let last = offset.saturating_add(len as u64 - 1);
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

    /// `200 OK`: the server ignored Range (or this is a folder listing page).
    async fn read_whole(
        &self,
        path: &StoragePath,
        resp: reqwest::Response,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, StorageError> {
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

    /// `416 Range Not Satisfiable`: past the end of a file (Content-Range: bytes */SIZE), or
    /// an empty file; made sure it is not a folder.
    async fn read_past_end(
        &self,
        path: &StoragePath,
        resp: &reqwest::Response,
    ) -> Result<Bytes, StorageError> {
        let is_file_answer = resp
            .headers()
            .get(reqwest::header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("bytes */"));
        if !is_file_answer {
            self.fail_if_folder(path).await?;
        }
        Ok(Bytes::new())
    }

    /// Any other status. A GET on a folder: servers answer 403/404/405/501/…; name it.
    async fn read_refused(&self, path: &StoragePath, resp: &reqwest::Response) -> StorageError {
        let failure = Dav::status_failure(&Method::GET, resp);
        if !matches!(resp.status(), StatusCode::UNAUTHORIZED)
            && let Ok(Some(meta)) = self.stat(path).await
            && meta.kind == EntryKind::Dir
        {
            return StorageError::new(StorageErrorKind::IsADirectory, path.clone());
        }
        self.dav.classify(path, failure)
    }
}
