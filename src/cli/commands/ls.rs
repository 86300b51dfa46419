//! `vault ls [-l] [-R] STORAGE [PATH]`: cleartext names; sizes from ciphertext lengths.
//!
//! Output (one entry a line): the name (with `-R`, the path relative to PATH); directories end
//! in `/`. With `-l`: `TYPE SIZE DATE TIME NAME[ -> TARGET]`, TYPE `d`, `-` or `l`, time in UTC.
//! Names (and symlink targets) with control characters are printed C-escaped; with `-0` they
//! are printed raw and each entry ends in NUL instead of a newline (for scripts).
//! Nodes refused for unsafe names are reported as errors (exit 1); a directory-ID cycle or
//! alias stops a recursive listing.

use std::io::Write;

use std::borrow::Cow;

use vault_engine::{DirId, Node, NodeKind, Vault, VaultErrorKind, VisitedDirs};

use crate::cli::args::SecretArgs;
use crate::cli::commands::tree;
use crate::cli::escape::c_escape;
use crate::cli::exit::{CliError, CliResult};
use crate::cli::output::format_time;
use crate::cli::secrets::Secrets;
use crate::cli::session::{self, VPath};

struct Lister<'a> {
    vault: &'a Vault,
    storage: &'a str,
    long: bool,
    /// `-0`: raw names, NUL-terminated entries.
    nul: bool,
    visited: Option<VisitedDirs>,
    out: std::io::BufWriter<std::io::StdoutLock<'static>>,
    errors: Vec<CliError>,
}

/// Lists PATH (read-only open: conflicts shown, nothing written).
pub async fn run(
    storage_arg: &str,
    secrets: &SecretArgs,
    path: &str,
    long: bool,
    recursive: bool,
    nul: bool,
) -> CliResult {
    let vault = session::open(storage_arg, &Secrets::from_args(secrets), true).await?;
    let path = VPath::parse(path);
    // A folder is found by its `dir.c9r` alone (one request a level); anything else by a lookup.
    let (dir_id, node) = match vault.resolve_dir(&path.display()).await {
        Ok(id) => (Some(id), None),
        Err(e)
            if matches!(
                e.kind(),
                VaultErrorKind::NotADirectory | VaultErrorKind::NotFound
            ) =>
        {
            let node = session::resolve(&vault, storage_arg, &path).await?;
            match &node.kind {
                NodeKind::Dir(id) => (Some(id.clone()), None),
                _ => (None, Some(node)),
            }
        }
        Err(e) => return Err(CliError::file(storage_arg, &path.display(), &e)),
    };
    let visited = match &dir_id {
        Some(id) if recursive => Some(tree::visited_from(&vault, storage_arg, &path, id).await?),
        _ => None,
    };
    let mut lister = Lister {
        vault: &vault,
        storage: storage_arg,
        long,
        nul,
        visited,
        out: std::io::BufWriter::new(std::io::stdout().lock()),
        errors: Vec::new(),
    };
    let result = match (&dir_id, &node) {
        (Some(id), _) => lister.dir(id, &path, "", recursive).await,
        (None, Some(node)) => lister.entry(node, &node.name).await,
        (None, None) => Ok(()),
    };
    let flushed = lister.out.flush();
    match result {
        Err(Stop::BrokenPipe) => return Ok(()),
        Err(Stop::Fatal(e)) => return Err(e),
        Ok(()) => {}
    }
    if let Err(e) = flushed
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(CliError::other(format!("cannot write the listing: {e}")));
    }
    crate::cli::exit::summarize(lister.errors, "entries or directories could not be listed")
}

enum Stop {
    BrokenPipe,
    Fatal(CliError),
}

impl Lister<'_> {
    async fn dir(
        &mut self,
        id: &DirId,
        path: &VPath,
        prefix: &str,
        recursive: bool,
    ) -> Result<(), Stop> {
        let children = match self.vault.list_checked(id).await {
            Ok(c) => {
                for e in &c.refused {
                    self.errors
                        .push(CliError::file(self.storage, &path.display(), e));
                }
                c.nodes
            }
            Err(e) if prefix.is_empty() => {
                return Err(Stop::Fatal(CliError::file(
                    self.storage,
                    &path.display(),
                    &e,
                )));
            }
            Err(e) => {
                self.errors
                    .push(CliError::file(self.storage, &path.display(), &e));
                return Ok(());
            }
        };
        for child in children {
            let rel = format!("{prefix}{}", child.name);
            self.entry(&child, &rel).await?;
            if recursive && let NodeKind::Dir(cid) = &child.kind {
                let sub = path.join(&child.name);
                if let Some(v) = self.visited.as_mut() {
                    tree::enter(v, &child, &sub).map_err(Stop::Fatal)?;
                }
                Box::pin(self.dir(cid, &sub, &format!("{rel}/"), true)).await?;
            }
        }
        Ok(())
    }

    async fn entry(&mut self, node: &Node, shown: &str) -> Result<(), Stop> {
        let raw = shown;
        let shown = if self.nul {
            Cow::Borrowed(raw)
        } else {
            c_escape(raw)
        };
        let shown = &*shown;
        if node.damaged {
            let shown = c_escape(raw);
            eprintln!(
                "vault: warning: {shown}: damaged file (its ciphertext size is invalid; run vault check)"
            );
        }
        let slash = if matches!(node.kind, NodeKind::Dir(_)) {
            "/"
        } else {
            ""
        };
        let end = if self.nul { '\0' } else { '\n' };
        let line = if self.long {
            let (t, target) = match &node.kind {
                NodeKind::Dir(_) => ('d', String::new()),
                NodeKind::File => ('-', String::new()),
                NodeKind::Symlink => match self.vault.read_symlink(node).await {
                    Ok(target) if self.nul => ('l', format!(" -> {target}")),
                    Ok(target) => ('l', format!(" -> {}", c_escape(&target))),
                    Err(e) => {
                        crate::cli::report(&CliError::file(self.storage, raw, &e));
                        ('l', " -> ?".to_string())
                    }
                },
            };
            format!(
                "{t} {:>12} {} {shown}{slash}{target}{end}",
                node.size,
                format_time(node.modified)
            )
        } else {
            format!("{shown}{slash}{end}")
        };
        self.out.write_all(line.as_bytes()).map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                Stop::BrokenPipe
            } else {
                Stop::Fatal(CliError::other(format!("cannot write the listing: {e}")))
            }
        })
    }
}
