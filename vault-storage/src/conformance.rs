//! The storage conformance suite: the semantics the vault engine relies on,
//! written once and run against every backend (behind the `conformance`
//! feature).
//!
//! Every test works inside its own fresh folder
//! `vault-conformance-<unique>-<test>` below the storage root, so the suite
//! can run against a shared server root, several tests at a time. A passing
//! test removes its folder; a failing one leaves it for inspection.
//!
//! Plugging a backend in (in its `tests/*.rs`, with
//! `vault-storage = { workspace = true, features = ["conformance"] }` and
//! `tokio` among the dev-dependencies):
//!
//! ```text
//! // One #[tokio::test] per conformance test. The expression runs inside each
//! // async test (it may `.await`) and yields (Arc<dyn Storage>, Quirks, guard);
//! // the guard (a tempdir, a server handle, or ()) lives until the test ends.
//! vault_storage::conformance_tests!({
//!     let server = start_server().await;
//!     let storage: std::sync::Arc<dyn vault_storage::Storage> = std::sync::Arc::new(connect(&server).await);
//!     (storage, vault_storage::conformance::Quirks { mtime_granularity: std::time::Duration::from_secs(1), ..Default::default() }, server)
//! });
//! ```
//!
//! or, in one test: `vault_storage::conformance::run_all(storage, quirks).await`.
//! A failure panics with the test's name and what differed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::{
    Body, EntryKind, RenameMode, Storage, StorageError, StorageErrorKind, StoragePath, WriteMode,
};

/// Declared deviations of one backend from the strict semantics. Keep them
/// few: every field is something the engine copes with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quirks {
    /// The finest modification-time resolution the backend keeps: mtimes set
    /// with `set_modified` and mtimes compared between `metadata` and
    /// `list_dir` may differ by less than this. `ZERO` (default) = exact.
    /// SFTP v3 and HTTP dates keep whole seconds: `Duration::from_secs(1)`.
    pub mtime_granularity: Duration,
    /// Whether folders report a modification time (default `true`). Some
    /// WebDAV servers send no `getlastmodified` for collections.
    pub folder_mtime: bool,
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks {
            mtime_granularity: Duration::ZERO,
            folder_mtime: true,
        }
    }
}

/// One test's surroundings: the storage, its quirks and the test's own folder.
pub struct Ctx {
    /// The storage under test.
    pub storage: Arc<dyn Storage>,
    /// Its declared deviations.
    pub quirks: Quirks,
    /// The test's own fresh folder (created by [`Ctx::new`]).
    pub dir: StoragePath,
    name: String,
}

static UNIQUE: AtomicU64 = AtomicU64::new(0);

impl Ctx {
    /// Creates the test's fresh folder `vault-conformance-<unique>-<test>`.
    pub async fn new(storage: Arc<dyn Storage>, quirks: Quirks, test: &str) -> Ctx {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let unique = format!(
            "vault-conformance-{}-{:x}-{}-{test}",
            std::process::id(),
            nanos,
            UNIQUE.fetch_add(1, Ordering::Relaxed)
        );
        let dir = StoragePath::root()
            .join(&unique)
            .expect("valid folder name");
        storage
            .create_dir(&dir)
            .await
            .unwrap_or_else(|e| panic!("[{test}] create the test folder {dir}: {e}"));
        Ctx {
            storage,
            quirks,
            dir,
            name: test.to_owned(),
        }
    }

    /// Removes the test's folder and everything in it.
    pub async fn cleanup(self) {
        self.storage
            .remove_dir_all(&self.dir)
            .await
            .unwrap_or_else(|e| panic!("[{}] remove the test folder {}: {e}", self.name, self.dir));
    }

    /// `rel` (`a/b`) below the test folder.
    pub fn p(&self, rel: &str) -> StoragePath {
        let mut path = self.dir.clone();
        for comp in rel.split('/') {
            path = path
                .join(comp)
                .unwrap_or_else(|e| panic!("[{}] bad test path {rel:?}: {e}", self.name));
        }
        path
    }

    fn ok<T>(&self, result: Result<T, StorageError>, what: &str) -> T {
        result.unwrap_or_else(|e| {
            panic!(
                "[{}] {what}: unexpected error: {e} (kind {:?})",
                self.name,
                e.kind()
            )
        })
    }

    fn fails<T: std::fmt::Debug>(
        &self,
        result: Result<T, StorageError>,
        kinds: &[StorageErrorKind],
        what: &str,
    ) {
        match result {
            Ok(v) => panic!(
                "[{}] {what}: expected an error of kind {kinds:?}, got Ok({v:?})",
                self.name
            ),
            Err(e) => assert!(
                kinds.contains(&e.kind()),
                "[{}] {what}: expected kind {kinds:?}, got {:?} ({e})",
                self.name,
                e.kind()
            ),
        }
    }

    async fn put(&self, rel: &str, data: &[u8]) -> StoragePath {
        let path = self.p(rel);
        let body = Body::from_bytes(Bytes::copy_from_slice(data));
        self.ok(
            self.storage.write(&path, body, WriteMode::CreateNew).await,
            &format!("write {rel}"),
        );
        path
    }

    async fn mkdir(&self, rel: &str) -> StoragePath {
        let path = self.p(rel);
        self.ok(
            self.storage.create_dir(&path).await,
            &format!("create_dir {rel}"),
        );
        path
    }

    async fn content(&self, path: &StoragePath) -> Bytes {
        self.ok(
            self.storage.read_all(path).await,
            &format!("read_all {path}"),
        )
    }

    async fn assert_content(&self, path: &StoragePath, want: &[u8], what: &str) {
        let got = self.content(path).await;
        assert!(
            got.as_ref() == want,
            "[{}] {what}: {path} holds {} bytes, expected {} (first difference at {:?})",
            self.name,
            got.len(),
            want.len(),
            got.iter().zip(want).position(|(a, b)| a != b)
        );
    }

