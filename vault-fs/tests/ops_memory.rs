//! The operations layer (`VaultFs`) without a kernel: every verb the FUSE adapter forwards,
//! called directly over a vault in memory. Runs on any machine with the Rust toolchain (no FUSE
//! device, no mount); the mount tests beside it prove the adapter on top.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod ops_common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ops_common::{client_with, new_vault, os};
use vault_engine::{OpenOptions, Vault};
use vault_fs::ops::{FileKind, FsConfig, FsErrorKind, NodeId, ROOT, RenameFlags, SetAttr, VaultFs};
use vault_storage::{MemoryStorage, Storage, StoragePath};

async fn new_fs(read_only: bool) -> (Arc<MemoryStorage>, VaultFs) {
    let storage = new_vault().await;
    let config = FsConfig {
        read_only,
        ..FsConfig::default()
    };
    let fs = client_with(&storage, config).await;
    (storage, fs)
}

/// Creates `name` in `parent` holding `data`, closes it, returns its node.
async fn write_file(fs: &VaultFs, parent: NodeId, name: &str, data: &[u8]) -> NodeId {
    let (attr, opened) = fs.create(parent, os(name), true, false).await.unwrap();
    assert_eq!(fs.write(opened.handle, 0, data).await.unwrap(), data.len());
    fs.flush(opened.handle).await.unwrap();
    fs.release(opened.handle).await.unwrap();
    attr.ino
}

async fn read_file(fs: &VaultFs, ino: NodeId) -> Vec<u8> {
    let opened = fs.open(ino, false, false).await.unwrap();
    let size = fs.getattr(ino).await.unwrap().size as usize;
    let data = fs.read(opened.handle, 0, size + 10).await.unwrap().to_vec();
    fs.release(opened.handle).await.unwrap();
    data
}

async fn names(fs: &VaultFs, dir: NodeId) -> Vec<String> {
    let h = fs.opendir(dir).await.unwrap();
    let mut names: Vec<String> = fs
        .readdir(h)
        .unwrap()
        .iter()
        .map(|e| e.name.clone())
        .filter(|n| n != "." && n != "..")
        .collect();
    fs.releasedir(h);
    names.sort();
    names
}

