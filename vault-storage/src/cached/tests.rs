use std::time::Duration;

use super::*;
use crate::{EntryKind, MemoryStorage};

fn p(s: &str) -> StoragePath {
    StoragePath::new(s).unwrap()
}

fn opts(ttl_ms: u64) -> CacheOptions {
    CacheOptions {
        ttl: Duration::from_millis(ttl_ms),
        revalidate_wait: REVALIDATE_WAIT,
    }
}

async fn seeded() -> Arc<MemoryStorage> {
    let mem = Arc::new(MemoryStorage::new());
    mem.create_dir(&p("d")).await.unwrap();
    put(&*mem, "d/a.c9r", b"0123", WriteMode::CreateNew).await;
    put(&*mem, "d/dir.c9r", b"id", WriteMode::CreateNew).await;
    mem.reset_calls();
    mem
}

/// Writes `data` to `path` through `s` (the cache under test, or the storage behind it).
async fn put(s: &dyn Storage, path: &str, data: &[u8], mode: WriteMode) {
    s.write(&p(path), Body::from_bytes(data.to_vec()), mode)
        .await
        .unwrap();
}

fn names(v: &[DirEntry]) -> Vec<String> {
    let mut n: Vec<String> = v.iter().map(|e| e.name.clone()).collect();
    n.sort();
    n
}

#[tokio::test]
async fn fresh_answers_cost_no_request_and_own_writes_show() {
    let mem = seeded().await;
    let c = CachedStorage::new(mem.clone(), opts(60_000));
    assert_eq!(
        names(&c.list_dir(&p("d")).await.unwrap()),
        ["a.c9r", "dir.c9r"]
    );
    assert_eq!(
        names(&c.list_dir(&p("d")).await.unwrap()),
        ["a.c9r", "dir.c9r"]
    );
    // A child's metadata comes from the parent's listing; an absent name is absent.
    assert_eq!(c.metadata(&p("d/a.c9r")).await.unwrap().size, 4);
    let e = c.metadata(&p("d/none.c9r")).await.unwrap_err();
    assert_eq!(e.kind(), StorageErrorKind::NotFound);
    assert_eq!(mem.calls("list_dir"), 1);
    assert_eq!(mem.calls("metadata"), 0);
    // Small whole objects: asked once.
    assert_eq!(
        &c.read_at(&p("d/dir.c9r"), 0, 100).await.unwrap()[..],
        b"id"
    );
    assert_eq!(&c.read_at(&p("d/dir.c9r"), 0, 1).await.unwrap()[..], b"i");
    assert_eq!(mem.calls("read_at"), 1);
    // Our own writes are seen at once.
    put(&c, "d/b.c9r", b"x", WriteMode::CreateNew).await;
    assert_eq!(
        names(&c.list_dir(&p("d")).await.unwrap()),
        ["a.c9r", "b.c9r", "dir.c9r"]
    );
    put(&c, "d/dir.c9r", b"new", WriteMode::Overwrite).await;
    assert_eq!(
        &c.read_at(&p("d/dir.c9r"), 0, 100).await.unwrap()[..],
        b"new"
    );
    c.rename(&p("d"), &p("e"), RenameMode::NoReplace)
        .await
        .unwrap();
    assert_eq!(
        c.list_dir(&p("d")).await.unwrap_err().kind(),
        StorageErrorKind::NotFound
    );
    assert_eq!(
        c.read_at(&p("d/dir.c9r"), 0, 100).await.unwrap_err().kind(),
        StorageErrorKind::NotFound
    );
    c.remove_dir_all(&p("e")).await.unwrap();
    assert!(c.list_dir(&StoragePath::root()).await.unwrap().is_empty());
}

