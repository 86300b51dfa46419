//! Rename and delete rules where Windows and the ops layer (POSIX) differ.
//!
//! Windows never replaces a directory by renaming onto it, and replaces a
//! file only with ReplaceIfExists; rename(2) replaces an empty directory and
//! any file. Delete is asked for up front (SetDelete / CanDelete) and done at
//! cleanup, so its failures must be found before the handle closes.

use vault_fs::ops::{FileKind, RenameFlags};

use crate::path::{WinPath, check_new_name};
use crate::status::{
    NtStatus, STATUS_ACCESS_DENIED, STATUS_CANNOT_DELETE, STATUS_DIRECTORY_NOT_EMPTY,
    STATUS_INVALID_PARAMETER, STATUS_MEDIA_WRITE_PROTECTED, STATUS_OBJECT_NAME_COLLISION,
};

/// Checks the two paths of a rename before anything is looked up.
pub fn check_rename_paths(from: &WinPath, to: &WinPath) -> Result<(), NtStatus> {
    let (Some(_), Some((_, new_name))) = (from.split_last(), to.split_last()) else {
        // The root cannot move, and nothing can become the root.
        return Err(STATUS_ACCESS_DENIED);
    };
    check_new_name(new_name)?;
    if to != from && to.starts_with(from) {
        // A directory into itself.
        return Err(STATUS_INVALID_PARAMETER);
    }
    Ok(())
}

/// The ops layer's rename flags for moving a `source` onto a `target` that
/// exists (`Some(kind)`) or not.
pub fn rename_flags(
    source: FileKind,
    target: Option<FileKind>,
    replace_if_exists: bool,
) -> Result<RenameFlags, NtStatus> {
    match target {
        None => Ok(RenameFlags {
            // Nothing there now; if something appears meanwhile, refuse rather than replace.
            no_replace: true,
            exchange: false,
        }),
        Some(FileKind::Dir) => Err(STATUS_ACCESS_DENIED),
        Some(_) if !replace_if_exists => Err(STATUS_OBJECT_NAME_COLLISION),
        Some(_) if source == FileKind::Dir => Err(STATUS_ACCESS_DENIED),
        Some(_) => Ok(RenameFlags {
            no_replace: false,
            exchange: false,
        }),
    }
}

/// Whether a node may be marked for deletion. `has_entries`: a directory's
/// listing is not empty (ignored for other kinds).
pub fn check_delete(
    path: &WinPath,
    kind: FileKind,
    has_entries: bool,
    read_only: bool,
) -> Result<(), NtStatus> {
    if read_only {
        return Err(STATUS_MEDIA_WRITE_PROTECTED);
    }
    if path.is_root() {
        return Err(STATUS_CANNOT_DELETE);
    }
    if kind == FileKind::Dir && has_entries {
        return Err(STATUS_DIRECTORY_NOT_EMPTY);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::STATUS_OBJECT_NAME_INVALID;

    fn p(s: &str) -> WinPath {
        WinPath::parse(&s.encode_utf16().collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn rename_paths() {
        assert_eq!(check_rename_paths(&p("\\a"), &p("\\b")), Ok(()));
        assert_eq!(
            check_rename_paths(&p("\\a"), &p("\\A")),
            Ok(()),
            "case-only rename"
        );
        assert_eq!(check_rename_paths(&p("\\a"), &p("\\a")), Ok(()));
        assert_eq!(check_rename_paths(&p("\\a"), &p("\\ab")), Ok(()));
        assert_eq!(
            check_rename_paths(&p("\\"), &p("\\b")),
            Err(STATUS_ACCESS_DENIED)
        );
        assert_eq!(
            check_rename_paths(&p("\\a"), &p("\\")),
            Err(STATUS_ACCESS_DENIED)
        );
        assert_eq!(
            check_rename_paths(&p("\\a"), &p("\\a\\b")),
            Err(STATUS_INVALID_PARAMETER)
        );
        assert_eq!(
            check_rename_paths(&p("\\a"), &p("\\b\\NUL")),
            Err(STATUS_OBJECT_NAME_INVALID)
        );
        assert_eq!(
            check_rename_paths(&p("\\a"), &p("\\b.")),
            Err(STATUS_OBJECT_NAME_INVALID)
        );
    }

    #[test]
    fn rename_onto_nothing() {
        let flags = rename_flags(FileKind::File, None, false).unwrap();
        assert!(flags.no_replace && !flags.exchange);
        let flags = rename_flags(FileKind::Dir, None, true).unwrap();
        assert!(flags.no_replace);
    }

    #[test]
    fn rename_onto_a_file() {
        assert_eq!(
            rename_flags(FileKind::File, Some(FileKind::File), false).map(|f| f.no_replace),
            Err(STATUS_OBJECT_NAME_COLLISION)
        );
        let flags = rename_flags(FileKind::File, Some(FileKind::File), true).unwrap();
        assert!(!flags.no_replace && !flags.exchange);
        let flags = rename_flags(FileKind::Symlink, Some(FileKind::File), true).unwrap();
        assert!(!flags.no_replace);
        assert_eq!(
            rename_flags(FileKind::Dir, Some(FileKind::File), true).map(|f| f.no_replace),
            Err(STATUS_ACCESS_DENIED)
        );
    }

    #[test]
    fn rename_never_replaces_a_directory() {
        for source in [FileKind::File, FileKind::Dir, FileKind::Symlink] {
            for replace in [false, true] {
                assert_eq!(
                    rename_flags(source, Some(FileKind::Dir), replace).map(|f| f.no_replace),
                    Err(STATUS_ACCESS_DENIED)
                );
            }
        }
    }

    #[test]
    fn delete_rules() {
        assert_eq!(
            check_delete(&p("\\f"), FileKind::File, false, false),
            Ok(())
        );
        assert_eq!(check_delete(&p("\\f"), FileKind::File, true, false), Ok(()));
        assert_eq!(check_delete(&p("\\d"), FileKind::Dir, false, false), Ok(()));
        assert_eq!(
            check_delete(&p("\\d"), FileKind::Dir, true, false),
            Err(STATUS_DIRECTORY_NOT_EMPTY)
        );
        assert_eq!(
            check_delete(&WinPath::root(), FileKind::Dir, false, false),
            Err(STATUS_CANNOT_DELETE)
        );
        assert_eq!(
            check_delete(&p("\\f"), FileKind::File, false, true),
            Err(STATUS_MEDIA_WRITE_PROTECTED)
        );
    }
}
