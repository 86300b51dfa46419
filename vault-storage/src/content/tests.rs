use std::time::Duration;

use super::*;
use crate::MemoryStorage;

fn p(s: &str) -> StoragePath {
    StoragePath::new(s).unwrap()
}

fn bytes_of(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn put(mem: &MemoryStorage, path: &str, data: &[u8]) {
    mem.write(
        &p(path),
        Body::from_bytes(data.to_vec()),
        WriteMode::Overwrite,
    )
    .await
    .unwrap();
}

/// A memory storage with `d/` holding `a`, `b`, `c`, `e` (1000 bytes each) and a cache over it
/// attached to a temp folder.
async fn setup(max_size: u64) -> (Arc<MemoryStorage>, ContentCache, tempfile::TempDir) {
    let mem = Arc::new(MemoryStorage::new());
    mem.create_dir(&p("d")).await.unwrap();
    for (i, n) in ["a", "b", "c", "e"].iter().enumerate() {
        put(&mem, &format!("d/{n}"), &bytes_of(1000, i as u8)).await;
    }
    mem.reset_calls();
    let tmp = tempfile::tempdir().unwrap();
    let cache = ContentCache::new(mem.clone(), ContentOptions { max_size });
    cache.attach(&tmp.path().join(CONTENT_DIR)).unwrap();
    (mem, cache, tmp)
}

#[tokio::test]
async fn hit_is_served_without_reading_the_storage() {
    let (mem, cache, _tmp) = setup(1 << 20).await;
    let first = cache.read_at(&p("d/a"), 10, 100).await.unwrap();
    assert_eq!(&first[..], &bytes_of(1000, 0)[10..110]);
    assert_eq!(mem.calls("read_at"), 1);
    let again = cache.read_at(&p("d/a"), 900, 500).await.unwrap();
    assert_eq!(&again[..], &bytes_of(1000, 0)[900..]);
    assert_eq!(mem.calls("read_at"), 1, "second read came from the cache");
    assert!(cache.is_cached(&p("d/a")));
}

#[tokio::test]
async fn version_change_on_the_server_is_fetched() {
    let (mem, cache, _tmp) = setup(1 << 20).await;
    cache.read_at(&p("d/a"), 0, 1000).await.unwrap();
    // Another client replaces it (not through the cache): a new size, so a new version tag.
    put(&mem, "d/a", &bytes_of(1200, 9)).await;
    let got = cache.read_at(&p("d/a"), 0, 2000).await.unwrap();
    assert_eq!(&got[..], &bytes_of(1200, 9)[..]);
}

#[tokio::test]
async fn own_write_replaces_the_entry() {
    let (_mem, cache, _tmp) = setup(1 << 20).await;
    cache.read_at(&p("d/a"), 0, 1000).await.unwrap();
    cache
        .write(
            &p("d/a"),
            Body::from_bytes(bytes_of(1000, 7)),
            WriteMode::Overwrite,
        )
        .await
        .unwrap();
    assert!(!cache.is_cached(&p("d/a")));
    let got = cache.read_at(&p("d/a"), 0, 1000).await.unwrap();
    assert_eq!(&got[..], &bytes_of(1000, 7)[..]);
}

#[tokio::test]
async fn unreachable_storage_serves_cached_and_fails_uncached() {
    let (mem, cache, _tmp) = setup(1 << 20).await;
    cache.read_at(&p("d/a"), 0, 1000).await.unwrap();
    mem.set_unavailable(true);
    let got = cache.read_at(&p("d/a"), 0, 1000).await.unwrap();
    assert_eq!(&got[..], &bytes_of(1000, 0)[..]);
    let e = cache.read_at(&p("d/b"), 0, 1000).await.unwrap_err();
    assert_eq!(e.kind(), StorageErrorKind::Unavailable);
}

#[tokio::test]
async fn least_recently_used_is_evicted_first() {
    let (_mem, cache, _tmp) = setup(3000).await;
    for n in ["a", "b", "c"] {
        cache.read_at(&p(&format!("d/{n}")), 0, 10).await.unwrap();
    }
    // `a` used again: `b` is now the least recently used.
    cache.read_at(&p("d/a"), 0, 10).await.unwrap();
    cache.read_at(&p("d/e"), 0, 10).await.unwrap();
    assert!(cache.is_cached(&p("d/a")));
    assert!(!cache.is_cached(&p("d/b")), "b was least recently used");
    assert!(cache.is_cached(&p("d/c")));
    assert!(cache.is_cached(&p("d/e")));
    assert_eq!(cache.used_bytes(), 3000);
}

#[tokio::test]
async fn pinned_content_is_never_evicted() {
    let (mem, cache, _tmp) = setup(1500).await;
    assert_eq!(cache.pin(&[p("d/a")]).unwrap(), 1);
    let report = cache.fetch(None).await;
    assert_eq!((report.fetched, report.failed), (1, 0));
    for n in ["b", "c", "e"] {
        cache.read_at(&p(&format!("d/{n}")), 0, 10).await.unwrap();
    }
    assert!(cache.is_cached(&p("d/a")), "pinned entry evicted");
    // Unpinned: evicted as soon as the bound asks.
    cache.unpin(&[p("d/a")]).unwrap();
    assert!(cache.used_bytes() <= 1500);
    // A second fetch of a current pin fetches nothing.
    cache.pin(&[p("d/e")]).unwrap();
    mem.reset_calls();
    let r = cache.fetch(Some(&[p("d/e")])).await;
    assert_eq!(r.fetched + r.current, 1);
}

#[tokio::test]
async fn pinned_folder_covers_files_added_later_and_survives_reattach() {
    let (mem, cache, tmp) = setup(1 << 20).await;
    cache.pin(&[p("d")]).unwrap();
    put(&mem, "d/new", &bytes_of(300, 3)).await;
    let r = cache.fetch(None).await;
    assert_eq!((r.fetched, r.failed), (5, 0), "{r:?}");
    assert!(cache.is_pinned(&p("d/new")));
    drop(cache);
    // A new mount of the same folder, offline: pins and content are there.
    let cache = ContentCache::new(mem.clone(), ContentOptions::default());
    cache.attach(&tmp.path().join(CONTENT_DIR)).unwrap();
    assert_eq!(cache.pins(), vec![p("d")]);
    mem.set_unavailable(true);
    let got = cache.read_at(&p("d/new"), 0, 1000).await.unwrap();
    assert_eq!(&got[..], &bytes_of(300, 3)[..]);
}

#[tokio::test]
async fn failing_cache_write_still_serves_the_read() {
    let (mem, cache, _tmp) = setup(1 << 20).await;
    cache.set_write_fault(Some(std::io::ErrorKind::StorageFull));
    let got = cache.read_at(&p("d/a"), 0, 1000).await.unwrap();
    assert_eq!(&got[..], &bytes_of(1000, 0)[..]);
    assert!(!cache.is_cached(&p("d/a")));
    // Pinned fetches fail without harm too.
    cache.pin(&[p("d/b")]).unwrap_or(0);
    let r = cache.fetch(Some(&[p("d/b")])).await;
    assert_eq!(r.failed, 1);
    cache.set_write_fault(None);
    cache.read_at(&p("d/a"), 0, 1000).await.unwrap();
    assert!(cache.is_cached(&p("d/a")));
    assert_eq!(mem.calls("read_at"), 2);
}

#[tokio::test]
async fn rename_carries_pins_and_remove_drops_them() {
    let (_mem, cache, _tmp) = setup(1 << 20).await;
    cache.pin(&[p("d/a")]).unwrap();
    cache
        .rename(&p("d/a"), &p("d/z"), RenameMode::NoReplace)
        .await
        .unwrap();
    assert_eq!(cache.pins(), vec![p("d/z")]);
    cache.remove_file(&p("d/z")).await.unwrap();
    assert!(cache.pins().is_empty());
}

#[cfg(unix)]
#[tokio::test]
async fn files_are_private_and_damaged_entries_are_dropped() {
    use std::os::unix::fs::PermissionsExt as _;
    let (mem, cache, tmp) = setup(1 << 20).await;
    cache.read_at(&p("d/a"), 0, 10).await.unwrap();
    cache.pin(&[p("d/b")]).unwrap();
    let dir = tmp.path().join(CONTENT_DIR);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    let mut files = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let e = e.unwrap();
        assert_eq!(mode(&e.path()), 0o600, "{}", e.path().display());
        files += 1;
        if e.file_name() != disk::PINS_FILE {
            // Cut short: a crash mid-write.
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(e.path())
                .unwrap();
            f.set_len(50).unwrap();
        }
    }
    assert_eq!(files, 2);
    drop(cache);
    let cache = ContentCache::new(mem.clone(), ContentOptions::default());
    cache.attach(&dir).unwrap();
    assert!(!cache.is_cached(&p("d/a")), "a damaged entry was kept");
    assert_eq!(cache.used_bytes(), 0);
}