#[tokio::test]
async fn after_the_ttl_the_server_is_asked_again() {
    let mem = seeded().await;
    let c = CachedStorage::new(mem.clone(), opts(50));
    c.list_dir(&p("d")).await.unwrap();
    // Another device's change.
    mem.remove_file(&p("d/a.c9r")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(names(&c.list_dir(&p("d")).await.unwrap()), ["dir.c9r"]);
    assert_eq!(mem.calls("list_dir"), 2);
}

#[tokio::test]
async fn a_slow_or_unreachable_server_gets_the_known_answer_within_the_wait() {
    let mem = seeded().await;
    let c = CachedStorage::new(mem.clone(), opts(1));
    c.list_dir(&p("d")).await.unwrap();
    c.read_at(&p("d/dir.c9r"), 0, 100).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    // A link that stopped answering.
    mem.set_latency(Duration::from_secs(30));
    let t = Instant::now();
    assert_eq!(
        names(&c.list_dir(&p("d")).await.unwrap()),
        ["a.c9r", "dir.c9r"]
    );
    let first = t.elapsed();
    assert!(first >= Duration::from_millis(290), "{first:?}");
    assert!(first < Duration::from_millis(900), "{first:?}");
    // Once one revalidation went unanswered, the rest are served at once.
    let t = Instant::now();
    for _ in 0..10 {
        assert_eq!(c.metadata(&p("d/a.c9r")).await.unwrap().size, 4);
        assert_eq!(
            &c.read_at(&p("d/dir.c9r"), 0, 100).await.unwrap()[..],
            b"id"
        );
    }
    assert!(
        t.elapsed() < Duration::from_millis(100),
        "{:?}",
        t.elapsed()
    );
    // Without a known answer, the server is waited for (here: refuses).
    mem.set_latency(Duration::ZERO);
    mem.set_unavailable(true);
    let e = c.metadata(&p("elsewhere")).await.unwrap_err();
    assert_eq!(e.kind(), StorageErrorKind::Unavailable);
    // An unreachable server: the known answer at once.
    assert_eq!(
        names(&c.list_dir(&p("d")).await.unwrap()),
        ["a.c9r", "dir.c9r"]
    );
}

#[tokio::test]
async fn back_online_the_server_answers_again() {
    let mem = seeded().await;
    let c = CachedStorage::new(mem.clone(), opts(1));
    c.list_dir(&p("d")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    mem.set_unavailable(true);
    assert_eq!(
        names(&c.list_dir(&p("d")).await.unwrap()),
        ["a.c9r", "dir.c9r"]
    );
    // Back online: a revalidation that answers clears the offline state and is used.
    mem.set_unavailable(false);
    mem.remove_file(&p("d/a.c9r")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let _ = c.list_dir(&p("d")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(names(&c.list_dir(&p("d")).await.unwrap()), ["dir.c9r"]);
}

#[tokio::test]
async fn a_definite_answer_is_not_hidden_by_the_known_one() {
    let mem = seeded().await;
    let c = CachedStorage::new(mem.clone(), opts(1));
    c.metadata(&p("d/a.c9r")).await.unwrap();
    mem.remove_file(&p("d/a.c9r")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        c.metadata(&p("d/a.c9r")).await.unwrap_err().kind(),
        StorageErrorKind::NotFound
    );
}

#[tokio::test]
async fn persisted_answers_are_served_when_the_server_does_not_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    let mem = seeded().await;
    {
        let c = CachedStorage::persistent(mem.clone(), opts(60_000), Store::open(&dir).unwrap());
        // One mount at a time.
        match Store::open(&dir) {
            Err(StoreError::Locked { holder, .. }) => {
                assert_eq!(holder, Some(std::process::id()))
            }
            other => panic!("second open: {other:?}"),
        }
        c.list_dir(&p("d")).await.unwrap();
        c.read_at(&p("d/dir.c9r"), 0, 100).await.unwrap();
        c.sync_all().await.unwrap();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(store::DATA_FILE)), 0o600);
        assert_eq!(mode(&dir.join(store::LOCK_FILE)), 0o600);
    }
    // The next "mount": the lock is free again, and with the server gone the listing answers.
    let c = CachedStorage::persistent(mem.clone(), opts(60_000), Store::open(&dir).unwrap());
    mem.set_unavailable(true);
    mem.reset_calls();
    let t = Instant::now();
    assert_eq!(
        names(&c.list_dir(&p("d")).await.unwrap()),
        ["a.c9r", "dir.c9r"]
    );
    assert_eq!(
        c.metadata(&p("d/a.c9r")).await.unwrap().kind,
        EntryKind::File
    );
    assert_eq!(
        &c.read_at(&p("d/dir.c9r"), 0, 100).await.unwrap()[..],
        b"id"
    );
    assert!(t.elapsed() < Duration::from_millis(400));
    // A damaged file is ignored.
    drop(c);
    std::fs::write(dir.join(store::DATA_FILE), b"{not json").unwrap();
    let c = CachedStorage::persistent(mem.clone(), opts(60_000), Store::open(&dir).unwrap());
    assert_eq!(
        c.list_dir(&p("d")).await.unwrap_err().kind(),
        StorageErrorKind::Unavailable
    );
}

#[tokio::test]
async fn listings_are_bounded_in_total() {
    let mem = Arc::new(MemoryStorage::new());
    let c = CachedStorage::new(mem.clone(), opts(60_000));
    let big: Vec<DirEntry> = (0..MAX_LISTING)
        .map(|i| DirEntry {
            name: format!("n{i}"),
            metadata: Metadata {
                kind: EntryKind::File,
                size: 1,
                modified: None,
                version: None,
            },
        })
        .collect();
    let g = c.generation();
    for i in 0..(MAX_LISTED / MAX_LISTING + 2) {
        c.shared.put(
            g,
            &Key::Listing(p(&format!("d{i}"))),
            Answer::Listing(big.clone()),
        );
    }
    let st = c.shared.lock();
    let total: usize = st.tables.listings.values().map(|l| l.value.len()).sum();
    assert!(total <= MAX_LISTED, "{total}");
    assert_eq!(st.tables.listings.len(), MAX_LISTED / MAX_LISTING);
}

#[test]
fn a_lock_let_go_of_moments_later_is_waited_for() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    let held = Store::open(&dir).unwrap();
    assert!(matches!(
        Store::open_waiting(&dir, Duration::from_millis(200)),
        Err(StoreError::Locked { .. })
    ));
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(held);
    });
    Store::open_waiting(&dir, Duration::from_secs(5)).unwrap();
    releaser.join().unwrap();
}

