//! A listing reused for a reopen right after it (`rm -r` opens every folder twice): the
//! reopen asks storage nothing, every change made through the mount in between makes it
//! list again, and another client's change shows once `LISTING_REUSE` has passed.
//! Storage requests are counted by `MemoryStorage`.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod ops_common;

use ops_common::{client, new_vault, os};
use vault_fs::ops::{LISTING_REUSE, NodeId, ROOT, RenameFlags, SetAttr, VaultFs};

async fn write_file(fs: &VaultFs, parent: NodeId, name: &str, data: &[u8]) {
    let (_, opened) = fs.create(parent, os(name), true, false).await.unwrap();
    fs.write(opened.handle, 0, data).await.unwrap();
    fs.release(opened.handle).await.unwrap();
}

/// `(name, size)` of every entry an opendir presents, sorted.
async fn listing(fs: &VaultFs, dir: NodeId) -> Vec<(String, u64)> {
    let h = fs.opendir(dir).await.unwrap();
    let mut out: Vec<(String, u64)> = fs
        .readdir(h)
        .unwrap()
        .iter()
        .map(|e| (e.name.clone(), e.attr.size))
        .collect();
    fs.releasedir(h);
    out.sort();
    out
}

/// A folder `d` holding `a` (3 bytes) and `b` (5 bytes), listed once.
async fn listed_folder(fs: &VaultFs) -> NodeId {
    let dir = fs.mkdir(ROOT, os("d")).await.unwrap().ino;
    write_file(fs, dir, "a", b"aaa").await;
    write_file(fs, dir, "b", b"bbbbb").await;
    listing(fs, dir).await;
    dir
}

fn entries(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|(n, s)| (n.to_string(), *s)).collect()
}

#[tokio::test]
async fn a_reopen_right_after_a_listing_asks_storage_nothing() {
    let storage = new_vault().await;
    let fs = client(&storage).await;
    let dir = listed_folder(&fs).await;
    storage.reset_calls();
    let again = listing(&fs, dir).await;
    assert_eq!(again, entries(&[("a", 3), ("b", 5)]));
    assert_eq!(storage.calls("list_dir"), 0);
    assert_eq!(storage.calls("metadata"), 0);
    // Another folder is listed on storage as before.
    listing(&fs, ROOT).await;
    assert_eq!(storage.calls("list_dir"), 1);
}

#[tokio::test]
async fn every_change_through_the_mount_shows_at_the_next_opendir() {
    let storage = new_vault().await;
    let fs = client(&storage).await;
    let dir = listed_folder(&fs).await;

    fs.unlink(dir, os("a")).await.unwrap();
    assert_eq!(listing(&fs, dir).await, entries(&[("b", 5)]));

    write_file(&fs, dir, "c", b"cc").await;
    assert_eq!(listing(&fs, dir).await, entries(&[("b", 5), ("c", 2)]));

    // A write into an existing file, closed: the next listing has its new size.
    let b = fs.lookup(dir, os("b")).await.unwrap().ino;
    let opened = fs.open(b, true, false).await.unwrap();
    fs.write(opened.handle, 5, b"-longer").await.unwrap();
    fs.release(opened.handle).await.unwrap();
    assert_eq!(listing(&fs, dir).await, entries(&[("b", 12), ("c", 2)]));

    // Listed while open (the open file gives the size), then written and closed.
    let opened = fs.open(b, true, false).await.unwrap();
    fs.write(opened.handle, 12, b"!").await.unwrap();
    assert_eq!(listing(&fs, dir).await, entries(&[("b", 13), ("c", 2)]));
    fs.write(opened.handle, 13, b"!").await.unwrap();
    fs.release(opened.handle).await.unwrap();
    assert_eq!(listing(&fs, dir).await, entries(&[("b", 14), ("c", 2)]));

    let c = fs.lookup(dir, os("c")).await.unwrap().ino;
    fs.setattr(
        c,
        SetAttr {
            size: Some(1),
            ..SetAttr::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(listing(&fs, dir).await, entries(&[("b", 14), ("c", 1)]));

    fs.rename(dir, os("c"), dir, os("e"), RenameFlags::default())
        .await
        .unwrap();
    assert_eq!(listing(&fs, dir).await, entries(&[("b", 14), ("e", 1)]));

    fs.mkdir(dir, os("sub")).await.unwrap();
    let names: Vec<String> = listing(&fs, dir).await.into_iter().map(|e| e.0).collect();
    assert_eq!(names, ["b", "e", "sub"]);
}

#[tokio::test]
async fn another_clients_change_shows_once_the_reuse_time_has_passed() {
    let storage = new_vault().await;
    let ours = client(&storage).await;
    let dir = listed_folder(&ours).await;
    let theirs = client(&storage).await;
    let tdir = theirs.lookup(ROOT, os("d")).await.unwrap().ino;
    write_file(&theirs, tdir, "theirs", b"t").await;
    tokio::time::sleep(LISTING_REUSE + std::time::Duration::from_millis(50)).await;
    assert_eq!(
        listing(&ours, dir).await,
        entries(&[("a", 3), ("b", 5), ("theirs", 1)])
    );
}
