//! Sequential reads as one streaming GET: a read that starts where the
//! previous read of the same object ended (or at most its own length past
//! that end: the window after it arrived first) opens `GET` with
//! `Range: bytes=N-` at that end and keeps the body; the reads after it take their bytes from that body
//! instead of one ranged GET each (a server that copies the whole object per
//! ranged GET then copies it once).
//!
//! The engine's read-ahead asks for the next windows in parallel, so reads of
//! one object arrive slightly out of order. One stream per object serves
//! them all, one at a time: a read at or ahead of the stream's position
//! reads on to it, keeping the bytes it passes over (the window asked for
//! just before it will want them); a read of kept bytes is served from them;
//! a read behind what is kept gets its own ranged GET and leaves the stream
//! as it is; a read far ahead (a seek) ends the stream.
//!
//! Bounded: at most [`MAX_STREAMS`] streams, each keeping at most
//! [`MAX_KEPT`] bytes passed over; a stream is dropped after [`IDLE`]
//! without a read, when this backend writes, removes or renames anything
//! (the object may have changed), and on any error (the read then falls back
//! to a ranged GET, which reports what is wrong). The server's
//! `Content-Range` is checked, and a body longer or shorter than it said
//! breaks the stream: reads never take more than they asked for.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::range::ContentRange;

/// Streams kept at once (each holds one connection).
const MAX_STREAMS: usize = 4;
/// A stream unread this long is dropped (and with it its connection).
const IDLE: Duration = Duration::from_secs(5);
/// Reads remembered as "where the last read of this key ended".
const MAX_ENDS: usize = 16;
/// Bytes a stream keeps that it passed over for a read further on, and so
/// how far ahead of its position a read may start and still be served:
/// 16 MiB, twice the read-ahead's two largest windows.
pub(crate) const MAX_KEPT: usize = 16 << 20;

/// One open streaming GET of an object.
pub(crate) struct Stream {
    key: String,
    used: StdMutex<Instant>,
    /// Where the bytes the stream can still serve begin, as of its last read
    /// (read without waiting for the body's lock).
    serves_from: AtomicU64,
    body: Arc<Mutex<Body>>,
}

/// The state of a stream, locked by one read at a time.
pub(crate) struct Body {
    /// The response being read; `None` before it is opened and once it ended
    /// (the stream then still answers a read at the end, which finds nothing
    /// there, without a request: how a reader learns the object did not grow).
    response: Option<reqwest::Response>,
    /// False until opened, and again once broken (every read then falls back).
    ok: bool,
    /// Offset of the first byte of `rest` (the next byte the body yields).
    pos: u64,
    /// End of the object (exclusive), as the server's `Content-Range` said.
    end: u64,
    /// Bytes received and not yet handed out, at `pos`.
    rest: Bytes,
    /// Bytes passed over for a read further on: `[kept_at, kept_at + kept_len)`,
    /// at or before `pos` (the bytes between were handed out).
    kept: VecDeque<Bytes>,
    kept_at: u64,
    kept_len: usize,
}

/// What a stream did with a read.
pub(crate) enum Served {
    /// The bytes (fewer only at the object's end).
    Bytes(Bytes),
    /// Behind what the stream kept: read it elsewhere; the stream stays.
    Behind,
    /// Far ahead, behind a stream that has ended, or the stream broke: read
    /// elsewhere; the stream is done.
    Done,
}

#[derive(Default)]
struct State {
    open: Vec<Arc<Stream>>,
    /// Where recent plain ranged reads ended: (key, end, when).
    ends: Vec<(String, u64, Instant)>,
}

#[derive(Default)]
pub(crate) struct Streams {
    state: StdMutex<State>,
}

/// What a read should do.
pub(crate) enum Plan {
    /// Read through this stream.
    Use(Arc<Stream>),
    /// Open this new stream (locked until it is) at the given offset: where
    /// the previous read ended, at or at most the read's length before the
    /// read (the read-ahead's next window can arrive before the one it
    /// follows: the stream then keeps the bytes between for that one).
    Open(Arc<Stream>, OwnedMutexGuard<Body>, u64),
    /// A plain ranged GET.
    Ranged,
}

