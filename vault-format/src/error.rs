//! The one error type of the format crate.

/// Everything that can be wrong with vault bytes. No I/O variant: this crate does no I/O.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    /// The password does not unwrap the master keys (docs/vault-format.md §2).
    #[error("wrong password")]
    WrongPassword,
    /// A header, chunk or name failed authentication: tampered or not ours.
    #[error("authentication failed: ciphertext was modified or belongs to another vault")]
    AuthenticationFailed,
    /// The file header is too short or malformed.
    #[error("invalid file header")]
    InvalidHeader,
    /// A ciphertext size that no cleartext maps to (docs/vault-format.md §11).
    #[error("invalid ciphertext size {0}")]
    InvalidCiphertextSize(u64),
    /// An encrypted name that is not valid base64url or too short.
    #[error("invalid encrypted name")]
    InvalidName,
    /// `masterkey.cryptomator` is not valid.
    #[error("invalid masterkey file: {0}")]
    InvalidMasterkeyFile(String),
    /// `vault.cryptomator` is not a valid token.
    #[error("invalid vault configuration: {0}")]
    InvalidConfig(String),
    /// The config's signature does not match the key ("key does not match vault").
    #[error("vault configuration signature does not match the master key")]
    ConfigSignatureMismatch,
    /// `alg` is not HS256/HS384/HS512.
    #[error("unsupported signature algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// `format` is not 8.
    #[error("unsupported vault format {found}")]
    UnsupportedVaultFormat {
        /// The format number found.
        found: i64,
    },
    /// `cipherCombo` is neither SIV_GCM nor SIV_CTRMAC.
    #[error("unsupported cipher combo {0:?}")]
    UnsupportedCipherCombo(String),
    /// The `kid` does not name the vault's own masterkey file (docs/vault-format.md §3).
    #[error("unsupported key id {0:?}")]
    UnsupportedKeyId(String),
    /// A `dir.c9r`, `dirid.c9r`, `name.c9s` or symlink target is malformed or too large.
    #[error("invalid {0}")]
    InvalidNodeFile(&'static str),
    /// A cleartext name that cannot be stored (empty, `.`, `..`, contains `/`).
    #[error("invalid cleartext name")]
    InvalidCleartextName,
}
