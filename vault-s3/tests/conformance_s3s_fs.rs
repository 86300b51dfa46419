//! The storage conformance suite against s3s-fs 0.14.1, run in-process (a
//! fresh server on a temp dir per test, SigV4 authentication on).
//!
//! s3s-fs turns a `PREFIX/` key into a real directory that its listings do
//! not show while empty, so an empty folder made with a standard marker
//! would vanish: the backend runs with `marker_file` (its documented mode
//! for such stores), and `standard_markers_vanish_on_s3s_fs` pins the
//! server behaviour that makes it necessary.
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
        ..Default::default()
    }
}

/// One test per conformance test that s3s-fs 0.14.1 can pass. Left out,
/// for the server's limits, not the backend's (moto runs all of them):
/// `create_new_race` and `rename_files` (its racing renames): s3s-fs checks
/// `If-None-Match: *` before it receives the body and writes afterwards, so
/// concurrent conditional PUTs can all succeed; `long_names`: s3s-fs keeps
/// each object's metadata in a file named after the base64 of the whole key,
/// which exceeds 255 bytes for a 220-byte name.
macro_rules! on_s3s_fs {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let server = common::s3s_fs().await;
            let mut config = common::config(&server.endpoint, common::BUCKET, "vaults/one");
            config.marker_file = Some(".vault-folder".into());
            let storage: Arc<dyn vault_storage::Storage> = Arc::new(vault_s3::S3Storage::new(config).unwrap());
            vault_storage::conformance::run_one(stringify!($name), storage, quirks()).await;
        }
    )*};
}

on_s3s_fs!(
    root_and_fresh_folder,
    not_found,
    already_exists,
    not_empty,
    wrong_kind,
    read_ranges,
    write_modes,
    nosync_variants,
    atomic_overwrite,
    rename_dirs,
    remove,
    list_dir_metadata,
    random_write,
    set_modified,
    big_object,
    space,
);

/// Why the mode above: with standard markers an empty folder is invisible on
/// s3s-fs 0.14.1 (if a later s3s-fs lists it, this test says so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_markers_vanish_on_s3s_fs() {
    use vault_storage::{Storage, StorageErrorKind, StoragePath};
    let server = common::s3s_fs().await;
    let s = common::storage(&server.endpoint, common::BUCKET, "std");
    let empty = StoragePath::new("empty").unwrap();
    s.create_dir(&empty).await.unwrap();
    let err = s.metadata(&empty).await.unwrap_err();
    assert_eq!(
        err.kind(),
        StorageErrorKind::NotFound,
        "s3s-fs now lists empty marker folders"
    );
}
