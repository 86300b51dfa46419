//! Create, unlock, and the node operations over MemoryStorage and LocalStorage.

mod common;

use std::sync::Arc;

use vault_engine::{CreateOptions, NodeKind, OpenOptions, Vault, VaultErrorKind};
use vault_format::CipherCombo;
use vault_storage::{Capabilities, LocalStorage, MemoryStorage, Storage};

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn exercise(storage: Arc<dyn Storage>, combo: CipherCombo) {
    let vault = Vault::create(
        storage.clone(),
        "pw",
        CreateOptions {
            cipher_combo: combo,
            scrypt_cost: 1024,
        },
    )
    .await
    .expect("create");
    let root = vault.root();
    let docs = vault.create_dir(&root, "docs").await.expect("mkdir");
    let NodeKind::Dir(docs_id) = docs.kind.clone() else {
        panic!("dir")
    };
    let long = "L".repeat(200);
    let f = vault
        .create_file(&docs_id, &long)
        .await
        .expect("create long");
    let file = vault.open(&f).await.expect("open");
    let data = pattern(100_000, 7);
    file.write(0, &data).await.expect("write");
    assert_eq!(
        file.read(0, 200_000).await.expect("read dirty").as_slice(),
        data.as_slice()
    );
    file.flush().await.expect("flush");
    file.write(32_000, b"HELLO").await.expect("write mid");
    file.flush().await.expect("flush 2");
    let mut expect = data.clone();
    expect[32_000..32_005].copy_from_slice(b"HELLO");
    assert_eq!(
        file.read(0, 200_000).await.expect("read").as_slice(),
        expect.as_slice()
    );
    drop(file);

    let node = vault
        .resolve(&format!("/docs/{long}"))
        .await
        .expect("resolve long");
    assert_eq!(node.size, 100_000);
    assert!(node.storage_path.ends_with(".c9s"));
    vault
        .create_symlink(&root, "link", "docs/target")
        .await
        .expect("symlink");
    let l = vault.resolve("/link").await.expect("resolve link");
    assert_eq!(
        vault.read_symlink(&l).await.expect("readlink"),
        "docs/target"
    );

    // Rename long → short across directories, then back under a long name.
    vault
        .rename(&docs_id, &long, &root, "short.bin", false)
        .await
        .expect("rename");
    let n = vault.resolve("/short.bin").await.expect("renamed");
    assert!(n.storage_path.ends_with(".c9r"));
    assert_eq!(
        vault
            .open(&n)
            .await
            .expect("open")
            .read(0, 10)
            .await
            .expect("read")
            .as_slice(),
        &expect[..10]
    );
    assert_eq!(
        vault
            .create_dir(&root, "docs")
            .await
            .expect_err("must fail")
            .kind(),
        VaultErrorKind::AlreadyExists
    );
    // docs is empty now: rmdir works, and the vault shows only the file and link.
    vault.remove_dir(&root, "docs").await.expect("rmdir");
    let names: Vec<String> = vault
        .list(&root)
        .await
        .expect("list")
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(names, vec!["link".to_owned(), "short.bin".to_owned()]);

    // Replace semantics: a file over a file.
    let g = vault.create_file(&root, "g").await.expect("create g");
    let gf = vault.open(&g).await.expect("open g");
    gf.write(0, b"new").await.expect("write g");
    gf.flush().await.expect("flush g");
    drop(gf);
    assert_eq!(
        vault
            .rename(&root, "g", &root, "short.bin", false)
            .await
            .expect_err("must fail")
            .kind(),
        VaultErrorKind::AlreadyExists
    );
    vault
        .rename(&root, "g", &root, "short.bin", true)
        .await
        .expect("replace");
    let n = vault.resolve("/short.bin").await.expect("replaced");
    assert_eq!(n.size, 3);
    vault.remove_file(&root, "short.bin").await.expect("unlink");
    vault.remove_file(&root, "link").await.expect("unlink link");
    assert!(vault.list(&root).await.expect("list").is_empty());

    // Reopen from storage.
    drop(vault);
    let vault = Vault::unlock(storage.clone(), "pw", OpenOptions::default())
        .await
        .expect("unlock");
    assert!(vault.list(&vault.root()).await.expect("list").is_empty());
    assert_eq!(vault.info().cipher_combo, combo);
}

#[tokio::test]
async fn memory_gcm() {
    exercise(Arc::new(MemoryStorage::new()), CipherCombo::SivGcm).await;
}

#[tokio::test]
async fn memory_ctrmac() {
    exercise(Arc::new(MemoryStorage::new()), CipherCombo::SivCtrMac).await;
}

#[tokio::test]
async fn memory_without_random_write() {
    let caps = Capabilities {
        random_write: false,
        atomic_replace: true,
        atomic_dir_rename: true,
        max_name_len: 255,
        set_modified: false,
    };
    exercise(
        Arc::new(MemoryStorage::new().with_capabilities(caps)),
        CipherCombo::SivGcm,
    )
    .await;
}

#[tokio::test]
async fn local_gcm() {
    let dir = tempfile::tempdir().expect("tempdir");
    exercise(
        Arc::new(
            LocalStorage::new(dir.path())
                .expect("local")
                .with_fsync(false),
        ),
        CipherCombo::SivGcm,
    )
    .await;
}

