//! Where `vault get` writes: a destination folder, reached only through
//! directory handles opened without following symlinks.
//!
//! Names come from the vault, which storage controls. The engine refuses names
//! that are not one plain component; this module adds the other half: below the
//! folder the user named, nothing is opened through a symlink (`O_NOFOLLOW`
//! on every component), whether we made the link (a vault symlink copied out)
//! or found it in DEST. Files are written under an unpredictable temporary name
//! created with `O_EXCL`, mode 0600, and renamed over the final name only when
//! complete (then given the mode a new file gets, `0666 & !umask`, as `cp` does); every error
//! path (and a drop) removes the temporary file.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rustix::fs::{AtFlags, CWD, Mode, OFlags};

/// The folder that receives the copy (opened as the user named it: a symlink
/// the user typed is followed, as `cp` does), and paths relative to it.
pub struct Dest {
    base: OwnedFd,
    base_path: PathBuf,
    /// Mode of a finished file.
    file_mode: u32,
}

/// The process umask, read without changing it (`/proc/self/status`); 022 when unknown.
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC
}

/// A relative path as one plain component each, refusing anything else
/// (`..`, `/`, empty) even though the engine already did.
fn component(name: &str) -> io::Result<&str> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a plain file name",
        ));
    }
    Ok(name)
}

impl Dest {
    /// Opens `base` (following symlinks: it is the user's own choice).
    pub fn open(base: &Path) -> io::Result<Dest> {
        let shown = if base.as_os_str().is_empty() {
            Path::new(".")
        } else {
            base
        };
        let base_fd = rustix::fs::openat(CWD, shown, dir_flags(), Mode::empty())?;
        Ok(Dest {
            base: base_fd,
            base_path: shown.to_path_buf(),
            file_mode: 0o666 & !umask(),
        })
    }

    /// The path shown to the user for `rel`.
    pub fn shown(&self, rel: &[String]) -> PathBuf {
        let mut p = self.base_path.clone();
        p.extend(rel);
        p
    }

    /// The folder holding `rel`'s last component, and that component. Every
    /// folder on the way is opened with `O_NOFOLLOW`: a symlink there fails.
    fn parent_of<'a>(&self, rel: &'a [String]) -> io::Result<(OwnedFd, &'a str)> {
        let (last, dirs) = rel
            .split_last()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty path"))?;
        let mut fd = self.open_dir_at(self.base.as_fd(), dirs.first())?;
        for d in dirs.iter().skip(1) {
            fd = self.open_dir_at(fd.as_fd(), Some(d))?;
        }
        Ok((fd, component(last)?))
    }

    fn open_dir_at(
        &self,
        at: std::os::fd::BorrowedFd<'_>,
        name: Option<&String>,
    ) -> io::Result<OwnedFd> {
        match name {
            None => Ok(rustix::fs::openat(at, ".", dir_flags(), Mode::empty())?),
            Some(n) => Ok(rustix::fs::openat(
                at,
                component(n)?,
                dir_flags() | OFlags::NOFOLLOW,
                Mode::empty(),
            )
            .map_err(nofollow_error)?),
        }
    }

    /// Creates folder `rel` (an existing real folder is fine; a symlink is not).
    pub fn create_dir(&self, rel: &[String]) -> io::Result<()> {
        if rel.is_empty() {
            return Ok(()); // DEST itself, opened already
        }
        let (parent, name) = self.parent_of(rel)?;
        match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(0o777)) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::EXIST) => {
                rustix::fs::openat(&parent, name, dir_flags() | OFlags::NOFOLLOW, Mode::empty())
                    .map(drop)
                    .map_err(nofollow_error)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sets folder `rel`'s modification time (not through a symlink).
    pub fn set_dir_mtime(&self, rel: &[String], modified: SystemTime) -> io::Result<()> {
        let fd = if rel.is_empty() {
            rustix::fs::openat(&self.base, ".", dir_flags(), Mode::empty())?
        } else {
            let (parent, name) = self.parent_of(rel)?;
            rustix::fs::openat(&parent, name, dir_flags() | OFlags::NOFOLLOW, Mode::empty())
                .map_err(nofollow_error)?
        };
        File::from(fd).set_modified(modified)
    }

    /// Creates symlink `rel` → `target`, replacing a file or symlink there.
    pub fn symlink(&self, rel: &[String], target: &str) -> io::Result<()> {
        let (parent, name) = self.parent_of(rel)?;
        match rustix::fs::statat(&parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir() => {
                return Err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    "a directory is in the way",
                ));
            }
            Ok(_) => rustix::fs::unlinkat(&parent, name, AtFlags::empty())?,
            Err(rustix::io::Errno::NOENT) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(rustix::fs::symlinkat(target, &parent, name)?)
    }

    /// A new temporary file beside `rel`, to fill and then [`TempFile::commit`].
    pub fn temp_file(&self, rel: &[String]) -> io::Result<TempFile> {
        self.temp_file_named(rel, temp_name()?)
    }

    /// [`Dest::temp_file`] under the temporary name `tmp` (tests plant one there first).
    fn temp_file_named(&self, rel: &[String], tmp: String) -> io::Result<TempFile> {
        let (dir, name) = self.parent_of(rel)?;
        let name = name.to_owned();
        let fd = rustix::fs::openat(
            &dir,
            tmp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )?;
        Ok(TempFile {
            dir,
            tmp,
            name,
            file: Some(File::from(fd)),
            mode: self.file_mode,
        })
    }
}

