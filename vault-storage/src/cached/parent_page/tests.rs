//! Lookups answered from a one-request listing of the parent, over memory storage that
//! offers such listings for folders of at most `limit` entries.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;

use crate::cached::{CacheOptions, CachedStorage, REVALIDATE_WAIT};
use crate::{
    Body, Capabilities, DirEntry, MemoryStorage, Metadata, RenameMode, Storage, StorageError,
    StorageErrorKind, StoragePath, WriteMode,
};

fn p(s: &str) -> StoragePath {
    StoragePath::new(s).unwrap()
}

/// Memory storage whose folders of at most `limit` entries list in one request.
struct OnePage {
    mem: Arc<MemoryStorage>,
    limit: usize,
    pages: AtomicU64,
}

#[async_trait]
impl Storage for OnePage {
    fn capabilities(&self) -> Capabilities {
        self.mem.capabilities()
    }
    fn describe(&self) -> String {
        "one-page memory".into()
    }
    async fn metadata(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        self.mem.metadata(path).await
    }
    async fn list_dir(&self, path: &StoragePath) -> Result<Vec<DirEntry>, StorageError> {
        self.mem.list_dir(path).await
    }
    async fn list_dir_in_one_request(
        &self,
        path: &StoragePath,
    ) -> Result<Option<Vec<DirEntry>>, StorageError> {
        self.pages.fetch_add(1, Ordering::SeqCst);
        let v = self.mem.list_dir(path).await?;
        Ok((v.len() <= self.limit).then_some(v))
    }
    async fn read_at(&self, path: &StoragePath, o: u64, l: usize) -> Result<Bytes, StorageError> {
        self.mem.read_at(path, o, l).await
    }
    async fn write(&self, path: &StoragePath, b: Body, m: WriteMode) -> Result<(), StorageError> {
        self.mem.write(path, b, m).await
    }
    async fn write_at(&self, path: &StoragePath, o: u64, d: Bytes) -> Result<(), StorageError> {
        self.mem.write_at(path, o, d).await
    }
    async fn set_len(&self, path: &StoragePath, len: u64) -> Result<(), StorageError> {
        self.mem.set_len(path, len).await
    }
    async fn sync(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.mem.sync(path).await
    }
    async fn create_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.mem.create_dir(path).await
    }
    async fn remove_file(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.mem.remove_file(path).await
    }
    async fn remove_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.mem.remove_dir(path).await
    }
    async fn rename(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        self.mem.rename(from, to, mode).await
    }
    async fn set_modified(&self, path: &StoragePath, t: SystemTime) -> Result<(), StorageError> {
        self.mem.set_modified(path, t).await
    }
}

async fn setup(files: usize, limit: usize) -> (Arc<OnePage>, CachedStorage) {
    let mem = Arc::new(MemoryStorage::new());
    mem.create_dir(&p("d")).await.unwrap();
    for i in 0..files {
        let body = Body::from_bytes(vec![b'x'; i + 1]);
        mem.write(&p(&format!("d/f{i}.c9r")), body, WriteMode::CreateNew)
            .await
            .unwrap();
    }
    mem.reset_calls();
    let inner = Arc::new(OnePage {
        mem,
        limit,
        pages: AtomicU64::new(0),
    });
    let options = CacheOptions {
        ttl: Duration::from_secs(60),
        revalidate_wait: REVALIDATE_WAIT,
    };
    let cached = CachedStorage::new(inner.clone(), options);
    (inner, cached)
}

