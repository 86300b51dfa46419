//! Tests of `LocalStorage` on real folders (temp files, symlink refusal, no-replace, sync).

use super::*;

#[tokio::test]
async fn sync_all_reaches_the_root_and_reports_a_vanished_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("vault");
    std::fs::create_dir(&root).expect("mkdir");
    let storage = LocalStorage::new(&root).expect("storage");
    let p = StoragePath::new("a").expect("path");
    storage
        .write_nosync(&p, Body::from_bytes(b"x".to_vec()), WriteMode::CreateNew)
        .await
        .expect("write");
    storage
        .sync_all()
        .await
        .expect("syncfs of the vault's file system");
    std::fs::remove_dir_all(&root).expect("rm");
    let err = storage.sync_all().await.expect_err("root is gone");
    assert_eq!(err.kind(), StorageErrorKind::NotFound);
}

#[test]
fn classify_kinds() {
    use io::ErrorKind as E;
    for (kind, want) in [
        (E::NotFound, StorageErrorKind::NotFound),
        (E::AlreadyExists, StorageErrorKind::AlreadyExists),
        (E::DirectoryNotEmpty, StorageErrorKind::NotEmpty),
        (E::NotADirectory, StorageErrorKind::NotADirectory),
        (E::IsADirectory, StorageErrorKind::IsADirectory),
        (E::PermissionDenied, StorageErrorKind::PermissionDenied),
        (E::ReadOnlyFilesystem, StorageErrorKind::PermissionDenied),
        (E::StorageFull, StorageErrorKind::StorageFull),
        (E::QuotaExceeded, StorageErrorKind::StorageFull),
        (E::Unsupported, StorageErrorKind::Unsupported),
        (E::TimedOut, StorageErrorKind::Unavailable),
        (E::StaleNetworkFileHandle, StorageErrorKind::Unavailable),
        (E::InvalidFilename, StorageErrorKind::InvalidPath),
        (E::UnexpectedEof, StorageErrorKind::Other),
    ] {
        assert_eq!(classify(&io::Error::from(kind)), want, "{kind:?}");
    }
}

#[cfg(unix)]
#[test]
fn classify_errnos() {
    use rustix::io::Errno;
    for (errno, want) in [
        (Errno::NOENT, StorageErrorKind::NotFound),
        (Errno::EXIST, StorageErrorKind::AlreadyExists),
        (Errno::NOTEMPTY, StorageErrorKind::NotEmpty),
        (Errno::NOTDIR, StorageErrorKind::NotADirectory),
        (Errno::ISDIR, StorageErrorKind::IsADirectory),
        (Errno::ACCESS, StorageErrorKind::PermissionDenied),
        (Errno::PERM, StorageErrorKind::PermissionDenied),
        (Errno::ROFS, StorageErrorKind::PermissionDenied),
        (Errno::NOSPC, StorageErrorKind::StorageFull),
        (Errno::DQUOT, StorageErrorKind::StorageFull),
        (Errno::NAMETOOLONG, StorageErrorKind::InvalidPath),
        (Errno::STALE, StorageErrorKind::Unavailable),
        (Errno::NOTCONN, StorageErrorKind::Unavailable),
        (Errno::IO, StorageErrorKind::Other),
    ] {
        let e = io::Error::from_raw_os_error(errno.raw_os_error());
        assert_eq!(classify(&e), want, "{errno:?}");
    }
}

fn p(s: &str) -> StoragePath {
    StoragePath::new(s).unwrap()
}

#[tokio::test]
async fn write_leaves_no_temp_file_and_refuses_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let s = LocalStorage::new(dir.path()).unwrap();
    s.write(
        &p("a.c9r"),
        Body::from_bytes(&b"abc"[..]),
        WriteMode::CreateNew,
    )
    .await
    .unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("a.c9r")]);

    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        for result in [
            s.write(
                &p("link/x"),
                Body::from_bytes(&b"x"[..]),
                WriteMode::CreateNew,
            )
            .await,
            s.create_dir(&p("link/d")).await,
            s.remove_dir_all(&p("link")).await,
        ] {
            assert_eq!(
                result.unwrap_err().kind(),
                StorageErrorKind::PermissionDenied
            );
        }
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}

/// Removal and rename act on the folder the symlink check opened, and refuse one reached
/// through a symlink: nothing outside the root is removed or moved.
#[cfg(unix)]
#[tokio::test]
async fn removal_and_rename_through_a_symlinked_folder_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("x.c9r"), b"theirs").unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
    let s = LocalStorage::new(dir.path()).unwrap();
    for result in [
        s.remove_file(&p("link/x.c9r")).await,
        s.rename(&p("link/x.c9r"), &p("link/y.c9r"), RenameMode::NoReplace)
            .await,
        s.rename_nosync(&p("link/x.c9r"), &p("link/y.c9r"), RenameMode::Replace)
            .await,
    ] {
        assert_eq!(
            result.unwrap_err().kind(),
            StorageErrorKind::PermissionDenied
        );
    }
    let left: Vec<_> = std::fs::read_dir(outside.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("x.c9r")]);
    // Inside the root the same calls work, and a folder is not unlinked as a file.
    std::fs::create_dir_all(dir.path().join("d/AB")).unwrap();
    std::fs::write(dir.path().join("d/AB/a.c9r"), b"a").unwrap();
    s.rename_nosync(&p("d/AB/a.c9r"), &p("d/AB/b.c9r"), RenameMode::NoReplace)
        .await
        .unwrap();
    std::fs::write(dir.path().join("d/AB/c.c9r"), b"c").unwrap();
    let taken = s
        .rename_nosync(&p("d/AB/b.c9r"), &p("d/AB/c.c9r"), RenameMode::NoReplace)
        .await
        .unwrap_err();
    assert_eq!(taken.kind(), StorageErrorKind::AlreadyExists);
    assert_eq!(
        s.remove_file(&p("d/AB")).await.unwrap_err().kind(),
        StorageErrorKind::IsADirectory
    );
    s.remove_file(&p("d/AB/b.c9r")).await.unwrap();
    assert_eq!(
        s.remove_file(&p("d/AB/b.c9r")).await.unwrap_err().kind(),
        StorageErrorKind::NotFound
    );
    assert_eq!(std::fs::read(dir.path().join("d/AB/c.c9r")).unwrap(), b"c");
}

#[tokio::test]
async fn failed_body_leaves_old_content_and_no_temp() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStorage::new(dir.path()).unwrap();
    s.write(&p("f"), Body::from_bytes(&b"old"[..]), WriteMode::CreateNew)
        .await
        .unwrap();
    // Claims 10 bytes, yields 3.
    let short = Body::from_reader(10, std::io::Cursor::new(b"new".to_vec()));
    assert_eq!(
        s.write(&p("f"), short, WriteMode::Overwrite)
            .await
            .unwrap_err()
            .kind(),
        StorageErrorKind::Other
    );
    assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"old");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn new_rejects_missing_root_and_files() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        LocalStorage::new(dir.path().join("nope"))
            .unwrap_err()
            .kind(),
        StorageErrorKind::NotFound
    );
    std::fs::write(dir.path().join("f"), b"x").unwrap();
    assert_eq!(
        LocalStorage::new(dir.path().join("f")).unwrap_err().kind(),
        StorageErrorKind::NotADirectory
    );
}
