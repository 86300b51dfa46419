//! Shared test helpers: fixture vaults copied to temp storage, tree walks (plain copies, hashes
//! and the fixtures folder come from `test-support`).
#![allow(dead_code, unused_imports)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use vault_engine::{CreateOptions, DirId, NodeKind, OpenOptions, Vault};
use vault_storage::{Body, LocalStorage, MemoryStorage, Storage, StoragePath, WriteMode};

pub use test_support::files::{copy_tree as copy_dir, sha256_hex};
pub use test_support::paths::fixtures;

pub fn password(fixture: &str) -> String {
    std::fs::read_to_string(fixtures().join(fixture).join("password.txt")).expect("password.txt")
}

/// Copies a local folder into a storage (any backend).
pub async fn upload_dir(storage: &dyn Storage, src: &Path, dst: &StoragePath) {
    let mut entries: Vec<_> = std::fs::read_dir(src)
        .expect("read_dir")
        .map(|e| e.expect("entry"))
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().into_string().expect("utf-8 name");
        let p = dst.join(&name).expect("join");
        if e.file_type().expect("type").is_dir() {
            storage.create_dir(&p).await.expect("create_dir");
            Box::pin(upload_dir(storage, &e.path(), &p)).await;
        } else {
            let bytes = std::fs::read(e.path()).expect("read");
            storage
                .write(&p, Body::from_bytes(bytes), WriteMode::CreateNew)
                .await
                .expect("write");
        }
    }
}

/// A fixture vault on a fresh MemoryStorage.
pub async fn memory_fixture(fixture: &str) -> Arc<MemoryStorage> {
    let storage = Arc::new(MemoryStorage::new());
    upload_dir(
        storage.as_ref(),
        &fixtures().join(fixture).join("vault"),
        &StoragePath::root(),
    )
    .await;
    storage
}

/// A fixture vault copied into a temp dir, on LocalStorage.
pub fn local_fixture(fixture: &str) -> (tempfile::TempDir, Arc<LocalStorage>) {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixtures().join(fixture).join("vault"), dir.path());
    let storage = Arc::new(
        LocalStorage::new(dir.path())
            .expect("local")
            .with_fsync(false),
    );
    (dir, storage)
}

pub fn small_cost() -> CreateOptions {
    CreateOptions {
        scrypt_cost: 1024,
        ..CreateOptions::default()
    }
}

pub async fn new_memory_vault() -> (Arc<MemoryStorage>, Vault) {
    let storage = Arc::new(MemoryStorage::new());
    let vault = Vault::create(storage.clone(), "pw", small_cost())
        .await
        .expect("create");
    (storage, vault)
}

pub async fn reopen(storage: Arc<dyn Storage>, read_only: bool) -> Vault {
    Vault::unlock(storage, "pw", OpenOptions { read_only })
        .await
        .expect("unlock")
}

/// What a walk found at one cleartext path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir,
    File { size: u64, sha256: String },
    Symlink { target: String },
}

/// Every node below `dir`, by cleartext path (`/a/b`), with content hashes.
/// Listings only: sync-conflict copies are presented, never resolved.
pub async fn walk(vault: &Vault) -> BTreeMap<String, Entry> {
    walk_with(vault, false).await
}

/// As [`walk`], resolving each directory's sync-conflict copies before
/// listing it, as a read-write mount's readdir does.
#[allow(dead_code)]
pub async fn walk_resolving(vault: &Vault) -> BTreeMap<String, Entry> {
    walk_with(vault, true).await
}

async fn walk_with(vault: &Vault, resolve: bool) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(DirId::root(), String::new())];
    while let Some((id, path)) = stack.pop() {
        if resolve {
            vault
                .resolve_conflicts(&id)
                .await
                .expect("resolve conflicts");
        }
        for node in vault.list(&id).await.expect("list") {
            let p = format!("{path}/{}", node.name);
            match &node.kind {
                NodeKind::Dir(cid) => {
                    out.insert(p.clone(), Entry::Dir);
                    stack.push((cid.clone(), p));
                }
                NodeKind::File => {
                    let f = vault.open(&node).await.expect("open");
                    let size = f.size().await;
                    assert_eq!(size, node.size, "listed size of {p}");
                    let data = f.read(0, size as usize + 10).await.expect("read");
                    assert_eq!(data.len() as u64, size, "read length of {p}");
                    out.insert(
                        p,
                        Entry::File {
                            size,
                            sha256: sha256_hex(&data),
                        },
                    );
                }
                NodeKind::Symlink => {
                    let target = vault.read_symlink(&node).await.expect("readlink");
                    out.insert(p, Entry::Symlink { target });
                }
            }
        }
    }
    out
}

/// The `entries` of an expected.json as a walk result.
pub fn expected(json_path: &Path) -> BTreeMap<String, Entry> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json_path).expect("expected.json")).expect("json");
    let mut out = BTreeMap::new();
    for e in v["entries"].as_array().expect("entries") {
        let path = e["path"].as_str().expect("path").to_owned();
        let entry = match e["type"].as_str().expect("type") {
            "dir" => Entry::Dir,
            "file" => Entry::File {
                size: e["size"].as_u64().expect("size"),
                sha256: e["sha256"].as_str().expect("sha").to_owned(),
            },
            "symlink" => Entry::Symlink {
                target: e["target"].as_str().expect("target").to_owned(),
            },
            other => panic!("unknown type {other}"),
        };
        out.insert(path, entry);
    }
    out
}

/// Snapshot of every object and folder of a MemoryStorage.
pub fn snapshot(storage: &MemoryStorage) -> (Vec<(String, bytes::Bytes)>, Vec<String>) {
    (storage.files(), storage.dirs())
}

/// Snapshot of a local folder: relative path → content (None for dirs).
pub fn local_snapshot(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    fn rec(root: &Path, dir: &Path, out: &mut BTreeMap<String, Option<Vec<u8>>>) {
        for e in std::fs::read_dir(dir).expect("read_dir") {
            let e = e.expect("entry");
            let rel = e
                .path()
                .strip_prefix(root)
                .expect("prefix")
                .to_string_lossy()
                .into_owned();
            if e.file_type().expect("type").is_dir() {
                out.insert(rel, None);
                rec(root, &e.path(), out);
            } else {
                out.insert(rel, Some(std::fs::read(e.path()).expect("read")));
            }
        }
    }
    rec(root, root, &mut out);
    out
}
