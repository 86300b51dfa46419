//! `Vault::create_file_staged` (a new file stored whole by one no-replace write),
//! `Vault::remove_listed` and
//! `Vault::unlock_prefetched` (config read by the caller, root folder checked on first use).

mod common;

use std::sync::Arc;

use common::*;
use vault_engine::{NodeKind, OpenOptions, Vault, VaultError, VaultErrorKind};
use vault_storage::{Storage, StoragePath};

fn stage(vault: &Vault, data: &[u8]) -> vault_engine::StagedFile {
    let mut seen = 0u64;
    let staged = vault
        .stager()
        .stage(&mut &data[..], &mut |n| seen += n)
        .expect("stage");
    assert_eq!(seen, data.len() as u64, "progress counts every byte");
    assert_eq!(staged.size(), data.len() as u64);
    staged
}

async fn read_back(vault: &Vault, path: &str) -> Vec<u8> {
    let node = vault.resolve(path).await.expect("resolve");
    let f = vault.open(&node).await.expect("open");
    let size = f.size().await;
    f.read(0, size as usize + 1).await.expect("read").to_vec()
}

#[tokio::test]
async fn staged_files_of_every_size_read_back() {
    let (storage, vault) = new_memory_vault().await;
    // Empty, one short chunk, exactly one chunk (no empty trailing chunk), several chunks.
    for len in [0usize, 10, 32 * 1024, 32 * 1024 * 3 + 5] {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let name = format!("f{len}");
        let staged = stage(&vault, &data);
        let node = vault
            .create_file_staged(&vault.root(), &name, &staged)
            .await
            .expect("create");
        assert_eq!(node.kind, NodeKind::File);
        assert_eq!(node.size, len as u64);
        assert_eq!(read_back(&vault, &format!("/{name}")).await, data, "{name}");
    }
    // A fresh unlock sees the same (sizes from ciphertext lengths).
    let fresh = reopen(storage, true).await;
    let listed = fresh.list(&fresh.root()).await.expect("list");
    assert_eq!(listed.len(), 4);
    assert!(listed.iter().all(|n| !n.damaged));
}

#[tokio::test]
async fn files_staged_in_memory_read_back_like_spooled_ones() {
    let (storage, vault) = new_memory_vault().await;
    for len in [0usize, 10, 32 * 1024, 32 * 1024 * 3 + 5] {
        let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
        let name = format!("m{len}");
        let staged = vault.stager().stage_bytes(&data);
        assert_eq!(staged.size(), len as u64);
        let spooled = stage(&vault, &data);
        let node = vault
            .create_file_staged_nosync(&vault.root(), &name, &staged)
            .await
            .expect("create");
        assert_eq!(node.size, len as u64);
        vault.sync_file(&node).await.expect("sync_file");
        assert_eq!(read_back(&vault, &format!("/{name}")).await, data, "{name}");
        // Same ciphertext length as the spool path (header + chunks, no empty trailing chunk).
        let stored = storage
            .metadata(&StoragePath::new(&node.storage_path).expect("path"))
            .await
            .expect("metadata");
        let other = vault
            .create_file_staged(&vault.root(), &format!("s{len}"), &spooled)
            .await
            .expect("create spooled");
        let other = storage
            .metadata(&StoragePath::new(&other.storage_path).expect("path"))
            .await
            .expect("metadata");
        assert_eq!(stored.size, other.size, "{name}");
    }
    let fresh = reopen(storage, true).await;
    assert!(
        fresh
            .list(&fresh.root())
            .await
            .expect("list")
            .iter()
            .all(|n| !n.damaged)
    );
}

#[tokio::test]
async fn a_taken_name_is_already_exists_and_nothing_changes() {
    let (_storage, vault) = new_memory_vault().await;
    let old = stage(&vault, b"old");
    vault
        .create_file_staged(&vault.root(), "f", &old)
        .await
        .expect("create");
    vault.create_dir(&vault.root(), "d").await.expect("mkdir");
    let new = stage(&vault, b"new content");
    for name in ["f", "d"] {
        let err = vault
            .create_file_staged(&vault.root(), name, &new)
            .await
            .expect_err("taken");
        assert_eq!(err.kind(), VaultErrorKind::AlreadyExists, "{name}");
    }
    assert_eq!(read_back(&vault, "/f").await, b"old");
    // The staged file is still usable for another name.
    vault
        .create_file_staged(&vault.root(), "g", &new)
        .await
        .expect("create g");
    assert_eq!(read_back(&vault, "/g").await, b"new content");
}

