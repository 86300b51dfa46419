//! SIGTERM (or a `StopHandle`) while `MountSession::wait` runs: open files are
//! written back and the mount goes away cleanly; the data is there after a fresh unlock.

mod common;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use vault_engine::{OpenOptions, Vault};
use vault_storage::local::LocalStorage;

#[test]
fn sigterm_flushes_and_unmounts() {
    let mut m = Mounted::new();
    let session = m.take_session();
    let mnt = m.mnt.clone();
    let waiter = std::thread::spawn(move || session.wait());
    // Let wait() install its signal handlers before the signal is sent.
    std::thread::sleep(Duration::from_millis(500));
    let mut f = std::fs::File::create(mnt.join("open-at-signal")).expect("create");
    f.write_all(b"still open when SIGTERM came").expect("write");
    // tokio's process-wide SIGTERM handler, installed now: the signal can
    // never kill the test process, even if wait() has not subscribed yet
    // (then the signal is sent again).
    let _guard = m.runtime.block_on(async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler")
    });
    let mut unmounted = false;
    for _ in 0..3 {
        let sent = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(std::process::id().to_string())
            .status()
            .expect("kill");
        assert!(sent.success());
        if wait_for(
            || {
                !vault_fs::mounted_vaults()
                    .iter()
                    .any(|v| v.mountpoint == mnt)
            },
            Duration::from_secs(5),
        ) {
            unmounted = true;
            break;
        }
    }
    assert!(unmounted, "unmounted after SIGTERM");
    drop(f);
    let result = waiter.join().expect("wait thread");
    assert!(result.is_ok(), "{result:?}");
    let content = stored(&m, "open-at-signal");
    assert_eq!(content, b"still open when SIGTERM came");
}

/// A `StopHandle` (auto-lock's way in) ends `wait` as SIGTERM does: written back, unmounted.
#[test]
fn stop_handle_flushes_and_unmounts() {
    let mut m = Mounted::new();
    let session = m.take_session();
    let stop = session
        .stop_handle()
        .expect("a live session has a stop handle");
    let mnt = m.mnt.clone();
    let waiter = std::thread::spawn(move || session.wait());
    let mut f = std::fs::File::create(mnt.join("open-at-stop")).expect("create");
    f.write_all(b"still open when the stop came")
        .expect("write");
    stop.stop();
    assert!(
        wait_for(
            || {
                !vault_fs::mounted_vaults()
                    .iter()
                    .any(|v| v.mountpoint == mnt)
            },
            Duration::from_secs(10),
        ),
        "unmounted after stop()"
    );
    drop(f);
    let result = waiter.join().expect("wait thread");
    assert!(result.is_ok(), "{result:?}");
    stop.stop(); // after the end: a no-op
    let content = stored(&m, "open-at-stop");
    assert_eq!(content, b"still open when the stop came");
}

/// The first 100 bytes of `name` as the vault's storage holds it (the mount is gone).
fn stored(m: &Mounted, name: &str) -> Vec<u8> {
    let storage: Arc<dyn vault_storage::Storage> =
        Arc::new(LocalStorage::new(&m.storage).expect("storage"));
    m.runtime.block_on(async {
        let v = Vault::unlock(storage, PASSWORD, OpenOptions { read_only: true })
            .await
            .expect("unlock");
        let node = v.resolve(name).await.expect("written back before unmount");
        v.open(&node)
            .await
            .expect("open")
            .read(0, 100)
            .await
            .expect("read")
            .to_vec()
    })
}
