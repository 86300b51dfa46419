//! Translation between the operations layer's types and FUSE's: error kinds
//! to errno, attributes, times and open flags (a leaf: no callbacks here).

use std::time::SystemTime;

use fuser::{Errno, FileAttr, FileType, INodeNo, TimeOrNow};

use crate::ops::{Attr, FileKind, FsErrorKind};

/// The one mapping from error kinds to errno. Exhaustive: a new kind must be
/// mapped here before anything compiles.
pub fn errno(kind: FsErrorKind) -> Errno {
    match kind {
        FsErrorKind::NotFound => Errno::ENOENT,
        FsErrorKind::AlreadyExists => Errno::EEXIST,
        FsErrorKind::NotEmpty => Errno::ENOTEMPTY,
        FsErrorKind::NotADirectory => Errno::ENOTDIR,
        FsErrorKind::IsADirectory => Errno::EISDIR,
        FsErrorKind::NameTooLong => Errno::ENAMETOOLONG,
        FsErrorKind::InvalidName => Errno::EINVAL,
        FsErrorKind::InvalidEncoding => Errno::EILSEQ,
        FsErrorKind::InvalidArgument => Errno::EINVAL,
        FsErrorKind::ReadOnly => Errno::EROFS,
        FsErrorKind::Corrupt => Errno::EIO,
        FsErrorKind::Unavailable => Errno::EIO,
        FsErrorKind::TimedOut => Errno::EIO,
        FsErrorKind::PermissionDenied => Errno::EACCES,
        FsErrorKind::NotPermitted => Errno::EPERM,
        FsErrorKind::StorageFull => Errno::ENOSPC,
        FsErrorKind::Unsupported => Errno::EOPNOTSUPP,
        // The kernel turns ENOSYS into EOPNOTSUPP (or its generic fallback,
        // e.g. for lseek and copy_file_range) and stops sending the request.
        FsErrorKind::NotImplemented => Errno::ENOSYS,
        FsErrorKind::BadHandle => Errno::EBADF,
        FsErrorKind::Other => Errno::EIO,
    }
}

/// Block size reported in `stat` (hint for buffer sizes of cp, cat, stdio).
pub(super) const BLKSIZE: u32 = 64 * 1024;

pub(super) fn file_type(kind: FileKind) -> FileType {
    match kind {
        FileKind::File => FileType::RegularFile,
        FileKind::Dir => FileType::Directory,
        FileKind::Symlink => FileType::Symlink,
    }
}

pub(super) fn file_attr(a: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.size.div_ceil(512),
        atime: a.mtime,
        mtime: a.mtime,
        ctime: a.mtime,
        crtime: a.mtime,
        kind: file_type(a.kind),
        perm: a.perm,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: 0,
        blksize: BLKSIZE,
        flags: 0,
    }
}

pub(super) fn time_of(t: TimeOrNow) -> SystemTime {
    match t {
        TimeOrNow::SpecificTime(t) => t,
        TimeOrNow::Now => SystemTime::now(),
    }
}

pub(super) const O_ACCMODE: i32 = 0o3;
pub(super) const O_RDONLY: i32 = 0o0;
pub(super) const O_TRUNC: i32 = 0o1000;
pub(super) const O_EXCL: i32 = 0o200;

pub(super) fn libc_s_ifmt() -> u32 {
    0o170000
}

pub(super) fn libc_s_ifreg() -> u32 {
    0o100000
}

pub(super) fn open_mode(flags: i32) -> (bool, bool) {
    let write = flags & O_ACCMODE != O_RDONLY;
    (write, flags & O_TRUNC != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_mapping_is_distinct_where_it_matters() {
        assert_eq!(errno(FsErrorKind::NotFound), Errno::ENOENT);
        assert_eq!(errno(FsErrorKind::Unsupported), Errno::EOPNOTSUPP);
        assert_eq!(errno(FsErrorKind::NotPermitted), Errno::EPERM);
        assert_eq!(errno(FsErrorKind::TimedOut), Errno::EIO);
        assert_eq!(errno(FsErrorKind::ReadOnly), Errno::EROFS);
    }

    #[test]
    fn open_flags() {
        assert_eq!(open_mode(0), (false, false));
        assert_eq!(open_mode(0o1 | O_TRUNC), (true, true));
        assert_eq!(open_mode(0o2), (true, false));
    }
}