impl Streams {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves only a cache: go on with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Decides how to read `len` bytes of `key` at `offset`.
    pub(crate) fn plan(&self, key: &str, offset: u64, len: usize) -> Plan {
        let mut s = self.lock();
        s.open.retain(|o| o.idle() < IDLE);
        s.ends.retain(|(_, _, at)| at.elapsed() < IDLE);
        let follows = s
            .ends
            .iter()
            .position(|(k, end, _)| k == key && *end == offset);
        if let Some(i) = s.open.iter().position(|o| o.key == key) {
            let behind = offset < s.open[i].serves_from.load(Ordering::Relaxed);
            if !(behind && follows.is_some()) {
                return Plan::Use(Arc::clone(&s.open[i]));
            }
            // A new sequential run behind the stream: it takes the stream's place.
            s.open.swap_remove(i);
        }
        let near = |end: u64| end <= offset && offset - end <= len as u64;
        let Some(follows) =
            follows.or_else(|| s.ends.iter().position(|(k, end, _)| k == key && near(*end)))
        else {
            return Plan::Ranged;
        };
        let (_, at, _) = s.ends.swap_remove(follows);
        let body = Arc::new(Mutex::new(Body {
            response: None,
            ok: false,
            pos: at,
            end: at,
            rest: Bytes::new(),
            kept: VecDeque::new(),
            kept_at: at,
            kept_len: 0,
        }));
        let Ok(guard) = Arc::clone(&body).try_lock_owned() else {
            return Plan::Ranged;
        };
        let stream = Arc::new(Stream {
            key: key.to_owned(),
            used: StdMutex::new(Instant::now()),
            serves_from: AtomicU64::new(at),
            body,
        });
        if s.open.len() >= MAX_STREAMS {
            // The least recently used goes.
            if let Some(i) = (0..s.open.len()).max_by_key(|&i| s.open[i].idle()) {
                s.open.swap_remove(i);
            }
        }
        s.open.push(Arc::clone(&stream));
        Plan::Open(stream, guard, at)
    }

    /// Remembers where a plain ranged read ended.
    pub(crate) fn ended(&self, key: &str, end: u64) {
        let mut s = self.lock();
        s.ends.retain(|(k, _, _)| k != key);
        if s.ends.len() >= MAX_ENDS {
            s.ends.remove(0);
        }
        s.ends.push((key.to_owned(), end, Instant::now()));
    }

    /// Drops `stream` (it is done).
    pub(crate) fn remove(&self, stream: &Arc<Stream>) {
        self.lock().open.retain(|o| !Arc::ptr_eq(o, stream));
    }

    /// Drops what is kept for `key` (it was written).
    pub(crate) fn forget(&self, key: &str) {
        let mut s = self.lock();
        s.open.retain(|o| o.key != key);
        s.ends.retain(|(k, _, _)| k != key);
    }

    /// Drops every stream and every remembered end (something was removed or renamed).
    pub(crate) fn clear(&self) {
        let mut s = self.lock();
        s.open.clear();
        s.ends.clear();
    }

    /// Streams open now (for tests of the bounds).
    #[cfg(test)]
    fn open_count(&self) -> usize {
        self.lock().open.len()
    }
}

impl Stream {
    fn idle(&self) -> Duration {
        self.used.lock().map_or(Duration::ZERO, |u| u.elapsed())
    }

    /// Serves `len` bytes at `offset` (waiting for reads before it).
    pub(crate) async fn serve(&self, offset: u64, len: usize) -> Served {
        let mut body = self.body.lock().await;
        let served = body.serve(offset, len).await;
        self.serves_from
            .store(body.serves_from(), Ordering::Relaxed);
        if matches!(served, Served::Bytes(_))
            && let Ok(mut u) = self.used.lock()
        {
            *u = Instant::now();
        }
        served
    }
}

impl Body {
    /// Takes the answer to `GET` with `Range: bytes=pos-`: streamed from
    /// only if it is the range asked for (a server answering 200, ignoring
    /// the range, is not). False if not.
    pub(crate) fn open(&mut self, response: reqwest::Response) -> bool {
        match ContentRange::of(&response) {
            Ok(r) if r.start == self.pos && r.total == Some(r.end) => {
                self.end = r.end;
                self.response = Some(response);
                self.ok = true;
                true
            }
            Ok(r) => {
                tracing::debug!(
                    ?r,
                    at = self.pos,
                    "S3 streaming GET not used: another range"
                );
                false
            }
            Err(f) => {
                tracing::debug!("S3 streaming GET not used: {f:?}");
                false
            }
        }
    }

