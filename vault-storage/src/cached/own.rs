//! What our own changes tell the metadata cache. A whole-object write and a rename update the
//! entries they change (kept as answers to revalidate before trusting) instead of dropping the
//! folder listings around them: a folder the upload queue has just written into, or made (a
//! node folder is committed by a rename), still answers during a link cut, so a create or an
//! overwrite there is queued instead of failing with EIO. No mtime or version is made up: only
//! the server's own answer says which version it holds (the queue compares versions). A
//! removal keeps a fresh listing of its folder fresh, without the removed name, so that the
//! lookups before each unlink of an `rm -r` are answered without a request.

use bytes::Bytes;

use super::{CachedStorage, MAX_LISTING, SMALL_MAX, Shared, Stage, Tables, forget_in, insert};
use crate::{Body, DirEntry, EntryKind, Metadata, StorageError, StorageErrorKind, StoragePath};

/// The object a write makes: its length and, when small enough to keep, its bytes.
pub(super) struct Made {
    len: u64,
    bytes: Option<Bytes>,
}

/// `body` for the call, and what it makes: read into memory first when small enough to keep
/// (a `dir.c9r`, a `name.c9s`: what resolving a folder needs).
pub(super) async fn small_body(
    path: &StoragePath,
    body: Body,
) -> Result<(Body, Made), StorageError> {
    let len = body.len();
    if len > SMALL_MAX as u64 {
        return Ok((body, Made { len, bytes: None }));
    }
    let bytes = body
        .into_bytes()
        .await
        .map_err(|e| StorageError::with_source(StorageErrorKind::Other, path, e))?;
    let made = Made {
        len,
        bytes: Some(bytes.clone()),
    };
    Ok((Body::from_bytes(bytes), made))
}

fn file(len: u64) -> Metadata {
    Metadata {
        kind: EntryKind::File,
        size: len,
        modified: None,
        version: None,
    }
}

/// Marks the known listing of `path`'s folder to revalidate; with `entry`, `path` is put in
/// it as `Some(metadata)` or taken out (`None`).
fn relist(t: &mut Tables, path: &StoragePath, entry: Option<Option<Metadata>>) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let Some(listing) = t.listings.get_mut(&dir) else {
        return;
    };
    listing.fresh_until = None;
    let Some(meta) = entry else { return };
    listing.value.retain(|e| e.name != name);
    if let Some(m) = meta
        && listing.value.len() < MAX_LISTING
    {
        listing.value.push(DirEntry {
            name: name.to_owned(),
            metadata: m,
        });
    }
}

/// The folders of `paths` get their names looked up one by one from now on (see
/// `parent_page`): their kept listing is only to revalidate, and a whole listing at each look
/// of a folder we are filling would cost more than one probe per name.
fn note_written_into(st: &mut super::State, paths: &[&StoragePath]) {
    for p in paths {
        if let Some(parent) = p.parent() {
            super::parent_page::note_paged(st, parent);
        }
    }
}

/// [`forget_in`], the parent's listing kept (to revalidate).
fn forget_keeping_parent(t: &mut Tables, path: &StoragePath) {
    let parent = path.parent();
    let kept = parent.as_ref().and_then(|p| t.listings.remove(p));
    forget_in(t, path);
    if let (Some(p), Some(l)) = (parent, kept) {
        t.listings.insert(p, l);
    }
    relist(t, path, None);
}

/// Everything known at and below `from`, re-keyed to `to`.
fn moved<T: Clone>(
    map: &std::collections::HashMap<StoragePath, super::Cached<T>>,
    from: &StoragePath,
    to: &StoragePath,
) -> Vec<(StoragePath, T)> {
    let below = format!("{}/", from.as_str());
    map.iter()
        .filter_map(|(p, c)| {
            let rest = if p == from {
                ""
            } else {
                p.as_str().strip_prefix(&below)?
            };
            let q = if rest.is_empty() {
                to.clone()
            } else {
                to.join(rest).ok()?
            };
            Some((q, c.value.clone()))
        })
        .collect()
}

impl Shared {
    /// Before and after our own write of `path` (`made`: it succeeded).
    pub(super) fn written(&self, path: &StoragePath, made: Option<&Made>) {
        let mut st = self.lock();
        st.generation = st.generation.wrapping_add(1);
        note_written_into(&mut st, &[path]);
        let t = &mut st.tables;
        forget_keeping_parent(t, path);
        if let Some(made) = made {
            insert(&mut t.metas, path, None, Some(file(made.len)));
            if let Some(b) = &made.bytes {
                insert(&mut t.small, path, None, Some(b.clone()));
            }
            relist(t, path, Some(Some(file(made.len))));
            // A successful call: the server answers.
            st.offline = false;
        }
        drop(st);
        self.persist_later();
    }

