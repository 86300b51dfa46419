//! The background worker: picks the ops whose predecessors are done, applies them to the
//! storage below (several at once), and retries failures with exponential backoff.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use crate::{
    Body, EntryKind, Metadata, Storage, StorageError, StorageErrorKind, StoragePath, WriteMode,
};

use super::Shared;
use super::journal::OpKind;
use super::overlay::depends;

/// One unit of work: usually one op; a write followed by the rename of what it wrote is sent
/// as one write of the final name.
struct Job {
    seqs: Vec<u64>,
    op: OpKind,
    obj: Option<PathBuf>,
    recreated: Option<super::FolderRecreated>,
    place_copy: Option<super::PlaceConflictCopy>,
}

/// What applying an op came to.
enum Outcome {
    Applied,
    /// A write applied, with the storage's metadata of the object it made (its version tag is
    /// what the next queued overwrite of that file is compared against).
    Written(Metadata),
    /// Someone else changed the object: ours went to a conflict copy.
    Conflict,
}

pub(crate) fn start(shared: Arc<Shared>) {
    tokio::spawn(run(shared));
}

async fn run(shared: Arc<Shared>) {
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            tasks.abort_all();
            return;
        }
        let notified = shared.changed.notified();
        let (jobs, wake) = pick(&shared);
        for job in jobs {
            let inner = shared.inner.clone();
            tasks.spawn(async move {
                let r = apply(inner.as_ref(), &job).await;
                (job, r)
            });
        }
        let wake = tokio::time::Instant::from_std(wake);
        tokio::select! {
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Ok((job, result)) = done {
                    finish(&shared, job, result);
                }
            }
            () = notified => {}
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}

/// The jobs to start now, and when to look again at ops waiting for their backoff.
fn pick(shared: &Shared) -> (Vec<Job>, Instant) {
    let mut st = shared.lock();
    let now = Instant::now();
    let mut wake = now + Duration::from_secs(3600);
    let mut jobs = Vec::new();
    if shared.paused.load(Ordering::SeqCst) {
        return (jobs, wake);
    }
    if paused_by_test_hook() {
        return (jobs, now + Duration::from_millis(200));
    }
    let mut i = 0;
    while i < st.ops.len() {
        if st.in_flight >= shared.options.parallel {
            break;
        }
        let ready =
            !st.ops[i].in_flight && !st.ops[..i].iter().any(|e| depends(&e.op, &st.ops[i].op));
        if !ready {
            i += 1;
            continue;
        }
        if st.ops[i].next_try > now {
            wake = wake.min(st.ops[i].next_try);
            i += 1;
            continue;
        }
        // The next op that must wait for this one.
        let next = (i + 1..st.ops.len()).find(|&k| depends(&st.ops[i].op, &st.ops[k].op));
        let mut seqs = vec![st.ops[i].seq];
        let mut op = st.ops[i].op.clone();
        if let (OpKind::Write { path, len, .. }, Some(k)) = (&st.ops[i].op, next) {
            match &st.ops[k].op {
                // Replaced before it was sent: never sent.
                OpKind::Write { path: p2, .. } if p2 == path => {
                    let seq = st.ops[i].seq;
                    super::complete(&mut st, &[seq], false, false, None);
                    continue;
                }
                // Written, then renamed: one write of the final name, when nothing else
                // orders the rename.
                OpKind::Rename { from, to, replace }
                    if from == path
                        && !st.ops[..k]
                            .iter()
                            .enumerate()
                            .any(|(j, e)| j != i && depends(&e.op, &st.ops[k].op)) =>
                {
                    op = OpKind::Write {
                        path: to.clone(),
                        len: *len,
                        create_new: !*replace,
                        base: None,
                    };
                    seqs.push(st.ops[k].seq);
                    st.ops[k].in_flight = true;
                }
                _ => {}
            }
        }
        let obj = st.journal.as_ref().map(|j| j.obj_path(st.ops[i].seq));
        st.ops[i].in_flight = true;
        st.in_flight += 1;
        jobs.push(Job {
            seqs,
            op,
            obj,
            recreated: shared.recreated.get().cloned(),
            place_copy: shared.place_copy.get().cloned(),
        });
        i += 1;
    }
    (jobs, wake)
}

/// Debug builds only (the binary the end-to-end tests run): while the file named by
/// `VAULT_TEST_QUEUE_PAUSE_FILE` exists, the worker sends nothing, so that a test can change the
/// server under a queued change deterministically (a link cut also stalls the mount's reads).
#[cfg(debug_assertions)]
fn paused_by_test_hook() -> bool {
    std::env::var_os("VAULT_TEST_QUEUE_PAUSE_FILE")
        .is_some_and(|f| !f.is_empty() && std::path::Path::new(&f).exists())
}

