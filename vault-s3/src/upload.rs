//! Whole-object writes: one PUT up to the multipart threshold, a multipart
//! upload with parallel parts above it. S3 makes an object visible only when
//! its PUT or CompleteMultipartUpload succeeds, so a reader sees the old or
//! the new object, never a prefix.
//!
//! Retries never duplicate a committed write: every write carries a unique
//! token in its metadata, so when a retried conditional write answers
//! "already exists", a HEAD tells whether the object is our own earlier
//! attempt (success) or another writer's (`AlreadyExists`). A failed or
//! cancelled multipart upload is aborted, so no parts linger (billed) in the
//! bucket.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use reqwest::StatusCode;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::http::Failure;
use crate::ops::Ops;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A token unique to one write of this process (no secret: it only has to
/// differ from other writers' tokens).
pub(crate) fn new_write_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{nanos:x}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// How a write failed.
pub(crate) enum WriteFailure {
    /// `create_only` and the key exists (another writer's object).
    Exists,
    /// Reading the caller's body failed.
    Body(std::io::Error),
    /// The store failed.
    Store(Failure),
}

impl From<Failure> for WriteFailure {
    fn from(f: Failure) -> Self {
        WriteFailure::Store(f)
    }
}

/// Tuning for one upload.
pub(crate) struct Plan {
    pub threshold: u64,
    pub part_size: usize,
    pub concurrency: usize,
}

/// Who holds `key` after a conditional write was refused.
enum Holder {
    /// Our own write (an earlier attempt committed, its answer was lost).
    Us,
    /// Another writer's object.
    Other,
    /// Nothing is there.
    Nobody,
}

async fn holder(ops: &Ops, key: &str, write_id: &str) -> Result<Holder, Failure> {
    Ok(match ops.head(key).await? {
        Some(h) if h.write_id.as_deref() == Some(write_id) => Holder::Us,
        Some(_) => Holder::Other,
        None => Holder::Nobody,
    })
}

/// A refused precondition: 412 as S3 says, or a bare 403 without an error
/// code, which is how moto 5.2 answers a failed `If-None-Match` (the HEAD
/// that follows tells a real permission problem apart).
pub(crate) fn maybe_precondition(f: &Failure) -> bool {
    match f {
        Failure::Status { status, code, .. } => {
            *status == StatusCode::PRECONDITION_FAILED
                || (*status == StatusCode::FORBIDDEN && code.is_empty())
        }
        _ => false,
    }
}

/// Settles a refused conditional write: ours, another writer's, or a real failure.
async fn settle(ops: &Ops, key: &str, write_id: &str, f: Failure) -> Result<(), WriteFailure> {
    match holder(ops, key, write_id).await? {
        Holder::Us => Ok(()),
        Holder::Other => Err(WriteFailure::Exists),
        Holder::Nobody if f.status() == Some(StatusCode::PRECONDITION_FAILED) => {
            Err(WriteFailure::Exists)
        }
        Holder::Nobody => Err(f.into()),
    }
}

/// Writes `len` bytes from `reader` to `key`.
pub(crate) async fn write_object(
    ops: &Arc<Ops>,
    key: &str,
    len: u64,
    mut reader: Box<dyn AsyncRead + Send + Unpin>,
    create_only: bool,
    plan: &Plan,
) -> Result<(), WriteFailure> {
    let write_id = new_write_id();
    if len <= plan.threshold {
        let body = read_exact(&mut reader, len)
            .await
            .map_err(WriteFailure::Body)?;
        return match ops.put(key, body, create_only, &write_id).await {
            Ok(_) => Ok(()),
            // A dropped answer to a committed first attempt looks like this too.
            Err(f) if create_only && maybe_precondition(&f) => settle(ops, key, &write_id, f).await,
            Err(f) => Err(f.into()),
        };
    }
    let upload_id = ops.create_multipart(key, &write_id).await?;
    let guard = AbortGuard {
        ops: Arc::clone(ops),
        key: key.to_owned(),
        upload_id: upload_id.clone(),
        armed: true,
    };
    let result = upload_parts(ops, key, &upload_id, len, reader, plan).await;
    let etags = match result {
        Ok(etags) => etags,
        Err(e) => {
            guard.abort_now().await;
            return Err(e);
        }
    };
    match ops
        .complete_multipart(key, &upload_id, &etags, create_only)
        .await
    {
        Ok(_) => {
            guard.disarm();
            Ok(())
        }
        Err(f) => {
            // 404 NoSuchUpload after a retry: our earlier Complete went through.
            let refused = create_only && maybe_precondition(&f);
            if refused || f.status() == Some(StatusCode::NOT_FOUND) {
                let result = settle(ops, key, &write_id, f).await;
                if result.is_ok() {
                    guard.disarm();
                    return Ok(());
                }
                guard.abort_now().await;
                return result;
            }
            guard.abort_now().await;
            Err(f.into())
        }
    }
}

/// Reads exactly `len` bytes into memory (one part or a small object).
async fn read_exact(
    reader: &mut (dyn AsyncRead + Send + Unpin),
    len: u64,
) -> std::io::Result<Bytes> {
    let len = usize::try_from(len)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "body too large"))?;
    let mut buf = vec![0u8; len];
    reader.read_exact(&mut buf).await?;
    Ok(Bytes::from(buf))
}

