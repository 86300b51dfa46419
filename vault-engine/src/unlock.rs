//! Creating and unlocking vaults, changing the password (docs/vault-format.md §2, §3, §13).
//!
//! Maps every way a storage can fail to be our vault to one clear error:
//! `NotAVault("no vault.cryptomator at …")`, `NotAVault("unsupported vault
//! format N")`, `WrongPassword`, … The masterkey and password never reach a log.

use std::sync::Arc;

use vault_format::layout;
use vault_format::masterkey::{MIN_SCRYPT_BLOCK_SIZE, MIN_SCRYPT_COST, backup_suffix};
use vault_format::{
    Cryptor, FormatError, MasterKey, MasterkeyFile, UnverifiedVaultConfig, VaultConfig,
};
use vault_storage::{Body, EntryKind, Storage, StoragePath, WriteMode};

use crate::core::{Core, is_not_found};
use crate::{CreateOptions, OpenOptions, VaultError, VaultErrorKind};

const CONFIG_FILE: &str = "vault.cryptomator";
/// The config file of a Unified Vault Format vault, which this client does not open.
const UVF_FILE: &str = "vault.uvf";
/// Refuse absurdly large config/masterkey files instead of reading them.
const MAX_SMALL_FILE: usize = 64 * 1024;

fn path(name: &str) -> Result<StoragePath, VaultError> {
    Ok(StoragePath::new(name)?)
}

/// Reads a small top-level file; `None` when it does not exist.
async fn read_small(storage: &dyn Storage, name: &str) -> Result<Option<Vec<u8>>, VaultError> {
    let p = path(name)?;
    match storage.read_at(&p, 0, MAX_SMALL_FILE + 1).await {
        Ok(b) if b.len() > MAX_SMALL_FILE => Err(VaultError::NotAVault(format!(
            "{name} is too large to be a vault file"
        ))),
        Ok(b) => Ok(Some(b.to_vec())),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) if e.kind() == vault_storage::StorageErrorKind::IsADirectory => Err(
            VaultError::NotAVault(format!("{name} is a folder, not a vault file")),
        ),
        Err(e) => Err(e.into()),
    }
}

fn config_error(e: FormatError) -> VaultError {
    match e {
        FormatError::UnsupportedVaultFormat { found } => {
            VaultError::NotAVault(format!("unsupported vault format {found}"))
        }
        FormatError::ConfigSignatureMismatch => VaultError::NotAVault(
            "vault.cryptomator does not match the master key (tampered or from another vault)"
                .into(),
        ),
        FormatError::UnsupportedCipherCombo(c) => {
            VaultError::NotAVault(format!("unsupported cipher combo {c:?}"))
        }
        FormatError::UnsupportedAlgorithm(a) => VaultError::NotAVault(format!(
            "vault.cryptomator uses an unsupported signature algorithm {a:?}"
        )),
        FormatError::UnsupportedKeyId(k) => VaultError::NotAVault(if k.starts_with("hub+") {
            "Cryptomator Hub vaults are not supported".to_owned()
        } else {
            format!(
                "unsupported key id {k:?} in vault.cryptomator (expected masterkeyfile:masterkey.cryptomator)"
            )
        }),
        other => VaultError::NotAVault(format!("invalid vault.cryptomator: {other}")),
    }
}

/// Reads and parses `vault.cryptomator` and the masterkey file it names.
async fn read_vault_files(
    storage: &dyn Storage,
) -> Result<(UnverifiedVaultConfig, &'static str, Vec<u8>), VaultError> {
    let (unverified, mk_name) = read_config(storage).await?;
    let mk_bytes = read_masterkey(storage, mk_name).await?;
    Ok((unverified, mk_name, mk_bytes))
}

async fn read_masterkey(storage: &dyn Storage, mk_name: &str) -> Result<Vec<u8>, VaultError> {
    read_small(storage, mk_name)
        .await?
        .ok_or_else(|| VaultError::NotAVault(format!("no {mk_name} at {}", storage.describe())))
}

fn parse_masterkey(
    storage: &dyn Storage,
    bytes: &[u8],
    name: &str,
) -> Result<MasterkeyFile, VaultError> {
    let file = MasterkeyFile::parse(bytes)
        .map_err(|e| VaultError::NotAVault(format!("invalid {name}: {e}")))?;
    if file.is_weak() {
        // Not refused: an old or hand-made vault may have it. But the storage may have planted
        // it, and the user should know the password is cheaper to guess than they think.
        tracing::warn!(
            "{name} at {} has weak scrypt settings (N={}, r={}; Cryptomator uses N={}, r={}): \
             the storage may have replaced it; vault passwd writes strong ones",
            storage.describe(),
            file.scrypt_cost(),
            file.scrypt_block_size(),
            MIN_SCRYPT_COST,
            MIN_SCRYPT_BLOCK_SIZE,
        );
    }
    Ok(file)
}

