//! NTSTATUS codes and the one mapping from the operations layer's
//! [`FsErrorKind`] to them (the Windows counterpart of `vault_fs::fuse::errno`).
//!
//! The values are Microsoft's documented NTSTATUS values ([MS-ERREF] §2.3.1,
//! "NTSTATUS Values"); they are spelled out here rather than taken from
//! `windows-sys` so this module, and its tests, build on every platform.

use vault_fs::ops::FsErrorKind;

/// An NTSTATUS as WinFsp wants it (`windows_sys::Win32::Foundation::NTSTATUS` is an `i32`).
pub type NtStatus = i32;

/// Turns the documented unsigned spelling (`0xC0000034`) into the `i32` NTSTATUS.
const fn nt(code: u32) -> NtStatus {
    code as i32
}

/// The operation succeeded.
pub const STATUS_SUCCESS: NtStatus = nt(0x0000_0000);
/// A request WinFsp should have routed elsewhere (used for unimplemented
/// operations: WinFsp's own convention; STATUS_NOT_IMPLEMENTED confuses the I/O manager).
pub const STATUS_INVALID_DEVICE_REQUEST: NtStatus = nt(0xC000_0010);
/// An invalid HANDLE was specified.
pub const STATUS_INVALID_HANDLE: NtStatus = nt(0xC000_0008);
/// An invalid parameter was passed to a service or function.
pub const STATUS_INVALID_PARAMETER: NtStatus = nt(0xC000_000D);
/// The end-of-file marker has been reached.
pub const STATUS_END_OF_FILE: NtStatus = nt(0xC000_0011);
/// A process has requested access to an object but has not been granted those rights.
pub const STATUS_ACCESS_DENIED: NtStatus = nt(0xC000_0022);
/// The object name is invalid.
pub const STATUS_OBJECT_NAME_INVALID: NtStatus = nt(0xC000_0033);
/// The object name is not found.
pub const STATUS_OBJECT_NAME_NOT_FOUND: NtStatus = nt(0xC000_0034);
/// The object name already exists.
pub const STATUS_OBJECT_NAME_COLLISION: NtStatus = nt(0xC000_0035);
/// The path does not exist.
pub const STATUS_OBJECT_PATH_NOT_FOUND: NtStatus = nt(0xC000_003A);
/// The disk is full.
pub const STATUS_DISK_FULL: NtStatus = nt(0xC000_007F);
/// The media is write protected.
pub const STATUS_MEDIA_WRITE_PROTECTED: NtStatus = nt(0xC000_00A2);
/// The specified I/O operation was not completed before the time-out period expired.
pub const STATUS_IO_TIMEOUT: NtStatus = nt(0xC000_00B5);
/// The file that was specified as a target is a directory.
pub const STATUS_FILE_IS_A_DIRECTORY: NtStatus = nt(0xC000_00BA);
/// The request is not supported.
pub const STATUS_NOT_SUPPORTED: NtStatus = nt(0xC000_00BB);
/// The directory is not empty.
pub const STATUS_DIRECTORY_NOT_EMPTY: NtStatus = nt(0xC000_0101);
/// A requested opened file is not a directory.
pub const STATUS_NOT_A_DIRECTORY: NtStatus = nt(0xC000_0103);
/// A specified name string is too long for its intended use.
pub const STATUS_NAME_TOO_LONG: NtStatus = nt(0xC000_0106);
/// An attempt has been made to remove a file or directory that cannot be deleted.
pub const STATUS_CANNOT_DELETE: NtStatus = nt(0xC000_0121);
/// The I/O device reported an I/O error.
pub const STATUS_IO_DEVICE_ERROR: NtStatus = nt(0xC000_0185);
/// The data present in the reparse point buffer is invalid.
pub const STATUS_IO_REPARSE_DATA_INVALID: NtStatus = nt(0xC000_0278);
/// The file or directory is not a reparse point.
pub const STATUS_NOT_A_REPARSE_POINT: NtStatus = nt(0xC000_0275);
/// The buffer is too small to contain the entry.
pub const STATUS_BUFFER_TOO_SMALL: NtStatus = nt(0xC000_0023);

