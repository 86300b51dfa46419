//! An in-memory [`Storage`] for fast engine tests.
//!
//! Same semantics as the local backend (checked by the same conformance
//! suite), plus switches that simulate failures so the engine can prove that a
//! full disk or a dropped link loses nothing:
//! - [`MemoryStorage::set_unavailable`]: every call fails with `Unavailable`;
//! - [`MemoryStorage::fail_after_calls`]: the next `n` calls work, then the
//!   storage turns unavailable (a link that drops mid-operation);
//! - [`MemoryStorage::set_capacity`]: a quota on the total bytes of all
//!   objects; a write that would exceed it fails with `StorageFull` and
//!   changes nothing.
//!
//! Every mutation happens under one lock, so each call is atomic.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{
    Body, Capabilities, DirEntry, EntryKind, Metadata, RenameMode, SpaceInfo, Storage,
    StorageError, StorageErrorKind, StoragePath, WriteMode,
};

#[derive(Debug, Clone)]
enum Data {
    File(Vec<u8>),
    Dir,
}

#[derive(Debug, Clone)]
struct Node {
    data: Data,
    modified: SystemTime,
}

impl Node {
    fn metadata(&self) -> Metadata {
        match &self.data {
            Data::File(bytes) => Metadata {
                kind: EntryKind::File,
                size: bytes.len() as u64,
                modified: Some(self.modified),
                version: None,
            },
            Data::Dir => Metadata {
                kind: EntryKind::Dir,
                size: 0,
                modified: Some(self.modified),
                version: None,
            },
        }
    }
}

#[derive(Debug)]
struct State {
    /// Every entry by its full path; the root `""` is always a folder.
    nodes: BTreeMap<String, Node>,
    /// Sum of all object lengths.
    used: u64,
    unavailable: bool,
    calls_left: Option<u64>,
    capacity: Option<u64>,
    latency: Duration,
    calls: BTreeMap<&'static str, u64>,
}

/// An in-memory storage (see the module docs). Cheap to create; one per test.
#[derive(Debug)]
pub struct MemoryStorage {
    state: Mutex<State>,
    capabilities: Capabilities,
}

impl Default for MemoryStorage {
    fn default() -> Self {
        Self::new()
    }
}

fn err(kind: StorageErrorKind, path: &StoragePath) -> StorageError {
    StorageError::new(kind, path.clone())
}

/// Keys strictly below `dir` (all descendants), in order.
fn descendants<'a>(
    nodes: &'a BTreeMap<String, Node>,
    dir: &str,
) -> impl Iterator<Item = (&'a String, &'a Node)> {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    nodes
        .range(prefix.clone()..)
        .take_while(move |(k, _)| k.starts_with(&prefix))
        .filter(|(k, _)| !k.is_empty())
}

impl State {
    /// Fails if the storage is switched off or the call budget is spent.
    fn gate(&mut self, path: &StoragePath) -> Result<(), StorageError> {
        if self.unavailable {
            return Err(err(StorageErrorKind::Unavailable, path));
        }
        if let Some(left) = self.calls_left.as_mut() {
            if *left == 0 {
                self.unavailable = true;
                self.calls_left = None;
                return Err(err(StorageErrorKind::Unavailable, path));
            }
            *left -= 1;
        }
        Ok(())
    }

    /// Checks that every ancestor of `path` exists and is a folder, as a
    /// file system walking the path would.
    fn check_ancestors(&self, path: &StoragePath) -> Result<(), StorageError> {
        let mut cur = StoragePath::root();
        let comps: Vec<&str> = path.components().collect();
        for comp in comps.iter().take(comps.len().saturating_sub(1)) {
            cur = cur.join(comp)?;
            match self.nodes.get(cur.as_str()) {
                None => return Err(err(StorageErrorKind::NotFound, path)),
                Some(Node {
                    data: Data::File(_),
                    ..
                }) => return Err(err(StorageErrorKind::NotADirectory, path)),
                Some(Node {
                    data: Data::Dir, ..
                }) => {}
            }
        }
        Ok(())
    }

    fn get(&self, path: &StoragePath) -> Result<&Node, StorageError> {
        self.check_ancestors(path)?;
        self.nodes
            .get(path.as_str())
            .ok_or_else(|| err(StorageErrorKind::NotFound, path))
    }