/// Every ciphertext object in the storage (paths), for "nothing was written" checks.
async fn objects(storage: &MemoryStorage) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![StoragePath::root()];
    while let Some(dir) = todo.pop() {
        for e in storage.list_dir(&dir).await.unwrap() {
            let p = dir.join(&e.name).unwrap();
            if e.metadata.kind == vault_storage::EntryKind::Dir {
                todo.push(p.clone());
            }
            out.push(format!("{p}:{}", e.metadata.size));
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn files_round_trip_across_chunk_boundaries() {
    let (_, fs) = new_fs(false).await;
    for len in [0usize, 1, 32 * 1024 - 1, 32 * 1024, 32 * 1024 + 1, 100_000] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let ino = write_file(&fs, ROOT, &format!("f{len}"), &data).await;
        assert_eq!(
            fs.getattr(ino).await.unwrap().size,
            len as u64,
            "size of f{len}"
        );
        assert_eq!(read_file(&fs, ino).await, data, "content of f{len}");
    }
}

#[tokio::test]
async fn overwrite_in_the_middle_and_truncate() {
    let (_, fs) = new_fs(false).await;
    let ino = write_file(&fs, ROOT, "f", &[b'a'; 70_000]).await;
    let opened = fs.open(ino, true, false).await.unwrap();
    fs.write(opened.handle, 40_000, b"XYZ").await.unwrap();
    fs.release(opened.handle).await.unwrap();
    let mut expected = vec![b'a'; 70_000];
    expected[40_000..40_003].copy_from_slice(b"XYZ");
    assert_eq!(read_file(&fs, ino).await, expected);

    let attr = fs
        .setattr(
            ino,
            SetAttr {
                size: Some(5),
                ..SetAttr::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(attr.size, 5);
    assert_eq!(read_file(&fs, ino).await, b"aaaaa");
}

/// truncate(2) by path while a descriptor is open: the kernel does not wait for
/// the last release, so the truncation may arrive just before or just after it.
/// Either way storage and stat end with the truncated size.
#[tokio::test]
async fn truncate_by_path_while_open_survives_the_last_release() {
    for order in ["truncate, release", "release, truncate", "concurrently"] {
        let (_, fs) = new_fs(false).await;
        let ino = write_file(&fs, ROOT, "f", b"").await;
        let opened = fs.open(ino, true, false).await.unwrap();
        fs.write(opened.handle, 0, &[b'z'; 70_000]).await.unwrap();
        let by_path = SetAttr {
            size: Some(5),
            ..SetAttr::default()
        };
        match order {
            "truncate, release" => {
                fs.setattr(ino, by_path).await.unwrap();
                fs.release(opened.handle).await.unwrap();
            }
            "release, truncate" => {
                fs.release(opened.handle).await.unwrap();
                assert_eq!(fs.getattr(ino).await.unwrap().size, 70_000);
                fs.setattr(ino, by_path).await.unwrap();
            }
            _ => {
                let (released, truncated) =
                    tokio::join!(fs.release(opened.handle), fs.setattr(ino, by_path));
                released.unwrap();
                truncated.unwrap();
            }
        }
        assert_eq!(fs.getattr(ino).await.unwrap().size, 5, "{order}");
        assert_eq!(read_file(&fs, ino).await, b"zzzzz", "{order}");
    }
}

#[tokio::test]
async fn directories_nest_list_and_refuse_rmdir_when_not_empty() {
    let (_, fs) = new_fs(false).await;
    let a = fs.mkdir(ROOT, os("a")).await.unwrap();
    assert_eq!(a.kind, FileKind::Dir);
    let b = fs.mkdir(a.ino, os("b")).await.unwrap();
    write_file(&fs, b.ino, "deep.txt", b"deep").await;
    assert_eq!(names(&fs, ROOT).await, ["a"]);
    assert_eq!(names(&fs, a.ino).await, ["b"]);
    assert_eq!(names(&fs, b.ino).await, ["deep.txt"]);
    assert_eq!(
        fs.resolve_path("/a/b/deep.txt").await.unwrap(),
        fs.lookup(b.ino, os("deep.txt")).await.unwrap().ino
    );

    let err = fs.rmdir(ROOT, os("a")).await.unwrap_err();
    assert_eq!(err.kind(), FsErrorKind::NotEmpty);
    assert_eq!(
        fs.mkdir(ROOT, os("a")).await.unwrap_err().kind(),
        FsErrorKind::AlreadyExists
    );
    fs.unlink(b.ino, os("deep.txt")).await.unwrap();
    fs.rmdir(a.ino, os("b")).await.unwrap();
    fs.rmdir(ROOT, os("a")).await.unwrap();
    assert!(names(&fs, ROOT).await.is_empty());
    assert_eq!(
        fs.lookup(ROOT, os("a")).await.unwrap_err().kind(),
        FsErrorKind::NotFound
    );
}

#[tokio::test]
async fn rename_moves_files_and_folders_and_honours_no_replace() {
    let (_, fs) = new_fs(false).await;
    let d = fs.mkdir(ROOT, os("d")).await.unwrap();
    write_file(&fs, ROOT, "f", b"one").await;
    write_file(&fs, d.ino, "g", b"two").await;

    fs.rename(ROOT, os("f"), d.ino, os("f2"), RenameFlags::default())
        .await
        .unwrap();
    assert_eq!(names(&fs, d.ino).await, ["f2", "g"]);
    let moved = fs.lookup(d.ino, os("f2")).await.unwrap().ino;
    assert_eq!(read_file(&fs, moved).await, b"one");

    let no_replace = RenameFlags {
        no_replace: true,
        ..RenameFlags::default()
    };
    let err = fs
        .rename(d.ino, os("f2"), d.ino, os("g"), no_replace)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), FsErrorKind::AlreadyExists);

    // Replacing rename: g now holds "one".
    fs.rename(d.ino, os("f2"), d.ino, os("g"), RenameFlags::default())
        .await
        .unwrap();
    let g = fs.lookup(d.ino, os("g")).await.unwrap().ino;
    assert_eq!(read_file(&fs, g).await, b"one");

    // A folder cannot move into itself.
    let inner = fs.mkdir(d.ino, os("inner")).await.unwrap();
    let err = fs
        .rename(ROOT, os("d"), inner.ino, os("d"), RenameFlags::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), FsErrorKind::InvalidArgument);

    // Folders move with their contents.
    fs.rename(ROOT, os("d"), ROOT, os("e"), RenameFlags::default())
        .await
        .unwrap();
    assert_eq!(names(&fs, ROOT).await, ["e"]);
    let e = fs.lookup(ROOT, os("e")).await.unwrap().ino;
    assert_eq!(names(&fs, e).await, ["g", "inner"]);
}