/// The NTSTATUS for an operations-layer error. Exhaustive on purpose (no
/// `_ =>`): a new kind must be mapped here before the adapter compiles.
pub fn ntstatus(kind: FsErrorKind) -> NtStatus {
    match kind {
        FsErrorKind::NotFound => STATUS_OBJECT_NAME_NOT_FOUND,
        FsErrorKind::AlreadyExists => STATUS_OBJECT_NAME_COLLISION,
        FsErrorKind::NotEmpty => STATUS_DIRECTORY_NOT_EMPTY,
        FsErrorKind::NotADirectory => STATUS_NOT_A_DIRECTORY,
        FsErrorKind::IsADirectory => STATUS_FILE_IS_A_DIRECTORY,
        // Win32 shows ERROR_FILENAME_EXCED_RANGE: the user learns the name is the problem.
        FsErrorKind::NameTooLong => STATUS_NAME_TOO_LONG,
        FsErrorKind::InvalidName | FsErrorKind::InvalidEncoding => STATUS_OBJECT_NAME_INVALID,
        FsErrorKind::InvalidArgument => STATUS_INVALID_PARAMETER,
        FsErrorKind::ReadOnly => STATUS_MEDIA_WRITE_PROTECTED,
        // Not STATUS_FILE_CORRUPT_ERROR: that one makes Windows offer chkdsk for
        // the drive, which cannot repair a vault (`vault check --repair` can).
        FsErrorKind::Corrupt => STATUS_IO_DEVICE_ERROR,
        FsErrorKind::Unavailable => STATUS_IO_DEVICE_ERROR,
        FsErrorKind::TimedOut => STATUS_IO_TIMEOUT,
        FsErrorKind::PermissionDenied => STATUS_ACCESS_DENIED,
        // Hard links: Windows reports a refused operation as access denied.
        FsErrorKind::NotPermitted => STATUS_ACCESS_DENIED,
        FsErrorKind::StorageFull => STATUS_DISK_FULL,
        FsErrorKind::Unsupported => STATUS_NOT_SUPPORTED,
        FsErrorKind::NotImplemented => STATUS_INVALID_DEVICE_REQUEST,
        FsErrorKind::BadHandle => STATUS_INVALID_HANDLE,
        FsErrorKind::Other => STATUS_IO_DEVICE_ERROR,
    }
}

/// Which part of a path a failed lookup was resolving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathStage {
    /// A directory on the way (`a` or `b` in `\a\b\c`).
    Parent,
    /// The last component (`c`).
    Final,
}

