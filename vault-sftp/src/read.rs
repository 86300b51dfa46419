//! The read path: pipelined reads of a byte range and the stall guard for replies.

use std::future::Future;

use bytes::{Bytes, BytesMut};
use futures::stream::{FuturesOrdered, StreamExt};
use russh_sftp::client::RawSftpSession;
use russh_sftp::client::error::Error as RawError;
use russh_sftp::protocol::StatusCode;

use crate::ops::OpError;
use crate::pacer::pace;
use crate::{Inner, Pacer, STALL_LIMIT};

impl Inner {
    pub(crate) async fn read_range(
        &self,
        sftp: &RawSftpSession,
        pacer: Option<&Pacer>,
        handle: &str,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, OpError> {
        let chunk = self.cfg().chunk_size.max(1024) as usize;
        let depth = self.cfg().pipeline_depth.max(1);
        let mut out = BytesMut::with_capacity(len.min(64 << 20));
        let mut next = 0usize; // next byte (relative) to request
        let mut inflight: FuturesOrdered<_> = FuturesOrdered::new();
        let mut eof = false;
        loop {
            while !eof && next < len && inflight.len() < depth {
                let n = chunk.min(len - next);
                let Some(permit) = pace(pacer, n, inflight.is_empty()).await else {
                    break;
                };
                let off = offset + next as u64;
                let h = handle.to_owned();
                inflight.push_back(async move {
                    let r = sftp.read(h, off, n as u32).await;
                    if let (Ok(_), Some(p)) = (&r, permit) {
                        p.acked();
                    }
                    (off, n, r)
                });
                next += n;
            }
            let Some((off, want, res)) = self.no_stall(inflight.next()).await? else {
                break;
            };
            if eof {
                continue;
            }
            match res {
                Ok(d) => {
                    // Never more than was asked for, whatever the server sends.
                    let got = d.data.len().min(want);
                    out.extend_from_slice(&d.data[..got]);
                    if got < want {
                        // Short read: either end of file or a server cap. Fill the
                        // gap in order; later replies already in flight are dropped
                        // and requested again.
                        let mut pos = off + got as u64;
                        let end = off + want as u64;
                        while pos < end {
                            let ask = sftp.read(handle.to_owned(), pos, (end - pos) as u32);
                            match self.no_stall(ask).await? {
                                Ok(d) if !d.data.is_empty() => {
                                    let n = d.data.len().min((end - pos) as usize);
                                    pos += n as u64;
                                    out.extend_from_slice(&d.data[..n]);
                                }
                                Ok(_) => {
                                    eof = true;
                                    break;
                                }
                                Err(RawError::Status(s)) if s.status_code == StatusCode::Eof => {
                                    eof = true;
                                    break;
                                }
                                Err(e) => return Err(e.into()),
                            }
                        }
                    }
                }
                Err(RawError::Status(s)) if s.status_code == StatusCode::Eof => eof = true,
                Err(e) => return Err(e.into()),
            }
            if eof {
                // Drain the rest without using their data.
                while inflight.next().await.is_some() {}
                break;
            }
        }
        Ok(out.freeze())
    }

    /// `reply`, unless the server sends nothing for [`STALL_LIMIT`] (or the request timeout,
    /// if shorter): then the operation fails without a retry on a new connection (the
    /// connection itself stays, for every other operation).
    pub(crate) async fn no_stall<T>(&self, reply: impl Future<Output = T>) -> Result<T, OpError> {
        let limit = STALL_LIMIT.min(self.cfg().request_timeout);
        tokio::time::timeout(limit, reply).await.map_err(|_| {
            OpError::Transport(
                format!("the server sent no reply for {}s", limit.as_secs()),
                true,
            )
        })
    }
}
