//! Creates answered locally: a file created in a directory whose complete
//! name set is known (see `KnownNames`) gets its node at once, and its
//! ciphertext is stored later with one create-new write carrying the content
//! (`Vault::create_file_staged_nosync`) when the first handle flushes, fsyncs or
//! is released, or earlier when an operation needs the file on storage.
//!
//! That write is not durable by itself, as a close(2) commit of any file is not
//! (no fsync per file: `sync` of the system, fsync(2) or unmount make it so).
//! An fsync(2) of a handle syncs the object it stored (`Vault::sync_file`); a
//! node settled into an ordinary open file syncs at that file's next flush.
//!
//! Why: the kernel holds the parent directory's lock across LOOKUP + CREATE,
//! so a create that waits for a storage round trip serialises every writer of
//! one folder on the link. Here CREATE costs no request and the one request
//! per file happens at close, outside that lock.
//!
//! Only creates whose outcome does not depend on what the name holds are
//! answered so: exclusive ones (O_EXCL) and truncating ones (O_TRUNC). A
//! non-exclusive, non-truncating create of a name another client may have
//! made would have to keep that file's content under ours, so it takes the
//! storage path.
//!
//! A name another client took on storage meanwhile (the create-new write
//! fails):
//! - exclusive create: that file is never overwritten; the flush of close(2)
//!   (or fsync(2), or a write past `PENDING_MAX`, whichever comes first)
//!   answers `AlreadyExists` (EEXIST), a warning is logged, and the local node
//!   is dropped;
//! - truncating, non-exclusive create: the existing file is opened instead,
//!   truncated in its shadow and given the content written so far, and the
//!   handle carries on with it as an ordinary open file — the state a
//!   synchronous open(O_CREAT|O_TRUNC) would have reached. Nothing is
//!   committed there: the handle's flush/release commit as for any open file
//!   (a flush with nothing written yet keeps the truncation in the shadow).

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::Mutex as AsyncMutex;
use vault_engine::{Node, NodeKind, SecretBuf};

use super::{Attr, FsErrorKind, FsResult, HandleId, NodeId, Opened, VaultFs, lock};

/// Content a pending file may hold in memory; past it the file is created on
/// storage and continues as an ordinary open file.
pub(super) const PENDING_MAX: u64 = 1 << 20;

/// One locally created file not (yet) on storage.
pub(super) struct Pending {
    state: AsyncMutex<State>,
    /// Where it is to be created: used when the kernel has already forgotten
    /// the node (a store that failed at release is retried by `flush_all`,
    /// and the content must not depend on the node table keeping the entry).
    /// A pending file is stored before any rename of it, so this stays true.
    place: (vault_engine::DirId, String),
    /// O_EXCL: a name taken meanwhile fails; otherwise that file is opened.
    exclusive: bool,
}

/// What storing a pending file did.
pub(super) enum Stored {
    /// Created on storage as this node; nothing open yet.
    Created(Node),
    /// The name existed: that file was opened, truncated in its shadow and
    /// handed to the handles (not committed).
    Adopted,
}

enum State {
    /// Not on storage; the whole content.
    Buffer(SecretBuf),
    /// Created on storage as this node.
    Stored(Node),
    /// An existing file of that name was opened and handed to the handles.
    Adopted,
    /// The create failed for good (name taken): every later operation fails.
    Failed(FsErrorKind),
}

