//! Engine errors.

use vault_format::FormatError;
use vault_storage::StorageError;

/// The category of a [`VaultError`]: all the filesystem layer needs to pick an errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VaultErrorKind {
    /// Wrong vault password.
    WrongPassword,
    /// The storage holds no vault, or an unsupported one.
    NotAVault,
    /// No such cleartext node.
    NotFound,
    /// The cleartext name is taken.
    AlreadyExists,
    /// Directory not empty.
    NotEmpty,
    /// A directory was expected.
    NotADirectory,
    /// A file was expected, found a directory.
    IsADirectory,
    /// The encrypted name would be too long for the storage.
    NameTooLong,
    /// An invalid cleartext name (empty, `.`, `..`, contains `/`).
    InvalidName,
    /// The vault was opened read-only.
    ReadOnly,
    /// Ciphertext failed authentication or is malformed.
    Corrupt,
    /// Storage unreachable / timed out.
    Unavailable,
    /// Storage refused access.
    PermissionDenied,
    /// No space on storage.
    StorageFull,
    /// The operation is not supported.
    Unsupported,
    /// The request makes no sense for this node (e.g. moving a directory into
    /// itself, reading a link that is not a symlink): EINVAL.
    InvalidArgument,
    /// Anything else.
    Other,
}

/// An engine error with enough context for one clear line of text.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// Wrong vault password.
    #[error("wrong password")]
    WrongPassword,
    /// Not a vault, or one we do not support (message says which).
    #[error("{0}")]
    NotAVault(String),
    /// A cleartext-level failure with the cleartext path or name it concerns.
    #[error("{path}: {kind}")]
    Node {
        /// NotFound, AlreadyExists, NotEmpty, …
        kind: VaultErrorKind,
        /// Cleartext name or path (may be shown to the user, never logged above debug).
        path: String,
    },
    /// Ciphertext at `storage_path` is damaged.
    #[error("{storage_path} is corrupted{}: {source}", offset.map(|o| format!(" at offset {o}")).unwrap_or_default())]
    Corrupt {
        /// Ciphertext path.
        storage_path: String,
        /// Cleartext offset of the damaged chunk, if known.
        offset: Option<u64>,
        /// What failed.
        #[source]
        source: FormatError,
    },
    /// Storage holds what no honest client writes and what would be unsafe to
    /// follow (a decrypted name that could escape a path): refused. The text
    /// names only the ciphertext node, never cleartext.
    #[error("ciphertext node {storage_path}: {reason} (refused)")]
    Refused {
        /// Ciphertext path of the node.
        storage_path: String,
        /// What is wrong, without cleartext.
        reason: &'static str,
    },
    /// A storage error.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl std::fmt::Display for VaultErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            VaultErrorKind::WrongPassword => "wrong password",
            VaultErrorKind::NotAVault => "not a vault",
            VaultErrorKind::NotFound => "no such file or directory",
            VaultErrorKind::AlreadyExists => "already exists",
            VaultErrorKind::NotEmpty => "directory not empty",
            VaultErrorKind::NotADirectory => "not a directory",
            VaultErrorKind::IsADirectory => "is a directory",
            VaultErrorKind::NameTooLong => "name too long",
            VaultErrorKind::InvalidName => "invalid name",
            VaultErrorKind::ReadOnly => "vault is read-only",
            VaultErrorKind::Corrupt => "corrupted",
            VaultErrorKind::Unavailable => "storage unavailable",
            VaultErrorKind::PermissionDenied => "permission denied",
            VaultErrorKind::StorageFull => "no space left on storage",
            VaultErrorKind::Unsupported => "not supported",
            VaultErrorKind::InvalidArgument => "invalid argument",
            VaultErrorKind::Other => "error",
        })
    }
}

impl VaultError {
    /// A cleartext-level error.
    pub fn node(kind: VaultErrorKind, path: impl Into<String>) -> Self {
        VaultError::Node {
            kind,
            path: path.into(),
        }
    }

    /// The category.
    pub fn kind(&self) -> VaultErrorKind {
        use vault_storage::StorageErrorKind as S;
        match self {
            VaultError::WrongPassword => VaultErrorKind::WrongPassword,
            VaultError::NotAVault(_) => VaultErrorKind::NotAVault,
            VaultError::Node { kind, .. } => *kind,
            VaultError::Corrupt { .. } | VaultError::Refused { .. } => VaultErrorKind::Corrupt,
            VaultError::Storage(e) => match e.kind() {
                S::NotFound => VaultErrorKind::NotFound,
                S::AlreadyExists => VaultErrorKind::AlreadyExists,
                S::NotEmpty => VaultErrorKind::NotEmpty,
                S::NotADirectory => VaultErrorKind::NotADirectory,
                S::IsADirectory => VaultErrorKind::IsADirectory,
                S::PermissionDenied | S::AuthenticationFailed => VaultErrorKind::PermissionDenied,
                S::Unsupported => VaultErrorKind::Unsupported,
                S::Unavailable => VaultErrorKind::Unavailable,
                S::StorageFull => VaultErrorKind::StorageFull,
                S::InvalidPath => VaultErrorKind::InvalidName,
                S::Other => VaultErrorKind::Other,
            },
        }
    }
}
