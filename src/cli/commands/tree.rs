//! What the recursive commands (`ls -R`, `get -r`, `rm -r`) share when they
//! walk a tree storage decides the shape of: directory-ID cycles and aliases
//! stop the walk with one clear error.

use vault_engine::{DirId, DirRepeat, Node, NodeKind, Vault, VisitedDirs};

use crate::cli::escape::c_escape;
use crate::cli::exit::{CliError, CliResult};
use crate::cli::session::{self, VPath};

/// The walk's memory of directory IDs, seeded with `start` (a directory at
/// `path`) and every directory above it, so that a `dir.c9r` below naming an
/// ancestor is caught as the cycle it is.
pub async fn visited_from(
    vault: &Vault,
    storage: &str,
    path: &VPath,
    start: &DirId,
) -> CliResult<VisitedDirs> {
    let mut ancestors = vec![(DirId::root(), "/".to_owned())];
    let mut cur = path.clone();
    let mut above = Vec::new();
    while let Some((parent, _)) = cur.split_last() {
        if !parent.is_root() {
            above.push(parent.clone());
        }
        cur = parent;
    }
    for p in above.into_iter().rev() {
        let id = session::resolve_dir(vault, storage, &p).await?;
        ancestors.push((id, p.display()));
    }
    Ok(VisitedDirs::new((start, &path.display()), &ancestors))
}

/// Enters directory `node` at `path` or explains, in one line, why not.
pub fn enter(visited: &mut VisitedDirs, node: &Node, path: &VPath) -> CliResult {
    let NodeKind::Dir(id) = &node.kind else {
        return Ok(());
    };
    visited
        .enter(id, &path.display())
        .map_err(|r| repeat_error(path, node, &r))
}

fn repeat_error(path: &VPath, node: &Node, r: &DirRepeat) -> CliError {
    let what = if r.cycle {
        "directory ID cycle: same ID as its ancestor"
    } else {
        "directory ID alias: same ID as"
    };
    CliError::other(format!(
        "{}: {what} {} (ciphertext node {}); stopped, run vault check",
        c_escape(&path.display()),
        c_escape(&r.first),
        node.storage_path
    ))
}