    async fn assert_missing(&self, path: &StoragePath, what: &str) {
        self.fails(
            self.storage.metadata(path).await,
            &[StorageErrorKind::NotFound],
            what,
        );
    }

    async fn names(&self, dir: &StoragePath) -> Vec<String> {
        let mut names: Vec<String> = self
            .ok(self.storage.list_dir(dir).await, &format!("list_dir {dir}"))
            .into_iter()
            .map(|e| e.name)
            .collect();
        names.sort();
        names
    }

    fn assert_names(&self, got: Vec<String>, want: &[&str], what: &str) {
        let mut want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
        want.sort();
        assert_eq!(got, want, "[{}] {what}", self.name);
    }

    fn assert_mtime_close(
        &self,
        got: Option<SystemTime>,
        want: SystemTime,
        slack: Duration,
        what: &str,
    ) {
        let got = got.unwrap_or_else(|| panic!("[{}] {what}: no modification time", self.name));
        let diff = got
            .duration_since(want)
            .or_else(|_| want.duration_since(got))
            .unwrap_or(Duration::MAX);
        assert!(
            diff <= slack + self.quirks.mtime_granularity,
            "[{}] {what}: mtime {got:?} is {diff:?} from {want:?} (allowed {slack:?} + granularity {:?})",
            self.name,
            self.quirks.mtime_granularity
        );
    }
}

/// Deterministic pseudo-random bytes (xorshift64*), so failures reproduce.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

use StorageErrorKind as K;

/// The root and a fresh folder are folders; the fresh folder lists empty.
pub async fn root_and_fresh_folder(ctx: &Ctx) {
    let s = &ctx.storage;
    let root = ctx.ok(
        s.metadata(&StoragePath::root()).await,
        "metadata of the root",
    );
    assert_eq!(
        root.kind,
        EntryKind::Dir,
        "[{}] the root is a folder",
        ctx.name
    );
    let meta = ctx.ok(s.metadata(&ctx.dir).await, "metadata of the test folder");
    assert_eq!(
        (meta.kind, meta.size),
        (EntryKind::Dir, 0),
        "[{}] a folder has kind Dir and size 0",
        ctx.name
    );
    let listed = ctx.ok(
        s.list_dir(&StoragePath::root()).await,
        "list_dir of the root",
    );
    let me = listed
        .iter()
        .find(|e| Some(e.name.as_str()) == ctx.dir.file_name());
    assert_eq!(
        me.map(|e| e.metadata.kind),
        Some(EntryKind::Dir),
        "[{}] the root lists the test folder",
        ctx.name
    );
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &[],
        "a fresh folder lists empty, without . or ..",
    );
    assert!(
        !s.describe().is_empty(),
        "[{}] describe() says something",
        ctx.name
    );
    assert!(
        s.capabilities().max_name_len >= 220,
        "[{}] names of 220 bytes fit (vault-format shortens above)",
        ctx.name
    );
}

/// Every operation on a missing path fails with `NotFound` and creates nothing.
pub async fn not_found(ctx: &Ctx) {
    let s = &ctx.storage;
    let caps = s.capabilities();
    let missing = ctx.p("missing.c9r");
    let below = ctx.p("missing/child.c9r");
    for path in [&missing, &below] {
        ctx.fails(
            s.metadata(path).await,
            &[K::NotFound],
            &format!("metadata {path}"),
        );
        ctx.fails(
            s.list_dir(path).await,
            &[K::NotFound],
            &format!("list_dir {path}"),
        );
        ctx.fails(
            s.read_at(path, 0, 10).await,
            &[K::NotFound],
            &format!("read_at {path}"),
        );
        ctx.fails(
            s.read_all(path).await,
            &[K::NotFound],
            &format!("read_all {path}"),
        );
        ctx.fails(
            s.remove_file(path).await,
            &[K::NotFound],
            &format!("remove_file {path}"),
        );
        ctx.fails(
            s.remove_dir(path).await,
            &[K::NotFound],
            &format!("remove_dir {path}"),
        );
        ctx.fails(
            s.remove_dir_all(path).await,
            &[K::NotFound],
            &format!("remove_dir_all {path}"),
        );
        for mode in [RenameMode::NoReplace, RenameMode::Replace] {
            ctx.fails(
                s.rename(path, &ctx.p("target"), mode).await,
                &[K::NotFound],
                &format!("rename {path} ({mode:?})"),
            );
        }
        if caps.random_write {
            ctx.fails(
                s.write_at(path, 0, Bytes::from_static(b"x")).await,
                &[K::NotFound],
                &format!("write_at {path}"),
            );
            ctx.fails(
                s.set_len(path, 0).await,
                &[K::NotFound],
                &format!("set_len {path}"),
            );
        }
        if caps.set_modified {
            ctx.fails(
                s.set_modified(path, SystemTime::now()).await,
                &[K::NotFound],
                &format!("set_modified {path}"),
            );
        }
    }
    // A missing parent.
    ctx.fails(
        s.create_dir(&below).await,
        &[K::NotFound],
        "create_dir below a missing folder",
    );
    for mode in [WriteMode::CreateNew, WriteMode::Overwrite] {
        let body = Body::from_bytes(&b"data"[..]);
        ctx.fails(
            s.write(&below, body, mode).await,
            &[K::NotFound],
            &format!("write below a missing folder ({mode:?})"),
        );
    }
    let src = ctx.put("src.c9r", b"src").await;
    ctx.fails(
        s.rename(&src, &below, RenameMode::NoReplace).await,
        &[K::NotFound],
        "rename into a missing folder",
    );
    ctx.assert_content(&src, b"src", "a failed rename keeps the source")
        .await;
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["src.c9r"],
        "failed operations create nothing",
    );
}