    /// Where the bytes this stream can still serve begin.
    fn serves_from(&self) -> u64 {
        if self.kept_len == 0 {
            self.pos
        } else {
            self.kept_at
        }
    }

    fn kept_end(&self) -> u64 {
        self.kept_at + self.kept_len as u64
    }

    /// Up to `max` bytes at `pos` from the body. `None`: the body broke,
    /// ended early or ran past the end the server announced.
    async fn pull(&mut self, max: usize) -> Option<Bytes> {
        if self.rest.is_empty() {
            let response = self.response.as_mut()?;
            match response.chunk().await {
                Ok(Some(chunk)) => self.rest = chunk,
                Ok(None) => {
                    tracing::debug!(
                        at = self.pos,
                        end = self.end,
                        "S3 streaming GET ended early"
                    );
                    return None;
                }
                Err(e) => {
                    tracing::debug!("S3 streaming GET broke off: {}", e.without_url());
                    return None;
                }
            }
        }
        if self.pos + self.rest.len() as u64 > self.end {
            tracing::debug!(end = self.end, "S3 streaming GET sent more than its range");
            return None;
        }
        let bytes = self.rest.split_to(max.min(self.rest.len()));
        self.pos += bytes.len() as u64;
        if self.pos == self.end {
            // All there is: let the connection go back to the pool.
            self.response = None;
        }
        Some(bytes)
    }

    /// Keeps bytes passed over (they were at `at`), dropping the oldest
    /// beyond [`MAX_KEPT`]. What was kept is dropped unless the new bytes
    /// follow it directly.
    fn keep(&mut self, at: u64, bytes: Bytes) {
        if self.kept_len == 0 || self.kept_end() != at {
            self.kept.clear();
            self.kept_len = 0;
            self.kept_at = at;
        }
        self.kept_len += bytes.len();
        self.kept.push_back(bytes);
        if self.kept_len > MAX_KEPT {
            self.drop_kept_front(self.kept_len - MAX_KEPT);
        }
    }

    fn drop_kept_front(&mut self, n: usize) {
        let before = self.kept_len;
        drop_front(&mut self.kept, &mut self.kept_len, n);
        self.kept_at += (before - self.kept_len) as u64;
    }

    async fn serve(&mut self, offset: u64, len: usize) -> Served {
        if !self.ok {
            return Served::Done;
        }
        if offset >= self.end {
            return Served::Bytes(Bytes::new());
        }
        let want_end = offset.saturating_add(len as u64).min(self.end);
        let mut out = BytesMut::with_capacity(((want_end - offset) as usize).min(8 << 20));
        if self.kept_len > 0 && offset >= self.kept_at && offset < self.kept_end() {
            // Kept for this read; bytes past what is kept come from the body
            // only if it goes on right there.
            if want_end > self.kept_end() && self.kept_end() != self.pos {
                return Served::Behind;
            }
            let from = (offset - self.kept_at) as usize;
            let to = (want_end.min(self.kept_end()) - self.kept_at) as usize;
            copy_range(&self.kept, from, to, &mut out);
        } else if offset < self.pos {
            // An ended stream will serve nothing behind it again.
            return if self.response.is_some() {
                Served::Behind
            } else {
                Served::Done
            };
        } else if offset > self.pos + MAX_KEPT as u64 {
            return Served::Done;
        }
        while self.pos < offset {
            let at = self.pos;
            let Some(bytes) = self.pull((offset - at) as usize).await else {
                return self.broken();
            };
            self.keep(at, bytes);
        }
        while self.pos < want_end {
            let Some(bytes) = self.pull((want_end - self.pos) as usize).await else {
                return self.broken();
            };
            out.extend_from_slice(&bytes);
        }
        self.consumed(offset, want_end);
        Served::Bytes(out.freeze())
    }

    fn broken(&mut self) -> Served {
        self.ok = false;
        self.response = None;
        self.kept.clear();
        self.kept_len = 0;
        Served::Done
    }