#[tokio::test]
async fn a_file_written_into_a_pinned_folder_is_fetched() {
    let (mem, cache, _tmp) = setup(1 << 20).await;
    cache.pin(&[p("d")]).unwrap();
    cache
        .write(
            &p("d/later"),
            Body::from_bytes(bytes_of(700, 5)),
            WriteMode::CreateNew,
        )
        .await
        .unwrap();
    let t = std::time::Instant::now();
    while !cache.is_cached(&p("d/later")) {
        assert!(t.elapsed() < Duration::from_secs(5), "not fetched");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    mem.set_unavailable(true);
    let got = cache.read_at(&p("d/later"), 0, 1000).await.unwrap();
    assert_eq!(&got[..], &bytes_of(700, 5)[..]);
    // Not under a pin: not fetched.
    mem.set_unavailable(false);
    cache
        .write(
            &p("x"),
            Body::from_bytes(bytes_of(10, 1)),
            WriteMode::CreateNew,
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!cache.is_cached(&p("x")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_reads_fetch_the_object_once() {
    let (mem, cache, _tmp) = setup(1 << 20).await;
    mem.set_latency(Duration::from_millis(50));
    let cache = Arc::new(cache);
    let reads: Vec<_> = (0..8)
        .map(|i| {
            let c = cache.clone();
            tokio::spawn(async move { c.read_at(&p("d/a"), i * 100, 100).await.unwrap() })
        })
        .collect();
    for (i, r) in reads.into_iter().enumerate() {
        let got = r.await.unwrap();
        assert_eq!(&got[..], &bytes_of(1000, 0)[i * 100..i * 100 + 100]);
    }
    assert_eq!(
        mem.calls("read_at"),
        1,
        "the object was fetched more than once"
    );
}