#[cfg(not(debug_assertions))]
fn paused_by_test_hook() -> bool {
    false
}

fn permanent(kind: StorageErrorKind) -> bool {
    matches!(
        kind,
        StorageErrorKind::NotFound
            | StorageErrorKind::AlreadyExists
            | StorageErrorKind::NotEmpty
            | StorageErrorKind::NotADirectory
            | StorageErrorKind::IsADirectory
            | StorageErrorKind::InvalidPath
            | StorageErrorKind::Unsupported
    )
}

/// Tries a failed op this many times before a refusal that will not change is taken as final.
const PERMANENT_TRIES: u32 = 5;

fn finish(shared: &Shared, job: Job, result: Result<Outcome, StorageError>) {
    let mut st = shared.lock();
    st.in_flight = st.in_flight.saturating_sub(1);
    match result {
        Ok(outcome) => {
            let written = match &outcome {
                Outcome::Written(m) => Some(m),
                _ => None,
            };
            super::complete(
                &mut st,
                &job.seqs,
                matches!(outcome, Outcome::Conflict),
                true,
                written,
            );
            st.last_error = None;
        }
        Err(e) => {
            let is_write = matches!(job.op, OpKind::Write { .. });
            let mut give_up = false;
            for p in st.ops.iter_mut().filter(|p| job.seqs.contains(&p.seq)) {
                p.in_flight = false;
                p.attempts += 1;
                let shift = p.attempts.saturating_sub(1).min(16);
                let wait = shared
                    .options
                    .backoff_min
                    .saturating_mul(1 << shift)
                    .min(shared.options.backoff_max);
                p.next_try = Instant::now() + wait;
                give_up |= !is_write && permanent(e.kind()) && p.attempts >= PERMANENT_TRIES;
            }
            st.last_error = Some(e.to_string());
            if give_up {
                tracing::error!(error = %e, "upload queue: the storage refuses this change for good; dropped");
                super::complete(&mut st, &job.seqs, false, false, None);
            } else {
                tracing::warn!(error = %e, "upload queue: will retry");
            }
        }
    }
    drop(st);
    shared.settled.notify_waiters();
    shared.changed.notify_one();
}

async fn body(obj: &Option<PathBuf>, len: u64, path: &StoragePath) -> Result<Body, StorageError> {
    let Some(obj) = obj else {
        return Err(StorageError::new(StorageErrorKind::Other, path.clone()));
    };
    let f = tokio::fs::File::open(obj)
        .await
        .map_err(|e| StorageError::with_source(StorageErrorKind::Other, path, e))?;
    Ok(Body::from_reader(len, f))
}

/// Creates the missing folders above `path` (a folder deleted on the server meanwhile), and
/// tells the job's observer of each.
async fn recreate_parents(
    inner: &dyn Storage,
    job: &Job,
    path: &StoragePath,
) -> Result<(), StorageError> {
    let mut missing = Vec::new();
    let mut p = path.parent();
    while let Some(dir) = p {
        if dir.is_root() || inner.metadata(&dir).await.is_ok() {
            break;
        }
        p = dir.parent();
        missing.push(dir);
    }
    for dir in missing.into_iter().rev() {
        tracing::warn!(folder = %dir, "upload queue: a folder was removed on the storage meanwhile; recreated for a queued write");
        match inner.create_dir(&dir).await {
            Err(e) if e.kind() != StorageErrorKind::AlreadyExists => return Err(e),
            Err(_) => {}
            Ok(()) => {
                if let Some(f) = &job.recreated {
                    f(&dir);
                }
            }
        }
    }
    Ok(())
}

