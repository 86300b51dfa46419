//! The storage conformance suite against the local-folder and in-memory backends.

use std::sync::Arc;

use vault_storage::conformance::Quirks;
use vault_storage::{LocalStorage, MemoryStorage, Storage};

mod local {
    use super::*;

    // Each test gets its own temp folder as the storage root (the guard).
    vault_storage::conformance_tests!({
        let dir = tempfile::tempdir().expect("tempdir");
        let storage: Arc<dyn Storage> =
            Arc::new(LocalStorage::new(dir.path()).expect("local storage"));
        (storage, Quirks::default(), dir)
    });
}

mod memory {
    use super::*;

    vault_storage::conformance_tests!({
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        (storage, Quirks::default(), ())
    });
}

/// The memory backend posing as a whole-object store (WebDAV-like, no
/// set_modified): the suite checks the `Unsupported` paths.
mod memory_without_random_write {
    use super::*;
    use vault_storage::Capabilities;

    vault_storage::conformance_tests!({
        let caps = Capabilities {
            random_write: false,
            atomic_replace: true,
            atomic_dir_rename: true,
            max_name_len: 255,
            set_modified: false,
        };
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new().with_capabilities(caps));
        (storage, Quirks::default(), ())
    });
}

/// `run_all` in one go, as a backend with one expensive server would use it,
/// against one shared root; every test cleans up its own folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all_on_a_shared_root_leaves_it_clean() {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage: Arc<dyn Storage> = Arc::new(LocalStorage::new(dir.path()).expect("local storage"));
    std::fs::write(dir.path().join("someone-elses.c9r"), b"keep").expect("write");
    vault_storage::conformance::run_all(storage, Quirks::default()).await;
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("someone-elses.c9r")]);
    assert_eq!(
        std::fs::read(dir.path().join("someone-elses.c9r")).expect("read"),
        b"keep"
    );
}

/// The metadata cache in front of the in-memory backend, with a long TTL so that every answer
/// the suite checks after its own writes comes through the cache: the decorator must keep every
/// promise of the trait (our own writes never hidden).
mod cached_memory {
    use super::*;
    use vault_storage::cached::{CacheOptions, CachedStorage};

    vault_storage::conformance_tests!({
        let inner: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let options = CacheOptions {
            ttl: std::time::Duration::from_secs(600),
            ..CacheOptions::default()
        };
        let storage: Arc<dyn Storage> = Arc::new(CachedStorage::new(inner, options));
        (storage, Quirks::default(), ())
    });
}