    /// Drops kept bytes `[offset, end)` just handed out, where they are at
    /// either edge of what is kept (a read in the middle leaves them).
    fn consumed(&mut self, offset: u64, end: u64) {
        if self.kept_len == 0 || end <= self.kept_at || offset >= self.kept_end() {
            return;
        }
        if offset <= self.kept_at {
            let n = (end.min(self.kept_end()) - self.kept_at) as usize;
            self.drop_kept_front(n);
        } else if end >= self.kept_end() {
            let keep = (offset - self.kept_at) as usize;
            truncate(&mut self.kept, &mut self.kept_len, keep);
        }
    }
}

/// Drops the first `n` bytes of `chunks`.
fn drop_front(chunks: &mut VecDeque<Bytes>, len: &mut usize, mut n: usize) {
    while n > 0 {
        let Some(front) = chunks.front_mut() else {
            break;
        };
        if front.len() <= n {
            n -= front.len();
            *len -= front.len();
            chunks.pop_front();
        } else {
            let _ = front.split_to(n);
            *len -= n;
            n = 0;
        }
    }
}

/// Keeps the first `keep` bytes of `chunks`.
fn truncate(chunks: &mut VecDeque<Bytes>, len: &mut usize, keep: usize) {
    while *len > keep {
        let Some(back) = chunks.back_mut() else {
            break;
        };
        let over = *len - keep;
        if back.len() <= over {
            *len -= back.len();
            chunks.pop_back();
        } else {
            back.truncate(back.len() - over);
            *len = keep;
        }
    }
}

/// Appends bytes `[from, to)` of `chunks` to `out`.
fn copy_range(chunks: &VecDeque<Bytes>, from: usize, to: usize, out: &mut BytesMut) {
    let mut at = 0usize;
    for c in chunks {
        let (lo, hi) = (from.max(at), to.min(at + c.len()));
        if lo < hi {
            out.extend_from_slice(&c[lo - at..hi - at]);
        }
        at += c.len();
        if at >= to {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&[u8]]) -> (VecDeque<Bytes>, usize) {
        let d: VecDeque<Bytes> = parts.iter().map(|p| Bytes::copy_from_slice(p)).collect();
        let n = d.iter().map(Bytes::len).sum();
        (d, n)
    }

    fn flat(d: &VecDeque<Bytes>) -> Vec<u8> {
        d.iter().flat_map(|b| b.iter().copied()).collect()
    }

    #[test]
    fn kept_bytes_are_cut_and_copied_across_chunk_edges() {
        let (mut d, mut n) = chunks(&[b"abc", b"defg", b"hi"]);
        let mut out = BytesMut::new();
        copy_range(&d, 2, 7, &mut out);
        assert_eq!(&out[..], b"cdefg");
        drop_front(&mut d, &mut n, 4);
        assert_eq!((flat(&d), n), (b"efghi".to_vec(), 5));
        truncate(&mut d, &mut n, 2);
        assert_eq!((flat(&d), n), (b"ef".to_vec(), 2));
        drop_front(&mut d, &mut n, 10);
        assert_eq!(n, 0);
    }

    #[test]
    fn at_most_max_streams_are_open() {
        let s = Streams::default();
        for i in 0..10 {
            let key = format!("k{i}");
            s.ended(&key, 5);
            assert!(matches!(s.plan(&key, 5, 1), Plan::Open(..)));
        }
        assert_eq!(s.open_count(), MAX_STREAMS);
        assert!(
            matches!(s.plan("k9", 9, 1), Plan::Use(_)),
            "one stream per key"
        );
        s.ended("k9", 2);
        assert!(
            matches!(s.plan("k9", 2, 1), Plan::Open(..)),
            "a sequential run behind the stream replaces it"
        );
        assert_eq!(s.open_count(), MAX_STREAMS);
        s.ended("k9", 3);
        s.forget("k9");
        assert!(
            matches!(s.plan("k9", 3, 1), Plan::Ranged),
            "forgotten with its end"
        );
    }

    #[test]
    fn a_read_at_most_its_length_past_an_end_opens_the_stream_at_that_end() {
        let s = Streams::default();
        s.ended("a", 100);
        assert!(
            matches!(s.plan("a", 150, 40), Plan::Ranged),
            "more than its length past the end"
        );
        assert!(matches!(s.plan("a", 150, 50), Plan::Open(_, _, 100)));
        s.ended("b", 100);
        assert!(
            matches!(s.plan("b", 99, 50), Plan::Ranged),
            "behind the end"
        );
    }
}