    /// Before (`done` `None`) and after our own rename of `from` to `to`: once it succeeded,
    /// what was known of `from` (and below it) is known of `to`; before, it is only marked to
    /// revalidate (answers in flight are dropped by the generation count).
    pub(super) fn renamed(&self, from: &StoragePath, to: &StoragePath, done: Option<bool>) {
        let mut st = self.lock();
        st.generation = st.generation.wrapping_add(1);
        note_written_into(&mut st, &[from, to]);
        let t = &mut st.tables;
        let Some(done) = done else {
            for p in [from, to] {
                if let Some(c) = t.metas.get_mut(p) {
                    c.fresh_until = None;
                }
                relist(t, p, None);
            }
            drop(st);
            return;
        };
        let listed = from.parent().zip(from.file_name()).and_then(|(dir, name)| {
            let l = t.listings.get(&dir)?;
            Some(l.value.iter().find(|e| e.name == name)?.metadata.clone())
        });
        let own = t.metas.get(from).and_then(|c| c.value.clone()).or(listed);
        let (metas, small, listings) = if done {
            (
                moved(&t.metas, from, to),
                moved(&t.small, from, to),
                moved(&t.listings, from, to),
            )
        } else {
            Default::default()
        };
        forget_keeping_parent(t, from);
        forget_keeping_parent(t, to);
        if done {
            for (p, v) in metas {
                insert(&mut t.metas, &p, None, v);
            }
            for (p, v) in small {
                insert(&mut t.small, &p, None, v);
            }
            for (p, v) in listings {
                insert(&mut t.listings, &p, None, v);
            }
            relist(t, from, Some(None));
            match own {
                Some(m) => {
                    insert(&mut t.metas, to, None, Some(m.clone()));
                    relist(t, to, Some(Some(m)));
                }
                // Not known what moved: the target folder's listing is not trusted.
                None => {
                    if let Some(dir) = to.parent() {
                        t.listings.remove(&dir);
                    }
                }
            }
            st.offline = false;
        }
        drop(st);
        self.persist_later();
    }
}

impl Shared {
    /// Before (`done` `false`) and after (`done`: it succeeded) our own removal of `path`: as
    /// [`Shared::forget`], except that a fresh listing of its folder is kept, and after the
    /// removal kept without `path`. That is what the server lists as far as our own change
    /// goes; another client's change shows when the listing's TTL runs out, as with any fresh
    /// answer. So `rm -r` asks no lookup of the server per name while the folder's listing is
    /// fresh (the kernel's and the engine's lookups before each unlink). A removal that may
    /// have reached the server and failed drops the listing, as before.
    pub(super) fn removed(&self, path: &StoragePath, done: bool) {
        let mut st = self.lock();
        let parent = path.parent();
        let fresh = parent
            .as_ref()
            .and_then(|dir| st.tables.listings.remove(dir))
            .filter(super::Cached::is_fresh);
        super::forget_locked(&mut st, &[path]);
        if let (Some(dir), Some(mut listing), Some(name)) = (parent, fresh, path.file_name()) {
            if done {
                listing.value.retain(|e| e.name != name);
            }
            st.tables.listings.insert(dir, listing);
        }
        drop(st);
        self.persist_later();
    }
}

impl Shared {
    /// After our own `create_dir` of `path` succeeded.
    fn made_dir(&self, path: &StoragePath) {
        let dir = Metadata {
            kind: EntryKind::Dir,
            size: 0,
            modified: None,
            version: None,
        };
        let mut st = self.lock();
        st.generation = st.generation.wrapping_add(1);
        st.offline = false;
        let t = &mut st.tables;
        forget_keeping_parent(t, path);
        insert(&mut t.metas, path, None, Some(dir.clone()));
        insert(&mut t.listings, path, None, Vec::new());
        relist(t, path, Some(Some(dir)));
        drop(st);
        self.persist_later();
    }
}

impl CachedStorage {
    /// A removal of `path` ([`Shared::removed`] before and after it).
    pub(super) async fn removing(
        &self,
        path: &StoragePath,
        call: impl std::future::Future<Output = Result<(), StorageError>>,
    ) -> Result<(), StorageError> {
        self.around(call, |stage| match stage {
            Stage::Before => self.shared.removed(path, false),
            Stage::Done => self.shared.removed(path, true),
            Stage::Failed => self.shared.forget(&[path]),
        })
        .await
    }

    /// A `create_dir` of `path`: once made, the folder is known to exist, empty, and its
    /// parent's listing lists it (all to revalidate), so that during a link cut it resolves.
    pub(super) async fn making_dir(
        &self,
        path: &StoragePath,
        call: impl std::future::Future<Output = Result<(), StorageError>>,
    ) -> Result<(), StorageError> {
        self.around(call, |stage| match stage {
            Stage::Before | Stage::Failed => self.shared.written(path, None),
            Stage::Done => self.shared.made_dir(path),
        })
        .await
    }

    /// A whole-object write of `path` ([`Shared::written`] before and after it; a failed one
    /// leaves the old or the new version there, writes being atomic: the entry stays as it was).
    pub(super) async fn writing(
        &self,
        path: &StoragePath,
        made: Made,
        call: impl std::future::Future<Output = Result<(), StorageError>>,
    ) -> Result<(), StorageError> {
        self.around(call, |stage| match stage {
            Stage::Before | Stage::Failed => self.shared.written(path, None),
            Stage::Done => self.shared.written(path, Some(&made)),
        })
        .await
    }

    /// A rename of `from` to `to` ([`Shared::renamed`] before and after it).
    pub(super) async fn renaming(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        call: impl std::future::Future<Output = Result<(), StorageError>>,
    ) -> Result<(), StorageError> {
        self.around(call, |stage| match stage {
            Stage::Before => self.shared.renamed(from, to, None),
            Stage::Done => self.shared.renamed(from, to, Some(true)),
            Stage::Failed => self.shared.renamed(from, to, Some(false)),
        })
        .await
    }
}
