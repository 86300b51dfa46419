//! The `Storage` trait impl of `SftpStorage`: each call as one retried request on the connection.

use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use russh_sftp::client::error::Error as RawError;
use russh_sftp::protocol::{FileAttributes, OpenFlags, StatusCode};
use tracing::warn;
use vault_storage::{
    Body, Capabilities, DirEntry, Metadata, RenameMode, SpaceInfo, Storage, StorageError,
    StorageErrorKind, StoragePath, WriteMode,
};

use crate::ops::{Explain, OpError, Retry, metadata_of};
use crate::write::{LeaseGuard, WriteBody};
use crate::{
    BULK_THRESHOLD, Inner, MAX_LIST_ENTRIES, MAX_LIST_NAME_BYTES, READDIR_AHEAD,
    RETRY_BUFFER_LIMIT, SftpStorage,
};

#[async_trait]
impl Storage for SftpStorage {
    fn capabilities(&self) -> Capabilities {
        self.inner.caps
    }

    fn describe(&self) -> String {
        self.inner.describe.clone()
    }

    async fn metadata(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        let inner = &self.inner;
        inner
            .run(path, Retry::Yes, |conn| async move {
                let remote = Inner::remote(&conn, path);
                let a = conn.meta.stat(remote).await?;
                Ok(metadata_of(&a.attrs))
            })
            .await
    }

