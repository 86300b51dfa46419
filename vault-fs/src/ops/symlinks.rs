//! Which symlink targets the mount hands to the kernel (`--symlinks`).
//!
//! A symlink's target is whatever storage holds: someone with write access to
//! the storage can swap a folder node for an authentic symlink node copied
//! from elsewhere in the vault, pointing at `/tmp` or `../../..`. The kernel
//! follows what `readlink` returns, so a program writing "into the vault"
//! would write outside it. The default policy answers `readlink` only for
//! targets that stay inside the mount.

use std::str::FromStr;

/// The `--symlinks` policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SymlinkPolicy {
    /// Every target is returned as stored.
    All,
    /// Targets that are absolute or climb above the mount root are refused
    /// (`readlink` fails with EACCES; the link is still listed).
    #[default]
    Inside,
    /// Every `readlink` is refused.
    None,
}

impl FromStr for SymlinkPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(SymlinkPolicy::All),
            "inside" => Ok(SymlinkPolicy::Inside),
            "none" => Ok(SymlinkPolicy::None),
            other => Err(format!("symlinks={other}: expected all, inside or none")),
        }
    }
}

impl SymlinkPolicy {
    /// True when `target`, read from a link whose folder is `depth` levels
    /// below the mount root, may be handed out.
    pub fn allows(self, depth: usize, target: &str) -> bool {
        match self {
            SymlinkPolicy::All => true,
            SymlinkPolicy::None => false,
            SymlinkPolicy::Inside => !escapes(depth, target),
        }
    }
}

/// True when `target` is absolute or, resolved lexically from a folder
/// `depth` levels below the root, goes above the root at any step.
pub fn escapes(depth: usize, target: &str) -> bool {
    if target.starts_with('/') {
        return true;
    }
    let mut level = depth;
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => match level.checked_sub(1) {
                Some(l) => level = l,
                None => return true,
            },
            _ => level += 1,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_means_lexically_below_the_root() {
        assert!(escapes(0, "/tmp"));
        assert!(escapes(3, "/"));
        assert!(escapes(0, ".."));
        assert!(escapes(1, "../.."));
        assert!(escapes(2, "a/../../../../b"));
        assert!(!escapes(2, "a/../../../b"));
        // Climbing out and back in still leaves the root on the way.
        assert!(escapes(1, "../../vault/x"));
        assert!(!escapes(0, "a/b"));
        assert!(!escapes(1, "../x"));
        assert!(!escapes(2, "./../.././c"));
        assert!(!escapes(0, "a//b/./.."));
    }

    #[test]
    fn policies() {
        assert!(SymlinkPolicy::All.allows(0, "/etc"));
        assert!(!SymlinkPolicy::None.allows(0, "x"));
        assert!(!SymlinkPolicy::Inside.allows(0, "/etc"));
        assert!(SymlinkPolicy::Inside.allows(0, "x"));
        assert_eq!("inside".parse(), Ok(SymlinkPolicy::Inside));
        assert_eq!(SymlinkPolicy::default(), SymlinkPolicy::Inside);
        assert!("some".parse::<SymlinkPolicy>().is_err());
    }
}
