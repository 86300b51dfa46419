//! WebDavStorage's request helpers: PROPFIND and stat (with the recent-metadata cache),
//! simple requests, DELETE, and MOVE with its per-name lock stripes and failure diagnosis.

use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use vault_storage::{EntryKind, Metadata, StorageError, StorageErrorKind, StoragePath};

use crate::client::{Dav, Failure};
use crate::propfind::{DavEntry, PROPFIND_BODY, parse_multistatus};
use crate::{IfMatchDelete, LOCKED_BACKOFF, STRIPES, WebDavStorage};

impl WebDavStorage {
    pub(crate) fn propfind_method() -> Method {
        Method::from_bytes(b"PROPFIND").unwrap_or(Method::GET)
    }

    /// One PROPFIND; the status and, for 207, the parsed entries.
    pub(crate) async fn propfind_once(
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
            .capped_body(resp, crate::client::MAX_LISTING_BODY)
            .await
            .map_err(|f| self.dav.classify(path, f))?;
        let entries =
            parse_multistatus(body).map_err(|m| self.dav.classify(path, Failure::Protocol(m)))?;
        Ok((status, url, entries, None))
    }

    /// PROPFIND with `depth` on `path`; `Ok(None)` for 404/409.
    pub(crate) async fn propfind(
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

    pub(crate) fn to_metadata(e: &DavEntry) -> Metadata {
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
            version: e.etag.clone(),
        }
    }

    /// Metadata, or `None` if the path does not exist.
    pub(crate) async fn stat(&self, path: &StoragePath) -> Result<Option<Metadata>, StorageError> {
        let generation = self.recent.generation();
        let found = self.stat_uncached(path).await?;
        self.recent.put(generation, path, found.clone());
        Ok(found)
    }

    pub(crate) async fn stat_uncached(
        &self,
        path: &StoragePath,
    ) -> Result<Option<Metadata>, StorageError> {
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

    pub(crate) async fn stat_required(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        self.stat(path)
            .await?
            .ok_or_else(|| StorageError::new(StorageErrorKind::NotFound, path.clone()))
    }

    /// A body-less request (MKCOL, DELETE, MOVE, …); returns the response.
    pub(crate) async fn simple(
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

    pub(crate) async fn delete_url(
        &self,
        path: &StoragePath,
        url: reqwest::Url,
    ) -> Result<(), StorageError> {
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

    /// The `If-Match` value for a conditional removal of `listed` (see
    /// [`crate::IfMatchDelete`]): a file with a strong ETag (a weak one never matches
    /// `If-Match`) that is a valid header value, on a server that checks it.
    pub(crate) async fn if_match_tag(&self, listed: &Metadata) -> Option<HeaderValue> {
        let tag = listed.version.as_deref()?;
        if self.if_match_delete == IfMatchDelete::Never
            || listed.kind != EntryKind::File
            || !tag.starts_with('"')
        {
            return None;
        }
        let value = HeaderValue::from_str(tag).ok()?;
        let checks = self.is_nextcloud() || self.is_mod_dav_fs().await;
        checks.then_some(value)
    }

    /// `DELETE` of `path` if it still has the ETag `tag`: `Ok(true)` once removed, `Ok(false)`
    /// when the server refused it (412: another version, or a folder, is there now).
    pub(crate) async fn delete_if_match(
        &self,
        path: &StoragePath,
        tag: HeaderValue,
    ) -> Result<bool, StorageError> {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::IF_MATCH, tag);
        let url = self.dav.url(path, false);
        let resp = self.simple(path, Method::DELETE, url, headers).await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::PRECONDITION_FAILED => Ok(false),
            _ => Err(self
                .dav
                .classify(path, Dav::status_failure(&Method::DELETE, &resp))),
        }
    }

    pub(crate) fn stripe(&self, path: &StoragePath) -> &tokio::sync::Mutex<()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        path.hash(&mut h);
        &self.stripes[(h.finish() as usize) % STRIPES]
    }

    /// Why a MOVE of `from` onto `to` failed with a non-412 status: a missing
    /// source or a missing target folder is `NotFound` (servers say 403, 404,
    /// 409 or even 500 for these), anything else is classified as is.
    pub(crate) async fn diagnose_move(
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
    pub(crate) async fn move_to(
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
    pub(crate) fn dest_url(&self, path: &StoragePath) -> reqwest::Url {
        self.dav.url(path, false)
    }
}
