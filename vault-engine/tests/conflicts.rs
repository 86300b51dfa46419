//! Acceptance 3: sync-conflict copies (docs/vault-format.md §10). The `conflicts/` fixture
//! lists exactly as expected-resolved.json says, read-only (storage
//! untouched) and read-write (resolved on storage by `resolve_conflicts`, as
//! a read-write mount does before presenting; a second pass changes
//! nothing), plus Nextcloud-named copies of a file and a directory node.

mod common;

use std::sync::Arc;

use common::*;
use vault_engine::check::{NoProgress, check};
use vault_engine::{DirId, NodeKind, OpenOptions, Vault};
use vault_storage::{Body, MemoryStorage, Storage, StoragePath, WriteMode};

fn expected_resolved() -> std::collections::BTreeMap<String, Entry> {
    expected(&fixtures().join("conflicts").join("expected-resolved.json"))
}

async fn unlock(storage: Arc<MemoryStorage>, read_only: bool) -> Vault {
    Vault::unlock(storage, &password("conflicts"), OpenOptions { read_only })
        .await
        .expect("unlock")
}

#[tokio::test]
async fn read_only_presents_without_writing() {
    let storage = memory_fixture("conflicts").await;
    let before = snapshot(&storage);
    let vault = unlock(storage.clone(), true).await;
    let got = walk(&vault).await;
    assert_eq!(got, expected_resolved());
    // Lookups of presented names reach the stored conflict entries.
    for (path, entry) in expected_resolved() {
        let node = vault
            .resolve(&path)
            .await
            .unwrap_or_else(|e| panic!("resolve {path}: {e}"));
        if let Entry::File { size, .. } = entry {
            assert_eq!(node.size, size, "{path}");
        }
    }
    // A fresh vault (nothing cached) resolves a presented name too.
    let fresh = unlock(storage.clone(), true).await;
    let n = fresh
        .resolve("/report (conflicted copy 2026-11-25 033004).txt")
        .await
        .expect("presented lookup");
    assert!(
        n.storage_path.contains("(conflicted copy"),
        "{}",
        n.storage_path
    );
    assert_eq!(snapshot(&storage), before, "read-only use wrote to storage");
}

#[tokio::test]
async fn read_write_resolves_on_storage_once() {
    let storage = memory_fixture("conflicts").await;
    let before = snapshot(&storage);
    let vault = unlock(storage.clone(), false).await;
    assert_eq!(walk_resolving(&vault).await, expected_resolved());
    let after_first = snapshot(&storage);
    assert_ne!(
        after_first, before,
        "read-write listing resolves on storage"
    );
    // No conflict-named entry is left in the root content dir.
    let root = vault.resolve("/").await.expect("root");
    let entries = storage
        .list_dir(&StoragePath::new(&root.storage_path).expect("path"))
        .await
        .expect("list");
    assert!(
        entries
            .iter()
            .all(|e| !e.name.contains("conflicted copy") && !e.name.starts_with("Copy_of_")),
        "{:?}",
        entries.iter().map(|e| &e.name).collect::<Vec<_>>()
    );
    // The é×60 copy is stored shortened (docs/vault-format.md §10 recommended form).
    assert!(
        entries
            .iter()
            .any(|e| e.name == "xRI6iCLQZ2-SNcZcehUBKuF9NBs=.c9s")
    );
    // The hidden copy stays untouched.
    assert!(
        entries
            .iter()
            .any(|e| e.name == ".Ni7PzxxHgsYs5lNBh6QeXpzAISu-Tp_TCA4=.c9r")
    );
    // A second pass (and a fresh unlock) changes nothing.
    assert_eq!(walk_resolving(&vault).await, expected_resolved());
    let again = unlock(storage.clone(), false).await;
    assert_eq!(walk_resolving(&again).await, expected_resolved());
    assert_eq!(snapshot(&storage), after_first);
    // Every resolved node is reachable by computed name now.
    for path in expected_resolved().keys() {
        again
            .resolve(path)
            .await
            .unwrap_or_else(|e| panic!("resolve {path}: {e}"));
    }
}

#[tokio::test]
async fn check_reports_then_repairs_conflicts() {
    let storage = memory_fixture("conflicts").await;
    let before = snapshot(&storage);
    let vault = unlock(storage.clone(), false).await;
    let report = check(&vault, false, &NoProgress).await.expect("check");
    let conflicts = report
        .problems
        .iter()
        .filter(|p| p.description.contains("sync-conflict"))
        .count();
    assert_eq!(conflicts, 8, "{:#?}", report.problems);
    assert_eq!(snapshot(&storage), before, "check without --repair wrote");
    let report = check(&vault, true, &NoProgress).await.expect("repair");
    assert!(
        report
            .problems
            .iter()
            .filter(|p| p.description.contains("sync-conflict"))
            .all(|p| p.repaired),
        "{:#?}",
        report.problems
    );
    let report = check(&vault, false, &NoProgress)
        .await
        .expect("check again");
    assert_eq!(
        report
            .problems
            .iter()
            .filter(|p| p.description.contains("sync-conflict"))
            .count(),
        0,
        "{:#?}",
        report.problems
    );
    let fresh = unlock(storage.clone(), true).await;
    assert_eq!(walk(&fresh).await, expected_resolved());
}

