//! The storage conformance suite through the upload queue (over the in-memory backend): the
//! queued view must answer as a storage does, before and after the worker has sent the changes.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use vault_storage::MemoryStorage;
use vault_storage::queue::{QueueOptions, QueuedStorage};

vault_storage::conformance_tests!({
    let dir = tempfile::tempdir().unwrap();
    let q = QueuedStorage::new(Arc::new(MemoryStorage::new()), QueueOptions::default());
    q.attach(&dir.path().join("journal")).unwrap();
    let storage: Arc<dyn vault_storage::Storage> = Arc::new(q);
    // The worker sends while the test runs: a folder's time may move from the queued view's
    // to the storage's between a listing and a metadata call.
    let quirks = vault_storage::conformance::Quirks {
        sends_in_background: true,
        ..Default::default()
    };
    (storage, quirks, dir)
});

/// The same with nothing ever sent: the queued view alone.
mod nothing_sent {
    use super::*;

    vault_storage::conformance_tests!({
        let dir = tempfile::tempdir().unwrap();
        let q = QueuedStorage::new(Arc::new(MemoryStorage::new()), QueueOptions::default());
        q.attach(&dir.path().join("journal")).unwrap();
        q.set_paused(true);
        let storage: Arc<dyn vault_storage::Storage> = Arc::new(q);
        (storage, vault_storage::conformance::Quirks::default(), dir)
    });
}
