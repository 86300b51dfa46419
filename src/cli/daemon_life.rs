//! The mount daemon's life as a lock, so that `vault unmount` returns only once everything
//! written to the mount is stored.
//!
//! Why: the kernel lets go of a mount before the daemon has finished. A file created and closed
//! just before is stored when the kernel's RELEASE reaches the daemon, after close(2) returned,
//! and the daemon flushes every open file once the mount has ended. A script running
//! `vault unmount && vault get …`, or a machine switched off right after, must not miss it.
//!
//! The daemon holds an exclusive lock on `daemon-<hash of the mountpoint>.lock` (beside the
//! mount's `vault auth` socket, 0600) from its mount until it has finished; `vault unmount`
//! takes the same lock after the kernel unmount, which succeeds once the daemon let go or died.
//! A lock, not a pid: it cannot name another process, and a dead daemon never holds it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::reauth;

/// How long `vault unmount` waits for the daemon. Its own steps are bounded (each storage call
/// by the operation timeout, the upload queue by `drain_timeout`, waited for before this).
pub const UNMOUNT_WAIT: Duration = Duration::from_secs(120);
/// After this long without the daemon letting go, `vault unmount` says it is waiting.
const QUIET_FOR: Duration = Duration::from_secs(1);

fn lock_path(mountpoint: &Path) -> Option<PathBuf> {
    let auth = reauth::socket_path(&reauth::mount_key(mountpoint)).ok()?;
    let name = auth.file_name()?.to_str()?;
    let name = name
        .replacen("auth-", "daemon-", 1)
        .replace(".sock", ".lock");
    Some(auth.with_file_name(name))
}

/// Held by the daemon until it has stored everything; dropping it lets `vault unmount` return.
#[derive(Debug)]
pub struct DaemonLife {
    file: File,
    path: PathBuf,
}

impl DaemonLife {
    /// Takes the lock for `mountpoint` (None, with a log line, if it cannot: unmount then does
    /// not wait, as before).
    pub fn hold(mountpoint: &Path) -> Option<DaemonLife> {
        Self::hold_at(lock_path(mountpoint)?)
    }

    fn hold_at(path: PathBuf) -> Option<DaemonLife> {
        use std::os::unix::fs::OpenOptionsExt;
        let opened = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path);
        let file = match opened {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "daemon lock not taken: `vault unmount` will not wait for the last writes");
                return None;
            }
        };
        if let Err(e) = file.try_lock() {
            tracing::warn!(path = %path.display(), error = %e, "daemon lock held by another process");
            return None;
        }
        Some(DaemonLife { file, path })
    }
}

impl Drop for DaemonLife {
    fn drop(&mut self) {
        // Removed while still locked: a waiter that opened it gets the lock when it is dropped.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// How the wait for a daemon ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Waited {
    /// The daemon finished (or none held the lock).
    Finished,
    /// Still running after `limit`.
    StillRunning,
}

/// Waits (at most `limit`) until the daemon of `mountpoint` lets go of its lock; `on_slow` is
/// called once if that takes longer than a second.
pub fn wait_finished(mountpoint: &Path, limit: Duration, on_slow: impl FnMut()) -> Waited {
    match lock_path(mountpoint) {
        Some(path) => wait_finished_at(&path, limit, on_slow),
        None => Waited::Finished,
    }
}

fn wait_finished_at(path: &Path, limit: Duration, mut on_slow: impl FnMut()) -> Waited {
    let Ok(file) = File::open(path) else {
        // No daemon of ours (or one from before this lock existed).
        return Waited::Finished;
    };
    let start = Instant::now();
    let mut told = false;
    loop {
        if file.try_lock_shared().is_ok() {
            return Waited::Finished;
        }
        let waited = start.elapsed();
        if waited >= limit {
            return Waited::StillRunning;
        }
        if !told && waited >= QUIET_FOR {
            told = true;
            on_slow();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unmount_waits_until_the_daemon_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon-1.lock");
        assert_eq!(
            wait_finished_at(&path, Duration::from_millis(50), || {}),
            Waited::Finished,
            "no daemon: nothing to wait for"
        );
        let life = DaemonLife::hold_at(path.clone()).expect("lock taken");
        assert!(
            DaemonLife::hold_at(path.clone()).is_none(),
            "one daemon per mountpoint"
        );
        let mut slow = 0;
        assert_eq!(
            wait_finished_at(&path, Duration::from_millis(1200), || slow += 1),
            Waited::StillRunning
        );
        assert_eq!(slow, 1, "said once that it waits");
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(life);
        });
        let start = Instant::now();
        assert_eq!(
            wait_finished_at(&path, Duration::from_secs(10), || {}),
            Waited::Finished
        );
        assert!(start.elapsed() >= Duration::from_millis(250));
        t.join().unwrap();
        assert!(!path.exists(), "removed by the daemon");
    }
}
