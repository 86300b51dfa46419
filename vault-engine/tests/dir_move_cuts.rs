//! Folder moves on a storage without atomic folder renames (S3-like): a
//! storage wrapper over MemoryStorage declares `atomic_dir_rename: false`,
//! renames files as copy + delete like S3, and "crashes" after N mutations
//! (every later mutation fails, as if the process died: no undo reaches
//! storage). For every cut point of a folder move (short and long names,
//! both ways) `check --repair` must leave the tree whole under exactly one
//! name, no collision left, every file readable with its bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use common::*;
use vault_engine::check::{NoProgress, check};
use vault_engine::{DirId, Vault};
use vault_storage::{
    Body, Capabilities, DirEntry, EntryKind, MemoryStorage, Metadata, RenameMode, Storage,
    StorageError, StorageErrorKind, StoragePath, WriteMode,
};

/// Counts mutations once armed; after `limit` of them every mutation fails.
struct Cutting {
    inner: MemoryStorage,
    armed: AtomicBool,
    limit: AtomicUsize,
    done: AtomicUsize,
    cut: AtomicBool,
    folder_renames: AtomicUsize,
}

impl Cutting {
    fn new() -> Self {
        Cutting {
            inner: MemoryStorage::new(),
            armed: AtomicBool::new(false),
            limit: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            cut: AtomicBool::new(false),
            folder_renames: AtomicUsize::new(0),
        }
    }

    fn arm(&self, limit: usize) {
        self.limit.store(limit, Ordering::SeqCst);
        self.done.store(0, Ordering::SeqCst);
        self.cut.store(false, Ordering::SeqCst);
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Stops cutting; true when the armed run was cut.
    fn disarm(&self) -> bool {
        self.armed.store(false, Ordering::SeqCst);
        self.cut.load(Ordering::SeqCst)
    }

    fn step(&self, path: &StoragePath) -> Result<(), StorageError> {
        if !self.armed.load(Ordering::SeqCst) {
            return Ok(());
        }
        if self.done.fetch_add(1, Ordering::SeqCst) >= self.limit.load(Ordering::SeqCst) {
            self.cut.store(true, Ordering::SeqCst);
            return Err(StorageError::new(StorageErrorKind::Other, path.clone()));
        }
        Ok(())
    }
}

#[async_trait]
impl Storage for Cutting {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            random_write: false,
            atomic_replace: false,
            atomic_dir_rename: false,
            max_name_len: 255,
            set_modified: false,
        }
    }
    fn describe(&self) -> String {
        "cutting memory storage".into()
    }
    async fn metadata(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        self.inner.metadata(path).await
    }
    async fn list_dir(&self, path: &StoragePath) -> Result<Vec<DirEntry>, StorageError> {
        self.inner.list_dir(path).await
    }
    async fn read_at(
        &self,
        path: &StoragePath,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, StorageError> {
        self.inner.read_at(path, offset, len).await
    }
    async fn write(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        self.step(path)?;
        self.inner.write(path, body, mode).await
    }
    async fn write_at(&self, path: &StoragePath, _: u64, _: Bytes) -> Result<(), StorageError> {
        Err(StorageError::new(
            StorageErrorKind::Unsupported,
            path.clone(),
        ))
    }
    async fn set_len(&self, path: &StoragePath, _: u64) -> Result<(), StorageError> {
        Err(StorageError::new(
            StorageErrorKind::Unsupported,
            path.clone(),
        ))
    }
    async fn sync(&self, _: &StoragePath) -> Result<(), StorageError> {
        Ok(())
    }
    async fn create_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.step(path)?;
        self.inner.create_dir(path).await
    }
    async fn remove_file(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.step(path)?;
        self.inner.remove_file(path).await
    }
    async fn remove_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.step(path)?;
        self.inner.remove_dir(path).await
    }
    /// Files as S3 moves them: a copy, then a delete (two cut points).
    async fn rename(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        let meta = self.inner.metadata(from).await?;
        if meta.kind == EntryKind::Dir {
            // Creations build a node in a temp folder and rename it into place
            // (not this test's subject); a folder move must not rename folders.
            if self.armed.load(Ordering::SeqCst) {
                self.folder_renames.fetch_add(1, Ordering::SeqCst);
            }
            self.step(from)?;
            return self.inner.rename(from, to, mode).await;
        }
        let data = self.inner.read_all(from).await?;
        let wmode = match mode {
            RenameMode::NoReplace => WriteMode::CreateNew,
            RenameMode::Replace => WriteMode::Overwrite,
        };
        self.write(to, Body::from_bytes(data), wmode).await?;
        self.remove_file(from).await
    }
    async fn set_modified(&self, path: &StoragePath, _: SystemTime) -> Result<(), StorageError> {
        Err(StorageError::new(
            StorageErrorKind::Unsupported,
            path.clone(),
        ))
    }
}

