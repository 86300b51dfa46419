//! Acceptance 4: bad input gets a clear error and leaves the vault as it was
//! (storage compared before/after). Never a panic.

mod common;

use std::sync::Arc;

use common::*;
use vault_engine::check::{NoProgress, check};
use vault_engine::{NodeKind, OpenOptions, Vault, VaultError, VaultErrorKind};
use vault_format::{MasterkeyFile, UnverifiedVaultConfig};
use vault_storage::{Body, MemoryStorage, Storage, StoragePath, WriteMode};

async fn fixture() -> (Arc<MemoryStorage>, String) {
    (memory_fixture("vault-v8").await, password("vault-v8"))
}

fn p(s: &str) -> StoragePath {
    StoragePath::new(s).expect("path")
}

async fn put(storage: &MemoryStorage, path: &str, bytes: Vec<u8>) {
    storage
        .write(&p(path), Body::from_bytes(bytes), WriteMode::Overwrite)
        .await
        .expect("write");
}

async fn get(storage: &MemoryStorage, path: &str) -> Vec<u8> {
    storage.read_all(&p(path)).await.expect("read").to_vec()
}

/// Unlocks and returns the error; asserts nothing was written.
async fn unlock_err(storage: Arc<MemoryStorage>, password: &str) -> VaultError {
    let before = snapshot(&storage);
    let err = Vault::unlock(storage.clone(), password, OpenOptions::default())
        .await
        .expect_err("must fail");
    assert_eq!(
        snapshot(&storage),
        before,
        "a failed unlock modified the vault"
    );
    err
}

#[tokio::test]
async fn wrong_password() {
    let (storage, _) = fixture().await;
    let err = unlock_err(storage, "not the password").await;
    assert_eq!(err.kind(), VaultErrorKind::WrongPassword);
    assert_eq!(err.to_string(), "wrong password");
}

#[tokio::test]
async fn missing_vault_config() {
    let (storage, pw) = fixture().await;
    storage
        .remove_file(&p("vault.cryptomator"))
        .await
        .expect("rm");
    let err = unlock_err(storage, &pw).await;
    assert_eq!(err.kind(), VaultErrorKind::NotAVault);
    assert!(
        err.to_string().starts_with("no vault.cryptomator at "),
        "{err}"
    );
}

#[tokio::test]
async fn empty_storage_is_not_a_vault() {
    let err = unlock_err(Arc::new(MemoryStorage::new()), "pw").await;
    assert_eq!(err.kind(), VaultErrorKind::NotAVault);
    assert!(err.to_string().contains("no vault.cryptomator"), "{err}");
}

#[tokio::test]
async fn tampered_vault_config() {
    let (storage, pw) = fixture().await;
    let token = String::from_utf8(get(&storage, "vault.cryptomator").await).expect("ascii");
    // Change one claim character: the signature no longer matches.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims = parts[1].clone().into_bytes();
    claims[5] = if claims[5] == b'A' { b'B' } else { b'A' };
    parts[1] = String::from_utf8(claims).expect("ascii");
    put(&storage, "vault.cryptomator", parts.join(".").into_bytes()).await;
    let err = unlock_err(storage.clone(), &pw).await;
    assert_eq!(err.kind(), VaultErrorKind::NotAVault, "{err}");
    // Garbage instead of a token.
    put(&storage, "vault.cryptomator", b"not a jwt".to_vec()).await;
    let err = unlock_err(storage, &pw).await;
    assert_eq!(err.kind(), VaultErrorKind::NotAVault, "{err}");
    assert!(err.to_string().contains("vault.cryptomator"), "{err}");
}

#[tokio::test]
async fn unknown_format() {
    let (storage, pw) = fixture().await;
    let mk = MasterkeyFile::parse(&get(&storage, "masterkey.cryptomator").await).expect("mk");
    let key = mk.unlock(&pw).expect("unlock key");
    let config = UnverifiedVaultConfig::parse(&get(&storage, "vault.cryptomator").await)
        .expect("parse")
        .verify(&key)
        .expect("verify");
    let mut future = config.clone();
    future.format = 9;
    put(
        &storage,
        "vault.cryptomator",
        future.to_token(&key).into_bytes(),
    )
    .await;
    let err = unlock_err(storage, &pw).await;
    assert_eq!(err.kind(), VaultErrorKind::NotAVault);
    assert_eq!(err.to_string(), "unsupported vault format 9");
}

