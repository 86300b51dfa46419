//! Keep offline: `vault pin PATH…` / `vault unpin PATH…` and the mount daemon's side.
//!
//! PATH is a file or folder on a mounted vault as `cp` sees it. The client finds the mount that
//! holds it (the longest mountpoint of this user's vault mounts that is a prefix of the
//! canonical path; none: exit 2) and asks its daemon over the socket `pin-<hash of the
//! mountpoint>.sock` beside the mount's `vault auth` socket (same folder, 0600, peers of the
//! daemon's own uid only). Only a mount with `--cache=full` serves it.
//!
//! The daemon maps the cleartext path to storage paths through the engine and pins those in the
//! content cache (`vault_storage::content`): a file's node (its content object, or the folder
//! of a long name), a folder's storage folder `d/XX/YYYY…` and those of every folder below it.
//! A pinned storage folder covers objects added to it later; a folder made later inside a pinned
//! one is found through its `dir.c9r` (soon after we make it, else at the check every 5 minutes)
//! and its storage folder pinned too. Only storage paths are written to
//! the cache folder, never a cleartext name. The content is fetched in the background (or
//! before the answer with `--wait`).
//!
//! Protocol: one request line, one answer line. `pin WAIT HEX` (WAIT `0`/`1`) or `unpin HEX`,
//! HEX the path below the mountpoint as hex bytes (a name may hold any byte but `/` and NUL);
//! the answer is `ok TEXT` or `err CODE TEXT` (CODE an exit code).

use std::io::{BufRead, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use vault_engine::{NodeKind, Vault};
use vault_storage::StoragePath;
use vault_storage::content::ContentCache;

use super::exit::{CliError, CliResult, Exit};

/// Most folders a pinned folder may hold (a bound on one request's walk).
const MAX_DIRS: usize = 100_000;
/// Longest request line.
const MAX_LINE: u64 = 64 * 1024;
/// How long changes in pinned folders gather before new folders are looked for.
const ADOPT_DELAY: Duration = Duration::from_secs(2);

fn socket_path(mountpoint: &Path) -> CliResult<PathBuf> {
    let auth = super::reauth::socket_path(&super::reauth::mount_key(mountpoint))?;
    let name = auth
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("auth-0.sock")
        .replacen("auth-", "pin-", 1);
    Ok(auth.with_file_name(name))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

// ------------------------------------------------------------------ client

/// `vault pin` (`unpin` false) / `vault unpin`.
pub fn run(paths: &[PathBuf], unpin: bool, wait: bool, quiet: bool) -> CliResult {
    let mounts = vault_fs::mounted_vaults();
    for path in paths {
        let (mountpoint, rel) = locate(path, &mounts)?;
        let request = if unpin {
            format!("unpin {}\n", hex(rel.as_bytes()))
        } else {
            format!("pin {} {}\n", u8::from(wait), hex(rel.as_bytes()))
        };
        let answer = ask(&mountpoint, &request)?;
        if let Some(text) = answer.strip_prefix("ok ") {
            if !quiet {
                println!("{}: {text}", path.display());
            }
            continue;
        }
        let rest = answer.strip_prefix("err ").unwrap_or(&answer);
        let (code, text) = rest.split_once(' ').unwrap_or(("1", rest));
        let exit = Exit::from_code(code.parse().unwrap_or(1));
        return Err(CliError::new(
            if exit == Exit::Success {
                Exit::Error
            } else {
                exit
            },
            format!("{}: {text}", path.display()),
        ));
    }
    Ok(())
}

/// The mount holding `path` and the path below its mountpoint (`/`-separated).
fn locate(path: &Path, mounts: &[vault_fs::MountedVault]) -> CliResult<(PathBuf, String)> {
    let full = std::fs::canonicalize(path).unwrap_or_else(|_| lexical(path));
    let best = mounts
        .iter()
        .filter(|m| full.starts_with(&m.mountpoint))
        .max_by_key(|m| m.mountpoint.components().count())
        .ok_or_else(|| {
            CliError::usage(format!(
                "{}: not on a mounted vault (see `vault status`)",
                path.display()
            ))
        })?;
    let rel = full
        .strip_prefix(&best.mountpoint)
        .unwrap_or(Path::new(""))
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/");
    Ok((best.mountpoint.clone(), rel))
}

/// `path` made absolute with `.` and `..` resolved by text (for a path that does not exist).
fn lexical(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

fn ask(mountpoint: &Path, request: &str) -> CliResult<String> {
    let socket = socket_path(mountpoint)?;
    let mut stream = std::os::unix::net::UnixStream::connect(&socket).map_err(|e| {
        CliError::other(format!(
            "{}: this mount keeps no content cache (mount it with --cache=full): {}",
            mountpoint.display(),
            super::storage_arg::io_text(&e)
        ))
    })?;
    let io = |e: std::io::Error| {
        CliError::other(format!(
            "{}: the mount daemon did not answer: {}",
            mountpoint.display(),
            super::storage_arg::io_text(&e)
        ))
    };
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut answer = String::new();
    std::io::BufReader::new(std::io::Read::take(stream, MAX_LINE))
        .read_line(&mut answer)
        .map_err(io)?;
    Ok(answer.trim_end().to_owned())
}

// ------------------------------------------------------------------ daemon

/// The listening pin socket of a mount; removed when dropped.
pub struct PinSocket {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
    adopt: tokio::task::JoinHandle<()>,
}

impl Drop for PinSocket {
    fn drop(&mut self) {
        self.task.abort();
        self.adopt.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Serves `vault pin` for the mount at `mountpoint` (a failure only costs that: logged).
pub fn serve(
    rt: &tokio::runtime::Handle,
    vault: Arc<Vault>,
    content: Arc<ContentCache>,
    mountpoint: &Path,
) -> Option<PinSocket> {
    use std::os::unix::fs::PermissionsExt;
    let path = match socket_path(mountpoint) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("`vault pin` will not reach this mount: {}", e.message);
            return None;
        }
    };
    let _ = std::fs::remove_file(&path);
    let listener = {
        let _guard = rt.enter();
        match tokio::net::UnixListener::bind(&path) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(socket = %path.display(), error = %e, "`vault pin` will not reach this mount");
                return None;
            }
        }
    };
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    let me = rustix::process::getuid().as_raw();
    let adopt = rt.spawn(adopt_loop(vault.clone(), content.clone()));
    let task = rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            if !stream.peer_cred().is_ok_and(|c| c.uid() == me) {
                tracing::warn!("refused a connection to the pin socket from another user");
                continue;
            }
            let (v, c) = (vault.clone(), content.clone());
            tokio::spawn(async move {
                let _ = handle(stream, v, c).await;
            });
        }
    });
    Some(PinSocket { path, task, adopt })
}