impl VaultFs {
    /// CREATE without a storage request, if `name` is known to be free in
    /// `parent` and the create is exclusive or truncating (see the module
    /// comment). `None`: take the ordinary path.
    pub(super) fn create_pending(
        &self,
        parent: NodeId,
        name: &str,
        dir: &vault_engine::DirId,
        (exclusive, truncate): (bool, bool),
    ) -> Option<NodeId> {
        if !(exclusive || truncate) || !self.known_absent(parent, name) {
            return None;
        }
        // Offline the store at close would fail, and close errors are what most
        // programs ignore: the create itself must fail (EIO) as it does online.
        if self.vault.storage_unreachable() {
            return None;
        }
        let node = Node {
            parent: dir.clone(),
            name: name.to_owned(),
            kind: NodeKind::File,
            size: 0,
            modified: Some(SystemTime::now()),
            damaged: false,
            storage_path: String::new(),
        };
        let ino = lock(&self.nodes).upsert(parent, name, node, 1);
        self.known_name(parent, name, true);
        lock(&self.pending).insert(
            ino,
            Arc::new(Pending {
                state: AsyncMutex::new(State::Buffer(SecretBuf::new())),
                place: (dir.clone(), name.to_owned()),
                exclusive,
            }),
        );
        Some(ino)
    }

    /// Registers a handle on a pending node (no open file yet).
    pub(super) async fn open_pending(&self, ino: NodeId) -> FsResult<(Attr, Opened)> {
        let handle = self.register_pending_handle(ino);
        Ok((
            self.attr_of(ino).await?,
            Opened {
                handle,
                keep_cache: false,
            },
        ))
    }

    pub(super) fn pending_of(&self, ino: NodeId) -> Option<Arc<Pending>> {
        lock(&self.pending).get(&ino).cloned()
    }

    /// Size of a pending node's content (`None`: not pending or stored).
    pub(super) async fn pending_size(&self, ino: NodeId) -> Option<u64> {
        let p = self.pending_of(ino)?;
        match &*p.state.lock().await {
            State::Buffer(b) => Some(b.len() as u64),
            _ => None,
        }
    }

    /// Writes into a pending node's buffer. `Ok(false)`: not pending (or too
    /// large): the caller writes through an open file.
    pub(super) async fn write_pending(
        &self,
        ino: NodeId,
        offset: u64,
        data: &[u8],
    ) -> FsResult<bool> {
        let Some(p) = self.pending_of(ino) else {
            return Ok(false);
        };
        let mut state = p.state.lock().await;
        let end = offset.saturating_add(data.len() as u64);
        match &mut *state {
            State::Buffer(buf) if end <= PENDING_MAX => {
                let (offset, end) = (offset as usize, end as usize);
                if buf.len() < end {
                    buf.resize(end, 0);
                }
                buf[offset..end].copy_from_slice(data);
                Ok(true)
            }
            State::Failed(kind) => Err((*kind).into()),
            _ => Ok(false),
        }
    }

    /// Reads from a pending node's buffer; `None`: not pending.
    pub(super) async fn read_pending(
        &self,
        ino: NodeId,
        offset: u64,
        len: usize,
    ) -> Option<FsResult<SecretBuf>> {
        let p = self.pending_of(ino)?;
        let state = p.state.lock().await;
        match &*state {
            State::Buffer(buf) => {
                let start = (offset as usize).min(buf.len());
                let end = start.saturating_add(len).min(buf.len());
                Some(Ok(SecretBuf::from(buf[start..end].to_vec())))
            }
            State::Failed(kind) => Some(Err((*kind).into())),
            State::Stored(_) | State::Adopted => None,
        }
    }