    fn file_mut(&mut self, path: &StoragePath) -> Result<&mut Vec<u8>, StorageError> {
        self.check_ancestors(path)?;
        match self.nodes.get_mut(path.as_str()) {
            None => Err(err(StorageErrorKind::NotFound, path)),
            Some(Node {
                data: Data::Dir, ..
            }) => Err(err(StorageErrorKind::IsADirectory, path)),
            Some(Node {
                data: Data::File(bytes),
                ..
            }) => Ok(bytes),
        }
    }

    /// Fails with `StorageFull` if growing the stored total by `grow` bytes
    /// (after freeing `shrink`) would exceed the capacity.
    fn check_capacity(
        &self,
        path: &StoragePath,
        grow: u64,
        shrink: u64,
    ) -> Result<(), StorageError> {
        if let Some(cap) = self.capacity
            && self.used.saturating_sub(shrink).saturating_add(grow) > cap
        {
            return Err(err(StorageErrorKind::StorageFull, path));
        }
        Ok(())
    }

    /// Updates the mtime of the folder holding `path`, as file systems do.
    fn touch_parent(&mut self, path: &StoragePath) {
        if let Some(parent) = path.parent()
            && let Some(node) = self.nodes.get_mut(parent.as_str())
        {
            node.modified = SystemTime::now();
        }
    }
}

impl MemoryStorage {
    /// `remove_file`, counted as `call`.
    async fn remove_file_counted(
        &self,
        call: &'static str,
        path: &StoragePath,
    ) -> Result<(), StorageError> {
        let mut state = self.enter(call, path).await?;
        let len = match &state.get(path)?.data {
            Data::Dir => return Err(err(StorageErrorKind::IsADirectory, path)),
            Data::File(bytes) => bytes.len() as u64,
        };
        state.nodes.remove(path.as_str());
        state.used -= len;
        state.touch_parent(path);
        Ok(())
    }

