//! A hostile SFTP server for the tests: russh's server side, in the test process.
//!
//! Public keys are always refused; keyboard-interactive asks `Verification code: ` and takes
//! any answer until [`Hostile::turn`] is called. From then on every connection is dropped
//! and each new login is asked, in our own wording, for the vault password, the key
//! passphrase or a recovery key, in turn (then refused). Every answer the server receives is logged.
//! The SFTP subsystem is OpenSSH's `sftp-server` behind a packet filter: READDIR of one
//! chosen directory never ends (listings of 1000 long names, never EOF) and READ of one
//! chosen file is never answered.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use russh::server::{Auth, Handle, Handler, Msg, Response, Session};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the server saw and how it behaves; shared by every connection.
#[derive(Default)]
pub struct Shared {
    /// Every keyboard-interactive answer received.
    pub answers: Mutex<Vec<String>>,
    /// After [`Hostile::turn`]: ask for local secrets, refuse every login.
    pub hostile: AtomicBool,
    /// The questions of the hostile logins: each login asks the next one (a client gives up
    /// a login at the first question it cannot answer).
    pub bait: Mutex<Vec<String>>,
    hostile_logins: std::sync::atomic::AtomicUsize,
    /// Remote paths (as the client names them) whose READDIR never ends / READ never answers.
    pub endless_dir: Mutex<Option<String>>,
    pub silent_file: Mutex<Option<String>>,
    handles: Mutex<Vec<Handle>>,
    root: PathBuf,
}

/// A running server.
pub struct Hostile {
    pub port: u16,
    pub shared: Arc<Shared>,
    pub host_key_line: String,
    _rt: tokio::runtime::Runtime,
}

impl Hostile {
    /// Listens on 127.0.0.1 (ephemeral port); `root` is the folder sftp-server starts in.
    pub fn start(root: &Path, key_dir: &Path) -> Hostile {
        let key_file = key_dir.join("host_ed25519");
        let st = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key_file)
            .status()
            .unwrap();
        assert!(st.success());
        let pubkey = std::fs::read_to_string(key_file.with_extension("pub")).unwrap();
        let key = russh::keys::load_secret_key(&key_file, None).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            root: root.to_path_buf(),
            ..Default::default()
        });
        let config = Arc::new(russh::server::Config {
            keys: vec![key],
            auth_rejection_time: std::time::Duration::from_millis(10),
            auth_rejection_time_initial: Some(std::time::Duration::from_millis(0)),
            ..Default::default()
        });
        let s = shared.clone();
        rt.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let handler = Conn {
                    shared: s.clone(),
                    channels: Vec::new(),
                };
                let config = config.clone();
                let s = s.clone();
                tokio::spawn(async move {
                    if let Ok(running) = russh::server::run_stream(config, stream, handler).await {
                        s.handles.lock().unwrap().push(running.handle());
                        let _ = running.await;
                    }
                });
            }
        });
        let mut parts = pubkey.split_whitespace();
        let (kt, b64) = (parts.next().unwrap(), parts.next().unwrap());
        Hostile {
            port,
            shared,
            host_key_line: format!("[127.0.0.1]:{port} {kt} {b64}\n"),
            _rt: rt,
        }
    }

    /// From now on: drop every connection, ask for `bait` on each login, refuse it.
    pub fn turn(&self, bait: Vec<String>) {
        *self.shared.bait.lock().unwrap() = bait;
        self.shared.hostile.store(true, Ordering::SeqCst);
        self.drop_connections();
    }

    /// Ends every SSH connection.
    pub fn drop_connections(&self) {
        let handles = std::mem::take(&mut *self.shared.handles.lock().unwrap());
        for h in handles {
            self._rt.block_on(async {
                let _ = h
                    .disconnect(russh::Disconnect::ByApplication, "bye".into(), "".into())
                    .await;
            });
        }
    }

    pub fn answers(&self) -> Vec<String> {
        self.shared.answers.lock().unwrap().clone()
    }
}

struct Conn {
    shared: Arc<Shared>,
    channels: Vec<Channel<Msg>>,
}

impl Handler for Conn {
    type Error = russh::Error;

    async fn auth_none(&mut self, _user: &str) -> Result<Auth, Self::Error> {
        Ok(Auth::Reject {
            proceed_with_methods: Some(MethodSet::from(
                &[MethodKind::PublicKey, MethodKind::KeyboardInteractive][..],
            )),
            partial_success: false,
        })
    }

    async fn auth_publickey_offered(
        &mut self,
        _user: &str,
        _offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(Auth::Reject {
            proceed_with_methods: Some(MethodSet::from(&[MethodKind::KeyboardInteractive][..])),
            partial_success: false,
        })
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        _user: &str,
        _submethods: &str,
        response: Option<Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        let hostile = self.shared.hostile.load(Ordering::SeqCst);
        let Some(response) = response else {
            let prompts: Vec<(Cow<'static, str>, bool)> = if hostile {
                let bait = self.shared.bait.lock().unwrap();
                let n = self.shared.hostile_logins.fetch_add(1, Ordering::SeqCst);
                vec![(Cow::Owned(bait[n % bait.len()].clone()), false)]
            } else {
                vec![(Cow::Borrowed("Verification code: "), false)]
            };
            return Ok(Auth::Partial {
                name: Cow::Borrowed(""),
                instructions: Cow::Borrowed(""),
                prompts: Cow::Owned(prompts),
            });
        };
        for a in response {
            let text = String::from_utf8_lossy(&a).into_owned();
            self.shared.answers.lock().unwrap().push(text);
        }
        Ok(if hostile {
            Auth::reject()
        } else {
            Auth::Accept
        })
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.push(channel);
        reply.accept().await;
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        id: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(i) = self.channels.iter().position(|c| c.id() == id) else {
            session.channel_failure(id)?;
            return Ok(());
        };
        if name != "sftp" {
            session.channel_failure(id)?;
            return Ok(());
        }
        let channel = self.channels.swap_remove(i);
        session.channel_success(id)?;
        tokio::spawn(serve_sftp(channel, self.shared.clone()));
        Ok(())
    }
}

