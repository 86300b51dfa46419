//! `vault copy SRC DST`: copies a vault's ciphertext as is to another storage.
//!
//! Never unlocks (no vault password): every object under SRC's root is copied as opaque bytes.
//! Resumable: objects already at DST with the same size are skipped, and every object is
//! written whole through `Storage::write`, which backends make atomic, so an interruption
//! leaves no half object under its final name. `vault.cryptomator` is written last, so a DST
//! holding it is a complete copy. A non-empty DST that is not a partial copy of the same vault
//! is refused before anything is written. Afterwards DST is compared with SRC object by object
//! (`vault check` needs the password; this needs none).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use indicatif::ProgressBar;
use vault_storage::{Body, Storage, StorageError, StorageErrorKind, StoragePath, WriteMode};

use super::copy_walk::{Tree, walk};
use crate::cli::Ctx;
use crate::cli::args::SecretArgs;
use crate::cli::exit::{CliError, CliResult, Exit, exit_for_storage_kind};
use crate::cli::output::progress_bytes;
use crate::cli::secrets::Secrets;
use crate::cli::session;
use crate::cli::storage_arg::{self, Purpose};

/// Objects copied at once (a remote backend is latency-bound).
const COPY_PARALLEL: usize = 8;
/// Objects up to this size are copied through memory; larger ones through a spool file.
const IN_MEMORY_MAX: u64 = 8 << 20;
/// Read size when spooling a large object.
const READ_CHUNK: usize = 4 << 20;
/// The vault's config: the identity of the vault, and the last object written.
const CONFIG: &str = "vault.cryptomator";

/// Runs the copy; `src_secrets`/`dst_secrets` are the same flags, each resolved for its side.
pub async fn run(
    ctx: Ctx,
    src_arg: &str,
    src_secrets: &SecretArgs,
    dst_arg: &str,
    dst_secrets: &SecretArgs,
) -> CliResult {
    let src = session::connect_existing(src_arg, &Secrets::from_args(src_secrets)).await?;
    let dst_spec = storage_arg::parse(dst_arg)?;
    if let (storage_arg::StorageSpec::Local(s), storage_arg::StorageSpec::Local(d)) =
        (storage_arg::parse(src_arg)?, &dst_spec)
    {
        refuse_nested(&s, d, src_arg, dst_arg)?;
    }
    let secrets = Secrets::from_args(dst_secrets);
    let dst = crate::cli::connect::connect(
        dst_arg,
        &dst_spec,
        Purpose::Create,
        &secrets,
        &secrets.connect,
    )
    .await?;
    let src_tree = walk(src.as_ref())
        .await
        .map_err(|e| storage_err(src_arg, &e))?;
    let dst_tree = walk(dst.as_ref())
        .await
        .map_err(|e| storage_err(dst_arg, &e))?;
    let config_path = path(CONFIG)?;
    let src_config = src
        .read_all(&config_path)
        .await
        .map_err(|e| storage_err(src_arg, &e))?;
    let dst_config = if dst_tree.files.contains_key(CONFIG) {
        Some(
            dst.read_all(&config_path)
                .await
                .map_err(|e| storage_err(dst_arg, &e))?,
        )
    } else {
        None
    };
    if let Err(why) = same_vault(&src_tree, &dst_tree, &src_config, dst_config.as_deref()) {
        return Err(CliError::new(
            Exit::Error,
            format!("refusing to copy into {dst_arg}: {why}; nothing was written"),
        ));
    }

    let todo = to_copy(src.as_ref(), dst.as_ref(), &src_tree, &dst_tree).await;
    let skipped = src_tree.files.len() - 1 - todo.len();
    let bar = progress_bytes(todo.iter().map(|(_, s)| s).sum(), ctx.quiet);
    make_dirs(dst.as_ref(), &src_tree, &dst_tree)
        .await
        .map_err(|e| storage_err(dst_arg, &e))?;
    copy_all(&src, &dst, &todo, &src_tree, &bar, src_arg, dst_arg).await?;
    // Last: only now does DST look like a vault.
    if dst_config.as_deref() != Some(&src_config[..]) {
        dst.write(
            &config_path,
            Body::from_bytes(src_config.clone()),
            WriteMode::Overwrite,
        )
        .await
        .map_err(|e| storage_err(dst_arg, &e))?;
    }
    bar.finish_and_clear();
    keep_times(dst.as_ref(), &src_tree, &dst_tree).await;
    let copied = todo.len() + usize::from(dst_config.is_none());
    verify(dst.as_ref(), &src_tree, dst_arg).await?;
    warn_extra(&src_tree, &dst_tree, src_arg, dst_arg);
    if !ctx.quiet {
        eprintln!(
            "copied {copied} object{} ({} bytes), {skipped} already at {dst_arg}; \
             verified: all {} objects of {src_arg} are at {dst_arg} with the same size",
            if copied == 1 { "" } else { "s" },
            todo.iter().map(|(_, s)| s).sum::<u64>()
                + if dst_config.is_none() {
                    src_config.len() as u64
                } else {
                    0
                },
            src_tree.files.len()
        );
    }
    Ok(())
}

