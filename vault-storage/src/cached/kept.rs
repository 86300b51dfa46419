//! The vault's key files ([`KEPT`]): always asked of the server, the last copy it gave kept
//! for when it does not answer (a mount that starts offline).

use bytes::Bytes;

use super::{CachedStorage, KEPT, KEPT_MAX, unanswered};
use crate::{StorageError, StorageErrorKind, StoragePath};

/// Whether `path` is one of the [`KEPT`] key files.
pub(super) fn is_kept(path: &StoragePath) -> bool {
    path.parent().is_some_and(|p| p.is_root())
        && path.file_name().is_some_and(|n| KEPT.contains(&n))
}

impl CachedStorage {
    /// A [`KEPT`] file: the server's copy (kept for later), or the kept one when the server
    /// does not answer.
    pub(super) async fn read_kept(
        &self,
        path: &StoragePath,
        len: usize,
    ) -> Result<Bytes, StorageError> {
        let generation = self.generation();
        match self.shared.inner.read_at(path, 0, len).await {
            Ok(b) => {
                let mut st = self.shared.lock();
                if st.generation == generation && b.len() <= KEPT_MAX && b.len() < len {
                    let changed = st.tables.kept.get(path) != Some(&b);
                    st.tables.kept.insert(path.clone(), b.clone());
                    drop(st);
                    if changed {
                        self.shared.persist_later();
                    }
                }
                Ok(b)
            }
            Err(e) if e.kind() == StorageErrorKind::NotFound => {
                let gone = self.shared.lock().tables.kept.remove(path).is_some();
                if gone {
                    self.shared.persist_later();
                }
                Err(e)
            }
            Err(e) if unanswered(&e) => {
                let kept = self.shared.lock().tables.kept.get(path).cloned();
                match kept {
                    Some(b) => {
                        tracing::info!(path = %path.as_str(), error = %e, "storage unreachable: using the cached copy");
                        Ok(b.slice(..b.len().min(len)))
                    }
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}