#[tokio::test]
async fn a_fresh_listing_wins_over_an_older_answer_of_the_path() {
    let mem = seeded().await;
    let c = CachedStorage::new(mem.clone(), opts(100));
    assert_eq!(c.metadata(&p("d/a.c9r")).await.unwrap().size, 4);
    tokio::time::sleep(Duration::from_millis(150)).await;
    // Another device removed it; a fresh listing of the folder says so.
    mem.remove_file(&p("d/a.c9r")).await.unwrap();
    c.list_dir(&p("d")).await.unwrap();
    mem.reset_calls();
    assert_eq!(
        c.metadata(&p("d/a.c9r")).await.unwrap_err().kind(),
        StorageErrorKind::NotFound
    );
    assert_eq!(mem.calls("metadata"), 0);
}

#[tokio::test]
async fn an_own_write_keeps_the_folder_listed_for_a_link_cut() {
    let mem = seeded().await;
    let c = CachedStorage::new(mem.clone(), opts(60_000));
    c.list_dir(&p("d")).await.unwrap();
    put(&c, "d/new.c9r", b"12345", WriteMode::CreateNew).await;
    // Online: the listing is revalidated (not served fresh), and the server's answer wins.
    mem.reset_calls();
    let listed = c.list_dir(&p("d")).await.unwrap();
    assert_eq!(names(&listed), ["a.c9r", "dir.c9r", "new.c9r"]);
    assert_eq!(mem.calls("list_dir"), 1);
    let real = mem.metadata(&p("d/new.c9r")).await.unwrap();
    let new = listed.iter().find(|e| e.name == "new.c9r").unwrap();
    assert_eq!(new.metadata.version_tag(), real.version_tag());
    // Written again, then the link cut: the folder still answers, with the new entry (no made-up
    // version) and every other name.
    put(&c, "d/new.c9r", b"1234567", WriteMode::Overwrite).await;
    mem.set_unavailable(true);
    let listed = c.list_dir(&p("d")).await.unwrap();
    assert_eq!(names(&listed), ["a.c9r", "dir.c9r", "new.c9r"]);
    let m = c.metadata(&p("d/new.c9r")).await.unwrap();
    assert_eq!((m.size, m.modified, m.version), (7, None, None));
    assert_eq!(
        c.metadata(&p("d/other.c9r")).await.unwrap_err().kind(),
        StorageErrorKind::NotFound
    );
    // In a folder never listed, what we wrote is known all the same.
    mem.set_unavailable(false);
    mem.create_dir(&p("e")).await.unwrap();
    put(&c, "e/x.c9r", b"xy", WriteMode::CreateNew).await;
    mem.set_unavailable(true);
    assert_eq!(c.metadata(&p("e/x.c9r")).await.unwrap().size, 2);
}

