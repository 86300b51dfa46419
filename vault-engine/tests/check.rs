//! `vault check`: every kind of damage is found, `--repair` fixes only what
//! cannot lose data, and a clean vault reports nothing.

mod common;

use common::*;
use vault_engine::check::{CheckProgress, NoProgress, check};
use vault_engine::{NodeKind, OpenOptions, Vault};
use vault_storage::{Body, Storage, StoragePath, WriteMode};

fn p(s: &str) -> StoragePath {
    StoragePath::new(s).expect("path")
}

async fn write(
    vault: &Vault,
    dir: &vault_engine::DirId,
    name: &str,
    data: &[u8],
) -> vault_engine::Node {
    let n = vault.create_file(dir, name).await.expect("create");
    let f = vault.open(&n).await.expect("open");
    f.write(0, data).await.expect("write");
    f.flush().await.expect("flush");
    n
}

struct Count(std::sync::atomic::AtomicU64);
impl CheckProgress for Count {
    fn node_checked(&self, _: &str) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[tokio::test]
async fn fixtures_are_healthy() {
    for fixture in ["vault-v8", "vault-v8-ctrmac"] {
        let storage = memory_fixture(fixture).await;
        let vault = Vault::unlock(storage, &password(fixture), OpenOptions { read_only: true })
            .await
            .expect("unlock");
        let progress = Count(Default::default());
        let report = check(&vault, false, &progress).await.expect("check");
        assert!(
            report.problems.is_empty(),
            "{fixture}: {:#?}",
            report.problems
        );
        let want = expected(&fixtures().join(fixture).join("expected.json")).len() as u64;
        assert_eq!(report.nodes_checked, want, "{fixture}");
        assert_eq!(progress.0.into_inner(), want);
    }
}

#[tokio::test]
async fn finds_and_repairs_safely() {
    let (storage, vault) = new_memory_vault().await;
    let root = vault.root();
    let docs = vault.create_dir(&root, "docs").await.expect("mkdir");
    let NodeKind::Dir(docs_id) = docs.kind.clone() else {
        panic!()
    };
    let good = write(&vault, &docs_id, "good.txt", b"fine").await;
    let bad_header = write(&vault, &root, "bad-header.bin", &[1u8; 1000]).await;
    let bad_chunk = write(&vault, &root, "bad-chunk.bin", &[2u8; 70_000]).await;
    let docs_content = good.storage_path.rsplit_once('/').expect("/").0.to_owned();
    let root_content = vault.resolve("/").await.expect("root").storage_path;

    // Damage: header, a chunk, a missing dirid.c9r, an undecryptable name,
    // a duplicate dir node (ID collision), an orphan content dir with data,
    // a leftover temp object.
    let mut ct = storage
        .read_all(&p(&bad_header.storage_path))
        .await
        .expect("read")
        .to_vec();
    ct[20] ^= 1;
    storage
        .write(
            &p(&bad_header.storage_path),
            Body::from_bytes(ct),
            WriteMode::Overwrite,
        )
        .await
        .expect("w");
    let mut ct = storage
        .read_all(&p(&bad_chunk.storage_path))
        .await
        .expect("read")
        .to_vec();
    ct[68 + 32796 + 50] ^= 1;
    storage
        .write(
            &p(&bad_chunk.storage_path),
            Body::from_bytes(ct),
            WriteMode::Overwrite,
        )
        .await
        .expect("w");
    storage
        .remove_file(&p(&format!("{docs_content}/dirid.c9r")))
        .await
        .expect("rm dirid");
    storage
        .write(
            &p(&format!(
                "{root_content}/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.c9r"
            )),
            Body::from_bytes(vec![0u8; 100]),
            WriteMode::CreateNew,
        )
        .await
        .expect("junk");
    let twin = vault.create_dir(&root, "twin").await.expect("mkdir twin");
    let NodeKind::Dir(twin_id) = twin.kind.clone() else {
        panic!()
    };
    let twin_content = write(&vault, &twin_id, "t", b"t")
        .await
        .storage_path
        .rsplit_once('/')
        .expect("/")
        .0
        .to_owned();
    // Point "twin" at docs' ID: a collision, and twin's own content dir becomes an orphan with data.
    storage
        .write(
            &p(&format!("{}/dir.c9r", twin.storage_path)),
            Body::from_bytes(docs_id.as_str().as_bytes().to_vec()),
            WriteMode::Overwrite,
        )
        .await
        .expect("dir.c9r");
    storage
        .write(
            &p(&format!("{root_content}/.vault-tmp-leftover")),
            Body::from_bytes(vec![9u8; 10]),
            WriteMode::CreateNew,
        )
        .await
        .expect("temp");

    let fresh = reopen(storage.clone(), false).await;
    let before = storage.files();
    let report = check(&fresh, false, &NoProgress).await.expect("check");
    assert_eq!(
        storage.files(),
        before,
        "check without --repair writes nothing"
    );
    let has = |needle: &str| {
        report
            .problems
            .iter()
            .any(|p| p.description.contains(needle))
    };
    assert!(
        has("file header fails authentication"),
        "{:#?}",
        report.problems
    );
    assert!(has("corrupted at offset 32768"), "{:#?}", report.problems);
    assert!(has("dirid.c9r is missing"), "{:#?}", report.problems);
    assert!(has("name does not decrypt"), "{:#?}", report.problems);
    assert!(has("directory ID collision"), "{:#?}", report.problems);
    assert!(has("orphaned content directory"), "{:#?}", report.problems);
    assert!(has("leftover temp object"), "{:#?}", report.problems);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.storage_path == twin_content)
    );

    let report = check(&fresh, true, &NoProgress).await.expect("repair");
    let repaired: Vec<_> = report
        .problems
        .iter()
        .filter(|p| p.repaired)
        .map(|p| p.description.clone())
        .collect();
    assert_eq!(
        repaired.len(),
        2,
        "only the dirid.c9r and the temp object are repairable: {:#?}",
        report.problems
    );
    // Data-bearing damage is left for the user: the orphan with a file stays.
    assert!(storage.metadata(&p(&twin_content)).await.is_ok());
    let report = check(&fresh, false, &NoProgress)
        .await
        .expect("check again");
    assert!(
        !report
            .problems
            .iter()
            .any(|p| p.description.contains("dirid.c9r") || p.description.contains("temp object"))
    );
    assert_eq!(report.unrepaired(), report.problems.len());
}

#[tokio::test]
async fn repair_needs_a_writable_vault() {
    let storage = memory_fixture("vault-v8").await;
    let vault = Vault::unlock(
        storage,
        &password("vault-v8"),
        OpenOptions { read_only: true },
    )
    .await
    .expect("unlock");
    let err = check(&vault, true, &NoProgress)
        .await
        .expect_err("read-only");
    assert_eq!(err.kind(), vault_engine::VaultErrorKind::ReadOnly);
}
