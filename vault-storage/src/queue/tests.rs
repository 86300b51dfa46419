//! The upload queue over [`MemoryStorage`]: the queued view, order, retries, replay after a
//! crash (with a torn last record), a full disk.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::MemoryStorage;

fn p(s: &str) -> StoragePath {
    StoragePath::new(s).unwrap()
}

fn fast() -> QueueOptions {
    QueueOptions {
        parallel: 4,
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(40),
    }
}

fn queue(mem: &Arc<MemoryStorage>, dir: &std::path::Path) -> QueuedStorage {
    let q = QueuedStorage::new(mem.clone(), fast());
    q.attach(dir).unwrap();
    q
}

async fn put(s: &dyn Storage, path: &str, data: &[u8]) {
    s.write(
        &p(path),
        Body::from_bytes(data.to_vec()),
        WriteMode::Overwrite,
    )
    .await
    .unwrap();
}

async fn names(s: &dyn Storage, dir: &str) -> Vec<String> {
    let mut v: Vec<String> = s
        .list_dir(&p(dir))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    v.sort();
    v
}

async fn drained(q: &QueuedStorage) {
    assert!(
        q.drain(Duration::from_secs(10), |_| {}).await,
        "{:?}",
        q.stats()
    );
}

/// What the journal folder holds besides an empty log: nothing, once drained.
fn journal_leftovers(dir: &std::path::Path) -> Vec<String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "log" {
            assert_eq!(e.metadata().unwrap().len(), 0, "log not emptied");
        } else {
            v.push(name);
        }
    }
    v
}

#[tokio::test]
async fn the_queued_view_is_served_before_anything_reaches_the_storage() {
    let tmp = tempfile::tempdir().unwrap();
    let mem = Arc::new(MemoryStorage::new());
    put(mem.as_ref(), "old", b"old bytes").await;
    mem.create_dir(&p("d")).await.unwrap();
    put(mem.as_ref(), "d/gone", b"x").await;
    let q = queue(&mem, &tmp.path().join("journal"));
    q.set_paused(true);

    put(&q, "a", b"first").await;
    q.create_dir(&p("b")).await.unwrap();
    put(&q, "b/y", b"why").await;
    q.rename(&p("a"), &p("b/z"), RenameMode::NoReplace)
        .await
        .unwrap();
    q.remove_file(&p("d/gone")).await.unwrap();
    q.rename(&p("d"), &p("b/d2"), RenameMode::NoReplace)
        .await
        .unwrap();

    // Nothing sent yet.
    assert_eq!(mem.files().len(), 2);
    assert_eq!(names(&q, "").await, ["b", "old"]);
    assert_eq!(names(&q, "b").await, ["d2", "y", "z"]);
    assert!(names(&q, "b/d2").await.is_empty());
    assert_eq!(q.read_all(&p("b/z")).await.unwrap().as_ref(), b"first");
    assert_eq!(q.read_at(&p("b/y"), 1, 10).await.unwrap().as_ref(), b"hy");
    assert_eq!(q.read_all(&p("old")).await.unwrap().as_ref(), b"old bytes");
    assert_eq!(q.metadata(&p("b/z")).await.unwrap().size, 5);
    assert_eq!(q.metadata(&p("b")).await.unwrap().kind, EntryKind::Dir);
    let nf = |r: Result<Metadata, StorageError>| r.unwrap_err().kind();
    assert_eq!(nf(q.metadata(&p("a")).await), StorageErrorKind::NotFound);
    assert_eq!(nf(q.metadata(&p("d")).await), StorageErrorKind::NotFound);
    // The storage's own errors, from the queued view.
    let e = q
        .write(&p("b/y"), Body::from_bytes(&b"n"[..]), WriteMode::CreateNew)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), StorageErrorKind::AlreadyExists);
    let e = q.create_dir(&p("nope/sub")).await.unwrap_err();
    assert_eq!(e.kind(), StorageErrorKind::NotFound);
    assert_eq!(
        q.remove_dir(&p("b")).await.unwrap_err().kind(),
        StorageErrorKind::NotEmpty
    );
    assert_eq!(q.stats().pending, 6);

    q.set_paused(false);
    drained(&q).await;
    let mut files: Vec<(String, Vec<u8>)> = mem
        .files()
        .into_iter()
        .map(|(k, v)| (k, v.to_vec()))
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            ("b/y".to_owned(), b"why".to_vec()),
            ("b/z".to_owned(), b"first".to_vec()),
            ("old".to_owned(), b"old bytes".to_vec()),
        ]
    );
    assert!(mem.dirs().contains(&"b/d2".to_owned()));
    assert!(!mem.dirs().contains(&"d".to_owned()));
    assert!(journal_leftovers(&tmp.path().join("journal")).is_empty());
}