async fn apply(inner: &dyn Storage, job: &Job) -> Result<Outcome, StorageError> {
    match &job.op {
        OpKind::Write {
            path,
            len,
            create_new,
            base,
        } => {
            let path = StoragePath::new(path)?;
            apply_write(inner, job, &path, *len, *create_new, base.as_deref()).await
        }
        OpKind::CreateDir { path, .. } => {
            let path = StoragePath::new(path)?;
            let mut r = inner.create_dir(&path).await;
            if matches!(&r, Err(e) if e.kind() == StorageErrorKind::NotFound) {
                recreate_parents(inner, job, &path).await?;
                r = inner.create_dir(&path).await;
            }
            match r {
                Err(e) if e.kind() == StorageErrorKind::AlreadyExists => {
                    match inner.metadata(&path).await {
                        Ok(m) if m.kind == EntryKind::Dir => Ok(Outcome::Applied),
                        _ => Err(e),
                    }
                }
                r => r.map(|()| Outcome::Applied),
            }
        }
        OpKind::RemoveFile { path }
        | OpKind::RemoveDir { path }
        | OpKind::RemoveDirAll { path } => {
            let path = StoragePath::new(path)?;
            let r = match &job.op {
                OpKind::RemoveFile { .. } => inner.remove_file(&path).await,
                OpKind::RemoveDir { .. } => inner.remove_dir(&path).await,
                _ => inner.remove_dir_all(&path).await,
            };
            match r {
                // Gone already (applied before a crash, or removed elsewhere).
                Err(e) if e.kind() == StorageErrorKind::NotFound => Ok(Outcome::Applied),
                r => r.map(|()| Outcome::Applied),
            }
        }
        OpKind::Rename { from, to, replace } => {
            let (from, to) = (StoragePath::new(from)?, StoragePath::new(to)?);
            let mode = if *replace {
                crate::RenameMode::Replace
            } else {
                crate::RenameMode::NoReplace
            };
            match inner.rename(&from, &to, mode).await {
                Err(e) if e.kind() == StorageErrorKind::NotFound => {
                    // Applied before a crash: the source is gone and the target is there.
                    let gone = matches!(inner.metadata(&from).await, Err(ref x) if x.kind() == StorageErrorKind::NotFound);
                    if gone && inner.metadata(&to).await.is_ok() {
                        Ok(Outcome::Applied)
                    } else {
                        Err(e)
                    }
                }
                r => r.map(|()| Outcome::Applied),
            }
        }
    }
}

async fn apply_write(
    inner: &dyn Storage,
    job: &Job,
    path: &StoragePath,
    len: u64,
    create_new: bool,
    base: Option<&str>,
) -> Result<Outcome, StorageError> {
    // An answer with no mtime and no version is the metadata cache's note of our own last
    // write, served while the storage is slow (a remount over a bad link): it says nothing of
    // another device's change, so it is no reason for a conflict copy.
    if let Some(base) = base
        && let Ok(now) = inner.metadata_uncached(path).await
        && (now.version.is_some() || now.modified.is_some())
        && now.version_tag() != base
    {
        // Ours already: sent before a crash, or its answer lost to a link cut.
        if now.size == len && same_content(inner, job, path, len).await? {
            return Ok(written(inner, path, len).await);
        }
        tracing::warn!(path = %path, "upload queue: changed on the storage since our version was made");
        return write_conflict_copy(inner, job, path, len).await;
    }
    let mode = if create_new {
        WriteMode::CreateNew
    } else {
        WriteMode::Overwrite
    };
    let mut r = inner
        .write(path, body(&job.obj, len, path).await?, mode)
        .await;
    if matches!(&r, Err(e) if e.kind() == StorageErrorKind::NotFound) {
        recreate_parents(inner, job, path).await?;
        r = inner
            .write(path, body(&job.obj, len, path).await?, mode)
            .await;
    }
    match r {
        Err(e) if e.kind() == StorageErrorKind::AlreadyExists && create_new => {
            // Ours from before a crash, or another device's.
            if same_content(inner, job, path, len).await? {
                return Ok(written(inner, path, len).await);
            }
            tracing::warn!(path = %path, "upload queue: created on the storage meanwhile");
            write_conflict_copy(inner, job, path, len).await
        }
        Ok(()) => Ok(written(inner, path, len).await),
        Err(e) => Err(e),
    }
}

/// The storage's metadata of the object a write just made, so that the queue remembers its
/// real version tag: a tag made up here would not match the storage's, and the next queued
/// overwrite of the file would be taken for another device's change (a conflict copy). An
/// answer that is not about our object (another size, no tag at all) or none: `Applied`; the
/// queue then knows no version of it, and an overwrite queued before the storage is asked
/// again is sent without comparing (as one queued while the storage could not say).
async fn written(inner: &dyn Storage, path: &StoragePath, len: u64) -> Outcome {
    let asked = tokio::time::timeout(WRITTEN_WAIT, inner.metadata_uncached(path)).await;
    match asked {
        Ok(Ok(m))
            if m.kind == EntryKind::File
                && m.size == len
                && (m.version.is_some() || m.modified.is_some()) =>
        {
            Outcome::Written(m)
        }
        _ => Outcome::Applied,
    }
}

/// How long a write's own metadata is waited for.
const WRITTEN_WAIT: Duration = Duration::from_secs(5);

