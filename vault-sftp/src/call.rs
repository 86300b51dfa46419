//! Running one request on the connection: waiting for or reconnecting the link, retrying
//! on a new connection, per-request timeouts, the two SFTP channels, and explaining bare
//! status answers.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use russh_sftp::client::RawSftpSession;
use russh_sftp::client::error::Error as RawError;
use russh_sftp::protocol::{FileAttributes, StatusCode};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::{debug, info, warn};
use vault_storage::{StorageError, StorageErrorKind, StoragePath};

use crate::ops::{Explain, OpError, Retry, status_error};
use crate::{Conn, Inner, Pacer, SftpConfig, replace};

impl Inner {
    pub(crate) fn cfg(&self) -> &SftpConfig {
        &self.ctx.cfg
    }

    pub(crate) fn notify(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    /// A live connection, reconnecting in the background if needed; waits
    /// until `deadline` at most.
    pub(crate) async fn conn(
        self: &Arc<Self>,
        deadline: Instant,
        path: &StoragePath,
    ) -> Result<Arc<Conn>, StorageError> {
        let mut rx = self.changed.subscribe();
        let mut start_epoch: Option<u64> = None;
        loop {
            {
                let mut st = self.state.lock().map_err(|_| {
                    StorageError::with_source(StorageErrorKind::Other, path, "state lock poisoned")
                })?;
                if let Some(c) = &st.conn {
                    if !c.is_dead() {
                        return Ok(c.clone());
                    }
                    st.conn = None;
                }
                if let Some(e0) = start_epoch
                    && st.epoch > e0
                    && !st.reconnecting
                    && let Some(err) = &st.last_error
                    && !err.is_transient()
                {
                    // The user's answer was refused (or the host key): report it.
                    return Err(StorageError::with_source(
                        err.storage_kind(),
                        path,
                        err.to_string(),
                    ));
                }
                if !st.reconnecting {
                    st.reconnecting = true;
                    let me = self.clone();
                    tokio::spawn(async move { me.reconnect_task().await });
                }
                start_epoch.get_or_insert(st.epoch);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => {
                    let why = self
                        .state
                        .lock()
                        .ok()
                        .and_then(|s| s.last_error.as_ref().map(|e| e.to_string()))
                        .unwrap_or_else(|| "connection lost, not back in time".into());
                    return Err(StorageError::with_source(
                        StorageErrorKind::Unavailable,
                        path,
                        why,
                    ));
                }
            }
        }
    }

    pub(crate) async fn reconnect_task(self: Arc<Self>) {
        let mut started = Instant::now();
        let mut delay = Duration::from_millis(250);
        loop {
            let asked_before = self.ctx.activity.asked.load(Ordering::SeqCst);
            let generation = match self.state.lock() {
                Ok(mut s) => {
                    s.generation += 1;
                    s.generation
                }
                Err(_) => return,
            };
            debug!(generation, "reconnecting");
            let result = self.ctx.establish(generation).await;
            if self.ctx.activity.asked.load(Ordering::SeqCst) != asked_before {
                // Time spent waiting for a person (a new code) is not network
                // time: the budget starts again after an attempt that asked.
                started = Instant::now();
            }
            let retry_later = {
                let Ok(mut st) = self.state.lock() else {
                    return;
                };
                match result {
                    Ok(conn) => {
                        info!(generation, "sftp connection re-established");
                        self.reconnects.fetch_add(1, Ordering::Relaxed);
                        let conn = Arc::new(conn);
                        conn.watch();
                        let orphans: Vec<String> = self
                            .temps
                            .lock()
                            .map(|mut t| {
                                let (old, keep): (Vec<_>, Vec<_>) =
                                    t.drain(..).partition(|(g, _)| *g < generation);
                                *t = keep;
                                old.into_iter().map(|(_, name)| name).collect()
                            })
                            .unwrap_or_default();
                        let backups = self.backups.take_older(generation);
                        if !orphans.is_empty() || !backups.is_empty() {
                            let c = conn.clone();
                            tokio::spawn(async move {
                                // Old versions first: a temp is never the only copy of an object.
                                replace::settle(&c.meta, backups).await;
                                for tmp in orphans {
                                    let r = c.meta.remove(tmp.clone()).await;
                                    debug!(%tmp, ok = r.is_ok(), "removed temp file of an interrupted write");
                                }
                            });
                        }
                        st.conn = Some(conn);
                        st.reconnecting = false;
                        st.last_error = None;
                        st.epoch += 1;
                        false
                    }
                    Err(e) if e.is_transient() && started.elapsed() < self.cfg().reconnect_wait => {
                        debug!("reconnect attempt failed: {e}");
                        st.last_error = Some(Arc::new(e));
                        true
                    }
                    Err(e) => {
                        warn!("reconnect failed: {e}");
                        st.last_error = Some(Arc::new(e));
                        st.reconnecting = false;
                        st.epoch += 1;
                        false
                    }
                }
            };
            if !retry_later {
                self.notify();
                return;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(3));
        }
    }

    /// Runs `op` on a live connection; retries it on a new connection after a
    /// transport failure when `retry` allows and time is left.
    pub(crate) async fn run<T, F, Fut>(
        self: &Arc<Self>,
        path: &StoragePath,
        retry: Retry,
        op: F,
    ) -> Result<T, StorageError>
    where
        F: Fn(Arc<Conn>) -> Fut,
        Fut: Future<Output = Result<T, OpError>>,
    {
        let deadline = Instant::now() + self.cfg().reconnect_wait;
        loop {
            let conn = self.conn(deadline, path).await?;
            let result = tokio::select! {
                r = op(conn.clone()) => r,
                () = conn.died() => Err(OpError::Transport("connection lost".into(), false)),
            };
            match result {
                Ok(v) => return Ok(v),
                Err(OpError::Status(code, msg)) => return Err(status_error(path, code, msg)),
                Err(OpError::Storage(e)) => return Err(e),
                Err(OpError::Transport(msg, timed_out)) => {
                    if !timed_out || conn.is_dead() {
                        conn.broken.store(true, Ordering::Relaxed);
                    }
                    debug!(%path, %msg, generation = conn.generation, "transport failure");
                    if retry == Retry::Yes && !timed_out && Instant::now() < deadline {
                        continue;
                    }
                    return Err(StorageError::with_source(
                        StorageErrorKind::Unavailable,
                        path,
                        msg,
                    ));
                }
            }
        }
    }

    pub(crate) fn remote(conn: &Conn, path: &StoragePath) -> String {
        if path.is_root() {
            conn.root.clone()
        } else if conn.root == "/" {
            format!("/{}", path.as_str())
        } else {
            format!("{}/{}", conn.root, path.as_str())
        }
    }

    pub(crate) fn channel<'a>(
        &'a self,
        conn: &'a Conn,
        bulk: bool,
    ) -> (&'a RawSftpSession, &'a Arc<Semaphore>, Option<&'a Pacer>) {
        if bulk {
            (&conn.bulk, &self.bulk_handles, Some(&conn.pacer))
        } else {
            (&conn.meta, &self.meta_handles, None)
        }
    }

