//! Validated storage paths: `/`-separated, relative to the vault root.

use std::fmt;

use crate::StorageError;
#[cfg(test)]
use crate::StorageErrorKind;

/// A path inside the storage, relative to the vault root, `/`-separated.
/// The root is the empty path. Components are never empty, `.` or `..`, and
/// never contain `/`, `\\` or NUL. Not a `std::path::Path` on purpose: it means
/// the same thing on every backend and platform.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct StoragePath(String);

fn valid_component(c: &str) -> bool {
    !c.is_empty() && c != "." && c != ".." && !c.contains(['/', '\\', '\0'])
}

impl StoragePath {
    /// The vault root.
    pub fn root() -> Self {
        StoragePath(String::new())
    }

    /// Parses `a/b/c` (no leading or trailing `/`; `""` is the root).
    pub fn new(path: &str) -> Result<Self, StorageError> {
        if path.is_empty() {
            return Ok(Self::root());
        }
        if path.split('/').all(valid_component) {
            Ok(StoragePath(path.to_owned()))
        } else {
            Err(StorageError::invalid_path(path))
        }
    }

    /// This path with one more component.
    pub fn join(&self, name: &str) -> Result<Self, StorageError> {
        if !valid_component(name) {
            return Err(StorageError::invalid_path(name));
        }
        if self.0.is_empty() {
            Ok(StoragePath(name.to_owned()))
        } else {
            Ok(StoragePath(format!("{}/{}", self.0, name)))
        }
    }

    /// The parent path; `None` for the root.
    pub fn parent(&self) -> Option<Self> {
        if self.0.is_empty() {
            return None;
        }
        Some(match self.0.rfind('/') {
            Some(i) => StoragePath(self.0[..i].to_owned()),
            None => Self::root(),
        })
    }

    /// The last component; `None` for the root.
    pub fn file_name(&self) -> Option<&str> {
        if self.0.is_empty() {
            None
        } else {
            self.0.rsplit('/').next()
        }
    }

    /// True for the vault root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The path as `a/b/c`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The components from the root down.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }
}

impl fmt::Display for StoragePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("/")
        } else {
            f.write_str(&self.0)
        }
    }
}

impl fmt::Debug for StoragePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoragePath({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert!(StoragePath::new("").unwrap().is_root());
        assert_eq!(StoragePath::new("d/AB/CD").unwrap().as_str(), "d/AB/CD");
        for bad in ["/a", "a/", "a//b", "a/../b", ".", "a\\b", "a/\0"] {
            assert_eq!(
                StoragePath::new(bad).unwrap_err().kind(),
                StorageErrorKind::InvalidPath,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn join_parent_name() {
        let p = StoragePath::root()
            .join("d")
            .unwrap()
            .join("x.c9r")
            .unwrap();
        assert_eq!(p.as_str(), "d/x.c9r");
        assert_eq!(p.file_name(), Some("x.c9r"));
        assert_eq!(p.parent().unwrap().as_str(), "d");
        assert!(p.parent().unwrap().parent().unwrap().is_root());
        assert!(StoragePath::root().parent().is_none());
        assert!(StoragePath::root().join("..").is_err());
    }

    #[test]
    fn components_display_debug() {
        let p = StoragePath::new("d/AB/CDEF").unwrap();
        assert_eq!(p.components().collect::<Vec<_>>(), ["d", "AB", "CDEF"]);
        assert_eq!(StoragePath::root().components().count(), 0);
        assert_eq!(p.to_string(), "d/AB/CDEF");
        assert_eq!(StoragePath::root().to_string(), "/");
        assert_eq!(format!("{p:?}"), "StoragePath(\"d/AB/CDEF\")");
        assert_eq!(StoragePath::root().file_name(), None);
        assert!(!p.is_root());
    }

    #[test]
    fn join_rejects_every_bad_component() {
        let long = "A".repeat(300);
        for bad in ["", ".", "..", "a/b", "a\\b", "nul\0", "/"] {
            let err = StoragePath::root().join(bad).unwrap_err();
            assert_eq!(err.kind(), StorageErrorKind::InvalidPath, "{bad:?}");
        }
        // Names the vault uses are fine, however long: length limits are the backend's.
        for good in [
            "dirid.c9r",
            "-_=AbC==.c9r",
            "...",
            ".hidden",
            "a b",
            long.as_str(),
            "é",
        ] {
            let joined = StoragePath::root().join(good).unwrap().join(good).unwrap();
            assert_eq!(joined.as_str(), format!("{good}/{good}"));
            assert_eq!(StoragePath::new(joined.as_str()).unwrap(), joined);
        }
    }
}
