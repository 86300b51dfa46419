//! Creates through a real mount in a listed folder (issue 14): files whose
//! names another client took on storage after the listing fail close(2) with
//! EEXIST and leave that client's file as it was; the others are stored whole.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::io::Write;
use std::sync::Arc;

use common::*;
use vault_engine::{OpenOptions, Vault};
use vault_storage::local::LocalStorage;

/// Creates `path` (O_EXCL), writes `len` bytes and closes it in a Python
/// process (std's drop ignores close(2) errors); returns close's errno or 0.
fn create_and_close(path: &std::path::Path, len: usize) -> i32 {
    let script = "import os,sys\n\
fd=os.open(sys.argv[1],os.O_WRONLY|os.O_CREAT|os.O_EXCL,0o644)\n\
os.write(fd,b'Z'*int(sys.argv[2]))\n\
try:\n os.close(fd); print(0)\n\
except OSError as e:\n print(e.errno)\n";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .arg(len.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn creates_of_names_taken_on_storage_meanwhile_fail_close_with_eexist() {
    const N: usize = 6;
    let m = Mounted::new();
    let dir = m.path("d");
    std::fs::create_dir(&dir).unwrap();
    // The listing gives the mount the folder's complete name set.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);

    let backend: Arc<dyn vault_storage::Storage> = Arc::new(LocalStorage::new(&m.storage).unwrap());
    let other = m.runtime.block_on(async {
        let v = Vault::unlock(backend, PASSWORD, OpenOptions::default())
            .await
            .unwrap();
        let d = v.resolve_dir("/d").await.unwrap();
        (v, d)
    });

    let data = vec![b'Z'; 4096];
    for i in 0..N {
        // A fresh listing (a clash makes the mount forget the folder's names),
        // then the other client takes the name.
        std::fs::read_dir(&dir).unwrap().count();
        m.runtime
            .block_on(other.0.create_file(&other.1, &format!("clash{i}")))
            .unwrap_or_else(|e| panic!("other client's clash{i}: {e}"));
        assert_eq!(create_and_close(&dir.join(format!("free{i}")), 4096), 0);
        let clash = dir.join(format!("clash{i}"));
        if i % 2 == 0 {
            // close(2) reports it.
            assert_eq!(create_and_close(&clash, 4096), libc::EEXIST, "clash{i}");
        } else {
            // fsync(2) reports it before it returns. On a loaded machine the folder's
            // listing may have aged out before this create, which then goes to storage
            // and fails at open: as correct, and what a synchronous create does.
            let opened = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&clash);
            let err = match opened {
                Ok(mut f) => {
                    f.write_all(&data).unwrap();
                    f.sync_all().unwrap_err()
                }
                Err(e) => e,
            };
            assert_eq!(err.raw_os_error(), Some(libc::EEXIST), "clash{i}: {err}");
        }
    }

    let (v, d) = other;
    m.runtime.block_on(async {
        for i in 0..N {
            // Theirs untouched (empty), ours stored whole.
            let theirs = v.lookup(&d, &format!("clash{i}")).await.unwrap();
            assert_eq!(theirs.size, 0, "clash{i} was overwritten");
            let ours = v.lookup(&d, &format!("free{i}")).await.unwrap();
            assert_eq!(ours.size, 4096);
            let f = v.open(&ours).await.unwrap();
            assert_eq!(&f.read(0, 8192).await.unwrap()[..], &data[..]);
        }
    });
    let mut listed: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    listed.sort();
    assert_eq!(listed.len(), 2 * N, "{listed:?}");
}
