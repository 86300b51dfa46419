//! FUSE mount helpers of the root crate's tests: is a folder mounted, is its mount daemon
//! running, wait for a condition, unmount when a test ends (also on panic), and a fixture vault
//! with an empty mountpoint beside it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{FixtureCopy, bin, copy_fixture};
#[allow(unused_imports)]
pub use test_support::wait::wait_until;

/// Whether `mp` is a mount point now (`/proc/self/mountinfo`, spaces escaped as the kernel
/// writes them).
pub fn is_mounted(mp: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mp = mp.to_str().unwrap().replace(' ', "\\040");
    mounts
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(mp.as_str()))
}

/// The pids of the `vault __mount-daemon` processes serving `mp`.
pub fn daemon_pids(mp: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmd.split(|&b| b == 0).collect();
        if args.contains(&b"__mount-daemon".as_slice())
            && args.contains(&mp.to_str().unwrap().as_bytes())
        {
            pids.push(pid);
        }
    }
    pids
}

/// Whether a mount daemon serving `mp` is running.
pub fn daemon_running(mp: &Path) -> bool {
    !daemon_pids(mp).is_empty()
}

/// Unmounts a mountpoint when dropped (also when the test panics).
pub struct MountGuard {
    path: PathBuf,
    /// `vault unmount` first (it flushes), before the lazy detach.
    graceful: bool,
}

impl MountGuard {
    /// When dropped: `vault unmount` (bounded to 60 s), then `fusermount3 -uz` if still mounted.
    pub fn new(path: PathBuf) -> MountGuard {
        MountGuard {
            path,
            graceful: true,
        }
    }

    /// When dropped: only the lazy `fusermount3 -uz` (for tests whose daemon may be killed or
    /// left without its storage).
    pub fn lazy(path: PathBuf) -> MountGuard {
        MountGuard {
            path,
            graceful: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn mounted(&self) -> bool {
        is_mounted(&self.path)
    }

    /// Waits (up to `timeout`) until the mount is there.
    #[track_caller]
    pub fn wait_mounted(&self, timeout: Duration) {
        let t = Instant::now();
        while !self.mounted() {
            assert!(t.elapsed() < timeout, "mount did not appear");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What a drop does: nothing if not mounted.
    pub fn unmount(&self) {
        if self.graceful && self.mounted() {
            let _ = Command::new("timeout")
                .args(["60", bin(), "unmount"])
                .arg(&self.path)
                .stdin(Stdio::null())
                .output();
        }
        if self.mounted() {
            let _ = Command::new("fusermount3")
                .arg("-uz")
                .arg(&self.path)
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        self.unmount();
    }
}

/// A copy of the `vault-v8` fixture and an empty `mnt` folder beside it; whatever is mounted
/// there is unmounted when dropped, before the temporary folder goes.
pub struct FuseVault {
    // (first: dropped before `fx` removes the folder)
    guard: MountGuard,
    pub fx: FixtureCopy,
    pub mnt: PathBuf,
}

impl FuseVault {
    /// Unmounted lazily (`fusermount3 -uz`) when dropped; see [`FuseVault::graceful`].
    pub fn new() -> FuseVault {
        assert!(
            Path::new("/dev/fuse").exists(),
            "these tests need /dev/fuse"
        );
        let fx = copy_fixture("vault-v8");
        let mnt = fx.tmp.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        FuseVault {
            guard: MountGuard::lazy(mnt.clone()),
            fx,
            mnt,
        }
    }

    /// Unmounted with `vault unmount` first when dropped.
    pub fn graceful(mut self) -> FuseVault {
        self.guard.graceful = true;
        self
    }

    pub fn mnt_str(&self) -> &str {
        self.mnt.to_str().unwrap()
    }
}