#[tokio::test]
async fn a_long_name_is_stored_shortened() {
    let (storage, vault) = new_memory_vault().await;
    let name = "n".repeat(200);
    let staged = stage(&vault, b"long");
    vault
        .create_file_staged(&vault.root(), &name, &staged)
        .await
        .expect("create");
    assert_eq!(read_back(&vault, &format!("/{name}")).await, b"long");
    let fresh = reopen(storage, true).await;
    let listed = fresh.list(&fresh.root()).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, name);
    assert_eq!(listed[0].size, 4);
}

#[tokio::test]
async fn read_only_vaults_refuse() {
    let (storage, vault) = new_memory_vault().await;
    let staged = stage(&vault, b"x");
    let ro = reopen(storage, true).await;
    let err = ro
        .create_file_staged(&ro.root(), "f", &staged)
        .await
        .expect_err("read-only");
    assert_eq!(err.kind(), VaultErrorKind::ReadOnly);
}

async fn config_bytes(storage: &dyn Storage) -> Vec<u8> {
    storage
        .read_at(
            &StoragePath::new("vault.cryptomator").expect("path"),
            0,
            1 << 16,
        )
        .await
        .expect("config")
        .to_vec()
}

#[tokio::test]
async fn unlock_prefetched_opens_and_reports_a_missing_root_on_first_use() {
    let (storage, vault) = new_memory_vault().await;
    let root = vault.resolve("/").await.expect("root").storage_path;
    drop(vault);
    let config = config_bytes(storage.as_ref()).await;
    let dynstorage: Arc<dyn Storage> = storage.clone();
    let v = Vault::unlock_prefetched(
        dynstorage.clone(),
        config.clone(),
        "pw",
        OpenOptions::default(),
    )
    .await
    .expect("unlock");
    assert!(v.list(&v.root()).await.expect("list").is_empty());
    let err = Vault::unlock_prefetched(
        dynstorage.clone(),
        config.clone(),
        "wrong",
        OpenOptions::default(),
    )
    .await
    .expect_err("wrong password");
    assert!(matches!(err, VaultError::WrongPassword), "{err}");
    let err = Vault::unlock_prefetched(
        dynstorage.clone(),
        b"not a jwt".to_vec(),
        "pw",
        OpenOptions::default(),
    )
    .await
    .expect_err("bad config");
    assert_eq!(err.kind(), VaultErrorKind::NotAVault);

    storage
        .remove_dir_all(&StoragePath::new(&root).expect("path"))
        .await
        .expect("rm root");
    // Unlocks (the root is not asked for), then the first listing names the damage.
    let v = Vault::unlock_prefetched(
        dynstorage.clone(),
        config.clone(),
        "pw",
        OpenOptions::default(),
    )
    .await
    .expect("unlock without the root check");
    let err = v.list(&v.root()).await.expect_err("root missing");
    assert_eq!(err.kind(), VaultErrorKind::NotAVault, "{err}");
    assert!(err.to_string().contains("damaged"), "{err}");
    let staged = stage(&v, b"x");
    let err = v
        .create_file_staged(&v.root(), "f", &staged)
        .await
        .expect_err("root missing");
    assert_eq!(err.kind(), VaultErrorKind::NotAVault, "{err}");
    // The plain unlock still refuses at once.
    let err = Vault::unlock(dynstorage, "pw", OpenOptions::default())
        .await
        .expect_err("root missing");
    assert_eq!(err.kind(), VaultErrorKind::NotAVault);
}

#[tokio::test]
async fn remove_listed_removes_what_the_listing_returned() {
    let (_storage, vault) = new_memory_vault().await;
    let staged = stage(&vault, b"x");
    vault
        .create_file_staged(&vault.root(), "f", &staged)
        .await
        .expect("create");
    vault
        .create_symlink(&vault.root(), "s", "f")
        .await
        .expect("symlink");
    vault.create_dir(&vault.root(), "d").await.expect("mkdir");
    let listed = vault.list(&vault.root()).await.expect("list");
    for node in &listed {
        let res = vault.remove_listed(node).await;
        if matches!(node.kind, NodeKind::Dir(_)) {
            assert_eq!(res.expect_err("dir").kind(), VaultErrorKind::IsADirectory);
        } else {
            res.expect("removed");
            let again = vault.remove_listed(node).await.expect_err("gone");
            assert_eq!(again.kind(), VaultErrorKind::NotFound, "{}", node.name);
        }
    }
    let left: Vec<String> = vault
        .list(&vault.root())
        .await
        .expect("list")
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(left, vec!["d".to_owned()]);
}
