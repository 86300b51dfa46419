//! Sequential reads as one streaming GET: a read that starts where the
//! previous read of the same object ended opens `GET` with `Range: bytes=N-`
//! and keeps the body; the reads after it take their bytes from that body
//! instead of one ranged GET each (a server that copies the whole object per
//! ranged GET then copies it once).
//!
//! Bounded: at most [`MAX_STREAMS`] bodies are kept; one is dropped on a
//! read elsewhere in its object, after [`IDLE`] without a read, when this
//! backend writes, removes or renames anything (the object may have changed),
//! and on any error (the read then falls back to a ranged GET). Reads never
//! take more than they asked for, so a server sending more cannot grow memory.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;
use tokio::sync::Mutex;

/// Open bodies kept at once (each holds one connection).
const MAX_STREAMS: usize = 4;
/// A body unread this long is dropped (and with it its connection).
const IDLE: Duration = Duration::from_secs(5);
/// Reads remembered as "where the last read of this key ended".
const MAX_ENDS: usize = 16;

struct Open {
    key: String,
    /// Offset of the next byte the body yields.
    pos: u64,
    rest: Bytes,
    body: reqwest::Response,
    used: Instant,
}

#[derive(Default)]
struct State {
    open: Vec<Open>,
    /// Where recent plain ranged reads ended: (key, end, when).
    ends: Vec<(String, u64, Instant)>,
}

#[derive(Default)]
pub(crate) struct Streams {
    state: Mutex<State>,
}

/// What a read should do.
pub(crate) enum Plan {
    /// Continue this open body.
    Continue(Box<OpenBody>),
    /// Open a streaming GET from the offset (the previous read ended there).
    Open,
    /// A plain ranged GET.
    Ranged,
}

/// An open body taken out of the pool for one read.
pub(crate) struct OpenBody(Open);

impl Streams {
    /// Decides how to read `key` at `offset`, taking a matching body out of
    /// the pool (no other read can use it meanwhile).
    pub(crate) async fn plan(&self, key: &str, offset: u64) -> Plan {
        let mut s = self.state.lock().await;
        s.open.retain(|o| o.used.elapsed() < IDLE);
        s.ends.retain(|(_, _, at)| at.elapsed() < IDLE);
        if let Some(i) = s.open.iter().position(|o| o.key == key && o.pos == offset) {
            return Plan::Continue(Box::new(OpenBody(s.open.swap_remove(i))));
        }
        // A read elsewhere in the object: its body is of no more use.
        s.open.retain(|o| o.key != key);
        let follows = s.ends.iter().any(|(k, end, _)| k == key && *end == offset);
        if follows { Plan::Open } else { Plan::Ranged }
    }

    /// Remembers where a plain ranged read ended.
    pub(crate) async fn ended(&self, key: &str, end: u64) {
        let mut s = self.state.lock().await;
        s.ends.retain(|(k, _, _)| k != key);
        if s.ends.len() >= MAX_ENDS {
            s.ends.remove(0);
        }
        s.ends.push((key.to_owned(), end, Instant::now()));
    }

    /// Keeps a body for the next read (unless it reached the object's end).
    pub(crate) async fn keep(&self, body: OpenBody) {
        let mut s = self.state.lock().await;
        if s.open.len() >= MAX_STREAMS {
            // The least recently used goes.
            if let Some(i) = (0..s.open.len()).min_by_key(|&i| s.open[i].used) {
                s.open.swap_remove(i);
            }
        }
        s.open.push(body.0);
    }

    /// Drops what is kept for `key` (it was written).
    pub(crate) async fn forget(&self, key: &str) {
        let mut s = self.state.lock().await;
        s.open.retain(|o| o.key != key);
        s.ends.retain(|(k, _, _)| k != key);
    }

    /// Drops every body and every remembered end (something was removed or renamed).
    pub(crate) async fn clear(&self) {
        let mut s = self.state.lock().await;
        s.open.clear();
        s.ends.clear();
    }
}

impl OpenBody {
    /// A body from a `GET` with `Range: bytes=offset-`, if it is one: a
    /// server answering 200 (ignoring the range) is not streamed from.
    pub(crate) fn new(key: &str, offset: u64, body: reqwest::Response) -> Option<OpenBody> {
        (body.status() == StatusCode::PARTIAL_CONTENT).then(|| {
            OpenBody(Open {
                key: key.to_owned(),
                pos: offset,
                rest: Bytes::new(),
                body,
                used: Instant::now(),
            })
        })
    }

    /// Up to `len` bytes (fewer only at the object's end); `None` on a
    /// transport error (the caller falls back to a ranged GET). The second
    /// value is false once the body is used up.
    pub(crate) async fn read(mut self, len: usize) -> Option<(Bytes, Option<OpenBody>)> {
        let mut out = BytesMut::with_capacity(len.min(8 << 20));
        let mut done = false;
        while out.len() < len {
            if self.0.rest.is_empty() {
                match self.0.body.chunk().await {
                    Ok(Some(chunk)) => self.0.rest = chunk,
                    Ok(None) => {
                        done = true;
                        break;
                    }
                    Err(e) => {
                        tracing::debug!("S3 streaming GET broke off: {e}");
                        return None;
                    }
                }
            }
            let take = self.0.rest.len().min(len - out.len());
            out.extend_from_slice(&self.0.rest.split_to(take));
        }
        self.0.pos += out.len() as u64;
        self.0.used = Instant::now();
        Some((out.freeze(), (!done).then_some(self)))
    }
}