/// `create_dir` and `write(CreateNew)` refuse existing targets and change nothing.
pub async fn already_exists(ctx: &Ctx) {
    let s = &ctx.storage;
    let d = ctx.mkdir("d").await;
    ctx.fails(
        s.create_dir(&d).await,
        &[K::AlreadyExists],
        "create_dir of an existing folder",
    );
    let f = ctx.put("f.c9r", b"one").await;
    let again = s
        .write(&f, Body::from_bytes(&b"two"[..]), WriteMode::CreateNew)
        .await;
    ctx.fails(
        again,
        &[K::AlreadyExists],
        "write(CreateNew) over an existing object",
    );
    ctx.assert_content(&f, b"one", "a refused CreateNew keeps the old content")
        .await;
    ctx.fails(
        s.create_dir(&f).await,
        &[K::AlreadyExists],
        "create_dir over an existing object",
    );
    let onto_dir = s
        .write(&d, Body::from_bytes(&b"x"[..]), WriteMode::CreateNew)
        .await;
    ctx.fails(
        onto_dir,
        &[K::AlreadyExists],
        "write(CreateNew) over an existing folder",
    );
    assert_eq!(
        ctx.ok(s.metadata(&d).await, "metadata d").kind,
        EntryKind::Dir,
        "[{}] d is still a folder",
        ctx.name
    );
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["d", "f.c9r"],
        "nothing else appeared",
    );
}

/// `remove_dir` of a non-empty folder fails with `NotEmpty` and removes nothing.
pub async fn not_empty(ctx: &Ctx) {
    let s = &ctx.storage;
    let d = ctx.mkdir("d").await;
    let f = ctx.put("d/f.c9r", b"x").await;
    ctx.fails(
        s.remove_dir(&d).await,
        &[K::NotEmpty],
        "remove_dir of a folder with an object",
    );
    ctx.assert_content(&f, b"x", "the object survives").await;
    ctx.ok(s.remove_file(&f).await, "remove_file d/f.c9r");
    let sub = ctx.mkdir("d/sub").await;
    ctx.fails(
        s.remove_dir(&d).await,
        &[K::NotEmpty],
        "remove_dir of a folder with an empty subfolder",
    );
    ctx.ok(s.remove_dir(&sub).await, "remove_dir d/sub");
    ctx.ok(s.remove_dir(&d).await, "remove_dir of the now empty d");
    ctx.assert_missing(&d, "d is gone").await;
}

/// File operations on folders and folder operations on files fail with the
/// right kind and change nothing.
pub async fn wrong_kind(ctx: &Ctx) {
    let s = &ctx.storage;
    let d = ctx.mkdir("d").await;
    let f = ctx.put("f.c9r", b"content").await;
    ctx.fails(
        s.read_at(&d, 0, 10).await,
        &[K::IsADirectory],
        "read_at of a folder",
    );
    ctx.fails(
        s.read_all(&d).await,
        &[K::IsADirectory],
        "read_all of a folder",
    );
    ctx.fails(
        s.remove_file(&d).await,
        &[K::IsADirectory],
        "remove_file of a folder",
    );
    let over = s
        .write(&d, Body::from_bytes(&b"x"[..]), WriteMode::Overwrite)
        .await;
    ctx.fails(
        over,
        &[K::IsADirectory, K::AlreadyExists],
        "write(Overwrite) over a folder",
    );
    ctx.fails(
        s.remove_dir(&f).await,
        &[K::NotADirectory],
        "remove_dir of an object",
    );
    ctx.fails(
        s.remove_dir_all(&f).await,
        &[K::NotADirectory],
        "remove_dir_all of an object",
    );
    ctx.fails(
        s.list_dir(&f).await,
        &[K::NotADirectory],
        "list_dir of an object",
    );
    let through = ctx.p("f.c9r/child");
    ctx.fails(
        s.metadata(&through).await,
        &[K::NotFound, K::NotADirectory],
        "metadata through an object",
    );
    ctx.fails(
        s.create_dir(&through).await,
        &[K::NotFound, K::NotADirectory],
        "create_dir below an object",
    );
    ctx.fails(
        s.write(&through, Body::from_bytes(&b"x"[..]), WriteMode::CreateNew)
            .await,
        &[K::NotFound, K::NotADirectory],
        "write below an object",
    );
    let meta = ctx.ok(s.metadata(&d).await, "metadata d");
    assert_eq!(
        meta.kind,
        EntryKind::Dir,
        "[{}] d is still a folder",
        ctx.name
    );
    ctx.assert_content(&f, b"content", "f is unchanged").await;
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["d", "f.c9r"],
        "nothing else appeared",
    );
}

/// `read_at` returns the asked range, fewer bytes only at the end, nothing at or past it.
pub async fn read_ranges(ctx: &Ctx) {
    let s = &ctx.storage;
    let data = pattern(1, 1000);
    let f = ctx.put("f.c9r", &data).await;
    let meta = ctx.ok(s.metadata(&f).await, "metadata");
    assert_eq!(
        (meta.kind, meta.size),
        (EntryKind::File, 1000),
        "[{}] kind and size",
        ctx.name
    );
    for (offset, len, want) in [
        (0u64, 10usize, &data[..10]),
        (10, 100, &data[10..110]),
        (500, 500, &data[500..]),
        (990, 100, &data[990..]),
        (0, 1000, &data[..]),
        (0, 100_000, &data[..]),
        (999, 1, &data[999..]),
        (1000, 5, &[][..]),
        (5000, 5, &[][..]),
        (0, 0, &[][..]),
        (u64::MAX - 10, 5, &[][..]),
    ] {
        let got = ctx.ok(
            s.read_at(&f, offset, len).await,
            &format!("read_at({offset}, {len})"),
        );
        assert!(
            got.as_ref() == want,
            "[{}] read_at({offset}, {len}) returned {} bytes, expected {}",
            ctx.name,
            got.len(),
            want.len()
        );
    }
    ctx.assert_content(&f, &data, "read_all").await;
    let empty = ctx.put("empty.c9r", b"").await;
    ctx.assert_content(&empty, b"", "an empty object").await;
    let got = ctx.ok(s.read_at(&empty, 0, 10).await, "read_at of an empty object");
    assert!(
        got.is_empty(),
        "[{}] read_at of an empty object is empty",
        ctx.name
    );
}

