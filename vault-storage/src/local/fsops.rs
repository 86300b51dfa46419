//! Blocking file-system primitives under `LocalStorage`: error mapping, symlink refusal, durable
//! folder entries, no-replace rename and positioned I/O.

use std::io;
use std::path::{Path, PathBuf};

use crate::{EntryKind, Metadata, StorageError, StorageErrorKind, StoragePath};

/// Maps an I/O error to the kind the engine acts on. The one place where
/// `io::ErrorKind` (and so errno) becomes a [`StorageErrorKind`].
pub fn classify(error: &io::Error) -> StorageErrorKind {
    use io::ErrorKind as E;
    match error.kind() {
        E::NotFound => StorageErrorKind::NotFound,
        E::AlreadyExists => StorageErrorKind::AlreadyExists,
        E::DirectoryNotEmpty => StorageErrorKind::NotEmpty,
        E::NotADirectory => StorageErrorKind::NotADirectory,
        E::IsADirectory => StorageErrorKind::IsADirectory,
        E::PermissionDenied | E::ReadOnlyFilesystem => StorageErrorKind::PermissionDenied,
        E::StorageFull | E::QuotaExceeded | E::FileTooLarge => StorageErrorKind::StorageFull,
        E::Unsupported => StorageErrorKind::Unsupported,
        E::InvalidFilename => StorageErrorKind::InvalidPath,
        // A vault folder on NFS/SMB/sshfs: the mount may come back.
        E::TimedOut
        | E::NotConnected
        | E::ConnectionReset
        | E::ConnectionAborted
        | E::BrokenPipe
        | E::HostUnreachable
        | E::NetworkUnreachable
        | E::NetworkDown
        | E::StaleNetworkFileHandle => StorageErrorKind::Unavailable,
        _ => StorageErrorKind::Other,
    }
}

pub(super) fn to_storage_error(path: &StoragePath, error: io::Error) -> StorageError {
    StorageError::with_source(classify(&error), path, error)
}

/// Runs blocking file-system work on the blocking pool, or right here inside
/// [`crate::run_io_inline`] (a thread that may block: no handoff, no wake-up).
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    if crate::io_inline() {
        return f();
    }
    tokio::task::spawn_blocking(f)
        .await
        .map_err(io::Error::other)?
}

/// `each` of a folder's entries whose names are UTF-8 (others are skipped with a warning);
/// an entry that `each` finds gone (removed meanwhile, or a dangling symlink) is not an entry.
pub(super) fn read_folder<T>(
    full: &Path,
    mut each: impl FnMut(&std::fs::DirEntry, String) -> io::Result<T>,
) -> io::Result<Vec<T>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(full)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            tracing::warn!(path = %full.display(), "skipping a non-UTF-8 name in the storage folder");
            continue;
        };
        match each(&entry, name) {
            Ok(v) => out.push(v),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

pub(super) fn metadata_of(meta: &std::fs::Metadata) -> Metadata {
    if meta.is_dir() {
        Metadata {
            kind: EntryKind::Dir,
            size: 0,
            modified: meta.modified().ok(),
            version: None,
        }
    } else {
        Metadata {
            kind: EntryKind::File,
            size: meta.len(),
            modified: meta.modified().ok(),
            version: None,
        }
    }
}

/// The storage folder: its path, and whether that path holds no symlink of its own (then, on
/// Linux, the symlink check walks a whole path in one `openat2` call).
#[derive(Debug)]
pub(super) struct Root {
    pub(super) path: PathBuf,
    /// `path` is canonical: none of its own components is a symlink.
    plain: bool,
}

impl Root {
    pub(super) fn new(path: PathBuf) -> Root {
        let plain = std::fs::canonicalize(&path).is_ok_and(|c| c == path);
        Root { path, plain }
    }
}

fn symlink_refused() -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        "refusing to write through a symlink inside the storage folder",
    )
}