/// NTSTATUS of a failed path lookup. Windows tells a missing last component
/// (STATUS_OBJECT_NAME_NOT_FOUND: "file not found") from a missing or
/// non-directory intermediate one (STATUS_OBJECT_PATH_NOT_FOUND: "path not
/// found"); `copy`, `mkdir` and Explorer word their messages after it.
pub fn lookup_status(kind: FsErrorKind, stage: PathStage) -> NtStatus {
    match (stage, kind) {
        (PathStage::Parent, FsErrorKind::NotFound | FsErrorKind::NotADirectory) => {
            STATUS_OBJECT_PATH_NOT_FOUND
        }
        (_, kind) => ntstatus(kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_KINDS: [FsErrorKind; 20] = [
        FsErrorKind::NotFound,
        FsErrorKind::AlreadyExists,
        FsErrorKind::NotEmpty,
        FsErrorKind::NotADirectory,
        FsErrorKind::IsADirectory,
        FsErrorKind::NameTooLong,
        FsErrorKind::InvalidName,
        FsErrorKind::InvalidEncoding,
        FsErrorKind::InvalidArgument,
        FsErrorKind::ReadOnly,
        FsErrorKind::Corrupt,
        FsErrorKind::Unavailable,
        FsErrorKind::TimedOut,
        FsErrorKind::PermissionDenied,
        FsErrorKind::NotPermitted,
        FsErrorKind::StorageFull,
        FsErrorKind::Unsupported,
        FsErrorKind::NotImplemented,
        FsErrorKind::BadHandle,
        FsErrorKind::Other,
    ];

    #[test]
    fn documented_values() {
        // Spot checks against [MS-ERREF] 2.3.1, as unsigned hex.
        assert_eq!(STATUS_OBJECT_NAME_NOT_FOUND as u32, 0xC000_0034);
        assert_eq!(STATUS_OBJECT_PATH_NOT_FOUND as u32, 0xC000_003A);
        assert_eq!(STATUS_OBJECT_NAME_COLLISION as u32, 0xC000_0035);
        assert_eq!(STATUS_DIRECTORY_NOT_EMPTY as u32, 0xC000_0101);
        assert_eq!(STATUS_ACCESS_DENIED as u32, 0xC000_0022);
        assert_eq!(STATUS_MEDIA_WRITE_PROTECTED as u32, 0xC000_00A2);
        assert_eq!(STATUS_DISK_FULL as u32, 0xC000_007F);
        assert_eq!(STATUS_IO_DEVICE_ERROR as u32, 0xC000_0185);
        assert_eq!(STATUS_INVALID_PARAMETER as u32, 0xC000_000D);
        assert_eq!(STATUS_NOT_A_DIRECTORY as u32, 0xC000_0103);
        assert_eq!(STATUS_FILE_IS_A_DIRECTORY as u32, 0xC000_00BA);
        assert_eq!(STATUS_END_OF_FILE as u32, 0xC000_0011);
        assert_eq!(STATUS_SUCCESS, 0);
    }

    #[test]
    fn every_error_is_an_error_status() {
        // Severity bits 11 (error) in the top two bits: NT_SUCCESS() is false.
        for kind in ALL_KINDS {
            let status = ntstatus(kind);
            assert!(status < 0, "{kind:?} maps to a non-error {status:#x}");
            assert_eq!((status as u32) >> 30, 0b11, "{kind:?}");
        }
    }

    #[test]
    fn mapping_of_each_kind() {
        assert_eq!(
            ntstatus(FsErrorKind::NotFound),
            STATUS_OBJECT_NAME_NOT_FOUND
        );
        assert_eq!(
            ntstatus(FsErrorKind::AlreadyExists),
            STATUS_OBJECT_NAME_COLLISION
        );
        assert_eq!(ntstatus(FsErrorKind::NotEmpty), STATUS_DIRECTORY_NOT_EMPTY);
        assert_eq!(ntstatus(FsErrorKind::NotADirectory), STATUS_NOT_A_DIRECTORY);
        assert_eq!(
            ntstatus(FsErrorKind::IsADirectory),
            STATUS_FILE_IS_A_DIRECTORY
        );
        assert_eq!(ntstatus(FsErrorKind::NameTooLong), STATUS_NAME_TOO_LONG);
        assert_eq!(
            ntstatus(FsErrorKind::InvalidName),
            STATUS_OBJECT_NAME_INVALID
        );
        assert_eq!(
            ntstatus(FsErrorKind::InvalidEncoding),
            STATUS_OBJECT_NAME_INVALID
        );
        assert_eq!(
            ntstatus(FsErrorKind::InvalidArgument),
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(
            ntstatus(FsErrorKind::ReadOnly),
            STATUS_MEDIA_WRITE_PROTECTED
        );
        assert_eq!(ntstatus(FsErrorKind::Corrupt), STATUS_IO_DEVICE_ERROR);
        assert_eq!(ntstatus(FsErrorKind::Unavailable), STATUS_IO_DEVICE_ERROR);
        assert_eq!(ntstatus(FsErrorKind::TimedOut), STATUS_IO_TIMEOUT);
        assert_eq!(
            ntstatus(FsErrorKind::PermissionDenied),
            STATUS_ACCESS_DENIED
        );
        assert_eq!(ntstatus(FsErrorKind::NotPermitted), STATUS_ACCESS_DENIED);
        assert_eq!(ntstatus(FsErrorKind::StorageFull), STATUS_DISK_FULL);
        assert_eq!(ntstatus(FsErrorKind::Unsupported), STATUS_NOT_SUPPORTED);
        assert_eq!(
            ntstatus(FsErrorKind::NotImplemented),
            STATUS_INVALID_DEVICE_REQUEST
        );
        assert_eq!(ntstatus(FsErrorKind::BadHandle), STATUS_INVALID_HANDLE);
        assert_eq!(ntstatus(FsErrorKind::Other), STATUS_IO_DEVICE_ERROR);
    }

    #[test]
    fn missing_parent_is_path_not_found() {
        assert_eq!(
            lookup_status(FsErrorKind::NotFound, PathStage::Parent),
            STATUS_OBJECT_PATH_NOT_FOUND
        );
        assert_eq!(
            lookup_status(FsErrorKind::NotADirectory, PathStage::Parent),
            STATUS_OBJECT_PATH_NOT_FOUND
        );
        assert_eq!(
            lookup_status(FsErrorKind::NotFound, PathStage::Final),
            STATUS_OBJECT_NAME_NOT_FOUND
        );
        // Other failures keep their own status whatever the stage.
        assert_eq!(
            lookup_status(FsErrorKind::Unavailable, PathStage::Parent),
            STATUS_IO_DEVICE_ERROR
        );
        assert_eq!(
            lookup_status(FsErrorKind::NotADirectory, PathStage::Final),
            STATUS_NOT_A_DIRECTORY
        );
    }
}