fn long(tag: &str) -> String {
    format!("{tag}-{}", "ü".repeat(90))
}

/// A vault with `/<from>/{g.txt, sub/f.bin, sub/deep/}` and `/dest/`.
async fn build(from: &str) -> (Arc<Cutting>, Vault, BTreeMap<String, Entry>) {
    let storage = Arc::new(Cutting::new());
    let vault = Vault::create(storage.clone(), "pw", small_cost())
        .await
        .expect("create");
    let root = vault.root();
    let a = dir_id(&vault.create_dir(&root, from).await.unwrap());
    vault.create_dir(&root, "dest").await.unwrap();
    let sub = dir_id(&vault.create_dir(&a, "sub").await.unwrap());
    vault.create_dir(&sub, "deep").await.unwrap();
    put(&vault, &a, "g.txt", b"hello").await;
    let big: Vec<u8> = (0..70_000u32).map(|i| (i * 31 % 251) as u8).collect();
    put(&vault, &sub, "f.bin", &big).await;
    let tree = walk(&vault).await;
    (storage, vault, tree)
}

fn dir_id(node: &vault_engine::Node) -> DirId {
    match &node.kind {
        vault_engine::NodeKind::Dir(id) => id.clone(),
        other => panic!("not a folder: {other:?}"),
    }
}

async fn put(vault: &Vault, dir: &DirId, name: &str, data: &[u8]) {
    let node = vault.create_file(dir, name).await.unwrap();
    let f = vault.open(&node).await.unwrap();
    f.write(0, data).await.unwrap();
    f.flush().await.unwrap();
}

/// `tree` with the top-level `from` moved to `/dest/<to>`.
fn moved(tree: &BTreeMap<String, Entry>, from: &str, to: &str) -> BTreeMap<String, Entry> {
    let old = format!("/{from}");
    tree.iter()
        .map(|(k, v)| {
            let k = match k.strip_prefix(&old) {
                Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                    format!("/dest/{to}{rest}")
                }
                _ => k.clone(),
            };
            (k, v.clone())
        })
        .collect()
}

/// Runs a folder move cut after 0, 1, 2, … mutations until it completes;
/// returns the descriptions the first check (no repair) reported per cut.
async fn every_cut(from: &str, to: &str) -> Vec<Vec<String>> {
    let mut seen = Vec::new();
    for limit in 0.. {
        assert!(limit < 40, "a folder move takes a handful of writes");
        let (storage, vault, before) = build(from).await;
        let dest = dir_id(&vault.resolve("/dest").await.unwrap());
        storage.arm(limit);
        let result = vault.rename(&vault.root(), from, &dest, to, false).await;
        let was_cut = storage.disarm();
        assert_eq!(
            was_cut,
            result.is_err(),
            "cut {limit}: an uncut move succeeds, a cut one reports an error: {result:?}"
        );
        drop(vault);
        assert_eq!(storage.folder_renames.load(Ordering::SeqCst), 0);

        let fresh = reopen(storage.clone(), false).await;
        let first = check(&fresh, false, &NoProgress).await.expect("check");
        let descriptions: Vec<String> = first
            .problems
            .iter()
            .map(|p| p.description.clone())
            .collect();
        let repaired = check(&fresh, true, &NoProgress).await.expect("repair");
        assert_eq!(
            repaired.remaining().count(),
            0,
            "cut {limit} ({from} -> {to}): {:#?}",
            repaired.problems
        );
        drop(fresh);
        let fresh = reopen(storage.clone(), false).await;
        let after = check(&fresh, false, &NoProgress)
            .await
            .expect("check after");
        assert!(
            after.problems.is_empty(),
            "cut {limit} ({from} -> {to}): nothing left after repair: {:#?}",
            after.problems
        );
        let tree = walk(&fresh).await;
        let expected_new = moved(&before, from, to);
        assert!(
            tree == before || tree == expected_new,
            "cut {limit} ({from} -> {to}): the tree is whole under one name: {tree:#?}"
        );
        if !was_cut {
            assert_eq!(tree, expected_new, "the uncut move moved");
            assert!(descriptions.is_empty(), "uncut: healthy: {descriptions:?}");
            return seen;
        }
        seen.push(descriptions);
    }
    unreachable!()
}