/// Reads the body part by part and uploads up to `concurrency` parts at a
/// time; memory stays within `concurrency + 1` parts. ETags in part order.
async fn upload_parts(
    ops: &Arc<Ops>,
    key: &str,
    upload_id: &str,
    len: u64,
    mut reader: Box<dyn AsyncRead + Send + Unpin>,
    plan: &Plan,
) -> Result<Vec<String>, WriteFailure> {
    let part_size = plan.part_size as u64;
    let count = len.div_ceil(part_size);
    if count > 10_000 {
        return Err(WriteFailure::Body(std::io::Error::other(
            "object too large for 10,000 parts of the configured size",
        )));
    }
    let mut etags = vec![String::new(); count as usize];
    let mut running = FuturesUnordered::new();
    let mut next = 0u64;
    while next < count || !running.is_empty() {
        while next < count && running.len() < plan.concurrency.max(1) {
            let this = (len - next * part_size).min(part_size);
            let body = read_exact(&mut reader, this)
                .await
                .map_err(WriteFailure::Body)?;
            let number = u16::try_from(next + 1).unwrap_or(u16::MAX);
            let (ops, key, upload_id) = (Arc::clone(ops), key.to_owned(), upload_id.to_owned());
            running.push(async move {
                let etag = ops.upload_part(&key, &upload_id, number, body).await;
                (number, etag)
            });
            next += 1;
        }
        if let Some((number, etag)) = running.next().await {
            etags[usize::from(number) - 1] = etag?;
        }
    }
    Ok(etags)
}

/// Aborts the multipart upload unless disarmed, also when the write's
/// future is dropped mid-way (a cancelled copy, an unmount).
struct AbortGuard {
    ops: Arc<Ops>,
    key: String,
    upload_id: String,
    armed: bool,
}

impl AbortGuard {
    fn disarm(mut self) {
        self.armed = false;
    }

    async fn abort_now(mut self) {
        self.armed = false;
        if let Err(f) = self.ops.abort_multipart(&self.key, &self.upload_id).await {
            tracing::warn!(key = %self.key, "could not abort a failed multipart upload: {f:?}");
        }
    }
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (ops, key, upload_id) = (
            Arc::clone(&self.ops),
            std::mem::take(&mut self.key),
            std::mem::take(&mut self.upload_id),
        );
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if let Err(f) = ops.abort_multipart(&key, &upload_id).await {
                    tracing::warn!(%key, "could not abort a cancelled multipart upload: {f:?}");
                }
            });
        }
    }
}
