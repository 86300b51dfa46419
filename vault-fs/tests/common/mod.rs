//! Shared harness for the mount tests: a vault in a temp folder over
//! `LocalStorage`, mounted in-process with `vault_fs::mount`, unmounted by a
//! drop guard so a failing test leaves no stale mount. The seeded RNG, tree
//! generator and shell helpers come from `test-support`.
#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use vault_engine::{CreateOptions, OpenOptions, Vault};
use vault_format::CipherCombo;
use vault_fs::{MountOptions, MountSession};
use vault_storage::local::LocalStorage;
use vault_storage::memory::MemoryStorage;

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
    /// The in-memory store the vault lives in, instead of `storage` ([`Mounted::over_memory`]).
    pub memory: Option<Arc<MemoryStorage>>,
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn open_vault(
    runtime: &tokio::runtime::Runtime,
    backend: Arc<dyn vault_storage::Storage>,
    create: bool,
) -> Arc<Vault> {
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
        Self::build(options, None)
    }

    /// A new vault in `memory` (its call counters show what the mount asked of storage).
    pub fn over_memory(memory: Arc<MemoryStorage>) -> Self {
        Self::build(MountOptions::default(), Some(memory))
    }

    fn build(options: MountOptions, memory: Option<Arc<MemoryStorage>>) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("vault-fs-test")
            .tempdir()
            .expect("tempdir");
        let storage = dir.path().join("storage");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&storage).expect("storage dir");
        std::fs::create_dir(&mnt).expect("mnt dir");
        let runtime = runtime();
        let mut m = Mounted {
            session: None,
            vault: None,
            runtime,
            storage,
            mnt,
            options,
            dir,
            memory,
        };
        let vault = m.open(true);
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
        let vault = self.open(false);
        self.mount_vault(vault);
    }

    fn open(&self, create: bool) -> Arc<Vault> {
        let backend: Arc<dyn vault_storage::Storage> = match &self.memory {
            Some(memory) => Arc::clone(memory) as _,
            None => Arc::new(LocalStorage::new(&self.storage).expect("local storage")),
        };
        open_vault(&self.runtime, backend, create)
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

pub use test_support::process::sh_in as sh;
pub use test_support::rng::{Rng, env_usize, seed};
pub use test_support::wait::{timed, wait_for};

/// Generates a mixed tree under `root` (see `test_support::tree`): `files` files totalling
/// about `total_bytes`, most small, a few up to 5 MiB.
pub fn generate_tree(root: &Path, files: usize, total_bytes: u64, rng: &mut Rng) {
    let spec = test_support::tree::TreeSpec::sized(files, total_bytes);
    test_support::tree::generate_tree(root, &spec, rng);
}
