//! The storage as the engine sees it while removals run in the background
//! ([`RemovalsOverlay`]): an object whose removal is queued is gone already. Lookups, reads
//! and removals of it are `NotFound`, listings leave it out (what was queued when the listing
//! started: one that finishes meanwhile must not show up again), and anything about to be made at
//! its path (a write, a folder, a rename onto it) first finishes its removal
//! ([`Removals::settle`]), so a worker never removes what was made there since. A folder with
//! removals queued inside is renamed or removed only once they are done. With nothing queued
//! every call goes straight through after one atomic load.

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use vault_storage::{
    Body, Capabilities, DirEntry, EntryKind, Metadata, RenameMode, SpaceInfo, Storage,
    StorageError, StorageErrorKind, StoragePath, WriteMode,
};

use super::Removals;

/// `inner` with the objects queued in `removals` hidden (see the module docs).
pub(crate) struct RemovalsOverlay {
    inner: Arc<dyn Storage>,
    removals: Arc<Removals>,
}

impl RemovalsOverlay {
    pub fn new(inner: Arc<dyn Storage>, removals: Arc<Removals>) -> RemovalsOverlay {
        RemovalsOverlay { inner, removals }
    }

    /// `NotFound` for a queued object.
    fn visible(&self, path: &StoragePath) -> Result<(), StorageError> {
        if self.removals.contains(path.as_str()) {
            return Err(StorageError::new(StorageErrorKind::NotFound, path.clone()));
        }
        Ok(())
    }

    /// Before something is made at `path`: its queued removal, if any, is done first.
    async fn free(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.removals.settle(path).await
    }

    /// Before a rename: `from` must not be queued; removals queued inside it (a folder) are
    /// done first, else they would miss their objects, moved along; and a queued removal at
    /// `to` is done first.
    async fn ready_to_rename(
        &self,
        from: &StoragePath,
        to: &StoragePath,
    ) -> Result<(), StorageError> {
        self.visible(from)?;
        self.removals.wait_dir(from.as_str()).await;
        self.free(to).await
    }
}

#[async_trait]
impl Storage for RemovalsOverlay {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn local_io(&self) -> bool {
        self.inner.local_io()
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn sends_nothing(&self) -> bool {
        self.inner.sends_nothing()
    }

    async fn metadata(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        self.visible(path)?;
        self.inner.metadata(path).await
    }

    async fn metadata_uncached(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        self.visible(path)?;
        self.inner.metadata_uncached(path).await
    }

    async fn list_dir(&self, path: &StoragePath) -> Result<Vec<DirEntry>, StorageError> {
        self.visible(path)?;
        let queued = self.removals.queued_in(path);
        let mut entries = self.inner.list_dir(path).await?;
        if let Some(queued) = queued {
            entries.retain(|e| !queued.contains(&e.name));
        }
        Ok(entries)
    }

    async fn list_names(
        &self,
        path: &StoragePath,
    ) -> Result<Vec<(String, EntryKind)>, StorageError> {
        self.visible(path)?;
        let queued = self.removals.queued_in(path);
        let mut entries = self.inner.list_names(path).await?;
        if let Some(queued) = queued {
            entries.retain(|(name, _)| !queued.contains(name));
        }
        Ok(entries)
    }

    async fn list_dir_in_one_request(
        &self,
        path: &StoragePath,
    ) -> Result<Option<Vec<DirEntry>>, StorageError> {
        self.visible(path)?;
        let queued = self.removals.queued_in(path);
        let mut entries = self.inner.list_dir_in_one_request(path).await?;
        if let (Some(entries), Some(queued)) = (entries.as_mut(), queued) {
            entries.retain(|e| !queued.contains(&e.name));
        }
        Ok(entries)
    }

    async fn read_at(
        &self,
        path: &StoragePath,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, StorageError> {
        self.visible(path)?;
        self.inner.read_at(path, offset, len).await
    }

    async fn read_all(&self, path: &StoragePath) -> Result<Bytes, StorageError> {
        self.visible(path)?;
        self.inner.read_all(path).await
    }

    async fn write(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        self.free(path).await?;
        self.inner.write(path, body, mode).await
    }

    async fn write_at(
        &self,
        path: &StoragePath,
        offset: u64,
        data: Bytes,
    ) -> Result<(), StorageError> {
        self.visible(path)?;
        self.inner.write_at(path, offset, data).await
    }

    async fn set_len(&self, path: &StoragePath, len: u64) -> Result<(), StorageError> {
        self.visible(path)?;
        self.inner.set_len(path, len).await
    }

    async fn sync(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.visible(path)?;
        self.inner.sync(path).await
    }

    async fn write_nosync(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        self.free(path).await?;
        self.inner.write_nosync(path, body, mode).await
    }

    async fn rename_nosync(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        self.ready_to_rename(from, to).await?;
        self.inner.rename_nosync(from, to, mode).await
    }

    async fn sync_entry(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.visible(path)?;
        self.inner.sync_entry(path).await
    }

    async fn sync_all(&self) -> Result<(), StorageError> {
        self.inner.sync_all().await
    }

    async fn create_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.free(path).await?;
        self.inner.create_dir(path).await
    }

    async fn remove_file(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.visible(path)?;
        self.inner.remove_file(path).await
    }

    async fn remove_listed_file(
        &self,
        path: &StoragePath,
        listed: &Metadata,
    ) -> Result<(), StorageError> {
        self.visible(path)?;
        self.inner.remove_listed_file(path, listed).await
    }

    async fn remove_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.visible(path)?;
        // Removals queued inside would keep the folder from emptying.
        self.removals.wait_dir(path.as_str()).await;
        self.inner.remove_dir(path).await
    }

    async fn rename(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        self.ready_to_rename(from, to).await?;
        self.inner.rename(from, to, mode).await
    }

    async fn remove_dir_all(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.visible(path)?;
        // What is queued inside goes with the folder; the worker finds it gone (NotFound
        // counts as done).
        self.inner.remove_dir_all(path).await
    }

    async fn set_modified(
        &self,
        path: &StoragePath,
        modified: SystemTime,
    ) -> Result<(), StorageError> {
        self.visible(path)?;
        self.inner.set_modified(path, modified).await
    }

    async fn space(&self) -> Result<Option<SpaceInfo>, StorageError> {
        self.inner.space().await
    }
}
