//! The upload queue (`vault_storage::queue`, as a `--cache=full` mount uses it) under the
//! engine, with what the engine gives it: a conflict copy of a long-named (`.c9s`) file
//! becomes a new node ([`vault_engine::ConflictPlacer`]), a folder removed by another client
//! under a queued file is linked back ([`vault_engine::FolderRecoverer`]). "Another client" is
//! a second engine on the same memory storage, without the queue.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use vault_engine::check::{NoProgress, check};
use vault_engine::{DirId, NodeKind, OpenOptions, Vault};
use vault_storage::queue::{QueueOptions, QueuedStorage};
use vault_storage::{MemoryStorage, Storage};

/// Our side: the engine over a queue in front of `mem`, with the engine's queue hooks.
async fn queued(
    mem: &Arc<MemoryStorage>,
    journal: &std::path::Path,
) -> (Arc<QueuedStorage>, Vault) {
    let q = Arc::new(QueuedStorage::new(
        mem.clone(),
        QueueOptions {
            parallel: 2,
            backoff_min: Duration::from_millis(10),
            backoff_max: Duration::from_millis(40),
        },
    ));
    let vault = Vault::unlock(
        q.clone() as Arc<dyn Storage>,
        "pw",
        OpenOptions { read_only: false },
    )
    .await
    .unwrap();
    let placer = vault.conflict_placer();
    assert!(q.on_conflict_without_name(Arc::new(move |object| {
        let placer = placer.clone();
        Box::pin(async move { placer.place(&object).await })
    })));
    let recoverer = vault.folder_recoverer();
    assert!(q.on_folder_recreated(Arc::new(move |content| {
        let (r, content) = (recoverer.clone(), content.clone());
        tokio::spawn(async move {
            r.relink(&content).await.unwrap();
        });
    })));
    q.attach(journal).unwrap();
    (q, vault)
}

/// `bytes` as the whole content of `dir/name` (created if missing).
async fn put(vault: &Vault, dir: &DirId, name: &str, bytes: &[u8]) {
    let node = match vault.lookup(dir, name).await {
        Ok(n) => n,
        Err(_) => vault.create_file(dir, name).await.unwrap(),
    };
    let f = vault.open(&node).await.unwrap();
    f.set_len(0).await.unwrap();
    f.write(0, bytes).await.unwrap();
    f.flush().await.unwrap();
}

async fn read(vault: &Vault, path: &str) -> Vec<u8> {
    let node = vault.resolve(path).await.unwrap();
    let f = vault.open(&node).await.unwrap();
    f.read(0, 1 << 20).await.unwrap().to_vec()
}

async fn names(vault: &Vault, dir: &DirId) -> Vec<String> {
    let mut v: Vec<String> = vault
        .list(dir)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    v.sort();
    v
}

async fn drained(q: &QueuedStorage) {
    assert!(
        q.drain(Duration::from_secs(10), |_| {}).await,
        "{:?}",
        q.stats()
    );
}

#[tokio::test]
async fn a_long_named_file_changed_elsewhere_keeps_both_versions_as_nodes() {
    let tmp = tempfile::tempdir().unwrap();
    let (mem, _) = new_memory_vault().await;
    let (q, ours) = queued(&mem, &tmp.path().join("journal")).await;
    let root = ours.root();
    let long = format!("{}.txt", "long name ".repeat(20));
    let other = reopen(mem.clone(), false).await;
    put(&other, &root, &long, b"the first version").await;
    assert_eq!(names(&ours, &root).await, std::slice::from_ref(&long));

    // Ours waits in the queue while the other client replaces the file.
    q.set_paused(true);
    put(&ours, &root, &long, b"our version, queued").await;
    put(&other, &root, &long, b"the other client's version, longer").await;
    q.set_paused(false);
    drained(&q).await;
    assert_eq!(
        q.stats().conflicts,
        1,
        "{:?} {:?}",
        q.stats(),
        names(&reopen(mem.clone(), true).await, &root).await
    );

    // A fresh reader: the other client's version keeps the name, ours is a new long-named
    // node under the name a resolved sync-conflict copy gets.
    let fresh = reopen(mem.clone(), true).await;
    let listed = names(&fresh, &root).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(
        read(&fresh, &format!("/{long}")).await,
        b"the other client's version, longer"
    );
    let copy = listed.iter().find(|n| **n != long).unwrap();
    assert!(
        copy.starts_with("long name long name")
            && copy.contains(" (conflicted copy ")
            && copy.ends_with(".txt"),
        "{copy}"
    );
    assert_eq!(
        read(&fresh, &format!("/{copy}")).await,
        b"our version, queued"
    );
    // Stored as the long-name rule requires (a lookup finds it), and nothing else is amiss.
    let report = check(&fresh, false, &NoProgress).await.unwrap();
    assert_eq!(report.unrepaired(), 0, "{:?}", report.problems);
    // The queue's view agrees.
    assert_eq!(names(&ours, &root).await, listed);
}

