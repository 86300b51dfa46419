//! The `vault-winfsp` command line: `vault-winfsp mount STORAGE [DRIVE:]`.
//!
//! Why not the root crate's `vault::cli`: it is a library, but it does not
//! build on Windows (its `mount`/`unmount`/`status` commands call the
//! Linux-only FUSE functions of vault-fs, it uses `rustix::process` and
//! `std::os::unix`), and its storage connection and secret prompting take a
//! private `Secrets` type. This binary therefore keeps to what it can do on
//! its own: a local-folder vault (which covers a synced Nextcloud, OneDrive or
//! Dropbox folder), the password from a file or a prompt, the same exit codes
//! as `vault` for the same failures. The README lists what a full port needs.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use vault_engine::VaultErrorKind;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: any other failure.
pub const EXIT_ERROR: u8 = 1;
/// Exit code: bad arguments.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: wrong password.
pub const EXIT_AUTH: u8 = 3;
/// Exit code: no vault at STORAGE.
pub const EXIT_NOT_A_VAULT: u8 = 4;
/// Exit code: storage unreachable.
pub const EXIT_UNREACHABLE: u8 = 5;

/// WinFsp's FLOSS exception (its License.txt) asks for this notice and a link
/// to its repository in the user interface of programs that use its DLL.
pub const WINFSP_NOTICE: &str = "Uses WinFsp - Windows File System Proxy, Copyright (C) Bill Zissimopoulos: https://github.com/winfsp/winfsp";

/// Arguments.
#[derive(Debug, Parser)]
#[command(
    name = "vault-winfsp",
    version,
    about = "Mount a Cryptomator vault as a Windows drive (WinFsp)",
    after_help = WINFSP_NOTICE
)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Mount STORAGE as a drive until Ctrl-C.
    Mount {
        /// Refuse every write.
        #[arg(long)]
        read_only: bool,
        /// The vault password, first line of this file (default: asked without echo).
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// The vault folder.
        storage: String,
        /// `X:` (default: the next free letter from Z: down) or a folder path
        /// that does not exist yet.
        mountpoint: Option<String>,
    },
}

/// Where to mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mountpoint {
    /// The next free drive letter (WinFsp picks it).
    NextFree,
    /// A drive letter, upper case.
    Drive(char),
    /// A folder WinFsp creates and mounts on.
    Folder(String),
}

impl Mountpoint {
    /// Parses `X:`, `x`, `X:\`, or an absolute folder path (`C:\Vaults\Work`).
    pub fn parse(arg: Option<&str>) -> Result<Mountpoint, String> {
        let Some(arg) = arg else {
            return Ok(Mountpoint::NextFree);
        };
        let chars: Vec<char> = arg.chars().collect();
        match chars.as_slice() {
            [l] | [l, ':'] | [l, ':', '\\'] if l.is_ascii_alphabetic() => {
                Ok(Mountpoint::Drive(l.to_ascii_uppercase()))
            }
            [l, ':', '\\' | '/', rest @ ..] if l.is_ascii_alphabetic() && !rest.is_empty() => {
                Ok(Mountpoint::Folder(arg.replace('/', "\\")))
            }
            _ => Err(format!(
                "{arg}: not a drive letter (X:) or an absolute folder path (C:\\Vaults\\Work)"
            )),
        }
    }

    /// The form WinFsp takes (`X:`, the folder path); `None` for the next free letter.
    pub fn for_winfsp(&self) -> Option<String> {
        match self {
            Mountpoint::NextFree => None,
            Mountpoint::Drive(letter) => Some(format!("{letter}:")),
            Mountpoint::Folder(path) => Some(path.clone()),
        }
    }
}

/// Refuses the STORAGE forms this binary cannot open yet (remote ones).
pub fn check_storage(storage: &str) -> Result<(), String> {
    let remote = ["sftp://", "dav://", "davs://", "http://", "https://"];
    if remote.iter().any(|scheme| storage.starts_with(scheme)) {
        return Err(format!(
            "{storage}: vault-winfsp opens local folders only so far (SFTP and WebDAV need the `vault` CLI on Windows; see windows-winfsp/README.md)"
        ));
    }
    if storage.is_empty() {
        return Err("STORAGE is empty".into());
    }
    Ok(())
}