/// SRC's files (but the config) not already at DST, with their sizes.
async fn to_copy(
    src: &dyn Storage,
    dst: &dyn Storage,
    src_tree: &Tree,
    dst_tree: &Tree,
) -> Vec<(String, u64)> {
    let sets_times = dst.capabilities().set_modified;
    let mut todo = Vec::new();
    for (p, size) in &src_tree.files {
        if p.as_str() != CONFIG
            && !already_there(src, dst, p, *size, src_tree, dst_tree, sets_times).await
        {
            todo.push((p.clone(), *size));
        }
    }
    todo
}

/// Names DST objects SRC does not have. Only a complete copy of an older state of the vault
/// can hold them (files deleted since); a copy command leaves them alone rather than delete.
fn warn_extra(src_tree: &Tree, dst_tree: &Tree, src_arg: &str, dst_arg: &str) {
    let extra: Vec<&String> = dst_tree
        .files
        .keys()
        .filter(|p| !src_tree.files.contains_key(*p))
        .collect();
    if let Some(first) = extra.first() {
        eprintln!(
            "vault: warning: {} object{} at {dst_arg} no longer in {src_arg} left in place (first: {first})",
            extra.len(),
            if extra.len() == 1 { "" } else { "s" }
        );
    }
}

/// Whether DST may receive SRC: empty, the same vault (same `vault.cryptomator` bytes), or —
/// without `vault.cryptomator` — holding only objects and folders SRC also has.
/// The error names the first reason.
pub fn same_vault(
    src: &Tree,
    dst: &Tree,
    src_config: &[u8],
    dst_config: Option<&[u8]>,
) -> Result<(), String> {
    if dst.is_empty() {
        return Ok(());
    }
    match dst_config {
        Some(c) if c == src_config => return Ok(()),
        Some(_) => return Err("it holds a different vault (its vault.cryptomator differs)".into()),
        None => {}
    }
    if let Some(p) = dst.files.keys().find(|p| !src.files.contains_key(*p)) {
        return Err(format!(
            "it is not empty and {p} is not part of the source vault"
        ));
    }
    if let Some(p) = dst.dirs.keys().find(|p| !src.dirs.contains_key(*p)) {
        return Err(format!(
            "it is not empty and folder {p} is not part of the source vault"
        ));
    }
    Ok(())
}

