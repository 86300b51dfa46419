//! An open regular file: header, chunk cache, dirty state, write-back.
//!
//! One [`OpenFile`] per node, shared by every opener through the weak-ref
//! table in [`Core`]. All state sits behind one async mutex (reads and writes
//! of one file are serialised; different files run in parallel).
//!
//! Reading fetches only the ciphertext chunks that cover the requested range
//! (in one storage call per run of chunks) and authenticates each. A small
//! cache keeps cleartext chunks at the edges of reads and the partially
//! written tail chunk; buffers are zeroized when dropped.
//!
//! Writing never touches the committed ciphertext (see [`crate::shadow`]):
//! touched chunks are re-encrypted with fresh nonces under the file's own
//! header (content key kept, docs/vault-format.md §14.8) and written to the shadow at their
//! final offsets, streaming (full chunks leave memory at once, in batches of
//! up to 1 MiB). [`OpenFile::flush`] then copies the untouched chunks from the
//! old ciphertext as they are (same header, same index → still valid), makes
//! the shadow durable and renames/uploads it over the node. A file truncated
//! to zero (cp, editors) therefore copies nothing.
//!
//! Invariant: every chunk `i < nchunks(size)` is in exactly one place that is
//! current — the cache (dirty or clean), the shadow (`written`), or the old
//! ciphertext — and the chunk there has length `clear_len(i, size)`.
//! Everything that changes `size` rewrites the chunks at the old and new end.
//!
//! Split by seam: `chunk_cache` (the cleartext chunk cache and chunk
//! arithmetic, a leaf), `read` (the read path); this file keeps the state,
//! the write path, commit and the public [`OpenFile`] surface.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use vault_format::SecretBuf;
use vault_format::{CLEARTEXT_CHUNK_SIZE, FileHeader, FormatError};
use vault_storage::StoragePath;

mod chunk_cache;
mod flight;
mod handle;
mod read;

use crate::core::{Core, lock, not_found_as};
use crate::names::NodeLoc;
use crate::read_ahead::ReadAhead;
use crate::shadow::Shadow;
use crate::{Node, NodeKind, VaultError, VaultErrorKind};
use chunk_cache::{CS, ChunkCache, clear_len, nchunks};
use flight::{Flight, MAX_FLIGHTS, batch_max};

/// Encrypted chunks waiting to be written to the shadow in one call.
#[derive(Default)]
struct Pending {
    first: u64,
    count: u64,
    bytes: Vec<u8>,
}

pub(crate) struct FileState {
    /// Committed ciphertext.
    content: StoragePath,
    /// Content directory of the node (where the shadow object lives).
    content_dir: StoragePath,
    /// Header and its ciphertext bytes, loaded on first use.
    header: Option<(FileHeader, Vec<u8>)>,
    /// The committed object is 0 bytes: it has no header yet (docs/vault-format.md §11).
    needs_new_header: bool,
    /// Ciphertext length at open, for error messages.
    base_ct_len: u64,
    base_size: u64,
    size: u64,
    damaged: bool,
    cache: ChunkCache,
    shadow: Option<Shadow>,
    /// Chunks whose current ciphertext is in the shadow (or `pending`).
    written: BTreeSet<u64>,
    pending: Pending,
    /// The previous batches (at most [`MAX_FLIGHTS`], oldest first, never overlapping),
    /// being written to the shadow object in the background while the next one is
    /// encrypted (or a failed one to retry).
    flights: VecDeque<Flight>,
    /// Ciphertext of the committed version fetched ahead for sequential reads.
    readahead: ReadAhead,
    unlinked: bool,
    pending_mtime: Option<SystemTime>,
    /// The committed version may not be durable yet (a `commit()` without
    /// fsync, or written before this open): `flush` makes it durable.
    unsynced: bool,
    /// The committed length came from a listing, not from storage at open
    /// (`Vault::open_listed`): checked when a read reaches its end.
    len_from_listing: bool,
}

