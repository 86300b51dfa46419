//! Creates in a listed folder (issue 14): CREATE answers without a storage
//! request; each new file costs one create-new write at close; a name another
//! client took meanwhile fails close with `AlreadyExists` and keeps the other
//! client's file. Storage requests are counted by `MemoryStorage`.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::ffi::OsStr;
use std::sync::Arc;

use vault_engine::{CreateOptions, OpenOptions, Vault};
use vault_fs::ops::{FsConfig, FsErrorKind, NodeId, ROOT, VaultFs};
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

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

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

async fn new_vault() -> Arc<MemoryStorage> {
    let storage = Arc::new(MemoryStorage::new());
    Vault::create(
        storage.clone(),
        "pw",
        CreateOptions {
            scrypt_cost: 1024,
            ..CreateOptions::default()
        },
    )
    .await
    .unwrap();
    storage
}

async fn client(storage: &Arc<MemoryStorage>) -> VaultFs {
    let vault = Vault::unlock(storage.clone(), "pw", OpenOptions::default())
        .await
        .unwrap();
    VaultFs::new(Arc::new(vault), FsConfig::default())
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
