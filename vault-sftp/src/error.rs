//! Connection-level errors with distinct kinds for the CLI (exit codes in
//! `docs/cli.md`: 3 credentials, 5 unreachable, 7 host key refused).

use std::path::PathBuf;

use vault_storage::{StorageError, StorageErrorKind, StoragePath};

/// Why connecting or logging in failed. Messages name what failed and what to
/// do; they never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum SftpError {
    /// The STORAGE string is not a valid `sftp://` URL.
    #[error("invalid sftp URL: {0}")]
    InvalidUrl(String),
    /// `~/.ssh/config` or another setting could not be used.
    #[error("configuration: {0}")]
    Config(String),
    /// TCP connect failed or the server went away during the handshake.
    #[error("cannot reach {host}: {reason}")]
    Unreachable {
        /// `host:port`.
        host: String,
        /// What the network said.
        reason: String,
    },
    /// The server's host key differs from the one in known_hosts (or is revoked).
    #[error(
        "HOST KEY CHANGED for {host}: the server now presents {fingerprint}, which does not match \
         {known_hosts} line {line}. Someone may be intercepting the connection. Refusing to connect; \
         if the server's key really changed, remove the old line (ssh-keygen -R '{host}' -f {known_hosts})"
    )]
    HostKeyChanged {
        /// known_hosts name of the server.
        host: String,
        /// `SHA256:…` of the key presented.
        fingerprint: String,
        /// The known_hosts file.
        known_hosts: PathBuf,
        /// The line that holds the recorded key.
        line: usize,
    },
    /// The host key is not known and was not accepted.
    #[error(
        "host key of {host} ({fingerprint}) is not known and was not accepted; confirm it on a terminal \
         or pass --accept-new-host-key"
    )]
    HostKeyNotAccepted {
        /// known_hosts name of the server.
        host: String,
        /// `SHA256:…` of the key presented.
        fingerprint: String,
    },
    /// A reconnect met a host key other than the one this process accepted earlier
    /// (`--accept-new-host-key` pins the accepted key even when known_hosts cannot be written).
    #[error(
        "HOST KEY CHANGED for {host}: the server now presents {fingerprint}, not the key accepted \
         earlier by this process. Someone may be intercepting the connection. Refusing to connect"
    )]
    HostKeyChangedSinceAccepted {
        /// known_hosts name of the server.
        host: String,
        /// `SHA256:…` of the key presented.
        fingerprint: String,
    },
    /// known_hosts trusts a certificate authority for the host, and host certificates are
    /// not supported.
    #[error(
        "{known_hosts} line {line} trusts a certificate authority (@cert-authority) for {host}: \
         host certificates are not supported; record the host's own key instead (ssh-keyscan, \
         or confirm it on a terminal)"
    )]
    HostCertificatesUnsupported {
        /// known_hosts name of the server.
        host: String,
        /// The known_hosts file.
        known_hosts: PathBuf,
        /// The `@cert-authority` line.
        line: usize,
    },
    /// Key exchange found no algorithm both sides accept.
    #[error(
        "{host} and this client have no algorithm in common ({detail}); the server may only offer legacy (SHA-1/CBC) algorithms"
    )]
    NoCommonAlgorithm {
        /// `host:port`.
        host: String,
        /// Which negotiation failed.
        detail: String,
    },
    /// The passphrase did not decrypt the private key.
    #[error("wrong passphrase for key {}", key.display())]
    WrongPassphrase {
        /// The key file.
        key: PathBuf,
    },
    /// The key file cannot be used.
    #[error("cannot use key {}: {reason}", key.display())]
    BadKeyFile {
        /// The key file.
        key: PathBuf,
        /// Why.
        reason: String,
    },
    /// The server refused the keyboard-interactive answers (e.g. a wrong or reused TOTP code).
    #[error("{host} refused the answer to {prompt:?} (wrong or already used verification code?)")]
    KeyboardInteractiveRejected {
        /// `user@host`.
        host: String,
        /// The server's prompt(s).
        prompt: String,
    },
    /// The server refused the password.
    #[error("{host} refused the password")]
    PasswordRejected {
        /// `user@host`.
        host: String,
    },
    /// No offered credential was accepted.
    #[error("permission denied for {host} (server accepts: {methods}); tried: {tried}")]
    PermissionDenied {
        /// `user@host`.
        host: String,
        /// Methods the server still accepts.
        methods: String,
        /// What was tried.
        tried: String,
    },
    /// A prompt could not be answered (no terminal, askpass failed, cancelled).
    #[error("cannot ask for {what}: {reason}")]
    PromptFailed {
        /// What was asked.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// The vault folder does not exist on the server.
    #[error("{path} not found on {host}")]
    PathNotFound {
        /// `user@host`.
        host: String,
        /// The remote path.
        path: String,
    },
    /// The vault path exists but is not a folder.
    #[error("{path} on {host} is not a folder")]
    NotAFolder {
        /// `user@host`.
        host: String,
        /// The remote path.
        path: String,
    },
    /// Access to the vault folder was refused.
    #[error("permission denied for {path} on {host}")]
    PathPermissionDenied {
        /// `user@host`.
        host: String,
        /// The remote path.
        path: String,
    },
    /// SSH protocol failure not covered above.
    #[error("ssh: {0}")]
    Ssh(String),
    /// The SFTP subsystem failed.
    #[error("sftp: {0}")]
    Sftp(String),
}

