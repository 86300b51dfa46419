//! The read path of an open file: fetching committed or shadow ciphertext
//! in runs of chunks, authenticating and decrypting them, serving reads.

use bytes::Bytes;
use vault_format::SecretBuf;
use vault_format::{CLEARTEXT_CHUNK_SIZE, FormatError};

use super::FileState;
use super::chunk_cache::{CS, clear_len, nchunks};
use crate::core::Core;
use crate::{VaultError, VaultErrorKind};

/// Chunks fetched with one `read_at`.
const READ_RUN: u64 = 64;

impl FileState {
    /// `len` ciphertext bytes of the committed version at `offset` (sequential reads are
    /// fetched ahead, see `read_ahead`).
    pub(super) async fn read_committed(
        &mut self,
        core: &Core,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, VaultError> {
        Ok(self
            .readahead
            .read(&core.storage, &self.content, offset, len, self.base_ct_len)
            .await?)
    }

    /// Fetches and authenticates chunks `[first, end)` from one source
    /// (`from_shadow`: the shadow, else the committed ciphertext) and appends
    /// their cleartext to `sink` (which must have the capacity: a reallocation
    /// would leave cleartext behind in freed memory). Returns the chunk lengths.
    pub(super) async fn decrypt_run(
        &mut self,
        core: &Core,
        first: u64,
        end: u64,
        from_shadow: bool,
        sink: &mut Vec<u8>,
    ) -> Result<Vec<usize>, VaultError> {
        let overhead = core.cryptor.combo().chunk_overhead();
        let lens: Vec<usize> = (first..end).map(|k| clear_len(k, self.size)).collect();
        let total: usize = lens.iter().map(|l| l + overhead).sum();
        let offset = Self::chunk_offset(core, first);
        let bytes = if from_shadow {
            self.drain(core).await?;
            match self.shadow.as_mut() {
                Some(s) => s.read_at(core, offset, total).await?,
                None => return Err(VaultError::node(VaultErrorKind::Other, "no shadow to read")),
            }
        } else {
            self.read_committed(core, offset, total).await?
        };
        let Some((header, _)) = self.header.as_ref() else {
            return Err(VaultError::node(VaultErrorKind::Other, "header not loaded"));
        };
        let mut pos = 0usize;
        for (k, len) in (first..end).zip(lens.iter().copied()) {
            let ct_len = len + overhead;
            if bytes.len() < pos + ct_len {
                tracing::warn!(ciphertext = %self.content, offset = k * CS, "ciphertext shorter than its size says");
                return Err(self.corrupt(
                    Some(k * CS),
                    FormatError::InvalidCiphertextSize(offset + bytes.len() as u64),
                ));
            }
            if let Err(e) = core
                .cryptor
                .decrypt_chunk(header, k, &bytes[pos..pos + ct_len], sink)
            {
                tracing::warn!(ciphertext = %self.content, offset = k * CS, "chunk fails authentication");
                return Err(self.corrupt(Some(k * CS), e));
            }
            pos += ct_len;
        }
        Ok(lens)
    }

    /// The current cleartext of chunk `idx`, taken out of the cache for modification.
    pub(super) async fn take_chunk(
        &mut self,
        core: &Core,
        idx: u64,
    ) -> Result<SecretBuf, VaultError> {
        if let Some(c) = self.cache.take(idx) {
            return Ok(c);
        }
        if idx >= nchunks(self.size) {
            return Ok(SecretBuf::new());
        }
        let from_shadow = self.written.contains(&idx);
        let mut buf = SecretBuf::with_capacity(CLEARTEXT_CHUNK_SIZE);
        self.decrypt_run(core, idx, idx + 1, from_shadow, &mut buf)
            .await?;
        Ok(buf)
    }

    /// For a length taken from a listing (`Vault::open_listed`), before a
    /// read reaches the end: whether the object grew since. A file rewritten
    /// longer fails authentication in its last listed chunk, unless that
    /// chunk was full (the listed size at a chunk boundary); only then would
    /// the end go unnoticed and the copy come out short, so only then is one
    /// byte past the listed ciphertext asked for. Ciphertext there: the
    /// length is taken from storage again and the reads go on to the new end
    /// (whose chunks must authenticate under the header already read, else
    /// the read fails) — complete or an error, never silently short.
    async fn confirm_listed_len(&mut self, core: &Core) -> Result<(), VaultError> {
        if !self.len_from_listing {
            return Ok(());
        }
        self.len_from_listing = false;
        let untouched = self.shadow.is_none() && self.written.is_empty();
        if !untouched || self.size != self.base_size || !self.base_size.is_multiple_of(CS) {
            return Ok(());
        }
        let past = core
            .storage
            .read_at(&self.content, self.base_ct_len, 1)
            .await?;
        if past.is_empty() {
            return Ok(());
        }
        let meta = core.storage.metadata(&self.content).await?;
        let Some(size) = core.cryptor.combo().cleartext_size(meta.size) else {
            tracing::warn!(ciphertext = %self.content, len = meta.size, "file grew to an invalid ciphertext size while read");
            return Err(self.corrupt(
                Some(self.base_size),
                FormatError::InvalidCiphertextSize(meta.size),
            ));
        };
        tracing::info!(ciphertext = %self.content, listed = self.base_ct_len, now = meta.size, "file grew since it was listed; reading to its new end");
        self.readahead.clear();
        self.base_ct_len = meta.size;
        self.base_size = size;
        self.size = size;
        Ok(())
    }

    /// `[lo, hi)` of chunk `idx` into `out`, for a read inside one chunk: the chunk is
    /// decrypted into a buffer of its own (a recycled cache entry's where there is one) and
    /// kept in the cache for the next small read.
    async fn read_part(
        &mut self,
        core: &Core,
        idx: u64,
        lo: usize,
        hi: usize,
        from_shadow: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), VaultError> {
        let mut buf = self
            .cache
            .spare()
            .unwrap_or_else(|| SecretBuf::with_capacity(CLEARTEXT_CHUNK_SIZE));
        self.decrypt_run(core, idx, idx + 1, from_shadow, &mut buf)
            .await?;
        let hi = hi.min(buf.len());
        out.extend_from_slice(&buf[lo.min(hi)..hi]);
        if let Some((ev, data)) = self.cache.insert(idx, buf, false) {
            self.queue_chunk(core, ev, &data).await?;
        }
        Ok(())
    }

    pub(super) async fn read(
        &mut self,
        core: &Core,
        offset: u64,
        len: usize,
    ) -> Result<SecretBuf, VaultError> {
        self.check_damaged()?;
        if len == 0 {
            return Ok(SecretBuf::new());
        }
        if offset.saturating_add(len as u64) >= self.size {
            if self.len_from_listing {
                // A small file's header read covers its end, and so the check below.
                self.ensure_header(core).await?;
            }
            self.confirm_listed_len(core).await?;
        }
        if offset >= self.size {
            return Ok(SecretBuf::new());
        }
        self.ensure_header(core).await?;
        let end = self.size.min(offset.saturating_add(len as u64));
        let first = offset / CS;
        let last = (end - 1) / CS;
        // Whole chunks are decrypted straight into the output, so reserve for
        // all of them up front (no reallocation copies of cleartext); a read
        // inside one chunk (small random reads) needs only its own length.
        let cap = if first == last {
            (end - offset) as usize
        } else {
            ((last - first + 1) * CS) as usize
        };
        let mut out = SecretBuf::with_capacity(cap);
        let mut idx = first;
        while idx <= last {
            let start = idx * CS;
            let lo = (offset.max(start) - start) as usize;
            let hi = (end.min(start + CS) - start) as usize;
            if let Some(c) = self.cache.get(idx) {
                let hi = hi.min(c.len());
                out.extend_from_slice(&c[lo.min(hi)..hi]);
                idx += 1;
                continue;
            }
            let from_shadow = self.written.contains(&idx);
            if first == last && (lo > 0 || hi < clear_len(idx, self.size)) {
                self.read_part(core, idx, lo, hi, from_shadow, &mut out)
                    .await?;
                break;
            }
            let mut j = idx + 1;
            while j <= last
                && j - idx < READ_RUN
                && !self.cache.contains(j)
                && self.written.contains(&j) == from_shadow
            {
                j += 1;
            }
            let base = out.len();
            let lens = self
                .decrypt_run(core, idx, j, from_shadow, &mut out)
                .await?;
            // Keep the partly read chunks at the edges for the next small read.
            let mut pos = base;
            let mut evicted = Vec::new();
            for (k, l) in (idx..j).zip(lens.iter().copied()) {
                let cstart = k * CS;
                let clo = (offset.max(cstart) - cstart) as usize;
                let chi = ((end.min(cstart + CS) - cstart) as usize).min(l);
                if clo > 0 || chi < l {
                    let copy = SecretBuf::from(out[pos..pos + l].to_vec());
                    if let Some(ev) = self.cache.insert(k, copy, false) {
                        evicted.push(ev);
                    }
                }
                pos += l;
            }
            // Trim to the requested range: the run covers [idx*CS, run_end).
            let run_end = start + (pos - base) as u64;
            let keep_end = end.min(run_end);
            out.truncate(pos - (run_end - keep_end) as usize);
            if lo > 0 {
                let cut = lo.min(out.len() - base);
                out.drain(base..base + cut);
            }
            for (ev, data) in evicted {
                self.queue_chunk(core, ev, &data).await?;
            }
            idx = j;
        }
        Ok(out)
    }
}
