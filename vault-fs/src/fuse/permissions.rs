//! Who checks permission bits: the kernel (`default_permissions`) or this adapter's
//! `access` answer. A leaf: pure functions over the mount's settings and a node's attributes.
//!
//! Why not always the kernel: with `default_permissions` the kernel checks a folder's modes
//! before every change in it, and after each change it has forgotten the folder's
//! attributes, so every create, unlink, mkdir and rename costs one more request (a GETATTR
//! round trip; a tenth of `rm -rf`'s time). The format stores no modes: every node has the
//! mount's fixed bits and owner, and chmod is ignored. When only the owner may use the
//! mount, owns every node, and those bits give it read and write (and search on folders),
//! the kernel's check can refuse nothing, so it is left out — as gocryptfs does. Then the
//! kernel asks `access(2)` of us ([`access_allowed`]) and checks execute bits on its own.

use fuser::{AccessFlags, SessionACL};

use crate::ops::{Attr, FileKind, FsConfig};

/// Whether the mount needs the kernel's mode checks (`default_permissions`): asked for with
/// `-o default_permissions`, other users admitted (`allow_other`, `allow_root`), nodes
/// shown as another user's (`uid=`), or modes that deny the owner something (`umask=`,
/// `file_mode=`, `dir_mode=`). `owner` is the user the mount belongs to.
pub(super) fn kernel_checks_modes(
    fs: &FsConfig,
    acl: SessionACL,
    forced: bool,
    owner: u32,
) -> bool {
    forced
        || acl != SessionACL::Owner
        || fs.uid != owner
        || fs.file_perm & 0o600 != 0o600
        || fs.dir_perm & 0o700 != 0o700
}

/// `access(2)` on a node with `attr`, for the caller `uid`/`gid`, as the kernel's own check
/// would answer it: owner, group or other bits; root passes read and write, and execute
/// where any execute bit is set (or on a folder).
pub(super) fn access_allowed(attr: &Attr, uid: u32, gid: u32, mask: AccessFlags) -> bool {
    let wanted = mask.bits() as u16 & 0o7;
    if wanted == 0 {
        return true;
    }
    let perm = attr.perm;
    if uid == 0 {
        let exec_ok = attr.kind == FileKind::Dir || perm & 0o111 != 0;
        return wanted & 0o1 == 0 || exec_ok;
    }
    let bits = if uid == attr.uid {
        perm >> 6
    } else if gid == attr.gid {
        perm >> 3
    } else {
        perm
    } & 0o7;
    bits & wanted == wanted
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    fn attr(kind: FileKind, perm: u16) -> Attr {
        Attr {
            ino: 2,
            kind,
            size: 0,
            mtime: SystemTime::UNIX_EPOCH,
            perm,
            uid: 1000,
            gid: 100,
            nlink: 1,
        }
    }

    fn owner_config() -> FsConfig {
        FsConfig {
            uid: 1000,
            gid: 100,
            ..FsConfig::default()
        }
    }

    #[test]
    fn the_kernel_checks_only_where_it_could_refuse_something() {
        let fs = owner_config();
        assert!(!kernel_checks_modes(&fs, SessionACL::Owner, false, 1000));
        assert!(kernel_checks_modes(&fs, SessionACL::Owner, true, 1000));
        assert!(kernel_checks_modes(&fs, SessionACL::All, false, 1000));
        assert!(kernel_checks_modes(
            &fs,
            SessionACL::RootAndOwner,
            false,
            1000
        ));
        assert!(kernel_checks_modes(&fs, SessionACL::Owner, false, 1001));
        let read_only_files = FsConfig {
            file_perm: 0o444,
            ..owner_config()
        };
        assert!(kernel_checks_modes(
            &read_only_files,
            SessionACL::Owner,
            false,
            1000
        ));
        let closed_dirs = FsConfig {
            dir_perm: 0o600,
            ..owner_config()
        };
        assert!(kernel_checks_modes(
            &closed_dirs,
            SessionACL::Owner,
            false,
            1000
        ));
    }

    #[test]
    fn access_follows_owner_group_and_other_bits() {
        let file = attr(FileKind::File, 0o640);
        let (r, w, x) = (AccessFlags::R_OK, AccessFlags::W_OK, AccessFlags::X_OK);
        assert!(access_allowed(&file, 1000, 100, r | w));
        assert!(!access_allowed(&file, 1000, 100, x));
        assert!(access_allowed(&file, 1001, 100, r));
        assert!(!access_allowed(&file, 1001, 100, w));
        assert!(!access_allowed(&file, 1001, 101, r));
        assert!(access_allowed(&file, 1001, 101, AccessFlags::F_OK));
    }

    #[test]
    fn root_reads_and_writes_anything_but_executes_only_marked_files() {
        let (w, x) = (AccessFlags::W_OK, AccessFlags::X_OK);
        assert!(access_allowed(&attr(FileKind::File, 0o000), 0, 0, w));
        assert!(!access_allowed(&attr(FileKind::File, 0o644), 0, 0, x));
        assert!(access_allowed(&attr(FileKind::File, 0o744), 0, 0, x));
        assert!(access_allowed(&attr(FileKind::Dir, 0o000), 0, 0, x));
    }
}
