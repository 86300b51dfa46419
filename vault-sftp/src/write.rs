//! The write/commit path: temporary upload names, pipelined writes from bytes or a stream,
//! and the rename that commits an upload over its target.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::stream::{FuturesUnordered, StreamExt};
use russh_sftp::client::RawSftpSession;
use russh_sftp::client::error::Error as RawError;
use russh_sftp::protocol::{FileAttributes, OpenFlags, StatusCode};
use tokio::io::AsyncReadExt;
use tracing::debug;
use vault_storage::{StorageError, StorageErrorKind, StoragePath, WriteMode};

use crate::handles::{Cached, Lease};
use crate::ops::{OpError, expect_ok, put_str};
use crate::pacer::pace;
use crate::{BULK_THRESHOLD, Conn, Inner, Pacer, replace};

impl Inner {
    pub(crate) fn forget_temp(&self, tmp: &str) {
        if let Ok(mut t) = self.temps.lock() {
            t.retain(|(_, n)| n != tmp);
        }
    }

    pub(crate) fn tmp_name(&self) -> String {
        let n = self.tmp_counter.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        format!(
            "{}{}-{n}-{nanos:08x}",
            vault_storage::TEMP_PREFIX,
            std::process::id()
        )
    }

    /// Pipelined read of `len` bytes at `offset` from an open handle.
    /// Pipelined write of `data` at `offset` to an open handle.
    pub(crate) async fn write_range(
        &self,
        sftp: &RawSftpSession,
        pacer: Option<&Pacer>,
        handle: &str,
        offset: u64,
        data: &Bytes,
    ) -> Result<(), OpError> {
        let chunk = self.cfg().chunk_size.max(1024) as usize;
        let depth = self.cfg().pipeline_depth.max(1);
        let mut inflight = FuturesUnordered::new();
        let mut pos = 0usize;
        loop {
            while pos < data.len() && inflight.len() < depth {
                let n = chunk.min(data.len() - pos);
                let Some(permit) = pace(pacer, n, inflight.is_empty()).await else {
                    break;
                };
                let piece = data.slice(pos..pos + n).to_vec();
                let h = handle.to_owned();
                let off = offset + pos as u64;
                inflight.push(async move {
                    let r = sftp.write(h, off, piece).await;
                    if let (Ok(_), Some(p)) = (&r, permit) {
                        p.acked();
                    }
                    r
                });
                pos += n;
            }
            match inflight.next().await {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            }
        }
    }

    /// Streams `reader` (exactly `len` bytes) into an open handle, pipelined.
    pub(crate) async fn write_stream(
        &self,
        sftp: &RawSftpSession,
        pacer: Option<&Pacer>,
        handle: &str,
        len: u64,
        reader: &mut (dyn tokio::io::AsyncRead + Send + Unpin),
        path: &StoragePath,
    ) -> Result<(), OpError> {
        let chunk = self.cfg().chunk_size.max(1024) as usize;
        let depth = self.cfg().pipeline_depth.max(1);
        let mut inflight = FuturesUnordered::new();
        let mut pos = 0u64;
        loop {
            while pos < len && inflight.len() < depth {
                let n = (chunk as u64).min(len - pos) as usize;
                let Some(permit) = pace(pacer, n, inflight.is_empty()).await else {
                    break;
                };
                let mut buf = vec![0u8; n];
                reader.read_exact(&mut buf).await.map_err(|e| {
                    OpError::Storage(StorageError::with_source(
                        StorageErrorKind::Other,
                        path,
                        format!("reading the body: {e}"),
                    ))
                })?;
                let h = handle.to_owned();
                let off = pos;
                inflight.push(async move {
                    let r = sftp.write(h, off, buf).await;
                    if let (Ok(_), Some(p)) = (&r, permit) {
                        p.acked();
                    }
                    r
                });
                pos += n as u64;
            }
            match inflight.next().await {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            }
        }
    }

