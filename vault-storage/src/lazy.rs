//! A storage whose connection is made in the background: the offline start of a mount
//! (`--cache=metadata` with the server unreachable). Until the backend is connected every call
//! fails at once with `Unavailable` (the metadata cache in front of it then answers from what it
//! knows); the connect is retried with a growing pause until it succeeds, and from then on every
//! call goes to the connected backend, which reconnects on its own after a dropped link.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{
    Body, Capabilities, DirEntry, Metadata, RenameMode, SpaceInfo, Storage, StorageError,
    StorageErrorKind, StoragePath, WriteMode,
};

/// One connect attempt: the backend, or why not (for the log).
pub type Connecting =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Arc<dyn Storage>, String>> + Send>>;

/// Makes a new connect attempt.
pub type Reconnect = Box<dyn Fn() -> Connecting + Send + Sync>;

/// First pause between attempts; doubled up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// Longest pause between attempts.
const MAX_PAUSE: Duration = Duration::from_secs(30);
/// An attempt that has not finished by then is abandoned (a server dropping packets).
pub const ATTEMPT_LIMIT: Duration = Duration::from_secs(30);

/// See the module docs.
pub struct LazyStorage {
    slot: Arc<OnceLock<Arc<dyn Storage>>>,
    describe: String,
    /// What is assumed until the backend is connected: nothing beyond whole-object writes.
    offline_caps: Capabilities,
    connected: tokio::sync::watch::Receiver<bool>,
}

impl LazyStorage {
    /// Starts connecting in the background: `first` (an attempt already under way), then
    /// `reconnect` attempts until one succeeds. Needs a tokio runtime.
    pub fn spawn(describe: String, first: Connecting, reconnect: Reconnect) -> LazyStorage {
        Self::spawn_with_limit(describe, first, reconnect, Some(ATTEMPT_LIMIT))
    }

    /// [`LazyStorage::spawn`] with each attempt abandoned after `limit`; `None` for a backend
    /// that bounds its own network waits and whose login may wait for a person (an SFTP
    /// reconnect asking for a TOTP code): cutting it would throw the answer away.
    pub fn spawn_with_limit(
        describe: String,
        first: Connecting,
        reconnect: Reconnect,
        limit: Option<Duration>,
    ) -> LazyStorage {
        let slot: Arc<OnceLock<Arc<dyn Storage>>> = Arc::new(OnceLock::new());
        let (tx, rx) = tokio::sync::watch::channel(false);
        let s = slot.clone();
        let shown = describe.clone();
        tokio::spawn(async move {
            let mut attempt = first;
            let mut pause = FIRST_PAUSE;
            loop {
                let outcome = match limit {
                    Some(limit) => tokio::time::timeout(limit, attempt).await,
                    None => Ok(attempt.await),
                };
                match outcome {
                    Ok(Ok(storage)) => {
                        tracing::warn!(storage = %shown, "storage reachable again: connected (was offline)");
                        let _ = s.set(storage);
                        let _ = tx.send(true);
                        return;
                    }
                    Ok(Err(e)) => {
                        tracing::info!(storage = %shown, error = %e, "storage still unreachable")
                    }
                    Err(_) => {
                        tracing::info!(storage = %shown, "storage still unreachable (no answer)")
                    }
                }
                if tx.is_closed() && Arc::strong_count(&s) == 1 {
                    return;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
                attempt = reconnect();
            }
        });
        LazyStorage {
            slot,
            describe,
            offline_caps: Capabilities {
                random_write: false,
                atomic_replace: false,
                max_name_len: 220,
                set_modified: false,
                // Unknown until connected: the engine then takes the repairable order.
                atomic_dir_rename: false,
            },
            connected: rx,
        }
    }

    /// Turns true once the backend is connected.
    pub fn connected(&self) -> tokio::sync::watch::Receiver<bool> {
        self.connected.clone()
    }

    fn get(&self, path: &StoragePath) -> Result<&Arc<dyn Storage>, StorageError> {
        self.slot.get().ok_or_else(|| {
            StorageError::with_source(
                StorageErrorKind::Unavailable,
                path,
                "not connected (started offline)",
            )
        })
    }

    /// [`Self::get`] for reads of file content: a failure is logged with the ciphertext path,
    /// so that a read the cache cannot answer offline is explained in the log.
    fn get_read(&self, path: &StoragePath) -> Result<&Arc<dyn Storage>, StorageError> {
        self.get(path).inspect_err(|_| {
            // The vault's key files at the root are answered from the cache; file contents
            // (always below the root) are not, and fail.
            if path.parent().is_some_and(|p| p.is_root()) {
                tracing::debug!(path = %path.as_str(), "offline: read not sent");
            } else {
                tracing::warn!(path = %path.as_str(), "offline: not in the cache, read refused (EIO)");
            }
        })
    }
}

#[async_trait]
impl Storage for LazyStorage {
    fn capabilities(&self) -> Capabilities {
        self.slot
            .get()
            .map_or(self.offline_caps, |s| s.capabilities())
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn sends_nothing(&self) -> bool {
        // Never unset once connected: true before and after a call means it went nowhere.
        self.slot.get().is_none()
    }

    async fn metadata(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        self.get(path)?.metadata(path).await
    }

    async fn metadata_uncached(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        self.get(path)?.metadata_uncached(path).await
    }

    async fn list_dir(&self, path: &StoragePath) -> Result<Vec<DirEntry>, StorageError> {
        self.get(path)?.list_dir(path).await
    }

    async fn list_dir_in_one_request(
        &self,
        path: &StoragePath,
    ) -> Result<Option<Vec<DirEntry>>, StorageError> {
        self.get(path)?.list_dir_in_one_request(path).await
    }

    async fn read_at(
        &self,
        path: &StoragePath,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, StorageError> {
        self.get_read(path)?.read_at(path, offset, len).await
    }

    async fn read_all(&self, path: &StoragePath) -> Result<Bytes, StorageError> {
        self.get_read(path)?.read_all(path).await
    }

    async fn write(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        self.get(path)?.write(path, body, mode).await
    }

    async fn write_at(
        &self,
        path: &StoragePath,
        offset: u64,
        data: Bytes,
    ) -> Result<(), StorageError> {
        self.get(path)?.write_at(path, offset, data).await
    }

    async fn set_len(&self, path: &StoragePath, len: u64) -> Result<(), StorageError> {
        self.get(path)?.set_len(path, len).await
    }

    async fn sync(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.get(path)?.sync(path).await
    }

    async fn write_nosync(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        self.get(path)?.write_nosync(path, body, mode).await
    }

    async fn rename_nosync(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        self.get(from)?.rename_nosync(from, to, mode).await
    }

    async fn sync_entry(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.get(path)?.sync_entry(path).await
    }

    async fn sync_all(&self) -> Result<(), StorageError> {
        match self.slot.get() {
            Some(s) => s.sync_all().await,
            None => Ok(()),
        }
    }

    async fn create_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.get(path)?.create_dir(path).await
    }

    async fn remove_file(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.get(path)?.remove_file(path).await
    }

    async fn remove_listed_file(
        &self,
        path: &StoragePath,
        listed: &Metadata,
    ) -> Result<(), StorageError> {
        self.get(path)?.remove_listed_file(path, listed).await
    }

    async fn remove_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.get(path)?.remove_dir(path).await
    }

