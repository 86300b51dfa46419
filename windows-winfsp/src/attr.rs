//! Operations-layer attributes → what WinFsp's `FSP_FSCTL_FILE_INFO` holds:
//! attribute bits, sizes, FILETIMEs, index number.
//!
//! The format stores one time per node (the modification time), so all four
//! Windows times report it. It stores no Windows attributes either: they are
//! derived from the node's kind and the mount's read-only flag, and changes
//! to them (`attrib +h`) are accepted and not kept, as `chmod` on Linux.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vault_fs::ops::{Attr, FileKind};

/// `FILE_ATTRIBUTE_READONLY` (winnt.h).
pub const FILE_ATTRIBUTE_READONLY: u32 = 0x0000_0001;
/// `FILE_ATTRIBUTE_DIRECTORY`.
pub const FILE_ATTRIBUTE_DIRECTORY: u32 = 0x0000_0010;
/// `FILE_ATTRIBUTE_NORMAL`: valid only alone.
pub const FILE_ATTRIBUTE_NORMAL: u32 = 0x0000_0080;
/// `FILE_ATTRIBUTE_REPARSE_POINT`: how Windows marks a symbolic link.
pub const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x0000_0400;
/// `INVALID_FILE_ATTRIBUTES`: "leave the attributes alone" in SetBasicInfo.
pub const INVALID_FILE_ATTRIBUTES: u32 = u32::MAX;
/// `IO_REPARSE_TAG_SYMLINK` (ntifs.h).
pub const IO_REPARSE_TAG_SYMLINK: u32 = 0xA000_000C;

/// Allocation unit the drive reports (sector size × sectors per unit in the
/// volume parameters). Sizes on storage do not follow it (ciphertext is
/// larger); it only keeps `AllocationSize` a believable multiple.
pub const CLUSTER_SIZE: u64 = 4096;

/// 100-ns intervals between 1601-01-01 (the FILETIME epoch) and 1970-01-01.
const UNIX_EPOCH_AS_FILETIME: u64 = 116_444_736_000_000_000;

/// A FILETIME (100-ns ticks since 1601-01-01 UTC) for `t`. Times before 1601
/// clamp to 0, times past the last FILETIME to `u64::MAX`: neither happens
/// for real files, and a clamp beats a wrapped date.
pub fn filetime(t: SystemTime) -> u64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => {
            let ticks = after.as_nanos() / 100;
            u64::try_from(ticks)
                .ok()
                .and_then(|t| t.checked_add(UNIX_EPOCH_AS_FILETIME))
                .unwrap_or(u64::MAX)
        }
        Err(before) => {
            let ticks = before.duration().as_nanos().div_ceil(100);
            u64::try_from(ticks)
                .ok()
                .and_then(|t| UNIX_EPOCH_AS_FILETIME.checked_sub(t))
                .unwrap_or(0)
        }
    }
}

/// The time a FILETIME stands for.
pub fn system_time(filetime: u64) -> SystemTime {
    if filetime >= UNIX_EPOCH_AS_FILETIME {
        UNIX_EPOCH + ticks(filetime - UNIX_EPOCH_AS_FILETIME)
    } else {
        UNIX_EPOCH - ticks(UNIX_EPOCH_AS_FILETIME - filetime)
    }
}

fn ticks(n: u64) -> Duration {
    Duration::new(n / 10_000_000, ((n % 10_000_000) * 100) as u32)
}

/// A time from SetBasicInfo: 0 means "do not change" (the ops layer then gets `None`).
pub fn requested_time(filetime: u64) -> Option<SystemTime> {
    (filetime != 0).then(|| system_time(filetime))
}

/// `size` rounded up to whole clusters.
pub fn allocation_size(size: u64) -> u64 {
    size.div_ceil(CLUSTER_SIZE).saturating_mul(CLUSTER_SIZE)
}

/// The Windows attribute bits of a node.
pub fn file_attributes(kind: FileKind, read_only: bool) -> u32 {
    match kind {
        // READONLY is not set on directories: Windows ignores it there and
        // Explorer reads it as "folder has a customised view".
        FileKind::Dir => FILE_ATTRIBUTE_DIRECTORY,
        FileKind::Symlink => FILE_ATTRIBUTE_REPARSE_POINT,
        FileKind::File if read_only => FILE_ATTRIBUTE_READONLY,
        FileKind::File => FILE_ATTRIBUTE_NORMAL,
    }
}

/// Everything `FSP_FSCTL_FILE_INFO` needs, platform-neutral (the Windows glue
/// copies it field by field into `winfsp_wrs::FileInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileInfoData {
    /// FILE_ATTRIBUTE_* bits.
    pub attributes: u32,
    /// IO_REPARSE_TAG_SYMLINK for symlinks, else 0.
    pub reparse_tag: u32,
    /// Logical size (a symlink's target length, 0 for directories).
    pub file_size: u64,
    /// `file_size` rounded up to clusters.
    pub allocation_size: u64,
    /// FILETIME of creation (the format has none: the modification time).
    pub creation_time: u64,
    /// FILETIME of last access (not stored: the modification time).
    pub last_access_time: u64,
    /// FILETIME of last write.
    pub last_write_time: u64,
    /// FILETIME of last change (the modification time).
    pub change_time: u64,
    /// Stable while mounted: the ops layer's node number.
    pub index_number: u64,
}