#[tokio::test]
async fn a_folder_committed_by_a_rename_resolves_during_a_link_cut() {
    let mem = seeded().await;
    let c = CachedStorage::new(mem.clone(), opts(60_000));
    c.list_dir(&p("d")).await.unwrap();
    // How the engine makes a folder node: a temporary folder, its dir.c9r, one rename.
    c.create_dir(&p("d/tmp.c9r")).await.unwrap();
    put(&c, "d/tmp.c9r/dir.c9r", b"dir-id", WriteMode::CreateNew).await;
    c.rename(&p("d/tmp.c9r"), &p("d/node.c9r"), RenameMode::NoReplace)
        .await
        .unwrap();
    mem.set_unavailable(true);
    assert_eq!(
        c.metadata(&p("d/node.c9r")).await.unwrap().kind,
        EntryKind::Dir
    );
    assert_eq!(
        &c.read_at(&p("d/node.c9r/dir.c9r"), 0, 100).await.unwrap()[..],
        b"dir-id"
    );
    assert_eq!(
        names(&c.list_dir(&p("d")).await.unwrap()),
        ["a.c9r", "dir.c9r", "node.c9r"]
    );
    assert_eq!(
        c.metadata(&p("d/tmp.c9r")).await.unwrap_err().kind(),
        StorageErrorKind::NotFound
    );
}

#[tokio::test]
async fn the_servers_listing_wins_over_the_note_of_our_own_write() {
    let mem = seeded().await;
    let c = CachedStorage::new(mem.clone(), opts(1));
    c.list_dir(&p("d")).await.unwrap();
    put(&c, "d/new.c9r", b"12345", WriteMode::CreateNew).await;
    // Listed again online: the server's entry (with its mtime) is what is known, also offline.
    tokio::time::sleep(Duration::from_millis(5)).await;
    c.list_dir(&p("d")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    mem.set_unavailable(true);
    let m = c.metadata(&p("d/new.c9r")).await.unwrap();
    assert!(m.modified.is_some(), "{m:?}");
}

#[tokio::test]
async fn own_removals_keep_a_fresh_listing_fresh_without_the_name() {
    let mem = seeded().await;
    put(&*mem, "d/b.c9r", b"b", WriteMode::CreateNew).await;
    put(&*mem, "d/c.c9r", b"c", WriteMode::CreateNew).await;
    mem.reset_calls();
    let c = CachedStorage::new(mem.clone(), opts(60_000));
    assert_eq!(c.list_dir(&p("d")).await.unwrap().len(), 4);
    // `rm -r`: a lookup, then the removal, name after name.
    for name in ["a.c9r", "b.c9r"] {
        let path = p(&format!("d/{name}"));
        assert_eq!(c.metadata(&path).await.unwrap().kind, EntryKind::File);
        c.remove_file(&path).await.unwrap();
        let gone = c.metadata(&path).await.unwrap_err();
        assert_eq!(gone.kind(), StorageErrorKind::NotFound);
    }
    assert_eq!(
        names(&c.list_dir(&p("d")).await.unwrap()),
        ["c.c9r", "dir.c9r"]
    );
    assert_eq!(mem.calls("list_dir"), 1, "the listing stayed fresh");
    assert_eq!(mem.calls("metadata"), 0, "no lookup asked the server");
    assert_eq!(
        (mem.calls("remove_listed_file"), mem.calls("remove_file")),
        (2, 0),
        "a file the fresh listing shows is removed as listed"
    );

    // A removal that reached the server and failed: the folder is asked again.
    let e = c.remove_file(&p("d/none.c9r")).await.unwrap_err();
    assert_eq!(e.kind(), StorageErrorKind::NotFound);
    assert_eq!(
        mem.calls("remove_file"),
        1,
        "a name not listed: a plain removal"
    );
    assert_eq!(c.metadata(&p("d/c.c9r")).await.unwrap().size, 1);
    assert_eq!(
        mem.calls("list_dir") + mem.calls("metadata"),
        2,
        "after a failed removal the server is asked"
    );

    // Another client's removal shows once the listing is no longer fresh.
    let c = CachedStorage::new(mem.clone(), opts(50));
    assert_eq!(c.list_dir(&p("d")).await.unwrap().len(), 2);
    c.remove_file(&p("d/c.c9r")).await.unwrap();
    mem.remove_file(&p("d/dir.c9r")).await.unwrap();
    assert_eq!(names(&c.list_dir(&p("d")).await.unwrap()), ["dir.c9r"]);
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert!(c.list_dir(&p("d")).await.unwrap().is_empty());
}