/// Refuses to go through a symlink below `root`: every existing component of
/// `rel` (all of them with `include_last`, else all but the last) is checked.
/// A missing component ends the check: the operation itself then reports
/// `NotFound`. On Linux, below a root whose own path has no symlink, one
/// `openat2(RESOLVE_NO_SYMLINKS)` walk (every rename and removal asks this: one
/// call instead of an `lstat` per component); otherwise `lstat` each.
pub(super) fn check_no_symlinks(
    root: &Root,
    rel: &StoragePath,
    include_last: bool,
) -> io::Result<()> {
    let comps: Vec<&str> = rel.components().collect();
    let upto = if include_last {
        comps.len()
    } else {
        comps.len().saturating_sub(1)
    };
    if upto == 0 {
        return Ok(());
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if root.plain {
        use rustix::fs::{CWD, Mode, OFlags, ResolveFlags};
        use rustix::io::Errno;
        // By path, as the operation that follows goes by path: no symlink anywhere on it (the
        // root's own components have none: `plain`, so one appearing there is refused too).
        let mut full = root.path.clone();
        full.extend(&comps[..upto]);
        let resolve = ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        let flags = OFlags::PATH | OFlags::CLOEXEC;
        match rustix::fs::openat2(CWD, &full, flags, Mode::empty(), resolve) {
            Ok(_) => return Ok(()),
            Err(Errno::LOOP) => return Err(symlink_refused()),
            Err(Errno::NOENT) => return Ok(()),
            // No openat2 (before Linux 5.6) or a concurrent rename: walk as below.
            Err(Errno::NOSYS) | Err(Errno::AGAIN) | Err(Errno::INVAL) | Err(Errno::PERM) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut cur = root.path.clone();
    for comp in &comps[..upto] {
        cur.push(comp);
        match std::fs::symlink_metadata(&cur) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(symlink_refused()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The folder holding `rel`'s last component, opened (`O_PATH`) without following a symlink
/// anywhere on the way, and that component's name. An operation relative to the folder then
/// acts where the check looked, with no window for a symlink swapped in between, and the
/// kernel walks the path once instead of once for the check and once per path the operation
/// names. `Ok(None)`: not available here (not Linux, a root whose own path holds a symlink, a
/// kernel without `openat2`); use [`check_no_symlinks`] and paths.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn parent_beneath<'a>(
    root: &Root,
    rel: &'a StoragePath,
) -> io::Result<Option<(rustix::fd::OwnedFd, &'a str)>> {
    use rustix::fs::{CWD, Mode, OFlags, ResolveFlags};
    use rustix::io::Errno;
    let Some(name) = rel.file_name() else {
        return Ok(None);
    };
    if !root.plain {
        return Ok(None);
    }
    let mut dir = root.path.clone();
    let comps: Vec<&str> = rel.components().collect();
    dir.extend(&comps[..comps.len() - 1]);
    let resolve = ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    match rustix::fs::openat2(CWD, &dir, flags, Mode::empty(), resolve) {
        Ok(fd) => Ok(Some((fd, name))),
        Err(Errno::LOOP) => Err(symlink_refused()),
        // As in `check_no_symlinks`: no openat2, or a concurrent rename.
        Err(Errno::NOSYS) | Err(Errno::AGAIN) | Err(Errno::INVAL) | Err(Errno::PERM) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Makes a folder's entries (a create, rename or removal in it) durable.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        // Windows cannot open a folder for flushing without backup semantics;
        // NTFS journals metadata, so the rename itself is durable enough.
        let _ = dir;
        Ok(())
    }
}

/// `rename` that fails with `AlreadyExists` instead of replacing `to`.
pub(super) fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        use rustix::io::Errno;
        match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(()),
            // Kernel or file system without RENAME_NOREPLACE: fall back below.
            // (EINVAL is also "folder into itself"; the fallback reports that again.)
            Err(Errno::NOSYS) | Err(Errno::INVAL) | Err(Errno::NOTSUP) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let meta = std::fs::symlink_metadata(from)?;
    if meta.is_dir() {
        // Folders cannot be hard-linked: check, then rename. Racy only against
        // another client creating the same target between the two steps.
        match std::fs::symlink_metadata(to) {
            Ok(_) => Err(io::Error::from(io::ErrorKind::AlreadyExists)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::rename(from, to),
            Err(e) => Err(e),
        }
    } else {
        // link() fails with EEXIST if `to` exists: atomic no-replace.
        std::fs::hard_link(from, to)?;
        std::fs::remove_file(from)
    }
}

/// Renames `from` to `to`, both in one folder, relative to the folder [`parent_beneath`]
/// opened. `Ok(false)`: nothing done (not available here, or the file system lacks
/// `RENAME_NOREPLACE`); use [`check_no_symlinks`] and paths.
pub(super) fn rename_in_folder(
    root: &Root,
    from: &StoragePath,
    to: &StoragePath,
    mode: crate::RenameMode,
) -> io::Result<bool> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::fs::{RenameFlags, renameat_with};
        use rustix::io::Errno;
        let (Some((dir, from_name)), Some(to_name)) = (parent_beneath(root, from)?, to.file_name())
        else {
            return Ok(false);
        };
        let flags = match mode {
            crate::RenameMode::Replace => RenameFlags::empty(),
            crate::RenameMode::NoReplace => RenameFlags::NOREPLACE,
        };
        match renameat_with(&dir, from_name, &dir, to_name, flags) {
            Ok(()) => Ok(true),
            Err(Errno::NOSYS | Errno::INVAL | Errno::NOTSUP) if !flags.is_empty() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = (root, from, to, mode);
        Ok(false)
    }
}

/// Unlinks the file `rel` relative to the folder [`parent_beneath`] opened (a folder there is
/// `IsADirectory`). `Ok(false)`: nothing done (not available here); use paths.
pub(super) fn remove_in_folder(root: &Root, rel: &StoragePath) -> io::Result<bool> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let Some((dir, name)) = parent_beneath(root, rel)? else {
            return Ok(false);
        };
        rustix::fs::unlinkat(&dir, name, rustix::fs::AtFlags::empty())?;
        Ok(true)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = (root, rel);
        Ok(false)
    }
}

/// Up to `want` bytes at `offset` (fewer only at end of file), read into fresh memory that is
/// not zero-filled first: the kernel fills it (a small random read would otherwise clear a
/// whole chunk's buffer only to overwrite it).
#[cfg(unix)]
pub(super) fn read_exact_at(file: &std::fs::File, want: usize, offset: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(want);
    while buf.len() < want {
        let at = offset + buf.len() as u64;
        // `spare_capacity` appends what the kernel wrote and never reallocates.
        match rustix::io::pread(file, rustix::buffer::spare_capacity(&mut buf), at) {
            Ok(0) => break,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(buf)
}

#[cfg(windows)]
pub(super) fn read_exact_at(file: &std::fs::File, want: usize, offset: u64) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; want];
    let mut filled = 0;
    while filled < buf.len() {
        let n = read_at(file, &mut buf[filled..], offset + filled as u64)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    Ok(buf)
}

#[cfg(windows)]
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

#[cfg(unix)]
pub(super) fn write_all_at(file: &std::fs::File, data: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, data, offset)
}

#[cfg(windows)]
pub(super) fn write_all_at(
    file: &std::fs::File,
    mut data: &[u8],
    mut offset: u64,
) -> io::Result<()> {
    while !data.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_write(file, data, offset)?;
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::WriteZero));
        }
        data = &data[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn symlinks_below_the_root_are_refused_and_the_root_itself_may_be_one() {
        let base = tempfile::tempdir().unwrap();
        let real = base.path().join("real");
        std::fs::create_dir_all(real.join("d/AB")).unwrap();
        let outside = base.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, real.join("d/CD")).unwrap();
        std::os::unix::fs::symlink(&real, base.path().join("root-link")).unwrap();
        let p = |s: &str| StoragePath::new(s).unwrap();
        let plain = Root::new(real.clone());
        assert!(plain.plain, "a canonical root: one openat2 walk on Linux");
        let through_link = Root::new(base.path().join("root-link"));
        assert!(
            !through_link.plain,
            "a root reached through a symlink: lstat each"
        );
        for root in [plain, through_link] {
            check_no_symlinks(&root, &p("d/AB/x.c9r"), false).unwrap();
            check_no_symlinks(&root, &p("d/AB"), true).unwrap();
            check_no_symlinks(&root, &p("d/missing/x.c9r"), false).unwrap();
            for (rel, last) in [("d/CD/x.c9r", false), ("d/CD", true), ("d/CD/sub/x", true)] {
                let e = check_no_symlinks(&root, &p(rel), last).unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{rel}");
            }
            // The last component is not checked unless asked.
            check_no_symlinks(&root, &p("d/CD"), false).unwrap();
        }
        // The root folder replaced after it was opened: the path is what counts.
        let root = Root::new(real.clone());
        std::fs::rename(&real, base.path().join("old")).unwrap();
        std::fs::create_dir_all(real.join("d")).unwrap();
        std::os::unix::fs::symlink(&outside, real.join("d/AB")).unwrap();
        let e = check_no_symlinks(&root, &p("d/AB/x.c9r"), false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
    }
}