#[tokio::test]
async fn lookups_in_an_unlisted_folder_cost_one_listing() {
    let (inner, c) = setup(5, 10).await;
    for i in 0..5 {
        let m = c.metadata(&p(&format!("d/f{i}.c9r"))).await.unwrap();
        assert_eq!(m.size, i as u64 + 1);
    }
    let e = c.metadata(&p("d/none.c9r")).await.unwrap_err();
    assert_eq!(e.kind(), StorageErrorKind::NotFound);
    assert_eq!(inner.pages.load(Ordering::SeqCst), 1);
    assert_eq!(inner.mem.calls("metadata"), 0);
    // The listing is kept as the folder's: `list_dir` costs nothing either.
    assert_eq!(c.list_dir(&p("d")).await.unwrap().len(), 5);
    assert_eq!(inner.mem.calls("list_dir"), 1, "only the one-page listing");
    // A temp name is never taken as absent from a listing: asked itself.
    let e = c.metadata(&p("d/.vault-tmp-x")).await.unwrap_err();
    assert_eq!(e.kind(), StorageErrorKind::NotFound);
    assert_eq!(inner.mem.calls("metadata"), 1);
}

#[tokio::test]
async fn a_big_folder_is_probed_per_name_after_one_try() {
    let (inner, c) = setup(5, 3).await;
    for i in 0..5 {
        let m = c.metadata(&p(&format!("d/f{i}.c9r"))).await.unwrap();
        assert_eq!(m.size, i as u64 + 1);
    }
    assert_eq!(inner.pages.load(Ordering::SeqCst), 1);
    assert_eq!(inner.mem.calls("metadata"), 5);
}

#[tokio::test]
async fn a_folder_we_write_into_is_probed_per_name() {
    let (inner, c) = setup(2, 10).await;
    c.write(
        &p("d/new.c9r"),
        Body::from_bytes(&b"n"[..]),
        WriteMode::CreateNew,
    )
    .await
    .unwrap();
    // Our write shows, and the folder it went to is not listed at each look.
    assert_eq!(c.metadata(&p("d/new.c9r")).await.unwrap().size, 1);
    assert_eq!(c.metadata(&p("d/f0.c9r")).await.unwrap().size, 1);
    assert_eq!(inner.pages.load(Ordering::SeqCst), 0);
    assert_eq!(inner.mem.calls("metadata"), 2);
}

#[tokio::test]
async fn a_missing_folder_gives_not_found() {
    let (_inner, c) = setup(1, 10).await;
    let e = c.metadata(&p("gone/x.c9r")).await.unwrap_err();
    assert_eq!(e.kind(), StorageErrorKind::NotFound);
}

#[tokio::test]
async fn an_older_answer_of_the_name_itself_does_not_stop_the_listing() {
    // TTL zero: every answer is old at once (as the persisted ones of a remount are).
    let (inner, _) = setup(3, 10).await;
    let options = CacheOptions {
        ttl: Duration::ZERO,
        revalidate_wait: REVALIDATE_WAIT,
    };
    let c = CachedStorage::new(inner.clone(), options);
    for _ in 0..2 {
        for i in 0..3 {
            let m = c.metadata(&p(&format!("d/f{i}.c9r"))).await.unwrap();
            assert_eq!(m.size, i as u64 + 1);
        }
    }
    assert_eq!(
        inner.pages.load(Ordering::SeqCst),
        6,
        "one listing per lookup"
    );
    assert_eq!(inner.mem.calls("metadata"), 0, "never a second request");
}

#[tokio::test]
async fn with_the_server_away_an_older_answer_of_the_name_is_served_at_once() {
    // Five entries, one-request listings of at most 3: the name is probed and kept.
    let (inner, _) = setup(5, 3).await;
    let options = CacheOptions {
        ttl: Duration::ZERO,
        revalidate_wait: REVALIDATE_WAIT,
    };
    let c = CachedStorage::new(inner.clone(), options);
    assert_eq!(c.metadata(&p("d/f1.c9r")).await.unwrap().size, 2);
    assert_eq!(inner.mem.calls("metadata"), 1);
    // Folder no longer known as too big (a remount), server away: the older answer, at once.
    c.shared.lock().paged.clear();
    inner.mem.set_unavailable(true);
    let t = std::time::Instant::now();
    assert_eq!(c.metadata(&p("d/f1.c9r")).await.unwrap().size, 2);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}
