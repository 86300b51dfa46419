//! Creating a temp object in place.
//!
//! An object named with [`vault_storage::TEMP_PREFIX`] is a temp of an unfinished write: no
//! reader takes its content for a file until its writer renames it into place, and `check
//! --repair` removes leftovers. Creating one needs no atomic create of its own (a temp of
//! the temp, renamed), so it is opened exclusively under its own name and written there.
//! The engine creates its shadow objects like this (with the file's header) and then
//! writes them in 4 MiB `write_at` batches: the handle stays cached for those batches (see
//! `handles`). Before the first batch's data flows this costs an OPEN and the header's
//! WRITE, two round trips, where the atomic create cost six (STAT, OPEN, WRITE, FSYNC,
//! CLOSE, RENAME) and the first batch one more (its OPEN).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use russh_sftp::client::error::Error as RawError;
use russh_sftp::protocol::{FileAttributes, OpenFlags, StatusCode};
use vault_storage::{Body, StorageError, StorageErrorKind, StoragePath, TEMP_PREFIX, WriteMode};

use crate::handles::Cached;
use crate::ops::{OpError, Retry};
use crate::{Conn, Inner, SftpStorage};

/// Whether a write of `path` in `mode` may create it in place.
pub(crate) fn in_place(path: &StoragePath, mode: WriteMode) -> bool {
    mode == WriteMode::CreateNew && path.file_name().is_some_and(|n| n.starts_with(TEMP_PREFIX))
}

impl Inner {
    /// Creates the temp object `path` holding `data` under its own name (see the module
    /// docs) and keeps its handle for the writes that follow; `durable`: FSYNC before
    /// returning. `opened`: set once an OPEN was sent, so an attempt repeated after a
    /// reconnect, which may find the object its predecessor created, truncates it instead
    /// of failing on it.
    pub(crate) async fn create_temp_in_place(
        &self,
        conn: &Arc<Conn>,
        path: &StoragePath,
        data: &Bytes,
        durable: bool,
        opened: &AtomicBool,
    ) -> Result<(), OpError> {
        let remote = Self::remote(conn, path);
        // The bulk channel: the batches that follow are bulk data and must not go through a
        // handle of the metadata channel.
        let (sftp, sem, pacer) = self.channel(conn, true);
        let permit = sem
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| OpError::Transport("closed".into(), false))?;
        let again = opened.swap(true, Ordering::SeqCst);
        let flags = OpenFlags::WRITE
            | OpenFlags::CREATE
            | if again {
                OpenFlags::TRUNCATE
            } else {
                OpenFlags::EXCLUDE
            };
        let attrs = FileAttributes {
            permissions: Some(0o644),
            ..FileAttributes::empty()
        };
        let handle = match sftp.open(remote.clone(), flags, attrs).await {
            Ok(h) => h.handle,
            Err(RawError::Status(s)) if s.status_code == StatusCode::NoSuchFile => {
                return Err(OpError::Storage(StorageError::new(
                    StorageErrorKind::NotFound,
                    path.clone(),
                )));
            }
            // OpenSSH reports EEXIST (and EISDIR) as a bare failure.
            Err(RawError::Status(s)) if s.status_code == StatusCode::Failure => {
                let kind = match Self::stat_opt(sftp, &remote).await? {
                    Some(a) if a.is_dir() => StorageErrorKind::IsADirectory,
                    Some(_) => StorageErrorKind::AlreadyExists,
                    None => return Err(OpError::Status(s.status_code, s.error_message)),
                };
                return Err(OpError::Storage(StorageError::new(kind, path.clone())));
            }
            Err(e) => return Err(e.into()),
        };
        let cached = Cached::new(handle, true, permit);
        // Counted at both ends, as `write_at` does: written and not yet synced.
        cached.count_write();
        let mut r = self.write_range(sftp, pacer, &cached.handle, 0, data).await;
        cached.count_write();
        if r.is_ok() && durable && conn.ext.fsync {
            let at = cached.writes();
            r = sftp
                .fsync(cached.handle.clone())
                .await
                .map(drop)
                .map_err(OpError::from);
            if r.is_ok() {
                cached.synced(at);
            }
        }
        if let Err(e) = r {
            if let Err(c) = sftp.close(cached.handle.clone()).await {
                tracing::debug!("close after a failed temp create: {c}");
            }
            // On a broken link the request would only wait for its timeout; a leftover is
            // removed by `check --repair`.
            if !matches!(e, OpError::Transport(_, false)) {
                let _ = tokio::time::timeout(Duration::from_secs(5), sftp.remove(remote)).await;
            }
            return Err(e);
        }
        match conn.writes.insert(&remote, cached) {
            Ok(lease) => {
                if let Some(h) = conn.writes.release(&remote, lease, true) {
                    conn.close_later(h);
                }
                Ok(())
            }
            // Not cached (the cache is full): closed now; a write error a server defers to
            // CLOSE counts, unless the data was synced already.
            Err(c) if c.is_dirty() => {
                sftp.close(c.handle.clone()).await?;
                Ok(())
            }
            Err(c) => {
                conn.close_later(c);
                Ok(())
            }
        }
    }
}

impl SftpStorage {
    /// `write`/`write_nosync` of a temp object: created in place (see the module docs).
    pub(crate) async fn write_temp(
        &self,
        path: &StoragePath,
        body: Body,
        durable: bool,
    ) -> Result<(), StorageError> {
        let bytes = body.into_bytes().await.map_err(|e| {
            StorageError::with_source(
                StorageErrorKind::Other,
                path,
                format!("reading the body: {e}"),
            )
        })?;
        let (inner, bytes, opened) = (&self.inner, &bytes, &AtomicBool::new(false));
        inner
            .run(path, Retry::Yes, |conn| async move {
                inner
                    .create_temp_in_place(&conn, path, bytes, durable, opened)
                    .await
            })
            .await
    }
}