    /// An empty storage (just the root folder) with `random_write`,
    /// `atomic_replace`, `atomic_dir_rename` and `set_modified`, and 255-byte names.
    pub fn new() -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            String::new(),
            Node {
                data: Data::Dir,
                modified: SystemTime::now(),
            },
        );
        MemoryStorage {
            state: Mutex::new(State {
                nodes,
                used: 0,
                unavailable: false,
                calls_left: None,
                capacity: None,
                latency: Duration::ZERO,
                calls: BTreeMap::new(),
            }),
            capabilities: Capabilities {
                random_write: true,
                atomic_replace: true,
                atomic_dir_rename: true,
                max_name_len: 255,
                set_modified: true,
            },
        }
    }

    /// The same storage declaring other capabilities, e.g. `random_write:
    /// false` to exercise the engine's whole-object (WebDAV-like) path; the
    /// methods a capability turns off then fail with `Unsupported`.
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the map consistent (every
        // mutation is a single insert/remove sequence), so poisoning is ignored.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// While `true`, every call fails with `Unavailable` and changes nothing.
    pub fn set_unavailable(&self, unavailable: bool) {
        let mut state = self.lock();
        state.unavailable = unavailable;
        if !unavailable {
            state.calls_left = None;
        }
    }

    /// `Some(n)`: the next `n` calls work, then the storage turns unavailable
    /// (as with `set_unavailable(true)`) until `set_unavailable(false)`.
    /// `None` removes the limit.
    pub fn fail_after_calls(&self, calls: Option<u64>) {
        self.lock().calls_left = calls;
    }

    /// `Some(bytes)`: a quota on the total length of all objects; writes that
    /// would exceed it fail with `StorageFull` and change nothing.
    pub fn set_capacity(&self, capacity: Option<u64>) {
        self.lock().capacity = capacity;
    }

    /// Every call first waits this long (outside the lock), like a slow
    /// link; `Duration::ZERO` (default) for none.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// How many times the `Storage` method `op` (e.g. `"list_dir"`) was
    /// called since creation or [`MemoryStorage::reset_calls`], failed calls
    /// included (except those refused before reaching the store: a missing
    /// capability, the root as a rename or removal target). Lets engine tests assert e.g. that resolving a path lists
    /// no folder.
    pub fn calls(&self, op: &str) -> u64 {
        self.lock().calls.get(op).copied().unwrap_or(0)
    }

    /// Zeroes every call counter.
    pub fn reset_calls(&self) {
        self.lock().calls.clear();
    }

    /// Counts the call, waits the latency, then takes the lock and applies
    /// the failure switches.
    async fn enter(
        &self,
        op: &'static str,
        path: &StoragePath,
    ) -> Result<MutexGuard<'_, State>, StorageError> {
        let latency = {
            let mut state = self.lock();
            *state.calls.entry(op).or_insert(0) += 1;
            state.latency
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let mut state = self.lock();
        state.gate(path)?;
        Ok(state)
    }

    /// Total length of all objects.
    pub fn used_bytes(&self) -> u64 {
        self.lock().used
    }

    /// Every object with its content, by path, in path order (for test
    /// assertions). Folders are not listed.
    pub fn files(&self) -> Vec<(String, Bytes)> {
        self.lock()
            .nodes
            .iter()
            .filter_map(|(k, n)| match &n.data {
                Data::File(bytes) => Some((k.clone(), Bytes::copy_from_slice(bytes))),
                Data::Dir => None,
            })
            .collect()
    }

    /// Every folder path (except the root), in path order.
    pub fn dirs(&self) -> Vec<String> {
        self.lock()
            .nodes
            .iter()
            .filter(|(k, n)| !k.is_empty() && matches!(n.data, Data::Dir))
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn check_name_len(&self, path: &StoragePath) -> Result<(), StorageError> {
        if path
            .components()
            .any(|c| c.len() > self.capabilities.max_name_len)
        {
            return Err(err(StorageErrorKind::InvalidPath, path));
        }
        Ok(())
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    fn describe(&self) -> String {
        "in-memory storage".to_owned()
    }

    async fn metadata(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        let state = self.enter("metadata", path).await?;
        Ok(state.get(path)?.metadata())
    }

    async fn list_dir(&self, path: &StoragePath) -> Result<Vec<DirEntry>, StorageError> {
        let state = self.enter("list_dir", path).await?;
        if let Data::File(_) = state.get(path)?.data {
            return Err(err(StorageErrorKind::NotADirectory, path));
        }
        Ok(descendants(&state.nodes, path.as_str())
            .filter_map(|(key, node)| {
                let rest = if path.is_root() {
                    key.as_str()
                } else {
                    &key[path.as_str().len() + 1..]
                };
                (!rest.contains('/')).then(|| DirEntry {
                    name: rest.to_owned(),
                    metadata: node.metadata(),
                })
            })
            .collect())
    }

    async fn read_at(
        &self,
        path: &StoragePath,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, StorageError> {
        let state = self.enter("read_at", path).await?;
        match &state.get(path)?.data {
            Data::Dir => Err(err(StorageErrorKind::IsADirectory, path)),
            Data::File(bytes) => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let end = start.saturating_add(len).min(bytes.len());
                Ok(Bytes::copy_from_slice(&bytes[start..end]))
            }
        }
    }

    async fn write(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        if path.is_root() {
            return Err(err(StorageErrorKind::IsADirectory, path));
        }
        self.check_name_len(path)?;
        // The body is read completely before anything changes: the object is
        // replaced in one step under the lock, so no reader sees a prefix.
        let data = body
            .into_bytes()
            .await
            .map_err(|e| StorageError::with_source(StorageErrorKind::Other, path, e))?;
        let mut state = self.enter("write", path).await?;
        state.check_ancestors(path)?;
        let old_len = match state.nodes.get(path.as_str()) {
            Some(Node {
                data: Data::Dir, ..
            }) => {
                let kind = match mode {
                    WriteMode::CreateNew => StorageErrorKind::AlreadyExists,
                    WriteMode::Overwrite => StorageErrorKind::IsADirectory,
                };
                return Err(err(kind, path));
            }
            Some(Node {
                data: Data::File(_),
                ..
            }) if mode == WriteMode::CreateNew => {
                return Err(err(StorageErrorKind::AlreadyExists, path));
            }
            Some(Node {
                data: Data::File(old),
                ..
            }) => old.len() as u64,
            None => 0,
        };
        state.check_capacity(path, data.len() as u64, old_len)?;
        state.used = state.used - old_len + data.len() as u64;
        state.nodes.insert(
            path.as_str().to_owned(),
            Node {
                data: Data::File(data.to_vec()),
                modified: SystemTime::now(),
            },
        );
        state.touch_parent(path);
        Ok(())
    }

    async fn write_at(
        &self,
        path: &StoragePath,
        offset: u64,
        data: Bytes,
    ) -> Result<(), StorageError> {
        if !self.capabilities.random_write {
            return Err(err(StorageErrorKind::Unsupported, path));
        }
        let mut state = self.enter("write_at", path).await?;
        let old_len = state.file_mut(path)?.len() as u64;
        let end = offset
            .checked_add(data.len() as u64)
            .and_then(|e| usize::try_from(e).ok())
            .ok_or_else(|| err(StorageErrorKind::StorageFull, path))?;
        let new_len = (end as u64).max(old_len);
        state.check_capacity(path, new_len, old_len)?;
        state.used = state.used - old_len + new_len;
        let bytes = state.file_mut(path)?;
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        bytes[end - data.len()..end].copy_from_slice(&data);
        if let Some(node) = state.nodes.get_mut(path.as_str()) {
            node.modified = SystemTime::now();
        }
        Ok(())
    }

    async fn set_len(&self, path: &StoragePath, len: u64) -> Result<(), StorageError> {
        if !self.capabilities.random_write {
            return Err(err(StorageErrorKind::Unsupported, path));
        }
        let mut state = self.enter("set_len", path).await?;
        let old_len = state.file_mut(path)?.len() as u64;
        let new_len = usize::try_from(len).map_err(|_| err(StorageErrorKind::StorageFull, path))?;
        state.check_capacity(path, len, old_len)?;
        state.used = state.used - old_len + len;
        state.file_mut(path)?.resize(new_len, 0);
        if let Some(node) = state.nodes.get_mut(path.as_str()) {
            node.modified = SystemTime::now();
        }
        Ok(())
    }

    async fn sync(&self, path: &StoragePath) -> Result<(), StorageError> {
        let state = self.enter("sync", path).await?;
        state.get(path).map(|_| ())
    }

    // Everything here is "durable" at once; the call is counted so the engine's whole-vault
    // flush can be seen to reach the storage.
    async fn sync_all(&self) -> Result<(), StorageError> {
        self.enter("sync_all", &StoragePath::root()).await.map(drop)
    }

    async fn create_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.check_name_len(path)?;
        let mut state = self.enter("create_dir", path).await?;
        state.check_ancestors(path)?;
        if state.nodes.contains_key(path.as_str()) {
            return Err(err(StorageErrorKind::AlreadyExists, path));
        }
        state.nodes.insert(
            path.as_str().to_owned(),
            Node {
                data: Data::Dir,
                modified: SystemTime::now(),
            },
        );
        state.touch_parent(path);
        Ok(())
    }

    async fn remove_file(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.remove_file_counted("remove_file", path).await
    }

    /// Counted apart, so that tests see which of the two a caller chose.
    async fn remove_listed_file(
        &self,
        path: &StoragePath,
        _listed: &Metadata,
    ) -> Result<(), StorageError> {
        self.remove_file_counted("remove_listed_file", path).await
    }

    async fn remove_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        if path.is_root() {
            return Err(err(StorageErrorKind::InvalidPath, path));
        }
        let mut state = self.enter("remove_dir", path).await?;
        if let Data::File(_) = state.get(path)?.data {
            return Err(err(StorageErrorKind::NotADirectory, path));
        }
        if descendants(&state.nodes, path.as_str()).next().is_some() {
            return Err(err(StorageErrorKind::NotEmpty, path));
        }
        state.nodes.remove(path.as_str());
        state.touch_parent(path);
        Ok(())
    }

    async fn remove_dir_all(&self, path: &StoragePath) -> Result<(), StorageError> {
        if path.is_root() {
            return Err(err(StorageErrorKind::InvalidPath, path));
        }
        let mut state = self.enter("remove_dir_all", path).await?;
        if let Data::File(_) = state.get(path)?.data {
            return Err(err(StorageErrorKind::NotADirectory, path));
        }
        let doomed: Vec<String> = descendants(&state.nodes, path.as_str())
            .map(|(k, _)| k.clone())
            .collect();
        for key in doomed {
            if let Some(Node {
                data: Data::File(bytes),
                ..
            }) = state.nodes.remove(&key)
            {
                state.used -= bytes.len() as u64;
            }
        }
        state.nodes.remove(path.as_str());
        state.touch_parent(path);
        Ok(())
    }

    async fn rename(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        if from.is_root() || to.is_root() {
            return Err(err(
                StorageErrorKind::InvalidPath,
                if from.is_root() { from } else { to },
            ));
        }
        self.check_name_len(to)?;
        let mut state = self.enter("rename", from).await?;
        let from_is_dir = matches!(state.get(from)?.data, Data::Dir);
        state.check_ancestors(to)?;
        if from == to {
            return Ok(());
        }
        if from_is_dir && to.as_str().starts_with(&format!("{}/", from.as_str())) {
            // A folder cannot move into itself (EINVAL on POSIX).
            return Err(err(StorageErrorKind::InvalidPath, to));
        }
        if let Some(target) = state.nodes.get(to.as_str()) {
            if mode == RenameMode::NoReplace {
                return Err(err(StorageErrorKind::AlreadyExists, to));
            }
            match (&target.data, from_is_dir) {
                (Data::Dir, false) => return Err(err(StorageErrorKind::IsADirectory, to)),
                (Data::File(_), true) => return Err(err(StorageErrorKind::NotADirectory, to)),
                (Data::Dir, true) => {
                    if descendants(&state.nodes, to.as_str()).next().is_some() {
                        return Err(err(StorageErrorKind::NotEmpty, to));
                    }
                }
                (Data::File(_), false) => {}
            }
            if let Some(Node {
                data: Data::File(bytes),
                ..
            }) = state.nodes.remove(to.as_str())
            {
                state.used -= bytes.len() as u64;
            }
        }
        let moved: Vec<String> = descendants(&state.nodes, from.as_str())
            .map(|(k, _)| k.clone())
            .collect();
        if let Some(node) = state.nodes.remove(from.as_str()) {
            state.nodes.insert(to.as_str().to_owned(), node);
        }
        for key in moved {
            if let Some(node) = state.nodes.remove(&key) {
                let new_key = format!("{}{}", to.as_str(), &key[from.as_str().len()..]);
                state.nodes.insert(new_key, node);
            }
        }
        state.touch_parent(from);
        state.touch_parent(to);
        Ok(())
    }

    async fn set_modified(
        &self,
        path: &StoragePath,
        modified: SystemTime,
    ) -> Result<(), StorageError> {
        if !self.capabilities.set_modified {
            return Err(err(StorageErrorKind::Unsupported, path));
        }
        let mut state = self.enter("set_modified", path).await?;
        state.get(path)?;
        if let Some(node) = state.nodes.get_mut(path.as_str()) {
            node.modified = modified;
        }
        Ok(())
    }

    async fn space(&self) -> Result<Option<SpaceInfo>, StorageError> {
        let state = self.enter("space", &StoragePath::root()).await?;
        Ok(state.capacity.map(|total| SpaceInfo {
            total,
            available: total.saturating_sub(state.used),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> StoragePath {
        StoragePath::new(s).unwrap()
    }

    #[tokio::test]
    async fn capacity_refuses_and_keeps_old_content() {
        let s = MemoryStorage::new();
        s.set_capacity(Some(10));
        s.write(
            &p("a"),
            Body::from_bytes(&b"12345678"[..]),
            WriteMode::CreateNew,
        )
        .await
        .unwrap();
        let e = s
            .write(&p("b"), Body::from_bytes(&b"123"[..]), WriteMode::CreateNew)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), StorageErrorKind::StorageFull);
        let e = s
            .write_at(&p("a"), 8, Bytes::from_static(b"xyz"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), StorageErrorKind::StorageFull);
        // Overwriting in place within the quota still works (old bytes are freed).
        s.write(
            &p("a"),
            Body::from_bytes(&b"0123456789"[..]),
            WriteMode::Overwrite,
        )
        .await
        .unwrap();
        assert_eq!(s.used_bytes(), 10);
        assert_eq!(
            s.files(),
            vec![("a".to_owned(), Bytes::from_static(b"0123456789"))]
        );
        assert_eq!(
            s.space().await.unwrap(),
            Some(SpaceInfo {
                total: 10,
                available: 0
            })
        );
    }

    #[tokio::test]
    async fn fail_after_calls_then_unavailable_until_reset() {
        let s = MemoryStorage::new();
        s.fail_after_calls(Some(2));
        s.create_dir(&p("d")).await.unwrap();
        s.write(&p("d/f"), Body::from_bytes(&b"x"[..]), WriteMode::CreateNew)
            .await
            .unwrap();
        let e = s
            .write(&p("d/g"), Body::from_bytes(&b"y"[..]), WriteMode::CreateNew)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), StorageErrorKind::Unavailable);
        assert_eq!(
            s.metadata(&p("d")).await.unwrap_err().kind(),
            StorageErrorKind::Unavailable
        );
        s.set_unavailable(false);
        assert_eq!(
            s.files(),
            vec![("d/f".to_owned(), Bytes::from_static(b"x"))]
        );
        assert_eq!(
            s.metadata(&p("d/g")).await.unwrap_err().kind(),
            StorageErrorKind::NotFound
        );
    }

    #[tokio::test]
    async fn without_random_write_is_unsupported() {
        let caps = Capabilities {
            random_write: false,
            atomic_replace: true,
            atomic_dir_rename: true,
            max_name_len: 255,
            set_modified: false,
        };
        let s = MemoryStorage::new().with_capabilities(caps);
        s.write(&p("a"), Body::from_bytes(&b"x"[..]), WriteMode::CreateNew)
            .await
            .unwrap();
        assert_eq!(
            s.write_at(&p("a"), 0, Bytes::new())
                .await
                .unwrap_err()
                .kind(),
            StorageErrorKind::Unsupported
        );
        assert_eq!(
            s.set_len(&p("a"), 0).await.unwrap_err().kind(),
            StorageErrorKind::Unsupported
        );
        assert_eq!(
            s.set_modified(&p("a"), SystemTime::UNIX_EPOCH)
                .await
                .unwrap_err()
                .kind(),
            StorageErrorKind::Unsupported
        );
    }

    #[tokio::test]
    async fn counts_calls_and_waits_latency() {
        let s = MemoryStorage::new();
        s.create_dir(&p("d")).await.unwrap();
        let _ = s.metadata(&p("d/missing")).await;
        s.read_all(&p("d")).await.unwrap_err();
        assert_eq!(
            (
                s.calls("create_dir"),
                s.calls("metadata"),
                s.calls("list_dir")
            ),
            (1, 2, 0)
        );
        s.reset_calls();
        assert_eq!(s.calls("metadata"), 0);
        s.set_latency(Duration::from_millis(30));
        let start = std::time::Instant::now();
        s.metadata(&p("d")).await.unwrap();
        assert!(start.elapsed() >= Duration::from_millis(30));
    }

    #[tokio::test]
    async fn rename_dir_moves_subtree_and_keeps_used() {
        let s = MemoryStorage::new();
        s.create_dir(&p("a")).await.unwrap();
        s.create_dir(&p("a/b")).await.unwrap();
        s.write(
            &p("a/b/f"),
            Body::from_bytes(&b"hello"[..]),
            WriteMode::CreateNew,
        )
        .await
        .unwrap();
        s.write(&p("a-x"), Body::from_bytes(&b"z"[..]), WriteMode::CreateNew)
            .await
            .unwrap();
        s.rename(&p("a"), &p("c"), RenameMode::NoReplace)
            .await
            .unwrap();
        assert_eq!(s.dirs(), vec!["c".to_owned(), "c/b".to_owned()]);
        assert_eq!(
            s.read_all(&p("c/b/f")).await.unwrap(),
            Bytes::from_static(b"hello")
        );
        assert_eq!(s.used_bytes(), 6);
        assert_eq!(
            s.rename(&p("c"), &p("c/b/x"), RenameMode::NoReplace)
                .await
                .unwrap_err()
                .kind(),
            StorageErrorKind::InvalidPath
        );
    }
}
