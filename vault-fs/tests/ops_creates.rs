//! Creates in a listed folder (issue 14): CREATE answers without a storage
//! request; each new file costs one create-new write at close; a name another
//! client took meanwhile fails an exclusive create's close with
//! `AlreadyExists` and keeps the other client's file, and is opened and
//! truncated by a non-exclusive truncating create exactly as a synchronous
//! open(O_CREAT|O_TRUNC) would. Storage requests are counted by `MemoryStorage`.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod ops_common;

use std::sync::Arc;

use ops_common::{client, new_vault, os};
use vault_fs::ops::{FsErrorKind, NodeId, ROOT, VaultFs};
use vault_storage::MemoryStorage;

const OPS: [&str; 15] = [
    "metadata",
    "list_dir",
    "read_at",
    "write",
    "write_at",
    "set_len",
    "sync",
    "sync_all",
    "create_dir",
    "rename",
    "remove_file",
    "remove_dir",
    "remove_dir_all",
    "set_modified",
    "space",
];

fn total(storage: &MemoryStorage) -> u64 {
    OPS.iter().map(|op| storage.calls(op)).sum()
}

fn trace(storage: &MemoryStorage) -> String {
    OPS.iter()
        .filter(|op| storage.calls(op) > 0)
        .map(|op| format!("{op}={}", storage.calls(op)))
        .collect::<Vec<_>>()
        .join(" ")
}

async fn listed_folder(fs: &VaultFs, name: &str) -> NodeId {
    let ino = fs.mkdir(ROOT, os(name)).await.unwrap().ino;
    let h = fs.opendir(ino).await.unwrap();
    fs.releasedir(h);
    ino
}

async fn names(fs: &VaultFs, dir: NodeId) -> Vec<String> {
    let h = fs.opendir(dir).await.unwrap();
    let mut names: Vec<String> = fs
        .readdir(h)
        .unwrap()
        .iter()
        .map(|e| e.name.clone())
        .collect();
    fs.releasedir(h);
    names.sort();
    names
}

/// One file as the kernel drives it (LOOKUP miss, CREATE, WRITE, FLUSH, RELEASE),
/// with the storage requests of each step.
async fn create_traced(
    fs: &VaultFs,
    storage: &MemoryStorage,
    dir: NodeId,
    name: &str,
    data: &[u8],
) -> Vec<(&'static str, String, u64)> {
    let mut steps = Vec::new();
    let mut step = |label: &'static str, storage: &MemoryStorage| {
        steps.push((label, trace(storage), total(storage)));
        storage.reset_calls();
    };
    storage.reset_calls();
    let miss = fs.lookup(dir, os(name)).await.unwrap_err();
    assert_eq!(miss.kind(), FsErrorKind::NotFound);
    step("LOOKUP", storage);
    let (_, opened) = fs.create(dir, os(name), true, false).await.unwrap();
    step("CREATE", storage);
    fs.write(opened.handle, 0, data).await.unwrap();
    step("WRITE", storage);
    fs.flush(opened.handle).await.unwrap();
    step("FLUSH", storage);
    fs.release(opened.handle).await.unwrap();
    step("RELEASE", storage);
    steps
}

#[tokio::test]
async fn creates_in_a_listed_folder_cost_no_request_under_the_directory_lock() {
    const N: usize = 50;
    let storage = new_vault().await;
    let fs = client(&storage).await;
    let dir = listed_folder(&fs, "many").await;
    let data = vec![7u8; 4096];
    let mut requests = 0;
    for i in 0..N {
        let steps = create_traced(&fs, &storage, dir, &format!("f{i:03}"), &data).await;
        if i == 0 {
            eprintln!("one create in a listed folder: {steps:?}");
        }
        for (label, what, n) in &steps {
            if matches!(*label, "LOOKUP" | "CREATE" | "WRITE") {
                assert_eq!(*n, 0, "{label} made storage requests: {what}");
            }
        }
        requests += steps.iter().map(|s| s.2).sum::<u64>();
    }
    // One create-new write per file, nothing else.
    assert_eq!(requests, N as u64, "storage requests for {N} new files");
    let listed = names(&fs, dir).await;
    assert_eq!(listed.len(), N);
    // Another client sees every file with its content.
    let other = client(&storage).await;
    let odir = other.lookup(ROOT, os("many")).await.unwrap().ino;
    let f = other.lookup(odir, os("f007")).await.unwrap();
    assert_eq!(f.size, 4096);
    let h = other.open(f.ino, false, false).await.unwrap();
    assert_eq!(&other.read(h.handle, 0, 8192).await.unwrap()[..], &data[..]);
    other.release(h.handle).await.unwrap();
}

