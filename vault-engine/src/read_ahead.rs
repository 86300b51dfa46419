//! Read-ahead of a committed version's ciphertext for sequential reads.
//!
//! Every storage read costs at least one round trip (an SFTP open and a first reply, a
//! WebDAV ranged GET), which over a hotel link is 80-200 ms. Reading a file front to back
//! therefore fetches a window larger than the read, grows the window while the reads stay
//! sequential (up to [`MAX_WINDOW_CHUNKS`] chunks), and keeps the next [`AHEAD`] windows
//! fetching in the background while the current one is in use, so the link stays busy while
//! the caller decrypts and no window waits for the one before it to drain. Any other access pattern reads exactly what it asks for and drops the
//! window. Windows are whole ciphertext chunks, so chunk-aligned reads tile them exactly.
//!
//! Only ciphertext passes through here: nothing to zeroize.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::task::JoinHandle;
use vault_storage::{Storage, StorageError, StoragePath};

/// First window: 32 chunks (about 1 MiB of ciphertext).
const MIN_WINDOW_CHUNKS: usize = 32;
/// What opening a file fetches with its header when the file is larger than a first window:
/// 8 chunks (256 KiB), enough for a thumbnailer's or `file`'s look at the start.
const HEAD_CHUNKS: usize = 8;
/// Largest window: 128 chunks (about 4 MiB), so a file read front to back holds at most
/// 1 + [`AHEAD`] windows (the one in use and those in flight) of memory.
const MAX_WINDOW_CHUNKS: usize = 128;
/// Windows fetched ahead at once. With one, the link idles for a round trip at every window
/// edge (the next fetch starts only once the last reply of the previous one is in), and over
/// SFTP also for the next window's open; a second fetch in flight covers both.
const AHEAD: usize = 2;
/// Over local storage ([`Storage::local_io`]) a fetch is a `pread` that takes well under a
/// millisecond per window: there is no round trip to hide, so one first-sized window in
/// flight keeps the decrypting thread fed, and a file read front to back holds 2 MiB instead
/// of 12 (the mount daemon's memory bound counts every open file).
const LOCAL_MAX_WINDOW_CHUNKS: usize = MIN_WINDOW_CHUNKS;
const LOCAL_AHEAD: usize = 1;

/// A window being fetched in the background; dropping it abandons the fetch.
struct Fetch {
    start: u64,
    len: usize,
    task: JoinHandle<Result<Bytes, StorageError>>,
}

impl Drop for Fetch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Sequential-read state of one open file's committed version.
pub(crate) struct ReadAhead {
    /// Ciphertext bytes of one chunk: windows are multiples of it.
    unit: usize,
    /// Fetched ciphertext `(offset, bytes)`.
    buf: Option<(u64, Bytes)>,
    /// The windows after `buf`, in flight, in order.
    next: VecDeque<Fetch>,
    window_chunks: usize,
    /// Largest window and windows in flight: [`MAX_WINDOW_CHUNKS`] and [`AHEAD`], or the
    /// local ones.
    max_window_chunks: usize,
    ahead: usize,
    /// Where the last read ended: a read starting there is sequential.
    last_end: u64,
}

impl ReadAhead {
    pub(crate) fn new(chunk_ciphertext_len: usize) -> ReadAhead {
        ReadAhead {
            unit: chunk_ciphertext_len.max(1),
            buf: None,
            next: VecDeque::new(),
            window_chunks: MIN_WINDOW_CHUNKS,
            max_window_chunks: MAX_WINDOW_CHUNKS,
            ahead: AHEAD,
            last_end: 0,
        }
    }

    /// For `storage`: shallower over local storage (see [`LOCAL_AHEAD`]).
    pub(crate) fn for_storage(storage: &dyn Storage, chunk_ciphertext_len: usize) -> ReadAhead {
        let mut ra = ReadAhead::new(chunk_ciphertext_len);
        if storage.local_io() {
            ra.max_window_chunks = LOCAL_MAX_WINDOW_CHUNKS;
            ra.ahead = LOCAL_AHEAD;
        }
        ra
    }