    async fn list_dir(&self, path: &StoragePath) -> Result<Vec<DirEntry>, StorageError> {
        let inner = &self.inner;
        inner
            .run(path, Retry::Yes, |conn| async move {
                let sftp = &conn.meta;
                let remote = Inner::remote(&conn, path);
                let permit = inner
                    .meta_handles
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| OpError::Transport("closed".into(), false))?;
                let handle = match sftp.opendir(remote.clone()).await {
                    Ok(h) => h.handle,
                    // OpenSSH maps ENOTDIR to "no such file": look before saying so.
                    Err(RawError::Status(s)) if s.status_code != StatusCode::PermissionDenied => {
                        if let Some(a) = Inner::stat_opt(sftp, &remote).await?
                            && !a.is_dir()
                        {
                            return Err(OpError::Storage(StorageError::new(
                                StorageErrorKind::NotADirectory,
                                path.clone(),
                            )));
                        }
                        return Err(OpError::Status(s.status_code, s.error_message));
                    }
                    Err(e) => return Err(e.into()),
                };
                let listed = async {
                    let mut entries = Vec::new();
                    let mut symlinks = Vec::new();
                    let mut done = false;
                    let mut name_bytes = 0usize;
                    while !done {
                        // Several readdir requests in flight: the server answers them in order.
                        let batch: Vec<_> = (0..READDIR_AHEAD)
                            .map(|_| sftp.readdir(handle.clone()))
                            .collect();
                        let replies = inner
                            .no_stall(futures::future::join_all(batch))
                            .await?;
                        for r in replies {
                            match r {
                                Ok(name) => {
                                    name_bytes = name.files.iter().fold(name_bytes, |n, f| {
                                        n.saturating_add(f.filename.len())
                                    });
                                    let count = entries.len() + symlinks.len() + name.files.len();
                                    if name_bytes > MAX_LIST_NAME_BYTES || count > MAX_LIST_ENTRIES
                                    {
                                        warn!(%path, count, name_bytes, "listing too large; the server may be hostile");
                                        return Err(OpError::Transport(
                                            format!(
                                                "the listing exceeds {MAX_LIST_ENTRIES} entries or {} MiB of names",
                                                MAX_LIST_NAME_BYTES >> 20
                                            ),
                                            true,
                                        ));
                                    }
                                    for f in name.files {
                                        if f.filename == "." || f.filename == ".." {
                                            continue;
                                        }
                                        if f.attrs.is_symlink() {
                                            symlinks.push(f.filename);
                                        } else {
                                            entries.push(DirEntry {
                                                name: f.filename,
                                                metadata: metadata_of(&f.attrs),
                                            });
                                        }
                                    }
                                }
                                Err(RawError::Status(s)) if s.status_code == StatusCode::Eof => {
                                    done = true
                                }
                                Err(e) => return Err(OpError::from(e)),
                            }
                        }
                    }
                    for name in symlinks {
                        let target = format!("{}/{}", remote.trim_end_matches('/'), name);
                        if let Some(a) = Inner::stat_opt(sftp, &target).await? {
                            entries.push(DirEntry {
                                name,
                                metadata: metadata_of(&a),
                            });
                        }
                    }
                    Ok(entries)
                }
                .await;
                Inner::close_later(&conn, false, handle, permit);
                listed
            })
            .await
    }

    async fn read_at(
        &self,
        path: &StoragePath,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, StorageError> {
        let inner = &self.inner;
        inner
            .run(path, Retry::Yes, |conn| async move {
                let (sftp, sem, pacer) = inner.channel(&conn, len > BULK_THRESHOLD);
                let remote = Inner::remote(&conn, path);
                let permit = sem
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| OpError::Transport("closed".into(), false))?;
                let handle = match sftp
                    .open(remote.clone(), OpenFlags::READ, FileAttributes::empty())
                    .await
                {
                    Ok(h) => h.handle,
                    Err(e) => return Err(Inner::explain_open_failure(sftp, &remote, path, e).await),
                };
                // SFTP offsets are signed on the server side: anything past i64::MAX is past the end.
                let len = usize::try_from((i64::MAX as u64).saturating_sub(offset))
                    .unwrap_or(usize::MAX)
                    .min(len);
                let r = if len == 0 {
                    Ok(Bytes::new())
                } else {
                    inner.read_range(sftp, pacer, &handle, offset, len).await
                };
                Inner::close_later(&conn, len > BULK_THRESHOLD, handle, permit);
                match r {
                    Err(OpError::Status(StatusCode::Failure, _))
                        if Inner::stat_opt(sftp, &remote)
                            .await?
                            .is_some_and(|a| a.is_dir()) =>
                    {
                        Err(OpError::Storage(StorageError::new(
                            StorageErrorKind::IsADirectory,
                            path.clone(),
                        )))
                    }
                    r => r,
                }
            })
            .await
    }

    async fn write(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        if path.is_root() {
            return Err(StorageError::new(
                StorageErrorKind::IsADirectory,
                path.clone(),
            ));
        }
        if crate::temp_write::in_place(path, mode) && body.len() <= RETRY_BUFFER_LIMIT {
            return self.write_temp(path, body, true).await;
        }
        let inner = &self.inner;
        if body.len() <= RETRY_BUFFER_LIMIT {
            let bytes = body.into_bytes().await.map_err(|e| {
                StorageError::with_source(
                    StorageErrorKind::Other,
                    path,
                    format!("reading the body: {e}"),
                )
            })?;
            let bytes = &bytes;
            let rename_sent = &std::sync::atomic::AtomicBool::new(false);
            inner
                .run(path, Retry::Yes, |conn| async move {
                    // A CreateNew whose rename may have happened cannot be
                    // repeated (it would report AlreadyExists for our own object).
                    if mode == WriteMode::CreateNew && rename_sent.load(Ordering::SeqCst) {
                        return Err(OpError::Storage(StorageError::with_source(
                            StorageErrorKind::Unavailable,
                            path,
                            "connection lost while committing the new object; it may or may not exist",
                        )));
                    }
                    conn.close_cached(&Inner::remote(&conn, path)).await;
                    inner.do_write(&conn, path, WriteBody::Bytes(bytes), mode, rename_sent).await
                })
                .await
        } else {
            let len = body.len();
            let reader = tokio::sync::Mutex::new(Some(body.into_reader()));
            let reader = &reader;
            inner
                .run(path, Retry::No, |conn| async move {
                    let mut guard = reader.lock().await;
                    let Some(r) = guard.as_mut() else {
                        return Err(OpError::Storage(StorageError::with_source(
                            StorageErrorKind::Unavailable,
                            path,
                            "body already consumed",
                        )));
                    };
                    conn.close_cached(&Inner::remote(&conn, path)).await;
                    let sent = std::sync::atomic::AtomicBool::new(false);
                    let r = inner
                        .do_write(&conn, path, WriteBody::Stream(len, r.as_mut()), mode, &sent)
                        .await;
                    *guard = None;
                    r
                })
                .await
        }
    }

    /// A temp object is created in place, without the FSYNC (the engine syncs a shadow
    /// object before it renames it); anything else is written as by `write`.
    async fn write_nosync(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        if crate::temp_write::in_place(path, mode) && body.len() <= RETRY_BUFFER_LIMIT {
            return self.write_temp(path, body, false).await;
        }
        self.write(path, body, mode).await
    }

    async fn write_at(
        &self,
        path: &StoragePath,
        offset: u64,
        data: Bytes,
    ) -> Result<(), StorageError> {
        let inner = &self.inner;
        let data = &data;
        inner
            .run(path, Retry::Yes, |conn| async move {
                let remote = Inner::remote(&conn, path);
                inner
                    .write_at_cached(&conn, path, &remote, offset, data)
                    .await
            })
            .await
    }

    async fn set_len(&self, path: &StoragePath, len: u64) -> Result<(), StorageError> {
        let inner = &self.inner;
        inner
            .run(path, Retry::Yes, |conn| async move {
                let remote = Inner::remote(&conn, path);
                if let Some(mut g) = LeaseGuard::of(&conn, &remote) {
                    // The object being written: one FSETSTAT, nothing to look up.
                    let attrs = FileAttributes {
                        size: Some(len),
                        ..FileAttributes::empty()
                    };
                    g.sftp().fsetstat(g.h.handle.clone(), attrs).await?;
                    g.ok = true;
                    return Ok(());
                }
                match Inner::stat_opt(&conn.meta, &remote).await? {
                    None => {
                        return Err(OpError::Storage(StorageError::new(
                            StorageErrorKind::NotFound,
                            path.clone(),
                        )));
                    }
                    Some(a) if a.is_dir() => {
                        return Err(OpError::Storage(StorageError::new(
                            StorageErrorKind::IsADirectory,
                            path.clone(),
                        )));
                    }
                    Some(_) => {}
                }
                conn.meta
                    .setstat(
                        remote,
                        FileAttributes {
                            size: Some(len),
                            ..FileAttributes::empty()
                        },
                    )
                    .await?;
                Ok(())
            })
            .await
    }

    async fn sync(&self, path: &StoragePath) -> Result<(), StorageError> {
        let inner = &self.inner;
        inner
            .run(path, Retry::Yes, |conn| async move {
                let sftp = &conn.meta;
                let remote = Inner::remote(&conn, path);
                if !conn.ext.fsync {
                    // Writes are acknowledged after the server's write(2); without
                    // fsync@openssh.com there is nothing more to ask for.
                    return match Inner::stat_opt(sftp, &remote).await? {
                        Some(_) => Ok(()),
                        None => Err(OpError::Storage(StorageError::new(
                            StorageErrorKind::NotFound,
                            path.clone(),
                        ))),
                    };
                }
                if let Some(mut g) = LeaseGuard::of(&conn, &remote) {
                    // The object being written: FSYNC through its open handle.
                    let at = g.h.writes();
                    g.sftp().fsync(g.h.handle.clone()).await?;
                    g.h.synced(at);
                    g.ok = true;
                    return Ok(());
                }
                let _permit = inner
                    .meta_handles
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| OpError::Transport("closed".into(), false))?;
                let handle = match sftp
                    .open(remote.clone(), OpenFlags::READ, FileAttributes::empty())
                    .await
                {
                    Ok(h) => h.handle,
                    Err(e) => return Err(Inner::explain_open_failure(sftp, &remote, path, e).await),
                };
                let r = sftp.fsync(handle.clone()).await;
                Inner::close_quietly(sftp, handle).await;
                r?;
                Ok(())
            })
            .await
    }

    async fn create_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        let explain = Explain {
            look: |code| code == StatusCode::Failure,
            cause: |_, there| there.is_some().then_some(StorageErrorKind::AlreadyExists),
        };
        let attrs = || FileAttributes {
            permissions: Some(0o755),
            ..FileAttributes::empty()
        };
        self.inner
            .request_explained(path, explain, |conn, remote| async move {
                conn.meta.mkdir(remote, attrs()).await.map(drop)
            })
            .await
    }

    async fn remove_file(&self, path: &StoragePath) -> Result<(), StorageError> {
        let explain = Explain {
            look: |code| code != StatusCode::NoSuchFile,
            cause: |_, there| {
                there
                    .is_some_and(|a| a.is_dir())
                    .then_some(StorageErrorKind::IsADirectory)
            },
        };
        self.inner
            .request_explained(path, explain, |conn, remote| async move {
                conn.close_cached(&remote).await;
                conn.meta.remove(remote).await.map(drop)
            })
            .await
    }

    async fn remove_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        // OpenSSH maps ENOTDIR to "no such file": look before saying so.
        let explain = Explain {
            look: |_| true,
            cause: |code, there| match there {
                Some(a) if !a.is_dir() => Some(StorageErrorKind::NotADirectory),
                Some(_) if code == StatusCode::Failure => Some(StorageErrorKind::NotEmpty),
                _ => None,
            },
        };
        self.inner
            .request_explained(path, explain, |conn, remote| async move {
                conn.close_cached(&remote).await;
                conn.meta.rmdir(remote).await.map(drop)
            })
            .await
    }

    async fn rename(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        let inner = &self.inner;
        inner
            .run(from, Retry::No, |conn| async move {
                let (rf, rt) = (Inner::remote(&conn, from), Inner::remote(&conn, to));
                // No cached write handle may outlive its name (see `Conn::close_for_rename`).
                let sftp = if conn.close_for_rename(&rf, &rt).await? {
                    &conn.bulk
                } else {
                    &conn.meta
                };
                let r = match mode {
                    RenameMode::Replace => inner.rename_replace(&conn, sftp, &rf, &rt).await,
                    RenameMode::NoReplace => sftp
                        .rename(rf.clone(), rt.clone())
                        .await
                        .map(|_| ())
                        .map_err(OpError::from),
                };
                match r {
                    Ok(()) => Ok(()),
                    Err(OpError::Status(StatusCode::Failure, msg)) => {
                        if Inner::stat_opt(sftp, &rf).await?.is_none() {
                            return Err(OpError::Storage(StorageError::new(
                                StorageErrorKind::NotFound,
                                from.clone(),
                            )));
                        }
                        match Inner::stat_opt(sftp, &rt).await? {
                            Some(_) if mode == RenameMode::NoReplace => Err(OpError::Storage(
                                StorageError::new(StorageErrorKind::AlreadyExists, to.clone()),
                            )),
                            Some(a) if a.is_dir() => Err(OpError::Storage(StorageError::new(
                                StorageErrorKind::IsADirectory,
                                to.clone(),
                            ))),
                            _ => Err(OpError::Status(StatusCode::Failure, msg)),
                        }
                    }
                    Err(e) => Err(e),
                }
            })
            .await
    }

    async fn set_modified(
        &self,
        path: &StoragePath,
        modified: SystemTime,
    ) -> Result<(), StorageError> {
        let secs = modified
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let secs = u32::try_from(secs).map_err(|_| {
            StorageError::with_source(StorageErrorKind::Unsupported, path, "time beyond 2106")
        })?;
        let inner = &self.inner;
        inner
            .run(path, Retry::Yes, |conn| async move {
                let remote = Inner::remote(&conn, path);
                conn.meta
                    .setstat(
                        remote,
                        FileAttributes {
                            atime: Some(secs),
                            mtime: Some(secs),
                            ..FileAttributes::empty()
                        },
                    )
                    .await?;
                Ok(())
            })
            .await
    }

    async fn space(&self) -> Result<Option<SpaceInfo>, StorageError> {
        let inner = &self.inner;
        let root = StoragePath::root();
        inner
            .run(&root, Retry::Yes, |conn| async move {
                if !conn.ext.statvfs {
                    return Ok(None);
                }
                let v = conn.meta.statvfs(conn.root.clone()).await?;
                let unit = if v.fragment_size > 0 {
                    v.fragment_size
                } else {
                    v.block_size
                };
                Ok(Some(SpaceInfo {
                    total: v.blocks.saturating_mul(unit),
                    available: v.blocks_avail.saturating_mul(unit),
                }))
            })
            .await
    }
}