fn unlock_key(file: &MasterkeyFile, password: &str, name: &str) -> Result<MasterKey, VaultError> {
    file.unlock(password).map_err(|e| match e {
        FormatError::WrongPassword => VaultError::WrongPassword,
        other => VaultError::NotAVault(format!("invalid {name}: {other}")),
    })
}

/// What the caller of [`unlock`] already has.
#[derive(Default)]
pub(crate) struct Prefetched {
    /// `vault.cryptomator`'s bytes, read by the caller (who checked that a vault lives there
    /// before asking for the password): not read again.
    pub config: Option<Vec<u8>>,
    /// Skip the request that checks the root folder exists: the first listing of or creation
    /// in the root reports a missing one ([`root_damage`]).
    pub defer_root_check: bool,
}

pub(crate) async fn unlock(
    storage: Arc<dyn Storage>,
    password: &str,
    options: OpenOptions,
    prefetched: Prefetched,
) -> Result<Core, VaultError> {
    let (unverified, mk_name, mk_bytes) = match prefetched.config {
        Some(token) => {
            if token.len() > MAX_SMALL_FILE {
                return Err(VaultError::NotAVault(format!(
                    "{CONFIG_FILE} is too large to be a vault file"
                )));
            }
            let (unverified, mk_name) = parse_config(&token)?;
            let mk_bytes = read_masterkey(storage.as_ref(), mk_name).await?;
            (unverified, mk_name, mk_bytes)
        }
        None => read_vault_files(storage.as_ref()).await?,
    };
    let mk_file = parse_masterkey(storage.as_ref(), &mk_bytes, mk_name)?;
    let key = unlock_key(&mk_file, password, mk_name)?;
    let config = unverified.verify(&key).map_err(config_error)?;
    let cryptor = Cryptor::new(key, config.cipher_combo);
    if !prefetched.defer_root_check {
        check_root(storage.as_ref(), &cryptor).await?;
    }
    tracing::debug!(storage = %storage.describe(), combo = config.cipher_combo.as_str(), "vault unlocked");
    Ok(Core::new(storage, cryptor, config, options.read_only))
}