    /// Forgets everything fetched (the committed version changed).
    pub(crate) fn clear(&mut self) {
        self.buf = None;
        self.next.clear();
        self.window_chunks = MIN_WINDOW_CHUNKS;
    }

    fn window(&self) -> usize {
        self.window_chunks * self.unit
    }

    /// The file header (`header_len` bytes at offset 0) together with the start of the content
    /// in one storage read: the whole object when it fits in a first window (a small file then
    /// costs one round trip), else [`HEAD_CHUNKS`] chunks. Reads continuing from the header are
    /// sequential and served from what was fetched.
    ///
    /// A whole-object read asks for one byte past `object_len` too, which tells for free
    /// whether the object is longer than the caller believes: the second value is then
    /// `Some(longer)`, else `None` (not read to the end).
    pub(crate) async fn read_head(
        &mut self,
        storage: &Arc<dyn Storage>,
        path: &StoragePath,
        header_len: usize,
        object_len: u64,
    ) -> Result<(Bytes, Option<bool>), StorageError> {
        let whole = header_len as u64 + (MIN_WINDOW_CHUNKS * self.unit) as u64;
        let to_end = object_len <= whole;
        let want = if to_end {
            object_len.max(header_len as u64) as usize + 1
        } else {
            header_len + HEAD_CHUNKS * self.unit
        };
        self.next.clear();
        let bytes = storage.read_at(path, 0, want).await?;
        let longer = to_end.then_some(bytes.len() as u64 > object_len);
        self.last_end = header_len.min(bytes.len()) as u64;
        let head = bytes.slice(..header_len.min(bytes.len()));
        self.buf = Some((0, bytes));
        Ok((head, longer))
    }

    /// `len` bytes of `path` at `offset` (fewer at the end of the object). `object_len`
    /// (the committed ciphertext length) keeps fetches from running past the end.
    pub(crate) async fn read(
        &mut self,
        storage: &Arc<dyn Storage>,
        path: &StoragePath,
        offset: u64,
        len: usize,
        object_len: u64,
    ) -> Result<Bytes, StorageError> {
        // Sequential, or nearly: the kernel's asynchronous reads can arrive a read or two
        // out of order.
        let sequential = offset > 0 && offset.abs_diff(self.last_end) <= 2 * len as u64;
        // A read served from what is fetched keeps the window even when it is not exactly
        // where the last one ended: the kernel's asynchronous reads arrive slightly out of order.
        if let Some(out) = self.slice(offset, len) {
            return Ok(self.served(storage, path, offset, out, object_len));
        }
        let ahead_from = self.buf.as_ref().map(|(s, _)| *s);
        let ahead_end = self.next.back().map(|f| f.start + f.len as u64);
        if let (Some(first), Some(end)) = (self.next.front(), ahead_end)
            && offset >= ahead_from.unwrap_or(first.start)
            && offset < end
        {
            // The read lands in (or straddles into) a window in flight: the ones before it
            // land first (a read that skipped ahead must not throw them away).
            while let Some(fetch) = self.next.pop_front() {
                let holds = offset < fetch.start + fetch.len as u64;
                let Some(fetched) = Self::landed(fetch).await else {
                    break;
                };
                self.append(if holds { offset } else { fetched.0 }, fetched);
                self.grow();
                if holds {
                    break;
                }
            }
            if let Some(out) = self.slice(offset, len) {
                return Ok(self.served(storage, path, offset, out, object_len));
            }
        }
        // A straggler just behind what is fetched (the kernel's asynchronous reads): read it
        // directly and leave the read-ahead as it is.
        if let Some(from) = ahead_from
            && offset < from
            && offset + (self.max_window_chunks * self.unit) as u64 >= from
        {
            return storage.read_at(path, offset, len).await;
        }
        // A miss: fetch directly (a whole window if sequential).
        if !sequential {
            self.window_chunks = MIN_WINDOW_CHUNKS;
        }
        self.next.clear();
        let want = if sequential {
            len.max(self.window())
        } else {
            len
        };
        let bytes = storage.read_at(path, offset, want).await?;
        self.last_end = offset + len as u64;
        // A sequential read as large as a window (`vault get` reads 1 MiB at a time) keeps
        // what it fetched too: the windows after it are fetched from its end.
        if bytes.len() > len || (sequential && !bytes.is_empty()) {
            let out = bytes.slice(..len.min(bytes.len()));
            self.buf = Some((offset, bytes));
            if sequential {
                self.grow();
                self.prefetch(storage, path, object_len);
            }
            Ok(out)
        } else {
            self.buf = None;
            Ok(bytes)
        }
    }

