//! Listing every object under a storage root, for `vault copy`.
//!
//! Knows nothing of Cryptomator: a vault is copied as opaque objects. Folders are listed
//! several at a time so a remote backend is not walked one round trip after another.

use std::collections::BTreeMap;
use std::time::SystemTime;

use futures::StreamExt;
use vault_storage::{EntryKind, Storage, StorageError, StorageErrorKind, StoragePath};

/// How many folders are listed at once.
const LIST_PARALLEL: usize = 8;

/// Prefix of the hidden temp files an interrupted `write` may leave behind (every backend
/// uses it); they are never part of a vault, so they are neither copied nor held against DST.
use vault_storage::TEMP_PREFIX;

/// Everything under a root: folders and files (with their sizes), by storage path.
#[derive(Debug, Default)]
pub struct Tree {
    /// Folders, root excluded.
    pub dirs: BTreeMap<String, ()>,
    /// Files and their sizes.
    pub files: BTreeMap<String, u64>,
    /// Modification times of files and folders, where the backend reports them.
    pub modified: BTreeMap<String, SystemTime>,
}

impl Tree {
    /// True when nothing is stored under the root.
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty() && self.files.is_empty()
    }
}

/// Lists the whole tree under the root. A missing root is an empty tree.
pub async fn walk(storage: &dyn Storage) -> Result<Tree, StorageError> {
    let mut tree = Tree::default();
    let mut level = vec![StoragePath::root()];
    while !level.is_empty() {
        let listings: Vec<_> = futures::stream::iter(level.drain(..))
            .map(|dir| async move {
                let entries = storage.list_dir(&dir).await;
                (dir, entries)
            })
            .buffer_unordered(LIST_PARALLEL)
            .collect()
            .await;
        for (dir, entries) in listings {
            let entries = match entries {
                Ok(e) => e,
                Err(e) if dir.is_root() && e.kind() == StorageErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                if entry.name.starts_with(TEMP_PREFIX) {
                    continue;
                }
                let path = dir.join(&entry.name)?;
                if let Some(m) = entry.metadata.modified {
                    tree.modified.insert(path.as_str().to_string(), m);
                }
                match entry.metadata.kind {
                    EntryKind::Dir => {
                        tree.dirs.insert(path.as_str().to_string(), ());
                        level.push(path);
                    }
                    EntryKind::File => {
                        tree.files
                            .insert(path.as_str().to_string(), entry.metadata.size);
                    }
                }
            }
        }
    }
    Ok(tree)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use vault_storage::{Body, MemoryStorage, WriteMode};

    #[tokio::test]
    async fn walks_nested_folders_and_skips_temp_files() {
        let s = MemoryStorage::new();
        let p = |x: &str| StoragePath::new(x).unwrap();
        s.create_dir(&p("d")).await.unwrap();
        s.create_dir(&p("d/AB")).await.unwrap();
        s.write(
            &p("d/AB/x.c9r"),
            Body::from_bytes(vec![1u8; 5]),
            WriteMode::CreateNew,
        )
        .await
        .unwrap();
        s.write(
            &p("d/.vault-tmp-1"),
            Body::from_bytes(vec![1u8; 2]),
            WriteMode::CreateNew,
        )
        .await
        .unwrap();
        s.write(
            &p("vault.cryptomator"),
            Body::from_bytes(vec![2u8; 3]),
            WriteMode::CreateNew,
        )
        .await
        .unwrap();
        let t = walk(&s).await.unwrap();
        assert_eq!(t.dirs.keys().collect::<Vec<_>>(), vec!["d", "d/AB"]);
        assert_eq!(t.files.get("d/AB/x.c9r"), Some(&5));
        assert_eq!(t.files.get("vault.cryptomator"), Some(&3));
        assert_eq!(t.files.len(), 2);
    }
}
