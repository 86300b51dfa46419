//! Keeps the bulk channel's data in flight near "throughput × 0.25 s".
//!
//! SSH multiplexes channels over one TCP stream, first come first served.
//! If a transfer queues a megabyte of SFTP writes on a 250 KB/s hotel link,
//! a listing request sent behind it waits four seconds, and each of its round
//! trips waits again. The pacer measures the acknowledged bulk rate and lets
//! only about a quarter second of it be outstanding (at least two chunks, at
//! most `chunk_size × pipeline_depth`), across all transfers of the
//! connection. On a fast link the budget grows within a few round trips to
//! the configured maximum, so throughput is unchanged; on a slow one the
//! queue ahead of a metadata request stays short.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Queue the pacer aims for, in seconds of measured throughput.
const TARGET_SECS: f64 = 0.25;
/// Rate samples are taken over at least this long.
const SAMPLE: Duration = Duration::from_millis(50);
/// Chunks allowed in flight before the first rate sample. With two, a fast long link
/// crawled through its first round trips (a transfer's first 256 KiB took four of them at
/// 80 ms); eight queue at most a second or so on a slow hotel link, once per connection.
const INITIAL_CHUNKS: usize = 8;

struct State {
    inflight: usize,
    rate: f64,
    sample_start: Instant,
    sample_bytes: usize,
}

pub(crate) struct Pacer {
    state: Mutex<State>,
    notify: Notify,
    min_bytes: usize,
    max_bytes: usize,
    initial_bytes: usize,
}

pub(crate) struct Permit<'a> {
    pacer: &'a Pacer,
    bytes: usize,
    acked: bool,
}

impl Permit<'_> {
    /// The request this permit covers was answered successfully.
    pub fn acked(mut self) {
        self.acked = true;
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.pacer.release(self.bytes, self.acked);
    }
}

impl Pacer {
    pub fn new(chunk: usize, depth: usize) -> Pacer {
        let max_bytes = chunk.saturating_mul(depth.max(2));
        Pacer {
            state: Mutex::new(State {
                inflight: 0,
                rate: 0.0,
                sample_start: Instant::now(),
                sample_bytes: 0,
            }),
            notify: Notify::new(),
            min_bytes: chunk.saturating_mul(2).min(max_bytes),
            max_bytes,
            initial_bytes: chunk.saturating_mul(INITIAL_CHUNKS).min(max_bytes),
        }
    }

    fn allowed(&self, st: &State) -> usize {
        if st.rate == 0.0 {
            return self.initial_bytes;
        }
        ((st.rate * TARGET_SECS) as usize).clamp(self.min_bytes, self.max_bytes)
    }

    /// A permit for `bytes` if the budget allows it now (always when nothing
    /// is in flight, so every transfer makes progress).
    pub fn try_acquire(&self, bytes: usize) -> Option<Permit<'_>> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.inflight == 0 {
            st.sample_start = Instant::now();
            st.sample_bytes = 0;
        } else if st.inflight + bytes > self.allowed(&st) {
            return None;
        }
        st.inflight += bytes;
        Some(Permit {
            pacer: self,
            bytes,
            acked: false,
        })
    }

    /// Waits for a permit.
    pub async fn acquire(&self, bytes: usize) -> Permit<'_> {
        loop {
            let notified = self.notify.notified();
            if let Some(p) = self.try_acquire(bytes) {
                return p;
            }
            notified.await;
        }
    }

    fn release(&self, bytes: usize, acked: bool) {
        {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.inflight = st.inflight.saturating_sub(bytes);
            if acked {
                st.sample_bytes += bytes;
                let dt = st.sample_start.elapsed();
                if dt >= SAMPLE {
                    let sample = st.sample_bytes as f64 / dt.as_secs_f64();
                    // Up at once (while the budget is what limits the transfer, each
                    // sample is about the budget per round trip, so a smoothed rise
                    // took many round trips to open a fast link), down smoothly.
                    st.rate = if sample > st.rate {
                        sample
                    } else {
                        0.7 * st.rate + 0.3 * sample
                    };
                    st.sample_start = Instant::now();
                    st.sample_bytes = 0;
                }
            }
        }
        self.notify.notify_waiters();
    }

    /// Current budget in bytes (for logs and tests).
    #[cfg(test)]
    pub fn budget(&self) -> usize {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.allowed(&st)
    }
}

/// A pacer permit for one request of `n` bytes: `Some(None)` without a pacer,
/// `None` when the budget is full and the caller has requests to wait on,
/// waiting for one when it has none.
pub(crate) async fn pace(
    pacer: Option<&Pacer>,
    n: usize,
    nothing_in_flight: bool,
) -> Option<Option<Permit<'_>>> {
    let Some(p) = pacer else { return Some(None) };
    match p.try_acquire(n) {
        Some(permit) => Some(Some(permit)),
        None if nothing_in_flight => Some(Some(p.acquire(n).await)),
        None => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn budget_follows_the_acknowledged_rate() {
        let p = Pacer::new(32 * 1024, 32);
        assert_eq!(p.budget(), 8 * 32 * 1024, "starts at eight chunks");
        // Slow link: 64 KiB acknowledged every 250 ms (~256 KB/s).
        for round in 0..8 {
            let a = p.try_acquire(32 * 1024).unwrap();
            let b = p.try_acquire(32 * 1024).unwrap();
            if round > 0 {
                assert!(p.try_acquire(32 * 1024).is_none(), "budget full");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            a.acked();
            b.acked();
        }
        assert!(
            p.budget() <= 96 * 1024,
            "slow link keeps a short queue: {}",
            p.budget()
        );
        // Fast link: acknowledgements come back at once (a transfer keeps
        // something in flight all along).
        let keep = p.try_acquire(1024).unwrap();
        for _ in 0..200 {
            let mut held = Vec::new();
            while let Some(x) = p.try_acquire(32 * 1024) {
                held.push(x);
                if held.len() == 32 {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            held.into_iter().for_each(Permit::acked);
        }
        assert_eq!(p.budget(), 32 * 32 * 1024, "fast link opens to the maximum");
        keep.acked();
    }
}
