//! Cleartext names → ciphertext locations (docs/vault-format.md §6, §8).
//!
//! Validates cleartext names, normalises them to NFC and computes where a
//! node with that name lives inside its parent's content directory: a plain
//! `<b64url>.c9r` entry or a shortened `<hash>.c9s` folder. Knows nothing of
//! storage I/O.

use unicode_normalization::{UnicodeNormalization, is_nfc};
use vault_format::layout::{self, StoredName};
use vault_storage::StoragePath;

use crate::{VaultError, VaultErrorKind};

/// Rejects names that never reach the encryptor (docs/vault-format.md §6): empty, `.`, `..`,
/// containing `/` or NUL.
pub(crate) fn validate(name: &str) -> Result<(), VaultError> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(VaultError::node(VaultErrorKind::InvalidName, name));
    }
    Ok(())
}

/// Why a decrypted name must not be used, or `None` when it is a valid name.
///
/// Names come out of storage a key holder (or a server replaying one) can
/// write; one that is empty, `.`, `..`, absolute or holds `/` or NUL would
/// make a path built from it point elsewhere (`get -r` writing outside its
/// destination, a mount listing `..`). The reason names no cleartext, so
/// the message is safe to log and print as is.
pub(crate) fn refusal(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("decrypted name is empty")
    } else if name == "." || name == ".." {
        Some("decrypted name is . or ..")
    } else if name.starts_with('/') {
        Some("decrypted name is an absolute path")
    } else if name.contains('/') {
        Some("decrypted name contains /")
    } else if name.contains('\0') {
        Some("decrypted name contains NUL")
    } else {
        None
    }
}

/// The NFC form of `name`.
pub(crate) fn nfc(name: &str) -> String {
    if is_nfc(name) {
        name.to_owned()
    } else {
        name.nfc().collect()
    }
}

/// The NFD form of `name`.
pub(crate) fn nfd(name: &str) -> String {
    name.nfd().collect()
}

/// True when `name` is already NFC.
pub(crate) fn is_nfc_name(name: &str) -> bool {
    is_nfc(name)
}

/// Where a node is stored: its parent content directory and the entry name in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeLoc {
    /// The parent's content directory (`d/XX/YYYY…`).
    pub content_dir: StoragePath,
    /// The stored entry name: `…c9r` or `…c9s`.
    pub entry: String,
    /// For a shortened node, the full `.c9r` name (`name.c9s` content).
    pub long_name: Option<String>,
}

impl NodeLoc {
    /// The location for an encrypted `.c9r` name, applying the shortening rule.
    pub fn for_encrypted(content_dir: &StoragePath, c9r_name: String, threshold: usize) -> NodeLoc {
        match layout::stored_name(&c9r_name, threshold) {
            StoredName::Plain(p) => NodeLoc {
                content_dir: content_dir.clone(),
                entry: p,
                long_name: None,
            },
            StoredName::Shortened { c9s, long } => NodeLoc {
                content_dir: content_dir.clone(),
                entry: c9s,
                long_name: Some(long),
            },
        }
    }

    /// A location parsed from a node's storage path (`d/XX/YYYY…/entry`).
    pub fn from_storage_path(path: &str) -> Result<NodeLoc, VaultError> {
        let p = StoragePath::new(path)?;
        let entry = p
            .file_name()
            .map(str::to_owned)
            .ok_or_else(|| VaultError::node(VaultErrorKind::InvalidName, path))?;
        let content_dir = p.parent().unwrap_or_default();
        Ok(NodeLoc {
            content_dir,
            entry,
            long_name: None,
        })
    }

    /// True for a `.c9s` node.
    pub fn is_shortened(&self) -> bool {
        self.entry.ends_with(layout::C9S_SUFFIX)
    }

    /// The node entry's storage path.
    pub fn node_path(&self) -> Result<StoragePath, VaultError> {
        Ok(self.content_dir.join(&self.entry)?)
    }

    /// A child of the node folder (`dir.c9r`, `symlink.c9r`, …).
    pub fn child(&self, name: &str) -> Result<StoragePath, VaultError> {
        Ok(self.node_path()?.join(name)?)
    }

    /// Where a regular file's ciphertext is: the entry itself, or
    /// `<entry>/contents.c9r` when shortened.
    pub fn file_content_path(&self) -> Result<StoragePath, VaultError> {
        if self.is_shortened() {
            self.child(layout::CONTENTS_FILE)
        } else {
            self.node_path()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        for bad in ["", ".", "..", "a/b", "a\0"] {
            assert_eq!(
                validate(bad).unwrap_err().kind(),
                VaultErrorKind::InvalidName,
                "{bad:?}"
            );
        }
        validate("a.txt").unwrap();
        validate("...").unwrap();
    }

    #[test]
    fn refusals() {
        for bad in ["", ".", "..", "/etc/passwd", "a/b", "a\0b"] {
            assert!(refusal(bad).is_some(), "{bad:?}");
        }
        for good in ["a", "...", ".hidden", "a\\b", "a\nb"] {
            assert_eq!(refusal(good), None, "{good:?}");
        }
    }

    #[test]
    fn normal_forms() {
        let nfd_name = "Cre\u{300}me";
        assert_eq!(nfc(nfd_name), "Crème");
        assert_eq!(nfd("Crème"), nfd_name);
        assert!(!is_nfc_name(nfd_name));
    }

    #[test]
    fn storage_path_parse() {
        let loc = NodeLoc::from_storage_path("d/AB/CDE/xyz.c9s").unwrap();
        assert!(loc.is_shortened());
        assert_eq!(loc.content_dir.as_str(), "d/AB/CDE");
        assert_eq!(
            loc.file_content_path().unwrap().as_str(),
            "d/AB/CDE/xyz.c9s/contents.c9r"
        );
        let loc = NodeLoc::from_storage_path("d/AB/CDE/xyz.c9r").unwrap();
        assert_eq!(
            loc.file_content_path().unwrap().as_str(),
            "d/AB/CDE/xyz.c9r"
        );
    }
}