/// `write` in both modes: CreateNew creates, Overwrite creates or replaces
/// (longer and shorter), streamed and empty bodies; no temp file is left.
pub async fn write_modes(ctx: &Ctx) {
    let s = &ctx.storage;
    let a = ctx.p("a.c9r");
    ctx.ok(
        s.write(&a, Body::from_bytes(&b"first"[..]), WriteMode::CreateNew)
            .await,
        "CreateNew of a new object",
    );
    ctx.assert_content(&a, b"first", "after CreateNew").await;
    let longer = pattern(2, 100_000);
    ctx.ok(
        s.write(&a, Body::from_bytes(longer.clone()), WriteMode::Overwrite)
            .await,
        "Overwrite with longer content",
    );
    ctx.assert_content(&a, &longer, "after a longer Overwrite")
        .await;
    ctx.ok(
        s.write(&a, Body::from_bytes(&b"short"[..]), WriteMode::Overwrite)
            .await,
        "Overwrite with shorter content",
    );
    ctx.assert_content(&a, b"short", "after a shorter Overwrite")
        .await;
    let size = ctx
        .ok(s.metadata(&a).await, "metadata after shrinking")
        .size;
    assert_eq!(size, 5, "[{}] size follows the new content", ctx.name);
    let b = ctx.p("b.c9r");
    ctx.ok(
        s.write(&b, Body::from_bytes(&b"new"[..]), WriteMode::Overwrite)
            .await,
        "Overwrite of a new object",
    );
    ctx.assert_content(&b, b"new", "Overwrite creates").await;
    let streamed = pattern(3, 300_000);
    let body = Body::from_reader(
        streamed.len() as u64,
        std::io::Cursor::new(streamed.clone()),
    );
    let c = ctx.p("c.c9r");
    ctx.ok(
        s.write(&c, body, WriteMode::CreateNew).await,
        "a streamed body",
    );
    ctx.assert_content(&c, &streamed, "a streamed body").await;
    let e = ctx.p("e.c9r");
    ctx.ok(
        s.write(&e, Body::from_bytes(Bytes::new()), WriteMode::CreateNew)
            .await,
        "an empty body",
    );
    assert_eq!(
        ctx.ok(s.metadata(&e).await, "metadata of the empty object")
            .size,
        0,
        "[{}] empty object",
        ctx.name
    );
    ctx.ok(
        s.write(&a, Body::from_bytes(Bytes::new()), WriteMode::Overwrite)
            .await,
        "Overwrite with an empty body",
    );
    ctx.assert_content(&a, b"", "after an empty Overwrite")
        .await;
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["a.c9r", "b.c9r", "c.c9r", "e.c9r"],
        "no temp file is left behind",
    );
}

/// `write_nosync`, `rename_nosync` and `sync_entry` behave like the durable
/// calls (modes, atomic replace, no temp files left behind).
pub async fn nosync_variants(ctx: &Ctx) {
    let s = &ctx.storage;
    let a = ctx.p("a.c9r");
    ctx.ok(
        s.write_nosync(&a, Body::from_bytes(&b"first"[..]), WriteMode::CreateNew)
            .await,
        "write_nosync CreateNew of a new object",
    );
    ctx.assert_content(&a, b"first", "after write_nosync CreateNew")
        .await;
    match s
        .write_nosync(&a, Body::from_bytes(&b"x"[..]), WriteMode::CreateNew)
        .await
    {
        Err(e) => assert_eq!(
            e.kind(),
            StorageErrorKind::AlreadyExists,
            "[{}] write_nosync CreateNew over an object",
            ctx.name
        ),
        Ok(()) => panic!("[{}] write_nosync CreateNew replaced an object", ctx.name),
    }
    ctx.assert_content(
        &a,
        b"first",
        "a refused write_nosync CreateNew changes nothing",
    )
    .await;
    let longer = pattern(7, 100_000);
    ctx.ok(
        s.write_nosync(&a, Body::from_bytes(longer.clone()), WriteMode::Overwrite)
            .await,
        "write_nosync Overwrite",
    );
    ctx.assert_content(&a, &longer, "after write_nosync Overwrite")
        .await;
    ctx.ok(s.sync_entry(&a).await, "sync_entry after write_nosync");
    let b = ctx.p("b.c9r");
    ctx.ok(
        s.write(&b, Body::from_bytes(&b"bee"[..]), WriteMode::CreateNew)
            .await,
        "write b",
    );
    match s.rename_nosync(&b, &a, RenameMode::NoReplace).await {
        Err(e) => assert_eq!(
            e.kind(),
            StorageErrorKind::AlreadyExists,
            "[{}] rename_nosync NoReplace onto an object",
            ctx.name
        ),
        Ok(()) => panic!("[{}] rename_nosync NoReplace replaced an object", ctx.name),
    }
    ctx.ok(
        s.rename_nosync(&b, &a, RenameMode::Replace).await,
        "rename_nosync Replace",
    );
    ctx.assert_content(&a, b"bee", "after rename_nosync Replace")
        .await;
    ctx.ok(s.sync_entry(&a).await, "sync_entry after rename_nosync");
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["a.c9r"],
        "rename_nosync moved the object; no temp file is left behind",
    );
}