impl FileInfoData {
    /// The Windows view of `attr` on a mount that is (or is not) read-only.
    pub fn from_attr(attr: &Attr, read_only: bool) -> Self {
        let time = filetime(attr.mtime);
        // Directories report 0 bytes as NTFS does; the ops layer reports
        // none for them either way.
        let file_size = if attr.kind == FileKind::Dir {
            0
        } else {
            attr.size
        };
        FileInfoData {
            attributes: file_attributes(attr.kind, read_only),
            reparse_tag: if attr.kind == FileKind::Symlink {
                IO_REPARSE_TAG_SYMLINK
            } else {
                0
            },
            file_size,
            allocation_size: allocation_size(file_size),
            creation_time: time,
            last_access_time: time,
            last_write_time: time,
            change_time: time,
            index_number: attr.ino,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: FileKind, size: u64, mtime: SystemTime) -> Attr {
        Attr {
            ino: 42,
            kind,
            size,
            mtime,
            perm: 0o644,
            uid: 0,
            gid: 0,
            nlink: 1,
        }
    }

    #[test]
    fn filetime_of_known_dates() {
        assert_eq!(filetime(UNIX_EPOCH), 116_444_736_000_000_000);
        // 2001-09-09T01:46:40Z = 1_000_000_000 s after the Unix epoch.
        let t = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(
            filetime(t),
            116_444_736_000_000_000 + 10_000_000_000_000_000
        );
        // Sub-tick precision is truncated to 100 ns.
        let t = UNIX_EPOCH + Duration::new(1, 150);
        assert_eq!(filetime(t), 116_444_736_000_000_000 + 10_000_001);
        // 1601-01-01 itself and earlier.
        let epoch_1601 = UNIX_EPOCH - Duration::from_secs(11_644_473_600);
        assert_eq!(filetime(epoch_1601), 0);
        assert_eq!(filetime(epoch_1601 - Duration::from_secs(1)), 0);
        // 1969-12-31T23:59:59Z.
        assert_eq!(
            filetime(UNIX_EPOCH - Duration::from_secs(1)),
            116_444_736_000_000_000 - 10_000_000
        );
    }

    #[test]
    fn filetime_round_trips() {
        for ft in [
            0u64,
            1,
            116_444_735_999_999_999,
            116_444_736_000_000_000,
            133_000_000_000_000_123,
            // The largest FILETIME (30828-09-14): representable as SystemTime here.
            0x7FFF_FFFF_FFFF_FFFF,
        ] {
            assert_eq!(filetime(system_time(ft)), ft, "{ft}");
        }
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_700);
        assert_eq!(system_time(filetime(t)), t);
    }

    #[test]
    fn requested_time_zero_means_unchanged() {
        assert_eq!(requested_time(0), None);
        assert_eq!(requested_time(116_444_736_000_000_000), Some(UNIX_EPOCH));
    }

    #[test]
    fn allocation_rounds_up_to_clusters() {
        assert_eq!(allocation_size(0), 0);
        assert_eq!(allocation_size(1), 4096);
        assert_eq!(allocation_size(4096), 4096);
        assert_eq!(allocation_size(4097), 8192);
        assert_eq!(allocation_size(u64::MAX), u64::MAX);
    }

    #[test]
    fn attributes_by_kind() {
        assert_eq!(
            file_attributes(FileKind::File, false),
            FILE_ATTRIBUTE_NORMAL
        );
        assert_eq!(
            file_attributes(FileKind::File, true),
            FILE_ATTRIBUTE_READONLY
        );
        assert_eq!(
            file_attributes(FileKind::Dir, false),
            FILE_ATTRIBUTE_DIRECTORY
        );
        assert_eq!(
            file_attributes(FileKind::Dir, true),
            FILE_ATTRIBUTE_DIRECTORY
        );
        assert_eq!(
            file_attributes(FileKind::Symlink, false),
            FILE_ATTRIBUTE_REPARSE_POINT
        );
    }

    #[test]
    fn file_info_of_a_file() {
        let mtime = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let info = FileInfoData::from_attr(&attr(FileKind::File, 5000, mtime), false);
        assert_eq!(info.attributes, FILE_ATTRIBUTE_NORMAL);
        assert_eq!(info.reparse_tag, 0);
        assert_eq!(info.file_size, 5000);
        assert_eq!(info.allocation_size, 8192);
        assert_eq!(info.last_write_time, filetime(mtime));
        assert_eq!(info.creation_time, info.last_write_time);
        assert_eq!(info.change_time, info.last_write_time);
        assert_eq!(info.last_access_time, info.last_write_time);
        assert_eq!(info.index_number, 42);
    }

    #[test]
    fn file_info_of_dir_and_symlink() {
        let dir = FileInfoData::from_attr(&attr(FileKind::Dir, 4096, UNIX_EPOCH), true);
        assert_eq!(dir.attributes, FILE_ATTRIBUTE_DIRECTORY);
        assert_eq!((dir.file_size, dir.allocation_size), (0, 0));
        let link = FileInfoData::from_attr(&attr(FileKind::Symlink, 7, UNIX_EPOCH), false);
        assert_eq!(link.attributes, FILE_ATTRIBUTE_REPARSE_POINT);
        assert_eq!(link.reparse_tag, IO_REPARSE_TAG_SYMLINK);
        assert_eq!(link.file_size, 7);
    }
}