async fn same_content(
    inner: &dyn Storage,
    job: &Job,
    path: &StoragePath,
    len: u64,
) -> Result<bool, StorageError> {
    let theirs = inner.metadata_uncached(path).await?;
    if theirs.size != len {
        return Ok(false);
    }
    let Some(obj) = &job.obj else {
        return Ok(false);
    };
    let ours = tokio::fs::read(obj)
        .await
        .map_err(|e| StorageError::with_source(StorageErrorKind::Other, path, e))?;
    Ok(inner.read_all(path).await?.as_ref() == ours.as_slice())
}

async fn write_conflict_copy(
    inner: &dyn Storage,
    job: &Job,
    path: &StoragePath,
    len: u64,
) -> Result<Outcome, StorageError> {
    let Some(name) = path.file_name() else {
        return Err(StorageError::new(
            StorageErrorKind::InvalidPath,
            path.clone(),
        ));
    };
    let parent = path.parent().unwrap_or_default();
    for n in 0..100u32 {
        let Some(copy) = conflict_name(name, SystemTime::now(), n) else {
            break;
        };
        let target = parent.join(&copy)?;
        match inner
            .write(
                &target,
                body(&job.obj, len, path).await?,
                WriteMode::CreateNew,
            )
            .await
        {
            Ok(()) => {
                tracing::warn!(path = %path, copy = %target, "upload queue: conflict; our version was kept as a conflict copy, the other one keeps the name");
                return Ok(Outcome::Conflict);
            }
            Err(e) if e.kind() == StorageErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    // Not a node's own object (a `.c9s` folder's `contents.c9r`): the vault layer names a new
    // node for it.
    if let Some(place) = &job.place_copy
        && let Some(at) = place(path.clone()).await
    {
        return write_placed_copy(inner, job, path, len, &at).await;
    }
    // None known (`dir.c9r`, no vault layer): the op waits for the user (`vault queue`).
    Err(StorageError::with_source(
        StorageErrorKind::AlreadyExists,
        path,
        "changed on the storage by someone else; no conflict copy name for this object",
    ))
}

/// Our version as the new node `at` names (its folder and `name.c9s` first, our object last).
async fn write_placed_copy(
    inner: &dyn Storage,
    job: &Job,
    path: &StoragePath,
    len: u64,
    at: &super::CopyPlace,
) -> Result<Outcome, StorageError> {
    for dir in &at.dirs {
        match inner.create_dir(dir).await {
            Err(e) if e.kind() != StorageErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
    }
    for (file, bytes) in &at.files {
        inner
            .write(file, Body::from_bytes(bytes.clone()), WriteMode::Overwrite)
            .await?;
    }
    inner
        .write(
            &at.target,
            body(&job.obj, len, path).await?,
            WriteMode::CreateNew,
        )
        .await?;
    tracing::warn!(path = %path, copy = %at.target, "upload queue: conflict; our version was kept as a new node, the other one keeps the name");
    Ok(Outcome::Conflict)
}

/// The conflict-copy name for ciphertext node `name` (`<base64>.c9r`): what a sync client
/// makes, `<base64> (conflicted copy YYYY-MM-DD HHMMSS).c9r` (` n` appended for the n-th try),
/// which the official apps and this engine read as a sync-conflict copy of the node and give a
/// new cleartext name. `None` for anything else.
pub fn conflict_name(name: &str, at: SystemTime, n: u32) -> Option<String> {
    let stem = name.strip_suffix(".c9r")?;
    if stem.len() < 24 || stem.contains(' ') {
        return None;
    }
    let stamp = utc_stamp(at)?;
    let extra = if n == 0 {
        String::new()
    } else {
        format!(" {n}")
    };
    Some(format!("{stem} (conflicted copy {stamp}{extra}).c9r"))
}

/// `YYYY-MM-DD HHMMSS` in UTC, as in conflict-copy names.
pub fn utc_stamp(at: SystemTime) -> Option<String> {
    let secs = at.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil(days as i64);
    Some(format!(
        "{y:04}-{m:02}-{d:02} {:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    ))
}

/// Days since 1970-01-01 to a calendar date (proleptic Gregorian).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_names_look_like_a_sync_clients() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_577_404);
        let name = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.c9r";
        assert_eq!(
            conflict_name(name, at, 0).unwrap(),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA (conflicted copy 2026-11-25 033004).c9r"
        );
        assert!(
            conflict_name(name, at, 2)
                .unwrap()
                .ends_with(" 033004 2).c9r")
        );
        assert_eq!(conflict_name("contents.c9r", at, 0), None);
        assert_eq!(conflict_name("dir.c9r", at, 0), None);
        assert_eq!(conflict_name("x.c9s", at, 0), None);
    }
}