fn any_has(seen: &[Vec<String>], needle: &str) -> bool {
    seen.iter().flatten().any(|d| d.contains(needle))
}

#[tokio::test]
async fn every_cut_of_a_folder_move_is_repaired_without_loss() {
    for (from, to) in [
        ("a".to_owned(), "b".to_owned()),
        ("a".to_owned(), long("b")),
        (long("a"), "b".to_owned()),
        (long("a"), long("b")),
    ] {
        let seen = every_cut(&from, &to).await;
        assert!(seen.len() >= 3, "{from} -> {to}: cut points {}", seen.len());
        // The cut states a copy-then-delete passes through were all met.
        assert!(any_has(&seen, "directory ID collision"), "{seen:#?}");
        assert!(
            any_has(&seen, "leftover marker of a folder move"),
            "{seen:#?}"
        );
        assert!(any_has(&seen, "empty node folder"), "{seen:#?}");
    }
}

/// A file moved as copy + delete: a cut leaves the old name, the new name,
/// or both, each whole; never neither.
#[tokio::test]
async fn every_cut_of_a_file_move_leaves_a_whole_copy() {
    for to in ["g2.txt".to_owned(), long("g")] {
        for limit in 0.. {
            assert!(limit < 20);
            let (storage, vault, _) = build("a").await;
            let a = dir_id(&vault.resolve("/a").await.unwrap());
            let dest = dir_id(&vault.resolve("/dest").await.unwrap());
            storage.arm(limit);
            let result = vault.rename(&a, "g.txt", &dest, &to, false).await;
            let was_cut = storage.disarm();
            drop(vault);
            let fresh = reopen(storage.clone(), false).await;
            check(&fresh, true, &NoProgress).await.expect("repair");
            let tree = walk(&fresh).await;
            let copies: Vec<&Entry> = ["/a/g.txt".to_owned(), format!("/dest/{to}")]
                .iter()
                .filter_map(|p| tree.get(p))
                .collect();
            assert!(!copies.is_empty(), "cut {limit}: a copy is left: {tree:#?}");
            for c in copies {
                assert_eq!(
                    c,
                    &Entry::File {
                        size: 5,
                        sha256: sha256_hex(b"hello")
                    }
                );
            }
            if !was_cut {
                result.expect("uncut move");
                assert!(!tree.contains_key("/a/g.txt"));
                break;
            }
        }
    }
}

/// Repairs a cut vault and returns its tree: `check --repair` leaves nothing
/// unhealthy, and a check after it finds nothing at all.
async fn repaired_tree(
    storage: &Arc<Cutting>,
    what: &str,
) -> (Vec<String>, BTreeMap<String, Entry>) {
    let fresh = reopen(storage.clone(), false).await;
    let first = check(&fresh, false, &NoProgress).await.expect("check");
    let seen = first
        .problems
        .iter()
        .map(|p| p.description.clone())
        .collect();
    let repaired = check(&fresh, true, &NoProgress).await.expect("repair");
    assert_eq!(
        repaired.remaining().count(),
        0,
        "{what}: {:#?}",
        repaired.problems
    );
    drop(fresh);
    let fresh = reopen(storage.clone(), false).await;
    let after = check(&fresh, false, &NoProgress)
        .await
        .expect("check after");
    assert!(
        after.problems.is_empty(),
        "{what}: nothing left after repair: {:#?}",
        after.problems
    );
    (seen, walk(&fresh).await)
}

