//! The hops of one connection: the jump hosts (`ProxyJump`, `-J`) and the server itself.
//!
//! Each hop is a full SSH session checked and logged in like a direct connection; the
//! first one runs over TCP or a proxy command's pipes, every later one over a
//! `direct-tcpip` channel of the hop before it. A reconnect builds the whole chain anew.

use std::path::PathBuf;
use std::sync::Arc;

use russh::client;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{ClientHandler, ConnCtx, bounded, map_russh};
use crate::hostkey::HostKeys;
use crate::proxy::{ProxyChild, spawn_proxy_command};
use crate::{SftpConfig, SftpError};

/// One SSH login on the way to the server.
pub(crate) struct Hop {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub identity_files: Vec<PathBuf>,
    /// known_hosts and the key pinned for this hop.
    pub host_keys: Arc<HostKeys>,
}

impl Hop {
    /// The jump hosts of `cfg`, outermost first.
    pub fn jumps(cfg: &SftpConfig) -> Vec<Hop> {
        cfg.proxy_jump
            .iter()
            .map(|j| Hop {
                host: j.host.clone(),
                port: j.port,
                user: j.user.clone(),
                identity_files: j.identity_files.clone(),
                host_keys: Arc::new(HostKeys::for_name(cfg, j.known_hosts_name())),
            })
            .collect()
    }

    /// The server of `cfg` itself.
    pub fn target(cfg: &SftpConfig) -> Hop {
        Hop {
            host: cfg.host.clone(),
            port: cfg.port,
            user: cfg.user.clone(),
            identity_files: cfg.identity_files.clone(),
            host_keys: Arc::new(HostKeys::new(cfg)),
        }
    }

    /// `host:port`.
    pub fn hostport(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// `user@host`, as in the `[sftp USER@HOST]` mark of this hop's questions.
    pub fn user_at_host(&self) -> String {
        format!("{}@{}", self.user, self.host)
    }
}

/// A byte stream an SSH session runs over.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}
pub(crate) type Transport = Box<dyn Stream>;

/// What carries the server's session: closed and killed when the connection is dropped.
#[derive(Default)]
pub(crate) struct Carriers {
    /// The jump hosts' sessions, outermost first.
    pub jumps: Vec<client::Handle<ClientHandler>>,
    /// The proxy command, if one was used (held only to be killed on drop).
    pub _proxy: Option<ProxyChild>,
}

impl Carriers {
    /// Says goodbye to each jump host, innermost first (bounded by the caller).
    pub async fn disconnect(&self) {
        for j in self.jumps.iter().rev() {
            let _ = j
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await;
        }
    }
}

impl ConnCtx {
    /// The stream to the first hop: the proxy command (only without jump hosts, as in ssh:
    /// the two compete) or a TCP connection.
    pub(super) async fn first_transport(&self) -> Result<(Transport, Carriers), SftpError> {
        let first = self.jumps.first().unwrap_or(&self.target);
        let hostport = first.hostport();
        if self.jumps.is_empty()
            && let Some(cmd) = &self.cfg.proxy_command
        {
            tracing::debug!("connecting through ProxyCommand");
            let (stream, child) = spawn_proxy_command(cmd, &hostport)?;
            let carriers = Carriers {
                jumps: Vec::new(),
                _proxy: Some(child),
            };
            return Ok((Box::new(stream), carriers));
        }
        let stream = tokio::time::timeout(
            self.cfg.connect_timeout,
            tokio::net::TcpStream::connect((first.host.as_str(), first.port)),
        )
        .await
        .map_err(|_| SftpError::Unreachable {
            host: hostport.clone(),
            reason: "connect timed out".into(),
        })?
        .map_err(|e| SftpError::Unreachable {
            host: hostport.clone(),
            reason: e.to_string(),
        })?;
        let _ = stream.set_nodelay(true);
        Ok((Box::new(stream), Carriers::default()))
    }

    /// A `direct-tcpip` channel of `via`'s session to `next`: the next hop's transport.
    pub(super) async fn forward(
        &self,
        via_handle: &client::Handle<ClientHandler>,
        via: &Hop,
        next: &Hop,
    ) -> Result<Transport, SftpError> {
        let open = via_handle.channel_open_direct_tcpip(
            next.host.clone(),
            u32::from(next.port),
            "127.0.0.1",
            0,
        );
        let refused = |reason: String| SftpError::Unreachable {
            host: next.hostport(),
            reason: format!("jump host {} did not connect: {reason}", via.user_at_host()),
        };
        let ch = bounded(&self.activity, self.cfg.connect_timeout, open)
            .await
            .ok_or_else(|| refused("timed out".into()))?
            .map_err(|e| match e {
                russh::Error::ChannelOpenFailure(r) => refused(format!("{r:?}")),
                other => map_russh(other, &via.hostport()),
            })?;
        Ok(Box::new(ch.into_stream()))
    }
}
