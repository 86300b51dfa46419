//! A lookup in a folder the cache has not listed (or whose listing is no longer fresh), on a
//! backend where listing the folder in one request costs what a `metadata` costs (S3: a probe
//! is a listing request already): the parent is listed instead, and that listing, kept like any
//! other, answers the lookups of its siblings that follow. A `cat` of each file of a folder
//! then costs one listing, not one request per name.
//!
//! A folder too big for one request, or one we write into (whose listing every write forgets:
//! listing it again at each lookup would cost its whole length each time), is remembered (a
//! bounded set) and its names are probed one by one as before. A name starting with `.` is always probed: backends leave their own
//! temporaries out of listings.

use crate::{DirEntry, Metadata, StorageError, StorageErrorKind, StoragePath};

use super::{Answer, CachedStorage, Key, State, unanswered};

/// Most folders remembered as too big; the set is emptied when full (which costs at most one
/// wasted listing request per folder).
const MAX_PAGED: usize = 1024;

impl CachedStorage {
    /// `Some(answer)` for `path` from a listing of its parent made in one request; `None`:
    /// ask for `path` itself (the backend cannot, or the folder is too big or written into).
    pub(super) async fn meta_from_parent_page(
        &self,
        path: &StoragePath,
    ) -> Result<Option<Option<Metadata>>, StorageError> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Ok(None);
        };
        if name.starts_with('.') {
            return Ok(None);
        }
        let (stale, own) = {
            let st = self.shared.lock();
            let stale = st.tables.listings.get(&parent).map(|c| c.value.clone());
            if st.paged.contains(&parent) {
                return Ok(None);
            }
            (stale, st.tables.metas.contains_key(path))
        };
        // What to fall back on when the server is slow or away: the old listing, else (with an
        // older answer of `path` itself) nothing listed, which hands over to `metadata`'s own
        // stale-while-revalidate of that answer.
        let fallback = match (stale, own) {
            (Some(v), _) => Some(Some((v, false))),
            (None, true) => Some(Some((Vec::new(), false))),
            (None, false) => None,
        };
        let inner = self.shared.inner.clone();
        let p = parent.clone();
        // `true` marks the server's answer (as against the old listing served in its place).
        let fetch = async move {
            let got = inner.list_dir_in_one_request(&p).await?;
            Ok(got.map(|v| (v, true)))
        };
        let keep = |r: &Result<Option<(Vec<DirEntry>, bool)>, StorageError>| match r {
            Ok(Some((v, _))) => Some(Answer::Listing(v.clone())),
            Err(e) if e.kind() == StorageErrorKind::NotFound => Some(Answer::Gone),
            _ => None,
        };
        let got = self
            .revalidate(Key::Listing(parent.clone()), fallback, fetch, keep)
            .await;
        match got {
            Ok(Some((listing, from_server))) => {
                // The old listing, served because the server was slow: our own older answer
                // for `path`, if any, wins over it (as in `known_meta`).
                if !from_server && own {
                    return Ok(None);
                }
                Ok(Some(
                    listing
                        .into_iter()
                        .find(|e| e.name == name)
                        .map(|e| e.metadata),
                ))
            }
            Ok(None) => {
                note_paged(&mut self.shared.lock(), parent);
                Ok(None)
            }
            Err(e) if unanswered(&e) => Err(e),
            // A missing parent, a file as parent: the backend's own answer for `path` says
            // which error a lookup there gives.
            Err(_) => Ok(None),
        }
    }
}

/// Remembers that lookups in `folder` probe their one name.
pub(super) fn note_paged(st: &mut State, folder: StoragePath) {
    if st.paged.len() >= MAX_PAGED && !st.paged.contains(&folder) {
        st.paged.clear();
    }
    st.paged.insert(folder);
}

#[cfg(test)]
mod tests;