    /// Stat; `None` when the path does not exist.
    /// Runs one path request that must not be repeated on a new connection. OpenSSH folds
    /// many errnos into a bare "failure" or "no such file" status, so for the statuses
    /// `explain.look` names the path is stat'ed and `explain.cause` may name the real error
    /// from what is there; otherwise the status is reported as the server sent it.
    pub(crate) async fn request_explained<F, Fut>(
        self: &Arc<Self>,
        path: &StoragePath,
        explain: Explain,
        request: F,
    ) -> Result<(), StorageError>
    where
        F: Fn(Arc<Conn>, String) -> Fut,
        Fut: Future<Output = Result<(), RawError>>,
    {
        self.run(path, Retry::No, |conn| {
            let request = &request;
            async move {
                let remote = Inner::remote(&conn, path);
                match request(Arc::clone(&conn), remote.clone()).await {
                    Ok(()) => Ok(()),
                    Err(RawError::Status(s)) if (explain.look)(s.status_code) => {
                        let there = Inner::stat_opt(&conn.meta, &remote).await?;
                        match (explain.cause)(s.status_code, there.as_ref()) {
                            Some(kind) => {
                                Err(OpError::Storage(StorageError::new(kind, path.clone())))
                            }
                            None => Err(OpError::Status(s.status_code, s.error_message)),
                        }
                    }
                    Err(e) => Err(e.into()),
                }
            }
        })
        .await
    }

    pub(crate) async fn stat_opt(
        sftp: &RawSftpSession,
        remote: &str,
    ) -> Result<Option<FileAttributes>, OpError> {
        match sftp.stat(remote.to_owned()).await {
            Ok(a) => Ok(Some(a.attrs)),
            Err(RawError::Status(s)) if s.status_code == StatusCode::NoSuchFile => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
