//! Background removals over a local folder (`Vault::set_background_removals`): the name is
//! free when `remove_file` returns (lookup, listing, re-create), what is made there outlives
//! the queued removal, the object is gone after `flush_all`, a directory emptied this way can
//! be removed at once, an open file's unflushed changes are dropped, and nothing is left
//! behind as a temp object.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use vault_engine::{Vault, VaultErrorKind};
use vault_storage::LocalStorage;

/// Every regular file below `root` (ciphertext objects and temps), as relative paths.
fn files_below(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).expect("below").display().to_string());
            }
        }
    }
    out.sort();
    out
}

async fn local_vault(dir: &Path) -> Vault {
    let storage = Arc::new(LocalStorage::new(dir).expect("local").with_fsync(false));
    let vault = Vault::create(storage, "pw", small_cost())
        .await
        .expect("create");
    vault.set_background_removals(true);
    vault
}

async fn put(vault: &Vault, dir: &vault_engine::DirId, name: &str, data: &[u8]) {
    let staged = vault.stager().stage_bytes(data);
    vault
        .create_file_staged_nosync(dir, name, &staged)
        .await
        .expect("create");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_names_are_free_at_once_and_objects_gone_after_flush_all() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let vault = local_vault(tmp.path()).await;
    let before = files_below(tmp.path());
    let sub = vault.create_dir(&vault.root(), "sub").await.expect("mkdir");
    let vault_engine::NodeKind::Dir(sub_id) = sub.kind.clone() else {
        panic!("not a dir");
    };
    let with_sub = files_below(tmp.path());
    for i in 0..300 {
        put(&vault, &sub_id, &format!("f{i}"), &[i as u8; 100]).await;
    }
    for i in 0..300 {
        vault
            .remove_file(&sub_id, &format!("f{i}"))
            .await
            .expect("remove");
        // The name is free at once: lookup misses, a re-create of some succeeds.
        let err = vault
            .lookup(&sub_id, &format!("f{i}"))
            .await
            .expect_err("removed");
        assert_eq!(err.kind(), VaultErrorKind::NotFound);
    }
    assert!(vault.list(&sub_id).await.expect("list").is_empty());
    put(&vault, &sub_id, "f7", b"new content").await;
    let node = vault.lookup(&sub_id, "f7").await.expect("re-created");
    let f = vault.open(&node).await.expect("open");
    assert_eq!(
        f.read(0, 100).await.expect("read").as_slice(),
        b"new content"
    );
    drop(f);
    vault.remove_file(&sub_id, "f7").await.expect("remove");
    // The folder is empty: removable right away (waits for the queued unlinks).
    vault.remove_dir(&vault.root(), "sub").await.expect("rmdir");
    vault.flush_all().await.expect("flush_all");
    assert_eq!(files_below(tmp.path()), before, "nothing left behind");
    assert_ne!(with_sub, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_all_waits_for_every_queued_unlink() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let vault = local_vault(tmp.path()).await;
    let before = files_below(tmp.path());
    for i in 0..500 {
        put(&vault, &vault.root(), &format!("g{i}"), b"x").await;
    }
    for i in 0..500 {
        vault
            .remove_file(&vault.root(), &format!("g{i}"))
            .await
            .expect("remove");
    }
    vault.flush_all().await.expect("flush_all");
    assert_eq!(files_below(tmp.path()), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_an_open_dirty_file_drops_its_changes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let vault = local_vault(tmp.path()).await;
    let before = files_below(tmp.path());
    put(&vault, &vault.root(), "open", b"committed").await;
    let node = vault.lookup(&vault.root(), "open").await.expect("lookup");
    let f = vault.open(&node).await.expect("open");
    f.write(0, b"unflushed change").await.expect("write");
    vault
        .remove_file(&vault.root(), "open")
        .await
        .expect("remove");
    f.flush()
        .await
        .expect("flush of an unlinked file is a no-op");
    drop(f);
    vault.flush_all().await.expect("flush_all");
    assert_eq!(
        files_below(tmp.path()),
        before,
        "no shadow, temp or object left"
    );
    let err = vault.lookup(&vault.root(), "open").await.expect_err("gone");
    assert_eq!(err.kind(), VaultErrorKind::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_switch_removal_is_immediate() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let vault = local_vault(tmp.path()).await;
    vault.set_background_removals(false);
    let before = files_below(tmp.path());
    put(&vault, &vault.root(), "h", b"x").await;
    vault.remove_file(&vault.root(), "h").await.expect("remove");
    assert_eq!(files_below(tmp.path()), before);
}

/// Whatever is made at a removed name before its queued removal ran keeps what was made: a
/// file written again, a file renamed onto it, a directory made there. The removal is done
/// first (while it waits in the queue, its object is still on disk), never after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_made_at_a_removed_name_outlives_its_queued_removal() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let vault = local_vault(tmp.path()).await;
    let root = vault.root();
    for name in ["written", "renamed-onto", "made-dir", "source"] {
        put(&vault, &root, name, name.as_bytes()).await;
    }
    let objects = files_below(tmp.path()).len();
    for name in ["written", "renamed-onto", "made-dir"] {
        vault.remove_file(&root, name).await.expect("remove");
    }
    // Queued, not yet run (workers wait until removals stop coming): the objects are still
    // on disk, and the engine sees none of them.
    assert_eq!(files_below(tmp.path()).len(), objects);
    let names: Vec<String> = vault
        .list(&root)
        .await
        .expect("list")
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(names, vec!["source".to_string()]);
    put(&vault, &root, "written", b"second version").await;
    vault
        .rename(&root, "source", &root, "renamed-onto", false)
        .await
        .expect("rename onto a removed name");
    vault
        .create_dir(&root, "made-dir")
        .await
        .expect("mkdir at a removed file's name");
    vault.flush_all().await.expect("flush_all");
    let read = |name: &'static str| {
        let vault = &vault;
        async move {
            let node = vault.lookup(&vault.root(), name).await.expect("lookup");
            let f = vault.open(&node).await.expect("open");
            f.read(0, 100).await.expect("read").as_slice().to_vec()
        }
    };
    assert_eq!(read("written").await, b"second version");
    assert_eq!(read("renamed-onto").await, b"source");
    let dir = vault.lookup(&root, "made-dir").await.expect("lookup dir");
    assert!(matches!(dir.kind, vault_engine::NodeKind::Dir(_)));
    let mut names: Vec<String> = vault
        .list(&root)
        .await
        .expect("list")
        .into_iter()
        .map(|n| n.name)
        .collect();
    names.sort();
    assert_eq!(names, ["made-dir", "renamed-onto", "written"]);
}

/// Every folder and file below `root`, as relative paths (folders end in `/`).
fn entries_below(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            let rel = p.strip_prefix(root).expect("below").display().to_string();
            if p.is_dir() {
                // `d/XX/` shard folders stay once made, as in a removal done at once.
                if !(rel.starts_with("d/") && rel.len() == 4) {
                    out.push(format!("{rel}/"));
                }
                stack.push(p);
            } else {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

/// `rm -r` of a tree: each emptied directory goes at once (its node folder and content
/// folder are queued behind the unlinks), the names are free, a directory of the same name
/// can be made again, and after `flush_all` not a folder or object is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_directories_go_in_the_background_and_leave_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let vault = local_vault(tmp.path()).await;
    let before = entries_below(tmp.path());
    let dir_id = |n: &vault_engine::Node| match &n.kind {
        vault_engine::NodeKind::Dir(id) => id.clone(),
        _ => panic!("not a dir"),
    };
    let top = dir_id(&vault.create_dir(&vault.root(), "top").await.expect("mkdir"));
    let mut subs = Vec::new();
    for d in 0..5 {
        let sub = dir_id(
            &vault
                .create_dir(&top, &format!("d{d}"))
                .await
                .expect("mkdir"),
        );
        for i in 0..40 {
            put(&vault, &sub, &format!("f{i}"), &[i as u8; 200]).await;
        }
        subs.push(sub);
    }
    for (d, sub) in subs.iter().enumerate() {
        for i in 0..40 {
            vault.remove_file(sub, &format!("f{i}")).await.expect("rm");
        }
        vault
            .remove_dir(&top, &format!("d{d}"))
            .await
            .expect("rmdir");
        let err = vault
            .lookup(&top, &format!("d{d}"))
            .await
            .expect_err("gone");
        assert_eq!(err.kind(), VaultErrorKind::NotFound);
    }
    assert!(vault.list(&top).await.expect("list").is_empty());
    // A folder of a removed name is a new directory, empty.
    let again = dir_id(&vault.create_dir(&top, "d0").await.expect("mkdir again"));
    assert!(vault.list(&again).await.expect("list").is_empty());
    vault.remove_dir(&top, "d0").await.expect("rmdir again");
    vault
        .remove_dir(&vault.root(), "top")
        .await
        .expect("rmdir top");
    vault.flush_all().await.expect("flush_all");
    assert_eq!(
        entries_below(tmp.path()),
        before,
        "no folder or object left"
    );
}

/// Shutting the runtime down while a removal worker waits for more work (the drive's
/// unmount right after `rm -r`) ends the worker quietly: before, its wait was a runtime
/// timer, and the runtime's shutdown made it panic.
#[test]
fn runtime_shutdown_while_a_worker_lingers_is_quiet() {
    static SHUTDOWN_PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.to_string().contains("being shutdown") {
            SHUTDOWN_PANICS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        previous(info);
    }));
    let tmp = tempfile::tempdir().expect("tempdir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let before = runtime.block_on(async {
        let vault = local_vault(tmp.path()).await;
        let before = files_below(tmp.path());
        put(&vault, &vault.root(), "doomed", b"x").await;
        vault
            .remove_file(&vault.root(), "doomed")
            .await
            .expect("remove");
        // The worker has removed the object and now waits for more work.
        vault.flush_all().await.expect("flush_all");
        before
    });
    // Waits for the blocking threads, the lingering worker among them.
    drop(runtime);
    assert_eq!(SHUTDOWN_PANICS.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert_eq!(files_below(tmp.path()), before, "the removal was finished");
}
