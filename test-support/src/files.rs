//! Plain folder trees on the local disk: copy one (fixture vaults into temporary folders), and
//! state one by content hash (to prove a run wrote nothing, or wrote exactly this).

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

/// SHA-256 of `data` in lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Copies a folder tree (files, folders, symlinks as symlinks).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let ft = entry.file_type().unwrap();
        let dst = to.join(entry.file_name());
        if ft.is_dir() {
            copy_tree(&entry.path(), &dst);
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &dst).unwrap();
        } else {
            std::fs::copy(entry.path(), &dst).unwrap();
        }
    }
}

/// Every node under `root` by relative path → `d`, `f <sha256>` or `l <target>` (modes and
/// times left out).
pub fn tree_state(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let ft = entry.file_type().unwrap();
        if ft.is_dir() {
            out.insert(rel, "d".into());
            walk(root, &path, out);
        } else if ft.is_symlink() {
            out.insert(
                rel,
                format!("l {}", std::fs::read_link(&path).unwrap().display()),
            );
        } else {
            let data = std::fs::read(&path).unwrap();
            out.insert(rel, format!("f {}", sha256_hex(&data)));
        }
    }
}
