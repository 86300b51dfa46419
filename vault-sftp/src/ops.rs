//! Error mapping: one failed SFTP attempt (`OpError`), status codes to storage errors, and
//! SFTP attributes to storage metadata.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use russh_sftp::client::error::Error as RawError;
use russh_sftp::protocol::{FileAttributes, Packet, StatusCode};
use vault_storage::{EntryKind, Metadata, StorageError, StorageErrorKind, StoragePath};

/// Why one attempt of an operation failed.
pub(crate) enum OpError {
    /// The server answered with a status.
    Status(StatusCode, String),
    /// A fully classified error.
    Storage(StorageError),
    /// The connection or channel broke, or a request timed out.
    Transport(String, bool),
}

impl From<RawError> for OpError {
    fn from(e: RawError) -> Self {
        match e {
            RawError::Status(s) => OpError::Status(s.status_code, s.error_message),
            RawError::Timeout => OpError::Transport("request timed out".into(), true),
            RawError::Limited(m) => OpError::Storage(StorageError::with_source(
                StorageErrorKind::Other,
                &StoragePath::root(),
                format!("server limit: {m}"),
            )),
            other => OpError::Transport(other.to_string(), false),
        }
    }
}

/// How to read a bare status answer of a path request (see `Inner::request_explained`).
pub(crate) struct Explain {
    /// For which statuses the path is worth a stat.
    pub(crate) look: fn(StatusCode) -> bool,
    /// The real cause, from the status and what the stat found (`None`: report the status).
    pub(crate) cause: fn(StatusCode, Option<&FileAttributes>) -> Option<StorageErrorKind>,
}

/// Whether an operation may be repeated on a new connection after the old one
/// broke while it was in flight.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    Yes,
    No,
}

fn status_kind(code: &StatusCode) -> StorageErrorKind {
    match code {
        StatusCode::NoSuchFile => StorageErrorKind::NotFound,
        StatusCode::PermissionDenied => StorageErrorKind::PermissionDenied,
        StatusCode::OpUnsupported => StorageErrorKind::Unsupported,
        StatusCode::NoConnection | StatusCode::ConnectionLost => StorageErrorKind::Unavailable,
        _ => StorageErrorKind::Other,
    }
}

/// The error of a status reply; the server's message is shown C-escaped (see [`text`]).
pub(crate) fn status_error(path: &StoragePath, code: StatusCode, msg: String) -> StorageError {
    let kind = status_kind(&code);
    if msg.is_empty() {
        StorageError::with_source(kind, path, format!("sftp status {code:?}"))
    } else {
        // The message is the server's: every control character shown escaped.
        StorageError::with_source(
            kind,
            path,
            format!("sftp status {code:?}: {}", crate::text::c_escape(&msg)),
        )
    }
}

fn mtime_of(a: &FileAttributes) -> Option<SystemTime> {
    a.mtime
        .map(|s| UNIX_EPOCH + Duration::from_secs(u64::from(s)))
}

pub(crate) fn metadata_of(a: &FileAttributes) -> Metadata {
    if a.is_dir() {
        Metadata {
            kind: EntryKind::Dir,
            size: 0,
            modified: mtime_of(a),
            version: None,
        }
    } else {
        Metadata {
            kind: EntryKind::File,
            size: a.size.unwrap_or(0),
            modified: mtime_of(a),
            version: None,
        }
    }
}

/// SFTP string encoding of an extension argument.
pub(crate) fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u32).to_be_bytes());
    buf.extend_from_slice(s.as_bytes());
}

pub(crate) fn expect_ok(p: Packet) -> Result<(), OpError> {
    match p {
        Packet::Status(s) if s.status_code == StatusCode::Ok => Ok(()),
        Packet::Status(s) => Err(OpError::Status(s.status_code, s.error_message)),
        _ => Err(OpError::Transport("unexpected reply packet".into(), false)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_status_message_is_shown_escaped() {
        let p = StoragePath::new("a.c9r").unwrap();
        let e = status_error(
            &p,
            StatusCode::Failure,
            "disk full\n\x1b[2Jvault: enter your password".into(),
        );
        let text = e.to_string();
        assert!(
            text.contains("disk full\\n\\x1b[2Jvault: enter your password"),
            "{text}"
        );
        assert!(!text.contains('\n') && !text.contains('\x1b'), "{text}");
    }
}
