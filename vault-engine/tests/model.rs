//! Acceptance 2: model-based test. Seeded random sequences of ≥ 1,000
//! operations (create, write at offset, truncate, rename across directories,
//! mkdir, rmdir, unlink, symlink) are applied both to a vault and to a plain
//! temp directory; both must agree on every operation's success and end in
//! identical trees and bytes, also after reopening the vault from storage.
//! Runs over MemoryStorage (with and without random_write) and LocalStorage.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use test_support::rng::Rng;
use vault_engine::{DirId, NodeKind, Vault};
use vault_storage::{Capabilities, LocalStorage, MemoryStorage, Storage};

const NAMES: &[&str] = &[
    "a",
    "b",
    "c.txt",
    "dir",
    "Crème brûlée",
    "日本語",
    "emoji😀",
    "x y z",
];

fn name(rng: &mut Rng) -> String {
    if rng.below(12) == 0 {
        // Long enough to be stored shortened (.c9s), short enough for ext4.
        format!("{}-{}", "long".repeat(40), rng.below(3))
    } else {
        rng.pick(NAMES).map(|s| (*s).to_owned()).unwrap_or_default()
    }
}

/// The model's tree: every path under the temp root, with its kind.
fn model_tree(root: &Path) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    fn rec(root: &Path, dir: &Path, out: &mut BTreeMap<String, Entry>) {
        for e in std::fs::read_dir(dir).expect("read_dir") {
            let e = e.expect("entry");
            let rel = format!(
                "/{}",
                e.path()
                    .strip_prefix(root)
                    .expect("prefix")
                    .to_string_lossy()
            );
            let ft = e.file_type().expect("type");
            if ft.is_symlink() {
                let t = std::fs::read_link(e.path()).expect("readlink");
                out.insert(
                    rel,
                    Entry::Symlink {
                        target: t.to_string_lossy().into_owned(),
                    },
                );
            } else if ft.is_dir() {
                out.insert(rel, Entry::Dir);
                rec(root, &e.path(), out);
            } else {
                let data = std::fs::read(e.path()).expect("read");
                out.insert(
                    rel,
                    Entry::File {
                        size: data.len() as u64,
                        sha256: sha256_hex(&data),
                    },
                );
            }
        }
    }
    rec(root, root, &mut out);
    out
}

fn dirs(tree: &BTreeMap<String, Entry>) -> Vec<String> {
    let mut d = vec![String::new()];
    d.extend(
        tree.iter()
            .filter(|(_, e)| **e == Entry::Dir)
            .map(|(p, _)| p.clone()),
    );
    d
}

fn files(tree: &BTreeMap<String, Entry>) -> Vec<String> {
    tree.iter()
        .filter(|(_, e)| matches!(e, Entry::File { .. }))
        .map(|(p, _)| p.clone())
        .collect()
}

fn split(path: &str) -> (String, String) {
    let i = path.rfind('/').expect("slash");
    (path[..i].to_owned(), path[i + 1..].to_owned())
}

async fn dir_id(vault: &Vault, path: &str) -> DirId {
    match vault.resolve(path).await.expect("resolve dir").kind {
        NodeKind::Dir(id) => id,
        other => panic!("{path} is {other:?}"),
    }
}

struct Harness {
    vault: Vault,
    root: PathBuf,
    rng: Rng,
    ops: BTreeMap<&'static str, (u32, u32)>,
}

