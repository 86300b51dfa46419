//! The last listing of each folder the queue saw from the storage, kept up to date with what
//! the worker applies. When the storage does not answer within [`PATIENCE`] (a link that is
//! down or a black hole), the queued view answers from it instead of waiting: a mount with
//! queued writes keeps working offline, as the queue promises. The storage's own answer wins
//! whenever it comes in time.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use crate::{DirEntry, EntryKind, Metadata, StorageError, StorageErrorKind};

use super::journal::OpKind;
use super::overlay::under;

/// How long a look-up waits for the storage before a remembered listing answers.
pub(crate) const PATIENCE: Duration = Duration::from_millis(300);

/// Folders remembered at most (a bound on memory); beyond it everything is forgotten.
const MAX_FOLDERS: usize = 20_000;

/// An error after which a remembered answer is better than none.
pub(crate) fn unanswered(e: &StorageError) -> bool {
    matches!(
        e.kind(),
        StorageErrorKind::Unavailable | StorageErrorKind::Other
    )
}

fn split(p: &str) -> (&str, &str) {
    match p.rfind('/') {
        Some(i) => (&p[..i], &p[i + 1..]),
        None => ("", p),
    }
}

/// While the storage has gone unanswered, it is asked again (with [`PATIENCE`]) this often;
/// look-ups in between take the remembered answer at once.
const ASK_AGAIN: Duration = Duration::from_secs(5);

/// Remembered listings by folder path.
#[derive(Default)]
pub(crate) struct Seen {
    dirs: HashMap<String, Vec<DirEntry>>,
    /// When the storage last left a look-up unanswered (cleared by any answer).
    silent_since: Option<std::time::Instant>,
}

impl Seen {
    /// The storage went unanswered a moment ago: do not wait for it again yet.
    pub fn skip_asking(&self) -> bool {
        self.silent_since.is_some_and(|t| t.elapsed() < ASK_AGAIN)
    }

    /// Notes whether the storage answered.
    pub fn answered(&mut self, yes: bool) {
        self.silent_since = if yes {
            None
        } else {
            Some(std::time::Instant::now())
        };
    }

    pub fn remember(&mut self, dir: &str, list: &[DirEntry]) {
        if self.dirs.len() >= MAX_FOLDERS && !self.dirs.contains_key(dir) {
            self.dirs.clear();
        }
        self.dirs.insert(dir.to_owned(), list.to_vec());
    }

    /// A folder queued on trust (the storage did not say whether it exists): until the
    /// storage lists it, a look-up it does not answer in time takes it as holding nothing but
    /// what the queue puts there. Wrong only for a folder that existed with children and is
    /// asked about while the storage is unreachable: that look-up gets "absent" instead of
    /// "unavailable".
    pub fn assume_empty(&mut self, dir: &str) {
        if !self.dirs.contains_key(dir) {
            self.remember(dir, &[]);
        }
    }

    pub fn listing(&self, dir: &str) -> Option<Vec<DirEntry>> {
        self.dirs.get(dir).cloned()
    }

    /// What the remembered listing of `path`'s folder says of it: `None` when that folder was
    /// never listed, `Some(None)` when it was and `path` was not in it.
    pub fn entry(&self, path: &str) -> Option<Option<Metadata>> {
        if path.is_empty() {
            return Some(Some(Metadata {
                kind: EntryKind::Dir,
                size: 0,
                modified: None,
                version: None,
            }));
        }
        let (dir, name) = split(path);
        let list = self.dirs.get(dir)?;
        Some(
            list.iter()
                .find(|e| e.name == name)
                .map(|e| e.metadata.clone()),
        )
    }

    fn upsert(&mut self, path: &str, metadata: Metadata) {
        let (dir, name) = split(path);
        if let Some(list) = self.dirs.get_mut(dir) {
            list.retain(|e| e.name != name);
            list.push(DirEntry {
                name: name.to_owned(),
                metadata,
            });
        }
    }

    fn drop_entry(&mut self, path: &str) -> Option<Metadata> {
        let (dir, name) = split(path);
        let list = self.dirs.get_mut(dir)?;
        let i = list.iter().position(|e| e.name == name)?;
        Some(list.remove(i).metadata)
    }

    /// `op` reached the storage: the remembered listings say so too. `written`: the storage's
    /// own metadata of a write's object, when the worker learnt it (else no mtime or version:
    /// its version is not known).
    pub fn applied(&mut self, op: &OpKind, at: SystemTime, written: Option<&Metadata>) {
        match op {
            OpKind::Write { path, len, .. } => self.upsert(
                path,
                written.cloned().unwrap_or(Metadata {
                    kind: EntryKind::File,
                    size: *len,
                    modified: None,
                    version: None,
                }),
            ),
            OpKind::CreateDir { path, maybe_exists } => {
                self.upsert(
                    path,
                    Metadata {
                        kind: EntryKind::Dir,
                        size: 0,
                        modified: Some(at),
                        version: None,
                    },
                );
                if *maybe_exists {
                    // It may have had children already: not known.
                    self.dirs.remove(path);
                } else {
                    self.dirs.insert(path.clone(), Vec::new());
                }
            }
            OpKind::RemoveFile { path }
            | OpKind::RemoveDir { path }
            | OpKind::RemoveDirAll { path } => {
                self.drop_entry(path);
                self.dirs.retain(|k, _| !under(k, path));
            }
            OpKind::Rename { from, to, .. } => {
                let moved = self.drop_entry(from);
                self.dirs.retain(|k, _| !under(k, to));
                match moved {
                    Some(m) => self.upsert(to, m),
                    // Not known what moved: the target folder's listing is not trusted.
                    None => {
                        let (dir, _) = split(to);
                        self.dirs.remove(dir);
                    }
                }
                let keys: Vec<String> = self
                    .dirs
                    .keys()
                    .filter(|k| under(k, from))
                    .cloned()
                    .collect();
                for k in keys {
                    if let Some(v) = self.dirs.remove(&k) {
                        self.dirs.insert(format!("{to}{}", &k[from.len()..]), v);
                    }
                }
            }
        }
    }
}
