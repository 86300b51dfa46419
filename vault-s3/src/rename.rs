//! `rename` as copy + delete. Not atomic (declared in `Capabilities`): a
//! crash between the copy and the delete leaves both names holding the same
//! bytes, never neither.
//!
//! A file renamed without replacing, if small enough to hold in memory, is
//! read and written with the same conditional put as `write(CreateNew)`, so
//! of two racing renames onto one name exactly one wins. Larger files and
//! `Replace` use server-side `CopyObject` (up to 5 GiB).

use vault_storage::{
    Body, EntryKind, RenameMode, StorageError, StorageErrorKind as K, StoragePath, WriteMode,
};

use crate::{S3Storage, err};

/// Objects copied at the same time during a folder rename.
const COPY_CONCURRENCY: usize = 8;

impl S3Storage {
    pub(crate) async fn move_path(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        if from.is_root() || to.is_root() {
            return Err(err(K::InvalidPath, from));
        }
        let Some(source) = self.probe(from).await? else {
            return Err(err(K::NotFound, from));
        };
        if from == to {
            return Ok(());
        }
        self.need_parent(to).await?;
        let target = self.probe(to).await?;
        match source.kind {
            EntryKind::File => {
                self.move_file(from, to, source.size, target.map(|t| t.kind), mode)
                    .await
            }
            EntryKind::Dir => self.move_dir(from, to, target.map(|t| t.kind), mode).await,
        }
    }

    async fn move_file(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        size: u64,
        target: Option<EntryKind>,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        match (target, mode) {
            (Some(EntryKind::Dir), RenameMode::Replace) => return Err(err(K::IsADirectory, to)),
            (Some(_), RenameMode::NoReplace) => return Err(err(K::AlreadyExists, to)),
            _ => {}
        }
        let (from_key, to_key) = (self.key(from), self.key(to));
        if mode == RenameMode::NoReplace && size <= self.plan.threshold {
            let data = self.read_all_object(from).await?;
            self.write_body(to, Body::from_bytes(data), WriteMode::CreateNew)
                .await?;
        } else {
            self.ops
                .copy(&from_key, &to_key)
                .await
                .map_err(|f| self.fail(f, to))?;
        }
        self.ops
            .delete(&from_key)
            .await
            .map_err(|f| self.fail(f, from))
    }

    async fn read_all_object(&self, path: &StoragePath) -> Result<bytes::Bytes, StorageError> {
        use vault_storage::Storage;
        self.read_all(path).await
    }

    async fn move_dir(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        target: Option<EntryKind>,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        if to.as_str().starts_with(&format!("{}/", from.as_str())) {
            return Err(err(K::InvalidPath, to));
        }
        match (target, mode) {
            (Some(_), RenameMode::NoReplace) => return Err(err(K::AlreadyExists, to)),
            (Some(EntryKind::File), RenameMode::Replace) => return Err(err(K::NotADirectory, to)),
            (Some(EntryKind::Dir), RenameMode::Replace) => {
                // Like rename(2): only an empty folder may be replaced.
                self.remove_folder(to, false).await?;
            }
            (None, _) => {}
        }
        let (from_prefix, to_prefix) = (self.dir_prefix(from), self.dir_prefix(to));
        let keys = self.keys_below(from).await?;
        for batch in keys.chunks(COPY_CONCURRENCY) {
            let mut copies = Vec::with_capacity(batch.len());
            for (key, _) in batch {
                let target = format!("{to_prefix}{}", &key[from_prefix.len().min(key.len())..]);
                copies.push(self.copy_key(key, target));
            }
            for result in futures::future::join_all(copies).await {
                result.map_err(|f| self.fail(f, to))?;
            }
        }
        self.delete_keys(from, keys.into_iter().map(|(k, _)| k).collect())
            .await
    }

    /// Copies one key of a folder; a marker becomes a fresh empty marker
    /// (copying a store's real folder may fail).
    async fn copy_key(&self, key: &str, target: String) -> Result<(), crate::http::Failure> {
        if key.ends_with('/') {
            let id = crate::upload::new_write_id();
            self.ops
                .put(&target, bytes::Bytes::new(), false, &id)
                .await
                .map(|_| ())
        } else {
            self.ops.copy(key, &target).await
        }
    }
}