/// Concurrent readers during large overwrites see the old or the new object,
/// whole, never a prefix or a mix; nor a gap (`NotFound`), unless the backend
/// declares `atomic_replace: false`.
pub async fn atomic_overwrite(ctx: &Ctx) {
    const N: usize = 4 << 20;
    let s = &ctx.storage;
    let f = ctx.put("big.c9r", &vec![0xAA; N]).await;
    let gap_ok = !s.capabilities().atomic_replace;
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for r in 0..2 {
        let (storage, path, done, name) = (
            Arc::clone(s),
            f.clone(),
            Arc::clone(&done),
            ctx.name.clone(),
        );
        readers.push(tokio::spawn(async move {
            let mut reads = 0u32;
            loop {
                let finished = done.load(Ordering::Acquire);
                let size = match storage.metadata(&path).await {
                    Ok(m) => m.size,
                    // Without atomic_replace the target may vanish for a moment.
                    Err(e) if gap_ok && e.kind() == K::NotFound => continue,
                    Err(e) => panic!("[{name}] reader {r}: metadata during an overwrite: {e}"),
                };
                assert_eq!(
                    size, N as u64,
                    "[{name}] reader {r}: size during an overwrite"
                );
                let got = match storage.read_at(&path, 0, N).await {
                    Ok(b) => b,
                    Err(e) if gap_ok && e.kind() == K::NotFound => continue,
                    Err(e) => panic!("[{name}] reader {r}: read_at during an overwrite: {e}"),
                };
                assert_eq!(
                    got.len(),
                    N,
                    "[{name}] reader {r}: saw a prefix of {} bytes",
                    got.len()
                );
                let first = got[0];
                assert!(
                    first == 0xAA || first == 0x55,
                    "[{name}] reader {r}: unexpected byte {first:#x}"
                );
                assert!(
                    got.iter().all(|&b| b == first),
                    "[{name}] reader {r}: saw a mix of old and new"
                );
                reads += 1;
                if finished {
                    return reads;
                }
            }
        }));
    }
    for round in 0..6 {
        let fill = if round % 2 == 0 { 0x55 } else { 0xAA };
        let body = Body::from_bytes(vec![fill; N]);
        ctx.ok(
            s.write(&f, body, WriteMode::Overwrite).await,
            &format!("overwrite round {round}"),
        );
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        let reads = reader
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        assert!(reads >= 1, "[{}] each reader read at least once", ctx.name);
    }
    ctx.assert_content(&f, &vec![0xAA; N], "the last overwrite wins")
        .await;
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["big.c9r"],
        "no temp file is left behind",
    );
}

