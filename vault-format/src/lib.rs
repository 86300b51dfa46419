//! Cryptomator vault format 8, as `docs/vault-format.md` (the spec) describes.
//!
//! Pure: bytes and `Read`/`Write` in, bytes out. No file system, no network,
//! no async runtime. Modules are named after the spec's sections.
//!
//! CONTRACT: the public signatures below are what the engine codes against.
//! Change a signature only together with its callers.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub use error::FormatError;

pub mod combo;
pub use combo::CipherCombo;

pub mod masterkey;
pub use masterkey::{MasterKey, MasterkeyFile};

pub mod vault_config;
pub use vault_config::{UnverifiedVaultConfig, VaultConfig};

pub mod file_header;
pub use file_header::FileHeader;

pub mod cryptor;
pub use cryptor::Cryptor;

pub mod conflict;
pub mod layout;
pub mod recovery_key;
mod secret_buf;
pub use secret_buf::SecretBuf;

mod content_ctrmac;
mod content_gcm;
mod gcm;
mod names;
mod rng;
mod stream;

/// Cleartext bytes per content chunk (docs/vault-format.md §4).
pub const CLEARTEXT_CHUNK_SIZE: usize = 32 * 1024;