/// One open file, shared by every handle on the same node.
pub struct OpenFile {
    core: Arc<Core>,
    /// Key in the open-file table (the committed ciphertext path).
    key: std::sync::Mutex<String>,
    state: tokio::sync::Mutex<FileState>,
}

impl std::fmt::Debug for OpenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenFile")
            .field("ciphertext", &*lock(&self.key))
            .finish_non_exhaustive()
    }
}

/// The open file for a ciphertext path, if one is alive.
pub(crate) fn find(core: &Core, content_path: &str) -> Option<Arc<OpenFile>> {
    core.open_files.get::<OpenFile>(content_path)
}

/// Every open file that is alive.
pub(crate) fn all_open(core: &Core) -> Vec<Arc<OpenFile>> {
    core.open_files.alive::<OpenFile>()
}

/// Opens (or joins) the [`OpenFile`] of a file node.
pub(crate) async fn open(core: &Arc<Core>, node: &Node) -> Result<Arc<OpenFile>, VaultError> {
    open_with(core, node, false, None).await
}

/// [`open`]; with `trust_node`, the ciphertext length is taken from the node's size (as a
/// listing or lookup just found it) instead of asking storage again. Not for empty or
/// damaged nodes, whose stored length the size does not tell. `stored_len`: the ciphertext
/// length is known exactly (a file this process just created), no request either.
pub(crate) async fn open_with(
    core: &Arc<Core>,
    node: &Node,
    trust_node: bool,
    stored_len: Option<u64>,
) -> Result<Arc<OpenFile>, VaultError> {
    match node.kind {
        NodeKind::File => {}
        NodeKind::Dir(_) => {
            return Err(VaultError::node(
                VaultErrorKind::IsADirectory,
                node.name.clone(),
            ));
        }
        NodeKind::Symlink => {
            return Err(VaultError::node(
                VaultErrorKind::InvalidArgument,
                node.name.clone(),
            ));
        }
    }
    let loc = NodeLoc::from_storage_path(&node.storage_path)?;
    let content = loc.file_content_path()?;
    let key = content.as_str().to_owned();
    if let Some(f) = find(core, &key) {
        return Ok(f);
    }
    core.await_background(&key).await;
    let trusted = trust_node && !node.damaged && node.size > 0;
    let meta = if trusted || stored_len.is_some() {
        vault_storage::Metadata {
            kind: vault_storage::EntryKind::File,
            size: stored_len.unwrap_or_else(|| core.cryptor.combo().ciphertext_size(node.size)),
            modified: node.modified,
            version: None,
        }
    } else {
        core.storage
            .metadata(&content)
            .await
            .map_err(|e| not_found_as(e, &node.name))?
    };
    if meta.kind != vault_storage::EntryKind::File {
        return Err(VaultError::node(
            VaultErrorKind::IsADirectory,
            node.name.clone(),
        ));
    }
    let combo = core.cryptor.combo();
    // An empty file gets a fresh header on its first write (nothing to keep
    // under the old one): no header read for a new file.
    let (base_size, damaged, needs_new_header) = match combo.cleartext_size(meta.size) {
        Some(s) => (s, false, s == 0),
        None if meta.size == 0 => (0, false, true),
        None => {
            tracing::warn!(ciphertext = %content, len = meta.size, "invalid ciphertext size; file is damaged");
            (0, true, false)
        }
    };
    let state = FileState {
        content: content.clone(),
        content_dir: loc.content_dir.clone(),
        header: None,
        needs_new_header,
        base_ct_len: meta.size,
        base_size,
        size: base_size,
        damaged,
        cache: ChunkCache::default(),
        shadow: None,
        written: BTreeSet::new(),
        pending: Pending::default(),
        flights: VecDeque::new(),
        readahead: ReadAhead::for_storage(
            &*core.storage,
            core.cryptor.combo().ciphertext_chunk_len(),
        ),
        unlinked: false,
        pending_mtime: None,
        unsynced: true,
        len_from_listing: trusted,
    };
    let file = Arc::new(OpenFile {
        core: Arc::clone(core),
        key: std::sync::Mutex::new(key.clone()),
        state: tokio::sync::Mutex::new(state),
    });
    let existing = core.open_files.get_or_insert(key, &file);
    // Dropped outside the table lock (Drop takes it).
    match existing {
        Some(e) => {
            drop(file);
            Ok(e)
        }
        None => Ok(file),
    }
}

