//! Storage errors: a kind the engine can act on, the path, and the cause.

use std::fmt;

use crate::StoragePath;

/// What went wrong, as far as the caller needs to know. Each backend maps its
/// own errors (io::ErrorKind, SFTP status, HTTP status) in one `classify` fn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageErrorKind {
    /// The path does not exist (or its parent does not).
    NotFound,
    /// The target exists already.
    AlreadyExists,
    /// A folder to remove is not empty.
    NotEmpty,
    /// A path component is not a folder.
    NotADirectory,
    /// A file operation was asked of a folder.
    IsADirectory,
    /// The backend refused access.
    PermissionDenied,
    /// Credentials were refused (wrong password, key or code).
    AuthenticationFailed,
    /// This backend cannot do that (see `Capabilities`).
    Unsupported,
    /// The backend is unreachable or timed out; retrying later may work.
    Unavailable,
    /// No space left on the backend.
    StorageFull,
    /// The path is not a valid storage path.
    InvalidPath,
    /// Anything else.
    Other,
}

impl fmt::Display for StorageErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StorageErrorKind::NotFound => "not found",
            StorageErrorKind::AlreadyExists => "already exists",
            StorageErrorKind::NotEmpty => "folder not empty",
            StorageErrorKind::NotADirectory => "not a folder",
            StorageErrorKind::IsADirectory => "is a folder",
            StorageErrorKind::PermissionDenied => "permission denied",
            StorageErrorKind::AuthenticationFailed => "authentication failed",
            StorageErrorKind::Unsupported => "not supported by this storage",
            StorageErrorKind::Unavailable => "storage unavailable",
            StorageErrorKind::StorageFull => "no space left on storage",
            StorageErrorKind::InvalidPath => "invalid storage path",
            StorageErrorKind::Other => "storage error",
        })
    }
}

/// An error from a storage backend.
#[derive(Debug)]
pub struct StorageError {
    kind: StorageErrorKind,
    path: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StorageError {
    /// An error of `kind` at `path`, without a further cause.
    pub fn new(kind: StorageErrorKind, path: StoragePath) -> Self {
        StorageError {
            kind,
            path: path.as_str().to_owned(),
            source: None,
        }
    }

    /// An error of `kind` at `path` caused by `source`.
    pub fn with_source(
        kind: StorageErrorKind,
        path: &StoragePath,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        StorageError {
            kind,
            path: path.as_str().to_owned(),
            source: Some(source.into()),
        }
    }

    pub(crate) fn invalid_path(path: &str) -> Self {
        StorageError {
            kind: StorageErrorKind::InvalidPath,
            path: path.to_owned(),
            source: None,
        }
    }

    /// The kind, for the caller to act on.
    pub fn kind(&self) -> StorageErrorKind {
        self.kind
    }

    /// The storage path (ciphertext side; safe to log).
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        write!(f, "{}: {}", path, self.kind)?;
        if let Some(source) = &self.source {
            write!(f, " ({source})")?;
        }
        Ok(())
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
