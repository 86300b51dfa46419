//! Request budgets of the S3 backend, counted at a proxy in front of s3s-fs:
//! what a burst of writes into one folder costs in listings and PUTs.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::proxy::Proxy;
use vault_s3::S3Storage;
use vault_storage::{Body, Storage, StorageErrorKind, StoragePath, WriteMode};

fn path(s: &str) -> StoragePath {
    StoragePath::new(s).unwrap()
}

async fn setup() -> (common::Server, Proxy, Arc<S3Storage>) {
    let server = common::s3s_fs().await;
    let proxy = Proxy::start(&server.endpoint).await;
    // s3s-fs hides empty `P/` markers: the mode its conformance run uses.
    let mut config = common::config(&proxy.endpoint, common::BUCKET, "v");
    config.marker_file = Some(".vault-folder".into());
    (server, proxy, Arc::new(S3Storage::new(config).unwrap()))
}

const FILES: u32 = 40;

/// Files created in a folder this backend made, each as the engine does
/// (look the name up, create it, then write its content): no listing per
/// write for "is the parent a folder" or "is the target a folder" — one
/// PUT per write, the lookups' listings and nothing else. (Before: two
/// one-key listings per write, 4 per file.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_into_a_known_folder_make_no_folder_checks() {
    let (_server, proxy, s) = setup().await;
    s.create_dir(&path("d")).await.unwrap();
    proxy.reset_counts();
    for i in 0..FILES {
        let f = path(&format!("d/f{i}.c9r"));
        assert!(s.metadata(&f).await.is_err(), "a fresh name");
        s.write(&f, Body::from_bytes(&b"h"[..]), WriteMode::CreateNew)
            .await
            .unwrap();
        s.write(&f, Body::from_bytes(&b"hc"[..]), WriteMode::Overwrite)
            .await
            .unwrap();
    }
    let (lists, puts) = (proxy.count("ListObjectsV2"), proxy.count("PutObject"));
    eprintln!("{FILES} files: {lists} listings, {puts} PUTs");
    assert_eq!(lists, FILES, "one listing per file: its lookup only");
    assert_eq!(puts, 2 * FILES, "one PUT per write");
    assert_eq!(proxy.count("HeadObject"), 0);
}

/// What the memory may not change: a write into a folder removed since is
/// refused, a write onto a folder is refused, a lookup after a write sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remembered_folders_follow_this_backends_own_changes() {
    let (server, _proxy, s) = setup().await;
    let body = || Body::from_bytes(&b"x"[..]);
    s.create_dir(&path("d")).await.unwrap();
    s.create_dir(&path("d/sub")).await.unwrap();
    s.write(&path("d/f"), body(), WriteMode::CreateNew)
        .await
        .unwrap();
    let kind = |r: Result<(), vault_storage::StorageError>| r.unwrap_err().kind();
    assert_eq!(
        kind(s.write(&path("d/sub"), body(), WriteMode::Overwrite).await),
        StorageErrorKind::IsADirectory
    );
    s.remove_dir_all(&path("d")).await.unwrap();
    assert_eq!(
        kind(s.write(&path("d/g"), body(), WriteMode::CreateNew).await),
        StorageErrorKind::NotFound,
        "the removed folder is not remembered"
    );
    // A folder that existed only as a prefix vanishes with its last object.
    s.write(&path("q/y"), body(), WriteMode::CreateNew)
        .await
        .unwrap_err();
    common::Plain::new(&server.endpoint, common::BUCKET)
        .put("v/q/x", b"x".to_vec())
        .await;
    s.write(&path("q/y"), body(), WriteMode::CreateNew)
        .await
        .unwrap();
    s.remove_file(&path("q/x")).await.unwrap();
    s.remove_file(&path("q/y")).await.unwrap();
    assert_eq!(
        kind(s.write(&path("q/z"), body(), WriteMode::CreateNew).await),
        StorageErrorKind::NotFound,
        "a prefix-only folder gone with its last object"
    );
    assert!(s.metadata(&path("n")).await.is_err());
    s.create_dir(&path("n")).await.unwrap();
    assert_eq!(
        kind(s.write(&path("n"), body(), WriteMode::CreateNew).await),
        StorageErrorKind::AlreadyExists,
        "a folder made after a lookup found nothing"
    );
}

/// A sequential read of a large object in 256 KiB reads: one ranged GET,
/// then one streaming GET for all the rest (before: one GET per read); a
/// seek starts over with a ranged GET, and a rewrite is never read stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequential_read_is_one_streaming_get() {
    let (_server, proxy, s) = setup().await;
    const READ: usize = 256 << 10;
    let data: Vec<u8> = (0..12 << 20).map(|i: u32| (i % 251) as u8).collect();
    let f = path("big");
    s.write(&f, Body::from_bytes(data.clone()), WriteMode::CreateNew)
        .await
        .unwrap();
    proxy.reset_counts();
    let mut got = Vec::new();
    loop {
        let chunk = s.read_at(&f, got.len() as u64, READ).await.unwrap();
        if chunk.is_empty() {
            break;
        }
        got.extend_from_slice(&chunk);
    }
    assert!(got == data, "the object reads back exactly");
    let reads = data.len() / READ + 1;
    eprintln!("{reads} reads: {} GETs", proxy.count("GetObject"));
    assert_eq!(proxy.count("GetObject"), 2, "{reads} sequential reads");

    proxy.reset_counts();
    let at = |o: usize| s.read_at(&f, o as u64, READ);
    assert_eq!(at(READ).await.unwrap(), data[READ..2 * READ]);
    assert_eq!(at(5 * READ).await.unwrap(), data[5 * READ..6 * READ]);
    assert_eq!(at(6 * READ).await.unwrap(), data[6 * READ..7 * READ]);
    assert_eq!(at(7 * READ).await.unwrap(), data[7 * READ..8 * READ]);
    assert_eq!(proxy.count("GetObject"), 3, "two seeks, then one stream");

    let new: Vec<u8> = data.iter().map(|b| b ^ 0xff).collect();
    s.write(&f, Body::from_bytes(new.clone()), WriteMode::Overwrite)
        .await
        .unwrap();
    assert_eq!(
        at(8 * READ).await.unwrap(),
        new[8 * READ..9 * READ],
        "no stale bytes after a rewrite"
    );
}

