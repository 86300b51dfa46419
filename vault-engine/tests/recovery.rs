//! Password reset from the master key (recovery key, docs/vault-format.md §12/§13), on the in-memory backend.
//! The recovery-key words use a synthetic word list: the official one is not needed here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use vault_engine::{OpenOptions, Vault, VaultError};
use vault_format::recovery_key::{self, WordList};
use vault_storage::{MemoryStorage, Storage, StoragePath};

fn synthetic() -> WordList {
    let words: Vec<String> = (0..4096).map(|i| format!("w{i:04}")).collect();
    WordList::from_words(&words).unwrap()
}

async fn read_file(storage: Arc<dyn Storage>, password: &str, path: &str) -> Vec<u8> {
    let vault = Vault::unlock(storage, password, OpenOptions { read_only: true })
        .await
        .expect("unlock");
    let node = vault.resolve(path).await.expect("resolve");
    let f = vault.open(&node).await.expect("open");
    f.read(0, node.size as usize + 1)
        .await
        .expect("read")
        .to_vec()
}

async fn masterkey_bytes(storage: &MemoryStorage) -> Vec<u8> {
    storage
        .read_all(&StoragePath::new("masterkey.cryptomator").unwrap())
        .await
        .unwrap()
        .to_vec()
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

#[tokio::test]
async fn recovery_key_restores_access_after_a_password_change_with_the_old_password_forgotten() {
    let (storage, vault) = new_memory_vault().await;
    let data: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let node = vault.create_file(&vault.root(), "notes.bin").await.unwrap();
    let f = vault.open(&node).await.unwrap();
    f.write(0, &data).await.unwrap();
    f.flush().await.unwrap();
    drop(f);
    drop(vault);

    let list = synthetic();
    let key = Vault::unlock_master_key(storage.clone(), "pw")
        .await
        .unwrap();
    let words = recovery_key::encode(&key, &list);
    drop(key);
    Vault::change_password(storage.clone(), "pw", "B")
        .await
        .unwrap();

    let before = masterkey_bytes(&storage).await;
    let (files_before, _) = snapshot(&storage);
    let decoded = recovery_key::decode(&words, &list).unwrap();
    Vault::verify_master_key(storage.clone(), &decoded)
        .await
        .unwrap();
    let backup = Vault::reset_password(storage.clone(), &decoded, "C")
        .await
        .unwrap()
        .expect("a backup of the old masterkey file");
    // Spec §13 name, content = the file it replaced.
    let suffix = {
        use sha2::Digest;
        hex::encode_upper(&sha2::Sha256::digest(&before)[..4])
    };
    assert_eq!(backup, format!("masterkey.cryptomator.{suffix}.bkup"));
    let saved = storage
        .read_all(&StoragePath::new(&backup).unwrap())
        .await
        .unwrap();
    assert_eq!(saved.as_ref(), before.as_slice());

    // Only the masterkey file changed (and the backup appeared).
    let (files_after, _) = snapshot(&storage);
    let changed: Vec<&String> = files_after
        .iter()
        .filter(|(p, b)| !files_before.iter().any(|(q, c)| q == p && c == b))
        .map(|(p, _)| p)
        .collect();
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert!(changed.iter().any(|p| p.ends_with("masterkey.cryptomator")));

    // Version kept, salt new; the test vault's low scrypt cost (1024) is not carried over:
    // a stored cost comes from the storage, so the new file gets at least Cryptomator's 2^15.
    let (old, new) = (json(&before), json(&masterkey_bytes(&storage).await));
    assert_eq!(new["scryptCostParam"], 32768);
    assert_eq!(new["version"], 999);
    assert_ne!(new["scryptSalt"], old["scryptSalt"]);

    assert_eq!(read_file(storage.clone(), "C", "/notes.bin").await, data);
    for forgotten in ["pw", "B"] {
        let Err(err) = Vault::unlock(storage.clone(), forgotten, OpenOptions::default()).await
        else {
            panic!("the old password {forgotten:?} still opens the vault");
        };
        assert!(matches!(err, VaultError::WrongPassword), "{err}");
    }
}

#[tokio::test]
async fn a_key_of_another_vault_is_refused_and_nothing_is_written() {
    let (storage, _vault) = new_memory_vault().await;
    let (other, _other_vault) = new_memory_vault().await;
    let foreign = Vault::unlock_master_key(other.clone(), "pw").await.unwrap();
    let before = snapshot(&storage);
    storage.reset_calls();
    let err = Vault::verify_master_key(storage.clone(), &foreign)
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::WrongPassword), "{err}");
    let err = Vault::reset_password(storage.clone(), &foreign, "C")
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::WrongPassword), "{err}");
    assert_eq!(storage.calls("write"), 0);
    assert_eq!(snapshot(&storage), before);
    assert!(
        Vault::unlock(storage.clone(), "pw", OpenOptions::default())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn unlock_master_key_needs_the_password_and_gives_the_fixture_key() {
    let storage = memory_fixture("vault-v8").await;
    let err = Vault::unlock_master_key(storage.clone(), "wrong")
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::WrongPassword), "{err}");
    let key = Vault::unlock_master_key(storage.clone(), &password("vault-v8"))
        .await
        .unwrap();
    // The same key as the vector (compare through the codec: raw bytes stay in the format crate).
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("vectors.json")).unwrap()).unwrap();
    let raw: [u8; 64] = hex::decode(v["recovery_key"]["raw_key_hex"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let list = synthetic();
    assert_eq!(
        recovery_key::encode(&key, &list),
        recovery_key::encode(&vault_format::MasterKey::from_raw(&raw), &list)
    );
}

#[tokio::test]
async fn a_missing_masterkey_file_is_written_fresh() {
    let (storage, _vault) = new_memory_vault().await;
    let key = Vault::unlock_master_key(storage.clone(), "pw")
        .await
        .unwrap();
    storage
        .remove_file(&StoragePath::new("masterkey.cryptomator").unwrap())
        .await
        .unwrap();
    let backup = Vault::reset_password(storage.clone(), &key, "C")
        .await
        .unwrap();
    assert_eq!(backup, None);
    // Reference defaults for a fresh file.
    let new = json(&masterkey_bytes(&storage).await);
    assert_eq!(new["scryptCostParam"], 32768);
    assert_eq!(new["version"], 999);
    assert!(
        Vault::unlock(storage.clone(), "C", OpenOptions::default())
            .await
            .is_ok()
    );
}
