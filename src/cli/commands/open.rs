//! `vault open FILE`: what a double-click on a vault's `vault.cryptomator` (or
//! `masterkey.cryptomator`) runs (the `.desktop` entry in dist/desktop). The vault is the folder
//! holding FILE. Already mounted: its mountpoint is opened in the file manager. Otherwise it is
//! mounted as `vault mount FOLDER MOUNTPOINT --reveal` would, at the default mountpoint:
//!
//! - a named vault with this folder as STORAGE and a configured mountpoint: that one;
//! - else `$XDG_RUNTIME_DIR/vault/NAME` (NAME: the folder's name; `NAME 2`, … when taken),
//!   else, without `XDG_RUNTIME_DIR`, `~/Vaults/NAME`.
//!
//! Why the runtime folder: it exists exactly while the user is logged in, is private to them
//! (mode 0700, on tmpfs), leaves no empty folders in the home folder, and is where other
//! per-session FUSE mounts live (gvfs). Indexers and backup tools do not walk it, so cleartext
//! is not copied elsewhere by accident. The file manager finds it through the sidebar entry.
//!
//! `vault open --lock FILE` (the entry's "Lock" action) unmounts that vault wherever it is
//! mounted.

use std::path::{Path, PathBuf};

use clap::Parser;

use crate::cli::Ctx;
use crate::cli::args::{Cli, Command};
use crate::cli::exit::{CliError, CliResult};

/// The names a vault's files have.
const VAULT_FILES: &[&str] = &["vault.cryptomator", "masterkey.cryptomator"];

/// `vault open [--lock] FILE`. Started from a file manager nobody sees stderr: a failure is
/// also a desktop notification then.
pub fn run(ctx: Ctx, file: &Path, lock: bool) -> CliResult {
    let result = open(ctx, file, lock);
    if let Err(e) = &result
        && crate::cli::notify::wanted(false)
    {
        crate::cli::notify::failed(file, &e.message);
    }
    result
}

fn open(ctx: Ctx, file: &Path, lock: bool) -> CliResult {
    let folder = vault_folder(file)?;
    crate::cli::sidebar::sweep();
    if let Some(mp) = mounted_at(&folder) {
        if lock {
            // The desktop "Lock" action, like an eject: pending uploads stay in the journal.
            return super::unmount::run(&mp, false, true, true);
        }
        println!("{}", mp.display());
        crate::cli::reveal::reveal(&mp, ctx.quiet);
        return Ok(());
    }
    if lock {
        eprintln!("{} is not mounted", folder.display());
        return Ok(());
    }
    let mountpoint = default_mountpoint(&folder)?;
    create_private_dir(&mountpoint)?;
    let argv = [
        "vault".into(),
        "mount".into(),
        folder.clone().into_os_string(),
        mountpoint.clone().into_os_string(),
        "--reveal".into(),
    ];
    let args = match Cli::try_parse_from(argv).map(|c| c.command) {
        Ok(Command::Mount(args)) => args,
        _ => return Err(CliError::other("internal: cannot build the mount command")),
    };
    super::mount::run(ctx, args)
}

/// The vault folder of FILE (a vault's file, or the folder itself), canonical.
fn vault_folder(file: &Path) -> CliResult<PathBuf> {
    let path = std::fs::canonicalize(file).map_err(|e| {
        CliError::usage(format!(
            "{}: {}",
            file.display(),
            crate::cli::storage_arg::io_text(&e)
        ))
    })?;
    if path.is_dir() {
        return Ok(path);
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match path.parent() {
        Some(parent) if VAULT_FILES.contains(&name) => Ok(parent.to_path_buf()),
        _ => Err(CliError::usage(format!(
            "{}: not a vault file (vault.cryptomator or masterkey.cryptomator)",
            file.display()
        ))),
    }
}

/// Where the vault in `folder` is mounted now, if it is.
fn mounted_at(folder: &Path) -> Option<PathBuf> {
    vault_fs::mounted_vaults()
        .into_iter()
        .find(|m| std::fs::canonicalize(&m.source).is_ok_and(|s| s == folder))
        .map(|m| m.mountpoint)
}

/// See the module comment.
fn default_mountpoint(folder: &Path) -> CliResult<PathBuf> {
    if let Ok((_, config)) = crate::cli::config::load()
        && let Some(mp) = config.vaults.values().find_map(|e| {
            let same = std::fs::canonicalize(&e.storage).is_ok_and(|s| s == folder);
            if same { e.mountpoint.clone() } else { None }
        })
    {
        return Ok(mp);
    }
    let base = match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir.join("vault"),
        _ => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join("Vaults"))
            .ok_or_else(|| {
                CliError::usage("no default mountpoint: neither XDG_RUNTIME_DIR nor HOME is set")
            })?,
    };
    let name = folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "vault".into());
    pick_free(&base, &name).ok_or_else(|| {
        CliError::other(format!(
            "no free mountpoint for {name} in {}",
            base.display()
        ))
    })
}

/// `base/NAME`, else `base/NAME 2` … `base/NAME 9`: the first that is missing or an empty
/// folder nothing is mounted on.
fn pick_free(base: &Path, name: &str) -> Option<PathBuf> {
    let mounted: Vec<PathBuf> = vault_fs::mounted_vaults()
        .into_iter()
        .map(|m| m.mountpoint)
        .collect();
    (1..=9)
        .map(|i| match i {
            1 => base.join(name),
            i => base.join(format!("{name} {i}")),
        })
        .find(|p| {
            !mounted.contains(p)
                && match std::fs::read_dir(p) {
                    Ok(mut entries) => entries.next().is_none(),
                    Err(e) => e.kind() == std::io::ErrorKind::NotFound,
                }
        })
}

fn create_private_dir(path: &Path) -> CliResult {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| {
            CliError::other(format!(
                "cannot create the mountpoint {}: {}",
                path.display(),
                crate::cli::storage_arg::io_text(&e)
            ))
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_name_gets_a_number() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(pick_free(tmp.path(), "V").unwrap(), tmp.path().join("V"));
        std::fs::create_dir_all(tmp.path().join("V/x")).unwrap();
        assert_eq!(pick_free(tmp.path(), "V").unwrap(), tmp.path().join("V 2"));
    }

    #[test]
    fn only_vault_files_are_opened() {
        let tmp = tempfile::tempdir().unwrap();
        for name in VAULT_FILES {
            std::fs::write(tmp.path().join(name), "x").unwrap();
            let folder = vault_folder(&tmp.path().join(name)).unwrap();
            assert_eq!(folder, std::fs::canonicalize(tmp.path()).unwrap());
        }
        std::fs::write(tmp.path().join("notes.txt"), "x").unwrap();
        let e = vault_folder(&tmp.path().join("notes.txt")).unwrap_err();
        assert_eq!(e.exit, crate::cli::exit::Exit::Usage);
    }
}
