//! Folders over a flat key space: what a path is, a folder's children,
//! creating and removing folders.
//!
//! A folder exists if its marker `P/` exists or any key starts with `P/`.
//! Listing uses the `/` delimiter: markers and subfolders come back as common
//! prefixes, so folders with and without markers look the same.

use std::collections::BTreeMap;

use vault_storage::{
    DirEntry, EntryKind, Metadata, StorageError, StorageErrorKind as K, StoragePath,
};

use crate::{S3Storage, err};

/// Keys per listing page: S3's maximum, one request per 1,000 keys.
const PAGE: usize = 1000;
/// Pages a metadata probe reads before giving up on siblings sharing the
/// name as a prefix (`x`, `x-1`, `x.c9r`, … sort before `x/`).
const PROBE_PAGES: usize = 20;

fn file_meta(
    size: u64,
    modified: Option<std::time::SystemTime>,
    etag: &Option<String>,
) -> Metadata {
    Metadata {
        kind: EntryKind::File,
        size,
        modified,
        version: etag.clone(),
    }
}

fn dir_meta() -> Metadata {
    Metadata {
        kind: EntryKind::Dir,
        size: 0,
        modified: None,
        version: None,
    }
}

impl S3Storage {
    /// The key of the marker this backend writes for folder `path`.
    pub(crate) fn marker_key(&self, path: &StoragePath) -> String {
        format!(
            "{}{}",
            self.dir_prefix(path),
            self.marker_file.as_deref().unwrap_or("")
        )
    }

    /// True for a marker's name relative to its folder: `""` (`PREFIX/`) or
    /// the configured marker file.
    pub(crate) fn is_marker_name(&self, name: &str) -> bool {
        name.is_empty() || self.marker_file.as_deref() == Some(name)
    }

    /// True for a marker key of any folder.
    fn is_marker_key(&self, key: &str) -> bool {
        let name = key.rsplit('/').next().unwrap_or(key);
        key.contains('/') && self.is_marker_name(name)
    }

    /// What `path` is, from a listing (no HEAD: the listed size and mtime
    /// then agree with `list_dir` exactly). `None`: nothing there.
    pub(crate) async fn probe(&self, path: &StoragePath) -> Result<Option<Metadata>, StorageError> {
        if path.is_root() {
            return Ok(Some(dir_meta()));
        }
        let key = self.key(path);
        let as_dir = format!("{key}/");
        let mut token: Option<String> = None;
        let mut file = None;
        let mut settled = false;
        for _ in 0..PROBE_PAGES {
            let page = self
                .ops
                .list_page(&key, true, PAGE, token.as_deref())
                .await
                .map_err(|f| self.fail(f, path))?;
            if page.prefixes.contains(&as_dir) {
                self.known.saw(path, EntryKind::Dir);
                return Ok(Some(dir_meta()));
            }
            if let Some(o) = page.objects.iter().find(|o| o.key == key) {
                file = Some(file_meta(o.size, o.modified, &o.etag));
            }
            // Keys come sorted: once past `key/`, neither can come later.
            let past = page
                .objects
                .iter()
                .map(|o| o.key.as_str())
                .chain(page.prefixes.iter().map(String::as_str))
                .any(|k| k > as_dir.as_str());
            match page.next {
                Some(next) if !past => token = Some(next),
                _ => {
                    settled = true;
                    break;
                }
            }
        }
        // A probe that ran out of pages proves nothing about a folder `key/`.
        match (&file, settled) {
            (Some(_), true) => self.known.saw(path, EntryKind::File),
            (None, true) => self.known.saw_nothing(path),
            _ => self.known.forget_up(path),
        }
        Ok(file)
    }

    /// The direct children of folder `path`.
    pub(crate) async fn list_children(
        &self,
        path: &StoragePath,
    ) -> Result<Vec<DirEntry>, StorageError> {
        Ok(self.list_pages(path, usize::MAX).await?.unwrap_or_default())
    }

    /// The direct children of folder `path` if the first listing page holds them all (`None`
    /// when there are more: a lookup in a big folder then probes its one key instead).
    pub(crate) async fn list_children_one_page(
        &self,
        path: &StoragePath,
    ) -> Result<Option<Vec<DirEntry>>, StorageError> {
        self.list_pages(path, 1).await
    }