async fn write_file(vault: &Vault, dir: &DirId, name: &str, data: &[u8]) {
    let node = vault.create_file(dir, name).await.expect("create");
    let f = vault.open(&node).await.expect("open");
    f.write(0, data).await.expect("write");
    f.flush().await.expect("flush");
}

/// Renames a node's stored entry to `<ciphertext of target> (conflicted copy …).c9r`.
async fn make_conflict_copy(
    storage: &MemoryStorage,
    vault: &Vault,
    tmp: &str,
    target: &str,
) -> String {
    let tmp_node = vault.resolve(tmp).await.expect("tmp");
    let target_node = vault.resolve(target).await.expect("target");
    let base = target_node
        .storage_path
        .strip_suffix(".c9r")
        .expect("c9r")
        .to_owned();
    let copy = format!("{base} (conflicted copy 2026-11-25 101010).c9r");
    storage
        .rename(
            &StoragePath::new(&tmp_node.storage_path).expect("p"),
            &StoragePath::new(&copy).expect("p"),
            vault_storage::RenameMode::NoReplace,
        )
        .await
        .expect("rename");
    copy
}

#[tokio::test]
async fn nextcloud_named_copies_of_file_and_directory() {
    for read_only in [true, false] {
        let (storage, vault) = new_memory_vault().await;
        let root = vault.root();
        write_file(&vault, &root, "report.txt", b"mine").await;
        write_file(&vault, &root, "tmp", b"theirs").await;
        let photos = vault.create_dir(&root, "photos").await.expect("mkdir");
        let other = vault.create_dir(&root, "tmpdir").await.expect("mkdir");
        let NodeKind::Dir(other_id) = other.kind.clone() else {
            panic!()
        };
        write_file(&vault, &other_id, "beach.jpg", b"sand").await;
        make_conflict_copy(&storage, &vault, "/tmp", "/report.txt").await;
        make_conflict_copy(&storage, &vault, "/tmpdir", "/photos").await;
        // An identical duplicate of the photos node: same dir.c9r.
        let dup = format!(
            "{} (conflicted copy 2026-11-25 101011).c9r",
            photos.storage_path.strip_suffix(".c9r").expect("c9r")
        );
        let dup_path = StoragePath::new(&dup).expect("p");
        storage.create_dir(&dup_path).await.expect("dup");
        let NodeKind::Dir(photos_id) = photos.kind.clone() else {
            panic!()
        };
        storage
            .write(
                &dup_path.join("dir.c9r").expect("p"),
                Body::from_bytes(photos_id.as_str().as_bytes().to_vec()),
                WriteMode::CreateNew,
            )
            .await
            .expect("dir.c9r");
        drop(vault);

        let before = snapshot(&storage);
        let vault = Vault::unlock(storage.clone(), "pw", OpenOptions { read_only })
            .await
            .expect("unlock");
        let got = if read_only {
            walk(&vault).await
        } else {
            walk_resolving(&vault).await
        };
        let names: Vec<&str> = got.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            vec![
                "/photos",
                "/photos (conflicted copy 2026-11-25 101010)",
                "/photos (conflicted copy 2026-11-25 101010)/beach.jpg",
                "/report (conflicted copy 2026-11-25 101010).txt",
                "/report.txt",
            ],
            "read_only={read_only}"
        );
        assert_eq!(
            got["/report.txt"],
            Entry::File {
                size: 4,
                sha256: sha256_hex(b"mine")
            }
        );
        assert_eq!(
            got["/report (conflicted copy 2026-11-25 101010).txt"],
            Entry::File {
                size: 6,
                sha256: sha256_hex(b"theirs")
            }
        );
        if read_only {
            assert_eq!(snapshot(&storage), before);
        } else {
            assert!(
                storage.metadata(&dup_path).await.is_err(),
                "identical duplicate deleted"
            );
            let after = snapshot(&storage);
            assert_eq!(walk_resolving(&vault).await, got);
            assert_eq!(snapshot(&storage), after, "second listing changed storage");
        }
    }
}