#[tokio::test]
async fn a_folder_never_listed_takes_the_storage_path() {
    let storage = new_vault().await;
    let fs = client(&storage).await;
    let dir = fs.mkdir(ROOT, os("unlisted")).await.unwrap().ino;
    // Forget the name set the mkdir may have recorded: a second client's folder.
    let other = client(&storage).await;
    let odir = other.lookup(ROOT, os("unlisted")).await.unwrap().ino;
    let _ = dir;
    storage.reset_calls();
    let (_, opened) = other.create(odir, os("a"), true, false).await.unwrap();
    let create_requests = total(&storage);
    eprintln!(
        "CREATE in a folder with no known names: {}",
        trace(&storage)
    );
    assert!(
        create_requests > 0,
        "create answered without knowing the folder's names"
    );
    other.release(opened.handle).await.unwrap();
}

#[tokio::test]
async fn new_file_shows_in_stat_lookup_and_readdir_at_once() {
    let storage = new_vault().await;
    let fs = client(&storage).await;
    let dir = listed_folder(&fs, "d").await;
    let (attr, opened) = fs.create(dir, os("x"), true, false).await.unwrap();
    fs.write(opened.handle, 0, b"hello").await.unwrap();
    assert_eq!(fs.getattr(attr.ino).await.unwrap().size, 5);
    assert_eq!(fs.lookup(dir, os("x")).await.unwrap().ino, attr.ino);
    assert_eq!(&fs.read(opened.handle, 0, 100).await.unwrap()[..], b"hello");
    assert_eq!(names(&fs, dir).await, vec!["x".to_owned()]);
    // Written on after the listing stored it: still one file, whole content.
    fs.write(opened.handle, 5, b" world").await.unwrap();
    fs.flush(opened.handle).await.unwrap();
    fs.release(opened.handle).await.unwrap();
    let other = client(&storage).await;
    let odir = other.lookup(ROOT, os("d")).await.unwrap().ino;
    let x = other.lookup(odir, os("x")).await.unwrap();
    let h = other.open(x.ino, false, false).await.unwrap();
    assert_eq!(
        &other.read(h.handle, 0, 100).await.unwrap()[..],
        b"hello world"
    );
    other.release(h.handle).await.unwrap();
}

#[tokio::test]
async fn a_name_taken_by_another_client_meanwhile_fails_close_and_keeps_theirs() {
    let storage = new_vault().await;
    let ours = client(&storage).await;
    let dir = listed_folder(&ours, "shared").await;
    // The other client creates the same name after our listing.
    let theirs = client(&storage).await;
    let tdir = theirs.lookup(ROOT, os("shared")).await.unwrap().ino;
    let (_, h) = theirs.create(tdir, os("clash"), true, false).await.unwrap();
    theirs.write(h.handle, 0, b"theirs").await.unwrap();
    theirs.release(h.handle).await.unwrap();

    let (_, opened) = ours.create(dir, os("clash"), true, false).await.unwrap();
    ours.write(opened.handle, 0, b"ours, longer").await.unwrap();
    let err = ours.flush(opened.handle).await.unwrap_err();
    assert_eq!(err.kind(), FsErrorKind::AlreadyExists);
    // Release reports it again and writes nothing.
    assert!(ours.release(opened.handle).await.is_err());

    let x = theirs.lookup(tdir, os("clash")).await.unwrap();
    assert_eq!(x.size, 6);
    let h = theirs.open(x.ino, false, false).await.unwrap();
    assert_eq!(&theirs.read(h.handle, 0, 100).await.unwrap()[..], b"theirs");
    theirs.release(h.handle).await.unwrap();
    // Our client now sees their file under the name.
    let seen = ours.lookup(dir, os("clash")).await.unwrap();
    assert_eq!(seen.size, 6);
}

