//! Acceptance 4: a marker written through the mount is found nowhere in
//! cleartext on local disk afterwards: not in the storage folder, not in
//! /tmp, /var/tmp, $XDG_CACHE_HOME or ~/.cache (searched without crossing
//! into other mounts).

mod common;

use std::io::Write;
use std::path::PathBuf;

use common::*;

#[test]
fn marker_never_reaches_local_disk_in_cleartext() {
    // Random at run time, so the marker exists in no binary or source file.
    let mut rng = Rng::new(seed("VAULT_TEST_MARKER_SEED") ^ 0x5eed);
    let marker = format!(
        "CLEARTEXT-MARKER-{:016x}{:016x}",
        rng.next_u64(),
        rng.next_u64()
    );
    let mut m = Mounted::new();
    let big = {
        // 8 MiB of marker lines: large enough to pass through any write spool.
        let mut s = String::new();
        while s.len() < 8 << 20 {
            s.push_str(&marker);
            s.push('\n');
        }
        s
    };
    std::fs::write(m.path("small.txt"), marker.as_bytes()).expect("write small");
    let mut f = std::fs::File::create(m.path("big.txt")).expect("create big");
    for chunk in big.as_bytes().chunks(100_000) {
        f.write_all(chunk).expect("write big");
    }
    f.sync_all().expect("fsync");
    drop(f);
    // Random-access rewrite in the middle (read-modify-write path).
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(m.path("big.txt"))
        .expect("open");
    std::os::unix::fs::FileExt::write_all_at(&f, marker.as_bytes(), 3_000_001).expect("pwrite");
    drop(f);
    std::fs::create_dir(m.path(&marker)).expect("marker as a dir name");
    std::os::unix::fs::symlink(&marker, m.path("link")).expect("marker as symlink target");
    assert_eq!(
        std::fs::read(m.path("small.txt")).expect("read back"),
        marker.as_bytes()
    );
    m.unmount();

    let mut roots: Vec<PathBuf> = vec![m.storage.clone(), "/tmp".into(), "/var/tmp".into()];
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME") {
        roots.push(x.into());
    }
    if let Some(h) = std::env::var_os("HOME") {
        roots.push(PathBuf::from(h).join(".cache"));
    }
    for root in roots.iter().filter(|r| r.exists()) {
        // -xdev: stay off other mounts (other tests' FUSE mounts live under /tmp).
        let cmd = format!(
            "find '{}' -xdev -type f -print0 2>/dev/null | xargs -0 -r grep -l -F -- '{marker}' 2>/dev/null || true",
            root.display()
        );
        let hits = sh(&cmd, std::path::Path::new("/"));
        assert!(
            hits.trim().is_empty(),
            "cleartext marker found on disk under {}:\n{hits}",
            root.display()
        );
    }
    // The storage folder holds ciphertext only, and some of it.
    let n = sh(
        &format!("find '{}' -type f | wc -l", m.storage.display()),
        std::path::Path::new("/"),
    );
    assert!(
        n.trim().parse::<u32>().unwrap_or(0) >= 5,
        "storage has the vault files"
    );
}
