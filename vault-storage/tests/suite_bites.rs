//! The conformance suite catches broken backends: a wrapper around
//! `MemoryStorage` with one deliberate bug each must fail the test that
//! names that behaviour (and pass the control run without bugs).

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use vault_storage::conformance::{Quirks, run_one};
use vault_storage::{
    Body, Capabilities, DirEntry, MemoryStorage, Metadata, RenameMode, SpaceInfo, Storage,
    StorageError, StorageErrorKind, StoragePath, WriteMode,
};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Bug {
    None,
    /// Overwrite truncates and then writes in pieces (what a naive PUT-in-place does).
    NonAtomicWrite,
    /// CreateNew silently overwrites.
    CreateNewClobbers,
    /// NoReplace renames replace.
    RenameAlwaysReplaces,
    /// remove_file deletes folders too (WebDAV DELETE without a check).
    RemoveFileTakesFolders,
    /// NotEmpty reported as Other.
    NotEmptyIsOther,
    /// Listing reports folders with a size.
    FolderSizes,
    /// A short read in the middle of an object.
    ShortReads,
}

struct Broken {
    inner: MemoryStorage,
    bug: Bug,
}

#[async_trait]
impl Storage for Broken {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn describe(&self) -> String {
        format!("broken memory storage ({:?})", self.bug)
    }
    async fn metadata(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        self.inner.metadata(path).await
    }
    async fn list_dir(&self, path: &StoragePath) -> Result<Vec<DirEntry>, StorageError> {
        let mut entries = self.inner.list_dir(path).await?;
        if self.bug == Bug::FolderSizes {
            for e in &mut entries {
                if e.metadata.kind == vault_storage::EntryKind::Dir {
                    e.metadata.size = 4096;
                }
            }
        }
        Ok(entries)
    }
    async fn read_at(
        &self,
        path: &StoragePath,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, StorageError> {
        let bytes = self.inner.read_at(path, offset, len).await?;
        if self.bug == Bug::ShortReads && bytes.len() > 1 {
            return Ok(bytes.slice(..bytes.len() - 1));
        }
        Ok(bytes)
    }
    async fn write(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        match self.bug {
            Bug::CreateNewClobbers => self.inner.write(path, body, WriteMode::Overwrite).await,
            Bug::NonAtomicWrite if mode == WriteMode::Overwrite => {
                let data = body
                    .into_bytes()
                    .await
                    .map_err(|e| StorageError::with_source(StorageErrorKind::Other, path, e))?;
                self.inner
                    .write(path, Body::from_bytes(Bytes::new()), WriteMode::Overwrite)
                    .await?;
                for (i, piece) in data.chunks(256 * 1024).enumerate() {
                    tokio::task::yield_now().await;
                    self.inner
                        .write_at(path, (i * 256 * 1024) as u64, Bytes::copy_from_slice(piece))
                        .await?;
                }
                Ok(())
            }
            _ => self.inner.write(path, body, mode).await,
        }
    }
    async fn write_at(
        &self,
        path: &StoragePath,
        offset: u64,
        data: Bytes,
    ) -> Result<(), StorageError> {
        self.inner.write_at(path, offset, data).await
    }
    async fn set_len(&self, path: &StoragePath, len: u64) -> Result<(), StorageError> {
        self.inner.set_len(path, len).await
    }
    async fn sync(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.inner.sync(path).await
    }
    async fn create_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.inner.create_dir(path).await
    }
    async fn remove_file(&self, path: &StoragePath) -> Result<(), StorageError> {
        if self.bug == Bug::RemoveFileTakesFolders
            && let Ok(m) = self.inner.metadata(path).await
            && m.kind == vault_storage::EntryKind::Dir
        {
            return self.inner.remove_dir_all(path).await;
        }
        self.inner.remove_file(path).await
    }
    async fn remove_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        match self.inner.remove_dir(path).await {
            Err(e)
                if self.bug == Bug::NotEmptyIsOther && e.kind() == StorageErrorKind::NotEmpty =>
            {
                Err(StorageError::new(StorageErrorKind::Other, path.clone()))
            }
            other => other,
        }
    }
    async fn rename(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        let mode = if self.bug == Bug::RenameAlwaysReplaces {
            RenameMode::Replace
        } else {
            mode
        };
        self.inner.rename(from, to, mode).await
    }
    async fn remove_dir_all(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.inner.remove_dir_all(path).await
    }
    async fn set_modified(
        &self,
        path: &StoragePath,
        modified: SystemTime,
    ) -> Result<(), StorageError> {
        self.inner.set_modified(path, modified).await
    }
    async fn space(&self) -> Result<Option<SpaceInfo>, StorageError> {
        self.inner.space().await
    }
}

/// Runs conformance test `test` against a backend with `bug`; true if it passed.
async fn passes(test: &'static str, bug: Bug) -> bool {
    let storage: Arc<dyn Storage> = Arc::new(Broken {
        inner: MemoryStorage::new(),
        bug,
    });
    match tokio::spawn(run_one(test, storage, Quirks::default())).await {
        Ok(()) => true,
        Err(e) if e.is_panic() => false,
        Err(e) => panic!("{test}: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bug_fails_its_test_and_the_control_passes() {
    for (test, bug) in [
        ("atomic_overwrite", Bug::NonAtomicWrite),
        ("already_exists", Bug::CreateNewClobbers),
        ("create_new_race", Bug::CreateNewClobbers),
        ("rename_files", Bug::RenameAlwaysReplaces),
        ("rename_dirs", Bug::RenameAlwaysReplaces),
        ("wrong_kind", Bug::RemoveFileTakesFolders),
        ("not_empty", Bug::NotEmptyIsOther),
        ("list_dir_metadata", Bug::FolderSizes),
        ("read_ranges", Bug::ShortReads),
        ("big_object", Bug::ShortReads),
    ] {
        assert!(
            passes(test, Bug::None).await,
            "{test} passes without the bug"
        );
        assert!(!passes(test, bug).await, "{test} catches {bug:?}");
    }
}