    /// Creates a pending node's ciphertext on storage with its content (one
    /// create-new write), or adopts the file another client made under the
    /// name meanwhile (non-exclusive creates; see the module comment).
    /// Idempotent; `None` if `ino` is not pending.
    pub(super) async fn store_pending(&self, ino: NodeId) -> FsResult<Option<Stored>> {
        let Some(p) = self.pending_of(ino) else {
            return Ok(None);
        };
        // Storing it is a change for the listing kept for a reopen (`recent_listing`).
        let _change = self.recent_listing.change();
        let mut state = p.state.lock().await;
        let buf = match &*state {
            State::Stored(node) => return Ok(Some(Stored::Created(node.clone()))),
            State::Adopted => return Ok(Some(Stored::Adopted)),
            State::Failed(kind) => return Err((*kind).into()),
            State::Buffer(buf) => SecretBuf::from(buf.to_vec()),
        };
        let (dir, name) = match lock(&self.nodes).get(ino) {
            Some(e) => (e.node.parent.clone(), e.node.name.clone()),
            None => p.place.clone(),
        };
        // At most PENDING_MAX bytes: encrypted in memory, no spool file or blocking thread.
        let staged = self.vault.stager().stage_bytes(&buf);
        let err = match self
            .timed(self.vault.create_file_staged_nosync(&dir, &name, &staged))
            .await
        {
            Ok(node) => {
                if let Some(e) = lock(&self.nodes).get_mut(ino) {
                    e.node = node.clone();
                    e.dirty = false;
                }
                *state = State::Stored(node.clone());
                return Ok(Some(Stored::Created(node)));
            }
            Err(err) if err.kind() == FsErrorKind::AlreadyExists && !p.exclusive => {
                match self.adopt_existing(ino, &dir, &name, &buf).await {
                    Ok(()) => {
                        *state = State::Adopted;
                        lock(&self.pending).remove(&ino);
                        return Ok(Some(Stored::Adopted));
                    }
                    Err(e) if is_for_good(e.kind()) => e,
                    Err(e) => {
                        tracing::warn!(ino, kind = ?e.kind(), "opening the file of a name taken meanwhile failed; kept for retry");
                        return Err(e);
                    }
                }
            }
            Err(err) if err.kind() == FsErrorKind::AlreadyExists => {
                // Another client created this name since we listed the folder:
                // its file is kept; ours is not stored.
                tracing::warn!(
                    ino,
                    "new file not stored: its name was taken on storage by another client meanwhile"
                );
                err
            }
            Err(err) => {
                tracing::warn!(ino, kind = ?err.kind(), "storing a new file failed; kept for retry");
                return Err(err);
            }
        };
        *state = State::Failed(err.kind());
        let parent = {
            let mut nodes = lock(&self.nodes);
            let parent = nodes.get(ino).map(|e| e.parent);
            nodes.detach(ino);
            parent
        };
        if let Some(parent) = parent {
            lock(&self.names).remove(&parent);
        }
        Err(err)
    }

    /// A non-exclusive create found `name` taken on storage: opens that file
    /// as a synchronous open(O_CREAT|O_TRUNC) would have — truncated in its
    /// shadow, then given `buf` — and hands it to the node's handles without
    /// committing (their flush/release do). With no handle left (a release
    /// whose store failed, retried by `flush_all`) this is that release's
    /// commit.
    async fn adopt_existing(
        &self,
        ino: NodeId,
        dir: &vault_engine::DirId,
        name: &str,
        buf: &[u8],
    ) -> FsResult<()> {
        let node = self.timed(self.vault.lookup(dir, name)).await?;
        match node.kind {
            NodeKind::File => {}
            NodeKind::Dir(_) => return Err(FsErrorKind::IsADirectory.into()),
            NodeKind::Symlink => return Err(FsErrorKind::InvalidArgument.into()),
        }
        let file = self.timed(self.vault.open(&node)).await?;
        self.timed(file.set_len(0)).await?;
        if !buf.is_empty() {
            self.timed(file.write(0, buf)).await?;
        }
        tracing::debug!(
            ino,
            "name taken on storage meanwhile: non-exclusive create opened and truncated that file"
        );
        // Whether anything was written through the handle: if not, a flush
        // keeps the truncation in the shadow, as after a truncating open.
        let unwritten = {
            let mut nodes = lock(&self.nodes);
            match nodes.get_mut(ino) {
                Some(e) if e.open_handles > 0 => {
                    e.open_fingerprint = Some((node.size, node.modified));
                    e.node = node;
                    e.file = Some(Arc::clone(&file));
                    Some(!e.written)
                }
                Some(e) => {
                    e.node = node;
                    None
                }
                None => None,
            }
        };
        let Some(unwritten) = unwritten else {
            return self.timed(file.commit()).await;
        };
        for h in lock(&self.handles).files.values_mut() {
            if h.ino == ino && h.file.is_none() {
                h.file = Some(Arc::clone(&file));
                h.truncated_unwritten = unwritten;
            }
        }
        self.mark_written(ino);
        Ok(())
    }