/// Concurrent `write(CreateNew)` of one name: exactly one wins, the others get
/// `AlreadyExists`, and the object holds the winner's bytes.
pub async fn create_new_race(ctx: &Ctx) {
    let path = ctx.p("race.c9r");
    let mut tasks = Vec::new();
    for i in 0..8u64 {
        let (storage, path) = (Arc::clone(&ctx.storage), path.clone());
        tasks.push(tokio::spawn(async move {
            let data = pattern(100 + i, 64 * 1024);
            let result = storage
                .write(&path, Body::from_bytes(data.clone()), WriteMode::CreateNew)
                .await;
            (data, result.map_err(|e| e.kind()))
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (data, result) = task
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        match result {
            Ok(()) => winners.push(data),
            Err(kind) => assert_eq!(kind, K::AlreadyExists, "[{}] a losing CreateNew", ctx.name),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "[{}] exactly one CreateNew wins",
        ctx.name
    );
    ctx.assert_content(&path, &winners[0], "the winner's bytes")
        .await;
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["race.c9r"],
        "no temp file is left behind",
    );
}

/// Renaming objects: both modes, across folders, and racing no-replace renames.
pub async fn rename_files(ctx: &Ctx) {
    let s = &ctx.storage;
    let a = ctx.put("a.c9r", b"A").await;
    let b = ctx.p("b.c9r");
    ctx.ok(
        s.rename(&a, &b, RenameMode::NoReplace).await,
        "rename to a free name (NoReplace)",
    );
    ctx.assert_missing(&a, "the source is gone").await;
    ctx.assert_content(&b, b"A", "the target has the content")
        .await;

    let c = ctx.put("c.c9r", b"C").await;
    ctx.fails(
        s.rename(&b, &c, RenameMode::NoReplace).await,
        &[K::AlreadyExists],
        "NoReplace onto an existing object",
    );
    ctx.assert_content(&b, b"A", "a refused rename keeps the source")
        .await;
    ctx.assert_content(&c, b"C", "a refused rename keeps the target")
        .await;

    ctx.ok(
        s.rename(&b, &c, RenameMode::Replace).await,
        "Replace onto an existing object",
    );
    ctx.assert_missing(&b, "the replacing source is gone").await;
    ctx.assert_content(&c, b"A", "the target was replaced")
        .await;

    let free = ctx.p("free.c9r");
    ctx.ok(
        s.rename(&c, &free, RenameMode::Replace).await,
        "Replace onto a free name",
    );
    ctx.assert_content(&free, b"A", "Replace onto a free name")
        .await;

    let d = ctx.mkdir("d").await;
    let moved = ctx.p("d/moved.c9r");
    ctx.ok(
        s.rename(&free, &moved, RenameMode::NoReplace).await,
        "rename into another folder",
    );
    ctx.assert_content(&moved, b"A", "moved across folders")
        .await;
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["d"],
        "the top folder after the moves",
    );
    ctx.assert_names(
        ctx.names(&d).await,
        &["moved.c9r"],
        "the folder after the moves",
    );

    // Racing no-replace renames onto one name: exactly one wins.
    let x1 = ctx.put("x1.c9r", b"one").await;
    let x2 = ctx.put("x2.c9r", b"two").await;
    let y = ctx.p("y.c9r");
    let (r1, r2) = tokio::join!(
        s.rename(&x1, &y, RenameMode::NoReplace),
        s.rename(&x2, &y, RenameMode::NoReplace)
    );
    match (r1.map_err(|e| e.kind()), r2.map_err(|e| e.kind())) {
        (Ok(()), Err(K::AlreadyExists)) => {
            ctx.assert_content(&y, b"one", "the first rename won").await;
            ctx.assert_content(&x2, b"two", "the losing source is kept")
                .await;
        }
        (Err(K::AlreadyExists), Ok(())) => {
            ctx.assert_content(&y, b"two", "the second rename won")
                .await;
            ctx.assert_content(&x1, b"one", "the losing source is kept")
                .await;
        }
        other => panic!(
            "[{}] racing NoReplace renames: expected one Ok and one AlreadyExists, got {other:?}",
            ctx.name
        ),
    }
}

/// Renaming folders moves their whole content; NoReplace refuses an existing folder.
pub async fn rename_dirs(ctx: &Ctx) {
    let s = &ctx.storage;
    let d1 = ctx.mkdir("d1").await;
    ctx.put("d1/f.c9r", b"f").await;
    ctx.mkdir("d1/sub").await;
    ctx.put("d1/sub/g.c9r", b"g").await;
    let d2 = ctx.p("d2");
    ctx.ok(
        s.rename(&d1, &d2, RenameMode::NoReplace).await,
        "rename a folder (NoReplace)",
    );
    ctx.assert_missing(&d1, "the old folder is gone").await;
    ctx.assert_content(&ctx.p("d2/f.c9r"), b"f", "content moved with the folder")
        .await;
    ctx.assert_content(
        &ctx.p("d2/sub/g.c9r"),
        b"g",
        "nested content moved with the folder",
    )
    .await;

    let e = ctx.mkdir("e").await;
    ctx.put("e/x.c9r", b"x").await;
    ctx.fails(
        s.rename(&d2, &e, RenameMode::NoReplace).await,
        &[K::AlreadyExists],
        "NoReplace onto an existing folder",
    );
    ctx.assert_content(
        &ctx.p("d2/f.c9r"),
        b"f",
        "a refused folder rename keeps the source",
    )
    .await;
    ctx.assert_content(
        &ctx.p("e/x.c9r"),
        b"x",
        "a refused folder rename keeps the target",
    )
    .await;

    let inside = ctx.p("e/d3");
    ctx.ok(
        s.rename(&d2, &inside, RenameMode::NoReplace).await,
        "move a folder into another folder",
    );
    ctx.assert_content(
        &ctx.p("e/d3/sub/g.c9r"),
        b"g",
        "nested content after the move",
    )
    .await;
    let d4 = ctx.p("d4");
    ctx.ok(
        s.rename(&inside, &d4, RenameMode::Replace).await,
        "Replace-rename a folder onto a free name",
    );
    ctx.assert_names(
        ctx.names(&d4).await,
        &["f.c9r", "sub"],
        "the folder after two moves",
    );
    ctx.assert_names(
        ctx.names(&e).await,
        &["x.c9r"],
        "the other folder after the moves",
    );
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["d4", "e"],
        "the top folder after the moves",
    );
}

/// `remove_file`, `remove_dir` and `remove_dir_all` of a nested tree.
pub async fn remove(ctx: &Ctx) {
    let s = &ctx.storage;
    let f = ctx.put("f.c9r", b"f").await;
    ctx.ok(s.remove_file(&f).await, "remove_file");
    ctx.assert_missing(&f, "a removed object").await;
    let d = ctx.mkdir("empty").await;
    ctx.ok(s.remove_dir(&d).await, "remove_dir of an empty folder");
    ctx.assert_missing(&d, "a removed folder").await;

    let t = ctx.mkdir("tree").await;
    ctx.put("tree/a.c9r", b"a").await;
    ctx.mkdir("tree/sub").await;
    ctx.mkdir("tree/sub/empty").await;
    ctx.put("tree/sub/b.c9r", &pattern(4, 50_000)).await;
    ctx.mkdir("tree/sub/deeper").await;
    ctx.put("tree/sub/deeper/c.c9r", b"c").await;
    let keep = ctx.put("keep.c9r", b"keep").await;
    ctx.ok(
        s.remove_dir_all(&t).await,
        "remove_dir_all of a nested tree",
    );
    ctx.assert_missing(&t, "the removed tree").await;
    ctx.assert_missing(&ctx.p("tree/sub/b.c9r"), "an object of the removed tree")
        .await;
    ctx.assert_content(&keep, b"keep", "a sibling survives remove_dir_all")
        .await;
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["keep.c9r"],
        "after the removals",
    );
}

/// `list_dir` reports every child once with kind, size and mtime, agreeing with `metadata`.
pub async fn list_dir_metadata(ctx: &Ctx) {
    let s = &ctx.storage;
    let before = SystemTime::now();
    ctx.put("empty.c9r", b"").await;
    ctx.put("one.c9r", b"1").await;
    ctx.put("big.c9r", &pattern(5, 70_000)).await;
    ctx.mkdir("sub").await;
    ctx.put("sub/inner.c9r", b"inner").await;
    let mut listed = ctx.ok(s.list_dir(&ctx.dir).await, "list_dir");
    listed.sort_by(|a, b| a.name.cmp(&b.name));
    let got: Vec<(&str, EntryKind, u64)> = listed
        .iter()
        .map(|e| (e.name.as_str(), e.metadata.kind, e.metadata.size))
        .collect();
    let want = vec![
        ("big.c9r", EntryKind::File, 70_000),
        ("empty.c9r", EntryKind::File, 0),
        ("one.c9r", EntryKind::File, 1),
        ("sub", EntryKind::Dir, 0),
    ];
    assert_eq!(
        got, want,
        "[{}] names, kinds and sizes (folders 0)",
        ctx.name
    );
    // Clocks of a remote server may differ a little from ours.
    let slack = Duration::from_secs(300);
    for entry in &listed {
        let what = format!("listed mtime of {}", entry.name);
        if entry.metadata.kind == EntryKind::File || ctx.quirks.folder_mtime {
            ctx.assert_mtime_close(entry.metadata.modified, before, slack, &what);
        }
        let meta = ctx.ok(
            s.metadata(&ctx.p(&entry.name)).await,
            &format!("metadata {}", entry.name),
        );
        assert_eq!(
            (meta.kind, meta.size),
            (entry.metadata.kind, entry.metadata.size),
            "[{}] metadata agrees with list_dir for {}",
            ctx.name,
            entry.name
        );
        if let Some(listed_mtime) = entry.metadata.modified {
            ctx.assert_mtime_close(
                meta.modified,
                listed_mtime,
                Duration::ZERO,
                &format!("metadata mtime of {}", entry.name),
            );
        }
    }
    ctx.assert_names(
        ctx.names(&ctx.p("sub")).await,
        &["inner.c9r"],
        "a subfolder lists only its own children",
    );
}

