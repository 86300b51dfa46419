//! `check --repair` beside a client that is building a node: a shortened node folder that
//! holds only its `name.c9s` looks like a cut creation's leftover, and the repair removes such
//! folders. If the other client's last step (its own file moved in) lands between the repair's
//! look and its removal, the repair must not take the file with the folder.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use common::*;
use vault_engine::check::{NoProgress, check};
use vault_storage::{
    Body, Capabilities, DirEntry, MemoryStorage, Metadata, RenameMode, Storage, StorageError,
    StoragePath, WriteMode,
};

/// A memory storage that, right after answering the second listing of `node` (the check's
/// scan lists it first, then the repair once more before removing it), puts `contents`
/// there: another client's move landing just then.
struct Racing {
    inner: Arc<MemoryStorage>,
    node: Mutex<Option<(StoragePath, Bytes)>>,
    listings: AtomicUsize,
    landed: AtomicBool,
}

#[async_trait]
impl Storage for Racing {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn describe(&self) -> String {
        "racing memory storage".into()
    }
    async fn metadata(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        self.inner.metadata(path).await
    }
    async fn list_dir(&self, path: &StoragePath) -> Result<Vec<DirEntry>, StorageError> {
        let entries = self.inner.list_dir(path).await?;
        let armed = self.node.lock().expect("lock").clone();
        if let Some((node, contents)) = armed
            && &node == path
            && self.listings.fetch_add(1, Ordering::SeqCst) == 1
        {
            *self.node.lock().expect("lock") = None;
            let file = node.join("contents.c9r").expect("join");
            self.inner
                .write(&file, Body::from_bytes(contents), WriteMode::CreateNew)
                .await
                .expect("the other client's move");
            self.landed.store(true, Ordering::SeqCst);
        }
        Ok(entries)
    }
    async fn read_at(
        &self,
        path: &StoragePath,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, StorageError> {
        self.inner.read_at(path, offset, len).await
    }
    async fn write(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        self.inner.write(path, body, mode).await
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
        self.inner.remove_file(path).await
    }
    async fn remove_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.inner.remove_dir(path).await
    }
    async fn rename(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        self.inner.rename(from, to, mode).await
    }
}

#[tokio::test]
async fn a_node_completed_while_the_repair_looks_keeps_its_file() {
    let inner = Arc::new(MemoryStorage::new());
    let racing = Arc::new(Racing {
        inner: Arc::clone(&inner),
        node: Mutex::new(None),
        listings: AtomicUsize::new(0),
        landed: AtomicBool::new(false),
    });
    let vault = vault_engine::Vault::create(racing.clone(), "pw", small_cost())
        .await
        .expect("create");
    let long = "l".repeat(200); // shortened: NAME.c9s/{name.c9s, contents.c9r}
    let staged = vault.stager().stage_bytes(b"the other client's file");
    let node = vault
        .create_file_staged_nosync(&vault.root(), &long, &staged)
        .await
        .expect("create");
    assert!(node.storage_path.ends_with(".c9s"), "{}", node.storage_path);
    vault.flush_all().await.expect("flush");
    // The other client has made the folder and its name.c9s; its file is still on the way.
    let folder = StoragePath::new(&node.storage_path).expect("path");
    let file = folder.join("contents.c9r").expect("join");
    let contents = inner.read_all(&file).await.expect("read");
    inner.remove_file(&file).await.expect("take the file out");
    *racing.node.lock().expect("lock") = Some((folder.clone(), contents));

    let fresh = reopen(racing.clone(), false).await;
    let report = check(&fresh, true, &NoProgress).await.expect("repair");
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.storage_path == node.storage_path && !p.repaired),
        "the repair saw the half-built node and left it: {:#?}",
        report.problems
    );
    assert!(
        racing.landed.load(Ordering::SeqCst),
        "the repair never listed the folder (the test no longer races what it names)"
    );

    let fresh = reopen(racing.clone(), false).await;
    let node = fresh
        .resolve(&format!("/{long}"))
        .await
        .expect("the node is still there");
    let f = fresh.open(&node).await.expect("open");
    assert_eq!(
        f.read(0, 100).await.expect("read").as_slice(),
        b"the other client's file"
    );
    let report = check(&fresh, false, &NoProgress).await.expect("check");
    assert_eq!(report.remaining().count(), 0, "{:#?}", report.problems);
}
