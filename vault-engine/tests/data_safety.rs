//! Acceptance 5: data safety. Storage holds the old or the new complete
//! version of a file, never a mix: a flush interrupted by a storage failure
//! keeps the previous version readable; a process SIGKILLed mid-write leaves
//! a complete version; leftover shadow temps are ignored by listings and
//! removed by `check --repair`; big sequential writes stream to storage.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use vault_engine::check::{NoProgress, check};
use vault_engine::{OpenOptions, Vault};
use vault_storage::{Body, LocalStorage, Storage, StoragePath, WriteMode};

fn version(k: u8) -> Vec<u8> {
    let len = 70_000 + usize::from(k) * 1_111;
    (0..len).map(|i| k ^ (i as u8 & 0x0f)).collect()
}

fn is_version(data: &[u8]) -> Option<u8> {
    let k = *data.first()?;
    (version(k) == data).then_some(k)
}

async fn stored_version(storage: &Arc<vault_storage::MemoryStorage>) -> Option<u8> {
    let fresh = reopen(storage.clone(), true).await;
    let n = fresh.resolve("/doc").await.expect("resolve");
    is_version(
        &fresh
            .open(&n)
            .await
            .expect("open")
            .read(0, 1 << 20)
            .await
            .expect("read"),
    )
}

#[tokio::test]
async fn interrupted_flush_keeps_previous_version() {
    let (storage, vault) = new_memory_vault().await;
    let node = vault
        .create_file(&vault.root(), "doc")
        .await
        .expect("create");
    let f = vault.open(&node).await.expect("open");
    f.write(0, &version(1)).await.expect("write v1");
    f.flush().await.expect("flush v1");
    drop(f);
    let mut failures = 0;
    for budget in 0..30u8 {
        let prev = stored_version(&storage).await.expect("a complete version");
        let new = budget + 2;
        let f = vault
            .open(&vault.resolve("/doc").await.expect("resolve"))
            .await
            .expect("open");
        let before = storage.files();
        storage.fail_after_calls(Some(u64::from(budget)));
        let res = async {
            f.set_len(10).await?;
            f.write(0, &version(new)).await?;
            f.write(40_000, &version(new)[40_000..]).await?;
            f.flush().await
        }
        .await;
        storage.set_unavailable(false);
        let now = stored_version(&storage).await;
        match res {
            Ok(()) => assert_eq!(now, Some(new), "budget {budget}"),
            Err(_) => {
                failures += 1;
                assert_eq!(
                    now,
                    Some(prev),
                    "budget {budget}: previous version must stay intact"
                );
                // Nothing visible changed; at most a hidden shadow object is left.
                let visible = |files: Vec<(String, bytes::Bytes)>| {
                    files
                        .into_iter()
                        .filter(|(k, _)| {
                            !k.rsplit('/')
                                .next()
                                .unwrap_or("")
                                .starts_with(".vault-tmp-")
                        })
                        .collect::<Vec<_>>()
                };
                assert_eq!(visible(storage.files()), visible(before), "budget {budget}");
                // With the storage back, a retry commits the new version (or fails cleanly).
                let retry = async {
                    f.set_len(10).await?;
                    f.write(0, &version(new)).await?;
                    f.flush().await
                }
                .await;
                let now = stored_version(&storage).await;
                match retry {
                    Ok(()) => assert_eq!(now, Some(new), "budget {budget}: retry"),
                    Err(e) => panic!("budget {budget}: retry failed: {e}"),
                }
            }
        }
    }
    // A small version commits in a few storage calls (one read of header and
    // content, one atomic write of the new version), so few budgets fail.
    assert!(
        failures >= 2,
        "the budget loop must hit failures ({failures})"
    );
    let report = check(&vault, true, &NoProgress).await.expect("repair");
    assert!(
        report.problems.iter().all(|p| p.repaired),
        "{:#?}",
        report.problems
    );
    let report = check(&vault, false, &NoProgress).await.expect("check");
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
}