    /// `write_at` through the connection's cached write handle of `remote`, opening (and
    /// caching) one when there is none, so consecutive batches cost no OPEN and CLOSE.
    pub(crate) async fn write_at_cached(
        &self,
        conn: &Arc<Conn>,
        path: &StoragePath,
        remote: &str,
        offset: u64,
        data: &Bytes,
    ) -> Result<(), OpError> {
        let bulk = data.len() > BULK_THRESHOLD;
        let (lease, stale) = conn.writes.lease(remote, bulk);
        if let Some(h) = stale {
            conn.close_later(h);
        }
        let lease = match lease {
            Some(l) => l,
            None => {
                let (sftp, sem, _) = self.channel(conn, bulk);
                let permit = sem
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| OpError::Transport("closed".into(), false))?;
                let handle = match sftp
                    .open(remote.to_owned(), OpenFlags::WRITE, FileAttributes::empty())
                    .await
                {
                    Ok(h) => h.handle,
                    Err(e) => return Err(Self::explain_open_failure(sftp, remote, path, e).await),
                };
                match conn
                    .writes
                    .insert(remote, Cached::new(handle, bulk, permit))
                {
                    Ok(l) => l,
                    Err(once) => {
                        // Not cached (full, or a concurrent call cached its own): used
                        // once and closed, the close awaited as its errors count.
                        let (sftp, _, pacer) = self.channel(conn, bulk);
                        let r = self
                            .write_range(sftp, pacer, &once.handle, offset, data)
                            .await;
                        let c = sftp.close(once.handle.clone()).await;
                        r?;
                        c?;
                        return Ok(());
                    }
                }
            }
        };
        let mut guard = LeaseGuard::new(conn, remote, lease);
        let h = Arc::clone(&guard.h);
        let (sftp, pacer) = if h.bulk {
            (&conn.bulk, Some(&conn.pacer))
        } else {
            (&conn.meta, None)
        };
        h.count_write();
        let r = self.write_range(sftp, pacer, &h.handle, offset, data).await;
        h.count_write();
        guard.ok = r.is_ok();
        r
    }

    /// Closes a handle without waiting for the reply (saves a round trip); the handle
    /// slot is freed once the server answered.
    pub(crate) fn close_later(
        conn: &Arc<Conn>,
        bulk: bool,
        handle: String,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) {
        let conn = conn.clone();
        // Sent now, so a request sent next on the same channel is served after it.
        crate::conn::send_then_spawn(async move {
            let sftp = if bulk { &conn.bulk } else { &conn.meta };
            Self::close_quietly(sftp, handle).await;
            drop(permit);
        });
    }

    pub(crate) async fn close_quietly(sftp: &RawSftpSession, handle: String) {
        if let Err(e) = sftp.close(handle).await {
            debug!("close failed: {e}");
        }
    }

    /// Failure to open a file for reading: tells a folder from other failures.
    pub(crate) async fn explain_open_failure(
        sftp: &RawSftpSession,
        remote: &str,
        path: &StoragePath,
        e: RawError,
    ) -> OpError {
        if let RawError::Status(s) = &e
            && s.status_code == StatusCode::Failure
            && let Ok(Some(a)) = Self::stat_opt(sftp, remote).await
            && a.is_dir()
        {
            return OpError::Storage(StorageError::new(
                StorageErrorKind::IsADirectory,
                path.clone(),
            ));
        }
        e.into()
    }

    pub(crate) async fn do_write(
        self: &Arc<Self>,
        conn: &Arc<Conn>,
        path: &StoragePath,
        body: WriteBody<'_>,
        mode: WriteMode,
        rename_sent: &std::sync::atomic::AtomicBool,
    ) -> Result<(), OpError> {
        let bulk = body.len() as usize > BULK_THRESHOLD;
        let (sftp, sem, pacer) = self.channel(conn, bulk);
        let target = Self::remote(conn, path);
        let parent = path.parent().unwrap_or_default();
        let tmp = Self::remote(
            conn,
            &parent.join(&self.tmp_name()).map_err(OpError::Storage)?,
        );
        if mode == WriteMode::CreateNew && Self::stat_opt(sftp, &target).await?.is_some() {
            return Err(OpError::Storage(StorageError::new(
                StorageErrorKind::AlreadyExists,
                path.clone(),
            )));
        }
        let permit = sem
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| OpError::Transport("closed".into(), false))?;
        if let Ok(mut t) = self.temps.lock() {
            t.push((conn.generation, tmp.clone()));
        }
        let flags = OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::EXCLUDE | OpenFlags::TRUNCATE;
        let attrs = FileAttributes {
            permissions: Some(0o644),
            ..FileAttributes::empty()
        };
        let handle = match sftp.open(tmp.clone(), flags, attrs).await {
            Ok(h) => h.handle,
            Err(RawError::Status(s)) if s.status_code == StatusCode::NoSuchFile => {
                self.forget_temp(&tmp);
                return Err(OpError::Storage(StorageError::new(
                    StorageErrorKind::NotFound,
                    path.clone(),
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let upload = async {
            match body {
                WriteBody::Bytes(b) => self.write_range(sftp, pacer, &handle, 0, b).await?,
                WriteBody::Stream(len, reader) => {
                    self.write_stream(sftp, pacer, &handle, len, reader, path)
                        .await?
                }
            }
            if conn.ext.fsync {
                sftp.fsync(handle.clone()).await?;
            }
            Ok::<(), OpError>(())
        }
        .await;
        let closed = match &upload {
            // Durable already: the rename need not wait for the CLOSE (a write error a
            // server could report there was reported by the FSYNC), which saves a round
            // trip per object; the handle slot is freed once the server answered.
            Ok(()) if conn.ext.fsync => {
                Self::close_later(conn, bulk, handle, permit);
                Ok(())
            }
            _ => {
                let c = sftp.close(handle).await;
                drop(permit);
                c.map(drop)
            }
        };
        let result = match (upload, closed) {
            (Err(e), _) => Err(e),
            (Ok(()), Err(e)) => Err(e.into()),
            (Ok(()), Ok(())) => {
                rename_sent.store(true, Ordering::SeqCst);
                self.commit_rename(conn, sftp, &tmp, &target, path, mode)
                    .await
            }
        };
        let gone = match &result {
            Ok(()) => true,
            // On a broken link the request would only wait for its timeout:
            // the temp is removed after the reconnect.
            Err(OpError::Transport(_, false)) => false,
            // Best effort; on a dead link it is retried after the reconnect.
            Err(_) => matches!(
                tokio::time::timeout(Duration::from_secs(5), sftp.remove(tmp.clone())).await,
                Ok(Ok(_))
            ),
        };
        if gone {
            self.forget_temp(&tmp);
        }
        result
    }

    pub(crate) async fn commit_rename(
        &self,
        conn: &Conn,
        sftp: &RawSftpSession,
        tmp: &str,
        target: &str,
        path: &StoragePath,
        mode: WriteMode,
    ) -> Result<(), OpError> {
        let r = match mode {
            WriteMode::Overwrite => self.rename_replace(conn, sftp, tmp, target).await,
            WriteMode::CreateNew => sftp
                .rename(tmp.to_owned(), target.to_owned())
                .await
                .map(|_| ())
                .map_err(OpError::from),
        };
        match r {
            Ok(()) => Ok(()),
            Err(OpError::Status(StatusCode::Failure, msg)) => {
                match Self::stat_opt(sftp, target).await? {
                    Some(a) if a.is_dir() => Err(OpError::Storage(StorageError::new(
                        StorageErrorKind::IsADirectory,
                        path.clone(),
                    ))),
                    Some(_) if mode == WriteMode::CreateNew => Err(OpError::Storage(
                        StorageError::new(StorageErrorKind::AlreadyExists, path.clone()),
                    )),
                    _ => Err(OpError::Status(StatusCode::Failure, msg)),
                }
            }
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn rename_replace(
        &self,
        conn: &Conn,
        sftp: &RawSftpSession,
        from: &str,
        to: &str,
    ) -> Result<(), OpError> {
        if conn.ext.posix_rename {
            let mut data = Vec::with_capacity(from.len() + to.len() + 8);
            put_str(&mut data, from);
            put_str(&mut data, to);
            return expect_ok(sftp.extended("posix-rename@openssh.com", data).await?);
        }
        // Without posix-rename: the old version aside, the new one in, the old one away.
        replace::replace_keeping_old(sftp, &self.backups, conn.generation, from, to).await
    }
}

/// A leased cached handle, given back when the call ends, also when it is cancelled (then,
/// or after a failed write, the handle is evicted and closed).
pub(crate) struct LeaseGuard<'a> {
    conn: Arc<Conn>,
    remote: &'a str,
    /// The leased handle.
    pub h: Arc<Cached>,
    lease: Option<Lease>,
    /// The handle is still good (else it is evicted when the guard drops).
    pub ok: bool,
}

impl LeaseGuard<'_> {
    /// The cached handle of `remote` on `conn`, if there is one.
    pub(crate) fn of<'a>(conn: &Arc<Conn>, remote: &'a str) -> Option<LeaseGuard<'a>> {
        // Not for bulk data: a handle of either channel will do.
        let (lease, _) = conn.writes.lease(remote, false);
        Some(Self::new(conn, remote, lease?))
    }

    fn new<'a>(conn: &Arc<Conn>, remote: &'a str, lease: Lease) -> LeaseGuard<'a> {
        LeaseGuard {
            conn: Arc::clone(conn),
            remote,
            h: Arc::clone(&lease.0),
            lease: Some(lease),
            ok: false,
        }
    }

    /// The channel the handle belongs to.
    pub(crate) fn sftp(&self) -> &RawSftpSession {
        if self.h.bulk {
            &self.conn.bulk
        } else {
            &self.conn.meta
        }
    }
}

impl Drop for LeaseGuard<'_> {
    fn drop(&mut self) {
        let Some(lease) = self.lease.take() else {
            return;
        };
        if let Some(h) = self.conn.writes.release(self.remote, lease, self.ok)
            && tokio::runtime::Handle::try_current().is_ok()
        {
            self.conn.close_later(h);
        }
    }
}

pub(crate) enum WriteBody<'a> {
    Bytes(&'a Bytes),
    Stream(u64, &'a mut (dyn tokio::io::AsyncRead + Send + Unpin)),
}

impl WriteBody<'_> {
    pub(crate) fn len(&self) -> u64 {
        match self {
            WriteBody::Bytes(b) => b.len() as u64,
            WriteBody::Stream(n, _) => *n,
        }
    }
}
