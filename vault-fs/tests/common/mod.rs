//! Shared harness for the mount tests: a vault in a temp folder over
//! `LocalStorage`, mounted in-process with `vault_fs::mount`, unmounted by a
//! drop guard so a failing test leaves no stale mount.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vault_engine::{CreateOptions, OpenOptions, Vault};
use vault_format::CipherCombo;
use vault_fs::{MountOptions, MountSession};
use vault_storage::local::LocalStorage;

pub const PASSWORD: &str = "correct horse battery staple";

/// A mounted test vault. Fields drop in order: the mount first.
pub struct Mounted {
    session: Option<MountSession>,
    pub vault: Option<Arc<Vault>>,
    pub runtime: tokio::runtime::Runtime,
    pub storage: PathBuf,
    pub mnt: PathBuf,
    pub options: MountOptions,
    pub dir: tempfile::TempDir,
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn open_vault(runtime: &tokio::runtime::Runtime, storage: &Path, create: bool) -> Arc<Vault> {
    let backend: Arc<dyn vault_storage::Storage> =
        Arc::new(LocalStorage::new(storage).expect("local storage"));
    let vault = runtime.block_on(async {
        if create {
            Vault::create(
                backend,
                PASSWORD,
                CreateOptions {
                    cipher_combo: CipherCombo::SivGcm,
                    scrypt_cost: 1024,
                },
            )
            .await
        } else {
            Vault::unlock(backend, PASSWORD, OpenOptions::default()).await
        }
    });
    Arc::new(vault.expect("vault create/unlock"))
}

impl Mounted {
    /// A new vault, mounted with default options.
    pub fn new() -> Self {
        Self::with_options(MountOptions::default())
    }

    pub fn with_options(options: MountOptions) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("vault-fs-test")
            .tempdir()
            .expect("tempdir");
        let storage = dir.path().join("storage");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&storage).expect("storage dir");
        std::fs::create_dir(&mnt).expect("mnt dir");
        let runtime = runtime();
        let vault = open_vault(&runtime, &storage, true);
        let mut m = Mounted {
            session: None,
            vault: None,
            runtime,
            storage,
            mnt,
            options,
            dir,
        };
        m.mount_vault(vault);
        m
    }

    fn mount_vault(&mut self, vault: Arc<Vault>) {
        let session = vault_fs::mount(
            Arc::clone(&vault),
            &self.mnt,
            self.options.clone(),
            self.runtime.handle().clone(),
        )
        .expect("mount");
        self.vault = Some(vault);
        self.session = Some(session);
    }

    /// Unmounts (flushing everything).
    pub fn unmount(&mut self) {
        if let Some(session) = self.session.take() {
            session.unmount().expect("unmount");
        }
        self.vault = None;
    }

    /// Unmounts, unlocks the vault afresh from storage and mounts again.
    pub fn remount(&mut self) {
        self.unmount();
        let vault = open_vault(&self.runtime, &self.storage, false);
        self.mount_vault(vault);
    }

    /// Hands the live session to the test (for `wait`); the guard then only
    /// cleans up with `fusermount3 -uz` if the mount is still there.
    pub fn take_session(&mut self) -> MountSession {
        self.session.take().expect("mounted")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.mnt.join(rel)
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if self.session.is_none()
            && vault_fs::mounted_vaults()
                .iter()
                .any(|v| v.mountpoint == self.mnt)
        {
            let _ = Command::new("fusermount3")
                .arg("-uz")
                .arg(&self.mnt)
                .status();
        }
        if let Some(session) = self.session.take()
            && session.unmount().is_err()
        {
            let _ = Command::new("fusermount3")
                .arg("-uz")
                .arg(&self.mnt)
                .status();
        }
    }
}

/// Runs a shell command, panicking with its output on failure.
pub fn sh(cmd: &str, cwd: &Path) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(cmd)
        .current_dir(cwd)
        .output()
        .expect("spawn bash");
    assert!(
        out.status.success(),
        "command failed: {cmd}\nstatus: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A small deterministic PRNG (xorshift64*), so tests are reproducible by seed.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// A seed from `env` or the clock; printed so a failure can be replayed.
pub fn seed(env: &str) -> u64 {
    let seed = std::env::var(env)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("{env}={seed}");
    seed
}

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Times a step and prints it.
pub fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let r = f();
    eprintln!("{what}: {:.2?}", t.elapsed());
    r
}

pub fn wait_for(mut cond: impl FnMut() -> bool, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Generates a mixed tree under `root`: `files` files totalling about
/// `total_bytes`, most small, a few up to 5 MiB; nested dirs, long (>146 byte)
/// and Unicode names, symlinks (relative, absolute-looking, dangling, to dirs).
pub fn generate_tree(root: &Path, files: usize, total_bytes: u64, rng: &mut Rng) {
    let names_unicode = [
        "Grüße",
        "日本語のファイル",
        "emoji-😀-name",
        "Ελληνικά",
        "façade",
        "naïve café",
        "中文目录",
    ];
    let mut dirs = vec![root.to_path_buf()];
    for i in 0..(files / 25).max(4) {
        let parent = dirs[rng.below(dirs.len() as u64) as usize].clone();
        let name = match i % 5 {
            0 => format!("{}-{i}", names_unicode[i % names_unicode.len()]),
            1 => format!("long-dir-{}-{i}", "d".repeat(150)),
            _ => format!("dir{i}"),
        };
        let d = parent.join(name);
        std::fs::create_dir_all(&d).expect("mkdir");
        dirs.push(d);
    }
    let big = (files / 100).clamp(2, 20);
    let big_bytes = (total_bytes * 3 / 4) / big as u64;
    let big_size = big_bytes.min(5 << 20);
    let small_budget = total_bytes.saturating_sub(big_size * big as u64);
    let small_avg = (small_budget / (files - big).max(1) as u64).max(1);
    let mut made = Vec::new();
    for i in 0..files {
        let dir = dirs[rng.below(dirs.len() as u64) as usize].clone();
        let name = match i % 9 {
            0 => format!("{}-{i}.txt", names_unicode[i % names_unicode.len()]),
            1 => format!("long-file-name-{}-{i}.bin", "x".repeat(160)),
            2 => format!("{i}.dat"),
            _ => format!("file-{i}"),
        };
        let size = if i < big {
            big_size - rng.below(4096)
        } else {
            match rng.below(10) {
                0 => 0,
                1 => 32 * 1024 * (1 + rng.below(3)), // exact chunk multiples
                _ => rng.below(small_avg * 2),
            }
        };
        let mut data = vec![0u8; size as usize];
        rng.fill(&mut data);
        let path = dir.join(name);
        std::fs::write(&path, &data).expect("write");
        made.push(path);
    }
    // Symlinks: relative to a file, to a dir, dangling, and an absolute target.
    let file_target = made[files / 2]
        .strip_prefix(root)
        .expect("prefix")
        .to_path_buf();
    std::os::unix::fs::symlink(&file_target, root.join("link-to-file")).expect("symlink");
    std::os::unix::fs::symlink("dir2", root.join("link-to-dir")).expect("symlink");
    std::os::unix::fs::symlink("does/not/exist", root.join("dangling-link")).expect("symlink");
    std::os::unix::fs::symlink("/etc/hostname", root.join("absolute-link")).expect("symlink");
    let deep = dirs.last().expect("dirs").clone();
    std::os::unix::fs::symlink("../../up-and-around ü", deep.join("ünïcödé-link"))
        .expect("symlink");
}