    /// Makes a pending node an ordinary one: stored, opened, and its open
    /// file handed to every handle on it. No-op for other nodes.
    pub(super) async fn settle(&self, ino: NodeId) -> FsResult<()> {
        let Some(Stored::Created(node)) = self.store_pending(ino).await? else {
            return Ok(());
        };
        let open_handles = lock(&self.nodes).get(ino).map_or(0, |e| e.open_handles);
        if open_handles > 0 {
            let file = self.timed(self.vault.open(&node)).await?;
            if let Some(e) = lock(&self.nodes).get_mut(ino) {
                e.file = Some(Arc::clone(&file));
                e.open_fingerprint = Some((node.size, node.modified));
            }
            for h in lock(&self.handles).files.values_mut() {
                if h.ino == ino && h.file.is_none() {
                    h.file = Some(Arc::clone(&file));
                }
            }
        }
        lock(&self.pending).remove(&ino);
        Ok(())
    }

    /// A write past [`PENDING_MAX`] into a pending node with a handle open: the file is
    /// created empty on storage (the create-new write of [`Self::store_pending`], of the
    /// header alone), opened without a request, and given the content so far through that
    /// open file, whose shadow carries on with the rest. Storing the content as the file
    /// instead cost three transfers of it before the rest could flow (stored, read back when
    /// the file was opened, copied into the shadow at commit: about 2 s of a 32 MiB write
    /// at 80 ms). Anything else (not pending, the name taken, a failed create) is left to
    /// [`Self::settle`], which the caller's `handle` runs.
    pub(super) async fn settle_outgrown(&self, ino: NodeId) -> FsResult<()> {
        let Some(p) = self.pending_of(ino) else {
            return Ok(());
        };
        let mut state = p.state.lock().await;
        let State::Buffer(buf) = &*state else {
            return Ok(());
        };
        let (dir, name) = match lock(&self.nodes).get(ino) {
            Some(e) if e.open_handles > 0 => (e.node.parent.clone(), e.node.name.clone()),
            _ => return Ok(()),
        };
        let staged = self.vault.stager().stage_bytes(&[]);
        let Ok(node) = self
            .timed(self.vault.create_file_staged_nosync(&dir, &name, &staged))
            .await
        else {
            return Ok(());
        };
        let buf = SecretBuf::from(buf.to_vec());
        *state = State::Stored(node.clone());
        // The node is on storage from here on: a failure below fails this write (EIO),
        // leaving the empty file a synchronous create would have left.
        let file = self.timed(self.vault.open_created(&node, &staged)).await;
        let file = match file {
            Ok(f) => f,
            Err(e) => {
                if let Some(en) = lock(&self.nodes).get_mut(ino) {
                    en.node = node;
                    en.dirty = false;
                }
                drop(state);
                lock(&self.pending).remove(&ino);
                return Err(e);
            }
        };
        // At most PENDING_MAX bytes into a fresh open file's memory: no storage request.
        let written = if buf.is_empty() {
            Ok(())
        } else {
            self.timed(file.write(0, &buf)).await
        };
        if let Some(e) = lock(&self.nodes).get_mut(ino) {
            e.open_fingerprint = Some((node.size, node.modified));
            e.node = node;
            e.file = Some(Arc::clone(&file));
            e.dirty = true;
        }
        for h in lock(&self.handles).files.values_mut() {
            if h.ino == ino && h.file.is_none() {
                h.file = Some(Arc::clone(&file));
            }
        }
        drop(state);
        lock(&self.pending).remove(&ino);
        written
    }

