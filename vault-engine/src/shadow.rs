//! Where a dirty [`crate::OpenFile`] builds its next version until `flush`.
//!
//! Data safety rule: the storage always holds the old or the new complete
//! version of a file, never a mix, even if the process dies mid-write. So
//! writes never touch the committed ciphertext; they go to a shadow:
//!
//! - on `random_write` backends, first an in-memory buffer (**ciphertext
//!   only**) while the new version is at most [`MEMORY_MAX`] bytes: it is
//!   committed with one atomic `Storage::write` (a new small file costs one
//!   storage write, no temp object, no copy). A write beyond that moves the
//!   buffer into a shadow object (below) and continues there;
//! - on `random_write` backends (local folder, SFTP) a hidden temp object next
//!   to the node, `.vault-tmp-<uuid>` in the same content directory
//!   (`.`-prefixed and not ending in `.c9r`, so listings and conflict handling
//!   ignore it; `vault check --repair` removes leftovers). It is written with
//!   `write_at`, made durable with `sync` (durable commits only) and renamed
//!   over the node;
//! - on other backends (WebDAV) a local spool file (an unnamed temp file,
//!   deleted by the OS when closed) holding **ciphertext only**, uploaded
//!   whole with `Storage::write`, which is atomic by contract.
//!
//! Both hold the same bytes at the same offsets as the final ciphertext
//! object, so the open-file logic does not care which one it has.

use std::io::SeekFrom;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use vault_storage::{Body, RenameMode, StoragePath, WriteMode};

use crate::core::{Core, temp_path_in};
use crate::{VaultError, VaultErrorKind};

/// Largest version kept in memory before a shadow object is created.
pub(crate) const MEMORY_MAX: u64 = 1 << 20;

pub(crate) enum Shadow {
    Memory {
        buf: Vec<u8>,
        content_dir: StoragePath,
    },
    Object {
        path: StoragePath,
        /// The object's length: it is ours alone (a fresh temp), so the end of the
        /// furthest write sent to it. The commit needs no truncate when it is right.
        len: u64,
    },
    Spool {
        file: tokio::fs::File,
    },
}

/// A new shadow object in `content_dir` holding `bytes`.
async fn create_object(
    core: &Core,
    content_dir: &StoragePath,
    bytes: Bytes,
) -> Result<StoragePath, VaultError> {
    let path = temp_path_in(content_dir)?;
    core.live_temps.register(path.as_str());
    // Not durable yet: a durable commit syncs the object before renaming it.
    if let Err(e) = core
        .storage
        .write_nosync(&path, Body::from_bytes(bytes), WriteMode::CreateNew)
        .await
    {
        core.live_temps.release(path.as_str());
        return Err(e.into());
    }
    tracing::debug!(shadow = %path, "shadow object created");
    Ok(path)
}

fn io_err(e: std::io::Error) -> VaultError {
    tracing::warn!(error = %e, "local spool file failed");
    VaultError::node(VaultErrorKind::Other, format!("local spool file: {e}"))
}

impl Shadow {
    /// A new shadow holding `header` (the file's header bytes, kept for its lifetime).
    pub async fn create(
        core: &Core,
        content_dir: &StoragePath,
        header: &[u8],
    ) -> Result<Shadow, VaultError> {
        if core.caps.random_write {
            let mut buf = Vec::with_capacity(header.len() + (64 << 10));
            buf.extend_from_slice(header);
            Ok(Shadow::Memory {
                buf,
                content_dir: content_dir.clone(),
            })
        } else {
            let std_file = tokio::task::spawn_blocking(tempfile::tempfile)
                .await
                .map_err(|e| VaultError::node(VaultErrorKind::Other, format!("spool: {e}")))?
                .map_err(io_err)?;
            let mut file = tokio::fs::File::from_std(std_file);
            file.write_all(header).await.map_err(io_err)?;
            Ok(Shadow::Spool { file })
        }
    }

    pub async fn write_at(
        &mut self,
        core: &Core,
        offset: u64,
        data: Bytes,
    ) -> Result<(), VaultError> {
        let end = offset + data.len() as u64;
        // Too big for memory: continue in a shadow object.
        self.outgrow_memory(core, end).await?;
        match self {
            // Still in memory: it fits.
            Shadow::Memory { buf, .. } => {
                let (from, to) = (offset as usize, end as usize);
                if buf.len() < to {
                    buf.resize(to, 0);
                }
                buf[from..to].copy_from_slice(&data);
                Ok(())
            }
            Shadow::Object { path, .. } => {
                let r = core.storage.write_at(path, offset, data).await;
                self.extend(end);
                Ok(r?)
            }
            Shadow::Spool { file } => {
                file.seek(SeekFrom::Start(offset)).await.map_err(io_err)?;
                file.write_all(&data).await.map_err(io_err)
            }
        }
    }