/// Committed content of `dir_name/name` as a fresh client reads it.
async fn stored(storage: &Arc<MemoryStorage>, dir_name: &str, name: &str) -> Vec<u8> {
    let c = client(storage).await;
    let d = c.lookup(ROOT, os(dir_name)).await.unwrap().ino;
    let f = c.lookup(d, os(name)).await.unwrap();
    let h = c.open(f.ino, false, false).await.unwrap();
    let data = c.read(h.handle, 0, 1 << 16).await.unwrap().to_vec();
    c.release(h.handle).await.unwrap();
    data
}

/// Another client creates `clash` (with content) after our listing (or with no
/// listing: `deferred == false` takes the synchronous storage path), then we
/// create it non-exclusively with O_TRUNC and write through the handle, as
/// `dd of=` / a shell's `>` do (`early_flush`: the dup2 close right after the
/// open). Returns what was observed at each step.
async fn truncating_create_of_a_taken_name(deferred: bool, early_flush: bool) -> Vec<String> {
    let storage = new_vault().await;
    let ours = client(&storage).await;
    let dir = if deferred {
        listed_folder(&ours, "shared").await
    } else {
        let theirs = client(&storage).await;
        theirs.mkdir(ROOT, os("shared")).await.unwrap();
        ours.lookup(ROOT, os("shared")).await.unwrap().ino
    };
    let theirs = client(&storage).await;
    let tdir = theirs.lookup(ROOT, os("shared")).await.unwrap().ino;
    let (_, h) = theirs.create(tdir, os("clash"), true, false).await.unwrap();
    theirs
        .write(h.handle, 0, b"their old content")
        .await
        .unwrap();
    theirs.release(h.handle).await.unwrap();

    let mut seen = Vec::new();
    let mut note = |what: &str, data: &[u8]| {
        seen.push(format!("{what}: {}", String::from_utf8_lossy(data)));
    };
    storage.reset_calls();
    let (attr, opened) = ours.create(dir, os("clash"), false, true).await.unwrap();
    let h = opened.handle;
    if deferred {
        assert_eq!(
            total(&storage),
            0,
            "not answered locally: {}",
            trace(&storage)
        );
    }
    note("size after create", attr.size.to_string().as_bytes());
    if early_flush {
        ours.flush(h).await.unwrap();
        note(
            "stored after an early flush",
            &stored(&storage, "shared", "clash").await,
        );
    }
    ours.write(h, 0, b"ours").await.unwrap();
    note(
        "read through the handle",
        &ours.read(h, 0, 100).await.unwrap(),
    );
    note(
        "stored before flush",
        &stored(&storage, "shared", "clash").await,
    );
    ours.flush(h).await.unwrap();
    note(
        "stored after flush",
        &stored(&storage, "shared", "clash").await,
    );
    ours.write(h, 4, b"+more").await.unwrap();
    ours.release(h).await.unwrap();
    note(
        "stored after release",
        &stored(&storage, "shared", "clash").await,
    );
    let size = ours.lookup(dir, os("clash")).await.unwrap().size;
    note("our size", size.to_string().as_bytes());
    note("listed", names(&ours, dir).await.join(",").as_bytes());
    seen
}

