//! What every conformance check works with: the backend's quirks, the test's own folder and the
//! assertion helpers that name the test in their panics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::{Body, Storage, StorageError, StorageErrorKind, StoragePath, WriteMode};

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
    /// Whether a background sender changes the storage between two calls of
    /// one test (the upload queue's worker). A folder it creates, or writes
    /// into, may then report a newer modification time in `metadata` than a
    /// `list_dir` just before showed: the two are compared with the clock
    /// slack instead of exactly. Default `false`.
    pub sends_in_background: bool,
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks {
            mtime_granularity: Duration::ZERO,
            folder_mtime: true,
            sends_in_background: false,
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
    pub(super) name: String,
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

    pub(super) fn ok<T>(&self, result: Result<T, StorageError>, what: &str) -> T {
        result.unwrap_or_else(|e| {
            panic!(
                "[{}] {what}: unexpected error: {e} (kind {:?})",
                self.name,
                e.kind()
            )
        })
    }

    pub(super) fn fails<T: std::fmt::Debug>(
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

    pub(super) async fn put(&self, rel: &str, data: &[u8]) -> StoragePath {
        let path = self.p(rel);
        let body = Body::from_bytes(Bytes::copy_from_slice(data));
        self.ok(
            self.storage.write(&path, body, WriteMode::CreateNew).await,
            &format!("write {rel}"),
        );
        path
    }

    pub(super) async fn mkdir(&self, rel: &str) -> StoragePath {
        let path = self.p(rel);
        self.ok(
            self.storage.create_dir(&path).await,
            &format!("create_dir {rel}"),
        );
        path
    }

    pub(super) async fn content(&self, path: &StoragePath) -> Bytes {
        self.ok(
            self.storage.read_all(path).await,
            &format!("read_all {path}"),
        )
    }

    pub(super) async fn assert_content(&self, path: &StoragePath, want: &[u8], what: &str) {
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

    pub(super) async fn assert_missing(&self, path: &StoragePath, what: &str) {
        self.fails(
            self.storage.metadata(path).await,
            &[StorageErrorKind::NotFound],
            what,
        );
    }

    pub(super) async fn names(&self, dir: &StoragePath) -> Vec<String> {
        let mut names: Vec<String> = self
            .ok(self.storage.list_dir(dir).await, &format!("list_dir {dir}"))
            .into_iter()
            .map(|e| e.name)
            .collect();
        names.sort();
        names
    }

    pub(super) fn assert_names(&self, got: Vec<String>, want: &[&str], what: &str) {
        let mut want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
        want.sort();
        assert_eq!(got, want, "[{}] {what}", self.name);
    }

    pub(super) fn assert_mtime_close(
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