/// The engine's read-ahead asks for the next two windows at once, so they
/// reach the backend in either order: still one streaming GET after the
/// first ranged one, the later window's read keeping the bytes it passed
/// over for the earlier one. (Before: each out-of-order pair restarted the
/// stream or took a ranged GET, 35 GETs for 256 MiB.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_read_in_parallel_share_one_streaming_get() {
    let (_server, proxy, s) = setup().await;
    const W: usize = 1 << 20;
    let data: Vec<u8> = (0..20u32 << 20).map(|i| (i % 253) as u8).collect();
    let f = path("big");
    s.write(&f, Body::from_bytes(data.clone()), WriteMode::CreateNew)
        .await
        .unwrap();
    proxy.reset_counts();
    // The header's read, then the first window read when the reads go on.
    let mut got = s.read_at(&f, 0, W).await.unwrap().to_vec();
    got.extend_from_slice(&s.read_at(&f, W as u64, W).await.unwrap());
    loop {
        let at = got.len() as u64;
        // The later window is asked for first.
        let (later, earlier) = tokio::join!(s.read_at(&f, at + W as u64, W), async {
            tokio::task::yield_now().await;
            s.read_at(&f, at, W).await
        });
        let (earlier, later) = (earlier.unwrap(), later.unwrap());
        got.extend_from_slice(&earlier);
        got.extend_from_slice(&later);
        if later.len() < W {
            break;
        }
    }
    assert!(got == data, "the object reads back exactly");
    assert!(s.read_at(&f, got.len() as u64, W).await.unwrap().is_empty());
    let gets = proxy.count("GetObject");
    eprintln!(
        "{} MiB in windows of 1 MiB, pairs out of order: {gets} GETs",
        data.len() >> 20
    );
    assert_eq!(
        gets, 2,
        "one ranged GET, then one streaming GET for the rest"
    );

    // A read behind a stream gets its own ranged GET and leaves the stream
    // be; a read far ahead of it (a seek) ends it.
    proxy.reset_counts();
    let at = |o: usize| s.read_at(&f, o as u64, W);
    assert_eq!(at(0).await.unwrap(), data[..W]);
    assert_eq!(at(W).await.unwrap(), data[W..2 * W]);
    assert_eq!(proxy.count("GetObject"), 2, "a ranged GET, a streaming one");
    assert_eq!(at(W / 2).await.unwrap(), data[W / 2..W / 2 + W]);
    assert_eq!(at(2 * W).await.unwrap(), data[2 * W..3 * W]);
    assert_eq!(
        proxy.count("GetObject"),
        3,
        "the stream went on after a read behind it"
    );
    // More than the stream would keep passing over on its way there.
    assert_eq!(at(19 * W + 1).await.unwrap(), data[19 * W + 1..]);
    assert_eq!(at(3 * W).await.unwrap(), data[3 * W..4 * W]);
    assert_eq!(
        proxy.count("GetObject"),
        5,
        "a seek far ahead ended the stream"
    );
}

/// Lookups through the metadata cache in a folder it has not listed (a cold `cat` of each
/// file): one listing page of the folder answers them all, absent names included (the
/// fallback for a folder over one page is checked in vault-storage's cache tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_in_an_unlisted_folder_cost_one_listing() {
    use vault_storage::cached::{CacheOptions, CachedStorage};
    let (_server, proxy, s) = setup().await;
    s.create_dir(&path("d")).await.unwrap();
    for i in 0..7 {
        let f = path(&format!("d/f{i}.c9r"));
        s.write(
            &f,
            Body::from_bytes(vec![b'x'; i + 1]),
            WriteMode::CreateNew,
        )
        .await
        .unwrap();
    }
    let one = s.list_dir_in_one_request(&path("d")).await.unwrap();
    assert_eq!(one.map(|v| v.len()), Some(7), "7 files, no marker");
    let options = CacheOptions {
        ttl: std::time::Duration::from_secs(60),
        ..CacheOptions::default()
    };
    let cached = CachedStorage::new(s.clone(), options);
    proxy.reset_counts();
    for i in 0..7 {
        let m = cached
            .metadata(&path(&format!("d/f{i}.c9r")))
            .await
            .unwrap();
        assert_eq!(m.size, i as u64 + 1);
    }
    let absent = cached.metadata(&path("d/none.c9r")).await.unwrap_err();
    assert_eq!(absent.kind(), StorageErrorKind::NotFound);
    assert_eq!(proxy.count("ListObjectsV2"), 1, "one page for 8 lookups");
    assert_eq!(proxy.count("HeadObject"), 0);
}
