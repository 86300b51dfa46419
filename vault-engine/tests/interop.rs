//! Acceptance 6: interop both ways with pycryptomator (PyPI), an
//! independent implementation. Needs a Python with pycryptomator:
//! `VAULT_TEST_PYTHON`, else /opt/vault-test-pyvenv/bin/python (set up with
//! `python3 -m venv /opt/vault-test-pyvenv && /opt/vault-test-pyvenv/bin/pip install pycryptomator`).
//! A missing interpreter is a failure, not a skip.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use test_support::pyvenv::python;
use vault_engine::{DirId, NodeKind, OpenOptions, Vault};
use vault_storage::LocalStorage;

fn script(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop")).join(name)
}

/// Runs a helper script: `script VAULT PASSWORD_FILE OUT_JSON`; returns the JSON as a walk map.
fn run_py(name: &str, vault: &Path, password: &str) -> BTreeMap<String, Entry> {
    let work = tempfile::tempdir().expect("tempdir");
    let pw = work.path().join("pw");
    std::fs::write(&pw, password).expect("pw");
    let out = work.path().join("out.json");
    let res = std::process::Command::new(python())
        .arg(script(name))
        .arg(vault)
        .arg(&pw)
        .arg(&out)
        .output()
        .expect("run python");
    assert!(
        res.status.success(),
        "{name} failed: {}\n{}",
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("out.json")).expect("json");
    let mut map = BTreeMap::new();
    for (path, e) in v.as_object().expect("object") {
        let entry = match e["type"].as_str().expect("type") {
            "dir" => Entry::Dir,
            "file" => Entry::File {
                size: e["size"].as_u64().expect("size"),
                sha256: e["sha256"].as_str().expect("sha").to_owned(),
            },
            "symlink" => Entry::Symlink {
                target: e["target"].as_str().expect("target").to_owned(),
            },
            other => panic!("{other}"),
        };
        map.insert(path.clone(), entry);
    }
    map
}

async fn write(vault: &Vault, dir: &DirId, name: &str, data: &[u8]) {
    let n = vault.create_file(dir, name).await.expect("create");
    let f = vault.open(&n).await.expect("open");
    f.write(0, data).await.expect("write");
    f.flush().await.expect("flush");
}

async fn mkdir(vault: &Vault, dir: &DirId, name: &str) -> DirId {
    match vault.create_dir(dir, name).await.expect("mkdir").kind {
        NodeKind::Dir(id) => id,
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pycryptomator_reads_our_vault() {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = Arc::new(
        LocalStorage::new(dir.path())
            .expect("local")
            .with_fsync(false),
    );
    let vault = Vault::create(storage.clone(), "pässwörd", small_cost())
        .await
        .expect("create");
    let root = vault.root();
    let docs = mkdir(&vault, &root, "docs").await;
    let deep = {
        let a = mkdir(&vault, &root, "a").await;
        let b = mkdir(&vault, &a, "b").await;
        mkdir(&vault, &b, "c").await
    };
    mkdir(&vault, &root, "empty dir").await;
    write(&vault, &docs, "hello.txt", b"hello world\n").await;
    write(&vault, &root, "empty.txt", b"").await;
    write(&vault, &root, "chunk-exact.bin", &vec![7u8; 32768]).await;
    let multi: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    write(&vault, &root, "multi.bin", &multi).await;
    write(&vault, &deep, "deep.txt", b"deep\n").await;
    let long = format!("{}.txt", "long-name-".repeat(18));
    write(&vault, &docs, &long, b"long name\n").await;
    write(&vault, &root, "Café 日本 😀.txt", b"unicode\n").await;
    write(&vault, &root, "to-delete.txt", b"gone").await;
    vault
        .create_symlink(&docs, "link", "hello.txt")
        .await
        .expect("symlink");
    vault
        .create_symlink(&root, "abs-link", "/absolute/target")
        .await
        .expect("symlink");
    // Renames: across directories, short → long, long → short, a directory.
    vault
        .rename(&root, "multi.bin", &deep, "multi-moved.bin", false)
        .await
        .expect("mv");
    let long2 = format!("{}.bin", "renamed-long-".repeat(14));
    vault
        .rename(&root, "chunk-exact.bin", &docs, &long2, false)
        .await
        .expect("mv long");
    vault
        .rename(&docs, &long, &root, "was-long.txt", false)
        .await
        .expect("mv short");
    vault
        .rename(&root, "a", &docs, "a-moved", false)
        .await
        .expect("mv dir");
    let gone = mkdir(&vault, &root, "gone-dir").await;
    write(&vault, &gone, "f", b"x").await;
    vault.remove_file(&gone, "f").await.expect("rm");
    vault.remove_dir(&root, "gone-dir").await.expect("rmdir");
    vault.remove_file(&root, "to-delete.txt").await.expect("rm");
    // Rewrite part of a multi-chunk file in place.
    let n = vault
        .resolve("/docs/a-moved/b/c/multi-moved.bin")
        .await
        .expect("resolve");
    let f = vault.open(&n).await.expect("open");
    f.write(40_000, b"PATCHED").await.expect("patch");
    f.flush().await.expect("flush");

    let ours = walk(&vault).await;
    assert!(ours.contains_key(&format!("/docs/{long2}")));
    let theirs = run_py("pyc_read.py", dir.path(), "pässwörd");
    assert_eq!(theirs, ours, "pycryptomator reads our vault differently");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_read_pycryptomator_vault() {
    let dir = tempfile::tempdir().expect("tempdir");
    let expected = run_py("pyc_create.py", dir.path(), "secret");
    let storage = Arc::new(LocalStorage::new(dir.path()).expect("local"));
    let vault = Vault::unlock(storage, "secret", OpenOptions { read_only: true })
        .await
        .expect("unlock pycryptomator vault");
    let ours = walk(&vault).await;
    assert_eq!(ours, expected, "we read pycryptomator's vault differently");
    // Its NFD name is listed as stored and also found by the NFC spelling.
    let node = vault
        .resolve("/Crème-nfd.txt")
        .await
        .expect("NFC spelling finds the NFD-stored name");
    assert_eq!(node.name, "Cre\u{300}me-nfd.txt");
    // Its root dirid.c9r does not authenticate (docs/vault-format.md §16): a warning in check, nothing else.
    let report = vault_engine::check::check(&vault, false, &vault_engine::check::NoProgress)
        .await
        .expect("check");
    assert!(
        report
            .problems
            .iter()
            .all(|p| p.description.contains("dirid.c9r")),
        "{:#?}",
        report.problems
    );
}