impl Harness {
    fn local(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    fn count(&mut self, op: &'static str, ok: bool) {
        let e = self.ops.entry(op).or_default();
        if ok { e.0 += 1 } else { e.1 += 1 }
    }

    async fn step(&mut self, step: usize) {
        let tree = model_tree(&self.root);
        let dirs = dirs(&tree);
        let files = files(&tree);
        let all: Vec<String> = tree.keys().cloned().collect();
        let choice = self.rng.below(100);
        let ctx = format!("step {step}");
        match choice {
            0..=14 => {
                let d = self.rng.pick(&dirs).cloned().unwrap_or_default();
                let n = name(&mut self.rng);
                let p = format!("{d}/{n}");
                let model = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(self.local(&p))
                    .is_ok();
                let id = dir_id(&self.vault, &d).await;
                let got = self.vault.create_file(&id, &n).await;
                assert_eq!(got.is_ok(), model, "{ctx}: create {p}: {:?}", got.err());
                self.count("create", model);
            }
            15..=39 => {
                let Some(p) = self.rng.pick(&files).cloned() else {
                    return;
                };
                let size = std::fs::metadata(self.local(&p)).expect("meta").len();
                let offset = match self.rng.below(4) {
                    0 => size,
                    1 => self.rng.below(size + 1),
                    2 => self.rng.below(size + 70_000),
                    _ => 32768 * self.rng.below(4),
                };
                let len = match self.rng.below(4) {
                    0 => self.rng.below(10) as usize,
                    1 => self.rng.below(40_000) as usize,
                    2 => 32768,
                    _ => self.rng.below(150_000) as usize,
                };
                let data = self.rng.bytes(len);
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(self.local(&p))
                    .expect("open")
                    .write_all_at(&data, offset)
                    .expect("write");
                let node = self.vault.resolve(&p).await.expect("resolve");
                let f = self.vault.open(&node).await.expect("open");
                f.write(offset, &data)
                    .await
                    .unwrap_or_else(|e| panic!("{ctx}: write {p}: {e}"));
                if self.rng.below(3) == 0 {
                    // A second write before flushing.
                    let off2 = self.rng.below(offset + len as u64 + 1);
                    let n2 = self.rng.below(5000) as usize;
                    let d2 = self.rng.bytes(n2);
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(self.local(&p))
                        .expect("open")
                        .write_all_at(&d2, off2)
                        .expect("write");
                    f.write(off2, &d2).await.expect("write 2");
                }
                // Read back through the dirty file before flushing.
                let want = std::fs::read(self.local(&p)).expect("read");
                assert_eq!(f.size().await, want.len() as u64, "{ctx}: size of {p}");
                let start = self.rng.below(want.len() as u64 + 1);
                let got = f.read(start, 70_000).await.expect("read dirty");
                let end = (start as usize + 70_000).min(want.len());
                assert_eq!(
                    got.as_slice(),
                    &want[start as usize..end],
                    "{ctx}: dirty read of {p} at {start}"
                );
                f.flush().await.expect("flush");
                self.count("write", true);
            }
            40..=49 => {
                let Some(p) = self.rng.pick(&files).cloned() else {
                    return;
                };
                let size = std::fs::metadata(self.local(&p)).expect("meta").len();
                let new_len = match self.rng.below(3) {
                    0 => 0,
                    1 => self.rng.below(size + 1),
                    _ => self.rng.below(size + 100_000),
                };
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(self.local(&p))
                    .expect("open")
                    .set_len(new_len)
                    .expect("truncate");
                let node = self.vault.resolve(&p).await.expect("resolve");
                let f = self.vault.open(&node).await.expect("open");
                f.set_len(new_len)
                    .await
                    .unwrap_or_else(|e| panic!("{ctx}: truncate {p}: {e}"));
                f.flush().await.expect("flush");
                self.count("truncate", true);
            }
            50..=64 => {
                let Some(from) = self.rng.pick(&all).cloned() else {
                    return;
                };
                let d = self.rng.pick(&dirs).cloned().unwrap_or_default();
                let n = if self.rng.below(3) == 0 {
                    split(&from).1
                } else {
                    name(&mut self.rng)
                };
                let to = format!("{d}/{n}");
                let model = std::fs::rename(self.local(&from), self.local(&to));
                let (fd, fname) = split(&from);
                let from_id = dir_id(&self.vault, &fd).await;
                let to_id = dir_id(&self.vault, &d).await;
                let got = self.vault.rename(&from_id, &fname, &to_id, &n, true).await;
                assert_eq!(
                    got.is_ok(),
                    model.is_ok(),
                    "{ctx}: rename {from} -> {to}: model {model:?} vault {got:?}"
                );
                self.count("rename", model.is_ok());
            }
            65..=74 => {
                let d = self.rng.pick(&dirs).cloned().unwrap_or_default();
                let n = name(&mut self.rng);
                let p = format!("{d}/{n}");
                let model = std::fs::create_dir(self.local(&p)).is_ok();
                let id = dir_id(&self.vault, &d).await;
                let got = self.vault.create_dir(&id, &n).await;
                assert_eq!(got.is_ok(), model, "{ctx}: mkdir {p}: {:?}", got.err());
                self.count("mkdir", model);
            }
            75..=82 => {
                let cands: Vec<String> = dirs.iter().filter(|d| !d.is_empty()).cloned().collect();
                let Some(p) = self.rng.pick(&cands).cloned() else {
                    return;
                };
                let model = std::fs::remove_dir(self.local(&p)).is_ok();
                let (d, n) = split(&p);
                let id = dir_id(&self.vault, &d).await;
                let got = self.vault.remove_dir(&id, &n).await;
                assert_eq!(got.is_ok(), model, "{ctx}: rmdir {p}: {:?}", got.err());
                self.count("rmdir", model);
            }
            83..=92 => {
                let cands: Vec<String> = tree
                    .iter()
                    .filter(|(_, e)| !matches!(e, Entry::Dir))
                    .map(|(p, _)| p.clone())
                    .collect();
                let Some(p) = self.rng.pick(&cands).cloned() else {
                    return;
                };
                std::fs::remove_file(self.local(&p)).expect("unlink");
                let (d, n) = split(&p);
                let id = dir_id(&self.vault, &d).await;
                self.vault
                    .remove_file(&id, &n)
                    .await
                    .unwrap_or_else(|e| panic!("{ctx}: unlink {p}: {e}"));
                self.count("unlink", true);
            }
            _ => {
                let d = self.rng.pick(&dirs).cloned().unwrap_or_default();
                let n = name(&mut self.rng);
                let p = format!("{d}/{n}");
                let target = match self.rng.below(3) {
                    0 => "../a".to_owned(),
                    1 => format!("/abs/{}", self.rng.below(1000)),
                    _ => "ziel 😀".to_owned(),
                };
                let model = std::os::unix::fs::symlink(&target, self.local(&p)).is_ok();
                let id = dir_id(&self.vault, &d).await;
                let got = self.vault.create_symlink(&id, &n, &target).await;
                assert_eq!(got.is_ok(), model, "{ctx}: symlink {p}: {:?}", got.err());
                self.count("symlink", model);
            }
        }
    }
}

async fn run_model(storage: Arc<dyn Storage>, seed: u64, steps: usize) {
    let vault = Vault::create(storage.clone(), "pw", small_cost())
        .await
        .expect("create");
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = Harness {
        vault,
        root: tmp.path().to_path_buf(),
        rng: Rng::new(seed),
        ops: BTreeMap::new(),
    };
    for step in 0..steps {
        h.step(step).await;
        if step % 100 == 99 {
            assert_eq!(
                walk(&h.vault).await,
                model_tree(&h.root),
                "seed {seed}: trees differ after step {step}"
            );
        }
    }
    let want = model_tree(&h.root);
    assert_eq!(
        walk(&h.vault).await,
        want,
        "seed {seed}: final trees differ"
    );
    let reopened = reopen(storage.clone(), false).await;
    assert_eq!(
        walk(&reopened).await,
        want,
        "seed {seed}: trees differ after reopening"
    );
    let report = vault_engine::check::check(&reopened, false, &vault_engine::check::NoProgress)
        .await
        .expect("check");
    assert!(
        report.problems.is_empty(),
        "seed {seed}: check found {:#?}",
        report.problems
    );
    // Every kind of operation ran, most of them successfully.
    for op in [
        "create", "write", "truncate", "rename", "mkdir", "rmdir", "unlink", "symlink",
    ] {
        assert!(
            h.ops.get(op).is_some_and(|(ok, _)| *ok > 0),
            "seed {seed}: no successful {op}: {:?}",
            h.ops
        );
    }
    eprintln!("seed {seed}: {} nodes, ops {:?}", want.len(), h.ops);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_memory() {
    for seed in [1, 2] {
        run_model(Arc::new(MemoryStorage::new()), seed, 1200).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_memory_without_random_write() {
    // Without atomic folder renames too (as S3): the engine moves folder
    // nodes itself (marker, target dir.c9r, source removed).
    let caps = Capabilities {
        random_write: false,
        atomic_replace: true,
        atomic_dir_rename: false,
        max_name_len: 255,
        set_modified: false,
    };
    run_model(
        Arc::new(MemoryStorage::new().with_capabilities(caps)),
        3,
        1000,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_local() {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = Arc::new(
        LocalStorage::new(dir.path())
            .expect("local")
            .with_fsync(false),
    );
    run_model(storage, 4, 1000).await;
}