/// The exit code for a failure to unlock, as `vault` uses them.
pub fn exit_for_unlock(kind: VaultErrorKind) -> u8 {
    match kind {
        VaultErrorKind::WrongPassword => EXIT_AUTH,
        VaultErrorKind::NotAVault => EXIT_NOT_A_VAULT,
        VaultErrorKind::Unavailable => EXIT_UNREACHABLE,
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
        | VaultErrorKind::Other => EXIT_ERROR,
    }
}

/// The first line of a password file, without its line ending.
pub fn password_from_file_text(text: &str) -> &str {
    let line = text.split('\n').next().unwrap_or("");
    line.strip_suffix('\r').unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drive_letters() {
        for (arg, letter) in [("X:", 'X'), ("x:", 'X'), ("k", 'K'), ("Q:\\", 'Q')] {
            assert_eq!(
                Mountpoint::parse(Some(arg)),
                Ok(Mountpoint::Drive(letter)),
                "{arg}"
            );
        }
        assert_eq!(Mountpoint::Drive('X').for_winfsp().as_deref(), Some("X:"));
    }

    #[test]
    fn folders_and_default() {
        assert_eq!(
            Mountpoint::parse(Some("C:\\Vaults\\Work")),
            Ok(Mountpoint::Folder("C:\\Vaults\\Work".into()))
        );
        assert_eq!(
            Mountpoint::parse(Some("c:/Vaults/Work")),
            Ok(Mountpoint::Folder("c:\\Vaults\\Work".into()))
        );
        assert_eq!(Mountpoint::parse(None), Ok(Mountpoint::NextFree));
        assert_eq!(Mountpoint::NextFree.for_winfsp(), None);
    }

    #[test]
    fn bad_mountpoints() {
        for bad in [
            "",
            "1:",
            "XY:",
            "Vaults\\Work",
            "\\\\server\\share",
            "é:",
            ":",
        ] {
            assert!(Mountpoint::parse(Some(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn storage_forms() {
        assert!(check_storage("C:\\Users\\me\\Nextcloud\\Vault").is_ok());
        assert!(check_storage("./Vault").is_ok());
        for remote in [
            "sftp://nas/v",
            "davs://h/p",
            "https://cloud/remote.php/dav/files/u/v",
        ] {
            let err = check_storage(remote).unwrap_err();
            assert!(err.contains("local folders only"), "{err}");
        }
        assert!(check_storage("").is_err());
    }

    #[test]
    fn exit_codes_match_vault() {
        assert_eq!(exit_for_unlock(VaultErrorKind::WrongPassword), 3);
        assert_eq!(exit_for_unlock(VaultErrorKind::NotAVault), 4);
        assert_eq!(exit_for_unlock(VaultErrorKind::Unavailable), 5);
        assert_eq!(exit_for_unlock(VaultErrorKind::Corrupt), 1);
    }

    #[test]
    fn password_file_first_line() {
        assert_eq!(password_from_file_text("secret\nrest"), "secret");
        assert_eq!(password_from_file_text("secret\r\n"), "secret");
        assert_eq!(password_from_file_text("no newline"), "no newline");
        assert_eq!(password_from_file_text(""), "");
        assert_eq!(password_from_file_text(" spaces kept \n"), " spaces kept ");
    }

    #[test]
    fn arguments_parse() {
        let cli =
            Cli::try_parse_from(["vault-winfsp", "mount", "--read-only", "D:\\V", "X:"]).unwrap();
        let Command::Mount {
            read_only,
            storage,
            mountpoint,
            password_file,
        } = cli.command;
        assert!(read_only);
        assert_eq!(storage, "D:\\V");
        assert_eq!(mountpoint.as_deref(), Some("X:"));
        assert_eq!(password_file, None);
        assert!(Cli::try_parse_from(["vault-winfsp", "mount"]).is_err());
    }

    #[test]
    fn help_carries_the_winfsp_notice() {
        let help = Cli::try_parse_from(["vault-winfsp", "--help"])
            .unwrap_err()
            .to_string();
        assert!(
            help.contains("WinFsp - Windows File System Proxy, Copyright (C) Bill Zissimopoulos")
        );
        assert!(help.contains("https://github.com/winfsp/winfsp"));
    }
}