impl FileState {
    fn corrupt(&self, offset: Option<u64>, source: FormatError) -> VaultError {
        VaultError::Corrupt {
            storage_path: self.content.as_str().to_owned(),
            offset,
            source,
        }
    }

    fn check_damaged(&self) -> Result<(), VaultError> {
        if self.damaged {
            Err(self.corrupt(
                Some(0),
                FormatError::InvalidCiphertextSize(self.base_ct_len),
            ))
        } else {
            Ok(())
        }
    }

    async fn ensure_header(&mut self, core: &Core) -> Result<(), VaultError> {
        if self.header.is_some() {
            return Ok(());
        }
        if self.needs_new_header {
            let h = core.cryptor.new_header();
            let b = core.cryptor.encrypt_header(&h);
            self.header = Some((h, b));
            return Ok(());
        }
        let hl = core.cryptor.combo().header_len();
        let (bytes, longer) = self
            .readahead
            .read_head(&core.storage, &self.content, hl, self.base_ct_len)
            .await?;
        if longer == Some(false) {
            // The head read reached the object's end, where the length taken from a
            // listing says: nothing left for `confirm_listed_len` to ask storage.
            self.len_from_listing = false;
        }
        if bytes.len() < hl {
            return Err(self.corrupt(Some(0), FormatError::InvalidHeader));
        }
        let h = core.cryptor.decrypt_header(&bytes).map_err(|e| {
            tracing::warn!(ciphertext = %self.content, "file header fails authentication");
            self.corrupt(Some(0), e)
        })?;
        self.header = Some((h, bytes.to_vec()));
        Ok(())
    }

    async fn ensure_shadow(&mut self, core: &Core) -> Result<(), VaultError> {
        core.check_writable()?;
        if self.shadow.is_some() {
            return Ok(());
        }
        self.ensure_header(core).await?;
        let header_bytes = self
            .header
            .as_ref()
            .map(|(_, b)| b.clone())
            .unwrap_or_default();
        self.shadow = Some(Shadow::create(core, &self.content_dir, &header_bytes).await?);
        Ok(())
    }

    fn chunk_offset(core: &Core, idx: u64) -> u64 {
        let combo = core.cryptor.combo();
        combo.header_len() as u64 + idx * combo.ciphertext_chunk_len() as u64
    }

    /// Waits for every batch in flight.
    async fn settle(&mut self, core: &Core) -> Result<(), VaultError> {
        while !self.flights.is_empty() {
            self.settle_oldest(core).await?;
        }
        Ok(())
    }

    /// Waits for the oldest batch in flight; a failed one is retried here once and
    /// kept (never dropped) if it fails again.
    async fn settle_oldest(&mut self, core: &Core) -> Result<(), VaultError> {
        let (offset, bytes) = match self.flights.pop_front() {
            None => return Ok(()),
            Some(Flight::Running {
                offset,
                bytes,
                task,
            }) => match task.await {
                Ok(Ok(())) => {
                    self.recycle(bytes);
                    return Ok(());
                }
                Ok(Err(e)) => {
                    tracing::debug!(ciphertext = %self.content, error = %e, "background shadow write failed; retrying");
                    (offset, bytes)
                }
                Err(e) => {
                    tracing::debug!(ciphertext = %self.content, error = %e, "background shadow write task failed; retrying");
                    (offset, bytes)
                }
            },
            Some(Flight::Failed { offset, bytes }) => (offset, bytes),
        };
        let res = match self.shadow.as_mut() {
            Some(s) => s.write_at(core, offset, bytes.clone()).await,
            None => Err(VaultError::node(
                VaultErrorKind::Other,
                "no shadow for chunks in flight",
            )),
        };
        match res {
            Ok(()) => {
                self.recycle(bytes);
                Ok(())
            }
            Err(e) => {
                self.flights.push_front(Flight::Failed { offset, bytes });
                Err(e)
            }
        }
    }