    /// Settles every pending node in `dir` (before listing or changing it);
    /// one whose create failed for good is detached and left out (its error
    /// went to close; the kernel may not have released it yet).
    pub(super) async fn settle_dir(&self, dir: NodeId) -> FsResult<()> {
        let inos: Vec<NodeId> = {
            let pending = lock(&self.pending);
            let nodes = lock(&self.nodes);
            pending
                .keys()
                .copied()
                .filter(|i| {
                    nodes
                        .get(*i)
                        .is_some_and(|e| e.parent == dir && !e.detached)
                })
                .collect()
        };
        for ino in inos {
            self.settle(ino).await?;
        }
        Ok(())
    }

    /// Settles every pending node (unmount, signals).
    pub(super) async fn settle_all(&self) -> FsResult<()> {
        // A detached one failed for good (its name was taken) or was replaced; one the
        // kernel forgot after a failed store at release is still retried here.
        let inos: Vec<NodeId> = {
            let pending = lock(&self.pending);
            let nodes = lock(&self.nodes);
            pending
                .keys()
                .copied()
                .filter(|i| nodes.get(*i).is_none_or(|e| !e.detached))
                .collect()
        };
        let mut first = Ok(());
        for ino in inos {
            if let Err(e) = self.settle(ino).await {
                first = first.and(Err(e));
            }
        }
        first
    }

    /// A handle of a pending node closes: store it (if not yet) and, on its
    /// last handle, forget the pending state. `Ok(Some(Stored::Adopted))`:
    /// the handle now holds an open file, which the caller writes back as
    /// for any handle.
    pub(super) async fn release_pending(&self, ino: NodeId) -> FsResult<Option<Stored>> {
        let result = self.store_pending(ino).await;
        let last = lock(&self.nodes)
            .get(ino)
            .is_none_or(|e| e.open_handles <= 1);
        if last && result.is_ok() || matches!(&result, Err(e) if is_for_good(e.kind())) {
            lock(&self.pending).remove(&ino);
        }
        result
    }

    /// Whether a flush of a pending node's handle leaves it pending: a
    /// non-exclusive (so truncating) create with nothing written yet. As
    /// after a truncating open of an existing file (see `VaultFs::flush`),
    /// such a flush is usually no real close — a shell's `> F` opens, dup2s
    /// and closes the original descriptor — and storing the empty file there
    /// would cost a create plus a later rewrite. An exclusive create is
    /// stored at once so that close(2) can report a taken name.
    pub(super) fn flush_keeps_pending(&self, ino: NodeId) -> bool {
        let Some(p) = self.pending_of(ino) else {
            return false;
        };
        !p.exclusive && lock(&self.nodes).get(ino).is_some_and(|e| !e.written)
    }

    /// Whether `name` in `parent` is a pending node (lookups answer from the table).
    pub(super) fn pending_child(&self, parent: NodeId, name: &str) -> Option<NodeId> {
        let ino = lock(&self.nodes).child(parent, name)?;
        lock(&self.pending).contains_key(&ino).then_some(ino)
    }

    fn register_pending_handle(&self, ino: NodeId) -> HandleId {
        let handle = self
            .next_handle
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(e) = lock(&self.nodes).get_mut(ino) {
            if e.open_handles == 0 {
                e.written = false;
            }
            e.open_handles += 1;
        }
        lock(&self.handles).files.insert(
            handle,
            super::FileHandle {
                ino,
                file: None,
                truncated_unwritten: false,
            },
        );
        handle
    }
}

/// Errors after which a pending file is given up (its name is taken by
/// something we may not replace); any other error is retried.
fn is_for_good(kind: FsErrorKind) -> bool {
    matches!(
        kind,
        FsErrorKind::AlreadyExists | FsErrorKind::IsADirectory | FsErrorKind::InvalidArgument
    )
}
