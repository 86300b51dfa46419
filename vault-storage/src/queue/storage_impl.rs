//! [`Storage`] for [`QueuedStorage`]: mutations are checked against the queued view and
//! journaled; reads see the queued view. Without a journal, everything passes through.

use super::*;

impl QueuedStorage {
    /// Optimistic where the storage cannot be asked (offline): the worker finds out later.
    async fn lookup_or_unknown(
        &self,
        path: &StoragePath,
    ) -> Result<Option<Option<Metadata>>, StorageError> {
        match self.lookup_bounded(path).await {
            Ok(found) => Ok(Some(found.map(|(m, _)| m))),
            Err(e) if e.kind() == StorageErrorKind::Unavailable => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn must_exist(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        self.lookup(path)
            .await?
            .map(|(m, _)| m)
            .ok_or_else(|| err(StorageErrorKind::NotFound, path))
    }
}

#[async_trait]
impl Storage for QueuedStorage {
    fn capabilities(&self) -> Capabilities {
        // Whole-object writes only: each is one journaled op and one atomic upload.
        Capabilities {
            random_write: false,
            set_modified: false,
            ..self.inner().capabilities()
        }
    }

    fn describe(&self) -> String {
        self.inner().describe()
    }

    fn sends_nothing(&self) -> bool {
        self.inner().sends_nothing()
    }

    async fn metadata(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        if !self.attached() {
            return self.inner().metadata(path).await;
        }
        self.must_exist(path).await
    }

    async fn list_dir(&self, path: &StoragePath) -> Result<Vec<DirEntry>, StorageError> {
        if !self.attached() {
            return self.inner().list_dir(path).await;
        }
        self.list_view(path).await
    }

    async fn read_at(
        &self,
        path: &StoragePath,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, StorageError> {
        if !self.attached() {
            return self.inner().read_at(path, offset, len).await;
        }
        self.read_view(path, offset, len).await
    }

    async fn write(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        if !self.attached() {
            return self.inner().write(path, body, mode).await;
        }
        self.queue_write(path, body, mode).await
    }

    async fn write_nosync(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        if !self.attached() {
            return self.inner().write_nosync(path, body, mode).await;
        }
        self.queue_write(path, body, mode).await
    }

    async fn write_at(
        &self,
        path: &StoragePath,
        offset: u64,
        data: Bytes,
    ) -> Result<(), StorageError> {
        if !self.attached() {
            return self.inner().write_at(path, offset, data).await;
        }
        Err(err(StorageErrorKind::Unsupported, path))
    }

    async fn set_len(&self, path: &StoragePath, len: u64) -> Result<(), StorageError> {
        if !self.attached() {
            return self.inner().set_len(path, len).await;
        }
        Err(err(StorageErrorKind::Unsupported, path))
    }

    async fn sync(&self, path: &StoragePath) -> Result<(), StorageError> {
        if !self.attached() {
            return self.inner().sync(path).await;
        }
        // Every journaled op is durable when it returns.
        Ok(())
    }

    async fn sync_entry(&self, path: &StoragePath) -> Result<(), StorageError> {
        if !self.attached() {
            return self.inner().sync_entry(path).await;
        }
        Ok(())
    }

    async fn sync_all(&self) -> Result<(), StorageError> {
        if !self.attached() {
            return self.inner().sync_all().await;
        }
        Ok(())
    }

    async fn create_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        if !self.attached() {
            return self.inner().create_dir(path).await;
        }
        let _g = self.shared.enqueue.lock().await;
        let known = self.lookup_or_unknown(path).await?;
        if let Some(Some(_)) = known {
            return Err(err(StorageErrorKind::AlreadyExists, path));
        }
        self.check_parent(path).await?;
        let op = OpKind::CreateDir {
            path: path.as_str().into(),
            maybe_exists: known.is_none(),
        };
        if known.is_none() {
            self.shared.lock().seen.assume_empty(path.as_str());
        }
        self.queue_simple(path, op).await
    }

    async fn remove_file(&self, path: &StoragePath) -> Result<(), StorageError> {
        if !self.attached() {
            return self.inner().remove_file(path).await;
        }
        let _g = self.shared.enqueue.lock().await;
        if self.must_exist(path).await?.kind == EntryKind::Dir {
            return Err(err(StorageErrorKind::IsADirectory, path));
        }
        let op = OpKind::RemoveFile {
            path: path.as_str().into(),
        };
        self.queue_simple(path, op).await
    }

    async fn remove_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        if !self.attached() {
            return self.inner().remove_dir(path).await;
        }
        let _g = self.shared.enqueue.lock().await;
        if path.is_root() {
            return Err(err(StorageErrorKind::PermissionDenied, path));
        }
        if self.must_exist(path).await?.kind != EntryKind::Dir {
            return Err(err(StorageErrorKind::NotADirectory, path));
        }
        if !self.list_view(path).await?.is_empty() {
            return Err(err(StorageErrorKind::NotEmpty, path));
        }
        let op = OpKind::RemoveDir {
            path: path.as_str().into(),
        };
        self.queue_simple(path, op).await
    }

    async fn remove_dir_all(&self, path: &StoragePath) -> Result<(), StorageError> {
        if !self.attached() {
            return self.inner().remove_dir_all(path).await;
        }
        let _g = self.shared.enqueue.lock().await;
        if path.is_root() {
            return Err(err(StorageErrorKind::PermissionDenied, path));
        }
        if self.must_exist(path).await?.kind != EntryKind::Dir {
            return Err(err(StorageErrorKind::NotADirectory, path));
        }
        let op = OpKind::RemoveDirAll {
            path: path.as_str().into(),
        };
        self.queue_simple(path, op).await
    }

    async fn rename(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        if !self.attached() {
            return self.inner().rename(from, to, mode).await;
        }
        let _g = self.shared.enqueue.lock().await;
        if from.is_root() || to.is_root() || overlay::under(to.as_str(), from.as_str()) {
            if from == to {
                return Ok(());
            }
            return Err(err(StorageErrorKind::InvalidPath, to));
        }
        let source = self.must_exist(from).await?;
        match self.lookup(to).await? {
            Some(_) if mode == RenameMode::NoReplace => {
                return Err(err(StorageErrorKind::AlreadyExists, to));
            }
            Some((m, _)) if m.kind == EntryKind::Dir || source.kind == EntryKind::Dir => {
                return Err(err(StorageErrorKind::AlreadyExists, to));
            }
            Some(_) => {}
            None => self.check_parent(to).await?,
        }
        let op = OpKind::Rename {
            from: from.as_str().into(),
            to: to.as_str().into(),
            replace: mode == RenameMode::Replace,
        };
        self.queue_simple(from, op).await
    }

    async fn rename_nosync(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        if !self.attached() {
            return self.inner().rename_nosync(from, to, mode).await;
        }
        self.rename(from, to, mode).await
    }

    async fn set_modified(
        &self,
        path: &StoragePath,
        modified: SystemTime,
    ) -> Result<(), StorageError> {
        if !self.attached() {
            return self.inner().set_modified(path, modified).await;
        }
        Err(err(StorageErrorKind::Unsupported, path))
    }

    async fn space(&self) -> Result<Option<SpaceInfo>, StorageError> {
        self.inner().space().await
    }
}