#[tokio::test]
async fn the_conflict_observer_is_told_once_per_resolved_copy() {
    let storage = memory_fixture("conflicts").await;
    let vault = unlock(storage.clone(), false).await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    assert!(vault.on_conflict(Box::new(move |e| {
        sink.lock().expect("lock").push(e.clone())
    })));
    assert!(!vault.on_conflict(Box::new(|_| {})), "one observer only");
    // A read-write listing alone tells nothing: only a resolution changes storage.
    walk(&vault).await;
    assert!(seen.lock().expect("lock").is_empty());
    walk_resolving(&vault).await;
    let first = seen.lock().expect("lock").clone();
    assert!(!first.is_empty(), "the fixture's copies were seen");
    assert!(first.iter().all(|e| e.resolved), "{first:?}");
    assert!(
        first
            .iter()
            .any(|e| e.name == "report (conflicted copy 2026-11-25 033004).txt"),
        "{first:?}"
    );
    // Resolved on storage: a fresh listing has nothing more to tell.
    let again = unlock(storage, false).await;
    let sink = Arc::clone(&seen);
    again.on_conflict(Box::new(move |e| {
        sink.lock().expect("lock").push(e.clone())
    }));
    walk_resolving(&again).await;
    assert_eq!(seen.lock().expect("lock").len(), first.len());
}

/// Storage methods that change something.
const WRITES: [&str; 10] = [
    "create_dir",
    "remove_dir",
    "remove_dir_all",
    "remove_file",
    "rename",
    "set_len",
    "set_modified",
    "write",
    "write_at",
    "sync",
];

fn writes(storage: &MemoryStorage) -> Vec<(&'static str, u64)> {
    WRITES
        .iter()
        .map(|op| (*op, storage.calls(op)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Every directory ID of the fixture, from a read-only walk.
async fn dir_ids(vault: &Vault) -> Vec<DirId> {
    let mut out = vec![vault.root()];
    let mut i = 0;
    while i < out.len() {
        let id = out[i].clone();
        for n in vault.list(&id).await.expect("list") {
            if let NodeKind::Dir(c) = n.kind {
                out.push(c);
            }
        }
        i += 1;
    }
    out
}

/// Acceptance 2 (issue 15): a listing (read-only or read-write) and a read-write
/// lookup miss write nothing to storage, on a vault full of conflict copies:
/// every object is byte-identical before and after, and no storage method
/// that changes anything was called.
#[tokio::test]
async fn listings_and_read_write_lookup_misses_write_nothing() {
    let storage = memory_fixture("conflicts").await;
    let before = snapshot(&storage);
    storage.reset_calls();

    let ro = unlock(storage.clone(), true).await;
    assert_eq!(walk(&ro).await, expected_resolved());
    for id in dir_ids(&ro).await {
        ro.list_checked(&id).await.expect("list_checked");
    }
    assert_eq!(writes(&storage), vec![], "read-only listing wrote");
    assert_eq!(snapshot(&storage), before, "read-only listing wrote");

    let rw = unlock(storage.clone(), false).await;
    let ids = dir_ids(&ro).await;
    for id in &ids {
        let listed = rw.list_checked(id).await.expect("list_checked");
        if id == &rw.root() {
            assert!(
                listed.unresolved_conflicts > 0,
                "the root presents conflict copies"
            );
        }
    }
    // Misses with nothing cached: each one stats the computed names and lists
    // the directory for presented names; none may resolve.
    for id in &ids {
        for name in [
            "no such file",
            "report (conflicted copy 2099-01-01 000000).txt",
        ] {
            rw.clear_caches();
            let miss = rw.lookup(id, name).await.expect_err("miss");
            assert_eq!(miss.kind(), vault_engine::VaultErrorKind::NotFound);
        }
    }
    // Hits on presented names (a fresh vault: found through a listing) write nothing either.
    for path in expected_resolved().keys() {
        let fresh = unlock(storage.clone(), false).await;
        fresh
            .resolve(path)
            .await
            .unwrap_or_else(|e| panic!("resolve {path}: {e}"));
    }
    assert_eq!(walk(&rw).await, expected_resolved());
    assert_eq!(
        writes(&storage),
        vec![],
        "read-write listing or lookup wrote"
    );
    assert_eq!(
        snapshot(&storage),
        before,
        "read-write listing or lookup wrote"
    );

    // The explicit operation does resolve, and afterwards nothing is presented.
    let root = rw.root();
    assert!(rw.resolve_conflicts(&root).await.expect("resolve") > 0);
    assert_ne!(snapshot(&storage), before);
    assert_eq!(
        rw.list_checked(&root)
            .await
            .expect("list")
            .unresolved_conflicts,
        0
    );
    assert_eq!(
        ro.resolve_conflicts(&root)
            .await
            .expect_err("read-only")
            .kind(),
        vault_engine::VaultErrorKind::ReadOnly
    );
}

/// Resolutions racing in one process (a mount's readdir and a listing on
/// another task) lose nothing: the directory lock serialises them.
#[tokio::test]
async fn concurrent_resolutions_in_one_process_lose_nothing() {
    let storage = memory_fixture("conflicts").await;
    let vault = Arc::new(unlock(storage.clone(), false).await);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let v = Arc::clone(&vault);
        tasks.push(tokio::spawn(async move {
            let root = v.root();
            v.resolve_conflicts(&root).await.expect("resolve");
            v.list(&root).await.expect("list").len()
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let fresh = unlock(storage, true).await;
    assert_eq!(walk(&fresh).await, expected_resolved());
}