/// `O_NOFOLLOW` on a symlink fails with ELOOP (or ENOTDIR with `O_DIRECTORY`):
/// say so in words.
fn nofollow_error(e: rustix::io::Errno) -> io::Error {
    if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::NOTDIR {
        io::Error::new(
            io::ErrorKind::NotADirectory,
            "not a directory (a symlink is not followed)",
        )
    } else {
        e.into()
    }
}

/// `.vault-part-` and 16 random hex digits: short (the real name may be near
/// NAME_MAX) and not guessable by another local user racing to plant it.
fn temp_name() -> io::Result<String> {
    let mut bytes = [0u8; 8];
    rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty())?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(".vault-part-{hex}"))
}

/// A temporary file being written; removed unless committed.
pub struct TempFile {
    dir: OwnedFd,
    tmp: String,
    name: String,
    file: Option<File>,
    /// Mode given once complete.
    mode: u32,
}

impl TempFile {
    /// The file to write into.
    pub fn file(&mut self) -> io::Result<&mut File> {
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("temporary file already closed"))
    }

    /// Makes the content durable, sets the modification time and renames it
    /// over the final name. On error the temporary file is removed (drop).
    pub fn commit(mut self, modified: Option<SystemTime>) -> io::Result<()> {
        let mode = self.mode;
        let file = self.file()?;
        file.set_permissions(
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(mode),
        )?;
        file.sync_all()?;
        if let Some(m) = modified {
            let _ = file.set_modified(m);
        }
        self.file = None;
        rustix::fs::renameat(&self.dir, self.tmp.as_str(), &self.dir, self.name.as_str())?;
        self.tmp.clear();
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        self.file = None;
        if !self.tmp.is_empty() {
            let _ = rustix::fs::unlinkat(&self.dir, self.tmp.as_str(), AtFlags::empty());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    fn rel(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn temp_file_is_exclusive_private_unpredictable_and_committed() {
        let t = tempfile::tempdir().unwrap();
        let dest = Dest::open(t.path()).unwrap();
        let mut a = dest.temp_file(&rel(&["f"])).unwrap();
        let b = dest.temp_file(&rel(&["f"])).unwrap();
        assert_ne!(a.tmp, b.tmp, "two temp names are equal");
        assert!(a.tmp.starts_with(".vault-part-") && a.tmp.len() == 12 + 16);
        let mode = std::fs::metadata(t.path().join(&a.tmp))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        drop(b);
        a.file().unwrap().write_all(b"data").unwrap();
        a.commit(None).unwrap();
        assert_eq!(names(t.path()), ["f"]);
        let mode = std::fs::metadata(t.path().join("f"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o666 & !umask(), "finished: as cp makes it");
        assert_eq!(std::fs::read(t.path().join("f")).unwrap(), b"data");
    }

    #[test]
    fn temp_file_never_opens_a_planted_name() {
        // O_EXCL: a file or a symlink already at the temp name is never written through,
        // nor truncated, nor removed.
        let t = tempfile::tempdir().unwrap();
        let victim = t.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let dest = Dest::open(t.path()).unwrap();
        let link = temp_name().unwrap();
        std::os::unix::fs::symlink(&victim, t.path().join(&link)).unwrap();
        let plain = temp_name().unwrap();
        std::fs::write(t.path().join(&plain), b"planted").unwrap();
        for name in [&link, &plain] {
            let err = dest
                .temp_file_named(&rel(&["f"]), name.clone())
                .err()
                .unwrap();
            assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{name}");
        }
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert_eq!(std::fs::read(t.path().join(&plain)).unwrap(), b"planted");
        assert!(t.path().join(&link).is_symlink());
    }

    #[test]
    fn temp_file_removed_when_dropped_unfinished() {
        let t = tempfile::tempdir().unwrap();
        let dest = Dest::open(t.path()).unwrap();
        let mut tmp = dest.temp_file(&rel(&["f"])).unwrap();
        tmp.file().unwrap().write_all(b"part").unwrap();
        drop(tmp);
        assert!(names(t.path()).is_empty());
    }

    #[test]
    fn temp_file_removed_when_rename_fails() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("f/full")).unwrap();
        let dest = Dest::open(t.path()).unwrap();
        let mut tmp = dest.temp_file(&rel(&["f"])).unwrap();
        tmp.file().unwrap().write_all(b"part").unwrap();
        assert!(tmp.commit(None).is_err());
        assert_eq!(names(t.path()), ["f"]);
    }

    #[test]
    fn never_writes_through_a_symlink_in_dest() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), t.path().join("d")).unwrap();
        let dest = Dest::open(t.path()).unwrap();
        assert!(dest.create_dir(&rel(&["d"])).is_err());
        assert!(dest.temp_file(&rel(&["d", "f"])).is_err());
        assert!(dest.symlink(&rel(&["d", "l"]), "/x").is_err());
        assert!(
            dest.set_dir_mtime(&rel(&["d"]), SystemTime::UNIX_EPOCH)
                .is_err()
        );
        assert!(names(outside.path()).is_empty());
        // A symlink at a file's own name is replaced, not followed.
        std::fs::write(outside.path().join("target"), b"keep").unwrap();
        std::os::unix::fs::symlink(outside.path().join("target"), t.path().join("f")).unwrap();
        let mut tmp = dest.temp_file(&rel(&["f"])).unwrap();
        tmp.file().unwrap().write_all(b"new").unwrap();
        tmp.commit(None).unwrap();
        assert_eq!(
            std::fs::read(outside.path().join("target")).unwrap(),
            b"keep"
        );
        assert!(
            !std::fs::symlink_metadata(t.path().join("f"))
                .unwrap()
                .is_symlink()
        );
        assert!(dest.temp_file(&rel(&[".."])).is_err());
        assert!(dest.temp_file(&rel(&["a/b"])).is_err());
    }
}
