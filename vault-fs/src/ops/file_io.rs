//! File handles of the operations layer: open/create, read, write,
//! write-back (flush, fsync) and release of [`VaultFs`] file handles.

use std::ffi::OsStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use std::time::SystemTime;

use vault_engine::{NodeKind, OpenFile, SecretBuf};

use super::pending::Stored;
use super::{
    Attr, FileHandle, FsErrorKind, FsResult, HandleId, NodeId, Opened, VaultFs, WriteBack, lock,
    new_name_in,
};

impl VaultFs {
    pub(super) fn mark_written(&self, ino: NodeId) {
        let mut nodes = lock(&self.nodes);
        if let Some(e) = nodes.get_mut(ino) {
            e.dirty = true;
            e.written = true;
            e.mtime_override = Some(SystemTime::now());
            e.pinned_mtime = None;
            e.cache_fingerprint = None;
        }
    }

    fn register_handle(&self, ino: NodeId, file: Arc<OpenFile>) -> HandleId {
        let handle = self.next_handle.fetch_add(1, Ordering::Relaxed);
        {
            let mut nodes = lock(&self.nodes);
            if let Some(e) = nodes.get_mut(ino) {
                if e.open_handles == 0 {
                    e.written = false;
                    e.open_fingerprint = Some((e.node.size, e.node.modified));
                }
                e.open_handles += 1;
                e.file = Some(Arc::clone(&file));
            }
        }
        lock(&self.handles).files.insert(
            handle,
            FileHandle {
                ino,
                file: Some(file),
                truncated_unwritten: false,
            },
        );
        handle
    }

    /// Opens a regular file. `write`: opened for writing; `truncate`: O_TRUNC.
    pub async fn open(&self, ino: NodeId, write: bool, truncate: bool) -> FsResult<Opened> {
        let _change = (write || truncate)
            .then(|| self.begin_change())
            .transpose()?;
        self.settle(ino).await?;
        let fresh = self.refresh(ino).await?;
        let (node, already_open, fingerprint) = {
            let nodes = lock(&self.nodes);
            let e = nodes.get(ino).ok_or(FsErrorKind::NotFound)?;
            (e.node.clone(), e.file.is_some(), e.cache_fingerprint)
        };
        match node.kind {
            NodeKind::File => {}
            NodeKind::Dir(_) => return Err(FsErrorKind::IsADirectory.into()),
            NodeKind::Symlink => return Err(FsErrorKind::InvalidArgument.into()),
        }
        // A node just looked up gives the ciphertext length: a read-only open then asks
        // storage nothing before its first read (the engine checks the length as it reads).
        let file = if fresh && !write && !truncate {
            self.timed(self.vault.open_listed(&node)).await?
        } else {
            self.timed(self.vault.open(&node)).await?
        };
        let mut keep_cache = already_open || fingerprint == Some((node.size, node.modified));
        if truncate {
            self.timed(file.set_len(0)).await?;
            keep_cache = false;
        }
        let handle = self.register_handle(ino, file);
        if truncate {
            self.mark_written(ino);
            self.set_truncated_unwritten(handle, true);
        }
        Ok(Opened { handle, keep_cache })
    }