#[tokio::test]
async fn truncated_masterkey() {
    let (storage, pw) = fixture().await;
    let mk = get(&storage, "masterkey.cryptomator").await;
    put(
        &storage,
        "masterkey.cryptomator",
        mk[..mk.len() / 2].to_vec(),
    )
    .await;
    let err = unlock_err(storage.clone(), &pw).await;
    assert_eq!(err.kind(), VaultErrorKind::NotAVault);
    assert!(err.to_string().contains("masterkey.cryptomator"), "{err}");
    storage
        .remove_file(&p("masterkey.cryptomator"))
        .await
        .expect("rm");
    let err = unlock_err(storage, &pw).await;
    assert!(
        err.to_string().starts_with("no masterkey.cryptomator at"),
        "{err}"
    );
}

#[tokio::test]
async fn missing_root_content_dir() {
    let (storage, pw) = fixture().await;
    let vault = Vault::unlock(storage.clone(), &pw, OpenOptions::default())
        .await
        .expect("unlock");
    let root = vault.resolve("/").await.expect("root").storage_path;
    drop(vault);
    storage.remove_dir_all(&p(&root)).await.expect("rm root");
    let err = unlock_err(storage, &pw).await;
    assert_eq!(err.kind(), VaultErrorKind::NotAVault);
    assert!(err.to_string().contains("damaged"), "{err}");
}

#[tokio::test]
async fn missing_dir_target_is_hidden_and_reported() {
    let (storage, vault) = new_memory_vault().await;
    let sub = vault.create_dir(&vault.root(), "sub").await.expect("mkdir");
    let NodeKind::Dir(id) = sub.kind.clone() else {
        panic!()
    };
    let child = vault.create_file(&id, "child").await.expect("child");
    vault
        .create_file(&vault.root(), "other")
        .await
        .expect("other");
    let content = child
        .storage_path
        .rsplit_once('/')
        .expect("slash")
        .0
        .to_owned();
    drop(vault);
    storage
        .remove_dir_all(&p(&content))
        .await
        .expect("rm content");
    let before = snapshot(&storage);
    let fresh = reopen(storage.clone(), false).await;
    let names: Vec<String> = fresh
        .list(&fresh.root())
        .await
        .expect("list")
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(
        names,
        vec!["other".to_owned()],
        "a directory without content dir is hidden"
    );
    let report = check(&fresh, false, &NoProgress).await.expect("check");
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.description.contains("content directory is missing")),
        "{:#?}",
        report.problems
    );
    assert_eq!(snapshot(&storage), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_chunk_fails_at_its_offset() {
    let (storage, pw) = fixture().await;
    let vault = Vault::unlock(storage.clone(), &pw, OpenOptions { read_only: true })
        .await
        .expect("unlock");
    let want = expected(&fixtures().join("vault-v8").join("expected.json"));
    let (path, _) = want
        .iter()
        .find(|(_, e)| matches!(e, Entry::File { size: 100_000, .. }))
        .expect("100000-byte file");
    let node = vault.resolve(path).await.expect("resolve");
    // Flip one byte inside chunk 2 (cleartext offset 65536).
    let content = if node.storage_path.ends_with(".c9s") {
        format!("{}/contents.c9r", node.storage_path)
    } else {
        node.storage_path.clone()
    };
    let mut ct = get(&storage, &content).await;
    let at = 68 + 2 * 32796 + 100;
    ct[at] ^= 0x01;
    put(&storage, &content, ct).await;
    let before = snapshot(&storage);
    let fresh = Vault::unlock(storage.clone(), &pw, OpenOptions { read_only: true })
        .await
        .expect("unlock");
    let node = fresh.resolve(path).await.expect("resolve");
    let f = fresh.open(&node).await.expect("open");
    assert_eq!(
        f.read(0, 65536).await.expect("first two chunks fine").len(),
        65536
    );
    let err = f
        .read(60_000, 10_000)
        .await
        .expect_err("chunk 2 is tampered");
    assert_eq!(err.kind(), VaultErrorKind::Corrupt);
    match &err {
        VaultError::Corrupt {
            storage_path,
            offset,
            ..
        } => {
            assert_eq!(storage_path, &content);
            assert_eq!(*offset, Some(65536));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("corrupted at offset 65536"),
        "{err}"
    );
    // Every other file still reads.
    for (other, e) in &want {
        if other == path {
            continue;
        }
        if let Entry::File { size, sha256 } = e {
            let n = fresh.resolve(other).await.expect("resolve");
            let data = fresh
                .open(&n)
                .await
                .expect("open")
                .read(0, *size as usize)
                .await
                .expect("read");
            assert_eq!(&sha256_hex(&data), sha256, "{other}");
        }
    }
    let report = check(&fresh, false, &NoProgress).await.expect("check");
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.description.contains("offset 65536")),
        "{:#?}",
        report.problems
    );
    assert_eq!(snapshot(&storage), before);
}

