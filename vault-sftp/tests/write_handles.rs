//! Issue 14: the write handle `write_at` keeps open between calls never outlives the name it
//! was opened under. After a rename (of the object or of its folder), a removal or a
//! whole-object `write`, the next `write_at` of the old name must not reach the old object
//! (a stale handle would write into the renamed, unlinked or replaced object); after a
//! dropped session the writes go on through a new handle. Key-only sshd on loopback.
#![allow(clippy::unwrap_used)]

mod common;

use bytes::Bytes;
use common::{Kbd, ScriptedPrompter, shared_servers};
use vault_sftp::SftpStorage;
use vault_storage::{Body, RenameMode, Storage, StorageErrorKind, StoragePath, WriteMode};

const TAG: &str = "wh";

fn p(s: &str) -> StoragePath {
    StoragePath::new(s).unwrap()
}

/// 200 KiB of a pattern: large enough to go through the bulk channel.
fn batch(seed: u8) -> Bytes {
    Bytes::from(
        (0..200 * 1024u32)
            .map(|i| (i % 251) as u8 ^ seed)
            .collect::<Vec<u8>>(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_write_handles_follow_renames_removals_replaces_and_reconnects() {
    let s = shared_servers(TAG);
    let cfg = s.config("key", "VAULT_TEST_SSH_KEY", "write-handles");
    let pr = ScriptedPrompter::new(
        Some(&s.get("VAULT_TEST_SSH_KEY_PASSPHRASE")),
        Kbd::Fixed("x".into()),
    );
    let st = SftpStorage::connect(cfg, pr).await.expect("login");
    st.create_dir(&p("d")).await.unwrap();
    let (a, b) = (p("a.bin"), p("b.bin"));
    st.write(&a, Body::from_bytes(Vec::new()), WriteMode::CreateNew)
        .await
        .unwrap();

    // Consecutive batches, then the object's size set and synced through the same handle.
    let mut want = Vec::new();
    for i in 0..3u8 {
        let d = batch(i);
        st.write_at(&a, want.len() as u64, d.clone()).await.unwrap();
        want.extend_from_slice(&d);
    }
    st.set_len(&a, want.len() as u64 - 10).await.unwrap();
    want.truncate(want.len() - 10);
    st.sync(&a).await.unwrap();
    assert!(st.read_all(&a).await.unwrap() == want, "batches in order");

    // Renamed: the old name is gone for write_at, the new name is the object.
    st.rename(&a, &b, RenameMode::NoReplace).await.unwrap();
    let e = st.write_at(&a, 0, batch(9)).await.unwrap_err();
    assert_eq!(e.kind(), StorageErrorKind::NotFound, "{e}");
    st.write_at(&b, 0, batch(7)).await.unwrap();
    want[..200 * 1024].copy_from_slice(&batch(7));
    assert!(st.read_all(&b).await.unwrap() == want);

    // Replaced by a whole-object write: write_at reaches the new object.
    st.write(
        &b,
        Body::from_bytes(vec![1u8; 300 * 1024]),
        WriteMode::Overwrite,
    )
    .await
    .unwrap();
    st.write_at(&b, 0, batch(5)).await.unwrap();
    let mut want = vec![1u8; 300 * 1024];
    want[..200 * 1024].copy_from_slice(&batch(5));
    assert!(st.read_all(&b).await.unwrap() == want, "the new object");

    // Removed: gone for write_at.
    st.remove_file(&b).await.unwrap();
    let e = st.write_at(&b, 0, batch(3)).await.unwrap_err();
    assert_eq!(e.kind(), StorageErrorKind::NotFound, "{e}");
    assert!(st.metadata(&b).await.is_err(), "not recreated");

    // A folder above it renamed: the old path is gone too.
    let c = p("d/c.bin");
    st.write(&c, Body::from_bytes(Vec::new()), WriteMode::CreateNew)
        .await
        .unwrap();
    st.write_at(&c, 0, batch(1)).await.unwrap();
    st.rename(&p("d"), &p("e"), RenameMode::NoReplace)
        .await
        .unwrap();
    let e = st.write_at(&c, 0, batch(2)).await.unwrap_err();
    assert_eq!(e.kind(), StorageErrorKind::NotFound, "{e}");
    assert!(st.read_all(&p("e/c.bin")).await.unwrap() == batch(1));

    // A dropped session: the next batch goes through a new handle.
    let f = p("e/f.bin");
    st.write(&f, Body::from_bytes(Vec::new()), WriteMode::CreateNew)
        .await
        .unwrap();
    st.write_at(&f, 0, batch(1)).await.unwrap();
    st.drop_connection().await;
    st.write_at(&f, 200 * 1024, batch(2)).await.unwrap();
    st.sync(&f).await.unwrap();
    let mut want = batch(1).to_vec();
    want.extend_from_slice(&batch(2));
    assert!(st.read_all(&f).await.unwrap() == want, "both batches");
    assert_eq!(st.reconnect_count(), 1);
}