#[tokio::test]
async fn ops_keep_their_order_and_superseded_writes_are_never_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let mem = Arc::new(MemoryStorage::new());
    mem.set_latency(Duration::from_millis(5));
    let q = queue(&mem, &tmp.path().join("journal"));
    q.set_paused(true);
    q.create_dir(&p("f")).await.unwrap();
    for i in 0..10 {
        put(&q, &format!("f/n{i}"), format!("v1-{i}").as_bytes()).await;
    }
    for i in 0..10 {
        put(&q, &format!("f/n{i}"), format!("v2-{i}").as_bytes()).await;
    }
    // Write then rename over it: the final name holds the renamed bytes.
    put(&q, "f/tmp", b"temp").await;
    q.rename(&p("f/tmp"), &p("f/n0"), RenameMode::Replace)
        .await
        .unwrap();
    // A folder moved, then written into under its new name.
    q.rename(&p("f"), &p("g"), RenameMode::NoReplace)
        .await
        .unwrap();
    put(&q, "g/late", b"late").await;
    mem.reset_calls();
    q.set_paused(false);
    drained(&q).await;
    let files: std::collections::BTreeMap<String, Vec<u8>> = mem
        .files()
        .into_iter()
        .map(|(k, v)| (k, v.to_vec()))
        .collect();
    assert_eq!(files["g/n0"], b"temp");
    for i in 1..10 {
        assert_eq!(files[&format!("g/n{i}")], format!("v2-{i}").as_bytes());
    }
    assert_eq!(files["g/late"], b"late");
    assert!(!files.contains_key("g/tmp"));
    assert_eq!(files.len(), 11);
    // 10 v2 writes (the v1s superseded), tmp→n0 as one write, `late`.
    assert_eq!(mem.calls("write"), 12);
    assert_eq!(q.stats(), QueueStats::default());
}

#[tokio::test]
async fn failures_are_retried_until_the_storage_takes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let mem = Arc::new(MemoryStorage::new());
    let q = queue(&mem, &tmp.path().join("journal"));
    q.set_paused(true);
    put(&q, "a", b"A").await;
    q.create_dir(&p("d")).await.unwrap();
    put(&q, "d/b", b"B").await;
    mem.set_unavailable(true);
    q.set_paused(false);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let stats = q.stats();
    assert_eq!(stats.pending, 3);
    assert!(
        stats
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("unavailable"),
        "{stats:?}"
    );
    assert!(
        q.entries().iter().any(|e| e.attempts >= 2),
        "{:?}",
        q.entries()
    );
    // Offline, the queued view still answers from the queue.
    assert_eq!(q.read_all(&p("d/b")).await.unwrap().as_ref(), b"B");
    mem.set_unavailable(false);
    drained(&q).await;
    assert_eq!(mem.read_all(&p("d/b")).await.unwrap().as_ref(), b"B");
    assert_eq!(q.stats().last_error, None);
}

