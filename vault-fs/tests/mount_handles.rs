//! Acceptance 5: two handles on one file see each other's writes; fsync
//! returns only once storage has the data (the ciphertext object changed and an
//! independent unlock of the storage reads the new content while the file is
//! still open).

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use vault_engine::{OpenOptions as VaultOpen, Vault};
use vault_storage::local::LocalStorage;

fn content_files(storage: &Path) -> Vec<PathBuf> {
    let out = sh(
        &format!(
            "find '{}/d' -type f -name contents.c9r -o -type f -name '*.c9r' ! -name dirid.c9r ! -name dir.c9r ! -name symlink.c9r",
            storage.display()
        ),
        Path::new("/"),
    );
    out.lines()
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .collect()
}

#[test]
fn two_handles_see_each_others_writes() {
    let m = Mounted::new();
    let p = m.path("shared");
    let a = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&p)
        .expect("open a");
    let b = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&p)
        .expect("open b");
    a.write_all_at(b"written by a", 0).expect("write a");
    let mut buf = [0u8; 12];
    b.read_exact_at(&mut buf, 0).expect("read b");
    assert_eq!(&buf, b"written by a");
    b.write_all_at(b"B", 40_000).expect("write b past a chunk");
    let mut tail = [0u8; 1];
    a.read_exact_at(&mut tail, 40_000).expect("read a");
    assert_eq!(&tail, b"B");
    assert_eq!(a.metadata().expect("stat").len(), 40_001);
    drop(a);
    b.write_all_at(b"b", 0).expect("write b after a closed");
    drop(b);
    let all = std::fs::read(&p).expect("read");
    assert_eq!(&all[..12], b"britten by a");
    assert_eq!(all.len(), 40_001);
}

#[test]
fn fsync_returns_after_storage_has_the_data() {
    let m = Mounted::new();
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(m.path("synced"))
        .expect("open");
    f.write_all(b"first version").expect("write");
    f.sync_all().expect("fsync 1");
    let files = content_files(&m.storage);
    assert_eq!(files.len(), 1, "{files:?}");
    let before = std::fs::read(&files[0]).expect("read ciphertext");
    let payload = vec![0xabu8; 200_000];
    f.write_all(&payload).expect("write more");
    f.sync_all().expect("fsync 2");
    // Right after fsync, still open: the ciphertext changed and holds everything.
    let after = std::fs::read(&content_files(&m.storage)[0]).expect("read ciphertext");
    assert_ne!(before, after, "ciphertext object changed by fsync");
    assert!(
        after.len() > 200_013,
        "ciphertext holds the new data: {} bytes",
        after.len()
    );
    // An independent unlock of the storage reads the new content.
    let storage: Arc<dyn vault_storage::Storage> =
        Arc::new(LocalStorage::new(&m.storage).expect("storage"));
    let content = m.runtime.block_on(async {
        let v = Vault::unlock(storage, PASSWORD, VaultOpen { read_only: true })
            .await
            .expect("unlock");
        let node = v.resolve("synced").await.expect("resolve");
        assert_eq!(node.size, 200_013);
        let file = v.open(&node).await.expect("open");
        file.read(0, 300_000).await.expect("read").to_vec()
    });
    assert_eq!(&content[..13], b"first version");
    assert!(content[13..].iter().all(|b| *b == 0xab));
    drop(f);
}

/// The one ciphertext object of a vault holding a single file.
fn only_content(storage: &Path) -> Vec<u8> {
    let files = content_files(storage);
    assert_eq!(files.len(), 1, "{files:?}");
    std::fs::read(&files[0]).expect("read ciphertext")
}

/// A truncation that comes with an open (O_TRUNC) or through a handle
/// (ftruncate) stays in the shadow across a flush with nothing written since
/// (`dd of=F` and a shell's `> F` dup2 the new descriptor and close the
/// original right after the open): the committed ciphertext keeps the old
/// content until data is written and the file closed. A truncate(2) of a
/// path nobody has open commits at once.
#[test]
fn truncation_with_an_open_stays_in_the_shadow_until_close() {
    let m = Mounted::new();
    let p = m.path("f.bin");
    let old = vec![0x11u8; 100_000];
    std::fs::write(&p, &old).expect("write old");
    let committed = only_content(&m.storage);

    // O_TRUNC open, then dup + close of the original (a FUSE flush).
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&p)
        .expect("open O_TRUNC");
    drop(f.try_clone().expect("dup"));
    assert_eq!(
        f.metadata().expect("stat").len(),
        0,
        "truncated for readers"
    );
    assert_eq!(
        only_content(&m.storage),
        committed,
        "flush committed the truncation"
    );
    f.write_all_at(b"new", 0).expect("write");
    f.sync_all().expect("fsync");
    drop(f);
    assert_eq!(std::fs::read(&p).expect("read"), b"new");
    let committed = only_content(&m.storage);

    // ftruncate through a handle, then dup + close.
    let f = OpenOptions::new().write(true).open(&p).expect("open");
    f.set_len(0).expect("ftruncate");
    drop(f.try_clone().expect("dup"));
    assert_eq!(
        only_content(&m.storage),
        committed,
        "flush committed the ftruncate"
    );
    drop(f);
    // Release (asynchronous in the kernel) commits the empty file.
    assert!(
        wait_for(
            || only_content(&m.storage).len() < committed.len(),
            std::time::Duration::from_secs(10)
        ),
        "release committed the truncation"
    );
    assert_eq!(std::fs::read(&p).expect("read").len(), 0);

    // truncate(2) on a path without an open handle: committed at once.
    std::fs::write(&p, &old).expect("write old again");
    let committed = only_content(&m.storage);
    nix::unistd::truncate(&p, 10).expect("truncate(2)");
    assert!(
        only_content(&m.storage).len() < committed.len(),
        "truncate(2) without an open handle is committed before it returns"
    );
    assert_eq!(std::fs::read(&p).expect("read"), &old[..10]);
}
