//! Acceptance 1: both fixture vaults list and read completely through the
//! engine, matching expected.json (paths NFC, types, sizes, sha256, symlink
//! targets), over MemoryStorage and LocalStorage.

mod common;

use common::*;
use vault_engine::{NodeKind, OpenOptions, Vault, VaultErrorKind};

async fn check_fixture(fixture: &str, storage: std::sync::Arc<dyn vault_storage::Storage>) {
    let vault = Vault::unlock(storage, &password(fixture), OpenOptions { read_only: true })
        .await
        .expect("unlock");
    let got = walk(&vault).await;
    let want = expected(&fixtures().join(fixture).join("expected.json"));
    for (path, entry) in &want {
        assert_eq!(got.get(path), Some(entry), "{fixture}: {path}");
    }
    assert_eq!(
        got.len(),
        want.len(),
        "{fixture}: extra entries {:?}",
        got.keys()
            .filter(|k| !want.contains_key(*k))
            .collect::<Vec<_>>()
    );
    // Every path also resolves directly (lookup by computed name, no listing).
    for (path, entry) in &want {
        let node = vault
            .resolve(path)
            .await
            .unwrap_or_else(|e| panic!("{fixture}: resolve {path}: {e}"));
        match entry {
            Entry::Dir => assert!(matches!(node.kind, NodeKind::Dir(_)), "{path}"),
            Entry::File { size, .. } => {
                assert_eq!(node.kind, NodeKind::File, "{path}");
                assert_eq!(node.size, *size, "{path}");
            }
            Entry::Symlink { .. } => assert_eq!(node.kind, NodeKind::Symlink, "{path}"),
        }
    }
}

#[tokio::test]
async fn gcm_fixture_over_memory() {
    check_fixture("vault-v8", memory_fixture("vault-v8").await).await;
}

#[tokio::test]
async fn ctrmac_fixture_over_memory() {
    check_fixture("vault-v8-ctrmac", memory_fixture("vault-v8-ctrmac").await).await;
}

#[tokio::test]
async fn gcm_fixture_over_local() {
    let (_dir, storage) = local_fixture("vault-v8");
    check_fixture("vault-v8", storage).await;
}

#[tokio::test]
async fn ctrmac_fixture_over_local() {
    let (_dir, storage) = local_fixture("vault-v8-ctrmac");
    check_fixture("vault-v8-ctrmac", storage).await;
}

#[tokio::test]
async fn resolution_does_not_list() {
    let storage = memory_fixture("vault-v8").await;
    let vault = Vault::unlock(
        storage.clone(),
        &password("vault-v8"),
        OpenOptions { read_only: true },
    )
    .await
    .expect("unlock");
    let want = expected(&fixtures().join("vault-v8").join("expected.json"));
    let deepest = want
        .keys()
        .max_by_key(|k| k.matches('/').count())
        .expect("paths")
        .clone();
    storage.reset_calls();
    vault.resolve(&deepest).await.expect("resolve");
    assert_eq!(
        storage.calls("list_dir"),
        0,
        "resolving {deepest} listed a folder"
    );
    let cold = storage.calls("metadata") + storage.calls("read_at");
    storage.reset_calls();
    vault.resolve(&deepest).await.expect("resolve warm");
    let warm = storage.calls("metadata") + storage.calls("read_at");
    assert!(
        warm < cold,
        "warm resolution ({warm} calls) must use the dir-id cache (cold {cold})"
    );
    assert_eq!(
        vault
            .resolve("/does/not/exist")
            .await
            .expect_err("must fail")
            .kind(),
        VaultErrorKind::NotFound
    );
}

#[tokio::test]
async fn nfd_lookup_falls_back() {
    let storage = memory_fixture("vault-v8").await;
    let vault = Vault::unlock(
        storage,
        &password("vault-v8"),
        OpenOptions { read_only: true },
    )
    .await
    .expect("unlock");
    // Stored NFC; asking with the NFD spelling finds it (NFC first).
    let nfd = "/Cre\u{300}me-bru\u{302}le\u{301}e-nfd.txt";
    let node = vault.resolve(nfd).await.expect("nfd spelling resolves");
    assert_eq!(node.name, "Crème-brûlée-nfd.txt");
}