    /// Reuses a written batch's buffer for the next one (saves a 1 MiB allocation).
    fn recycle(&mut self, bytes: Bytes) {
        if self.pending.bytes.capacity() == 0 {
            let mut v = Vec::from(bytes);
            v.clear();
            self.pending.bytes = v;
        }
    }

    /// Sends the pending run to the shadow: in the background for shadow
    /// objects (up to [`MAX_FLIGHTS`] batches at a time; one that overlaps a batch in
    /// flight waits for it, so writes of the same bytes keep their order), inline for
    /// the local spool.
    async fn flush_pending(&mut self, core: &Core) -> Result<(), VaultError> {
        if self.pending.count == 0 {
            return self.settle(core).await;
        }
        let offset = Self::chunk_offset(core, self.pending.first);
        let end = offset + self.pending.bytes.len() as u64;
        if let Some(s) = self.shadow.as_mut() {
            s.outgrow_memory(core, end).await?;
        }
        let wait_all = !matches!(self.shadow, Some(Shadow::Object { .. }))
            || self.flights.iter().any(|f| f.blocks(offset, end));
        if wait_all {
            self.settle(core).await?;
        }
        while self.flights.len() >= MAX_FLIGHTS {
            self.settle_oldest(core).await?;
        }
        let bytes = Bytes::from(std::mem::take(&mut self.pending.bytes));
        match self.shadow.as_mut() {
            Some(Shadow::Object { path, len }) => {
                // Its length once this batch landed (see `Shadow::extend`).
                *len = (*len).max(end);
                let (storage, path, b) = (Arc::clone(&core.storage), path.clone(), bytes.clone());
                let task = tokio::spawn(async move { storage.write_at(&path, offset, b).await });
                self.flights.push_back(Flight::Running {
                    offset,
                    bytes,
                    task,
                });
                self.pending.count = 0;
                Ok(())
            }
            Some(s) => match s.write_at(core, offset, bytes.clone()).await {
                Ok(()) => {
                    self.pending.count = 0;
                    self.recycle(bytes);
                    Ok(())
                }
                Err(e) => {
                    // Keep the chunks: a later flush retries (write_at is idempotent).
                    self.pending.bytes = Vec::from(bytes);
                    Err(e)
                }
            },
            None => {
                self.pending.bytes = Vec::from(bytes);
                Err(VaultError::node(
                    VaultErrorKind::Other,
                    "no shadow for pending chunks",
                ))
            }
        }
    }

    /// Everything queued is in the shadow.
    async fn drain(&mut self, core: &Core) -> Result<(), VaultError> {
        self.flush_pending(core).await?;
        self.settle(core).await
    }

    /// Encrypts chunk `idx` and queues it for the shadow.
    async fn queue_chunk(&mut self, core: &Core, idx: u64, clear: &[u8]) -> Result<(), VaultError> {
        let max = batch_max(core);
        if self.pending.count > 0
            && (self.pending.first + self.pending.count != idx || self.pending.bytes.len() >= max)
        {
            self.flush_pending(core).await?;
        }
        let Some((header, _)) = self.header.as_ref() else {
            return Err(VaultError::node(VaultErrorKind::Other, "header not loaded"));
        };
        if self.pending.count == 0 {
            self.pending.first = idx;
            self.pending.bytes.clear();
            self.pending
                .bytes
                .reserve(max + core.cryptor.combo().ciphertext_chunk_len());
        }
        core.cryptor
            .encrypt_chunk(header, idx, clear, &mut self.pending.bytes);
        self.pending.count += 1;
        self.written.insert(idx);
        Ok(())
    }

    /// Keeps a modified chunk: full chunks the write has finished go out at
    /// once, others stay in the cache as dirty.
    async fn store_chunk(
        &mut self,
        core: &Core,
        idx: u64,
        data: SecretBuf,
        complete: bool,
    ) -> Result<(), VaultError> {
        if complete && data.len() == CLEARTEXT_CHUNK_SIZE {
            self.queue_chunk(core, idx, &data).await
        } else if let Some((ev_idx, ev_data)) = self.cache.insert(idx, data, true) {
            self.queue_chunk(core, ev_idx, &ev_data).await
        } else {
            Ok(())
        }
    }

