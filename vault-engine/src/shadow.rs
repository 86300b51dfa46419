//! Where a dirty [`crate::OpenFile`] builds its next version until `flush`.
//!
//! Data safety rule: the storage always holds the old or the new complete
//! version of a file, never a mix, even if the process dies mid-write. So
//! writes never touch the committed ciphertext; they go to a shadow:
//!
//! - on `random_write` backends (local folder, SFTP) a hidden temp object next
//!   to the node, `.vault-tmp-<uuid>` in the same content directory
//!   (`.`-prefixed and not ending in `.c9r`, so listings and conflict handling
//!   ignore it; `vault check --repair` removes leftovers). It is written with
//!   `write_at`, made durable with `sync` and renamed over the node;
//! - on other backends (WebDAV) a local spool file (an unnamed temp file,
//!   deleted by the OS when closed) holding **ciphertext only**, uploaded
//!   whole with `Storage::write`, which is atomic by contract.
//!
//! Both hold the same bytes at the same offsets as the final ciphertext
//! object, so the open-file logic does not care which one it has.

use std::io::SeekFrom;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use vault_format::layout;
use vault_storage::{Body, RenameMode, StorageErrorKind, StoragePath, WriteMode};

use crate::core::{Core, TEMP_PREFIX, lock};
use crate::{VaultError, VaultErrorKind};

pub(crate) enum Shadow {
    Object { path: StoragePath },
    Spool { file: tokio::fs::File },
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
            let path = content_dir.join(&format!("{TEMP_PREFIX}{}", layout::new_dir_id()))?;
            lock(&core.live_temps).insert(path.as_str().to_owned());
            if let Err(e) = core
                .storage
                .write(
                    &path,
                    Body::from_bytes(header.to_vec()),
                    WriteMode::CreateNew,
                )
                .await
            {
                lock(&core.live_temps).remove(path.as_str());
                return Err(e.into());
            }
            tracing::debug!(shadow = %path, "shadow object created");
            Ok(Shadow::Object { path })
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
        match self {
            Shadow::Object { path } => Ok(core.storage.write_at(path, offset, data).await?),
            Shadow::Spool { file } => {
                file.seek(SeekFrom::Start(offset)).await.map_err(io_err)?;
                file.write_all(&data).await.map_err(io_err)
            }
        }
    }

    pub async fn read_at(
        &mut self,
        core: &Core,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, VaultError> {
        match self {
            Shadow::Object { path } => Ok(core.storage.read_at(path, offset, len).await?),
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

    /// Cuts the shadow to `len`, makes it durable and puts it in place of
    /// `target` atomically. On error the shadow stays usable (retry).
    pub async fn commit(
        &mut self,
        core: &Core,
        len: u64,
        target: &StoragePath,
    ) -> Result<(), VaultError> {
        match self {
            Shadow::Object { path } => {
                core.storage.set_len(path, len).await?;
                core.storage.sync(path).await?;
                if !core.caps.atomic_replace {
                    // No atomic replace: the window between remove and rename
                    // is the best this backend allows.
                    match core.storage.remove_file(target).await {
                        Ok(()) => {}
                        Err(e) if e.kind() == StorageErrorKind::NotFound => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                core.storage
                    .rename(path, target, RenameMode::Replace)
                    .await?;
                lock(&core.live_temps).remove(path.as_str());
                tracing::debug!(shadow = %path, target = %target, "shadow committed");
                Ok(())
            }
            Shadow::Spool { file } => {
                file.set_len(len).await.map_err(io_err)?;
                let mut reader = file.try_clone().await.map_err(io_err)?;
                reader.seek(SeekFrom::Start(0)).await.map_err(io_err)?;
                core.storage
                    .write(target, Body::from_reader(len, reader), WriteMode::Overwrite)
                    .await?;
                tracing::debug!(target = %target, "spool uploaded");
                Ok(())
            }
        }
    }

    /// Throws the unfinished version away.
    pub async fn discard(self, core: &Core) {
        if let Shadow::Object { path } = self {
            if let Err(e) = core.storage.remove_file(&path).await {
                tracing::warn!(shadow = %path, error = %e, "could not remove shadow object (check --repair removes it)");
            }
            lock(&core.live_temps).remove(path.as_str());
        }
    }
}