#[tokio::test]
async fn a_crash_loses_nothing_acknowledged_and_a_torn_record_is_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    let mem = Arc::new(MemoryStorage::new());
    {
        let q = queue(&mem, &dir);
        q.set_paused(true);
        q.create_dir(&p("d")).await.unwrap();
        for i in 0..5 {
            put(&q, &format!("d/f{i}"), format!("one {i}").as_bytes()).await;
        }
        put(&q, "d/f0", b"two 0").await;
        q.rename(&p("d/f1"), &p("d/g1"), RenameMode::NoReplace)
            .await
            .unwrap();
        q.stop();
        // Dropped without draining: the process died.
    }
    // A record half written when the power went: a length, a checksum, part of the payload.
    let log = dir.join("log");
    let before = std::fs::metadata(&log).unwrap().len();
    let mut torn = Vec::new();
    torn.extend_from_slice(&40u32.to_le_bytes());
    torn.extend_from_slice(&7u32.to_le_bytes());
    torn.extend_from_slice(b"{\"Op\":{\"seq\":99");
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::io::Write::write_all(&mut f, &torn).unwrap();
    drop(f);
    assert!(mem.files().is_empty());

    let q = QueuedStorage::new(mem.clone(), fast());
    q.set_paused(true);
    assert_eq!(q.attach(&dir).unwrap(), 8);
    assert_eq!(std::fs::metadata(&log).unwrap().len(), before);
    assert_eq!(q.read_all(&p("d/f0")).await.unwrap().as_ref(), b"two 0");
    q.set_paused(false);
    drained(&q).await;
    let files: std::collections::BTreeMap<String, Vec<u8>> = mem
        .files()
        .into_iter()
        .map(|(k, v)| (k, v.to_vec()))
        .collect();
    assert_eq!(files.len(), 5, "{files:?}");
    assert_eq!(files["d/f0"], b"two 0");
    assert_eq!(files["d/g1"], b"one 1");
    assert_eq!(files["d/f4"], b"one 4");
    assert!(journal_leftovers(&dir).is_empty());
}

#[tokio::test]
async fn replay_of_ops_already_applied_before_the_crash_is_harmless() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    let mem = Arc::new(MemoryStorage::new());
    {
        let q = queue(&mem, &dir);
        q.set_paused(true);
        q.create_dir(&p("d")).await.unwrap();
        q.write(
            &p("d/n"),
            Body::from_bytes(&b"new"[..]),
            WriteMode::CreateNew,
        )
        .await
        .unwrap();
        q.rename(&p("d/n"), &p("d/m"), RenameMode::NoReplace)
            .await
            .unwrap();
        q.stop();
    }
    // The worker had applied all three, but died before recording it.
    mem.create_dir(&p("d")).await.unwrap();
    put(mem.as_ref(), "d/m", b"new").await;
    let q = queue(&mem, &dir);
    drained(&q).await;
    assert_eq!(mem.files().len(), 1);
    assert_eq!(q.stats().conflicts, 0);
}

#[tokio::test]
async fn a_full_disk_fails_the_new_write_and_keeps_what_was_journaled() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    let mem = Arc::new(MemoryStorage::new());
    let q = queue(&mem, &dir);
    q.set_paused(true);
    put(&q, "kept", b"kept").await;
    q.simulate_full_disk(true);
    let e = q
        .write(
            &p("lost"),
            Body::from_bytes(&b"x"[..]),
            WriteMode::Overwrite,
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), StorageErrorKind::StorageFull);
    assert_eq!(
        q.create_dir(&p("dd")).await.unwrap_err().kind(),
        StorageErrorKind::StorageFull
    );
    assert_eq!(
        q.metadata(&p("lost")).await.unwrap_err().kind(),
        StorageErrorKind::NotFound
    );
    q.simulate_full_disk(false);
    q.stop();
    drop(q);
    let q = queue(&mem, &dir);
    drained(&q).await;
    assert_eq!(mem.files().len(), 1);
    assert_eq!(mem.read_all(&p("kept")).await.unwrap().as_ref(), b"kept");
}

#[tokio::test]
async fn another_devices_change_makes_ours_a_conflict_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let mem = Arc::new(MemoryStorage::new());
    let node = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.c9r";
    put(mem.as_ref(), node, b"base").await;
    let q = queue(&mem, &tmp.path().join("journal"));
    q.set_paused(true);
    put(&q, node, b"ours").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    put(mem.as_ref(), node, b"theirs!").await;
    q.set_paused(false);
    drained(&q).await;
    let files = mem.files();
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(mem.read_all(&p(node)).await.unwrap().as_ref(), b"theirs!");
    let (copy, bytes) = files.iter().find(|(k, _)| k != node).unwrap();
    assert!(copy.contains(" (conflicted copy "), "{copy}");
    assert_eq!(bytes.as_ref(), b"ours");
    assert_eq!(q.stats().conflicts, 1);
}