    /// Bookkeeping after a read served from `buf`; starts the next fetch.
    fn served(
        &mut self,
        storage: &Arc<dyn Storage>,
        path: &StoragePath,
        offset: u64,
        out: Bytes,
        object_len: u64,
    ) -> Bytes {
        self.last_end = offset + out.len() as u64;
        self.prefetch(storage, path, object_len);
        out
    }

    fn slice(&self, offset: u64, len: usize) -> Option<Bytes> {
        let (start, buf) = self.buf.as_ref()?;
        let end = start + buf.len() as u64;
        (offset >= *start && offset + len as u64 <= end).then(|| {
            let from = (offset - start) as usize;
            buf.slice(from..from + len)
        })
    }

    /// The fetched window, or `None` if the fetch failed (the caller then reads directly,
    /// which reports the error if it persists).
    async fn landed(mut fetch: Fetch) -> Option<(u64, Bytes)> {
        let start = fetch.start;
        match (&mut fetch.task).await {
            Ok(Ok(bytes)) => Some((start, bytes)),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "read-ahead fetch failed; reading directly");
                None
            }
            Err(e) => {
                tracing::debug!(error = %e, "read-ahead task ended");
                None
            }
        }
    }

    /// Makes `fetched` the buffer, keeping the old buffer's bytes from `from` on when the
    /// two are contiguous (a read straddling the window edge).
    fn append(&mut self, from: u64, (start, fetched): (u64, Bytes)) {
        self.buf = match self.buf.take() {
            Some((s, old)) if s + old.len() as u64 == start && from >= start => {
                // Nothing of the old buffer is still wanted.
                drop(old);
                Some((start, fetched))
            }
            Some((s, old)) if s + old.len() as u64 == start && from >= s => {
                let keep = (from - s).min(old.len() as u64) as usize;
                let tail = old.slice(keep..);
                let mut joined = BytesMut::with_capacity(tail.len() + fetched.len());
                joined.extend_from_slice(&tail);
                joined.extend_from_slice(&fetched);
                Some((s + keep as u64, joined.freeze()))
            }
            _ => Some((start, fetched)),
        };
    }

    fn grow(&mut self) {
        self.window_chunks = (self.window_chunks * 2).min(self.max_window_chunks);
    }

    /// Starts fetching the windows after `buf` (and after those already in flight) until
    /// `ahead` are in flight or the object ends.
    fn prefetch(&mut self, storage: &Arc<dyn Storage>, path: &StoragePath, object_len: u64) {
        let Some((start, buf)) = &self.buf else {
            return;
        };
        if buf.is_empty() {
            return;
        }
        let mut from = start + buf.len() as u64;
        if let Some(last) = self.next.back() {
            from = last.start + last.len as u64;
        }
        while self.next.len() < self.ahead && from < object_len {
            let len = self.window();
            let storage = Arc::clone(storage);
            let path = path.clone();
            let task = tokio::spawn(async move { storage.read_at(&path, from, len).await });
            self.next.push_back(Fetch {
                start: from,
                len,
                task,
            });
            from += len as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vault_storage::{Body, MemoryStorage, WriteMode};

    const UNIT: usize = 1000;

    /// One object in memory storage, and reads of it checked against its bytes.
    struct Object {
        memory: Arc<MemoryStorage>,
        storage: Arc<dyn Storage>,
        path: StoragePath,
        data: Vec<u8>,
    }

    impl Object {
        async fn new(len: usize) -> Object {
            let memory = Arc::new(MemoryStorage::new());
            let storage: Arc<dyn Storage> = memory.clone();
            let path = StoragePath::new("f").expect("path");
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            storage
                .write(&path, Body::from_bytes(data.clone()), WriteMode::CreateNew)
                .await
                .expect("write");
            Object {
                memory,
                storage,
                path,
                data,
            }
        }

        fn len(&self) -> u64 {
            self.data.len() as u64
        }

        fn reads(&self) -> u64 {
            self.memory.calls("read_at")
        }

        /// Reads `n` bytes at `offset` through `ra` and checks them.
        async fn read(&self, ra: &mut ReadAhead, offset: usize, n: usize) {
            let got = ra
                .read(&self.storage, &self.path, offset as u64, n, self.len())
                .await
                .expect("read");
            assert_eq!(&got[..], &self.data[offset..offset + n], "at {offset}");
        }

        /// Reads from `from` to the end in reads of `step` bytes.
        async fn read_to_end(&self, ra: &mut ReadAhead, from: usize, step: usize) {
            let mut offset = from;
            while offset < self.data.len() {
                let n = step.min(self.data.len() - offset);
                self.read(ra, offset, n).await;
                offset += n;
            }
        }

        async fn read_head(&self, ra: &mut ReadAhead) -> Option<bool> {
            let (head, longer) = ra
                .read_head(&self.storage, &self.path, 68, self.len())
                .await
                .expect("head");
            assert_eq!(&head[..], &self.data[..68]);
            longer
        }
    }

    #[tokio::test]
    async fn sequential_reads_return_the_right_bytes_with_few_storage_calls() {
        let o = Object::new(1_000_000).await;
        let mut ra = ReadAhead::new(UNIT);
        // reads of 4 units, as FUSE's 128 KiB reads are 4 chunks
        o.read_to_end(&mut ra, 0, 4 * UNIT).await;
        // 250 reads; windows of 32, 64 and then 128 units: a few dozen fetches at most
        assert!(o.reads() <= 12, "{} storage reads for 250 reads", o.reads());
    }

    #[tokio::test]
    async fn reads_slightly_out_of_order_keep_the_read_ahead() {
        // The kernel's asynchronous reads: every pair of 4-unit reads arrives swapped.
        let o = Object::new(1000 * UNIT).await;
        let mut ra = ReadAhead::new(UNIT);
        let step = 4 * UNIT;
        let mut offset = 0;
        while offset + 2 * step <= o.data.len() {
            o.read(&mut ra, offset + step, step).await;
            o.read(&mut ra, offset, step).await;
            offset += 2 * step;
        }
        assert!(o.reads() <= 30, "{} storage reads for 250 reads", o.reads());
    }

    #[tokio::test]
    async fn window_sized_sequential_reads_still_fetch_ahead() {
        // `vault get` reads a first window's worth at a time: without read-ahead every read
        // would be its own round trip (10 here).
        let o = Object::new(320 * UNIT).await;
        let mut ra = ReadAhead::new(UNIT);
        o.read_to_end(&mut ra, 0, MIN_WINDOW_CHUNKS * UNIT).await;
        assert!(o.reads() <= 5, "{} storage reads for 10 reads", o.reads());
    }

    #[tokio::test]
    async fn over_local_storage_one_first_sized_window_is_in_flight() {
        // The mount daemon's memory: a file read front to back over a local folder holds
        // one window in use and one in flight, each at most a first window.
        let dir = tempfile::tempdir().expect("tempdir");
        let storage: Arc<dyn Storage> =
            Arc::new(vault_storage::local::LocalStorage::new(dir.path()).expect("local"));
        let path = StoragePath::new("f").expect("path");
        let data: Vec<u8> = (0..1000 * UNIT).map(|i| (i % 251) as u8).collect();
        storage
            .write(&path, Body::from_bytes(data.clone()), WriteMode::CreateNew)
            .await
            .expect("write");
        let mut ra = ReadAhead::for_storage(&*storage, UNIT);
        let mut offset = 0;
        while offset < data.len() {
            let got = ra
                .read(&storage, &path, offset as u64, 4 * UNIT, data.len() as u64)
                .await
                .expect("read");
            assert_eq!(&got[..], &data[offset..offset + 4 * UNIT], "at {offset}");
            assert!(
                ra.next.len() <= LOCAL_AHEAD,
                "{} windows in flight",
                ra.next.len()
            );
            let held = ra.buf.as_ref().map_or(0, |(_, b)| b.len());
            assert!(held <= MIN_WINDOW_CHUNKS * UNIT, "{held} bytes held");
            assert!(ra.next.iter().all(|f| f.len <= MIN_WINDOW_CHUNKS * UNIT));
            offset += 4 * UNIT;
        }
        // sequential reads still grew the window, to its local largest
        assert!(ra.window_chunks == LOCAL_MAX_WINDOW_CHUNKS);
    }

    #[tokio::test]
    async fn a_small_file_is_read_with_its_header_in_one_storage_read() {
        let o = Object::new(68 + 20 * UNIT).await;
        let mut ra = ReadAhead::new(UNIT);
        assert_eq!(o.read_head(&mut ra).await, Some(false), "read to its end");
        o.read_to_end(&mut ra, 68, 4 * UNIT).await;
        assert_eq!(o.reads(), 1, "header and content in one read");
        // A caller believing the object shorter learns it is longer from the same read.
        let mut ra = ReadAhead::new(UNIT);
        let (_, longer) = ra
            .read_head(&o.storage, &o.path, 68, o.len() - 1)
            .await
            .expect("head");
        assert_eq!(longer, Some(true));
    }

    #[tokio::test]
    async fn a_large_file_fetches_only_a_head_window_with_its_header() {
        let o = Object::new(68 + 500 * UNIT).await;
        let mut ra = ReadAhead::new(UNIT);
        assert_eq!(o.read_head(&mut ra).await, None, "not read to its end");
        o.read(&mut ra, 68, 2 * UNIT).await;
        assert_eq!(o.reads(), 1, "the first chunks came with the header");
        // a jump far ahead reads exactly what it asks for
        o.read(&mut ra, 68 + 400 * UNIT, UNIT).await;
        assert_eq!(o.reads(), 2);
    }

    #[tokio::test]
    async fn random_reads_fetch_exactly_what_they_ask_for() {
        let o = Object::new(200_000).await;
        let mut ra = ReadAhead::new(UNIT);
        for &offset in &[150_000usize, 3_000, 90_000, 10, 199_000] {
            o.read(&mut ra, offset, 1000).await;
        }
        tokio::task::yield_now().await;
        assert_eq!(o.reads(), 5, "no background fetch");
    }

    #[tokio::test]
    async fn reads_straddling_a_window_edge_join_both_windows() {
        let o = Object::new(300_000).await;
        let mut ra = ReadAhead::new(UNIT);
        // 3-unit reads do not divide a 32-unit window: every 11th read straddles an edge
        o.read_to_end(&mut ra, 0, 3 * UNIT).await;
    }

    #[tokio::test]
    async fn a_changed_version_is_never_served_from_an_old_window() {
        let o = Object::new(100_000).await;
        let mut ra = ReadAhead::new(UNIT);
        o.read(&mut ra, 0, UNIT).await;
        o.read(&mut ra, UNIT, UNIT).await;
        let new = vec![7u8; o.data.len()];
        o.storage
            .write(&o.path, Body::from_bytes(new.clone()), WriteMode::Overwrite)
            .await
            .expect("overwrite");
        ra.clear();
        let got = ra
            .read(&o.storage, &o.path, 2 * UNIT as u64, UNIT, o.len())
            .await
            .expect("read");
        assert_eq!(&got[..], &new[2 * UNIT..3 * UNIT]);
    }

    #[tokio::test]
    async fn a_failed_background_fetch_falls_back_to_a_direct_read() {
        let o = Object::new(300_000).await;
        let mut ra = ReadAhead::new(UNIT);
        o.read(&mut ra, 0, UNIT).await;
        // sequential: fetches a window and starts the next one
        o.read(&mut ra, UNIT, UNIT).await;
        // let the background fetch fail, then come back
        o.memory.set_unavailable(true);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        o.memory.set_unavailable(false);
        o.read_to_end(&mut ra, 2 * UNIT, UNIT).await;
    }
}