    /// Before a write up to `end`: a version that outgrows memory moves into a shadow object
    /// now, so that the write can go out in the background like every later one.
    pub async fn outgrow_memory(&mut self, core: &Core, end: u64) -> Result<(), VaultError> {
        let Shadow::Memory { buf, content_dir } = self else {
            return Ok(());
        };
        if end <= MEMORY_MAX {
            return Ok(());
        }
        let bytes = Bytes::from(std::mem::take(buf));
        match create_object(core, content_dir, bytes.clone()).await {
            Ok(path) => {
                *self = Shadow::Object {
                    path,
                    len: bytes.len() as u64,
                };
                Ok(())
            }
            Err(e) => {
                // Kept for a retry.
                *buf = Vec::from(bytes);
                Err(e)
            }
        }
    }

    /// A write up to `end` was sent to the shadow object (even a failed one may have
    /// reached it: its length is then unknown until a write up to `end` succeeds, which a
    /// commit needs first anyway).
    pub fn extend(&mut self, end: u64) {
        if let Shadow::Object { len, .. } = self {
            *len = (*len).max(end);
        }
    }

    /// The file moved: a later shadow object goes to its new content directory.
    pub fn relocate(&mut self, new_content_dir: &StoragePath) {
        if let Shadow::Memory { content_dir, .. } = self {
            *content_dir = new_content_dir.clone();
        }
    }

    pub async fn read_at(
        &mut self,
        core: &Core,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, VaultError> {
        match self {
            Shadow::Memory { buf, .. } => {
                let from = usize::try_from(offset).unwrap_or(usize::MAX).min(buf.len());
                let to = from.saturating_add(len).min(buf.len());
                Ok(Bytes::copy_from_slice(&buf[from..to]))
            }
            Shadow::Object { path, .. } => Ok(core.storage.read_at(path, offset, len).await?),
            Shadow::Spool { file } => {
                file.seek(SeekFrom::Start(offset)).await.map_err(io_err)?;
                let mut buf = Vec::with_capacity(len);
                (&mut *file)
                    .take(len as u64)
                    .read_to_end(&mut buf)
                    .await
                    .map_err(io_err)?;
                Ok(Bytes::from(buf))
            }
        }
    }

    /// Cuts the shadow to `len` and puts it in place of `target` atomically;
    /// `durable`: makes it durable first and returns once it is. On error the
    /// shadow stays usable (retry).
    pub async fn commit(
        &mut self,
        core: &Core,
        len: u64,
        target: &StoragePath,
        durable: bool,
    ) -> Result<(), VaultError> {
        match self {
            Shadow::Memory { buf, .. } => {
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                buf.resize(len, 0);
                let body = Body::from_bytes(buf.clone());
                if durable {
                    core.storage
                        .write(target, body, WriteMode::Overwrite)
                        .await?;
                } else {
                    core.storage
                        .write_nosync(target, body, WriteMode::Overwrite)
                        .await?;
                }
                tracing::debug!(target = %target, durable, "in-memory version committed");
                Ok(())
            }
            Shadow::Object { path, len: now } => {
                if *now != len {
                    core.storage.set_len(path, len).await?;
                    *now = len;
                }
                if durable {
                    core.storage.sync(path).await?;
                }
                // A backend without atomic replace keeps the old version under a
                // backup name until this one is in place (`vault_storage::backup`):
                // removing the target here first would leave only the shadow,
                // which `check --repair` removes.
                if durable {
                    core.storage
                        .rename(path, target, RenameMode::Replace)
                        .await?;
                } else {
                    core.storage
                        .rename_nosync(path, target, RenameMode::Replace)
                        .await?;
                }
                core.live_temps.release(path.as_str());
                tracing::debug!(shadow = %path, target = %target, "shadow committed");
                Ok(())
            }
            Shadow::Spool { file } => {
                file.set_len(len).await.map_err(io_err)?;
                let mut reader = file.try_clone().await.map_err(io_err)?;
                reader.seek(SeekFrom::Start(0)).await.map_err(io_err)?;
                let body = Body::from_reader(len, reader);
                if durable {
                    core.storage
                        .write(target, body, WriteMode::Overwrite)
                        .await?;
                } else {
                    core.storage
                        .write_nosync(target, body, WriteMode::Overwrite)
                        .await?;
                }
                tracing::debug!(target = %target, "spool uploaded");
                Ok(())
            }
        }
    }

    /// Throws the unfinished version away.
    pub async fn discard(self, core: &Core) {
        if let Shadow::Object { path, .. } = self {
            if let Err(e) = core.storage.remove_file(&path).await {
                tracing::warn!(shadow = %path, error = %e, "could not remove shadow object (check --repair removes it)");
            }
            core.live_temps.release(path.as_str());
        }
    }
}