#[tokio::test]
async fn retry_after_failed_commit_succeeds() {
    let (storage, vault) = new_memory_vault().await;
    let node = vault
        .create_file(&vault.root(), "doc")
        .await
        .expect("create");
    let f = vault.open(&node).await.expect("open");
    f.write(0, &version(1)).await.expect("write v1");
    f.flush().await.expect("flush v1");
    f.write(5, b"XYZ").await.expect("write");
    // Fail the commit itself (copy of untouched chunks / rename), not the writes.
    storage.set_unavailable(true);
    assert!(f.flush().await.is_err());
    storage.set_unavailable(false);
    let fresh = reopen(storage.clone(), true).await;
    let n = fresh.resolve("/doc").await.expect("resolve");
    assert_eq!(
        is_version(
            &fresh
                .open(&n)
                .await
                .expect("open")
                .read(0, 1 << 20)
                .await
                .expect("read")
        ),
        Some(1)
    );
    f.flush().await.expect("retry");
    let mut want = version(1);
    want[5..8].copy_from_slice(b"XYZ");
    let fresh = reopen(storage.clone(), true).await;
    let n = fresh.resolve("/doc").await.expect("resolve");
    assert_eq!(
        fresh
            .open(&n)
            .await
            .expect("open")
            .read(0, 1 << 20)
            .await
            .expect("read")
            .as_slice(),
        want.as_slice()
    );
}

#[tokio::test]
async fn leftover_shadow_is_ignored_and_repaired() {
    let (storage, vault) = new_memory_vault().await;
    vault.create_file(&vault.root(), "a").await.expect("create");
    let root = StoragePath::new(&vault.resolve("/").await.expect("root").storage_path).expect("p");
    let temp = root.join(".vault-tmp-0123").expect("p");
    storage
        .write(
            &temp,
            Body::from_bytes(vec![7u8; 500]),
            WriteMode::CreateNew,
        )
        .await
        .expect("temp");
    let names: Vec<String> = vault
        .list(&vault.root())
        .await
        .expect("list")
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(names, vec!["a".to_owned()]);
    let report = check(&vault, false, &NoProgress).await.expect("check");
    assert_eq!(report.problems.len(), 1, "{:#?}", report.problems);
    assert!(report.problems[0].description.contains("temp object"));
    assert!(
        report.problems[0].harmless && report.remaining().next().is_none(),
        "a leftover of an interrupted write is harmless: {:#?}",
        report.problems
    );
    assert!(
        storage.metadata(&temp).await.is_ok(),
        "check without --repair keeps it"
    );
    let report = check(&vault, true, &NoProgress).await.expect("repair");
    assert!(report.problems[0].repaired);
    assert!(storage.metadata(&temp).await.is_err(), "repair removes it");
    // A shadow in use by an open file is never removed.
    let n = vault.resolve("/a").await.expect("a");
    let f = vault.open(&n).await.expect("open");
    f.write(0, b"unflushed").await.expect("write");
    let report = check(&vault, true, &NoProgress).await.expect("repair");
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    f.flush().await.expect("flush after check");
    assert_eq!(f.read(0, 100).await.expect("read").as_slice(), b"unflushed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_write_streams_to_storage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = Arc::new(
        LocalStorage::new(dir.path())
            .expect("local")
            .with_fsync(false),
    );
    let vault = Vault::create(storage.clone(), "pw", small_cost())
        .await
        .expect("create");
    let node = vault
        .create_file(&vault.root(), "big")
        .await
        .expect("create");
    let f = vault.open(&node).await.expect("open");
    let block = vec![0xA5u8; 1 << 20];
    for i in 0..48u64 {
        f.write(i << 20, &block).await.expect("write");
    }
    // Before flush, the ciphertext is already (almost) all in the shadow object: at most two
    // 4 MiB batches (one being filled, one in flight) are not there yet.
    let shadow_len: u64 = std::fs::read_dir(
        dir.path()
            .join(node.storage_path.rsplit_once('/').expect("/").0),
    )
    .expect("read_dir")
    .filter_map(Result::ok)
    .filter(|e| e.file_name().to_string_lossy().starts_with(".vault-tmp-"))
    .map(|e| e.metadata().expect("meta").len())
    .sum();
    assert!(
        shadow_len >= 40 << 20,
        "shadow holds {shadow_len} bytes: writes must stream"
    );
    // The committed file is still the empty one.
    assert_eq!(
        std::fs::metadata(dir.path().join(&node.storage_path))
            .expect("meta")
            .len(),
        68
    );
    f.flush().await.expect("flush");
    assert_eq!(f.size().await, 48 << 20);
    let fresh = Vault::unlock(storage, "pw", OpenOptions { read_only: true })
        .await
        .expect("unlock");
    let n = fresh.resolve("/big").await.expect("resolve");
    assert_eq!(n.size, 48 << 20);
    let tail = fresh
        .open(&n)
        .await
        .expect("open")
        .read((48 << 20) - 10, 100)
        .await
        .expect("read");
    assert_eq!(tail.as_slice(), &[0xA5u8; 10]);
}

