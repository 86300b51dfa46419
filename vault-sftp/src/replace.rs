//! Replacing an object so that a dropped link never loses it.
//!
//! With `posix-rename@openssh.com` the server replaces atomically. Without it
//! (other servers, or OpenSSH with the extension hidden) a plain SFTP rename
//! refuses an existing target, and removing the target first leaves a moment
//! in which the new version exists only under a temporary name that the
//! reconnect clean-up and `vault check --repair` delete. Instead the old
//! object is renamed aside under a recognisable backup name
//! ([`vault_storage::backup`]), the new one renamed into place, and the
//! backup removed. At every point the target or its backup exists:
//! - a backup whose target is missing is renamed back after a reconnect (and
//!   by `vault check --repair` if this process never reconnects);
//! - a backup whose target exists is removed.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use russh_sftp::client::RawSftpSession;
use russh_sftp::client::error::Error as RawError;
use russh_sftp::protocol::StatusCode;
use tracing::{debug, warn};
use vault_storage::backup::replace_backup_name;

use crate::Inner;
use crate::ops::OpError;

/// Longest name the backup may have (the common limit of server file systems).
const MAX_NAME: usize = 255;

/// Backups that exist, or may exist, on the server because a replace has not
/// finished: (connection generation, target, backup).
#[derive(Default)]
pub(crate) struct PendingBackups(Mutex<Vec<(u64, String, String)>>);

impl PendingBackups {
    fn add(&self, generation: u64, target: &str, backup: &str) {
        if let Ok(mut v) = self.0.lock() {
            v.push((generation, target.to_owned(), backup.to_owned()));
        }
    }

    fn forget(&self, backup: &str) {
        if let Ok(mut v) = self.0.lock() {
            v.retain(|(_, _, b)| b != backup);
        }
    }

    /// Takes the backups left by connections older than `generation`.
    pub(crate) fn take_older(&self, generation: u64) -> Vec<(String, String)> {
        let Ok(mut v) = self.0.lock() else {
            return Vec::new();
        };
        let (old, keep): (Vec<_>, Vec<_>) = v.drain(..).partition(|(g, _, _)| *g < generation);
        *v = keep;
        old.into_iter().map(|(_, t, b)| (t, b)).collect()
    }
}

/// A tag that keeps the backups of concurrent replaces (other processes too) apart.
fn random_tag() -> u32 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    // RandomState is seeded from the OS per process and varies per instance.
    RandomState::new().hash_one((nanos, std::process::id())) as u32
}

/// A status answer means the server did not carry the request out.
fn answered(e: &RawError) -> bool {
    matches!(e, RawError::Status(_))
}

/// Replaces `to` with `from` without `posix-rename`, keeping the old `to`
/// under a backup name until `from` is in place (see the module docs).
pub(crate) async fn replace_keeping_old(
    sftp: &RawSftpSession,
    pending: &PendingBackups,
    generation: u64,
    from: &str,
    to: &str,
) -> Result<(), OpError> {
    match Inner::stat_opt(sftp, to).await? {
        // No old version: nothing to keep (plain SFTP rename never replaces).
        None => return rename(sftp, from, to).await,
        Some(a) if a.is_dir() => {
            return Err(OpError::Status(
                StatusCode::Failure,
                "target is a directory".into(),
            ));
        }
        Some(_) => {}
    }
    let (dir, name) = to.rsplit_once('/').unwrap_or(("", to));
    let Some(backup) =
        replace_backup_name(name, random_tag(), MAX_NAME).map(|b| format!("{dir}/{b}"))
    else {
        warn!(target = %to, "name too long for a replace backup: removing before renaming");
        remove_if_there(sftp, to).await?;
        return rename(sftp, from, to).await;
    };
    pending.add(generation, to, &backup);
    // 1. The old version aside.
    let had_old = match sftp.rename(to.to_owned(), backup.clone()).await {
        Ok(_) => true,
        Err(RawError::Status(s)) if s.status_code == StatusCode::NoSuchFile => {
            pending.forget(&backup);
            false
        }
        Err(e) => {
            if answered(&e) {
                pending.forget(&backup);
            }
            return Err(e.into());
        }
    };
    // 2. The new version into place.
    if let Err(e) = sftp.rename(from.to_owned(), to.to_owned()).await {
        if had_old && answered(&e) {
            // Refused: put the old version back (a reconnect or check does it otherwise).
            if sftp.rename(backup.clone(), to.to_owned()).await.is_ok() {
                pending.forget(&backup);
            }
        }
        return Err(e.into());
    }
    // 3. The old version is no longer needed. A failure here loses nothing: the
    // backup is removed after a reconnect or by `vault check --repair`.
    if had_old {
        match sftp.remove(backup.clone()).await {
            Ok(_) => pending.forget(&backup),
            Err(e) if answered(&e) => {
                pending.forget(&backup);
                warn!(%backup, error = %e, "could not remove the backup of a replaced object");
            }
            Err(e) => {
                debug!(%backup, error = %e, "backup removal cut off; done after the reconnect")
            }
        }
    }
    Ok(())
}

async fn rename(sftp: &RawSftpSession, from: &str, to: &str) -> Result<(), OpError> {
    sftp.rename(from.to_owned(), to.to_owned()).await?;
    Ok(())
}

async fn remove_if_there(sftp: &RawSftpSession, path: &str) -> Result<(), OpError> {
    match sftp.remove(path.to_owned()).await {
        Ok(_) => Ok(()),
        Err(RawError::Status(s)) if s.status_code == StatusCode::NoSuchFile => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// After a reconnect: finishes the replaces a dead connection cut off. A
/// backup whose target is missing is renamed back (the old version returns;
/// a retried write then replaces it again), one whose target exists is removed.
pub(crate) async fn settle(sftp: &RawSftpSession, backups: Vec<(String, String)>) {
    for (target, backup) in backups {
        let restored = match Inner::stat_opt(sftp, &target).await {
            Ok(Some(_)) => false,
            Ok(None) => sftp.rename(backup.clone(), target.clone()).await.is_ok(),
            Err(_) => continue,
        };
        if restored {
            debug!(%target, "old version restored after an interrupted replace");
            continue;
        }
        // The target exists (or appeared meanwhile): the backup is surplus.
        if let Ok(Some(_)) = Inner::stat_opt(sftp, &target).await {
            let r = sftp.remove(backup.clone()).await;
            debug!(%backup, ok = r.is_ok(), "removed the backup of an interrupted replace");
        }
    }
}
