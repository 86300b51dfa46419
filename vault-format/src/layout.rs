//! Node layout inside a content directory (spec §1, §5, §7, §8).

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
/// Largest symlink target, in bytes (spec §7).
pub const MAX_SYMLINK_TARGET_LEN: usize = 32767;
/// Largest `dir.c9r` accepted (spec §5).
pub const MAX_DIR_FILE_LEN: usize = 1000;
/// Largest `name.c9s` accepted (spec §8).
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

/// Applies the shortening rule: `len(c9r_name) > threshold` → `.c9s`.
pub fn stored_name(c9r_name: &str, threshold: usize) -> StoredName {
    let _ = (c9r_name, threshold);
    todo!()
}

/// `b64url(SHA1(c9r_name)) + ".c9s"`.
pub fn shortened_name(c9r_name: &str) -> String {
    let _ = c9r_name;
    todo!()
}

/// A new random directory ID (UUIDv4 string, 36 characters).
pub fn new_dir_id() -> String {
    todo!()
}

/// Validates a `dir.c9r` body and returns the directory ID (non-empty, ≤ 1000 bytes, UTF-8).
pub fn parse_dir_file(bytes: &[u8]) -> Result<String, crate::FormatError> {
    let _ = bytes;
    todo!()
}