impl SftpError {
    /// The storage error kind this maps to.
    pub fn storage_kind(&self) -> StorageErrorKind {
        match self {
            SftpError::InvalidUrl(_) | SftpError::Config(_) => StorageErrorKind::InvalidPath,
            SftpError::Unreachable { .. } => StorageErrorKind::Unavailable,
            SftpError::HostKeyChanged { .. }
            | SftpError::HostKeyNotAccepted { .. }
            | SftpError::HostKeyChangedSinceAccepted { .. }
            | SftpError::HostCertificatesUnsupported { .. }
            | SftpError::WrongPassphrase { .. }
            | SftpError::KeyboardInteractiveRejected { .. }
            | SftpError::PasswordRejected { .. }
            | SftpError::PermissionDenied { .. }
            | SftpError::PromptFailed { .. } => StorageErrorKind::AuthenticationFailed,
            SftpError::PathNotFound { .. } => StorageErrorKind::NotFound,
            SftpError::NotAFolder { .. } => StorageErrorKind::NotADirectory,
            SftpError::PathPermissionDenied { .. } => StorageErrorKind::PermissionDenied,
            SftpError::NoCommonAlgorithm { .. }
            | SftpError::BadKeyFile { .. }
            | SftpError::Ssh(_)
            | SftpError::Sftp(_) => StorageErrorKind::Other,
        }
    }

    /// The `vault` exit code for this error (see `docs/cli.md`): 2 usage,
    /// 3 credentials, 5 unreachable, 7 host key refused, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            SftpError::InvalidUrl(_) => 2,
            SftpError::HostKeyChanged { .. }
            | SftpError::HostKeyNotAccepted { .. }
            | SftpError::HostKeyChangedSinceAccepted { .. }
            | SftpError::HostCertificatesUnsupported { .. } => 7,
            SftpError::WrongPassphrase { .. }
            | SftpError::KeyboardInteractiveRejected { .. }
            | SftpError::PasswordRejected { .. }
            | SftpError::PermissionDenied { .. }
            | SftpError::PromptFailed { .. } => 3,
            SftpError::Unreachable { .. } => 5,
            _ => 1,
        }
    }

    /// True for failures a later retry may cure (network), false for answers
    /// (credentials, host key, configuration) that need the user.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SftpError::Unreachable { .. } | SftpError::Ssh(_) | SftpError::Sftp(_)
        )
    }
}

impl From<SftpError> for StorageError {
    fn from(e: SftpError) -> Self {
        StorageError::with_source(e.storage_kind(), &StoragePath::root(), e)
    }
}
