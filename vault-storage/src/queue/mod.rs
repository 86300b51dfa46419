//! The upload queue: a [`Storage`] decorator that makes every change durable in a local journal
//! and returns, then applies the changes to the storage below in the background.
//!
//! - A mutation (`write`, `create_dir`, `remove_file`, `remove_dir`, `remove_dir_all`,
//!   `rename`) is checked against the queued view (the same errors the storage would give), its
//!   bytes written to an object file and its record appended to the log, both synced, before it
//!   returns: "durable" means on this laptop, not on the server ([`journal`]).
//! - A background worker applies the ops in order, several at once where they touch unrelated
//!   paths; an op never overtakes an earlier one on the same path, a folder above or below it, or
//!   either side of a rename. Each object reaches the storage with one `write` of the storage
//!   below, which is atomic by contract. Failures are retried with exponential backoff; an op
//!   the storage refuses for good is logged and dropped, except a write, which is never dropped
//!   (a missing folder above it is recreated; an object someone else created meanwhile makes
//!   ours a conflict copy, see [`conflict_name`]).
//! - Reads, metadata and listings see the queued view ([`overlay`]).
//! - The journal survives a crash: [`QueuedStorage::attach`] on the next start replays what is
//!   pending.
//!
//! The decorator knows nothing of encryption: it stores what it is given (ciphertext) under the
//! names it is given (ciphertext names). It declares no `random_write`, so the engine writes
//! whole objects. Until [`QueuedStorage::attach`] gives it a journal it passes everything
//! through (the vault's id, which names the journal's folder, is known only after the unlock).

mod journal;
mod overlay;
mod seen;
#[cfg(test)]
mod tests;
mod worker;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{
    Body, Capabilities, DirEntry, EntryKind, Metadata, RenameMode, SpaceInfo, Storage,
    StorageError, StorageErrorKind, StoragePath, WriteMode,
};
use journal::{Journal, OpKind, Record};
use overlay::{Child, Found, Pending};

pub use worker::{conflict_name, utc_stamp};

/// How the worker runs.
#[derive(Debug, Clone, Copy)]
pub struct QueueOptions {
    /// Ops applied at once (on unrelated paths).
    pub parallel: usize,
    /// Wait after the first failure of an op; doubled after each further one.
    pub backoff_min: Duration,
    /// Longest wait between two tries.
    pub backoff_max: Duration,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            parallel: 4,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// What `vault status -l` and `vault queue` show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Ops not yet on the storage.
    pub pending: usize,
    /// Bytes of the queued writes among them.
    pub bytes: u64,
    /// When the oldest was queued.
    pub oldest: Option<SystemTime>,
    /// The last failure, until an op succeeds again.
    pub last_error: Option<String>,
    /// Conflict copies made.
    pub conflicts: u64,
}

/// One pending op, for `vault queue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    /// `write`, `mkdir`, `remove`, `rmdir`, `rmtree` or `rename`.
    pub op: &'static str,
    /// The storage path (for a rename `FROM -> TO`).
    pub path: String,
    /// Bytes (writes).
    pub len: u64,
    /// Failed attempts so far.
    pub attempts: u32,
}

#[derive(Default)]
pub(crate) struct State {
    journal: Option<Journal>,
    ops: Vec<Pending>,
    next_seq: u64,
    /// Bumped whenever an op leaves the queue: a look-up that raced with it is repeated.
    generation: u64,
    last_error: Option<String>,
    conflicts: u64,
    in_flight: usize,
    /// Listings the storage gave, for when it stops answering.
    seen: seen::Seen,
}

pub(crate) struct Shared {
    inner: Arc<dyn Storage>,
    options: QueueOptions,
    state: Mutex<State>,
    /// One mutation is checked and journaled at a time.
    enqueue: tokio::sync::Mutex<()>,
    /// Wakes the worker (new op, retry) and whoever waits for the queue to change.
    changed: tokio::sync::Notify,
    settled: tokio::sync::Notify,
    stop: std::sync::atomic::AtomicBool,
    /// The worker starts nothing new (`vault queue --pause`, tests).
    paused: std::sync::atomic::AtomicBool,
    /// Told of each folder the worker recreated ([`QueuedStorage::on_folder_recreated`]).
    recreated: std::sync::OnceLock<FolderRecreated>,
    /// Places conflict copies of objects without a name of their own
    /// ([`QueuedStorage::on_conflict_without_name`]).
    place_copy: std::sync::OnceLock<PlaceConflictCopy>,
}

