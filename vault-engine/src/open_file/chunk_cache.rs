//! The per-file cleartext chunk cache and the chunk arithmetic it and the
//! open file share (a leaf: knows nothing of storage or the vault).

use vault_format::CLEARTEXT_CHUNK_SIZE;
use vault_format::SecretBuf;

pub(super) const CS: u64 = CLEARTEXT_CHUNK_SIZE as u64;
/// Clean/dirty cleartext chunks kept per open file.
pub(super) const CACHE_CHUNKS: usize = 8;

/// Number of chunks of a file of `size` bytes.
pub(super) fn nchunks(size: u64) -> u64 {
    size.div_ceil(CS)
}

/// Cleartext length of chunk `idx` in a file of `size` bytes (0 past the end).
pub(super) fn clear_len(idx: u64, size: u64) -> usize {
    let start = idx * CS;
    if start >= size {
        0
    } else {
        (size - start).min(CS) as usize
    }
}

struct CacheEntry {
    idx: u64,
    data: SecretBuf,
    dirty: bool,
    tick: u64,
}

/// A handful of cleartext chunks; least recently used goes first.
#[derive(Default)]
pub(super) struct ChunkCache {
    entries: Vec<CacheEntry>,
    tick: u64,
}

impl ChunkCache {
    pub(super) fn get(&mut self, idx: u64) -> Option<&[u8]> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.iter_mut().find(|e| e.idx == idx).map(|e| {
            e.tick = tick;
            e.data.as_slice()
        })
    }
    pub(super) fn contains(&self, idx: u64) -> bool {
        self.entries.iter().any(|e| e.idx == idx)
    }
    pub(super) fn take(&mut self, idx: u64) -> Option<SecretBuf> {
        let pos = self.entries.iter().position(|e| e.idx == idx)?;
        Some(self.entries.swap_remove(pos).data)
    }
    /// Inserts; returns an evicted dirty chunk that must be written out.
    pub(super) fn insert(
        &mut self,
        idx: u64,
        data: SecretBuf,
        dirty: bool,
    ) -> Option<(u64, SecretBuf)> {
        self.tick += 1;
        if let Some(e) = self.entries.iter_mut().find(|e| e.idx == idx) {
            e.data = data;
            e.dirty |= dirty;
            e.tick = self.tick;
            return None;
        }
        let mut evicted = None;
        if self.entries.len() >= CACHE_CHUNKS
            && let Some(pos) = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.tick)
                .map(|(i, _)| i)
        {
            let e = self.entries.swap_remove(pos);
            if e.dirty {
                evicted = Some((e.idx, e.data));
            }
        }
        self.entries.push(CacheEntry {
            idx,
            data,
            dirty,
            tick: self.tick,
        });
        evicted
    }
    /// An empty buffer of chunk capacity to decrypt the next chunk into: the least recently
    /// used entry's, when the cache is full and that entry is clean. Reusing it saves zeroing
    /// and freeing 32 KiB (byte by byte: as long as decrypting the chunk) and allocating
    /// another on every small random read. Its old bytes stay in a zeroizing buffer until
    /// the decrypt overwrites them.
    pub(super) fn spare(&mut self) -> Option<SecretBuf> {
        if self.entries.len() < CACHE_CHUNKS {
            return None;
        }
        let (pos, lru) = self
            .entries
            .iter()
            .enumerate()
            .min_by_key(|(_, e)| e.tick)?;
        if lru.dirty || lru.data.capacity() < CLEARTEXT_CHUNK_SIZE {
            return None;
        }
        let mut data = self.entries.swap_remove(pos).data;
        data.clear();
        Some(data)
    }
    pub(super) fn retain_below(&mut self, end: u64) {
        self.entries.retain(|e| e.idx < end);
    }
    pub(super) fn take_dirty(&mut self) -> Vec<(u64, SecretBuf)> {
        let mut out = Vec::new();
        for e in &mut self.entries {
            if e.dirty {
                e.dirty = false;
                out.push((e.idx, SecretBuf::from(e.data.to_vec())));
            }
        }
        out.sort_by_key(|(i, _)| *i);
        out
    }
    pub(super) fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn chunk_math() {
        assert_eq!(nchunks(0), 0);
        assert_eq!(nchunks(1), 1);
        assert_eq!(nchunks(CS), 1);
        assert_eq!(nchunks(CS + 1), 2);
        assert_eq!(clear_len(0, 10), 10);
        assert_eq!(clear_len(1, CS + 5), 5);
        assert_eq!(clear_len(2, CS + 5), 0);
    }

    #[test]
    fn cache_evicts_lru_dirty() {
        let mut c = ChunkCache::default();
        for i in 0..CACHE_CHUNKS as u64 {
            assert!(
                c.insert(i, SecretBuf::from(vec![i as u8]), i == 0)
                    .is_none()
            );
        }
        c.get(1);
        let ev = c
            .insert(100, SecretBuf::from(vec![1]), false)
            .expect("dirty chunk 0 evicted");
        assert_eq!(ev.0, 0);
        assert!(!c.contains(0));
        assert!(c.contains(100));
    }
}