#[tokio::test]
async fn symlinks_keep_their_target() {
    let (_, fs) = new_fs(false).await;
    let l = fs.symlink(ROOT, os("l"), os("target.txt")).await.unwrap();
    assert_eq!(l.kind, FileKind::Symlink);
    assert_eq!(fs.readlink(l.ino).await.unwrap(), "target.txt");
}

#[tokio::test]
async fn unlinked_open_file_stays_readable_until_closed() {
    let (_, fs) = new_fs(false).await;
    let ino = write_file(&fs, ROOT, "f", b"still here").await;
    let opened = fs.open(ino, false, false).await.unwrap();
    fs.unlink(ROOT, os("f")).await.unwrap();
    assert!(names(&fs, ROOT).await.is_empty(), "hidden while open");
    let data = fs.read(opened.handle, 0, 100).await.unwrap();
    assert_eq!(&data[..], b"still here");
    fs.release(opened.handle).await.unwrap();
    assert!(names(&fs, ROOT).await.is_empty());
}

#[tokio::test]
async fn mtime_set_is_kept() {
    let (_, fs) = new_fs(false).await;
    let ino = write_file(&fs, ROOT, "f", b"x").await;
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    fs.setattr(
        ino,
        SetAttr {
            mtime: Some(when),
            ..SetAttr::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(fs.getattr(ino).await.unwrap().mtime, when);
}

#[tokio::test]
async fn bad_names_are_refused() {
    let (_, fs) = new_fs(false).await;
    for bad in ["..", ".", "a/b", &"x".repeat(256)] {
        let err = fs.create(ROOT, os(bad), true, false).await.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                FsErrorKind::InvalidName | FsErrorKind::NameTooLong | FsErrorKind::AlreadyExists
            ),
            "{bad:?}: {:?}",
            err.kind()
        );
    }
    assert!(names(&fs, ROOT).await.is_empty());
}

#[tokio::test]
async fn read_only_refuses_every_change_and_writes_nothing() {
    let (storage, rw) = new_fs(false).await;
    write_file(&rw, ROOT, "f", b"data").await;
    drop(rw);
    let before = objects(&storage).await;
    let vault = Vault::unlock(storage.clone(), "pw", OpenOptions { read_only: true })
        .await
        .unwrap();
    let fs = VaultFs::new(
        Arc::new(vault),
        FsConfig {
            read_only: true,
            ..FsConfig::default()
        },
    );
    let f = fs.lookup(ROOT, os("f")).await.unwrap().ino;
    assert_eq!(read_file(&fs, f).await, b"data");
    assert_eq!(
        fs.create(ROOT, os("g"), true, false)
            .await
            .unwrap_err()
            .kind(),
        FsErrorKind::ReadOnly
    );
    assert_eq!(
        fs.mkdir(ROOT, os("d")).await.unwrap_err().kind(),
        FsErrorKind::ReadOnly
    );
    assert_eq!(
        fs.unlink(ROOT, os("f")).await.unwrap_err().kind(),
        FsErrorKind::ReadOnly
    );
    assert_eq!(
        fs.open(f, true, false).await.unwrap_err().kind(),
        FsErrorKind::ReadOnly
    );
    assert_eq!(
        objects(&storage).await,
        before,
        "a read-only mount wrote to storage"
    );
}

#[test]
fn every_engine_error_kind_maps_to_its_own_fs_kind() {
    use vault_engine::{VaultError, VaultErrorKind as V};
    let table = [
        (V::NotFound, FsErrorKind::NotFound),
        (V::AlreadyExists, FsErrorKind::AlreadyExists),
        (V::NotEmpty, FsErrorKind::NotEmpty),
        (V::NotADirectory, FsErrorKind::NotADirectory),
        (V::IsADirectory, FsErrorKind::IsADirectory),
        (V::NameTooLong, FsErrorKind::NameTooLong),
        (V::InvalidName, FsErrorKind::InvalidName),
        (V::ReadOnly, FsErrorKind::ReadOnly),
        (V::Corrupt, FsErrorKind::Corrupt),
        (V::Unavailable, FsErrorKind::Unavailable),
        (V::PermissionDenied, FsErrorKind::PermissionDenied),
        (V::StorageFull, FsErrorKind::StorageFull),
        (V::Unsupported, FsErrorKind::Unsupported),
        (V::InvalidArgument, FsErrorKind::InvalidArgument),
        (V::Other, FsErrorKind::Other),
    ];
    for (engine, fs) in table {
        let mapped = vault_fs::ops::FsError::from(VaultError::node(engine, "x")).kind();
        assert_eq!(mapped, fs, "{engine:?}");
    }
}
