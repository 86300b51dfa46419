//! `read_at`'s cache of open read handles: a hit is used only while the path still names the same
//! file, and every change through the storage forgets the handles it touched.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;
#[cfg(not(unix))]
use std::time::SystemTime;

/// Open read handles kept by `read_at`.
pub const HANDLE_CACHE: usize = 16;
/// How long a cached read handle is reused before the path is opened again.
pub const HANDLE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

pub(super) struct CachedHandle {
    path: PathBuf,
    file: Arc<std::fs::File>,
    /// Identity of the opened file: a hit is used only while `path` still
    /// names this file (another client may have replaced it).
    id: FileId,
    opened: Instant,
}

/// What identifies an open file (device + inode on Unix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FileId(u64, u64);

#[cfg(unix)]
pub(super) fn file_id(meta: &std::fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    FileId(meta.dev(), meta.ino())
}

#[cfg(not(unix))]
pub(super) fn file_id(meta: &std::fs::Metadata) -> FileId {
    // No cheap identity: size + mtime (a replacement changes one of them).
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64);
    FileId(meta.len(), mtime)
}

/// Open read handles by full path (see the module docs).
#[derive(Default)]
pub(super) struct Handles {
    entries: Vec<CachedHandle>,
    /// Bumped by every invalidation: a reader that opened a file before an
    /// invalidation must not put its (maybe replaced) handle in the cache.
    pub(super) generation: u64,
}

pub(super) fn lock_handles(h: &Mutex<Handles>) -> std::sync::MutexGuard<'_, Handles> {
    h.lock().unwrap_or_else(|e| e.into_inner())
}

impl Handles {
    pub(super) fn get(&mut self, path: &Path) -> Option<(Arc<std::fs::File>, FileId)> {
        let pos = self.entries.iter().position(|e| e.path == path)?;
        if self.entries[pos].opened.elapsed() < HANDLE_TTL {
            Some((Arc::clone(&self.entries[pos].file), self.entries[pos].id))
        } else {
            self.entries.swap_remove(pos);
            None
        }
    }

    pub(super) fn put(
        &mut self,
        generation: u64,
        path: PathBuf,
        file: Arc<std::fs::File>,
        id: FileId,
    ) {
        if generation != self.generation || self.entries.iter().any(|e| e.path == path) {
            return;
        }
        self.entries.retain(|e| e.opened.elapsed() < HANDLE_TTL);
        if self.entries.len() >= HANDLE_CACHE
            && let Some(pos) = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.opened)
                .map(|(i, _)| i)
        {
            self.entries.swap_remove(pos);
        }
        self.entries.push(CachedHandle {
            path,
            file,
            id,
            opened: Instant::now(),
        });
    }

    /// Forgets the handles of `path` and everything below it.
    pub(super) fn forget(&mut self, path: &Path) {
        self.generation += 1;
        if !self.entries.is_empty() {
            self.entries.retain(|e| !is_at_or_below(&e.path, path));
        }
    }
}

/// `path` is `dir` or below it. Compares bytes: every rename and removal asks this of every
/// cached handle, and `Path::starts_with`'s walk over components showed up at a tenth of
/// `rm -r`'s time. Both are built by joining names to the storage root, so neither carries
/// a trailing separator or a `.` component.
fn is_at_or_below(path: &Path, dir: &Path) -> bool {
    let (p, d) = (
        path.as_os_str().as_encoded_bytes(),
        dir.as_os_str().as_encoded_bytes(),
    );
    p.starts_with(d) && (p.len() == d.len() || std::path::is_separator(char::from(p[d.len()])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_or_below_means_the_path_or_a_path_inside_it() {
        let dir = Path::new("/s/d/AB/CD");
        assert!(is_at_or_below(Path::new("/s/d/AB/CD"), dir));
        assert!(is_at_or_below(Path::new("/s/d/AB/CD/x.c9r"), dir));
        assert!(!is_at_or_below(Path::new("/s/d/AB/CDE"), dir));
        assert!(!is_at_or_below(Path::new("/s/d/AB"), dir));
    }
}
