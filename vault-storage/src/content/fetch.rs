//! Fetching pinned content: every object under the pinned prefixes that is not cached at its
//! current version is read from the inner storage in pieces of [`PIECE`] bytes into its entry
//! file, synced, and put in place.

use std::sync::Arc;

use super::Shared;
use crate::{EntryKind, StorageError, StorageErrorKind, StoragePath};

/// Bytes asked of the storage per request while fetching.
const PIECE: usize = 4 << 20;
/// How deep below a pinned prefix objects are looked for: a pinned folder's objects, and the
/// objects inside its children (a long name's folder holds its content object).
const MAX_DEPTH: usize = 2;
/// Most objects visited per fetch (a bound on what a hostile listing can make us do).
const MAX_OBJECTS: usize = 1_000_000;

/// What a fetch did.
#[derive(Debug, Default, Clone)]
pub struct FetchReport {
    /// Objects fetched now.
    pub fetched: usize,
    /// Objects already cached at their current version.
    pub current: usize,
    /// Bytes fetched now.
    pub bytes: u64,
    /// Objects that could not be fetched.
    pub failed: usize,
    /// The first failure, for a message.
    pub first_error: Option<String>,
}

impl FetchReport {
    fn fail(&mut self, e: impl std::fmt::Display) {
        self.failed += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e.to_string());
        }
    }

    fn visited(&self) -> usize {
        self.fetched + self.current + self.failed
    }
}

pub(super) async fn fetch_pins(shared: &Arc<Shared>, only: Option<&[StoragePath]>) -> FetchReport {
    let prefixes: Vec<StoragePath> = match only {
        Some(p) => p.to_vec(),
        None => shared.lock().pins.iter().cloned().collect(),
    };
    let mut report = FetchReport::default();
    for p in prefixes {
        fetch_tree(shared, p, &mut report).await;
    }
    report
}

async fn fetch_tree(shared: &Arc<Shared>, root: StoragePath, report: &mut FetchReport) {
    let mut stack = vec![(root, 0usize)];
    while let Some((path, depth)) = stack.pop() {
        if report.visited() >= MAX_OBJECTS {
            return;
        }
        // Asked of the server itself: a pin must hold what the server has, and a metadata
        // cache may still answer from before our own upload of the object.
        let meta = match shared.inner.metadata_uncached(&path).await {
            Ok(m) => m,
            Err(e) if e.kind() == StorageErrorKind::NotFound => continue,
            Err(e) => {
                report.fail(e);
                continue;
            }
        };
        if meta.kind == EntryKind::File {
            if let Err(e) = fetch_file(shared, &path, report).await {
                tracing::info!(path = %path.as_str(), error = %e, "content cache: pinned object not fetched");
                report.fail(e);
            }
            continue;
        }
        if depth >= MAX_DEPTH {
            continue;
        }
        match shared.inner.list_dir(&path).await {
            Ok(entries) => {
                for e in entries {
                    if let Ok(child) = path.join(&e.name) {
                        stack.push((child, depth + 1));
                    }
                }
            }
            Err(e) => report.fail(e),
        }
    }
}

/// Fetches one object unless it is cached at its current version.
pub(super) async fn fetch_file(
    shared: &Arc<Shared>,
    path: &StoragePath,
    report: &mut FetchReport,
) -> Result<(), StorageError> {
    // A mutation anywhere in the cache while the bytes came makes `record` refuse them (they
    // may be stale): fetched again, a few times.
    for _ in 0..FETCH_TRIES {
        if fetch_once(shared, path, report).await? {
            return Ok(());
        }
    }
    tracing::info!(path = %path.as_str(), "content cache: object changed during each fetch (tried again later)");
    Ok(())
}

/// How often one object is fetched again when a mutation came in between.
const FETCH_TRIES: usize = 3;

/// One fetch of `path`; false if a mutation came in between and nothing was kept.
async fn fetch_once(
    shared: &Arc<Shared>,
    path: &StoragePath,
    report: &mut FetchReport,
) -> Result<bool, StorageError> {
    let meta = shared.inner.metadata_uncached(path).await?;
    let tag = meta.version_tag();
    let current = shared
        .lock()
        .entries
        .get(path)
        .is_some_and(|e| e.tag == tag);
    if current {
        report.current += 1;
        return Ok(true);
    }
    let other = |e: std::io::Error| StorageError::with_source(StorageErrorKind::Other, path, e);
    let Some(disk) = shared.disk.get() else {
        return Ok(true);
    };
    let generation = shared.lock().generation;
    let mut writer = disk.writer(path, &tag, meta.size).map_err(other)?;
    let mut offset = 0u64;
    while offset < meta.size {
        let want = usize::try_from(meta.size - offset)
            .unwrap_or(PIECE)
            .min(PIECE);
        let piece = shared.inner.read_at(path, offset, want).await?;
        if piece.is_empty() {
            return Err(StorageError::new(StorageErrorKind::Other, path.clone()));
        }
        // Local disk writes of a few MiB: short enough not to need the blocking pool.
        writer.write(&piece).map_err(other)?;
        offset += piece.len() as u64;
    }
    writer.commit(true).map_err(other)?;
    if !shared.record(generation, path, &tag, meta.size) {
        return Ok(false);
    }
    report.fetched += 1;
    report.bytes += meta.size;
    Ok(true)
}
