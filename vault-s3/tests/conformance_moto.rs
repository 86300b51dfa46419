//! The storage conformance suite against moto 5.2.5 in server mode (one
//! server per test binary, a fresh bucket per test).
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use vault_storage::conformance::Quirks;

fn quirks() -> Quirks {
    Quirks {
        mtime_granularity: Duration::from_secs(1),
        folder_mtime: false,
        ..Default::default()
    }
}

vault_storage::conformance_tests!({
    let server = common::moto().await;
    let bucket = common::unique_bucket();
    common::Plain::new(&server.endpoint, &bucket)
        .create_bucket()
        .await;
    let storage: Arc<dyn vault_storage::Storage> =
        Arc::new(common::storage(&server.endpoint, &bucket, "team/vault"));
    (storage, quirks(), server)
});