#[tokio::test]
async fn a_folder_removed_elsewhere_under_a_queued_file_is_linked_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (mem, _) = new_memory_vault().await;
    let (q, ours) = queued(&mem, &tmp.path().join("journal")).await;
    let root = ours.root();
    let other = reopen(mem.clone(), false).await;
    let folder = other.create_dir(&root, "folder").await.unwrap();
    let NodeKind::Dir(other_folder) = folder.kind.clone() else {
        panic!("not a folder")
    };
    put(&other, &other_folder, "old.txt", b"old").await;
    // Looked up as a mount does (the engine remembers the folder's name).
    let NodeKind::Dir(folder_id) = ours.lookup(&root, "folder").await.unwrap().kind else {
        panic!("not a folder")
    };
    assert_eq!(names(&ours, &folder_id).await, ["old.txt"]);

    q.set_paused(true);
    put(&ours, &folder_id, "queued.txt", b"queued in the folder").await;
    other.remove_file(&other_folder, "old.txt").await.unwrap();
    // Its removed file's object is unlinked in the background: the folder is empty soon.
    let mut tries = 0;
    while let Err(e) = other.remove_dir(&root, "folder").await {
        tries += 1;
        assert!(
            tries < 100,
            "{e}: {:?}",
            common::snapshot(&mem)
                .0
                .iter()
                .map(|(p, _)| p.clone())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    q.set_paused(false);
    drained(&q).await;
    // The relink's own changes are queued by a task the worker started.
    for _ in 0..100 {
        if q.stats().pending == 0 && names(&reopen(mem.clone(), true).await, &root).await.len() == 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drained(&q).await;

    let fresh = reopen(mem.clone(), true).await;
    let listed = names(&fresh, &root).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0].starts_with("folder (recovered "), "{listed:?}");
    let recovered = fresh.resolve_dir(&format!("/{}", listed[0])).await.unwrap();
    assert_eq!(names(&fresh, &recovered).await, ["queued.txt"]);
    assert_eq!(
        read(&fresh, &format!("/{}/queued.txt", listed[0])).await,
        b"queued in the folder"
    );
    let report = check(&fresh, false, &NoProgress).await.unwrap();
    assert_eq!(report.unrepaired(), 0, "{:?}", report.problems);
}

#[tokio::test]
async fn a_content_folder_removed_under_a_queued_file_with_its_node_left_is_not_linked_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let (mem, _) = new_memory_vault().await;
    let (q, ours) = queued(&mem, &tmp.path().join("journal")).await;
    let root = ours.root();
    let other = reopen(mem.clone(), false).await;
    other.create_dir(&root, "folder").await.unwrap();
    let NodeKind::Dir(folder_id) = ours.lookup(&root, "folder").await.unwrap().kind else {
        panic!("not a folder")
    };
    let before: Vec<String> = common::snapshot(&mem).1;

    q.set_paused(true);
    put(&ours, &folder_id, "queued.txt", b"queued in the folder").await;
    // Only the folder's content folder goes (a removal cut short elsewhere).
    let content: Vec<String> = common::snapshot(&mem)
        .1
        .into_iter()
        .filter(|d| d.split('/').count() == 3 && before.contains(d))
        .collect();
    let fresh = reopen(mem.clone(), true).await;
    let other_id = fresh.resolve_dir("/folder").await.unwrap();
    let mut removed = false;
    for d in content {
        let path = vault_storage::StoragePath::new(&d).unwrap();
        let listed = mem.list_dir(&path).await.unwrap();
        // The folder's own content folder holds only its dirid.c9r; the root's holds the node.
        if listed.len() == 1 && listed[0].name == "dirid.c9r" {
            mem.remove_dir_all(&path).await.unwrap();
            removed = true;
        }
    }
    assert!(removed);
    assert!(fresh.list(&other_id).await.is_err());
    q.set_paused(false);
    drained(&q).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    drained(&q).await;

    let fresh = reopen(mem.clone(), true).await;
    assert_eq!(names(&fresh, &root).await, ["folder"]);
    assert_eq!(
        read(&fresh, "/folder/queued.txt").await,
        b"queued in the folder"
    );
    // Its dirid.c9r is back too.
    let report = check(&fresh, false, &NoProgress).await.unwrap();
    assert_eq!(report.unrepaired(), 0, "{:?}", report.problems);
}
