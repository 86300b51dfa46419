//! `--idle`: the mount ends by itself after that long without requests and
//! without open files, and not while a file is open.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn idle_timeout_unmounts_only_when_unused() {
    let mut m = Mounted::with_options(vault_fs::MountOptions {
        idle_timeout: Some(Duration::from_secs(1)),
        ..Default::default()
    });
    let f = std::fs::File::create(m.path("held-open")).expect("create");
    let session = m.take_session();
    let mnt = m.mnt.clone();
    let started = Instant::now();
    let waiter = std::thread::spawn(move || session.wait());
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        vault_fs::mounted_vaults()
            .iter()
            .any(|v| v.mountpoint == mnt),
        "an open file keeps it mounted"
    );
    drop(f);
    let result = waiter.join().expect("wait thread");
    assert!(result.is_ok(), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(
        !vault_fs::mounted_vaults()
            .iter()
            .any(|v| v.mountpoint == mnt),
        "unmounted when idle"
    );
}