#[tokio::test]
async fn a_truncating_create_of_a_name_taken_meanwhile_opens_and_truncates_that_file() {
    for early_flush in [false, true] {
        let deferred = truncating_create_of_a_taken_name(true, early_flush).await;
        let synchronous = truncating_create_of_a_taken_name(false, early_flush).await;
        eprintln!("early flush {early_flush}: {deferred:#?}");
        assert_eq!(
            deferred, synchronous,
            "differs from a synchronous open(O_CREAT|O_TRUNC)"
        );
        // Nothing committed before a flush with writes: the truncation alone
        // stays in the shadow; no error anywhere; one file under the name.
        let mut expected = vec!["size after create: 0".to_owned()];
        if early_flush {
            expected.push("stored after an early flush: their old content".to_owned());
        }
        expected.extend(
            [
                "read through the handle: ours",
                "stored before flush: their old content",
                "stored after flush: ours",
                "stored after release: ours+more",
                "our size: 9",
                "listed: clash",
            ]
            .map(String::from),
        );
        assert_eq!(deferred, expected);
    }
}

#[tokio::test]
async fn an_exclusive_create_of_a_name_taken_meanwhile_fails_at_the_first_flush() {
    for truncate in [false, true] {
        let storage = new_vault().await;
        let ours = client(&storage).await;
        let dir = listed_folder(&ours, "shared").await;
        let theirs = client(&storage).await;
        let tdir = theirs.lookup(ROOT, os("shared")).await.unwrap().ino;
        let (_, h) = theirs.create(tdir, os("clash"), true, false).await.unwrap();
        theirs.write(h.handle, 0, b"theirs").await.unwrap();
        theirs.release(h.handle).await.unwrap();

        storage.reset_calls();
        // O_CREAT|O_EXCL (|O_TRUNC): answered locally, so it succeeds here...
        let (_, opened) = ours.create(dir, os("clash"), true, truncate).await.unwrap();
        assert_eq!(total(&storage), 0, "{}", trace(&storage));
        ours.write(opened.handle, 0, b"ours").await.unwrap();
        // ...and close(2)'s flush is where EEXIST is reported.
        let err = ours.flush(opened.handle).await.unwrap_err();
        assert_eq!(
            err.kind(),
            FsErrorKind::AlreadyExists,
            "truncate {truncate}"
        );
        assert!(ours.write(opened.handle, 4, b"x").await.is_err());
        assert!(ours.release(opened.handle).await.is_err());
        assert_eq!(stored(&storage, "shared", "clash").await, b"theirs");
    }
}

#[tokio::test]
async fn a_create_neither_exclusive_nor_truncating_takes_the_storage_path() {
    let storage = new_vault().await;
    let ours = client(&storage).await;
    let dir = listed_folder(&ours, "shared").await;
    let theirs = client(&storage).await;
    let tdir = theirs.lookup(ROOT, os("shared")).await.unwrap().ino;
    let (_, h) = theirs.create(tdir, os("clash"), true, false).await.unwrap();
    theirs.write(h.handle, 0, b"their content").await.unwrap();
    theirs.release(h.handle).await.unwrap();

    // O_CREAT alone: the existing file's content must stay under our writes,
    // which only the storage knows.
    storage.reset_calls();
    let (attr, opened) = ours.create(dir, os("clash"), false, false).await.unwrap();
    assert!(total(&storage) > 0, "answered locally");
    assert_eq!(attr.size, 13);
    ours.write(opened.handle, 0, b"OUR").await.unwrap();
    ours.release(opened.handle).await.unwrap();
    assert_eq!(stored(&storage, "shared", "clash").await, b"OURir content");
}

