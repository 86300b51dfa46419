//! `vault-winfsp mount`: unlock a local-folder vault, serve it through WinFsp
//! until Ctrl-C, then write everything back and unmount.
//!
//! Windows only; never compiled or run so far (README.md). Runs in the
//! foreground: a detached service (as `vault mount` detaches on Linux) is
//! listed in the README as left out.

use std::sync::Arc;

use tokio::runtime::Runtime;
use vault_engine::{OpenOptions, Vault};
use vault_fs::ops::{FsConfig, VaultFs};
use vault_storage::{LocalStorage, Storage};
use winfsp_wrs::{FileSystem, Params, U16CString, VolumeParams};
use zeroize::Zeroizing;

use crate::adapter::Adapter;
use crate::attr::{CLUSTER_SIZE, filetime};
use crate::cli::{
    Cli, Command, EXIT_ERROR, EXIT_OK, EXIT_USAGE, Mountpoint, check_storage, exit_for_unlock,
    password_from_file_text,
};
use crate::path::MAX_COMPONENT_UNITS;
use crate::volume::volume_label;

/// Runs the command line; returns the exit code.
pub fn run(cli: Cli) -> u8 {
    init_logging();
    let Command::Mount {
        read_only,
        password_file,
        storage,
        mountpoint,
    } = cli.command;
    if let Err(message) = check_storage(&storage) {
        eprintln!("vault-winfsp: {message}");
        return EXIT_USAGE;
    }
    let mountpoint = match Mountpoint::parse(mountpoint.as_deref()) {
        Ok(m) => m,
        Err(message) => {
            eprintln!("vault-winfsp: {message}");
            return EXIT_USAGE;
        }
    };
    if let Err(e) = winfsp_wrs::init() {
        eprintln!("vault-winfsp: {e} Is WinFsp installed (https://winfsp.dev)?");
        return EXIT_ERROR;
    }
    let password = match read_password(&storage, password_file.as_deref()) {
        Ok(p) => p,
        Err(message) => {
            eprintln!("vault-winfsp: {message}");
            return EXIT_ERROR;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vault-winfsp: cannot start the runtime: {e}");
            return EXIT_ERROR;
        }
    };
    let vault = match unlock(&runtime, &storage, &password, read_only) {
        Ok(v) => v,
        Err(code) => return code,
    };
    drop(password);
    serve(&runtime, vault, &storage, &mountpoint, read_only)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VAULT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn read_password(
    storage: &str,
    file: Option<&std::path::Path>,
) -> Result<Zeroizing<String>, String> {
    match file {
        Some(path) => {
            let text = Zeroizing::new(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
            );
            Ok(Zeroizing::new(password_from_file_text(&text).to_owned()))
        }
        // The prompt text `vault` uses, so askpass helpers match it.
        None => rpassword::prompt_password(format!("Vault password for {storage}: "))
            .map(Zeroizing::new)
            .map_err(|e| format!("cannot read the password: {e}")),
    }
}

fn unlock(runtime: &Runtime, storage: &str, password: &str, read_only: bool) -> Result<Vault, u8> {
    let local = LocalStorage::new(storage).map_err(|e| {
        eprintln!("vault-winfsp: {storage}: {e}");
        EXIT_ERROR
    })?;
    let local: Arc<dyn Storage> = Arc::new(local);
    runtime
        .block_on(Vault::unlock(local, password, OpenOptions { read_only }))
        .map_err(|e| {
            eprintln!("vault-winfsp: {storage}: {e}");
            exit_for_unlock(e.kind())
        })
}

fn volume_params(read_only: bool) -> Result<VolumeParams, String> {
    let mut params = VolumeParams::default();
    // CLUSTER_SIZE = sector size × sectors per allocation unit (attr.rs rounds to it).
    params
        .set_sector_size(CLUSTER_SIZE as u16)
        .set_sectors_per_allocation_unit(1)
        .set_max_component_length(MAX_COMPONENT_UNITS as u16)
        .set_volume_creation_time(filetime(std::time::SystemTime::now()))
        // The vault is case-sensitive; so is the drive (path.rs).
        .set_case_sensitive_search(true)
        .set_case_preserved_names(true)
        .set_unicode_on_disk(true)
        .set_persistent_acls(false)
        .set_reparse_point(true)
        .set_named_streams(false)
        .set_hard_links(false)
        .set_extended_attributes(false)
        .set_read_only_volume(read_only)
        .set_post_cleanup_when_modified_only(true)
        // Attribute cache, as FUSE's attr_timeout default (1 s).
        .set_file_info_timeout(1000);
    let fs_name = U16CString::from_str("vault").map_err(|e| e.to_string())?;
    let prefix = U16CString::from_str("").map_err(|e| e.to_string())?;
    params
        .set_file_system_name(&fs_name)
        .map_err(|_| "file system name too long".to_string())?
        .set_prefix(&prefix)
        .map_err(|_| "prefix too long".to_string())?;
    Ok(params)
}

fn serve(
    runtime: &Runtime,
    vault: Vault,
    storage: &str,
    mountpoint: &Mountpoint,
    read_only: bool,
) -> u8 {
    let config = FsConfig {
        read_only,
        ..FsConfig::default()
    };
    let fs = Arc::new(VaultFs::new(Arc::new(vault), config));
    let label_source = storage
        .trim_end_matches(['\\', '/'])
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or("vault");
    let adapter = match Adapter::new(
        Arc::clone(&fs),
        runtime.handle().clone(),
        read_only,
        volume_label(label_source),
    ) {
        Ok(a) => a,
        Err(message) => {
            eprintln!("vault-winfsp: {message}");
            return EXIT_ERROR;
        }
    };
    let volume_params = match volume_params(read_only) {
        Ok(p) => p,
        Err(message) => {
            eprintln!("vault-winfsp: {message}");
            return EXIT_ERROR;
        }
    };
    let target = match mountpoint.for_winfsp().map(U16CString::from_str) {
        None => None,
        Some(Ok(wide)) => Some(wide),
        Some(Err(e)) => {
            eprintln!("vault-winfsp: bad mountpoint: {e}");
            return EXIT_USAGE;
        }
    };
    let params = Params {
        volume_params,
        ..Params::default()
    };
    let mounted = match FileSystem::start(params, target.as_deref(), adapter) {
        Ok(m) => m,
        Err(status) => {
            eprintln!("vault-winfsp: WinFsp refused the mount (NTSTATUS {status:#010x})");
            return EXIT_ERROR;
        }
    };
    match mountpoint.for_winfsp() {
        Some(at) => println!("{at}"),
        None => println!("mounted at the next free drive letter"),
    }
    eprintln!("vault-winfsp: serving {storage}; Ctrl-C to unmount");
    if let Err(e) = runtime.block_on(tokio::signal::ctrl_c()) {
        eprintln!("vault-winfsp: cannot wait for Ctrl-C: {e}");
    }
    // No new requests after this; then write back what is still open.
    mounted.stop();
    match runtime.block_on(fs.flush_all()) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("vault-winfsp: writing back at unmount failed: {e}");
            EXIT_ERROR
        }
    }
}