    async fn extend_to(&mut self, core: &Core, new_size: u64) -> Result<(), VaultError> {
        while self.size < new_size {
            let idx = self.size / CS;
            let within = self.size % CS;
            let target = (new_size - idx * CS).min(CS) as usize;
            let mut buf = if within == 0 {
                SecretBuf::new()
            } else {
                self.take_chunk(core, idx).await?
            };
            buf.resize(target, 0);
            self.size = idx * CS + target as u64;
            self.store_chunk(core, idx, buf, target == CLEARTEXT_CHUNK_SIZE)
                .await?;
        }
        Ok(())
    }

    async fn write(&mut self, core: &Core, offset: u64, data: &[u8]) -> Result<(), VaultError> {
        core.check_writable()?;
        self.check_damaged()?;
        if data.is_empty() {
            // pwrite(2) of nothing changes nothing, not even past the end.
            return core.check_writable();
        }
        self.ensure_shadow(core).await?;
        if offset > self.size {
            self.extend_to(core, offset).await?;
        }
        let mut pos = offset;
        let mut rest = data;
        while !rest.is_empty() {
            let idx = pos / CS;
            let within = (pos % CS) as usize;
            let n = (CLEARTEXT_CHUNK_SIZE - within).min(rest.len());
            if n == CLEARTEXT_CHUNK_SIZE {
                // A whole chunk is encrypted straight from the caller's bytes: no cleartext
                // copy to allocate, fill and zeroize (most of a sequential write's CPU).
                self.cache.take(idx);
                self.size = self.size.max(pos + n as u64);
                self.queue_chunk(core, idx, &rest[..n]).await?;
                pos += n as u64;
                rest = &rest[n..];
                continue;
            }
            let cur_len = clear_len(idx, self.size);
            let mut buf = self.take_chunk(core, idx).await?;
            buf.resize(cur_len.max(within + n), 0);
            buf[within..within + n].copy_from_slice(&rest[..n]);
            self.size = self.size.max(pos + n as u64);
            self.store_chunk(core, idx, buf, within + n == CLEARTEXT_CHUNK_SIZE)
                .await?;
            pos += n as u64;
            rest = &rest[n..];
        }
        Ok(())
    }

    async fn set_len(&mut self, core: &Core, new_size: u64) -> Result<(), VaultError> {
        core.check_writable()?;
        if self.damaged {
            if new_size != 0 {
                self.check_damaged()?;
            }
            // Truncating a damaged file to zero starts it afresh (O_TRUNC).
            self.damaged = false;
            self.readahead.clear();
            self.header = None;
            self.needs_new_header = true;
            self.base_size = 0;
            self.size = 0;
        }
        self.ensure_shadow(core).await?;
        if new_size > self.size {
            self.extend_to(core, new_size).await?;
        } else if new_size < self.size {
            let tail = if !new_size.is_multiple_of(CS) {
                let idx = new_size / CS;
                let mut buf = self.take_chunk(core, idx).await?;
                buf.truncate((new_size % CS) as usize);
                Some((idx, buf))
            } else {
                None
            };
            let keep = nchunks(new_size);
            self.size = new_size;
            self.cache.retain_below(keep);
            self.written.retain(|i| *i < keep);
            if let Some((idx, buf)) = tail {
                self.store_chunk(core, idx, buf, false).await?;
            }
        }
        Ok(())
    }