    /// Creates and opens a regular file. Without `exclusive` an existing file
    /// is opened instead (and truncated if `truncate`).
    pub async fn create(
        &self,
        parent: NodeId,
        name: &OsStr,
        exclusive: bool,
        truncate: bool,
    ) -> FsResult<(Attr, Opened)> {
        let _change = self.begin_change()?;
        let name = new_name_in(name)?;
        let dir = self.dir_of(parent)?;
        if let Some(ino) = self.create_pending(parent, &name, &dir, (exclusive, truncate)) {
            return self.open_pending(ino).await;
        }
        match self.timed(self.vault.create_file(&dir, &name)).await {
            Ok(node) => {
                self.known_name(parent, &name, true);
                let ino = lock(&self.nodes).upsert(parent, &name, node.clone(), 1);
                let file = match self.timed(self.vault.open(&node)).await {
                    Ok(file) => file,
                    Err(e) => {
                        lock(&self.nodes).forget(ino, 1);
                        return Err(e);
                    }
                };
                let handle = self.register_handle(ino, file);
                let attr = self.attr_of(ino).await?;
                Ok((
                    attr,
                    Opened {
                        handle,
                        keep_cache: false,
                    },
                ))
            }
            Err(e) if e.kind() == FsErrorKind::AlreadyExists && !exclusive => {
                let node = self.timed(self.vault.lookup(&dir, &name)).await?;
                let ino = lock(&self.nodes).upsert(parent, &name, node, 1);
                match self.open(ino, true, truncate).await {
                    Ok(opened) => Ok((self.attr_of(ino).await?, opened)),
                    Err(e) => {
                        lock(&self.nodes).forget(ino, 1);
                        Err(e)
                    }
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Sets or clears a handle's [`FileHandle::truncated_unwritten`].
    pub(super) fn set_truncated_unwritten(&self, handle: HandleId, value: bool) {
        if let Some(h) = lock(&self.handles).files.get_mut(&handle) {
            h.truncated_unwritten = value;
        }
    }

    /// The handle's node and open file (`None`: the node is pending).
    fn handle_raw(&self, handle: HandleId) -> FsResult<(NodeId, Option<Arc<OpenFile>>)> {
        let handles = lock(&self.handles);
        let h = handles.files.get(&handle).ok_or(FsErrorKind::BadHandle)?;
        Ok((h.ino, h.file.clone()))
    }

    /// The handle's node and open file; a pending node is stored and opened first.
    async fn handle(&self, handle: HandleId) -> FsResult<(NodeId, Arc<OpenFile>)> {
        let (ino, file) = self.handle_raw(handle)?;
        if let Some(file) = file {
            return Ok((ino, file));
        }
        self.settle(ino).await?;
        let (ino, file) = self.handle_raw(handle)?;
        Ok((ino, file.ok_or(FsErrorKind::BadHandle)?))
    }

    /// Reads up to `len` bytes at `offset` (fewer only at end of file).
    pub async fn read(&self, handle: HandleId, offset: u64, len: usize) -> FsResult<SecretBuf> {
        let (ino, file) = self.handle_raw(handle)?;
        if file.is_none()
            && let Some(read) = self.read_pending(ino, offset, len).await
        {
            return read;
        }
        let (_, file) = self.handle(handle).await?;
        self.timed(file.read(offset, len)).await
    }

    /// Writes `data` at `offset`; returns the bytes written.
    pub async fn write(&self, handle: HandleId, offset: u64, data: &[u8]) -> FsResult<usize> {
        let _change = self.begin_change()?;
        let (ino, file) = self.handle_raw(handle)?;
        if file.is_none() && self.write_pending(ino, offset, data).await? {
            self.mark_written(ino);
            return Ok(data.len());
        }
        if file.is_none() {
            self.settle_outgrown(ino).await?;
        }
        let (ino, file) = self.handle(handle).await?;
        self.mark_written(ino);
        self.set_truncated_unwritten(handle, false);
        self.timed(file.write(offset, data)).await?;
        // Marked again: a write-back that raced with this write must not clear it.
        self.mark_written(ino);
        Ok(data.len())
    }

    /// Writes back the file's changes (see [`WriteBack`]). Re-applies an
    /// explicitly set mtime afterwards.
    pub(super) async fn write_back(
        &self,
        ino: NodeId,
        file: &Arc<OpenFile>,
        mode: WriteBack,
    ) -> FsResult<()> {
        let (dirty, node, pinned) = {
            let mut nodes = lock(&self.nodes);
            let e = nodes.get_mut(ino).ok_or(FsErrorKind::NotFound)?;
            if e.detached && !e.silly {
                // Replaced while open without a silly rename: nowhere to write to.
                return Ok(());
            }
            let dirty = e.dirty;
            e.dirty = false;
            (dirty, e.node.clone(), e.pinned_mtime)
        };
        if !dirty && mode != WriteBack::Fsync {
            return Ok(());
        }
        let written = match mode {
            WriteBack::Close => self.timed(file.commit()).await,
            WriteBack::Fsync | WriteBack::Unmount => self.timed(file.flush()).await,
        };
        if let Err(err) = written {
            if let Some(e) = lock(&self.nodes).get_mut(ino) {
                e.dirty |= dirty;
            }
            return Err(err);
        }
        if let Some(mtime) = pinned
            && dirty
        {
            self.timed(self.vault.set_modified(&node, mtime)).await?;
        }
        Ok(())
    }

    /// `close()` of one descriptor: writes back changes.
    ///
    /// Except when this handle's last change is a truncation (O_TRUNC open,
    /// setattr(size) through it) with nothing written since: then the
    /// truncation stays in the shadow and the committed version is kept until
    /// a write and a later flush, fsync or release. A truncating open is
    /// usually followed at once by a flush that is no real close: `dd of=F`,
    /// and a shell's `> F`, open, dup2 the descriptor and close the original.
    /// Committing there would replace the old content with an empty file that
    /// a crash of the daemon during the following writes leaves behind
    /// (neither old nor new content). Likewise a file of a non-exclusive create
    /// answered locally stays unstored through such a flush (`pending`).
    pub async fn flush(&self, handle: HandleId) -> FsResult<()> {
        // Stores what writes left: a change for the listing kept for a reopen.
        let _change = self.recent_listing.change();
        let (ino, file) = self.handle_raw(handle)?;
        if file.is_none() && self.flush_keeps_pending(ino) {
            tracing::debug!(
                ino,
                "flush of a new file with nothing written: kept pending"
            );
            return Ok(());
        }
        if file.is_none() && !matches!(self.store_pending(ino).await?, Some(Stored::Adopted)) {
            // Pending: stored now, so close(2) reports a taken name.
            return Ok(());
        }
        // An adopted file (a non-exclusive create of a name taken meanwhile)
        // is flushed as after an ordinary truncating open.
        let (ino, file, deferred) = {
            let handles = lock(&self.handles);
            let h = handles.files.get(&handle).ok_or(FsErrorKind::BadHandle)?;
            (h.ino, h.file.clone(), h.truncated_unwritten)
        };
        let Some(file) = file else {
            return Ok(());
        };
        if deferred {
            tracing::debug!(
                ino,
                "flush after a truncation without writes: kept in the shadow"
            );
            return Ok(());
        }
        self.write_back(ino, &file, WriteBack::Close).await
    }

    /// Returns once storage has every write made so far.
    pub async fn fsync(&self, handle: HandleId) -> FsResult<()> {
        // Stores what writes left: a change for the listing kept for a reopen.
        let _change = self.recent_listing.change();
        let (ino, file) = self.handle_raw(handle)?;
        if file.is_none() {
            match self.store_pending(ino).await? {
                Some(Stored::Adopted) => {}
                // Stored without fsync (as at close): made durable here.
                Some(Stored::Created(node)) => {
                    return self.timed(self.vault.sync_file(&node)).await;
                }
                None => return Ok(()),
            }
        }
        let (ino, file) = self.handle_raw(handle)?;
        let Some(file) = file else {
            return Ok(());
        };
        self.write_back(ino, &file, WriteBack::Fsync).await
    }

    /// Last close of a handle: writes back and forgets the handle.
    pub async fn release(&self, handle: HandleId) -> FsResult<()> {
        // Stores what writes left: a change for the listing kept for a reopen.
        let _change = self.recent_listing.change();
        let (ino, mut file) = self.handle_raw(handle)?;
        let mut stored = None;
        if file.is_none() {
            let size = self.attr_of(ino).await.map_or(0, |a| a.size);
            match self.release_pending(ino).await {
                // Now an ordinary open file: written back below.
                Ok(Some(Stored::Adopted)) => file = self.handle_raw(handle)?.1,
                other => stored = Some((other.map(|_| ()), size)),
            }
        }
        let (result, final_size) = match (stored, file) {
            (Some(done), _) => done,
            (None, Some(file)) => {
                let result = self.write_back(ino, &file, WriteBack::Close).await;
                if let Err(e) = &result {
                    // The kernel ignores release errors: keep the unwritten file alive
                    // (its next open gets it back, dirty) and retry on flush_all.
                    tracing::warn!(ino, kind = ?e.kind(), "write-back on close failed; kept for retry");
                    lock(&self.unwritten).push(Arc::clone(&file));
                }
                (result, file.size().await)
            }
            (None, None) => (Err(FsErrorKind::BadHandle.into()), 0),
        };
        lock(&self.handles).files.remove(&handle);
        let (last, silly, parent, name) = {
            let mut nodes = lock(&self.nodes);
            let Some(e) = nodes.get_mut(ino) else {
                return result;
            };
            e.open_handles = e.open_handles.saturating_sub(1);
            let last = e.open_handles == 0;
            if last {
                e.file = None;
                if result.is_ok() {
                    // What storage now holds; the listing may not be re-read
                    // before the next stat.
                    e.node.size = final_size;
                }
                e.mtime_override = None;
                if let Some(t) = e.pinned_mtime.take() {
                    e.node.modified = Some(t);
                }
            }
            (last, e.silly, e.parent, e.name.clone())
        };
        if last {
            if silly {
                if let Ok(dir) = self.dir_of(parent)
                    && let Err(e) = self.timed(self.vault.remove_file(&dir, &name)).await
                {
                    tracing::warn!(ino, kind = ?e.kind(), "could not remove an unlinked file's hidden copy");
                }
                let mut nodes = lock(&self.nodes);
                if let Some(e) = nodes.get_mut(ino) {
                    e.silly = false;
                }
                nodes.detach(ino);
            } else if result.is_ok() {
                // Unchanged during this open session: the page cache still
                // matches what storage held at open. A written file gets no
                // fingerprint (its next open re-reads), which saves a storage
                // round trip on every close.
                let mut nodes = lock(&self.nodes);
                if let Some(e) = nodes.get_mut(ino)
                    && e.file.is_none()
                {
                    e.cache_fingerprint = if e.written { None } else { e.open_fingerprint };
                }
            }
            lock(&self.nodes).collect(ino);
        }
        result
    }
}