#[tokio::test]
async fn damaged_size_is_listed_as_damaged() {
    let (storage, vault) = new_memory_vault().await;
    let node = vault.create_file(&vault.root(), "f").await.expect("create");
    let f = vault.open(&node).await.expect("open");
    f.write(0, b"hello").await.expect("write");
    f.flush().await.expect("flush");
    drop(f);
    // Cut to header + 20 bytes: a trailing chunk of 0 < n <= 28 bytes is no valid size.
    let mut ct = get(&storage, &node.storage_path).await;
    ct.truncate(68 + 20);
    put(&storage, &node.storage_path, ct).await;
    let fresh = reopen(storage.clone(), true).await;
    let listed = fresh.list(&fresh.root()).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].damaged);
    assert_eq!(listed[0].size, 0);
    let err = fresh
        .open(&listed[0])
        .await
        .expect("open")
        .read(0, 10)
        .await
        .expect_err("damaged");
    assert_eq!(err.kind(), VaultErrorKind::Corrupt);
}

#[tokio::test]
async fn unavailable_storage() {
    let (storage, pw) = fixture().await;
    let before = snapshot(&storage);
    storage.set_unavailable(true);
    let err = Vault::unlock(storage.clone(), &pw, OpenOptions::default())
        .await
        .expect_err("unavailable");
    assert_eq!(err.kind(), VaultErrorKind::Unavailable);
    storage.set_unavailable(false);
    let vault = Vault::unlock(storage.clone(), &pw, OpenOptions::default())
        .await
        .expect("unlock");
    storage.set_unavailable(true);
    assert_eq!(
        vault.list(&vault.root()).await.expect_err("list").kind(),
        VaultErrorKind::Unavailable
    );
    assert_eq!(
        vault
            .create_dir(&vault.root(), "x")
            .await
            .expect_err("mkdir")
            .kind(),
        VaultErrorKind::Unavailable
    );
    storage.set_unavailable(false);
    assert_eq!(snapshot(&storage), before);
    // Storage fails part-way through mkdir (and through the undo): the
    // directory is complete or invisible, the name stays usable, and
    // check --repair removes every leftover.
    let files_before = storage.files();
    for budget in 1..8 {
        storage.fail_after_calls(Some(budget));
        let res = vault.create_dir(&vault.root(), "newdir").await;
        storage.set_unavailable(false);
        match vault.resolve("/newdir").await {
            Ok(n) => {
                assert!(res.is_ok() || budget > 0);
                let NodeKind::Dir(id) = n.kind else { panic!() };
                assert!(
                    vault
                        .list(&id)
                        .await
                        .expect("complete directory lists")
                        .is_empty()
                );
                vault
                    .remove_dir(&vault.root(), "newdir")
                    .await
                    .expect("rmdir");
            }
            Err(e) => {
                assert_eq!(e.kind(), VaultErrorKind::NotFound, "budget {budget}");
                assert!(res.is_err());
                let again = Vault::unlock(storage.clone(), &pw, OpenOptions::default())
                    .await
                    .expect("unlock");
                again
                    .create_dir(&again.root(), "newdir")
                    .await
                    .expect("name still usable");
                again
                    .remove_dir(&again.root(), "newdir")
                    .await
                    .expect("rmdir");
            }
        }
        check(&vault, true, &NoProgress).await.expect("repair");
        assert_eq!(
            storage.files(),
            files_before,
            "budget {budget}: leftovers after repair"
        );
    }
}

