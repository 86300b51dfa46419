//! A vault laid out by another client with plain S3 calls lists and reads
//! correctly: on moto (markers are keys) with and without folder markers, on
//! s3s-fs (a marker is a real folder there) without markers.
#![allow(clippy::unwrap_used)]

mod common;

use vault_s3::S3Storage;
use vault_storage::{EntryKind, Storage, StorageErrorKind, StoragePath};

fn path(s: &str) -> StoragePath {
    StoragePath::new(s).unwrap()
}

const DIR: &str = "d/AB/CDEFGHIJKLMNOPQRSTUVWXYZ234567";
const LONG: &str =
    "Xy_-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP==.c9r";

/// Writes a Cryptomator-like tree under `prefix`; with `markers`, the
/// zero-byte `folder/` objects Cyberduck and the S3 consoles make as well.
async fn lay_out(plain: &common::Plain, prefix: &str, markers: bool) {
    let files: &[(&str, &[u8])] = &[
        ("vault.cryptomator", b"jwt"),
        ("masterkey.cryptomator", b"{\"key\":1}"),
        (
            "d/AB/CDEFGHIJKLMNOPQRSTUVWXYZ234567/file1.c9r",
            b"ciphertext-1",
        ),
        (
            "d/AB/CDEFGHIJKLMNOPQRSTUVWXYZ234567/sub.c9r/dir.c9r",
            b"dir-id-of-sub",
        ),
        (
            "d/AB/CDEFGHIJKLMNOPQRSTUVWXYZ234567/link.c9r/symlink.c9r",
            b"target",
        ),
        (
            "d/AB/CDEFGHIJKLMNOPQRSTUVWXYZ234567/long.c9s/name.c9s",
            LONG.as_bytes(),
        ),
        (
            "d/AB/CDEFGHIJKLMNOPQRSTUVWXYZ234567/long.c9s/contents.c9r",
            b"long-content",
        ),
        ("d/QR/STUVWXYZ234567ABCDEFGHIJKLMNOP/dirid.c9r", b"backup"),
    ];
    for (key, data) in files {
        plain.put(&format!("{prefix}/{key}"), data.to_vec()).await;
    }
    if markers {
        for dir in [
            "d",
            "d/AB",
            DIR,
            &format!("{DIR}/sub.c9r"),
            "d/QR",
            "d/EM",
            "d/EM/PTY",
        ] {
            plain.put(&format!("{prefix}/{dir}/"), Vec::new()).await;
        }
    }
}

async fn names(s: &S3Storage, dir: &str) -> Vec<(String, EntryKind, u64)> {
    let mut got: Vec<_> = s
        .list_dir(&path(dir))
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.metadata.kind, e.metadata.size))
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    got
}

fn entry(name: &str, kind: EntryKind, size: u64) -> (String, EntryKind, u64) {
    (name.to_owned(), kind, size)
}