    /// The direct children of folder `path`, or `None` if it takes more than `max_pages` pages.
    async fn list_pages(
        &self,
        path: &StoragePath,
        max_pages: usize,
    ) -> Result<Option<Vec<DirEntry>>, StorageError> {
        let prefix = self.dir_prefix(path);
        let mut found: BTreeMap<String, Metadata> = BTreeMap::new();
        let mut marker = false;
        let mut token: Option<String> = None;
        for _ in 0..max_pages {
            let page = self
                .ops
                .list_page(&prefix, true, PAGE, token.as_deref())
                .await
                .map_err(|f| self.fail(f, path))?;
            for o in page.objects {
                let name = &o.key[prefix.len().min(o.key.len())..];
                if self.is_marker_name(name) {
                    marker = true;
                } else if valid_name(path, name) {
                    found
                        .entry(name.to_owned())
                        .or_insert_with(|| file_meta(o.size, o.modified, &o.etag));
                }
            }
            for p in page.prefixes {
                let name = p.get(prefix.len()..).unwrap_or("").trim_end_matches('/');
                if valid_name(path, name) {
                    // A folder wins over an object of the same name (a foreign layout).
                    found.insert(name.to_owned(), dir_meta());
                }
            }
            match page.next {
                // A token that does not move on would loop for ever (a broken or hostile server).
                Some(next) if token.as_deref() == Some(next.as_str()) => {
                    return Err(StorageError::with_source(
                        K::Other,
                        path,
                        crate::http::S3Message("S3 listing repeats its continuation token".into()),
                    ));
                }
                Some(next) => token = Some(next),
                None => {
                    token = None;
                    break;
                }
            }
        }
        if token.is_some() {
            return Ok(None);
        }
        if found.is_empty() && !marker && !path.is_root() {
            return match self.probe(path).await? {
                Some(m) if m.kind == EntryKind::File => Err(err(K::NotADirectory, path)),
                Some(_) => Ok(Some(Vec::new())),
                None => Err(err(K::NotFound, path)),
            };
        }
        if !found.is_empty() || marker {
            self.known.saw(path, EntryKind::Dir);
        }
        for (name, meta) in &found {
            if meta.kind == EntryKind::Dir
                && let Ok(child) = path.join(name)
            {
                self.known.saw(&child, EntryKind::Dir);
            }
        }
        Ok(Some(
            found
                .into_iter()
                .map(|(name, metadata)| DirEntry { name, metadata })
                .collect(),
        ))
    }

    /// Every key below folder `path` (markers included) with its size, all pages.
    pub(crate) async fn keys_below(
        &self,
        path: &StoragePath,
    ) -> Result<Vec<(String, u64)>, StorageError> {
        let keys = self.keys_below_meta(path).await?;
        Ok(keys.into_iter().map(|(k, m)| (k, m.size)).collect())
    }

    /// `create_dir`: a marker object, created only if nothing is there.
    pub(crate) async fn make_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        if path.is_root() {
            return Err(err(K::AlreadyExists, path));
        }
        self.need_parent(path).await?;
        if self.probe(path).await?.is_some() {
            return Err(err(K::AlreadyExists, path));
        }
        let marker = self.marker_key(path);
        let id = crate::upload::new_write_id();
        match self
            .ops
            .put(&marker, bytes::Bytes::new(), self.conditional_put, &id)
            .await
        {
            Ok(_) => {
                self.known.saw(path, EntryKind::Dir);
                Ok(())
            }
            Err(f) if self.conditional_put && crate::upload::maybe_precondition(&f) => {
                match self.probe(path).await? {
                    Some(_) => Err(err(K::AlreadyExists, path)),
                    None => Err(self.fail(f, path)),
                }
            }
            Err(f) => Err(self.fail(f, path)),
        }
    }

    /// `remove_dir` (`all: false`, only an empty folder) or `remove_dir_all`.
    pub(crate) async fn remove_folder(
        &self,
        path: &StoragePath,
        all: bool,
    ) -> Result<(), StorageError> {
        if path.is_root() {
            return Err(err(K::PermissionDenied, path));
        }
        let prefix = self.dir_prefix(path);
        let keys = self.keys_below(path).await?;
        if keys.is_empty() {
            return match self.probe(path).await? {
                Some(m) if m.kind == EntryKind::File => Err(err(K::NotADirectory, path)),
                _ => Err(err(K::NotFound, path)),
            };
        }
        if !all
            && keys
                .iter()
                .any(|(k, _)| !self.is_marker_name(&k[prefix.len().min(k.len())..]))
        {
            return Err(err(K::NotEmpty, path));
        }
        self.delete_keys(path, keys.into_iter().map(|(k, _)| k).collect())
            .await
    }

    /// Deletes keys, objects first and then markers deepest first (a store
    /// that keeps markers as real folders removes only empty ones).
    pub(crate) async fn delete_keys(
        &self,
        path: &StoragePath,
        mut keys: Vec<String>,
    ) -> Result<(), StorageError> {
        keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
        let (markers, objects): (Vec<String>, Vec<String>) =
            keys.into_iter().partition(|k| self.is_marker_key(k));
        // A few deletes at a time (a loop, not a stream of closures: async_trait needs Send futures).
        for batch in objects.chunks(8) {
            let mut deletes = Vec::with_capacity(batch.len());
            for key in batch {
                deletes.push(self.ops.delete(key));
            }
            for result in futures::future::join_all(deletes).await {
                result.map_err(|f| self.fail(f, path))?;
            }
        }
        for m in &markers {
            self.ops.delete(m).await.map_err(|f| self.fail(f, path))?;
        }
        Ok(())
    }
}

