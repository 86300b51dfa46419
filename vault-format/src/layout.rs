//! Node layout inside a content directory (docs/vault-format.md §1, §5, §7, §8).

use sha1::{Digest, Sha1};

/// Directory node marker file.
pub const DIR_FILE: &str = "dir.c9r";
/// Symlink node content file.
pub const SYMLINK_FILE: &str = "symlink.c9r";
/// Content of a shortened file node.
pub const CONTENTS_FILE: &str = "contents.c9r";
/// Full encrypted name of a shortened node.
pub const NAME_FILE: &str = "name.c9s";
/// Directory-ID backup in every content directory.
pub const DIR_ID_BACKUP_FILE: &str = "dirid.c9r";
/// Suffix of a regular encrypted name.
pub const C9R_SUFFIX: &str = ".c9r";
/// Suffix of a shortened node folder.
pub const C9S_SUFFIX: &str = ".c9s";
/// Largest symlink target, in bytes (docs/vault-format.md §7).
pub const MAX_SYMLINK_TARGET_LEN: usize = 32767;
/// Largest `dir.c9r` accepted (docs/vault-format.md §5).
pub const MAX_DIR_FILE_LEN: usize = 1000;
/// Largest `name.c9s` accepted (docs/vault-format.md §8).
pub const MAX_NAME_FILE_LEN: usize = 10 * 1024;
/// Default `shorteningThreshold`.
pub const DEFAULT_SHORTENING_THRESHOLD: usize = 220;

/// Where a node with a given encrypted name lives in its parent content directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredName {
    /// Stored under the `.c9r` name itself.
    Plain(String),
    /// Stored as `<hash>.c9s/` with `name.c9s` holding `long`.
    Shortened {
        /// `b64url(SHA1(long)) + ".c9s"`.
        c9s: String,
        /// The full `.c9r` name.
        long: String,
    },
}

impl StoredName {
    /// The entry name in the content directory (`…c9r` or `…c9s`).
    pub fn entry_name(&self) -> &str {
        match self {
            StoredName::Plain(n) => n,
            StoredName::Shortened { c9s, .. } => c9s,
        }
    }
}

/// Applies the shortening rule: `len(c9r_name) > threshold` → `.c9s`.
pub fn stored_name(c9r_name: &str, threshold: usize) -> StoredName {
    // Strictly greater, and the `.c9r` suffix counts (docs/vault-format.md §8).
    if c9r_name.len() > threshold {
        StoredName::Shortened {
            c9s: shortened_name(c9r_name),
            long: c9r_name.to_owned(),
        }
    } else {
        StoredName::Plain(c9r_name.to_owned())
    }
}

/// `b64url(SHA1(c9r_name)) + ".c9s"`.
pub fn shortened_name(c9r_name: &str) -> String {
    let mut s = data_encoding::BASE64URL.encode(&Sha1::digest(c9r_name.as_bytes()));
    s.push_str(C9S_SUFFIX);
    s
}

/// A new random directory ID (UUIDv4 string, 36 characters).
pub fn new_dir_id() -> String {
    crate::rng::uuid_v4()
}

/// Validates a `dir.c9r` body and returns the directory ID (non-empty, ≤ 1000 bytes, UTF-8).
pub fn parse_dir_file(bytes: &[u8]) -> Result<String, crate::FormatError> {
    const WHAT: &str = "dir.c9r";
    if bytes.is_empty() || bytes.len() > MAX_DIR_FILE_LEN {
        return Err(crate::FormatError::InvalidNodeFile(WHAT));
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| crate::FormatError::InvalidNodeFile(WHAT))
}

/// Validates a `name.c9s` body (≤ 10 KiB, UTF-8, ends in `.c9r`) and returns the long name.
pub fn parse_name_file(bytes: &[u8]) -> Result<String, crate::FormatError> {
    const WHAT: &str = "name.c9s";
    if bytes.is_empty() || bytes.len() > MAX_NAME_FILE_LEN {
        return Err(crate::FormatError::InvalidNodeFile(WHAT));
    }
    let s =
        String::from_utf8(bytes.to_vec()).map_err(|_| crate::FormatError::InvalidNodeFile(WHAT))?;
    if !s.ends_with(C9R_SUFFIX) {
        return Err(crate::FormatError::InvalidNodeFile(WHAT));
    }
    Ok(s)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn threshold_is_strictly_greater() {
        let n220 = format!("{}.c9r", "a".repeat(216));
        let n221 = format!("{}.c9r", "a".repeat(217));
        assert_eq!(stored_name(&n220, 220), StoredName::Plain(n220.clone()));
        assert!(matches!(
            stored_name(&n221, 220),
            StoredName::Shortened { .. }
        ));
        assert!(matches!(
            stored_name(&n220, 219),
            StoredName::Shortened { .. }
        ));
    }

    #[test]
    fn shortened_name_is_32_chars_and_matches_vector() {
        // vectors.json file_names[0]: test.txt in root.
        assert_eq!(
            shortened_name("0-_yUiJbFKgpvhqQqflvFAW80tgVH2aJ.c9r"),
            "Dv2wIOI4tg-rhVVMxt6txPCVAfM=.c9s"
        );
        assert_eq!(shortened_name("x").len(), 32);
    }

    #[test]
    fn dir_file_rules() {
        assert_eq!(parse_dir_file(b"abc").unwrap(), "abc");
        assert!(parse_dir_file(b"").is_err());
        assert!(parse_dir_file(&[b'a'; 1001]).is_err());
        assert!(parse_dir_file(&[b'a'; 1000]).is_ok());
        assert!(parse_dir_file(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn name_file_rules() {
        assert!(parse_name_file(b"abcd.c9r").is_ok());
        assert!(parse_name_file(b"abcd").is_err());
        assert!(parse_name_file(&[b'a'; 10 * 1024 + 1]).is_err());
    }

    #[test]
    fn new_dir_ids_are_36_char_uuids() {
        let a = new_dir_id();
        assert_eq!(a.len(), 36);
        assert_ne!(a, new_dir_id());
    }
}