/// Creations of folders, shortened files and shortened symlinks cut after
/// every write: on a storage without atomic folder renames the node is built
/// in place (no folder rename, whose key-by-key copy could leave a `.c9s`
/// without `name.c9s` or a `dir.c9r` without its folder); `check --repair`
/// removes what a cut left, and the tree is as before or holds the new node.
#[tokio::test]
async fn every_cut_of_a_node_creation_is_repaired() {
    for (kind, name) in [
        ("dir", "new".to_owned()),
        ("dir", long("new")),
        ("file", long("new")),
        ("symlink", long("new")),
    ] {
        let mut seen = Vec::new();
        for limit in 0.. {
            assert!(limit < 20, "a creation takes a handful of writes");
            let (storage, vault, before) = build("a").await;
            let root = vault.root();
            storage.arm(limit);
            let made = match kind {
                "dir" => vault.create_dir(&root, &name).await.map(|_| ()),
                "file" => vault.create_file(&root, &name).await.map(|_| ()),
                _ => vault
                    .create_symlink(&root, &name, "a/g.txt")
                    .await
                    .map(|_| ()),
            };
            let was_cut = storage.disarm();
            assert_eq!(was_cut, made.is_err(), "{kind} cut {limit}: {made:?}");
            assert_eq!(
                storage.folder_renames.load(Ordering::SeqCst),
                0,
                "no folder rename"
            );
            drop(vault);
            let (problems, tree) = repaired_tree(&storage, &format!("{kind} cut {limit}")).await;
            let mut without = tree.clone();
            let added = without.remove(&format!("/{name}"));
            assert_eq!(without, before, "{kind} cut {limit}: nothing else changed");
            if !was_cut {
                assert!(added.is_some(), "the uncut creation made it");
                assert!(problems.is_empty(), "uncut: healthy: {problems:?}");
                break;
            }
            seen.push(problems);
        }
        if name.len() > 100 {
            assert!(any_has(&seen, "empty node folder"), "{kind}: {seen:#?}");
        }
    }
}

/// A directory node copied under a sync-conflict name (`<ct> (conflicted
/// copy …).c9r`), optionally with the original name taken by another folder.
async fn with_dir_conflict(name: &str, original_taken: bool) -> (Arc<Cutting>, Vault) {
    let (storage, vault, _) = build(name).await;
    let root = vault.root();
    let node = vault.resolve(&format!("/{name}")).await.unwrap();
    let base = node
        .storage_path
        .strip_suffix(".c9r")
        .expect("c9r")
        .to_owned();
    let copy = format!("{base} (conflicted copy 2026-11-25 101010).c9r");
    storage
        .inner
        .rename(
            &StoragePath::new(&node.storage_path).unwrap(),
            &StoragePath::new(&copy).unwrap(),
            RenameMode::NoReplace,
        )
        .await
        .unwrap();
    drop(vault);
    let vault = reopen(storage.clone(), true).await;
    drop(vault);
    let vault = reopen(storage.clone(), false).await;
    if original_taken {
        let theirs = dir_id(&vault.create_dir(&root, name).await.unwrap());
        put(&vault, &theirs, "theirs.txt", b"theirs").await;
    }
    (storage, vault)
}

/// `tree` with every top-level name not in `keep` shown as `COPY`: a cut
/// resolution may settle on another free name for the copy.
fn copy_named(tree: &BTreeMap<String, Entry>, keep: &[&str]) -> BTreeMap<String, Entry> {
    tree.iter()
        .map(|(k, v)| {
            let top = k[1..].split('/').next().unwrap_or_default();
            let k = if keep.contains(&top) {
                k.clone()
            } else {
                format!("/COPY{}", &k[1 + top.len()..])
            };
            (k, v.clone())
        })
        .collect()
}

