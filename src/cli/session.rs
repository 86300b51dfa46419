//! Opening a vault for a command: STORAGE → storage → "is it a vault?" → secret → unlock.
//! And cleartext path helpers shared by the commands.

use vault_engine::{DirId, Node, NodeKind, OpenOptions, Vault};
use vault_storage::{StorageErrorKind, StoragePath};

use super::exit::{CliError, CliResult, Exit};
use super::secrets::Secrets;
use super::storage_arg::{self, Purpose};

/// Opens the vault at `storage_arg` (read-only: nothing is written, conflicts only presented).
pub async fn open(storage_arg: &str, secrets: &Secrets, read_only: bool) -> CliResult<Vault> {
    let storage = connect_existing(storage_arg, secrets).await?;
    let password = secrets.vault_password(storage_arg)?;
    use secrecy::ExposeSecret;
    let vault = Vault::unlock(storage, password.expose_secret(), OpenOptions { read_only })
        .await
        .map_err(|e| CliError::vault(storage_arg, &e))?;
    drop(password);
    Ok(vault)
}

/// Connects and checks that a vault lives there (before any secret is asked for).
pub async fn connect_existing(
    storage_arg: &str,
    secrets: &Secrets,
) -> CliResult<std::sync::Arc<dyn vault_storage::Storage>> {
    let spec = storage_arg::parse(storage_arg)?;
    let storage =
        crate::cli::connect::connect(storage_arg, &spec, Purpose::Open, secrets, &secrets.connect).await?;
    let config =
        StoragePath::new("vault.cryptomator").map_err(|e| CliError::other(e.to_string()))?;
    match storage.metadata(&config).await {
        Ok(m) if m.kind == vault_storage::EntryKind::File => Ok(storage),
        Ok(_) => Err(CliError::new(
            Exit::NotAVault,
            format!("{storage_arg} is not a vault (vault.cryptomator is a folder)"),
        )),
        Err(e) if e.kind() == StorageErrorKind::NotFound => Err(CliError::new(
            Exit::NotAVault,
            format!(
                "{storage_arg} is not a vault ({})",
                Vault::missing_config_reason(storage.as_ref()).await
            ),
        )),
        Err(e) if e.kind() == StorageErrorKind::AuthenticationFailed => {
            Err(CliError::new(Exit::Auth, format!("{storage_arg}: {e}")))
        }
        Err(e) => Err(CliError::new(
            Exit::Unreachable,
            format!("cannot read storage {storage_arg}: {e}"),
        )),
    }
}

/// A normalised cleartext path: components without empty, `.` and `..` parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VPath(pub Vec<String>);

impl VPath {
    /// Parses a user-given cleartext path (relative paths are relative to the root).
    pub fn parse(s: &str) -> VPath {
        let mut out: Vec<String> = Vec::new();
        for c in s.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    out.pop();
                }
                c => out.push(c.to_string()),
            }
        }
        VPath(out)
    }

    /// The root.
    pub fn root() -> VPath {
        VPath(Vec::new())
    }

    /// True for the root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// `/a/b`, `/` for the root.
    pub fn display(&self) -> String {
        format!("/{}", self.0.join("/"))
    }

    /// The parent and the last name; `None` for the root.
    pub fn split_last(&self) -> Option<(VPath, &str)> {
        let (last, parent) = self.0.split_last()?;
        Some((VPath(parent.to_vec()), last.as_str()))
    }

    /// This path with one more component.
    pub fn join(&self, name: &str) -> VPath {
        let mut v = self.0.clone();
        v.push(name.to_string());
        VPath(v)
    }

    /// True when `self` is `other` or below it.
    pub fn starts_with(&self, other: &VPath) -> bool {
        self.0.len() >= other.0.len() && self.0[..other.0.len()] == other.0[..]
    }
}

/// Resolves `path`; errors name the cleartext path.
pub async fn resolve(vault: &Vault, storage: &str, path: &VPath) -> CliResult<Node> {
    vault
        .resolve(&path.display())
        .await
        .map_err(|e| CliError::file(storage, &path.display(), &e))
}

/// Resolves `path` if it exists (`Ok(None)` when it does not).
pub async fn resolve_opt(vault: &Vault, storage: &str, path: &VPath) -> CliResult<Option<Node>> {
    match vault.resolve(&path.display()).await {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind() == vault_engine::VaultErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError::file(storage, &path.display(), &e)),
    }
}

/// Resolves a directory and returns its ID.
pub async fn resolve_dir(vault: &Vault, storage: &str, path: &VPath) -> CliResult<DirId> {
    let node = resolve(vault, storage, path).await?;
    match node.kind {
        NodeKind::Dir(id) => Ok(id),
        _ => Err(CliError::other(format!(
            "{}: not a directory",
            path.display()
        ))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn vpaths() {
        assert_eq!(VPath::parse("/a//b/./c/").display(), "/a/b/c");
        assert_eq!(VPath::parse("a/../b").display(), "/b");
        assert_eq!(VPath::parse("/../..").display(), "/");
        assert!(VPath::parse("").is_root());
        let p = VPath::parse("/x/y");
        let (parent, name) = p.split_last().unwrap();
        assert_eq!((parent.display().as_str(), name), ("/x", "y"));
        assert!(VPath::parse("/x/y/z").starts_with(&p));
        assert!(!VPath::parse("/x/yz").starts_with(&p));
    }
}
