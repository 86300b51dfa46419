//! `FsError`: the one error type of the operations layer. Its [`FsErrorKind`]
//! is all an adapter needs; each adapter maps kinds to its platform's codes in
//! exactly one exhaustive `match` (`crate::fuse::errno` on Linux).

use vault_engine::{VaultError, VaultErrorKind};

/// What went wrong, in filesystem terms. One kind per failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FsErrorKind {
    /// No such file or directory.
    NotFound,
    /// The name is taken.
    AlreadyExists,
    /// Directory not empty.
    NotEmpty,
    /// A path component, or the target of the call, is not a directory.
    NotADirectory,
    /// A directory where a file was expected.
    IsADirectory,
    /// The (encrypted) name is too long for the storage.
    NameTooLong,
    /// An invalid name: empty, `.`, `..`, contains `/` or NUL.
    InvalidName,
    /// A name or symlink target that is not valid UTF-8 (the vault format stores UTF-8 only).
    InvalidEncoding,
    /// An argument the operation cannot accept (e.g. moving a directory into itself).
    InvalidArgument,
    /// The mount or the vault is read-only.
    ReadOnly,
    /// Ciphertext failed authentication or is malformed (the log names the ciphertext path).
    Corrupt,
    /// Storage unreachable.
    Unavailable,
    /// A storage call did not finish within the operation timeout.
    TimedOut,
    /// The storage refused access.
    PermissionDenied,
    /// The operation is never permitted on this filesystem (hard links).
    NotPermitted,
    /// No space left on the storage.
    StorageFull,
    /// The operation or variant is not supported (RENAME_EXCHANGE, device nodes, …).
    Unsupported,
    /// The operation is not implemented at all; the FUSE kernel module then
    /// answers EOPNOTSUPP (or its generic fallback) itself and stops asking.
    NotImplemented,
    /// Unknown file or directory handle.
    BadHandle,
    /// Anything else (an I/O error for the caller).
    Other,
}

/// An operations-layer error: a kind, and the engine error behind it if any.
#[derive(Debug, thiserror::Error)]
#[error("{kind:?}{}", source.as_ref().map(|s| format!(": {s}")).unwrap_or_default())]
pub struct FsError {
    kind: FsErrorKind,
    #[source]
    source: Option<VaultError>,
}

impl FsError {
    /// An error of `kind` without an underlying engine error.
    pub fn new(kind: FsErrorKind) -> Self {
        FsError { kind, source: None }
    }

    /// The kind.
    pub fn kind(&self) -> FsErrorKind {
        self.kind
    }
}

impl From<FsErrorKind> for FsError {
    fn from(kind: FsErrorKind) -> Self {
        FsError::new(kind)
    }
}

impl From<VaultError> for FsError {
    fn from(err: VaultError) -> Self {
        let kind = match err.kind() {
            VaultErrorKind::NotFound => FsErrorKind::NotFound,
            VaultErrorKind::AlreadyExists => FsErrorKind::AlreadyExists,
            VaultErrorKind::NotEmpty => FsErrorKind::NotEmpty,
            VaultErrorKind::NotADirectory => FsErrorKind::NotADirectory,
            VaultErrorKind::IsADirectory => FsErrorKind::IsADirectory,
            VaultErrorKind::NameTooLong => FsErrorKind::NameTooLong,
            VaultErrorKind::InvalidName => FsErrorKind::InvalidName,
            VaultErrorKind::ReadOnly => FsErrorKind::ReadOnly,
            VaultErrorKind::Corrupt => FsErrorKind::Corrupt,
            VaultErrorKind::Unavailable => FsErrorKind::Unavailable,
            VaultErrorKind::PermissionDenied => FsErrorKind::PermissionDenied,
            VaultErrorKind::StorageFull => FsErrorKind::StorageFull,
            VaultErrorKind::Unsupported => FsErrorKind::Unsupported,
            VaultErrorKind::InvalidArgument => FsErrorKind::InvalidArgument,
            VaultErrorKind::WrongPassword | VaultErrorKind::NotAVault | VaultErrorKind::Other => {
                FsErrorKind::Other
            }
        };
        // Log only variants whose text names ciphertext paths, never cleartext names.
        if matches!(err, VaultError::Corrupt { .. } | VaultError::Storage(_))
            && matches!(
                kind,
                FsErrorKind::Corrupt | FsErrorKind::Other | FsErrorKind::Unavailable
            )
        {
            tracing::warn!(error = %err, "vault error");
        }
        FsError {
            kind,
            source: Some(err),
        }
    }
}

/// Result of the operations layer.
pub type FsResult<T> = Result<T, FsError>;
