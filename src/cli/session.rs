//! Opening a vault for a command: STORAGE → storage → "is it a vault?" → secret → unlock.
//! And cleartext path helpers shared by the commands.

use vault_engine::{DirId, Node, OpenOptions, Vault};
use vault_storage::{StorageErrorKind, StoragePath};

use super::exit::{CliError, CliResult, Exit};
use super::secrets::Secrets;
use super::storage_arg::{self, Purpose};

/// Opens the vault at `storage_arg` (read-only: nothing is written, conflicts only presented).
///
/// `vault.cryptomator` is read once, by the check that a vault lives there, and the root
/// folder is not asked for (a missing one is reported by the first listing or creation in
/// it): a command on a remote storage costs two requests before its own.
pub async fn open(storage_arg: &str, secrets: &Secrets, read_only: bool) -> CliResult<Vault> {
    Ok(open_full(storage_arg, secrets, read_only).await?.0)
}

/// [`open`], and on `s3://` the S3 storage (for `vault check`'s multipart uploads).
pub async fn open_full(
    storage_arg: &str,
    secrets: &Secrets,
    read_only: bool,
) -> CliResult<(Vault, Option<std::sync::Arc<vault_s3::S3Storage>>)> {
    let Existing {
        storage,
        config,
        s3,
        ..
    } = connect_existing_full(storage_arg, secrets).await?;
    let password = secrets.vault_password(storage_arg)?;
    use secrecy::ExposeSecret;
    let vault = Vault::unlock_prefetched(
        storage,
        config,
        password.expose_secret(),
        OpenOptions { read_only },
    )
    .await
    .map_err(|e| CliError::vault(storage_arg, &e))?;
    drop(password);
    Ok((vault, s3))
}

/// Connects and checks that a vault lives there (before any secret is asked for).
pub async fn connect_existing(
    storage_arg: &str,
    secrets: &Secrets,
) -> CliResult<std::sync::Arc<dyn vault_storage::Storage>> {
    Ok(connect_existing_full(storage_arg, secrets).await?.storage)
}

/// Largest `vault.cryptomator` read (the engine refuses larger ones as not a vault file).
pub const MAX_CONFIG: usize = 64 * 1024;

/// A connected storage that holds a vault.
pub struct Existing {
    /// The storage, behind the metadata cache if there is one.
    pub storage: std::sync::Arc<dyn vault_storage::Storage>,
    /// The metadata cache, to attach its persistent store once the vault id is known.
    pub cached: Option<std::sync::Arc<vault_storage::cached::CachedStorage>>,
    /// `vault.cryptomator` as read by the check.
    pub config: Vec<u8>,
    /// On `s3://`: the S3 storage (see [`crate::cli::connect::Connected::s3`]).
    pub s3: Option<std::sync::Arc<vault_s3::S3Storage>>,
}

/// Connects (metadata cache included) and reads `vault.cryptomator`: the one request that
/// tells whether a vault lives there.
pub async fn connect_existing_full(storage_arg: &str, secrets: &Secrets) -> CliResult<Existing> {
    let spec = storage_arg::parse(storage_arg)?;
    let crate::cli::connect::Connected {
        storage,
        cached,
        s3,
    } = crate::cli::connect::connect_cached(
        storage_arg,
        &spec,
        Purpose::Open,
        secrets,
        &secrets.connect,
    )
    .await?;
    check_vault(storage_arg, storage, cached, s3).await
}

/// Reads `vault.cryptomator` from a connected storage: the one request that tells whether a
/// vault lives there.
pub async fn check_vault(
    storage_arg: &str,
    storage: std::sync::Arc<dyn vault_storage::Storage>,
    cached: Option<std::sync::Arc<vault_storage::cached::CachedStorage>>,
    s3: Option<std::sync::Arc<vault_s3::S3Storage>>,
) -> CliResult<Existing> {
    let config =
        StoragePath::new("vault.cryptomator").map_err(|e| CliError::other(e.to_string()))?;
    match storage.read_at(&config, 0, MAX_CONFIG + 1).await {
        Ok(bytes) => Ok(Existing {
            storage,
            cached,
            config: bytes.to_vec(),
            s3,
        }),
        Err(e) if e.kind() == StorageErrorKind::IsADirectory => Err(CliError::new(
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
        // A WebDAV server is first asked here (no request at connect): not there at all is
        // "cannot reach", as a failed connect says.
        Err(e) if e.kind() == StorageErrorKind::Unavailable => Err(CliError::new(
            Exit::Unreachable,
            format!("cannot reach storage {storage_arg}: {e}"),
        )),
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

/// `path`'s node: its folder found by `dir.c9r` reads alone ([`Vault::resolve_dir`]), then one
/// lookup of the last name.
async fn resolve_node(vault: &Vault, path: &VPath) -> Result<Node, vault_engine::VaultError> {
    match path.split_last() {
        Some((parent, name)) if !parent.is_root() => {
            let id = vault.resolve_dir(&parent.display()).await?;
            vault.lookup(&id, name).await
        }
        _ => vault.resolve(&path.display()).await,
    }
}

/// Resolves `path`; errors name the cleartext path.
pub async fn resolve(vault: &Vault, storage: &str, path: &VPath) -> CliResult<Node> {
    resolve_node(vault, path)
        .await
        .map_err(|e| CliError::file(storage, &path.display(), &e))
}

/// Resolves `path` if it exists (`Ok(None)` when it does not).
pub async fn resolve_opt(vault: &Vault, storage: &str, path: &VPath) -> CliResult<Option<Node>> {
    match resolve_node(vault, path).await {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind() == vault_engine::VaultErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError::file(storage, &path.display(), &e)),
    }
}

/// Resolves a directory and returns its ID (one `dir.c9r` read a level, see
/// [`Vault::resolve_dir`]).
pub async fn resolve_dir(vault: &Vault, storage: &str, path: &VPath) -> CliResult<DirId> {
    match vault.resolve_dir(&path.display()).await {
        Ok(id) => Ok(id),
        Err(e) if e.kind() == vault_engine::VaultErrorKind::NotADirectory => Err(CliError::other(
            format!("{}: not a directory", path.display()),
        )),
        Err(e) => Err(CliError::file(storage, &path.display(), &e)),
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
