//! The server goes away in the middle of a large upload: the write fails with
//! `Unavailable`, the previous version stays readable, no partial object
//! replaces it, and the next write after the server is back succeeds.
//! Own server instance (the servers are killed here), see tests/common.

mod common;

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Server, Servers};
use vault_storage::conformance::pattern;
use vault_storage::{Body, Storage, StorageErrorKind, StoragePath, WriteMode};
use vault_webdav::WebDavStorage;

fn servers() -> &'static Servers {
    common::shared("o", 10)
}

/// The tests here stop and kill servers: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A reader that yields `len` bytes of `pattern(seed)` slowly (64 KiB per 10 ms).
struct SlowReader {
    data: Vec<u8>,
    pos: usize,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl tokio::io::AsyncRead for SlowReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(s) = self.sleep.as_mut() {
            if s.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.sleep = None;
        }
        let n = (self.data.len() - self.pos)
            .min(64 * 1024)
            .min(buf.remaining());
        let start = self.pos;
        buf.put_slice(&self.data[start..start + n]);
        self.pos += n;
        self.sleep = Some(Box::pin(tokio::time::sleep(Duration::from_millis(10))));
        Poll::Ready(Ok(()))
    }
}

use std::future::Future;

async fn kill_mid_upload(server: Server) {
    let s = servers();
    let mut config = s.config(server, "outage");
    config.timeout = Duration::from_secs(5);
    let _ = s.storage(server, "outage").await; // creates the folder
    let storage = WebDavStorage::connect(config.clone())
        .await
        .expect("connect");
    let path = StoragePath::new(&format!("obj-{server:?}.c9r")).expect("path");
    let v1 = pattern(1, 1 << 20);
    storage
        .write(&path, Body::from_bytes(v1.clone()), WriteMode::Overwrite)
        .await
        .expect("write v1");

    // v2: 32 MiB at ~6 MiB/s, so the upload is in flight when the server dies.
    let v2 = pattern(2, 32 << 20);
    let body = Body::from_reader(
        v2.len() as u64,
        SlowReader {
            data: v2,
            pos: 0,
            sleep: None,
        },
    );
    let pid = s.pid(server).expect("server pid");
    let writer = tokio::spawn(async move {
        let t = Instant::now();
        let r = storage.write(&path, body, WriteMode::Overwrite).await;
        (storage, path, r, t.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // SIGKILL to the server's whole process group (Apache's workers too).
    // Each server leads its own group: rclone and php are started with
    // setsid, Apache daemonizes with setsid. Check before killing.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("server stat");
    let pgid: u32 = stat
        .rsplit(')')
        .next()
        .and_then(|r| r.split_whitespace().nth(2))
        .and_then(|p| p.parse().ok())
        .expect("pgid");
    assert_eq!(pgid, pid, "{server:?} must lead its own process group");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .status()
        .expect("kill");
    assert!(killed.success(), "kill -KILL -{pgid}");
    s.stop(server); // clears the stale pid file
    let (storage, path, result, took) = writer.await.expect("writer task");
    let err = result.expect_err("the upload must fail when the server dies");
    assert_eq!(
        err.kind(),
        StorageErrorKind::Unavailable,
        "{server:?}: {err}"
    );
    assert!(
        took < Duration::from_secs(20),
        "{server:?}: the failure took {took:?}"
    );
    eprintln!("{server:?}: upload failed after {took:?}: {err}");

    // While the server is down: Unavailable, promptly.
    let t = Instant::now();
    let down = storage.metadata(&path).await.expect_err("server is down");
    assert_eq!(down.kind(), StorageErrorKind::Unavailable, "{down}");
    assert!(t.elapsed() < Duration::from_secs(10));

    s.restart(server);
    // The previous version is intact and complete.
    let meta = storage
        .metadata(&path)
        .await
        .expect("metadata after restart");
    assert_eq!(
        meta.size,
        v1.len() as u64,
        "{server:?}: no partial object replaced v1"
    );
    assert_eq!(
        storage.read_all(&path).await.expect("read v1").as_ref(),
        &v1[..],
        "{server:?}: v1 intact"
    );
    let names: Vec<String> = storage
        .list_dir(&StoragePath::root())
        .await
        .expect("list")
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "{server:?}: hidden leftovers must not be listed: {names:?}"
    );
    // The next write succeeds (same storage object, pooled connections are dead).
    let v3 = pattern(3, 3 << 20);
    storage
        .write(
            &path,
            Body::from_bytes(Bytes::from(v3.clone())),
            WriteMode::Overwrite,
        )
        .await
        .expect("write after restart");
    assert_eq!(
        storage.read_all(&path).await.expect("read v3").as_ref(),
        &v3[..]
    );
    storage.remove_file(&path).await.expect("cleanup");
}

// One test, servers in turn: each kills and restarts its server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_upload_keeps_the_previous_version() {
    let _serial = SERIAL.lock().await;
    for server in [Server::Rclone, Server::ApacheHttp, Server::Sabre] {
        kill_mid_upload(server).await;
    }
}

/// A server that hangs (SIGSTOP) mid-upload: the write gives up with
/// `Unavailable` after the configured stall timeout, and works again once
/// the server continues.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_server_times_out_and_recovers() {
    let _serial = SERIAL.lock().await;
    let s = servers();
    let server = Server::Rclone;
    let _ = s.storage(server, "hang").await;
    let mut config = s.config(server, "hang");
    config.timeout = Duration::from_secs(3);
    let storage = WebDavStorage::connect(config).await.expect("connect");
    let path = StoragePath::new("obj.c9r").expect("path");
    storage
        .write(
            &path,
            Body::from_bytes(pattern(4, 1000)),
            WriteMode::Overwrite,
        )
        .await
        .expect("v1");
    let pid = s.pid(server).expect("pid").to_string();
    let data = pattern(5, 64 << 20);
    let body = Body::from_reader(
        data.len() as u64,
        SlowReader {
            data,
            pos: 0,
            sleep: None,
        },
    );
    let writer = tokio::spawn(async move {
        let t = Instant::now();
        let r = storage.write(&path, body, WriteMode::Overwrite).await;
        (storage, path, r, t.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        std::process::Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let (storage, path, result, took) = writer.await.expect("writer");
    assert!(
        std::process::Command::new("kill")
            .args(["-CONT", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let err = result.expect_err("a hung server must time out");
    assert_eq!(err.kind(), StorageErrorKind::Unavailable, "{err}");
    assert!(
        took < Duration::from_secs(15),
        "gave up only after {took:?}"
    );
    eprintln!("hung server: gave up after {took:?}: {err}");
    assert_eq!(
        storage.read_all(&path).await.expect("v1 intact").as_ref(),
        &pattern(4, 1000)[..]
    );
    storage
        .write(
            &path,
            Body::from_bytes(pattern(6, 5000)),
            WriteMode::Overwrite,
        )
        .await
        .expect("write after SIGCONT");
    assert_eq!(
        storage.read_all(&path).await.expect("v2").as_ref(),
        &pattern(6, 5000)[..]
    );
}