/// Finds folders made inside pinned folders (ours: soon after the pinned `dir.c9r` is written;
/// another device's: at the periodic check) and pins their storage folders too.
async fn adopt_loop(vault: Arc<Vault>, content: Arc<ContentCache>) {
    let changed = content.pinned_changes();
    loop {
        tokio::select! {
            _ = changed.notified() => tokio::time::sleep(ADOPT_DELAY).await,
            _ = tokio::time::sleep(vault_storage::content::PIN_REFRESH) => {}
        }
        // One level per pass: a new folder inside a new folder is found by the next pass.
        for _ in 0..32 {
            let added = adopt_subfolders(&vault, &content).await;
            if added.is_empty() {
                break;
            }
            let r = content.fetch(Some(&added)).await;
            tracing::info!(
                folders = added.len(),
                fetched = r.fetched,
                failed = r.failed,
                "pinned the folders made inside pinned folders"
            );
        }
    }
}

/// Storage folders of the folders inside pinned folders that are not pinned yet (now pinned).
async fn adopt_subfolders(vault: &Vault, content: &ContentCache) -> Vec<StoragePath> {
    let storage = vault.storage().clone();
    let mut added = Vec::new();
    for prefix in content.pins() {
        let Ok(entries) = storage.list_dir(&prefix).await else {
            continue;
        };
        for e in entries {
            if e.metadata.kind != vault_storage::EntryKind::Dir {
                continue;
            }
            let Ok(dir_file) = prefix
                .join(&e.name)
                .and_then(|n| n.join(vault_format::layout::DIR_FILE))
            else {
                continue;
            };
            let Ok(bytes) = storage.read_at(&dir_file, 0, 1024).await else {
                continue;
            };
            let Ok(id) = vault_format::layout::parse_dir_file(&bytes) else {
                continue;
            };
            let Ok(dir) = vault
                .storage_dir(&vault_engine::DirId::new(&id))
                .map_err(|e| e.to_string())
                .and_then(|d| StoragePath::new(&d).map_err(|e| e.to_string()))
            else {
                continue;
            };
            if !content.is_pinned(&dir) {
                added.push(dir);
            }
        }
    }
    if let Err(e) = content.pin(&added) {
        tracing::warn!(error = %e, "pins not recorded");
        return Vec::new();
    }
    added
}

async fn handle(
    stream: tokio::net::UnixStream,
    vault: Arc<Vault>,
    content: Arc<ContentCache>,
) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let (r, mut w) = stream.into_split();
    let mut line = String::new();
    tokio::io::BufReader::new(r.take(MAX_LINE))
        .read_line(&mut line)
        .await?;
    let answer = match answer(line.trim_end(), &vault, &content).await {
        Ok(text) => format!("ok {text}\n"),
        Err(e) => format!("err {} {}\n", e.exit.code(), e.message.replace('\n', " ")),
    };
    w.write_all(answer.as_bytes()).await
}