#[tokio::test]
async fn reads_at_any_offset_and_length() {
    let storage = Arc::new(MemoryStorage::new());
    let vault = Vault::create(
        storage.clone(),
        "pw",
        CreateOptions {
            cipher_combo: CipherCombo::SivGcm,
            scrypt_cost: 1024,
        },
    )
    .await
    .expect("create");
    let data = pattern(5 * 32768 + 1234, 3);
    let n = vault.create_file(&vault.root(), "f").await.expect("create");
    let f = vault.open(&n).await.expect("open");
    f.write(0, &data).await.expect("write");
    f.flush().await.expect("flush");
    drop(f);
    let fresh = Vault::unlock(storage, "pw", OpenOptions { read_only: true })
        .await
        .expect("unlock");
    let f = fresh
        .open(&fresh.resolve("/f").await.expect("f"))
        .await
        .expect("open");
    let mut seed = 12345u64;
    for _ in 0..300 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let off = (seed >> 33) % (data.len() as u64 + 100);
        let len = ((seed >> 13) % 100_000) as usize;
        let got = f.read(off, len).await.expect("read");
        let s = (off as usize).min(data.len());
        let e = (s + len).min(data.len());
        assert_eq!(got.as_slice(), &data[s..e], "read({off}, {len})");
    }
}

/// The filesystem layer spawns engine calls on a multi-threaded runtime: the
/// vault, open files and every returned future must be `Send` (and `Sync`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn futures_are_send() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let (_storage, vault) = common::new_memory_vault().await;
    let vault = Arc::new(vault);
    send_sync(&vault);
    let v = vault.clone();
    let node = tokio::spawn(async move { v.create_file(&v.root(), "f").await })
        .await
        .expect("join")
        .expect("create");
    let v = vault.clone();
    let n2 = node.clone();
    let file = tokio::spawn(async move { v.open(&n2).await })
        .await
        .expect("join")
        .expect("open");
    send_sync(&file);
    let f = file.clone();
    tokio::spawn(async move {
        f.write(0, b"abc").await?;
        f.set_len(2).await?;
        f.flush().await?;
        f.read(0, 10).await
    })
    .await
    .expect("join")
    .expect("io");
    let v = vault.clone();
    let listed = tokio::spawn(async move {
        let d = v.create_dir(&v.root(), "d").await?;
        v.create_symlink(&v.root(), "s", "f").await?;
        let s = v.resolve("/s").await?;
        v.read_symlink(&s).await?;
        v.rename(&v.root(), "f", &v.root(), "g", false).await?;
        v.set_modified(&d, std::time::SystemTime::now()).await?;
        v.statfs().await?;
        v.flush_all().await?;
        let report =
            vault_engine::check::check(&v, false, &vault_engine::check::NoProgress).await?;
        assert!(report.problems.is_empty());
        v.lookup(&v.root(), "g").await?;
        v.list(&v.root()).await
    })
    .await
    .expect("join")
    .expect("ops");
    let names: Vec<_> = listed.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, vec!["d", "g", "s"]);
    assert_eq!(
        file.read(0, 10)
            .await
            .expect("read after rename")
            .as_slice(),
        b"ab"
    );
}

#[tokio::test]
async fn sequential_small_reads_use_read_ahead() {
    let storage = Arc::new(MemoryStorage::new());
    let vault = Vault::create(
        storage.clone(),
        "pw",
        CreateOptions {
            cipher_combo: CipherCombo::SivGcm,
            scrypt_cost: 1024,
        },
    )
    .await
    .expect("create");
    let data = pattern(3 << 20, 9);
    let n = vault.create_file(&vault.root(), "f").await.expect("create");
    let f = vault.open(&n).await.expect("open");
    f.write(0, &data).await.expect("write");
    f.flush().await.expect("flush");
    drop(f);
    let fresh = Vault::unlock(storage.clone(), "pw", OpenOptions { read_only: true })
        .await
        .expect("unlock");
    let f = fresh
        .open(&fresh.resolve("/f").await.expect("f"))
        .await
        .expect("open");
    storage.reset_calls();
    let mut off = 0usize;
    let mut step = 4096usize;
    while off < data.len() {
        let got = f.read(off as u64, step).await.expect("read");
        assert_eq!(
            got.as_slice(),
            &data[off..(off + step).min(data.len())],
            "read at {off}"
        );
        off += got.len();
        step = if step == 4096 { 131_072 } else { 4096 };
    }
    // 3 MiB in 4 KiB/128 KiB steps: a handful of 1 MiB fetches, not one per read.
    let calls = storage.calls("read_at");
    assert!(calls <= 8, "{calls} read_at calls for a sequential read");
}

#[tokio::test]
async fn creating_many_files_does_not_relist() {
    let storage = Arc::new(MemoryStorage::new());
    let vault = Vault::create(
        storage.clone(),
        "pw",
        CreateOptions {
            cipher_combo: CipherCombo::SivGcm,
            scrypt_cost: 1024,
        },
    )
    .await
    .expect("create");
    storage.reset_calls();
    // As a FUSE create does: a lookup that misses, then the create.
    for i in 0..100 {
        let name = format!("file-{i}");
        assert_eq!(
            vault
                .lookup(&vault.root(), &name)
                .await
                .expect_err("miss")
                .kind(),
            VaultErrorKind::NotFound
        );
        vault
            .create_file(&vault.root(), &name)
            .await
            .expect("create");
    }
    let lists = storage.calls("list_dir");
    assert!(
        lists <= 3,
        "{lists} listings for 100 lookup misses + creates"
    );
    assert_eq!(vault.list(&vault.root()).await.expect("list").len(), 100);
}