/// Conflict resolution moving a directory copy to its canonical name or to a
/// new (plain or shortened) name, cut after every write: no folder rename is
/// used (the move is the crash-safe one of folder moves), and `check
/// --repair` leaves the copy's tree whole under exactly one name.
#[tokio::test]
async fn every_cut_of_a_folder_conflict_resolution_is_repaired() {
    let long_ascii = "x".repeat(140);
    for (name, taken) in [("a", false), ("a", true), (long_ascii.as_str(), true)] {
        let (storage, vault) = with_dir_conflict(name, taken).await;
        assert_eq!(vault.resolve_conflicts(&vault.root()).await.unwrap(), 1);
        drop(vault);
        let (_, uncut) = repaired_tree(&storage, "uncut").await;
        let keep = if taken {
            vec![name, "dest"]
        } else {
            vec!["dest"]
        };
        let expected = copy_named(&uncut, &keep);
        assert!(
            expected.contains_key("/COPY/g.txt") || !taken,
            "{expected:#?}"
        );
        let mut seen = Vec::new();
        for limit in 0.. {
            assert!(limit < 20, "a resolution takes a handful of writes");
            let (storage, vault) = with_dir_conflict(name, taken).await;
            storage.arm(limit);
            let resolved = vault.resolve_conflicts(&vault.root()).await;
            let was_cut = storage.disarm();
            assert_eq!(
                storage.folder_renames.load(Ordering::SeqCst),
                0,
                "no folder rename"
            );
            drop(vault);
            let what = format!("{name} (taken {taken}) cut {limit}");
            let (problems, tree) = repaired_tree(&storage, &what).await;
            assert_eq!(copy_named(&tree, &keep), expected, "{what}: {resolved:?}");
            if !was_cut {
                break;
            }
            seen.push(problems);
        }
        assert!(seen.len() >= 3, "{name}: cut points {}", seen.len());
    }
}

/// What a creation on S3 by an earlier version could leave (a node built in a
/// temp folder, then copied key by key into place, cut short): a `.c9s`
/// folder node with `dir.c9r` but no `name.c9s`. `check` finds it; `--repair`
/// writes the name back from the leftover temp folder (the folder and its
/// file read again), or, with no temp left and nothing in the folder, removes
/// the node and its empty content directory.
#[tokio::test]
async fn a_shortened_node_that_lost_its_name_file_is_repaired() {
    let (storage, vault, mut before) = build("a").await;
    let root = vault.root();
    let kept = dir_id(&vault.create_dir(&root, &long("kept")).await.unwrap());
    put(&vault, &kept, "in.txt", b"inside").await;
    vault.create_dir(&root, &long("empty")).await.unwrap();
    before = {
        let mut t = walk(&vault).await;
        t.remove(&format!("/{}", long("empty")));
        assert_eq!(t.len(), before.len() + 2);
        t
    };
    let mut nodes = Vec::new();
    for n in [long("kept"), long("empty")] {
        let p = vault.resolve(&format!("/{n}")).await.unwrap().storage_path;
        nodes.push(StoragePath::new(&p).unwrap());
    }
    let (kept_node, empty_node) = (nodes[0].clone(), nodes[1].clone());
    let s = &storage.inner;
    let tmp = kept_node
        .parent()
        .unwrap()
        .join(&format!("{}cut", vault_storage::TEMP_PREFIX))
        .unwrap();
    s.create_dir(&tmp).await.unwrap();
    for f in ["dir.c9r", "name.c9s"] {
        let bytes = s.read_all(&kept_node.join(f).unwrap()).await.unwrap();
        s.write(
            &tmp.join(f).unwrap(),
            Body::from_bytes(bytes),
            WriteMode::CreateNew,
        )
        .await
        .unwrap();
    }
    for n in [&kept_node, &empty_node] {
        s.remove_file(&n.join("name.c9s").unwrap()).await.unwrap();
    }
    drop(vault);
    let fresh = reopen(storage.clone(), false).await;
    let found = check(&fresh, false, &NoProgress).await.unwrap();
    let said: Vec<&str> = found
        .problems
        .iter()
        .map(|p| p.description.as_str())
        .collect();
    assert!(
        said.iter()
            .any(|d| d.contains("the name is in a leftover temp folder"))
            && said
                .iter()
                .any(|d| d.contains("its folder empty: the node goes")),
        "{said:#?}"
    );
    assert!(found.remaining().count() >= 2, "unhealthy until repaired");
    drop(fresh);
    let (_, tree) = repaired_tree(&storage, "lost name.c9s").await;
    assert_eq!(
        tree, before,
        "the kept folder and its file are back, the empty one gone"
    );
}