/// `NotAVault("vault is damaged: …")` when the root folder is missing or not a folder.
pub(crate) async fn check_root(storage: &dyn Storage, cryptor: &Cryptor) -> Result<(), VaultError> {
    let root = StoragePath::new(&cryptor.content_dir_path(""))?;
    match storage.metadata(&root).await {
        Ok(m) if m.kind == EntryKind::Dir => {}
        Ok(_) => {
            return Err(VaultError::NotAVault(format!(
                "vault is damaged: root directory {root} is not a folder"
            )));
        }
        Err(e) if is_not_found(&e) => {
            return Err(VaultError::NotAVault(format!(
                "vault is damaged: root directory {root} is missing"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

pub(crate) async fn create(
    storage: Arc<dyn Storage>,
    password: &str,
    options: CreateOptions,
) -> Result<Core, VaultError> {
    let where_ = storage.describe();
    match storage.list_dir(&StoragePath::root()).await {
        Ok(entries) if entries.iter().any(|e| e.name == CONFIG_FILE) => {
            return Err(VaultError::node(
                VaultErrorKind::AlreadyExists,
                format!("a vault already exists at {where_}"),
            ));
        }
        Ok(entries) if !entries.is_empty() => {
            return Err(VaultError::node(
                VaultErrorKind::AlreadyExists,
                format!("{where_} is not empty"),
            ));
        }
        Ok(_) => {}
        Err(e) if is_not_found(&e) => {
            // A missing root: backends that can create it do so on the first write/create_dir.
            match storage.create_dir(&StoragePath::root()).await {
                Ok(()) => {}
                Err(e2) if e2.kind() == vault_storage::StorageErrorKind::AlreadyExists => {}
                Err(_) => return Err(e.into()),
            }
        }
        Err(e) => return Err(e.into()),
    }
    if options.scrypt_cost < 2 || !options.scrypt_cost.is_power_of_two() {
        return Err(VaultError::node(
            VaultErrorKind::InvalidName,
            format!(
                "scrypt cost {} is not a power of two > 1",
                options.scrypt_cost
            ),
        ));
    }
    let key = MasterKey::generate();
    let mk_file = MasterkeyFile::create_with_cost(&key, password, options.scrypt_cost)
        .map_err(|e| VaultError::NotAVault(format!("cannot create masterkey: {e}")))?;
    let config = VaultConfig::new(options.cipher_combo);
    let token = config.to_token(&key);
    let cryptor = Cryptor::new(key, config.cipher_combo);

    // Masterkey and root first, vault.cryptomator last: a crash in between
    // leaves no half vault that unlocks.
    let s = storage.as_ref();
    s.write(
        &path(layout_masterkey())?,
        Body::from_bytes(mk_file.to_json()),
        WriteMode::CreateNew,
    )
    .await?;
    let root = cryptor.content_dir_path("");
    create_dir_all(s, &StoragePath::new(&root)?).await?;
    let backup = StoragePath::new(&root)?.join(layout::DIR_ID_BACKUP_FILE)?;
    s.write(
        &backup,
        Body::from_bytes(cryptor.encrypt_dir_id_backup("")),
        WriteMode::CreateNew,
    )
    .await?;
    s.write(
        &path(CONFIG_FILE)?,
        Body::from_bytes(token.into_bytes()),
        WriteMode::CreateNew,
    )
    .await?;
    tracing::info!(storage = %where_, "vault created");
    Ok(Core::new(storage, cryptor, config, false))
}

fn layout_masterkey() -> &'static str {
    "masterkey.cryptomator"
}

/// Creates a folder and its missing parents.
pub(crate) async fn create_dir_all(
    storage: &dyn Storage,
    dir: &StoragePath,
) -> Result<(), VaultError> {
    let mut cur = StoragePath::root();
    for c in dir.components().map(str::to_owned).collect::<Vec<_>>() {
        cur = cur.join(&c)?;
        match storage.create_dir(&cur).await {
            Ok(()) => {}
            Err(e) if e.kind() == vault_storage::StorageErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

pub(crate) async fn change_password(
    storage: Arc<dyn Storage>,
    old: &str,
    new: &str,
) -> Result<(), VaultError> {
    let s = storage.as_ref();
    let (unverified, mk_name, mk_bytes) = read_vault_files(s).await?;
    let mk_file = parse_masterkey(storage.as_ref(), &mk_bytes, mk_name)?;
    let key = unlock_key(&mk_file, old, mk_name)?;
    // Make sure this masterkey belongs to this vault before touching anything.
    unverified.verify(&key).map_err(config_error)?;
    drop(key);
    let new_file = mk_file.change_password(old, new).map_err(|e| match e {
        FormatError::WrongPassword => VaultError::WrongPassword,
        other => VaultError::NotAVault(format!("invalid {mk_name}: {other}")),
    })?;
    replace_masterkey(s, mk_name, Some(mk_bytes), &new_file).await?;
    tracing::info!(storage = %s.describe(), "password changed");
    Ok(())
}

/// Backs up the old masterkey file (if any) as `<name>.<HEX>.bkup`, then replaces it
/// atomically (docs/vault-format.md §13). Returns the backup's file name.
async fn replace_masterkey(
    s: &dyn Storage,
    mk_name: &str,
    old_bytes: Option<Vec<u8>>,
    new_file: &MasterkeyFile,
) -> Result<Option<String>, VaultError> {
    let backup_name = match old_bytes {
        Some(bytes) => {
            let name = format!("{mk_name}.{}.bkup", backup_suffix(&bytes));
            s.write(&path(&name)?, Body::from_bytes(bytes), WriteMode::Overwrite)
                .await?;
            Some(name)
        }
        None => None,
    };
    // `Storage::write` replaces atomically (temp file + rename where the backend needs it).
    s.write(
        &path(mk_name)?,
        Body::from_bytes(new_file.to_json()),
        WriteMode::Overwrite,
    )
    .await?;
    Ok(backup_name)
}

/// `vault.cryptomator`, parsed but not verified, and the masterkey file name it names.
async fn read_config(
    storage: &dyn Storage,
) -> Result<(UnverifiedVaultConfig, &'static str), VaultError> {
    let where_ = storage.describe();
    let Some(token) = read_small(storage, CONFIG_FILE).await? else {
        let reason = missing_config_reason(storage).await;
        return Err(VaultError::NotAVault(format!("{reason} at {where_}")));
    };
    parse_config(&token)
}

fn parse_config(token: &[u8]) -> Result<(UnverifiedVaultConfig, &'static str), VaultError> {
    let unverified = UnverifiedVaultConfig::parse(token).map_err(config_error)?;
    let mk_name = unverified.masterkey_file_name().map_err(config_error)?;
    Ok((unverified, mk_name))
}

/// Why a storage without `vault.cryptomator` is not a vault we open. A Unified Vault Format
/// vault (Cryptomator's successor format: `vault.uvf` instead of `vault.cryptomator`) is named
/// as such, so its owner is not told the folder holds no vault at all.
pub(crate) async fn missing_config_reason(storage: &dyn Storage) -> String {
    let uvf = match path(UVF_FILE) {
        Ok(p) => storage.metadata(&p).await.is_ok(),
        Err(_) => false,
    };
    if uvf {
        "Unified Vault Format vaults (vault.uvf) are not supported".to_owned()
    } else {
        format!("no {CONFIG_FILE}")
    }
}

/// Checks a key that did not come from the masterkey file (a recovery key) against the
/// config's signature: a mismatch is `WrongPassword` (wrong credentials), not "not a vault".
fn verify_foreign_key(
    unverified: &UnverifiedVaultConfig,
    key: &MasterKey,
) -> Result<VaultConfig, VaultError> {
    unverified.verify(key).map_err(|e| match e {
        FormatError::ConfigSignatureMismatch => VaultError::WrongPassword,
        other => config_error(other),
    })
}

pub(crate) async fn unlock_master_key(
    storage: Arc<dyn Storage>,
    password: &str,
) -> Result<MasterKey, VaultError> {
    let (unverified, mk_name, mk_bytes) = read_vault_files(storage.as_ref()).await?;
    let mk_file = parse_masterkey(storage.as_ref(), &mk_bytes, mk_name)?;
    let key = unlock_key(&mk_file, password, mk_name)?;
    // Never hand out a key that does not open this vault.
    unverified.verify(&key).map_err(config_error)?;
    Ok(key)
}

pub(crate) async fn verify_master_key(
    storage: Arc<dyn Storage>,
    key: &MasterKey,
) -> Result<(), VaultError> {
    let (unverified, _) = read_config(storage.as_ref()).await?;
    verify_foreign_key(&unverified, key).map(drop)
}

pub(crate) async fn reset_password(
    storage: Arc<dyn Storage>,
    key: &MasterKey,
    new: &str,
) -> Result<Option<String>, VaultError> {
    let s = storage.as_ref();
    let (unverified, mk_name) = read_config(s).await?;
    // Before anything is written: the key must be this vault's.
    verify_foreign_key(&unverified, key)?;
    let old_bytes = read_small(s, mk_name).await?;
    // Keep the version of a readable old file and its scrypt cost unless that is below
    // Cryptomator's (as `passwd` does); a missing or unreadable one is replaced by a fresh
    // file with the reference defaults.
    let new_file = match old_bytes.as_deref().map(|b| parse_masterkey(s, b, mk_name)) {
        Some(Ok(old)) => old.rewrap(key, new),
        _ => MasterkeyFile::create(key, new),
    }
    .map_err(|e| VaultError::NotAVault(format!("cannot write {mk_name}: {e}")))?;
    let backup = replace_masterkey(s, mk_name, old_bytes, &new_file).await?;
    tracing::info!(storage = %s.describe(), "password reset with the recovery key");
    Ok(backup)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use vault_storage::MemoryStorage;

    /// The engine's own check, for library users that skip the CLI's: a storage with
    /// `vault.uvf` and no `vault.cryptomator` is named as a UVF vault, an empty one is not.
    #[tokio::test]
    async fn a_unified_vault_format_vault_is_named_as_such() {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let message = |r: Result<Core, VaultError>| match r {
            Err(VaultError::NotAVault(m)) => m,
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("unlocked"),
        };
        let empty = message(
            unlock(
                storage.clone(),
                "pw",
                OpenOptions::default(),
                Prefetched::default(),
            )
            .await,
        );
        assert!(empty.starts_with("no vault.cryptomator at "), "{empty}");
        storage
            .write(
                &path(UVF_FILE).unwrap(),
                Body::from_bytes(b"eyJ.x.y".to_vec()),
                WriteMode::CreateNew,
            )
            .await
            .unwrap();
        let uvf = message(
            unlock(
                storage.clone(),
                "pw",
                OpenOptions::default(),
                Prefetched::default(),
            )
            .await,
        );
        assert!(
            uvf.starts_with("Unified Vault Format vaults (vault.uvf) are not supported at "),
            "{uvf}"
        );
    }
}
