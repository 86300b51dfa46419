//! `vault cat STORAGE PATH`: a file's cleartext to stdout (symlinks inside the vault are followed).

use std::io::Write;

use vault_engine::{Node, NodeKind, Vault};

use crate::cli::args::SecretArgs;
use crate::cli::exit::{CliError, CliResult};
use crate::cli::secrets::Secrets;
use crate::cli::session::{self, VPath};

/// Bytes per read: a multiple of the 32 KiB chunk size.
pub const READ_SIZE: usize = 1 << 20;

/// Writes the file's cleartext to stdout (read-only open).
pub async fn run(storage_arg: &str, secrets: &SecretArgs, path: &str) -> CliResult {
    let vault = session::open(storage_arg, &Secrets::from_args(secrets), true).await?;
    let path = VPath::parse(path);
    let (node, shown) = resolve_following(&vault, storage_arg, &path).await?;
    let mut out = std::io::stdout().lock();
    match copy_file(&vault, storage_arg, &node, &shown, &mut out, &mut |_| {}).await {
        Err(CopyError::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(CopyError::Write(e)) => Err(CliError::other(format!("cannot write to stdout: {e}"))),
        Err(CopyError::Vault(e)) => Err(e),
        Ok(_) => match out.flush() {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(CliError::other(format!("cannot write to stdout: {e}")))
            }
            _ => Ok(()),
        },
    }
}

/// Resolves `path`, following symlinks whose targets stay inside the vault; the node must be a file.
pub async fn resolve_following(
    vault: &Vault,
    storage: &str,
    path: &VPath,
) -> CliResult<(Node, String)> {
    let mut path = path.clone();
    for _ in 0..40 {
        let node = session::resolve(vault, storage, &path).await?;
        match node.kind {
            NodeKind::File => return Ok((node, path.display())),
            NodeKind::Dir(_) => {
                return Err(CliError::other(format!(
                    "{}: is a directory",
                    path.display()
                )));
            }
            NodeKind::Symlink => {
                let target = vault
                    .read_symlink(&node)
                    .await
                    .map_err(|e| CliError::file(storage, &path.display(), &e))?;
                path = if target.starts_with('/') {
                    return Err(CliError::other(format!(
                        "{}: is a symlink to {target}, outside the vault",
                        path.display()
                    )));
                } else {
                    let parent = path
                        .split_last()
                        .map(|(p, _)| p)
                        .unwrap_or_else(VPath::root);
                    VPath::parse(&format!("{}/{target}", parent.display()))
                };
            }
        }
    }
    Err(CliError::other(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// Why a copy stopped.
pub enum CopyError {
    /// Reading the vault failed (message ready).
    Vault(CliError),
    /// Writing the destination failed.
    Write(std::io::Error),
}

/// Streams a file's cleartext into `out`; returns the byte count. `progress` gets each piece's length.
pub async fn copy_file(
    vault: &Vault,
    storage: &str,
    node: &Node,
    shown: &str,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, CopyError> {
    // The node comes from a lookup or listing of this command: its size is current enough,
    // and asking storage again would cost a request per file.
    let file = vault
        .open_listed(node)
        .await
        .map_err(|e| CopyError::Vault(CliError::file(storage, shown, &e)))?;
    let mut offset = 0u64;
    loop {
        let buf = file
            .read(offset, READ_SIZE)
            .await
            .map_err(|e| CopyError::Vault(CliError::file(storage, shown, &e)))?;
        if buf.is_empty() {
            break;
        }
        out.write_all(&buf).map_err(CopyError::Write)?;
        offset += buf.len() as u64;
        progress(buf.len() as u64);
        if buf.len() < READ_SIZE {
            break;
        }
    }
    Ok(offset)
}