#[tokio::test]
async fn a_shell_redirect_costs_one_request_and_an_empty_one_is_stored_at_release() {
    let storage = new_vault().await;
    let fs = client(&storage).await;
    let dir = listed_folder(&fs, "d").await;
    // `cat SRC > F`: LOOKUP miss, CREATE (O_CREAT|O_TRUNC), FLUSH of the descriptor the
    // shell dup2'd away, WRITE, FLUSH at close, RELEASE.
    storage.reset_calls();
    let miss = fs.lookup(dir, os("f")).await.unwrap_err();
    assert_eq!(miss.kind(), FsErrorKind::NotFound);
    let (_, opened) = fs.create(dir, os("f"), false, true).await.unwrap();
    fs.flush(opened.handle).await.unwrap();
    assert_eq!(total(&storage), 0, "before the write: {}", trace(&storage));
    fs.write(opened.handle, 0, &[5u8; 4096]).await.unwrap();
    fs.flush(opened.handle).await.unwrap();
    fs.release(opened.handle).await.unwrap();
    assert_eq!(trace(&storage), "write=1");
    assert_eq!(stored(&storage, "d", "f").await, vec![5u8; 4096]);

    // `: > E`: nothing written; the release stores the empty file.
    let (_, opened) = fs.create(dir, os("e"), false, true).await.unwrap();
    fs.flush(opened.handle).await.unwrap();
    fs.release(opened.handle).await.unwrap();
    assert_eq!(stored(&storage, "d", "e").await, b"");
    assert_eq!(names(&fs, dir).await, vec!["e".to_owned(), "f".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_files_of_one_folder_reach_storage_concurrently() {
    const WRITERS: usize = 8;
    const LATENCY: std::time::Duration = std::time::Duration::from_millis(150);
    let storage = new_vault().await;
    let fs = Arc::new(client(&storage).await);
    let dir = listed_folder(&fs, "d").await;
    let mut handles = Vec::new();
    for i in 0..WRITERS {
        let (_, opened) = fs
            .create(dir, os(&format!("f{i}")), false, true)
            .await
            .unwrap();
        fs.write(opened.handle, 0, &[i as u8; 4096]).await.unwrap();
        handles.push(opened.handle);
    }
    // Each store is one storage write; one folder's stores must not queue behind each other.
    storage.set_latency(LATENCY);
    let t = std::time::Instant::now();
    let flushes: Vec<_> = handles
        .iter()
        .map(|&h| {
            let fs = Arc::clone(&fs);
            tokio::spawn(async move { fs.flush(h).await })
        })
        .collect();
    for f in flushes {
        f.await.unwrap().unwrap();
    }
    let took = t.elapsed();
    storage.set_latency(std::time::Duration::ZERO);
    eprintln!("{WRITERS} concurrent stores at {LATENCY:?} per request: {took:?}");
    assert!(
        took < LATENCY * (WRITERS as u32) / 2,
        "{WRITERS} stores took {took:?}: serialised"
    );
    for h in handles {
        fs.release(h).await.unwrap();
    }
    assert_eq!(names(&fs, dir).await.len(), WRITERS);
}

/// A new file that outgrows what a create answered locally holds in memory (a large copy):
/// the content so far is neither stored as the file nor read back; the file is created empty
/// and everything goes through its shadow. (It was stored as the file, read back when the
/// file was opened and copied into the shadow at commit: three transfers of 1 MiB on a
/// remote link before the rest could flow.)
#[tokio::test]
async fn a_new_file_outgrowing_the_local_buffer_is_not_read_back() {
    let storage = new_vault().await;
    let fs = client(&storage).await;
    let dir = listed_folder(&fs, "d").await;
    let data: Vec<u8> = (0..3usize << 20).map(|i| (i % 251) as u8).collect();
    storage.reset_calls();
    let (_, opened) = fs.create(dir, os("big"), true, false).await.unwrap();
    for (i, piece) in data.chunks(128 << 10).enumerate() {
        fs.write(opened.handle, (i << 17) as u64, piece)
            .await
            .unwrap();
    }
    fs.flush(opened.handle).await.unwrap();
    fs.release(opened.handle).await.unwrap();
    assert_eq!(storage.calls("read_at"), 0, "{}", trace(&storage));
    let c = client(&storage).await;
    let d = c.lookup(ROOT, os("d")).await.unwrap().ino;
    let f = c.lookup(d, os("big")).await.unwrap();
    assert_eq!(f.size, data.len() as u64);
    let h = c.open(f.ino, false, false).await.unwrap();
    let mut back = Vec::new();
    while back.len() < data.len() {
        let part = c.read(h.handle, back.len() as u64, 1 << 20).await.unwrap();
        assert!(!part.is_empty(), "short at {}", back.len());
        back.extend_from_slice(&part);
    }
    c.release(h.handle).await.unwrap();
    assert!(back == data, "content differs");
}