    /// Copies the chunks no write touched from the committed ciphertext to the shadow.
    async fn copy_untouched(&mut self, core: &Core) -> Result<(), VaultError> {
        let n = nchunks(self.size);
        let overhead = core.cryptor.combo().chunk_overhead() as u64;
        let mut idx = 0;
        while idx < n {
            if self.written.contains(&idx) {
                idx += 1;
                continue;
            }
            let start = idx;
            let mut end = idx + 1;
            while end < n && !self.written.contains(&end) && end - start < 32 {
                end += 1;
            }
            let total: u64 = (start..end)
                .map(|k| clear_len(k, self.size) as u64 + overhead)
                .sum();
            let offset = Self::chunk_offset(core, start);
            let bytes = core
                .storage
                .read_at(&self.content, offset, total as usize)
                .await?;
            if (bytes.len() as u64) < total {
                return Err(self.corrupt(
                    Some(start * CS),
                    FormatError::InvalidCiphertextSize(offset + bytes.len() as u64),
                ));
            }
            match self.shadow.as_mut() {
                Some(s) => s.write_at(core, offset, bytes).await?,
                None => return Err(VaultError::node(VaultErrorKind::Other, "no shadow")),
            }
            for k in start..end {
                self.written.insert(k);
            }
            idx = end;
        }
        Ok(())
    }

    /// Throws unflushed changes away: back to the committed version.
    async fn reset(&mut self, core: &Core) {
        for f in std::mem::take(&mut self.flights) {
            if let Flight::Running { task, .. } = f {
                let _ = task.await;
            }
        }
        if let Some(s) = self.shadow.take() {
            s.discard(core).await;
        }
        self.cache.clear();
        self.written.clear();
        self.pending = Pending::default();
        self.size = self.base_size;
        if self.needs_new_header {
            self.header = None;
        }
    }

    /// Puts the new version in place atomically; `durable`: and returns only
    /// once it (or the clean committed version) is durable on storage.
    async fn commit(&mut self, core: &Core, durable: bool) -> Result<(), VaultError> {
        if self.unlinked {
            self.reset(core).await;
            return Ok(());
        }
        if self.shadow.is_some() {
            for (idx, data) in self.cache.take_dirty() {
                self.queue_chunk(core, idx, &data).await?;
            }
            self.drain(core).await?;
            self.copy_untouched(core).await?;
            let len = core.cryptor.combo().ciphertext_size(self.size);
            let content = self.content.clone();
            match self.shadow.as_mut() {
                Some(s) => s.commit(core, len, &content, durable).await?,
                None => return Err(VaultError::node(VaultErrorKind::Other, "no shadow")),
            }
            self.shadow = None;
            self.written.clear();
            self.base_size = self.size;
            self.readahead.clear();
            self.base_ct_len = len;
            self.needs_new_header = self.size == 0;
            if self.needs_new_header {
                self.header = None;
            }
            self.unsynced = !durable;
        } else if durable && self.unsynced && !core.read_only {
            core.storage.sync_entry(&self.content).await?;
            self.unsynced = false;
        }
        if let Some(t) = self.pending_mtime.take()
            && core.caps.set_modified
            && let Err(e) = core.storage.set_modified(&self.content, t).await
        {
            tracing::debug!(ciphertext = %self.content, error = %e, "set_modified failed");
        }
        Ok(())
    }

    fn placeholder() -> FileState {
        FileState {
            content: StoragePath::root(),
            content_dir: StoragePath::root(),
            header: None,
            needs_new_header: false,
            base_ct_len: 0,
            base_size: 0,
            size: 0,
            damaged: false,
            cache: ChunkCache::default(),
            shadow: None,
            written: BTreeSet::new(),
            pending: Pending::default(),
            flights: VecDeque::new(),
            readahead: ReadAhead::new(1),
            unlinked: true,
            pending_mtime: None,
            unsynced: false,
            len_from_listing: false,
        }
    }

    pub(crate) fn relocate(&mut self, content: StoragePath, content_dir: StoragePath) {
        if let Some(s) = self.shadow.as_mut() {
            s.relocate(&content_dir);
        }
        self.content = content;
        self.content_dir = content_dir;
    }

    pub(crate) fn is_dirty(&self) -> bool {
        self.shadow.is_some()
    }

    pub(crate) fn set_pending_mtime(&mut self, t: SystemTime) {
        self.pending_mtime = Some(t);
    }
}
