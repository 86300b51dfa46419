//! Exit codes (docs/cli.md) and the one place where error kinds become codes.
//!
//! Every failure reaches the user as one [`CliError`]: a code and one line of text.

use vault_engine::{VaultError, VaultErrorKind};
use vault_storage::StorageErrorKind;

/// The documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// 0: success.
    Success = 0,
    /// 1: any other error.
    Error = 1,
    /// 2: usage error (bad arguments, missing secret source).
    Usage = 2,
    /// 3: wrong password or credentials.
    Auth = 3,
    /// 4: not a vault, or an unsupported format.
    NotAVault = 4,
    /// 5: storage unreachable or unreadable.
    Unreachable = 5,
    /// 6: `check` found problems that remain.
    CheckProblems = 6,
    /// 7: host key refused.
    HostKey = 7,
}

impl Exit {
    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Parses a numeric code (daemon → parent report).
    pub fn from_code(code: u8) -> Exit {
        match code {
            0 => Exit::Success,
            2 => Exit::Usage,
            3 => Exit::Auth,
            4 => Exit::NotAVault,
            5 => Exit::Unreachable,
            6 => Exit::CheckProblems,
            7 => Exit::HostKey,
            _ => Exit::Error,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

/// THE mapping of engine error kinds to exit codes.
pub fn exit_for_vault_kind(kind: VaultErrorKind) -> Exit {
    match kind {
        VaultErrorKind::WrongPassword => Exit::Auth,
        VaultErrorKind::NotAVault => Exit::NotAVault,
        VaultErrorKind::Unavailable => Exit::Unreachable,
        VaultErrorKind::NotFound
        | VaultErrorKind::AlreadyExists
        | VaultErrorKind::NotEmpty
        | VaultErrorKind::NotADirectory
        | VaultErrorKind::IsADirectory
        | VaultErrorKind::NameTooLong
        | VaultErrorKind::InvalidName
        | VaultErrorKind::ReadOnly
        | VaultErrorKind::Corrupt
        | VaultErrorKind::PermissionDenied
        | VaultErrorKind::StorageFull
        | VaultErrorKind::Unsupported
        | VaultErrorKind::InvalidArgument
        | VaultErrorKind::Other => Exit::Error,
    }
}

/// THE mapping of storage error kinds to exit codes.
pub fn exit_for_storage_kind(kind: StorageErrorKind) -> Exit {
    match kind {
        StorageErrorKind::AuthenticationFailed => Exit::Auth,
        StorageErrorKind::Unavailable => Exit::Unreachable,
        StorageErrorKind::NotFound
        | StorageErrorKind::AlreadyExists
        | StorageErrorKind::NotEmpty
        | StorageErrorKind::NotADirectory
        | StorageErrorKind::IsADirectory
        | StorageErrorKind::PermissionDenied
        | StorageErrorKind::Unsupported
        | StorageErrorKind::StorageFull
        | StorageErrorKind::InvalidPath
        | StorageErrorKind::Other => Exit::Error,
    }
}

/// THE mapping of SFTP connection errors to exit codes (7 for host keys).
pub fn exit_for_sftp_error(e: &vault_sftp::SftpError) -> Exit {
    use vault_sftp::SftpError as E;
    match e {
        E::HostKeyChanged { .. }
        | E::HostKeyNotAccepted { .. }
        | E::HostKeyChangedSinceAccepted { .. }
        | E::HostCertificatesUnsupported { .. } => Exit::HostKey,
        E::InvalidUrl(_) => Exit::Usage,
        E::PathNotFound { .. }
        | E::NotAFolder { .. }
        | E::PathPermissionDenied { .. }
        | E::Unreachable { .. } => Exit::Unreachable,
        other => match exit_for_storage_kind(other.storage_kind()) {
            Exit::Error => Exit::Unreachable,
            code => code,
        },
    }
}

/// A failure to report: exit code and one line of text (printed as `vault: <message>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// The exit code.
    pub exit: Exit,
    /// One line, no trailing newline.
    pub message: String,
}

impl CliError {
    /// An error with an explicit code.
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        CliError {
            exit,
            message: one_line(message.into()),
        }
    }

    /// Exit 1.
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(Exit::Error, message)
    }

    /// Exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }

    /// An engine error met while working on the vault at `storage` (as the user typed it).
    pub fn vault(storage: &str, err: &VaultError) -> Self {
        let exit = match err {
            VaultError::Storage(e) => exit_for_storage_kind(e.kind()),
            other => exit_for_vault_kind(other.kind()),
        };
        let message = match err {
            VaultError::WrongPassword => format!("wrong password for {storage}"),
            VaultError::NotAVault(msg) => not_a_vault_message(storage, msg),
            VaultError::Corrupt {
                storage_path,
                offset,
                source,
            } => match offset {
                Some(o) => {
                    format!("{storage_path} in {storage} is corrupted at offset {o}: {source}")
                }
                None => format!("{storage_path} in {storage} is corrupted: {source}"),
            },
            other => other.to_string(),
        };
        Self::new(exit, message)
    }