/// Long names (220+ bytes, base64url alphabet with `=`, `-`, `_`), as vault
/// ciphertext names are, work for objects and folders, and rename.
pub async fn long_names(ctx: &Ctx) {
    let s = &ctx.storage;
    let max = s.capabilities().max_name_len;
    let long = |seed: u64, suffix: &str| {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let len = 224usize.min(max);
        let mut name: String = pattern(seed, len - suffix.len() - 2)
            .iter()
            .map(|b| ALPHABET[usize::from(b % 64)] as char)
            .collect();
        name.push_str("==");
        name.replace_range(0..2, "-_");
        name.push_str(suffix);
        name
    };
    let file_name = long(6, ".c9r");
    let dir_name = long(7, ".c9r");
    let renamed = long(8, ".c9r");
    assert!(
        file_name.len() >= 220,
        "[{}] the long names are 220+ bytes",
        ctx.name
    );
    let f = ctx.put(&file_name, b"long").await;
    let d = ctx.mkdir(&dir_name).await;
    ctx.put(&format!("{dir_name}/dir.c9r"), b"dirid").await;
    let short = "Xy_-AbCdEfGhIjKlMnOpQrStUvWxYz0=.c9s";
    ctx.mkdir(short).await;
    ctx.put(&format!("{short}/name.c9s"), file_name.as_bytes())
        .await;
    ctx.put(&format!("{short}/contents.c9r"), b"contents").await;
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &[&file_name, &dir_name, short],
        "long names list exactly",
    );
    ctx.assert_names(
        ctx.names(&d).await,
        &["dir.c9r"],
        "inside a long-named folder",
    );
    ctx.assert_content(&f, b"long", "a long-named object").await;
    let to = ctx.p(&renamed);
    ctx.ok(
        s.rename(&f, &to, RenameMode::NoReplace).await,
        "rename between long names",
    );
    ctx.assert_content(&to, b"long", "after renaming a long name")
        .await;
    ctx.assert_content(
        &ctx.p(&format!("{short}/name.c9s")),
        file_name.as_bytes(),
        "name.c9s",
    )
    .await;
    ctx.ok(
        s.remove_dir_all(&d).await,
        "remove_dir_all of a long-named folder",
    );
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &[&renamed, short],
        "after the removal",
    );
}

/// `write_at`, `set_len` and `sync` work in place when `random_write`, and
/// are `Unsupported` otherwise.
pub async fn random_write(ctx: &Ctx) {
    let s = &ctx.storage;
    let mut model = pattern(9, 100);
    let f = ctx.put("f.c9r", &model).await;
    if !s.capabilities().random_write {
        ctx.fails(
            s.write_at(&f, 0, Bytes::from_static(b"x")).await,
            &[K::Unsupported],
            "write_at without random_write",
        );
        ctx.fails(
            s.set_len(&f, 0).await,
            &[K::Unsupported],
            "set_len without random_write",
        );
        ctx.assert_content(&f, &model, "unchanged").await;
        return;
    }
    let mut apply = |offset: usize, data: &[u8]| {
        if model.len() < offset + data.len() {
            model.resize(offset + data.len(), 0);
        }
        model[offset..offset + data.len()].copy_from_slice(data);
    };
    ctx.ok(
        s.write_at(&f, 10, Bytes::from_static(b"abc")).await,
        "write_at inside",
    );
    apply(10, b"abc");
    ctx.ok(
        s.write_at(&f, 98, Bytes::from_static(b"12345")).await,
        "write_at across the end",
    );
    apply(98, b"12345");
    ctx.ok(
        s.write_at(&f, 200, Bytes::from_static(b"z")).await,
        "write_at past the end (zero gap)",
    );
    apply(200, b"z");
    let chunk = pattern(10, 40_000);
    ctx.ok(
        s.write_at(&f, 32_768 - 7, Bytes::from(chunk.clone())).await,
        "a large write_at",
    );
    apply(32_768 - 7, &chunk);
    ctx.ok(s.write_at(&f, 0, Bytes::new()).await, "an empty write_at");
    ctx.ok(s.sync(&f).await, "sync");
    ctx.assert_content(&f, &model, "after write_at").await;
    ctx.ok(s.set_len(&f, 50).await, "set_len shrinking");
    model.truncate(50);
    ctx.assert_content(&f, &model, "after shrinking").await;
    ctx.ok(s.set_len(&f, 60).await, "set_len growing (zeros)");
    model.resize(60, 0);
    ctx.ok(s.sync(&f).await, "sync");
    ctx.assert_content(&f, &model, "after growing").await;
    assert_eq!(
        ctx.ok(s.metadata(&f).await, "metadata").size,
        60,
        "[{}] size after set_len",
        ctx.name
    );
    ctx.ok(s.set_len(&f, 0).await, "set_len to zero");
    ctx.assert_content(&f, b"", "after set_len(0)").await;
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["f.c9r"],
        "nothing else appeared",
    );
}

