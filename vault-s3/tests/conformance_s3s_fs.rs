//! The storage conformance suite against s3s-fs 0.14.1, run in-process (a
//! fresh server on a temp dir per test, SigV4 authentication on).
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use vault_storage::conformance::Quirks;

fn quirks() -> Quirks {
    Quirks {
        // Listings carry LastModified in milliseconds, HTTP dates in seconds.
        mtime_granularity: Duration::from_secs(1),
        // A folder is a common prefix or a marker: S3 keeps no folder mtime.
        folder_mtime: false,
    }
}

vault_storage::conformance_tests!({
    let server = common::s3s_fs().await;
    let storage: Arc<dyn vault_storage::Storage> =
        Arc::new(common::storage(&server.endpoint, common::BUCKET, "vaults/one"));
    (storage, quirks(), server)
});