#[cfg(unix)]
#[tokio::test]
async fn journal_files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    let mem = Arc::new(MemoryStorage::new());
    let q = queue(&mem, &dir);
    q.set_paused(true);
    put(&q, "a", b"secret ciphertext").await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        assert_eq!(mode(&e.path()), 0o600, "{}", e.path().display());
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
}

#[tokio::test]
async fn with_the_storage_unreachable_remembered_listings_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let mem = Arc::new(MemoryStorage::new());
    mem.create_dir(&p("d")).await.unwrap();
    put(mem.as_ref(), "d/old", b"old").await;
    let q = queue(&mem, &tmp.path().join("journal"));
    assert_eq!(names(&q, "d").await, ["old"]);
    put(&q, "d/first", b"1").await;
    drained(&q).await;
    mem.set_unavailable(true);
    // What the worker applied is remembered too; a name never there is absent.
    assert_eq!(names(&q, "d").await, ["first", "old"]);
    assert_eq!(q.metadata(&p("d/first")).await.unwrap().size, 1);
    assert_eq!(
        q.metadata(&p("d/none")).await.unwrap_err().kind(),
        StorageErrorKind::NotFound
    );
    q.write(
        &p("d/new"),
        Body::from_bytes(&b"offline"[..]),
        WriteMode::CreateNew,
    )
    .await
    .unwrap();
    assert_eq!(names(&q, "d").await, ["first", "new", "old"]);
    // A folder never listed: the storage's own error.
    assert_eq!(
        q.list_dir(&p("elsewhere")).await.unwrap_err().kind(),
        StorageErrorKind::Unavailable
    );
    mem.set_unavailable(false);
    q.retry_now();
    drained(&q).await;
    assert_eq!(
        mem.read_all(&p("d/new")).await.unwrap().as_ref(),
        b"offline"
    );
}

#[tokio::test]
async fn a_folder_the_queue_made_is_answered_without_the_storage() {
    let tmp = tempfile::tempdir().unwrap();
    let mem = Arc::new(MemoryStorage::new());
    let q = queue(&mem, &tmp.path().join("journal"));
    q.set_paused(true);
    q.create_dir(&p("new")).await.unwrap();
    mem.set_unavailable(true);
    assert_eq!(
        q.metadata(&p("new/x")).await.unwrap_err().kind(),
        StorageErrorKind::NotFound
    );
    assert!(names(&q, "new").await.is_empty());
    put(&q, "new/x", b"x").await;
    assert_eq!(names(&q, "new").await, ["x"]);
}