    /// An engine error met while reading the cleartext file `path`.
    pub fn file(storage: &str, path: &str, err: &VaultError) -> Self {
        // Cleartext paths come from decrypted names: control characters escaped.
        let path = &*crate::cli::escape::c_escape(path);
        match err {
            VaultError::Refused { .. } => Self::new(Exit::Error, format!("{path}: {err}")),
            VaultError::Corrupt { offset, source, .. } => {
                let message = match offset {
                    Some(o) => format!("file {path} is corrupted at offset {o} ({source})"),
                    None => format!("file {path} is corrupted ({source})"),
                };
                Self::new(Exit::Error, message)
            }
            VaultError::Node { kind, .. } => {
                Self::new(exit_for_vault_kind(*kind), format!("{path}: {kind}"))
            }
            VaultError::Storage(e) if e.kind() == StorageErrorKind::NotFound => {
                Self::new(Exit::Error, format!("{path}: no such file or directory"))
            }
            other => Self::vault(storage, other),
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The engine's not-a-vault text, phrased for the user.
fn not_a_vault_message(storage: &str, msg: &str) -> String {
    let lower = msg.to_ascii_lowercase();
    if let Some(i) = lower.find("unsupported vault format") {
        return msg[i..].to_string();
    }
    if msg.is_empty() {
        format!("{storage} is not a vault")
    } else {
        format!("{storage} is not a vault ({msg})")
    }
}

/// Keeps a message to one line of plain text: line breaks become spaces and every other
/// control character is written `\xHH` (`\u{HHHH}` for C1). Messages can carry text a server
/// sent (an XML parser's complaint quotes the tag it choked on): an ESC sequence in it must
/// not reach the terminal. Backslashes stay as they are, so a name escaped before is not
/// escaped twice.
fn one_line(s: String) -> String {
    if !s.chars().any(char::is_control) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            c if c.is_control() && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Ends a command that went on after errors: none → Ok; one → that error itself; several →
/// each printed, then one summary line (`N <what>`).
pub fn summarize(errors: Vec<CliError>, what: &str) -> CliResult {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors
            .into_iter()
            .next()
            .unwrap_or_else(|| CliError::other(what.to_string()))),
        n => {
            let exit = errors.first().map(|e| e.exit).unwrap_or(Exit::Error);
            for e in &errors {
                crate::cli::report(e);
            }
            Err(CliError::new(exit, format!("{n} {what}")))
        }
    }
}

/// The result type of every command.
pub type CliResult<T = ()> = Result<T, CliError>;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(exit_for_vault_kind(VaultErrorKind::WrongPassword).code(), 3);
        assert_eq!(exit_for_vault_kind(VaultErrorKind::NotAVault).code(), 4);
        assert_eq!(exit_for_vault_kind(VaultErrorKind::Unavailable).code(), 5);
        assert_eq!(exit_for_vault_kind(VaultErrorKind::Corrupt).code(), 1);
        assert_eq!(
            exit_for_storage_kind(StorageErrorKind::AuthenticationFailed).code(),
            3
        );
        for c in 0..=7 {
            assert_eq!(Exit::from_code(c).code(), c);
        }
    }

    #[test]
    fn messages() {
        let e = CliError::vault("./V", &VaultError::WrongPassword);
        assert_eq!(
            (e.exit, e.message.as_str()),
            (Exit::Auth, "wrong password for ./V")
        );
        let e = CliError::vault(
            "./V",
            &VaultError::NotAVault("unsupported vault format 7".into()),
        );
        assert_eq!(
            (e.exit, e.message.as_str()),
            (Exit::NotAVault, "unsupported vault format 7")
        );
        let e = CliError::new(Exit::Error, "a\nb");
        assert_eq!(e.message, "a b");
    }

    /// Issue 11: text a server sent (here an XML parser's quote of a hostile tag) reaches the
    /// terminal with its control characters escaped, whatever error carries it.
    #[test]
    fn control_characters_in_an_error_are_printed_escaped() {
        let e = CliError::new(
            Exit::Error,
            "bad PROPFIND XML: expected `</a>`, found `</a\x1b[2J\x07\u{9b}>` in C:\\x",
        );
        assert_eq!(
            e.message,
            "bad PROPFIND XML: expected `</a>`, found `</a\\x1b[2J\\x07\\u{009b}>` in C:\\x"
        );
    }
}
