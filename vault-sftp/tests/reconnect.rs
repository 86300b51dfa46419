//! Reconnects on loopback: the server drops every session; a server that is
//! gone makes calls fail with `Unavailable` within the configured bound and
//! they work again once it is back.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{Kbd, ScriptedPrompter, shared_servers};
use vault_sftp::SftpStorage;
use vault_storage::{Body, Storage, StorageErrorKind, StoragePath, WriteMode};

const TAG: &str = "sr";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_session_reconnects_with_held_passphrase_and_a_new_code() {
    let s = shared_servers(TAG);
    let cfg = s.config("2fa", "VAULT_TEST_SSH_KEY", "reconnect-2fa");
    let p = ScriptedPrompter::new(
        Some(&s.get("VAULT_TEST_SSH_KEY_PASSPHRASE")),
        Kbd::Totp(s.totp_secret()),
    );
    let st = SftpStorage::connect(cfg, p.clone()).await.expect("login");
    let f = StoragePath::new("a.c9r").unwrap();
    st.write(&f, Body::from_bytes(&b"before"[..]), WriteMode::Overwrite)
        .await
        .unwrap();

    let out = s.script("sshd-2fa.sh", &["kill-sessions", "2fa"]);
    assert!(out.status.success());
    // The next calls find the connection dead, reconnect and go on.
    let t = Instant::now();
    let names: Vec<String> = st
        .list_dir(&StoragePath::root())
        .await
        .expect("list after reconnect")
        .into_iter()
        .map(|e| e.name)
        .collect();
    eprintln!("reconnect + list took {:?}", t.elapsed());
    assert_eq!(names, vec!["a.c9r"]);
    assert_eq!(&st.read_all(&f).await.unwrap()[..], b"before");
    assert_eq!(st.reconnect_count(), 1);
    let prompts = p.prompts();
    assert_eq!(
        prompts
            .iter()
            .filter(|q| q.starts_with("Passphrase for key"))
            .count(),
        1,
        "passphrase asked once: {prompts:?}"
    );
    assert_eq!(
        prompts
            .iter()
            .filter(|q| q.starts_with("[sftp ") && q.ends_with("] Verification code: "))
            .count(),
        2,
        "a new code for the new login: {prompts:?}"
    );
    assert_eq!(p.kbd_count.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_gone_fails_unavailable_in_bounded_time_then_recovers() {
    let s = shared_servers(TAG);
    let mut cfg = s.config("key", "VAULT_TEST_SSH_KEY", "reconnect-gone");
    cfg.reconnect_wait = Duration::from_secs(3);
    cfg.connect_timeout = Duration::from_secs(2);
    let p = ScriptedPrompter::new(
        Some(&s.get("VAULT_TEST_SSH_KEY_PASSPHRASE")),
        Kbd::Fixed("x".into()),
    );
    let st = SftpStorage::connect(cfg, p.clone()).await.expect("login");
    let f = StoragePath::new("keep.c9r").unwrap();
    st.write(&f, Body::from_bytes(&b"v1"[..]), WriteMode::Overwrite)
        .await
        .unwrap();

    // Sessions first: once the listener is gone its children are orphans.
    assert!(
        s.script("sshd-2fa.sh", &["kill-sessions", "key"])
            .status
            .success()
    );
    assert!(s.script("sshd-2fa.sh", &["stop", "key"]).status.success());
    let t = Instant::now();
    let err = st.read_all(&f).await.expect_err("server gone");
    let waited = t.elapsed();
    assert_eq!(err.kind(), StorageErrorKind::Unavailable, "{err}");
    assert!(
        waited < Duration::from_secs(8),
        "bounded wait, took {waited:?}"
    );
    let err = st
        .write(&f, Body::from_bytes(&b"v2"[..]), WriteMode::Overwrite)
        .await
        .expect_err("write while gone");
    assert_eq!(err.kind(), StorageErrorKind::Unavailable);

    assert!(s.script("sshd-2fa.sh", &["start", "key"]).status.success());
    assert_eq!(
        &st.read_all(&f).await.expect("back")[..],
        b"v1",
        "the failed write left the object intact"
    );
    assert!(st.reconnect_count() >= 1);
    assert_eq!(p.prompts().len(), 1, "passphrase held, not asked again");
}
