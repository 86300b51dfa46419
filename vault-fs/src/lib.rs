//! The drive: filesystem verbs over the vault engine (`ops`, platform-neutral)
//! and the FUSE adapter that mounts them (`fuse`, Linux).
//!
//! CONTRACT for the CLI: [`MountOptions`], [`mount`], [`MountSession`],
//! [`StopHandle`], [`unmount`], [`mounted_vaults`].
//!
//! `extra_options` (`-o`) understood by [`mount`]: `ro`, `rw`, `nonempty`,
//! `allow_other`, `allow_root` (root and the owner only; not with `allow_other`),
//! `default_permissions` (the kernel checks modes; on by itself wherever it could refuse
//! anything: other users admitted, `uid=`, modes denying the owner), `uid=N`,
//! `gid=N`, `umask=OCT`, `fmask=OCT`, `dmask=OCT`, `file_mode=OCT`,
//! `dir_mode=OCT`, `attr_timeout=SECS`, `entry_timeout=SECS`,
//! `io_timeout=SECS` (bound on every storage call, default 120; past it the
//! request fails with EIO), `symlinks=all|inside|none` (which symlink targets
//! `readlink` returns; default `inside`, see [`ops::SymlinkPolicy`]), `noatime`, `nodiratime`, `exec`, `noexec`, `sync`,
//! `dirsync`, and fstab's `noauto`, `nofail`, `user`, `users`, `_netdev`.
//! Anything else is refused.

pub mod ops;

#[cfg(target_os = "linux")]
pub mod fuse;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use vault_engine::Vault;

/// How to mount.
#[derive(Debug, Clone)]
pub struct MountOptions {
    /// Refuse every write with EROFS.
    pub read_only: bool,
    /// Let other users access the mount (`allow_other`).
    pub allow_other: bool,
    /// Mount a non-empty mountpoint (otherwise refused).
    pub allow_non_empty: bool,
    /// Extra `-o` options, comma-split.
    pub extra_options: Vec<String>,
    /// Kernel attribute cache timeout.
    pub attr_timeout: Duration,
    /// Kernel entry cache timeout.
    pub entry_timeout: Duration,
    /// Unmount after this long without access (`--idle`).
    pub idle_timeout: Option<Duration>,
    /// Shown as the mount's source in /proc/mounts (never a secret), e.g. the STORAGE.
    pub fs_name: String,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            read_only: false,
            allow_other: false,
            allow_non_empty: false,
            extra_options: Vec::new(),
            attr_timeout: Duration::from_secs(1),
            entry_timeout: Duration::from_secs(1),
            idle_timeout: None,
            fs_name: "vault".into(),
        }
    }
}

/// Errors of mounting and unmounting.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// The mountpoint is not an empty directory and `allow_non_empty` is off.
    #[error("mountpoint {0} is not empty (use -o nonempty to mount over it)")]
    NotEmpty(PathBuf),
    /// The mountpoint does not exist or is not a directory.
    #[error("mountpoint {0} is not a directory")]
    NotADirectory(PathBuf),
    /// Nothing of ours is mounted there.
    #[error("{0} is not a mounted vault")]
    NotMounted(PathBuf),
    /// The kernel or fusermount3 refused.
    #[error("mount failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A live mount, owned by the process that serves it. Dropping it flushes and
/// unmounts. `wait` blocks until the mount ends: unmounted from outside,
/// `--idle` expired, or SIGINT/SIGTERM (then flushes and unmounts cleanly);
/// `unmount` flushes every open file and unmounts.
#[cfg(target_os = "linux")]
pub use fuse::MountSession;
#[cfg(target_os = "linux")]
pub use fuse::malloc::limit_malloc_arenas;

/// Ends a [`MountSession`]'s `wait` from elsewhere (auto-lock), as SIGTERM does.
#[cfg(target_os = "linux")]
pub use fuse::StopHandle;

/// What ended a mount (`MountSession::wait_ended`).
#[cfg(target_os = "linux")]
pub use fuse::EndedBy;

/// Mounts `vault` at `mountpoint`; returns once the mount answers requests.
/// Storage calls run on `runtime`; FUSE requests never block each other.
#[cfg(target_os = "linux")]
pub fn mount(
    vault: Arc<Vault>,
    mountpoint: &Path,
    options: MountOptions,
    runtime: tokio::runtime::Handle,
) -> Result<MountSession, MountError> {
    fuse::mount(vault, mountpoint, options, runtime)
}

/// Unmounts a vault mounted at `mountpoint` (`fusermount3 -u`); with `force`
/// also clears a stale mount whose daemon died ("Transport endpoint is not connected").
#[cfg(target_os = "linux")]
pub fn unmount(mountpoint: &Path, force: bool) -> Result<(), MountError> {
    fuse::unmount(mountpoint, force)
}

/// One mounted vault of this user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountedVault {
    /// The mountpoint.
    pub mountpoint: PathBuf,
    /// The source (STORAGE) as given at mount time.
    pub source: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// This user's mounted vaults (from /proc/self/mountinfo, type `fuse.vault`).
#[cfg(target_os = "linux")]
pub fn mounted_vaults() -> Vec<MountedVault> {
    fuse::mounted_vaults()
}