/// `set_modified` round-trips (within the declared granularity) when the
/// backend can, and is `Unsupported` otherwise.
pub async fn set_modified(ctx: &Ctx) {
    let s = &ctx.storage;
    let f = ctx.put("f.c9r", b"content").await;
    // 2020-01-02T03:04:05Z, whole seconds so second-granular backends keep it exactly.
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_934_245);
    if !s.capabilities().set_modified {
        ctx.fails(
            s.set_modified(&f, t).await,
            &[K::Unsupported],
            "set_modified without the capability",
        );
        return;
    }
    ctx.ok(s.set_modified(&f, t).await, "set_modified");
    let meta = ctx.ok(s.metadata(&f).await, "metadata");
    ctx.assert_mtime_close(
        meta.modified,
        t,
        Duration::ZERO,
        "metadata after set_modified",
    );
    let listed = ctx.ok(s.list_dir(&ctx.dir).await, "list_dir");
    let entry = listed.iter().find(|e| e.name == "f.c9r");
    ctx.assert_mtime_close(
        entry.and_then(|e| e.metadata.modified),
        t,
        Duration::ZERO,
        "list_dir after set_modified",
    );
    let later = t + Duration::from_secs(86_400 * 400);
    ctx.ok(s.set_modified(&f, later).await, "set_modified again");
    let meta = ctx.ok(s.metadata(&f).await, "metadata");
    ctx.assert_mtime_close(
        meta.modified,
        later,
        Duration::ZERO,
        "metadata after a second set_modified",
    );
    ctx.assert_content(&f, b"content", "set_modified keeps the content")
        .await;
}

/// A 5 MiB object round-trips through a streamed body and ranged reads.
pub async fn big_object(ctx: &Ctx) {
    let s = &ctx.storage;
    let data = pattern(11, (5 << 20) + 123);
    let f = ctx.p("big.c9r");
    let body = Body::from_reader(data.len() as u64, std::io::Cursor::new(data.clone()));
    ctx.ok(s.write(&f, body, WriteMode::CreateNew).await, "write 5 MiB");
    assert_eq!(
        ctx.ok(s.metadata(&f).await, "metadata").size,
        data.len() as u64,
        "[{}] size of the big object",
        ctx.name
    );
    ctx.assert_content(&f, &data, "read_all of the big object")
        .await;
    for (offset, len) in [
        (0usize, 32_768 + 28),
        (3 * 32_796 - 7, 100_000),
        (data.len() - 1000, 5000),
    ] {
        let got = ctx.ok(
            s.read_at(&f, offset as u64, len).await,
            &format!("read_at({offset}, {len})"),
        );
        let want = &data[offset..(offset + len).min(data.len())];
        assert!(
            got.as_ref() == want,
            "[{}] read_at({offset}, {len}) of the big object",
            ctx.name
        );
    }
}

/// `space` answers; where it reports figures, they are consistent.
pub async fn space(ctx: &Ctx) {
    if let Some(info) = ctx.ok(ctx.storage.space().await, "space") {
        assert!(
            info.total == 0 || info.available <= info.total,
            "[{}] available {} <= total {}",
            ctx.name,
            info.available,
            info.total
        );
    }
}

type BoxFut<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

macro_rules! registry {
    ($($name:ident),* $(,)?) => {
        mod boxed {
            $(pub(super) fn $name(ctx: &super::Ctx) -> super::BoxFut<'_> { Box::pin(super::$name(ctx)) })*
        }
        /// Every test, by name, in the order `run_all` runs them.
        pub const TESTS: &[(&str, for<'a> fn(&'a Ctx) -> BoxFut<'a>)] = &[$((stringify!($name), boxed::$name)),*];
    };
}

registry!(
    root_and_fresh_folder,
    not_found,
    already_exists,
    not_empty,
    wrong_kind,
    read_ranges,
    write_modes,
    nosync_variants,
    atomic_overwrite,
    create_new_race,
    rename_files,
    rename_dirs,
    remove,
    list_dir_metadata,
    long_names,
    random_write,
    set_modified,
    big_object,
    space,
);

/// Runs the test named `name` in its own fresh folder and removes the folder
/// afterwards. Panics (with the test's name) on failure or an unknown name.
pub async fn run_one(name: &str, storage: Arc<dyn Storage>, quirks: Quirks) {
    let Some((_, test)) = TESTS.iter().find(|(n, _)| *n == name) else {
        panic!("no conformance test named {name:?}");
    };
    let ctx = Ctx::new(storage, quirks, name).await;
    test(&ctx).await;
    ctx.cleanup().await;
}

/// Runs every test in [`TESTS`], one after the other, each in its own folder.
pub async fn run_all(storage: Arc<dyn Storage>, quirks: Quirks) {
    for (name, _) in TESTS {
        run_one(name, Arc::clone(&storage), quirks.clone()).await;
    }
}

/// One `#[tokio::test]` per conformance test, plus one checking that the
/// list is complete. The argument is an expression evaluated inside each
/// (async) test that yields `(Arc<dyn Storage>, Quirks, guard)`; the guard
/// lives until the test ends. See the [module docs](crate::conformance).
#[macro_export]
macro_rules! conformance_tests {
    ($setup:expr) => {
        $crate::__conformance_tests!($setup;
            root_and_fresh_folder, not_found, already_exists, not_empty, wrong_kind, read_ranges,
            write_modes, nosync_variants, atomic_overwrite, create_new_race, rename_files, rename_dirs, remove,
            list_dir_metadata, long_names, random_write, set_modified, big_object, space);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    ($setup:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (storage, quirks, _guard): (::std::sync::Arc<dyn $crate::Storage>, $crate::conformance::Quirks, _) = $setup;
                $crate::conformance::run_one(stringify!($name), storage, quirks).await;
            }
        )*

        #[test]
        fn conformance_list_is_complete() {
            let listed: &[&str] = &[$(stringify!($name)),*];
            let all: ::std::vec::Vec<&str> = $crate::conformance::TESTS.iter().map(|(n, _)| *n).collect();
            assert_eq!(listed, all.as_slice(), "conformance_tests! must list every conformance test");
        }
    };
}