/// Where a conflict copy goes whose object has no conflict-copy name of its own (a long-named
/// node's `contents.c9r`): chosen by the vault layer, which can name a new node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyPlace {
    /// Folders made first, in order (a shortened node's folder).
    pub dirs: Vec<StoragePath>,
    /// Small files written next (its `name.c9s`).
    pub files: Vec<(StoragePath, Vec<u8>)>,
    /// Where our version goes, last (created, never replacing).
    pub target: StoragePath,
}

/// Asked, for a conflicting object without a conflict-copy name, where our version goes
/// (`None`: nowhere known; the change waits).
pub type PlaceConflictCopy = Arc<
    dyn Fn(
            StoragePath,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<CopyPlace>> + Send>>
        + Send
        + Sync,
>;

/// Called with each folder the worker had to recreate on the storage because it was removed
/// there meanwhile (by another device) under a queued change.
pub type FolderRecreated = Arc<dyn Fn(&StoragePath) + Send + Sync>;

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The upload queue around a storage; see the module docs.
pub struct QueuedStorage {
    shared: Arc<Shared>,
}

fn io_error(path: &StoragePath, e: std::io::Error) -> StorageError {
    let kind = if e.raw_os_error() == Some(28) || e.kind() == std::io::ErrorKind::StorageFull {
        StorageErrorKind::StorageFull
    } else {
        StorageErrorKind::Other
    };
    tracing::warn!(path = %path, error = %e, "upload journal: write failed");
    StorageError::with_source(kind, path, format!("upload journal: {e}"))
}

fn err(kind: StorageErrorKind, path: &StoragePath) -> StorageError {
    StorageError::new(kind, path.clone())
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl QueuedStorage {
    /// A queue around `inner`, passing everything through until [`QueuedStorage::attach`].
    pub fn new(inner: Arc<dyn Storage>, options: QueueOptions) -> Self {
        QueuedStorage {
            shared: Arc::new(Shared {
                inner,
                options,
                state: Mutex::new(State::default()),
                enqueue: tokio::sync::Mutex::new(()),
                changed: tokio::sync::Notify::new(),
                settled: tokio::sync::Notify::new(),
                stop: std::sync::atomic::AtomicBool::new(false),
                paused: std::sync::atomic::AtomicBool::new(false),
                recreated: std::sync::OnceLock::new(),
                place_copy: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Queues from now on in the journal in `dir` (made 0700 if missing), replaying what it
    /// holds, and starts the worker on the current Tokio runtime. Returns the number of ops
    /// found pending. A second call is refused.
    pub fn attach(&self, dir: &std::path::Path) -> std::io::Result<usize> {
        let (journal, replayed) = Journal::open(dir)?;
        let n = replayed.len();
        {
            let mut st = self.shared.lock();
            if st.journal.is_some() {
                return Err(std::io::Error::other("upload journal attached twice"));
            }
            let now = Instant::now();
            st.next_seq = replayed.iter().map(|r| r.seq + 1).max().unwrap_or(1);
            st.ops = replayed
                .into_iter()
                .map(|r| Pending {
                    seq: r.seq,
                    at: SystemTime::UNIX_EPOCH + Duration::from_secs(r.at),
                    op: r.op,
                    in_flight: false,
                    attempts: 0,
                    next_try: now,
                })
                .collect();
            st.journal = Some(journal);
        }
        if n > 0 {
            tracing::info!(pending = n, journal = %dir.display(), "upload queue: resuming pending uploads");
        }
        worker::start(self.shared.clone());
        Ok(n)
    }

    /// True once a journal is attached.
    pub fn is_attached(&self) -> bool {
        self.shared.lock().journal.is_some()
    }

    /// The queue's figures now.
    pub fn stats(&self) -> QueueStats {
        let st = self.shared.lock();
        QueueStats {
            pending: st.ops.len(),
            bytes: st
                .ops
                .iter()
                .map(|p| match p.op {
                    OpKind::Write { len, .. } => len,
                    _ => 0,
                })
                .sum(),
            oldest: st.ops.iter().map(|p| p.at).min(),
            last_error: st.last_error.clone(),
            conflicts: st.conflicts,
        }
    }

    /// The pending ops, oldest first.
    pub fn entries(&self) -> Vec<QueueEntry> {
        let st = self.shared.lock();
        st.ops
            .iter()
            .map(|p| {
                let (op, path, len) = match &p.op {
                    OpKind::Write { path, len, .. } => ("write", path.clone(), *len),
                    OpKind::CreateDir { path, .. } => ("mkdir", path.clone(), 0),
                    OpKind::RemoveFile { path } => ("remove", path.clone(), 0),
                    OpKind::RemoveDir { path } => ("rmdir", path.clone(), 0),
                    OpKind::RemoveDirAll { path } => ("rmtree", path.clone(), 0),
                    OpKind::Rename { from, to, .. } => ("rename", format!("{from} -> {to}"), 0),
                };
                QueueEntry {
                    op,
                    path,
                    len,
                    attempts: p.attempts,
                }
            })
            .collect()
    }

    /// Tries every waiting op again now, whatever its backoff.
    pub fn retry_now(&self) {
        {
            let mut st = self.shared.lock();
            let now = Instant::now();
            for p in &mut st.ops {
                p.next_try = now;
            }
        }
        self.shared.changed.notify_one();
    }

    /// Waits until nothing is pending or `timeout` has passed; true when nothing is pending.
    /// `progress` is called whenever the queue changes.
    pub async fn drain(&self, timeout: Duration, mut progress: impl FnMut(&QueueStats)) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let settled = self.shared.settled.notified();
            let stats = self.stats();
            progress(&stats);
            if stats.pending == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, settled).await.is_err() {
                return self.stats().pending == 0;
            }
        }
    }

    /// Stops the worker (what is pending stays in the journal).
    pub fn stop(&self) {
        self.shared
            .stop
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.shared.changed.notify_one();
    }

    /// Sets who is told of each folder the worker recreates for a queued change (the vault
    /// layer links it back into the tree: a bare recreated folder is unreachable there).
    /// `false` if one was set already.
    pub fn on_folder_recreated(&self, f: FolderRecreated) -> bool {
        self.shared.recreated.set(f).is_ok()
    }

    /// Sets who places the conflict copy of an object that has no conflict-copy name of its
    /// own (see [`CopyPlace`]). `false` if one was set already.
    pub fn on_conflict_without_name(&self, f: PlaceConflictCopy) -> bool {
        self.shared.place_copy.set(f).is_ok()
    }

    /// Stops (`true`) or resumes starting uploads; what runs finishes.
    pub fn set_paused(&self, paused: bool) {
        self.shared
            .paused
            .store(paused, std::sync::atomic::Ordering::SeqCst);
        self.shared.changed.notify_one();
    }

    /// Test switch: journal writes fail as on a full disk.
    #[doc(hidden)]
    pub fn simulate_full_disk(&self, full: bool) {
        if let Some(j) = self.shared.lock().journal.as_mut() {
            j.fail_enospc = full;
        }
    }

    fn attached(&self) -> bool {
        self.shared.lock().journal.is_some()
    }

    fn inner(&self) -> &dyn Storage {
        self.shared.inner.as_ref()
    }

    /// What `path` is in the queued view, asking the storage where the queue does not decide.
    /// `Ok(None)`: nothing there.
    async fn lookup(&self, path: &StoragePath) -> Result<Option<(Metadata, Found)>, StorageError> {
        self.lookup_with(path, false).await
    }

    /// [`QueuedStorage::lookup`]; with `trust_remembered`, a path in a folder the queue has a
    /// listing of is answered from it without asking the storage.
    async fn lookup_with(
        &self,
        path: &StoragePath,
        trust_remembered: bool,
    ) -> Result<Option<(Metadata, Found)>, StorageError> {
        for _ in 0..8 {
            let (found, generation) = {
                let st = self.shared.lock();
                (overlay::resolve(&st.ops, path.as_str()), st.generation)
            };
            match found {
                Found::Absent => return Ok(None),
                Found::Inner { path: ip, moving } => {
                    if moving {
                        self.wait_settled().await;
                        continue;
                    }
                    let ip = StoragePath::new(&ip)?;
                    let remembered = self.shared.lock().seen.entry(ip.as_str());
                    let inner_found = Found::Inner {
                        path: ip.as_str().into(),
                        moving,
                    };
                    if trust_remembered && let Some(known) = remembered.clone() {
                        return Ok(known.map(|m| (m, inner_found)));
                    }
                    let asked = self
                        .ask(remembered.is_some(), &ip, self.inner().metadata(&ip))
                        .await;
                    match asked {
                        Ok(m) => return Ok(Some((m, inner_found))),
                        Err(e) if seen::unanswered(&e) && remembered.is_some() => {
                            return Ok(remembered.flatten().map(|m| (m, inner_found)));
                        }
                        Err(e) if e.kind() == StorageErrorKind::NotFound => {
                            if self.shared.lock().generation != generation {
                                continue;
                            }
                            return Ok(None);
                        }
                        Err(e) => return Err(e),
                    }
                }
                f => return Ok(f.metadata().map(|m| (m, f))),
            }
        }
        Err(err(StorageErrorKind::Unavailable, path))
    }

    /// [`QueuedStorage::lookup`] for checking a change: answered from the queue's remembered
    /// listing where it has one (a close must not wait on the link: the worker compares
    /// versions before it uploads, so a change made elsewhere meanwhile still becomes a
    /// conflict copy, never a lost version); else a storage that does not answer in time is
    /// `Unavailable` (the change is then queued on trust; the worker finds out).
    async fn lookup_bounded(
        &self,
        path: &StoragePath,
    ) -> Result<Option<(Metadata, Found)>, StorageError> {
        let bound = seen::PATIENCE + Duration::from_millis(200);
        tokio::time::timeout(bound, self.lookup_with(path, true))
            .await
            .unwrap_or_else(|_| Err(err(StorageErrorKind::Unavailable, path)))
    }

    /// `call` to the storage. With a remembered answer to fall back on (`remembered`), it
    /// waits at most [`seen::PATIENCE`], and not at all while the storage has just gone
    /// unanswered (`Unavailable` then).
    async fn ask<T>(
        &self,
        remembered: bool,
        path: &StoragePath,
        call: impl std::future::Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        if !remembered {
            return call.await;
        }
        if self.shared.lock().seen.skip_asking() {
            return Err(err(StorageErrorKind::Unavailable, path));
        }
        let r = tokio::time::timeout(seen::PATIENCE, call)
            .await
            .unwrap_or_else(|_| Err(err(StorageErrorKind::Unavailable, path)));
        let answered = !matches!(&r, Err(e) if seen::unanswered(e));
        self.shared.lock().seen.answered(answered);
        r
    }

    async fn wait_settled(&self) {
        let n = self.shared.settled.notified();
        let _ = tokio::time::timeout(Duration::from_millis(200), n).await;
    }

    /// The parent of `path` exists as a folder in the queued view.
    async fn check_parent(&self, path: &StoragePath) -> Result<(), StorageError> {
        let Some(parent) = path.parent() else {
            return Err(err(StorageErrorKind::AlreadyExists, path));
        };
        match self.lookup_bounded(&parent).await {
            Ok(Some((m, _))) if m.kind == EntryKind::Dir => Ok(()),
            Ok(Some(_)) => Err(err(StorageErrorKind::NotADirectory, path)),
            Ok(None) => Err(err(StorageErrorKind::NotFound, path)),
            // Offline: the storage cannot say; the worker finds out.
            Err(e) if e.kind() == StorageErrorKind::Unavailable => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Journals `op` (its object, for a write, already at its file) and queues it.
    fn journal_op(&self, seq: u64, op: OpKind, path: &StoragePath) -> Result<(), StorageError> {
        let at = SystemTime::now();
        {
            let mut st = self.shared.lock();
            let Some(j) = st.journal.as_mut() else {
                return Err(err(StorageErrorKind::Other, path));
            };
            let rec = Record::Op {
                seq,
                at: unix_secs(at),
                op: op.clone(),
            };
            if let Err(e) = j.append(&rec) {
                let obj = j.obj_path(seq);
                let _ = std::fs::remove_file(obj);
                return Err(io_error(path, e));
            }
            st.ops.push(Pending {
                seq,
                at,
                op,
                in_flight: false,
                attempts: 0,
                next_try: Instant::now(),
            });
        }
        self.shared.changed.notify_one();
        Ok(())
    }

    fn take_seq(&self) -> u64 {
        let mut st = self.shared.lock();
        let s = st.next_seq.max(1);
        st.next_seq = s + 1;
        s
    }

    async fn queue_write(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        let _g = self.shared.enqueue.lock().await;
        let existing = match self.lookup_bounded(path).await {
            Ok(e) => e,
            Err(e) if e.kind() == StorageErrorKind::Unavailable => None,
            Err(e) => return Err(e),
        };
        let base = match &existing {
            Some(_) if mode == WriteMode::CreateNew => {
                return Err(err(StorageErrorKind::AlreadyExists, path));
            }
            Some((m, _)) if m.kind == EntryKind::Dir => {
                return Err(err(StorageErrorKind::IsADirectory, path));
            }
            // No mtime and no version: what a remembered listing says of an object our own
            // write made whose real tag is not known; a made-up tag would turn the upload
            // into a conflict copy of our own file.
            Some((m, Found::Inner { .. })) if m.version.is_some() || m.modified.is_some() => {
                Some(m.version_tag())
            }
            _ => None,
        };
        if existing.is_none() {
            self.check_parent(path).await?;
        }
        let seq = self.take_seq();
        let obj = {
            let st = self.shared.lock();
            let j = st
                .journal
                .as_ref()
                .ok_or_else(|| err(StorageErrorKind::Other, path))?;
            j.check_space().map_err(|e| io_error(path, e))?;
            j.obj_path(seq)
        };
        let len = body.len();
        let mut reader = body.into_reader();
        journal::write_object(&obj, len, reader.as_mut())
            .await
            .map_err(|e| io_error(path, e))?;
        let op = OpKind::Write {
            path: path.as_str().into(),
            len,
            create_new: mode == WriteMode::CreateNew,
            base,
        };
        self.journal_op(seq, op, path)
    }

    async fn queue_simple(&self, path: &StoragePath, op: OpKind) -> Result<(), StorageError> {
        let seq = self.take_seq();
        self.journal_op(seq, op, path)
    }

    /// Reads from the queued view.
    async fn read_view(
        &self,
        path: &StoragePath,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, StorageError> {
        for _ in 0..8 {
            let (found, obj, generation) = {
                let st = self.shared.lock();
                let f = overlay::resolve(&st.ops, path.as_str());
                let obj = match (&f, st.journal.as_ref()) {
                    (Found::Object { seq, .. }, Some(j)) => Some(j.obj_path(*seq)),
                    _ => None,
                };
                (f, obj, st.generation)
            };
            match found {
                Found::Absent => return Err(err(StorageErrorKind::NotFound, path)),
                Found::Dir { .. } => return Err(err(StorageErrorKind::IsADirectory, path)),
                Found::Object { len: total, .. } => {
                    let Some(obj) = obj else { continue };
                    match read_file_at(&obj, offset, len, total) {
                        Ok(b) => return Ok(b),
                        // Uploaded and removed meanwhile: the storage has it now.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(io_error(path, e)),
                    }
                }
                Found::Inner { path: ip, moving } => {
                    if moving {
                        self.wait_settled().await;
                        continue;
                    }
                    let ip = StoragePath::new(&ip)?;
                    match self.inner().read_at(&ip, offset, len).await {
                        Err(e)
                            if e.kind() == StorageErrorKind::NotFound
                                && self.shared.lock().generation != generation =>
                        {
                            continue;
                        }
                        Err(e) if ip != *path => {
                            return Err(StorageError::with_source(e.kind(), path, e));
                        }
                        r => return r,
                    }
                }
            }
        }
        Err(err(StorageErrorKind::Unavailable, path))
    }

    async fn list_view(&self, path: &StoragePath) -> Result<Vec<DirEntry>, StorageError> {
        for _ in 0..8 {
            let (plan, generation) = {
                let st = self.shared.lock();
                (overlay::plan_list(&st.ops, path.as_str()), st.generation)
            };
            if plan.moving {
                self.wait_settled().await;
                continue;
            }
            if plan.file {
                return Err(err(StorageErrorKind::NotADirectory, path));
            }
            if plan.missing && plan.decided.is_empty() {
                return Err(err(StorageErrorKind::NotFound, path));
            }
            let mut out: Vec<DirEntry> = Vec::new();
            let mut raced = false;
            if let Some(ip) = &plan.inner {
                let ip = StoragePath::new(ip)?;
                let remembered = self.shared.lock().seen.listing(ip.as_str());
                let asked = self
                    .ask(remembered.is_some(), &ip, self.inner().list_dir(&ip))
                    .await;
                let asked = match asked {
                    Ok(list) => {
                        // A listing asked for while an op was applied may predate it: kept,
                        // it would overwrite what `applied` put in the remembered listing,
                        // and an answer from memory would then miss that file.
                        let mut st = self.shared.lock();
                        if st.generation == generation {
                            st.seen.remember(ip.as_str(), &list);
                        }
                        drop(st);
                        Ok(list)
                    }
                    Err(e) if seen::unanswered(&e) && remembered.is_some() => {
                        Ok(remembered.unwrap_or_default())
                    }
                    Err(e) => Err(e),
                };
                match asked {
                    Ok(list) => out.extend(
                        list.into_iter()
                            .filter(|e| !plan.decided.contains_key(&e.name)),
                    ),
                    Err(e) if e.kind() == StorageErrorKind::NotFound => {
                        if self.shared.lock().generation != generation {
                            continue;
                        }
                        if plan.decided.is_empty() {
                            return Err(err(StorageErrorKind::NotFound, path));
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            for (name, child) in &plan.decided {
                let metadata = match child {
                    Child::Known(m) => m.clone(),
                    Child::Gone => continue,
                    Child::Inner(p) => match self.inner().metadata(&StoragePath::new(p)?).await {
                        Ok(m) => m,
                        Err(e) if e.kind() == StorageErrorKind::NotFound => {
                            raced = true;
                            continue;
                        }
                        Err(e) => return Err(e),
                    },
                };
                out.push(DirEntry {
                    name: name.clone(),
                    metadata,
                });
            }
            if raced && self.shared.lock().generation != generation {
                continue;
            }
            return Ok(out);
        }
        Err(err(StorageErrorKind::Unavailable, path))
    }
}

/// Up to `len` bytes of the object file at `offset` (`total`: its length).
fn read_file_at(
    file: &std::path::Path,
    offset: u64,
    len: usize,
    total: u64,
) -> std::io::Result<Bytes> {
    use std::io::{Read as _, Seek as _};
    let mut f = std::fs::File::open(file)?;
    if offset >= total {
        return Ok(Bytes::new());
    }
    let n = total.saturating_sub(offset).min(len as u64) as usize;
    let mut buf = vec![0u8; n];
    f.seek(std::io::SeekFrom::Start(offset))?;
    f.read_exact(&mut buf)?;
    Ok(Bytes::from(buf))
}

mod storage_impl;

/// Ops `seqs` reached the storage (or are dropped): out of the queue, `Done` in the log, their
/// objects removed; an empty queue empties the log.
/// `written`: the storage's metadata of what a write (the first op) made, if known.
fn complete(
    st: &mut State,
    seqs: &[u64],
    conflict: bool,
    applied: bool,
    written: Option<&Metadata>,
) {
    let now = SystemTime::now();
    let mut done = Vec::new();
    st.ops.retain_mut(|p| {
        let keep = !seqs.contains(&p.seq);
        if !keep {
            done.push(p.op.clone());
        }
        keep
    });
    if applied {
        st.seen.answered(true);
    }
    if applied && !conflict {
        for op in &done {
            st.seen.applied(op, now, written);
        }
    }
    st.generation += 1;
    if conflict {
        st.conflicts += 1;
    }
    let empty = st.ops.is_empty();
    let Some(j) = st.journal.as_mut() else { return };
    for &seq in seqs {
        // Lost on a crash, the op is applied again on replay, which finds it done.
        if let Err(e) = j.append(&Record::Done { seq }) {
            tracing::warn!(error = %e, "upload journal: completion not recorded");
        }
        let _ = std::fs::remove_file(j.obj_path(seq));
    }
    if empty && let Err(e) = j.reset() {
        tracing::warn!(error = %e, "upload journal: not emptied");
    }
}