#[tokio::test]
async fn a_file_overwritten_after_its_upload_is_not_taken_for_a_conflict() {
    let tmp = tempfile::tempdir().unwrap();
    let mem = Arc::new(MemoryStorage::new());
    mem.create_dir(&p("d")).await.unwrap();
    let q = queue(&mem, &tmp.path().join("journal"));
    // Listed through the queue: its remembered listing then answers the overwrite's look-up.
    assert!(names(&q, "d").await.is_empty());
    let node = "d/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.c9r";
    for v in [&b"one"[..], b"two!", b"three"] {
        put(&q, node, v).await;
        drained(&q).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(mem.files().len(), 1, "{:?}", mem.files());
    assert_eq!(mem.read_all(&p(node)).await.unwrap().as_ref(), b"three");
    assert_eq!(q.stats().conflicts, 0);
    // Another device's change after our upload is still noticed.
    put(mem.as_ref(), node, b"theirs").await;
    put(&q, node, b"four").await;
    drained(&q).await;
    assert_eq!(mem.read_all(&p(node)).await.unwrap().as_ref(), b"theirs");
    assert_eq!(q.stats().conflicts, 1);
}

/// The metadata cache in front of the storage still holds the version ours was made from
/// (a long TTL): the worker's check must ask the storage itself, or another device's change
/// would be overwritten.
#[tokio::test]
async fn the_conflict_check_asks_past_the_metadata_cache() {
    use crate::cached::{CacheOptions, CachedStorage};
    let tmp = tempfile::tempdir().unwrap();
    let mem = Arc::new(MemoryStorage::new());
    let node = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.c9r";
    put(mem.as_ref(), node, b"base").await;
    let cached = Arc::new(CachedStorage::new(
        mem.clone(),
        CacheOptions {
            ttl: Duration::from_secs(3600),
            ..CacheOptions::default()
        },
    ));
    assert_eq!(cached.metadata(&p(node)).await.unwrap().size, 4);
    let q = QueuedStorage::new(cached.clone(), fast());
    q.attach(&tmp.path().join("journal")).unwrap();
    q.set_paused(true);
    put(&q, node, b"ours").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Another device, straight to the storage: the cache still answers "base".
    put(mem.as_ref(), node, b"theirs!").await;
    assert_eq!(cached.metadata(&p(node)).await.unwrap().size, 4);
    q.set_paused(false);
    drained(&q).await;
    assert_eq!(mem.read_all(&p(node)).await.unwrap().as_ref(), b"theirs!");
    let files = mem.files();
    let (copy, bytes) = files
        .iter()
        .find(|(k, _)| k != node)
        .expect("our version kept beside theirs");
    assert!(copy.contains(" (conflicted copy "), "{copy}");
    assert_eq!(bytes.as_ref(), b"ours");
    assert_eq!(q.stats().conflicts, 1);
}

#[tokio::test]
async fn after_an_upload_an_offline_create_in_that_folder_is_queued_through_the_metadata_cache() {
    use crate::cached::{CacheOptions, CachedStorage};
    let tmp = tempfile::tempdir().unwrap();
    let mem = Arc::new(MemoryStorage::new());
    mem.create_dir(&p("d")).await.unwrap();
    put(mem.as_ref(), "d/old", b"old").await;
    let cached = Arc::new(CachedStorage::new(
        mem.clone(),
        CacheOptions {
            ttl: Duration::from_millis(1),
            ..CacheOptions::default()
        },
    ));
    // Listed before (an earlier mount, whose listings the metadata cache kept): the queue
    // itself has no listing of `d`.
    cached.list_dir(&p("")).await.unwrap();
    cached.list_dir(&p("d")).await.unwrap();
    let q = QueuedStorage::new(cached.clone(), fast());
    q.attach(&tmp.path().join("journal")).unwrap();
    put(&q, "d/first", b"1").await;
    drained(&q).await;
    mem.set_unavailable(true);
    // The engine's check that the new name is free, then the create: both answered from the
    // metadata cache's listing of `d`, which the upload kept current.
    assert_eq!(
        q.metadata(&p("d/new")).await.unwrap_err().kind(),
        StorageErrorKind::NotFound
    );
    assert_eq!(q.metadata(&p("d/first")).await.unwrap().size, 1);
    q.write(
        &p("d/new"),
        Body::from_bytes(&b"offline"[..]),
        WriteMode::CreateNew,
    )
    .await
    .unwrap();
    // An overwrite of the uploaded file is compared with its real version, not a made-up one.
    put(&q, "d/first", b"second").await;
    assert_eq!(names(&q, "d").await, ["first", "new", "old"]);
    assert_eq!(q.stats().pending, 2);
    mem.set_unavailable(false);
    q.retry_now();
    drained(&q).await;
    assert_eq!(
        mem.read_all(&p("d/new")).await.unwrap().as_ref(),
        b"offline"
    );
    assert_eq!(
        mem.read_all(&p("d/first")).await.unwrap().as_ref(),
        b"second"
    );
    assert_eq!(mem.files().len(), 3, "{:?}", mem.files());
    assert_eq!(q.stats().conflicts, 0);
}

#[tokio::test]
async fn an_overwrite_sent_before_a_crash_is_not_taken_for_a_conflict_on_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    let mem = Arc::new(MemoryStorage::new());
    let node = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.c9r";
    put(mem.as_ref(), node, b"base").await;
    {
        let q = queue(&mem, &dir);
        q.set_paused(true);
        put(&q, node, b"ours, sent").await;
        q.stop();
    }
    // The worker's write reached the storage (or its answer was lost to a link cut), but the
    // process died before it recorded so: the storage's version is not the one queued on.
    tokio::time::sleep(Duration::from_millis(20)).await;
    put(mem.as_ref(), node, b"ours, sent").await;
    let q = queue(&mem, &dir);
    drained(&q).await;
    assert_eq!(mem.files().len(), 1, "{:?}", mem.files());
    assert_eq!(q.stats().conflicts, 0);
}
