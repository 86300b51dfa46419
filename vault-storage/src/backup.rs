//! The name under which a backend without an atomic replace keeps the object
//! it is replacing until the new one is in place.
//!
//! A backend whose [`crate::Capabilities::atomic_replace`] is false replaces
//! `dir/T` in three steps: rename `dir/T` to `dir/`[`replace_backup_name`]`(T)`,
//! rename the new object to `dir/T`, remove the backup. Whichever step a
//! dropped link or a crash cuts off, `dir/T` or its backup exists; the
//! engine's `check` finds backups by this name ([`replaced_target`]) and
//! renames one back when `T` is missing, or removes it when `T` exists.
//!
//! The name starts with `.` (format readers ignore such entries) and ends in a
//! random tag, never in `.c9r`, so no client takes it for a node.

/// Prefix of every replace backup.
pub const REPLACE_BACKUP_PREFIX: &str = ".vault-bak-";

/// Hex digits of the tag that ends a backup name.
const TAG_LEN: usize = 8;

/// The backup name for the object named `target` (a single path component),
/// tagged with `tag` so concurrent replaces of one object do not collide.
/// `None` when the result would be longer than `max_len` bytes.
pub fn replace_backup_name(target: &str, tag: u32, max_len: usize) -> Option<String> {
    let name = format!("{REPLACE_BACKUP_PREFIX}{target}.{tag:08x}");
    (name.len() <= max_len && !target.is_empty() && !target.contains('/')).then_some(name)
}

/// The name of the object `name` is a replace backup of, if it is one.
pub fn replaced_target(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(REPLACE_BACKUP_PREFIX)?;
    let (target, tag) = rest.rsplit_once('.')?;
    let tag_ok = tag.len() == TAG_LEN && tag.bytes().all(|b| b.is_ascii_hexdigit());
    (tag_ok && !target.is_empty() && target != "." && target != "..").then_some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let n = replace_backup_name("abc.c9r", 0xdead_beef, 255).unwrap();
        assert_eq!(n, ".vault-bak-abc.c9r.deadbeef");
        assert_eq!(replaced_target(&n), Some("abc.c9r"));
        assert_eq!(replace_backup_name(&"x".repeat(240), 1, 255), None);
        assert_eq!(replace_backup_name("a/b", 1, 255), None);
    }

    #[test]
    fn other_names_are_not_backups() {
        for n in [
            ".vault-tmp-123",
            ".vault-bak-",
            ".vault-bak-x",
            ".vault-bak-x.1234567",
            ".vault-bak-.12345678",
            ".vault-bak-...12345678",
            ".vault-bak-x.1234567g",
            "abc.c9r",
        ] {
            assert_eq!(replaced_target(n), None, "{n}");
        }
    }
}