/// Creates SRC's folders at DST, parents first (one depth at a time, several at once).
async fn make_dirs(dst: &dyn Storage, src: &Tree, have: &Tree) -> Result<(), StorageError> {
    let missing: Vec<&String> = src
        .dirs
        .keys()
        .filter(|d| !have.dirs.contains_key(*d))
        .collect();
    let max_depth = missing
        .iter()
        .map(|d| d.split('/').count())
        .max()
        .unwrap_or(0);
    for depth in 1..=max_depth {
        let level: Vec<StoragePath> = missing
            .iter()
            .filter(|d| d.split('/').count() == depth)
            .map(|d| StoragePath::new(d))
            .collect::<Result<_, _>>()?;
        let results: Vec<_> = futures::stream::iter(level)
            .map(|d| async move { dst.create_dir(&d).await })
            .buffer_unordered(COPY_PARALLEL)
            .collect()
            .await;
        for r in results {
            match r {
                Err(e) if e.kind() != StorageErrorKind::AlreadyExists => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Copies the listed objects, several at once; the first failure ends the copy.
async fn copy_all(
    src: &Arc<dyn Storage>,
    dst: &Arc<dyn Storage>,
    todo: &[(String, u64)],
    src_tree: &Tree,
    bar: &ProgressBar,
    src_arg: &str,
    dst_arg: &str,
) -> CliResult {
    let mut results = futures::stream::iter(todo)
        .map(|(p, size)| async move {
            let modified = src_tree.modified.get(p).copied();
            let r = copy_one(src.as_ref(), dst.as_ref(), p, *size, modified).await;
            bar.inc(*size);
            r
        })
        .buffer_unordered(COPY_PARALLEL);
    while let Some(r) = results.next().await {
        match r {
            Ok(()) => {}
            Err(Side::Src(e)) => return Err(storage_err(src_arg, &e)),
            Err(Side::Dst(e)) => return Err(storage_err(dst_arg, &e)),
            Err(Side::Changed(p)) => {
                return Err(CliError::other(format!(
                    "{src_arg}: {p} changed while it was copied (is the vault in use?); run vault copy again"
                )));
            }
            Err(Side::Local(e)) => {
                return Err(CliError::other(format!("cannot spool a large object: {e}")));
            }
        }
    }
    Ok(())
}

/// Which end failed.
enum Side {
    Src(StorageError),
    Dst(StorageError),
    Changed(String),
    Local(std::io::Error),
}

/// Copies one object whole; large ones go through a temp file so memory stays bounded.
/// Whether an object at DST can be kept: same size, and — where DST keeps times (this copy
/// sets them right after each write) — the same modification time, so an object rewritten in
/// SRC since an earlier run is copied again. Top-level objects (`masterkey.cryptomator`, its
/// backups) are small and decide everything: they are compared byte for byte.
async fn already_there(
    src: &dyn Storage,
    dst: &dyn Storage,
    p: &str,
    size: u64,
    src_tree: &Tree,
    dst_tree: &Tree,
    sets_times: bool,
) -> bool {
    if dst_tree.files.get(p) != Some(&size) {
        return false;
    }
    let secs = |t: &std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .ok()
    };
    if sets_times
        && let (Some(a), Some(b)) = (src_tree.modified.get(p), dst_tree.modified.get(p))
        && secs(a) != secs(b)
    {
        return false;
    }
    if p.contains('/') {
        return true;
    }
    let Ok(sp) = StoragePath::new(p) else {
        return false;
    };
    match (src.read_all(&sp).await, dst.read_all(&sp).await) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

async fn copy_one(
    src: &dyn Storage,
    dst: &dyn Storage,
    p: &str,
    size: u64,
    modified: Option<std::time::SystemTime>,
) -> Result<(), Side> {
    let sp = StoragePath::new(p).map_err(Side::Src)?;
    let body = if size <= IN_MEMORY_MAX {
        let bytes = src.read_all(&sp).await.map_err(Side::Src)?;
        if bytes.len() as u64 != size {
            return Err(Side::Changed(p.to_string()));
        }
        Body::from_bytes(bytes)
    } else {
        spool(src, &sp, size).await?
    };
    dst.write(&sp, body, WriteMode::Overwrite)
        .await
        .map_err(Side::Dst)?;
    // Right away, so a resumed copy can tell this object is current (see `already_there`).
    if let Some(m) = modified
        && dst.capabilities().set_modified
        && let Err(e) = dst.set_modified(&sp, m).await
    {
        tracing::warn!("cannot keep the modification time of {p}: {e}");
    }
    Ok(())
}

/// Reads a large object into an anonymous temp file and returns it as a body.
async fn spool(src: &dyn Storage, sp: &StoragePath, size: u64) -> Result<Body, Side> {
    use tokio::io::{AsyncSeekExt, AsyncWriteExt};
    let file = tempfile::tempfile().map_err(Side::Local)?;
    let mut file = tokio::fs::File::from_std(file);
    let mut offset = 0u64;
    while offset < size {
        let want = usize::try_from((size - offset).min(READ_CHUNK as u64)).unwrap_or(READ_CHUNK);
        let chunk = src.read_at(sp, offset, want).await.map_err(Side::Src)?;
        if chunk.is_empty() {
            return Err(Side::Changed(sp.as_str().to_string()));
        }
        file.write_all(&chunk).await.map_err(Side::Local)?;
        offset += chunk.len() as u64;
    }
    if offset != size {
        return Err(Side::Changed(sp.as_str().to_string()));
    }
    file.flush().await.map_err(Side::Local)?;
    file.seek(std::io::SeekFrom::Start(0))
        .await
        .map_err(Side::Local)?;
    Ok(Body::from_reader(size, file))
}

/// Gives `vault.cryptomator` and the created folders SRC's modification times (Cryptomator
/// shows a ciphertext object's time as the cleartext one; objects get theirs as they are
/// written), deepest folders last so writing inside them does not change them again. Best effort: a failure is a warning, the bytes are what count.
async fn keep_times(dst: &dyn Storage, src: &Tree, had: &Tree) {
    if !dst.capabilities().set_modified {
        return;
    }
    let mut dirs: Vec<&String> = src
        .dirs
        .keys()
        .filter(|d| !had.dirs.contains_key(*d))
        .collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.split('/').count()));
    let mut items: Vec<&str> = Vec::new();
    if !had.files.contains_key(CONFIG) {
        items.push(CONFIG);
    }
    items.extend(dirs.into_iter().map(String::as_str));
    for p in items {
        let (Some(m), Ok(sp)) = (src.modified.get(p), StoragePath::new(p)) else {
            continue;
        };
        if let Err(e) = dst.set_modified(&sp, *m).await {
            tracing::warn!("cannot keep the modification time of {p}: {e}");
        }
    }
}

/// Lists DST again: every SRC object must be there with the same size.
async fn verify(dst: &dyn Storage, src: &Tree, dst_arg: &str) -> CliResult {
    let have = walk(dst).await.map_err(|e| storage_err(dst_arg, &e))?;
    let bad: Vec<&String> = src
        .files
        .iter()
        .filter(|(p, s)| have.files.get(*p) != Some(*s))
        .map(|(p, _)| p)
        .collect();
    match bad.first() {
        None => Ok(()),
        Some(first) => Err(CliError::other(format!(
            "{dst_arg}: verification failed: {} object{} missing or of another size after copying (first: {first}); run vault copy again",
            bad.len(),
            if bad.len() == 1 { "" } else { "s" }
        ))),
    }
}

/// A local DST inside a local SRC (or the other way round) would copy the copy into itself.
fn refuse_nested(src: &Path, dst: &Path, src_arg: &str, dst_arg: &str) -> CliResult {
    let canon = |p: &Path| -> PathBuf {
        // DST may not exist yet: its nearest existing ancestor decides.
        let mut rest = Vec::new();
        let mut cur = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        loop {
            if let Ok(c) = cur.canonicalize() {
                return rest
                    .into_iter()
                    .rev()
                    .fold(c, |acc: PathBuf, n| acc.join(n));
            }
            match (cur.file_name().map(|n| n.to_os_string()), cur.parent()) {
                (Some(n), Some(parent)) => {
                    rest.push(n);
                    cur = parent.to_path_buf();
                }
                _ => return cur,
            }
        }
    };
    let (s, d) = (canon(src), canon(dst));
    if s == d {
        return Err(CliError::usage(format!(
            "{src_arg} and {dst_arg} are the same folder"
        )));
    }
    if d.starts_with(&s) || s.starts_with(&d) {
        return Err(CliError::usage(format!(
            "{dst_arg} and {src_arg} are nested in one another; copy to a folder outside the vault"
        )));
    }
    Ok(())
}

fn storage_err(arg: &str, e: &StorageError) -> CliError {
    CliError::new(exit_for_storage_kind(e.kind()), format!("{arg}: {e}"))
}

fn path(p: &str) -> CliResult<StoragePath> {
    StoragePath::new(p).map_err(|e| CliError::other(e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, u64)], dirs: &[&str]) -> Tree {
        let mut t = Tree::default();
        for (p, s) in files {
            t.files.insert(p.to_string(), *s);
        }
        for d in dirs {
            t.dirs.insert(d.to_string(), ());
        }
        t
    }

    #[test]
    fn which_destinations_are_accepted() {
        let src = tree(&[("vault.cryptomator", 3), ("d/AB/x", 5)], &["d", "d/AB"]);
        let empty = Tree::default();
        assert!(same_vault(&src, &empty, b"abc", None).is_ok());
        let partial = tree(&[("d/AB/x", 2)], &["d", "d/AB"]);
        assert!(same_vault(&src, &partial, b"abc", None).is_ok());
        let done = tree(&[("vault.cryptomator", 3)], &[]);
        assert!(same_vault(&src, &done, b"abc", Some(b"abc")).is_ok());
        let other = same_vault(&src, &done, b"abc", Some(b"xyz")).unwrap_err();
        assert!(other.contains("different vault"), "{other}");
        let foreign = tree(&[("notes.txt", 2)], &[]);
        let e = same_vault(&src, &foreign, b"abc", None).unwrap_err();
        assert!(e.contains("notes.txt"), "{e}");
        let foreign_dir = tree(&[], &["photos"]);
        assert!(same_vault(&src, &foreign_dir, b"abc", None).is_err());
    }
}