async fn check(s: &S3Storage, markers: bool) {
    use EntryKind::{Dir, File};
    assert_eq!(
        names(s, "").await,
        [
            entry("d", Dir, 0),
            entry("masterkey.cryptomator", File, 9),
            entry("vault.cryptomator", File, 3)
        ]
    );
    let mut top = vec![entry("AB", Dir, 0), entry("QR", Dir, 0)];
    if markers {
        top.insert(1, entry("EM", Dir, 0));
    }
    assert_eq!(names(s, "d").await, top);
    assert_eq!(
        names(s, DIR).await,
        [
            entry("file1.c9r", File, 12),
            entry("link.c9r", Dir, 0),
            entry("long.c9s", Dir, 0),
            entry("sub.c9r", Dir, 0)
        ]
    );
    assert_eq!(
        names(s, &format!("{DIR}/sub.c9r")).await,
        [entry("dir.c9r", File, 13)]
    );
    assert_eq!(
        &s.read_all(&path(&format!("{DIR}/long.c9s/name.c9s")))
            .await
            .unwrap()[..],
        LONG.as_bytes()
    );
    assert_eq!(
        &s.read_at(&path(&format!("{DIR}/file1.c9r")), 4, 4)
            .await
            .unwrap()[..],
        b"erte"
    );
    let meta = s.metadata(&path(&format!("{DIR}/link.c9r"))).await.unwrap();
    assert_eq!(meta.kind, Dir, "a folder without a marker");
    let meta = s.metadata(&path("d/AB")).await.unwrap();
    assert_eq!(meta.kind, Dir);
    assert_eq!(
        s.create_dir(&path("d/AB")).await.unwrap_err().kind(),
        StorageErrorKind::AlreadyExists,
        "a folder made by another client exists"
    );
    if markers {
        // An empty folder that only a marker makes.
        assert_eq!(names(s, "d/EM/PTY").await, []);
        assert_eq!(s.metadata(&path("d/EM/PTY")).await.unwrap().kind, Dir);
        assert_eq!(
            s.remove_dir(&path("d/EM")).await.unwrap_err().kind(),
            StorageErrorKind::NotEmpty
        );
        s.remove_dir(&path("d/EM/PTY")).await.unwrap();
        s.remove_dir(&path("d/EM")).await.unwrap();
        assert_eq!(
            names(s, "d").await,
            [entry("AB", Dir, 0), entry("QR", Dir, 0)]
        );
    }
    // Our own writes fit in: a new file in a marker-less folder.
    let new = path(&format!("{DIR}/link.c9r/extra.c9r"));
    s.write(
        &new,
        vault_storage::Body::from_bytes(&b"x"[..]),
        vault_storage::WriteMode::CreateNew,
    )
    .await
    .unwrap();
    assert_eq!(names(s, &format!("{DIR}/link.c9r")).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_with_markers() {
    let server = common::moto().await;
    let bucket = common::unique_bucket();
    let plain = common::Plain::new(&server.endpoint, &bucket);
    plain.create_bucket().await;
    lay_out(&plain, "team/v1", true).await;
    assert!(
        plain
            .keys("team/v1/d/AB/")
            .await
            .contains(&"team/v1/d/AB/".to_owned()),
        "moto keeps markers as keys"
    );
    check(&common::storage(&server.endpoint, &bucket, "team/v1"), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_without_markers() {
    let server = common::moto().await;
    let bucket = common::unique_bucket();
    let plain = common::Plain::new(&server.endpoint, &bucket);
    plain.create_bucket().await;
    lay_out(&plain, "team/v2", false).await;
    check(
        &common::storage(&server.endpoint, &bucket, "team/v2"),
        false,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3s_fs_without_markers() {
    let server = common::s3s_fs().await;
    let plain = common::Plain::new(&server.endpoint, common::BUCKET);
    lay_out(&plain, "v3", false).await;
    check(
        &common::storage(&server.endpoint, common::BUCKET, "v3"),
        false,
    )
    .await;
}

/// A missing bucket is told apart (`vault create` exits 5 on it) and can be created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_is_reported_and_created() {
    for server in [common::moto().await, common::s3s_fs().await] {
        let bucket = common::unique_bucket();
        let s = common::storage(&server.endpoint, &bucket, "v");
        assert!(
            !s.bucket_exists().await.unwrap(),
            "{bucket} does not exist yet"
        );
        let err = s.metadata(&path("x")).await.unwrap_err();
        assert_eq!(err.kind(), StorageErrorKind::NotFound, "{err}");
        assert!(
            err.to_string()
                .contains(&format!("bucket {bucket} does not exist")),
            "{err}"
        );
        s.create_bucket().await.unwrap();
        assert!(s.bucket_exists().await.unwrap());
        assert!(s.list_dir(&StoragePath::root()).await.unwrap().is_empty());
    }
}

/// A client killed mid-upload leaves a multipart upload: `abort_stale_uploads`
/// (what `vault check --repair` runs) aborts those under the vault's prefix
/// older than the age given, and nothing else.
#[tokio::test]
async fn stale_multipart_uploads_under_the_prefix_are_aborted() {
    let server = common::moto().await;
    let bucket = common::unique_bucket();
    let plain = common::Plain::new(&server.endpoint, &bucket);
    plain.create_bucket().await;
    plain.start_upload("team/vault/d/AB/CDEF/x.c9r").await;
    plain.start_upload("team/vault2/other").await;
    let vault = common::storage(&server.endpoint, &bucket, "team/vault");
    // moto 5.2.5 reports every upload as started 2010-11-10T20:48:33Z: an age
    // of 20 years makes it young, so it is left alone.
    let young = vault
        .abort_stale_uploads(std::time::Duration::from_secs(20 * 365 * 86_400))
        .await
        .unwrap()
        .expect("moto lists uploads");
    assert!(young.is_empty(), "a young upload is left alone: {young:?}");
    let aborted = vault
        .abort_stale_uploads(std::time::Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    let keys: Vec<&str> = aborted.iter().map(|u| u.key.as_str()).collect();
    assert_eq!(keys, ["team/vault/d/AB/CDEF/x.c9r"]);
    assert!(
        vault
            .abort_stale_uploads(std::time::Duration::ZERO)
            .await
            .unwrap()
            .unwrap()
            .is_empty(),
        "it is gone"
    );
    // The upload beside the prefix (`team/vault2`, not below `team/vault/`) is still there.
    let beside = common::storage(&server.endpoint, &bucket, "team/vault2");
    let aborted = beside
        .abort_stale_uploads(std::time::Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(aborted.len(), 1, "{aborted:?}");
}

/// A store without ListMultipartUploads (s3s-fs 0.14 answers 501
/// NotImplemented, after checking the request's signature): not an error, so
/// `vault check` still runs there.
#[tokio::test]
async fn a_store_without_list_multipart_uploads_has_none_to_abort() {
    let server = common::s3s_fs().await;
    let s = common::storage(&server.endpoint, common::BUCKET, "v");
    let found = s
        .abort_stale_uploads(std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(found, None, "told apart from none found");
}