/// A listed name must be one valid path component; anything else (an empty
/// segment from `a//b`, `..`) is skipped with a log line, never followed.
fn valid_name(path: &StoragePath, name: &str) -> bool {
    let ok = !name.is_empty() && path.join(name).is_ok();
    if !ok && !name.is_empty() {
        tracing::warn!(folder = %path, "skipping an S3 key that is not a valid name: {name:?}");
    }
    ok
}

/// One child of a folder listed with [`S3Storage::list_dir_deep`], with the
/// names inside it when it is a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeepEntry {
    /// The child itself, as `list_dir` reports it.
    pub entry: DirEntry,
    /// The names directly inside it (files and folders; empty for a file).
    pub inside: Vec<String>,
}

impl S3Storage {
    /// The children of folder `path` and, for each child folder, the names
    /// directly inside it, from listings *without* a delimiter: for a vault
    /// content folder, `X.c9r/dir.c9r`, `X.c9r/symlink.c9r` and
    /// `X.c9s/name.c9s` arrive in the same pages as the children, so no
    /// request per subfolder is needed to learn what each node is. Meant for
    /// shallow folders (as a vault's are): every key below `path` is listed.
    pub async fn list_dir_deep(&self, path: &StoragePath) -> Result<Vec<DeepEntry>, StorageError> {
        let prefix = self.dir_prefix(path);
        let keys = self.keys_below_meta(path).await?;
        let mut children: BTreeMap<String, (Metadata, Vec<String>)> = BTreeMap::new();
        let mut marker = false;
        for (key, meta) in keys {
            let rest = &key[prefix.len().min(key.len())..];
            let mut parts = rest.splitn(3, '/');
            let (Some(first), second) = (parts.next(), parts.next()) else {
                continue;
            };
            if second.is_none() && self.is_marker_name(first) {
                marker = true;
                continue;
            }
            if !valid_name(path, first) {
                continue;
            }
            let Some(second) = second else {
                children
                    .entry(first.to_owned())
                    .or_insert((meta, Vec::new()));
                continue;
            };
            let child = children
                .entry(first.to_owned())
                .or_insert((dir_meta(), Vec::new()));
            child.0 = dir_meta();
            if !self.is_marker_name(second) && !child.1.iter().any(|n| n == second) {
                child.1.push(second.to_owned());
            }
        }
        if children.is_empty() && !marker && !path.is_root() {
            // Same answers as list_dir for a file or nothing.
            self.list_children(path).await?;
        }
        Ok(children
            .into_iter()
            .map(|(name, (metadata, inside))| DeepEntry {
                entry: DirEntry { name, metadata },
                inside,
            })
            .collect())
    }

    /// Every key below folder `path` with its listed metadata, all pages.
    async fn keys_below_meta(
        &self,
        path: &StoragePath,
    ) -> Result<Vec<(String, Metadata)>, StorageError> {
        let prefix = self.dir_prefix(path);
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .ops
                .list_page(&prefix, false, PAGE, token.as_deref())
                .await
                .map_err(|f| self.fail(f, path))?;
            keys.extend(
                page.objects
                    .into_iter()
                    .map(|o| (o.key, file_meta(o.size, o.modified, &o.etag))),
            );
            match page.next {
                // A token that does not move on would loop for ever (a broken or hostile server).
                Some(next) if token.as_deref() == Some(next.as_str()) => {
                    return Err(StorageError::with_source(
                        K::Other,
                        path,
                        crate::http::S3Message("S3 listing repeats its continuation token".into()),
                    ));
                }
                Some(next) => token = Some(next),
                None => return Ok(keys),
            }
        }
    }
}