async fn answer(line: &str, vault: &Vault, content: &Arc<ContentCache>) -> CliResult<String> {
    let garbled = || CliError::other("garbled request");
    let words: Vec<&str> = line.split(' ').collect();
    let (unpin, wait, rel) = match words.as_slice() {
        ["pin", wait, rel] => (false, *wait == "1", *rel),
        ["unpin", rel] => (true, false, *rel),
        _ => return Err(garbled()),
    };
    let rel = String::from_utf8(unhex(rel).ok_or_else(garbled)?)
        .map_err(|_| CliError::other("not a name this vault can hold (not UTF-8)"))?;
    let prefixes = storage_paths(vault, &rel).await?;
    let failed = |e: std::io::Error| CliError::other(format!("cannot record the pins: {e}"));
    if unpin {
        let n = content.unpin(&prefixes).map_err(failed)?;
        return Ok(if n == 0 {
            "was not pinned (a file inside a pinned folder stays pinned with it)".into()
        } else {
            "unpinned".into()
        });
    }
    content.pin(&prefixes).map_err(failed)?;
    if !wait {
        let c = content.clone();
        tokio::spawn(async move {
            let r = c.fetch(Some(&prefixes)).await;
            tracing::info!(
                fetched = r.fetched,
                failed = r.failed,
                "pinned content fetched"
            );
        });
        return Ok("pinned; fetching its content in the background".into());
    }
    let r = content.fetch(Some(&prefixes)).await;
    let mut text = format!(
        "pinned; {} object(s) fetched ({} bytes), {} already cached",
        r.fetched, r.bytes, r.current
    );
    if r.failed > 0 {
        text.push_str(&format!(
            ", {} not fetched yet ({}; retried in the background)",
            r.failed,
            r.first_error.unwrap_or_default()
        ));
    }
    Ok(text)
}

/// The storage paths that hold the cleartext node `rel`: see the module docs.
async fn storage_paths(vault: &Vault, rel: &str) -> CliResult<Vec<StoragePath>> {
    let engine = |e: vault_engine::VaultError| CliError::vault("the mount", &e);
    let bad = |e: vault_storage::StorageError| CliError::other(e.to_string());
    let node = vault.resolve(rel).await.map_err(engine)?;
    let NodeKind::Dir(top) = node.kind else {
        return Ok(vec![StoragePath::new(&node.storage_path).map_err(bad)?]);
    };
    let mut out = Vec::new();
    let mut stack = vec![top];
    while let Some(id) = stack.pop() {
        if out.len() >= MAX_DIRS {
            return Err(CliError::other(format!(
                "more than {MAX_DIRS} folders: pin smaller folders"
            )));
        }
        out.push(StoragePath::new(&vault.storage_dir(&id).map_err(engine)?).map_err(bad)?);
        for child in vault.list(&id).await.map_err(engine)? {
            if let NodeKind::Dir(c) = child.kind {
                stack.push(c);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mount(p: &str) -> vault_fs::MountedVault {
        vault_fs::MountedVault {
            mountpoint: p.into(),
            source: "sftp://h/v".into(),
            read_only: false,
        }
    }

    #[test]
    fn paths_travel_as_hex() {
        let name = "a b/\u{e9}\n\\x";
        assert_eq!(unhex(&hex(name.as_bytes())).unwrap(), name.as_bytes());
        assert!(unhex("abc").is_none());
        assert!(unhex("zz").is_none());
    }

    #[test]
    fn the_longest_mountpoint_holding_the_path_is_asked() {
        let mounts = [mount("/nonexistent-vt/m"), mount("/nonexistent-vt/m/inner")];
        let (mp, rel) = locate(Path::new("/nonexistent-vt/m/a/./b/../c.txt"), &mounts).unwrap();
        assert_eq!(
            (mp, rel.as_str()),
            (PathBuf::from("/nonexistent-vt/m"), "a/c.txt")
        );
        let (mp, rel) = locate(Path::new("/nonexistent-vt/m/inner/x"), &mounts).unwrap();
        assert_eq!(
            (mp, rel.as_str()),
            (PathBuf::from("/nonexistent-vt/m/inner"), "x")
        );
        let (_, rel) = locate(Path::new("/nonexistent-vt/m"), &mounts).unwrap();
        assert_eq!(rel, "");
        // Not a prefix by text alone: `/nonexistent-vt/mx` is not under `/nonexistent-vt/m`.
        let e = locate(Path::new("/nonexistent-vt/mx/y"), &mounts).unwrap_err();
        assert_eq!(e.exit, Exit::Usage);
        assert!(
            e.message.contains("not on a mounted vault"),
            "{}",
            e.message
        );
    }
}