/// The SIGKILL test runs itself as a child writer process (env var set) and
/// kills it at random moments; the parent then checks the file.
const CHILD_ENV: &str = "VAULT_ENGINE_SIGKILL_CHILD";

async fn child_writer(root: &str) {
    let storage = Arc::new(LocalStorage::new(root).expect("local"));
    let vault = Vault::unlock(storage, "pw", OpenOptions::default())
        .await
        .expect("unlock");
    let node = vault.resolve("/doc").await.expect("doc");
    let f = vault.open(&node).await.expect("open");
    for k in 2u8.. {
        let v = version(k % 200 + 2);
        if k % 2 == 0 {
            f.set_len(0).await.expect("truncate");
            f.write(0, &v).await.expect("write");
        } else {
            // Rewrite in place, chunk by chunk, then cut to length.
            for (i, c) in v.chunks(10_000).enumerate() {
                f.write(i as u64 * 10_000, c).await.expect("write");
            }
            f.set_len(v.len() as u64).await.expect("set_len");
        }
        f.flush().await.expect("flush");
        println!("committed {}", k % 200 + 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_write_keeps_a_complete_version() {
    if let Ok(root) = std::env::var(CHILD_ENV) {
        child_writer(&root).await;
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = Arc::new(LocalStorage::new(dir.path()).expect("local"));
    let vault = Vault::create(storage.clone(), "pw", small_cost())
        .await
        .expect("create");
    let node = vault
        .create_file(&vault.root(), "doc")
        .await
        .expect("create");
    let f = vault.open(&node).await.expect("open");
    f.write(0, &version(1)).await.expect("write");
    f.flush().await.expect("flush");
    drop((f, vault));
    let exe = std::env::current_exe().expect("exe");
    let mut seen = std::collections::BTreeSet::new();
    for (round, delay_ms) in [150u64, 420, 777, 1300].into_iter().enumerate() {
        let mut child = std::process::Command::new(&exe)
            .args([
                "--exact",
                "sigkill_mid_write_keeps_a_complete_version",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn child");
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let fresh = Vault::unlock(storage.clone(), "pw", OpenOptions { read_only: true })
            .await
            .expect("unlock");
        let listed = fresh.list(&fresh.root()).await.expect("list");
        assert_eq!(
            listed.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
            vec!["doc"],
            "round {round}"
        );
        let n = fresh.resolve("/doc").await.expect("resolve");
        let data = fresh
            .open(&n)
            .await
            .expect("open")
            .read(0, 1 << 20)
            .await
            .expect("read");
        let k = is_version(&data).unwrap_or_else(|| {
            panic!(
                "round {round}: file is a mix of versions ({} bytes)",
                data.len()
            )
        });
        seen.insert(k);
    }
    // Leftover shadows (if the kill hit mid-write) are removed by repair.
    let vault = Vault::unlock(storage.clone(), "pw", OpenOptions::default())
        .await
        .expect("unlock");
    check(&vault, true, &NoProgress).await.expect("repair");
    let report = check(&vault, false, &NoProgress).await.expect("check");
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    eprintln!("versions seen after kills: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_dirty_file_is_committed_before_reopen() {
    let (storage, vault) = new_memory_vault().await;
    let node = vault
        .create_file(&vault.root(), "doc")
        .await
        .expect("create");
    let f = vault.open(&node).await.expect("open");
    f.write(0, &version(3)).await.expect("write");
    drop(f); // no flush: committed in the background
    let again = vault
        .open(&vault.resolve("/doc").await.expect("resolve"))
        .await
        .expect("reopen");
    assert_eq!(
        is_version(&again.read(0, 1 << 20).await.expect("read")),
        Some(3)
    );
    again.write(0, &version(4)).await.expect("write");
    drop(again);
    vault
        .flush_all()
        .await
        .expect("flush_all waits for background commits");
    assert_eq!(stored_version(&storage).await, Some(4));
    assert_eq!(
        storage.calls("sync_all"),
        1,
        "a whole-vault flush makes close-time commits durable"
    );
}

#[tokio::test]
async fn rename_while_dirty_keeps_writing_to_the_new_place() {
    let (_storage, vault) = new_memory_vault().await;
    let root = vault.root();
    let a = match vault.create_dir(&root, "a").await.expect("mkdir").kind {
        vault_engine::NodeKind::Dir(id) => id,
        _ => unreachable!(),
    };
    let b = match vault.create_dir(&root, "b").await.expect("mkdir").kind {
        vault_engine::NodeKind::Dir(id) => id,
        _ => unreachable!(),
    };
    let node = vault
        .create_file(&a, "download.part")
        .await
        .expect("create");
    let f = vault.open(&node).await.expect("open");
    f.write(0, &version(5)[..50_000]).await.expect("write 1");
    // Renamed while dirty, into another directory and into the long-name form.
    let long = "finished-download-".repeat(10);
    vault
        .rename(&a, "download.part", &b, &long, false)
        .await
        .expect("rename");
    f.write(50_000, &version(5)[50_000..])
        .await
        .expect("write 2");
    f.flush().await.expect("flush");
    drop(f);
    assert!(vault.list(&a).await.expect("list a").is_empty());
    let n = vault.resolve(&format!("/b/{long}")).await.expect("moved");
    assert!(n.storage_path.ends_with(".c9s"));
    let again = vault.open(&n).await.expect("open");
    assert_eq!(
        is_version(&again.read(0, 1 << 20).await.expect("read")),
        Some(5)
    );
    vault
        .remove_dir(&root, "a")
        .await
        .expect("rmdir a (no shadow left there)");
    let report = check(&vault, false, &NoProgress).await.expect("check");
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
}

/// `open_listed` takes the length from a listing. Another client lengthens
/// the file before the read: at a chunk boundary (nothing authentication
/// could catch) the read goes on to the new end; elsewhere the rewritten last
/// chunk fails authentication. Complete or an error, never silently short.
#[tokio::test]
async fn a_listed_file_grown_before_the_read_is_complete_or_an_error() {
    const CS: usize = 32 * 1024;
    for (listed, grown) in [
        (2 * CS, 2 * CS + 1000),
        (2 * CS, 3 * CS),
        (CS + 5, CS + 900),
    ] {
        let (storage, vault) = new_memory_vault().await;
        let root = vault.root();
        let data: Vec<u8> = (0..grown).map(|i| (i * 7 % 251) as u8).collect();
        let node = vault.create_file(&root, "doc").await.expect("create");
        let f = vault.open(&node).await.expect("open");
        f.write(0, &data[..listed]).await.expect("write");
        f.flush().await.expect("flush");
        drop(f);
        let listed_node = vault
            .list(&root)
            .await
            .expect("list")
            .into_iter()
            .find(|n| n.name == "doc")
            .expect("listed");
        assert_eq!(listed_node.size, listed as u64);

        // The other client appends (same header, chunks rewritten in place).
        let other = reopen(storage.clone(), false).await;
        let n = other.resolve("/doc").await.expect("resolve");
        let g = other.open(&n).await.expect("open");
        g.write(listed as u64, &data[listed..])
            .await
            .expect("append");
        g.flush().await.expect("flush");
        drop(g);
        drop(other);

        let f = vault.open_listed(&listed_node).await.expect("open_listed");
        let mut got = Vec::new();
        let outcome = loop {
            match f.read(got.len() as u64, 20_000).await {
                Ok(b) if b.is_empty() => break Ok(()),
                Ok(b) => got.extend_from_slice(&b),
                Err(e) => break Err(e),
            }
        };
        if listed % CS == 0 {
            outcome.expect("read to the new end");
            assert!(
                got == data,
                "{listed} -> {grown}: whole ({} bytes)",
                got.len()
            );
        } else {
            let e = outcome.expect_err("the rewritten last chunk fails");
            assert_eq!(e.kind(), vault_engine::VaultErrorKind::Corrupt, "{e}");
        }
    }
}
