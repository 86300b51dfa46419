//! NtCreateFile's CreateOptions, CreateDisposition and GrantedAccess → what
//! to ask of the operations layer (open for writing? directory or file? delete
//! on close?).
//!
//! WinFsp splits every disposition into calls for us (FILE_OPEN_IF: `Open`,
//! then `Create` if it found nothing; FILE_OVERWRITE*: `Open` + `Overwrite`),
//! but passes the raw CreateOptions, whose top byte still carries the
//! disposition. The adapter needs it once: when `Create` meets a name that
//! appeared since `Open` missed it (another client), see [`after_collision`].

use vault_fs::ops::FileKind;

use crate::status::{NtStatus, STATUS_FILE_IS_A_DIRECTORY, STATUS_NOT_A_DIRECTORY};

/// CreateOptions: the object must be a directory.
pub const FILE_DIRECTORY_FILE: u32 = 0x0000_0001;
/// CreateOptions: the object must not be a directory.
pub const FILE_NON_DIRECTORY_FILE: u32 = 0x0000_0040;
/// CreateOptions: delete when the last handle closes.
pub const FILE_DELETE_ON_CLOSE: u32 = 0x0000_1000;
/// CreateOptions: open a reparse point (symlink) itself, not its target.
pub const FILE_OPEN_REPARSE_POINT: u32 = 0x0020_0000;

/// Access right: read file data.
pub const FILE_READ_DATA: u32 = 0x0000_0001;
/// Access right: write file data.
pub const FILE_WRITE_DATA: u32 = 0x0000_0002;
/// Access right: append file data.
pub const FILE_APPEND_DATA: u32 = 0x0000_0004;
/// Access right: execute (maps a file for execution: needs its data).
pub const FILE_EXECUTE: u32 = 0x0000_0020;
/// Access right: delete the object.
pub const DELETE: u32 = 0x0001_0000;
/// Generic rights, in case a caller's were not mapped to specific ones.
pub const GENERIC_ALL: u32 = 0x1000_0000;
/// Generic execute.
pub const GENERIC_EXECUTE: u32 = 0x2000_0000;
/// Generic write.
pub const GENERIC_WRITE: u32 = 0x4000_0000;
/// Generic read.
pub const GENERIC_READ: u32 = 0x8000_0000;

/// NtCreateFile's CreateDisposition (ntifs.h values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Replace an existing file, or create.
    Supersede,
    /// Open an existing object only.
    Open,
    /// Create a new object only.
    Create,
    /// Open, or create if missing.
    OpenIf,
    /// Open and truncate an existing file only.
    Overwrite,
    /// Open and truncate, or create.
    OverwriteIf,
}

impl Disposition {
    /// The disposition WinFsp leaves in the top byte of CreateOptions;
    /// `None` for a value NtCreateFile never passes on.
    pub fn from_create_options(create_options: u32) -> Option<Disposition> {
        match create_options >> 24 {
            0 => Some(Disposition::Supersede),
            1 => Some(Disposition::Open),
            2 => Some(Disposition::Create),
            3 => Some(Disposition::OpenIf),
            4 => Some(Disposition::Overwrite),
            5 => Some(Disposition::OverwriteIf),
            _ => None,
        }
    }
}

/// `Create` found the name taken. With a disposition that also accepts an
/// existing file, open it instead: `Some(truncate)`. `None`: collision stands.
pub fn after_collision(disposition: Option<Disposition>) -> Option<bool> {
    match disposition? {
        Disposition::OpenIf => Some(false),
        Disposition::OverwriteIf | Disposition::Supersede => Some(true),
        Disposition::Create | Disposition::Open | Disposition::Overwrite => None,
    }
}

/// What kind of object the caller insists on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// FILE_DIRECTORY_FILE.
    Directory,
    /// FILE_NON_DIRECTORY_FILE.
    NonDirectory,
    /// Either.
    Any,
}

/// An `Open` or `Create` request, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intent {
    /// The kind the caller requires.
    pub expect: Expect,
    /// The handle will read or write data: the file must be opened in the
    /// ops layer (an attributes-only open, e.g. Explorer's, skips that and
    /// the header read it costs).
    pub data: bool,
    /// Open for writing. Always false on a read-only mount: MAXIMUM_ALLOWED
    /// grants write rights even there, and each write is refused anyway.
    pub write: bool,
    /// FILE_DELETE_ON_CLOSE.
    pub delete_on_close: bool,
    /// FILE_OPEN_REPARSE_POINT: a symlink is opened itself.
    pub open_reparse_point: bool,
}

impl Intent {
    /// Decodes CreateOptions and the access WinFsp granted.
    pub fn new(create_options: u32, granted_access: u32, read_only: bool) -> Intent {
        let expect = if create_options & FILE_DIRECTORY_FILE != 0 {
            Expect::Directory
        } else if create_options & FILE_NON_DIRECTORY_FILE != 0 {
            Expect::NonDirectory
        } else {
            Expect::Any
        };
        let write_bits = FILE_WRITE_DATA | FILE_APPEND_DATA | GENERIC_WRITE | GENERIC_ALL;
        let read_bits = FILE_READ_DATA | FILE_EXECUTE | GENERIC_READ | GENERIC_EXECUTE;
        let wants_write = granted_access & write_bits != 0;
        Intent {
            expect,
            data: wants_write || granted_access & read_bits != 0,
            write: wants_write && !read_only,
            delete_on_close: create_options & FILE_DELETE_ON_CLOSE != 0,
            open_reparse_point: create_options & FILE_OPEN_REPARSE_POINT != 0,
        }
    }