/// One SFTP packet: its bytes (length prefix included).
async fn read_packet(r: &mut (impl tokio::io::AsyncRead + Unpin)) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await.ok()?;
    let n = u32::from_be_bytes(len) as usize;
    let mut p = len.to_vec();
    p.resize(4 + n, 0);
    r.read_exact(&mut p[4..]).await.ok()?;
    Some(p)
}

/// The `string` at `at` in an SFTP packet.
fn string_at(p: &[u8], at: usize) -> Option<&[u8]> {
    let n = u32::from_be_bytes(p.get(at..at + 4)?.try_into().ok()?) as usize;
    p.get(at + 4..at + 4 + n)
}

fn id_of(p: &[u8]) -> u32 {
    u32::from_be_bytes(p[5..9].try_into().unwrap())
}

/// A NAME reply with 500 entries of 200-byte names (about 200 KB, under the client's
/// packet limit), never the last.
fn endless_names(id: u32, round: u64) -> Vec<u8> {
    let mut body = vec![104u8];
    body.extend_from_slice(&id.to_be_bytes());
    body.extend_from_slice(&500u32.to_be_bytes());
    for i in 0..500u64 {
        let name = format!("{round:016}-{i:08}-{}", "x".repeat(175));
        for s in [name.as_str(), name.as_str()] {
            body.extend_from_slice(&(s.len() as u32).to_be_bytes());
            body.extend_from_slice(s.as_bytes());
        }
        body.extend_from_slice(&0u32.to_be_bytes()); // no attributes
    }
    let mut p = (body.len() as u32).to_be_bytes().to_vec();
    p.extend_from_slice(&body);
    p
}

/// A handle the filter acts on: its bytes, and whether it is the endless directory (else
/// the silent file).
type Marked = (Vec<u8>, bool);

/// Proxies one SFTP channel to `sftp-server`, with the hostile filter.
async fn serve_sftp(channel: Channel<Msg>, shared: Arc<Shared>) {
    let mut child = match tokio::process::Command::new("/usr/lib/openssh/sftp-server")
        .arg("-d")
        .arg(&shared.root)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(_) => return,
    };
    let (mut to_server, mut from_server) =
        (child.stdin.take().unwrap(), child.stdout.take().unwrap());
    let (mut from_client, to_client) = tokio::io::split(channel.into_stream());
    let to_client = Arc::new(tokio::sync::Mutex::new(to_client));
    // Request ids whose HANDLE reply names an endless directory / a silent file.
    let pending: Arc<Mutex<Vec<(u32, bool)>>> = Arc::default();
    let marked: Arc<Mutex<Vec<Marked>>> = Arc::default();
    let (tc, pend, mark) = (to_client.clone(), pending.clone(), marked.clone());
    let replies = tokio::spawn(async move {
        while let Some(p) = read_packet(&mut from_server).await {
            if p.get(4) == Some(&102) {
                let id = id_of(&p);
                let mut pend = pend.lock().unwrap();
                if let Some(i) = pend.iter().position(|(pid, _)| *pid == id) {
                    let (_, endless) = pend.swap_remove(i);
                    if let Some(h) = string_at(&p, 9) {
                        mark.lock().unwrap().push((h.to_vec(), endless));
                    }
                }
            }
            if tc.lock().await.write_all(&p).await.is_err() {
                break;
            }
        }
    });
    let mut round = 0u64;
    while let Some(p) = read_packet(&mut from_client).await {
        let kind = p.get(4).copied().unwrap_or(0);
        match kind {
            // OPEN, OPENDIR: remember the request if it names a chosen path
            3 | 11 => {
                let path = string_at(&p, 9).map(|s| String::from_utf8_lossy(s).into_owned());
                let want = if kind == 11 {
                    shared.endless_dir.lock().unwrap().clone()
                } else {
                    shared.silent_file.lock().unwrap().clone()
                };
                if let (Some(path), Some(want)) = (path, want)
                    && path
                        .trim_end_matches('/')
                        .ends_with(want.trim_end_matches('/'))
                {
                    pending.lock().unwrap().push((id_of(&p), kind == 11));
                }
            }
            // CLOSE: sftp-server reuses handle strings
            4 => {
                let h = string_at(&p, 9).map(<[u8]>::to_vec);
                marked
                    .lock()
                    .unwrap()
                    .retain(|(m, _)| Some(m) != h.as_ref());
            }
            // READ of a silent file: never answered
            5 => {
                let h = string_at(&p, 9).map(<[u8]>::to_vec);
                if marked
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|(m, endless)| !endless && Some(m) == h.as_ref())
                {
                    continue;
                }
            }
            // READDIR of an endless directory: names, never EOF
            12 => {
                let h = string_at(&p, 9).map(<[u8]>::to_vec);
                if marked
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|(m, endless)| *endless && Some(m) == h.as_ref())
                {
                    round += 1;
                    let reply = endless_names(id_of(&p), round);
                    if to_client.lock().await.write_all(&reply).await.is_err() {
                        break;
                    }
                    continue;
                }
            }
            _ => {}
        }
        if to_server.write_all(&p).await.is_err() {
            break;
        }
    }
    replies.abort();
    let _ = child.kill().await;
}