    async fn rename(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        self.get(from)?.rename(from, to, mode).await
    }

    async fn remove_dir_all(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.get(path)?.remove_dir_all(path).await
    }

    async fn set_modified(
        &self,
        path: &StoragePath,
        modified: SystemTime,
    ) -> Result<(), StorageError> {
        self.get(path)?.set_modified(path, modified).await
    }

    async fn space(&self) -> Result<Option<SpaceInfo>, StorageError> {
        match self.slot.get() {
            Some(s) => s.space().await,
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStorage;
    use crate::cached::{CacheOptions, CachedStorage, REVALIDATE_WAIT, Store};

    fn p(s: &str) -> StoragePath {
        StoragePath::new(s).unwrap()
    }

    fn names(v: &[DirEntry]) -> Vec<String> {
        let mut n: Vec<String> = v.iter().map(|e| e.name.clone()).collect();
        n.sort();
        n
    }

    const OPTS: CacheOptions = CacheOptions {
        ttl: Duration::from_millis(0),
        revalidate_wait: REVALIDATE_WAIT,
    };

    /// The offline start's stack: a persistent cache over a storage still connecting. A write
    /// that fails because nothing was sent keeps the cached listing (it used to forget it, and
    /// the folder then failed with EIO); once connected, calls reach the server.
    #[tokio::test]
    async fn offline_write_keeps_the_listing_and_the_connect_takes_over() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        let mem = Arc::new(MemoryStorage::new());
        mem.create_dir(&p("d")).await.unwrap();
        mem.write(
            &p("d/a.c9r"),
            Body::from_bytes(&b"0123"[..]),
            WriteMode::CreateNew,
        )
        .await
        .unwrap();
        {
            let online = CachedStorage::persistent(mem.clone(), OPTS, Store::open(&dir).unwrap());
            online.list_dir(&p("d")).await.unwrap();
            online.release_store();
            // Released: the next mount takes the lock while this one still exists.
            let next = Store::open(&dir).unwrap();
            drop(next);
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let backend: Arc<dyn Storage> = mem.clone();
        let first: Connecting = Box::pin(async move {
            let _ = rx.await;
            Ok(backend)
        });
        let never: Reconnect = Box::new(|| Box::pin(std::future::pending()));
        let lazy = Arc::new(LazyStorage::spawn("test".into(), first, never));
        let mut connected = lazy.connected();
        assert!(lazy.sends_nothing());
        let c = CachedStorage::persistent(lazy.clone(), OPTS, Store::open(&dir).unwrap());
        assert_eq!(names(&c.list_dir(&p("d")).await.unwrap()), ["a.c9r"]);
        let e = c
            .write(
                &p("d/b.c9r"),
                Body::from_bytes(&b"x"[..]),
                WriteMode::CreateNew,
            )
            .await
            .unwrap_err();
        assert_eq!(e.kind(), StorageErrorKind::Unavailable);
        let e = c.read_at(&p("d/a.c9r"), 0, 4096).await.unwrap_err();
        assert_eq!(e.kind(), StorageErrorKind::Unavailable);
        assert_eq!(names(&c.list_dir(&p("d")).await.unwrap()), ["a.c9r"]);
        assert!(mem.metadata(&p("d/b.c9r")).await.is_err());

        tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), connected.wait_for(|c| *c))
            .await
            .unwrap()
            .unwrap();
        assert!(!c.sends_nothing());
        c.write(
            &p("d/b.c9r"),
            Body::from_bytes(&b"x"[..]),
            WriteMode::CreateNew,
        )
        .await
        .unwrap();
        assert_eq!(
            &c.read_at(&p("d/a.c9r"), 0, 4096).await.unwrap()[..],
            b"0123"
        );
        assert_eq!(
            names(&c.list_dir(&p("d")).await.unwrap()),
            ["a.c9r", "b.c9r"]
        );
    }
}
