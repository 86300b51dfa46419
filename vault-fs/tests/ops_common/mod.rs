//! Shared by the kernel-free `VaultFs` suites: a vault in memory, and clients on it (each one
//! unlock, as a separate process would be).
#![allow(dead_code)]

use std::ffi::OsStr;
use std::sync::Arc;

use vault_engine::{CreateOptions, OpenOptions, Vault};
use vault_fs::ops::{FsConfig, VaultFs};
use vault_storage::MemoryStorage;

pub fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// A new vault (password `pw`, cheap scrypt) in memory.
pub async fn new_vault() -> Arc<MemoryStorage> {
    let storage = Arc::new(MemoryStorage::new());
    Vault::create(
        storage.clone(),
        "pw",
        CreateOptions {
            scrypt_cost: 1024,
            ..CreateOptions::default()
        },
    )
    .await
    .expect("create");
    storage
}

/// A client of the vault in `storage` with `config`.
pub async fn client_with(storage: &Arc<MemoryStorage>, config: FsConfig) -> VaultFs {
    let vault = Vault::unlock(storage.clone(), "pw", OpenOptions::default())
        .await
        .expect("unlock");
    VaultFs::new(Arc::new(vault), config)
}

/// A client with the default configuration.
pub async fn client(storage: &Arc<MemoryStorage>) -> VaultFs {
    client_with(storage, FsConfig::default()).await
}