#[tokio::test]
async fn read_only_refuses_writes() {
    let (storage, pw) = fixture().await;
    let before = snapshot(&storage);
    let vault = Vault::unlock(storage.clone(), &pw, OpenOptions { read_only: true })
        .await
        .expect("unlock");
    let root = vault.root();
    assert_eq!(
        vault.create_file(&root, "x").await.expect_err("ro").kind(),
        VaultErrorKind::ReadOnly
    );
    assert_eq!(
        vault.create_dir(&root, "x").await.expect_err("ro").kind(),
        VaultErrorKind::ReadOnly
    );
    let any_file = vault
        .list(&root)
        .await
        .expect("list")
        .into_iter()
        .find(|n| n.kind == NodeKind::File)
        .expect("file");
    let f = vault.open(&any_file).await.expect("open");
    assert_eq!(
        f.write(0, b"x").await.expect_err("ro").kind(),
        VaultErrorKind::ReadOnly
    );
    assert_eq!(
        vault
            .remove_file(&root, &any_file.name)
            .await
            .expect_err("ro")
            .kind(),
        VaultErrorKind::ReadOnly
    );
    assert_eq!(snapshot(&storage), before);
}

#[tokio::test]
async fn invalid_names() {
    let (_storage, vault) = new_memory_vault().await;
    for bad in ["", ".", "..", "a/b"] {
        assert_eq!(
            vault
                .create_file(&vault.root(), bad)
                .await
                .expect_err(bad)
                .kind(),
            VaultErrorKind::InvalidName
        );
        assert_eq!(
            vault
                .lookup(&vault.root(), bad)
                .await
                .expect_err(bad)
                .kind(),
            VaultErrorKind::InvalidName
        );
    }
    let long_target = "t".repeat(32768);
    assert_eq!(
        vault
            .create_symlink(&vault.root(), "l", &long_target)
            .await
            .expect_err("long")
            .kind(),
        VaultErrorKind::NameTooLong
    );
    vault
        .create_symlink(&vault.root(), "l", &"t".repeat(32767))
        .await
        .expect("32767 bytes ok");
    let l = vault.resolve("/l").await.expect("l");
    assert_eq!(vault.read_symlink(&l).await.expect("readlink").len(), 32767);
}

#[tokio::test]
async fn password_change_keeps_data_and_backs_up() {
    let (storage, vault) = new_memory_vault().await;
    let n = vault
        .create_file(&vault.root(), "keep")
        .await
        .expect("create");
    let f = vault.open(&n).await.expect("open");
    f.write(0, b"data").await.expect("write");
    f.flush().await.expect("flush");
    drop((f, vault));
    let old_mk = get(&storage, "masterkey.cryptomator").await;
    assert_eq!(
        Vault::change_password(storage.clone(), "wrong", "new")
            .await
            .expect_err("wrong")
            .kind(),
        VaultErrorKind::WrongPassword
    );
    assert_eq!(get(&storage, "masterkey.cryptomator").await, old_mk);
    Vault::change_password(storage.clone(), "pw", "new")
        .await
        .expect("change");
    let backups: Vec<_> = storage
        .files()
        .into_iter()
        .filter(|(k, _)| k.starts_with("masterkey.cryptomator.") && k.ends_with(".bkup"))
        .collect();
    assert_eq!(backups.len(), 1);
    assert_eq!(backups[0].1.as_ref(), old_mk.as_slice());
    assert_eq!(
        Vault::unlock(storage.clone(), "pw", OpenOptions::default())
            .await
            .expect_err("old")
            .kind(),
        VaultErrorKind::WrongPassword
    );
    let vault = Vault::unlock(storage.clone(), "new", OpenOptions::default())
        .await
        .expect("new password");
    let n = vault.resolve("/keep").await.expect("keep");
    assert_eq!(
        vault
            .open(&n)
            .await
            .expect("open")
            .read(0, 10)
            .await
            .expect("read")
            .as_slice(),
        b"data"
    );
}