    /// Whether a `Create` makes a directory.
    pub fn creates_directory(&self) -> bool {
        self.expect == Expect::Directory
    }

    /// Refuses an object of the wrong kind, as NTFS does.
    pub fn check_kind(&self, kind: FileKind) -> Result<(), NtStatus> {
        match (self.expect, kind) {
            (Expect::Directory, FileKind::File | FileKind::Symlink) => Err(STATUS_NOT_A_DIRECTORY),
            (Expect::NonDirectory, FileKind::Dir) => Err(STATUS_FILE_IS_A_DIRECTORY),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_disposition(d: u32, options: u32) -> u32 {
        (d << 24) | options
    }

    #[test]
    fn disposition_from_top_byte() {
        let cases = [
            (0, Disposition::Supersede),
            (1, Disposition::Open),
            (2, Disposition::Create),
            (3, Disposition::OpenIf),
            (4, Disposition::Overwrite),
            (5, Disposition::OverwriteIf),
        ];
        for (raw, d) in cases {
            let options = with_disposition(raw, FILE_DIRECTORY_FILE | FILE_DELETE_ON_CLOSE);
            assert_eq!(Disposition::from_create_options(options), Some(d));
        }
        assert_eq!(
            Disposition::from_create_options(with_disposition(6, 0)),
            None
        );
        assert_eq!(Disposition::from_create_options(0xFF00_0000), None);
    }

    #[test]
    fn collision_fallback() {
        assert_eq!(after_collision(Some(Disposition::OpenIf)), Some(false));
        assert_eq!(after_collision(Some(Disposition::OverwriteIf)), Some(true));
        assert_eq!(after_collision(Some(Disposition::Supersede)), Some(true));
        assert_eq!(after_collision(Some(Disposition::Create)), None);
        assert_eq!(after_collision(Some(Disposition::Open)), None);
        assert_eq!(after_collision(Some(Disposition::Overwrite)), None);
        assert_eq!(after_collision(None), None);
    }

    #[test]
    fn intent_kinds() {
        let dir = Intent::new(
            with_disposition(2, FILE_DIRECTORY_FILE),
            FILE_READ_DATA,
            false,
        );
        assert!(dir.creates_directory());
        assert_eq!(dir.check_kind(FileKind::File), Err(STATUS_NOT_A_DIRECTORY));
        assert_eq!(
            dir.check_kind(FileKind::Symlink),
            Err(STATUS_NOT_A_DIRECTORY)
        );
        assert_eq!(dir.check_kind(FileKind::Dir), Ok(()));
        let file = Intent::new(FILE_NON_DIRECTORY_FILE, FILE_READ_DATA, false);
        assert!(!file.creates_directory());
        assert_eq!(
            file.check_kind(FileKind::Dir),
            Err(STATUS_FILE_IS_A_DIRECTORY)
        );
        assert_eq!(file.check_kind(FileKind::File), Ok(()));
        let any = Intent::new(0, 0, false);
        assert_eq!(any.expect, Expect::Any);
        assert_eq!(any.check_kind(FileKind::Dir), Ok(()));
        assert_eq!(any.check_kind(FileKind::File), Ok(()));
    }

    #[test]
    fn intent_access() {
        // Attributes only (Explorer's properties): no data handle.
        let attrs = Intent::new(0, 0x0080 /* FILE_READ_ATTRIBUTES */, false);
        assert!(!attrs.data && !attrs.write);
        let read = Intent::new(0, FILE_READ_DATA, false);
        assert!(read.data && !read.write);
        let exec = Intent::new(0, FILE_EXECUTE, false);
        assert!(exec.data && !exec.write);
        for bits in [
            FILE_WRITE_DATA,
            FILE_APPEND_DATA,
            GENERIC_WRITE,
            GENERIC_ALL,
        ] {
            let w = Intent::new(0, bits, false);
            assert!(w.data && w.write, "{bits:#x}");
        }
        // FILE_ALL_ACCESS (what MAXIMUM_ALLOWED becomes) on a read-only mount.
        let ro = Intent::new(0, 0x001F_01FF, true);
        assert!(ro.data && !ro.write);
    }

    #[test]
    fn intent_delete_on_close_and_reparse() {
        let i = Intent::new(
            with_disposition(1, FILE_DELETE_ON_CLOSE | FILE_OPEN_REPARSE_POINT),
            DELETE,
            false,
        );
        assert!(i.delete_on_close && i.open_reparse_point);
        assert!(!i.data, "DELETE alone needs no data handle");
        let plain = Intent::new(with_disposition(1, 0), DELETE, false);
        assert!(!plain.delete_on_close && !plain.open_reparse_point);
    }
}
