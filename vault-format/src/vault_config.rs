//! `vault.cryptomator` (spec §3): a JWT signed with the raw master key.
//! A typestate: an [`UnverifiedVaultConfig`] becomes a [`VaultConfig`] only
//! through [`UnverifiedVaultConfig::verify`].

use crate::{CipherCombo, FormatError, MasterKey};

/// A token parsed but not yet verified. Only the key id may be read from it.
#[derive(Debug, Clone)]
pub struct UnverifiedVaultConfig {
    // fields private to the implementation
}

impl UnverifiedVaultConfig {
    /// Parses the compact JWS (tolerates `=` padding, missing `typ`).
    pub fn parse(token: &[u8]) -> Result<Self, FormatError> {
        let _ = token;
        todo!()
    }

    /// The `kid` header as written.
    pub fn key_id(&self) -> &str {
        todo!()
    }

    /// The masterkey file name `kid` names, relative to the vault root. Only
    /// `masterkeyfile:masterkey.cryptomator` is accepted (spec §3); anything
    /// that could name another file is [`FormatError::UnsupportedKeyId`].
    pub fn masterkey_file_name(&self) -> Result<&'static str, FormatError> {
        todo!()
    }

    /// Checks alg, signature (HS256/384/512 over encKey||macKey), format 8 and combo.
    pub fn verify(&self, key: &MasterKey) -> Result<VaultConfig, FormatError> {
        let _ = key;
        todo!()
    }
}

/// A verified vault configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultConfig {
    /// Vault id (`jti`).
    pub jti: String,
    /// Always 8.
    pub format: u32,
    /// `shorteningThreshold` (220 by default).
    pub shortening_threshold: usize,
    /// Content cipher.
    pub cipher_combo: CipherCombo,
    /// The `kid` header.
    pub key_id: String,
}

impl VaultConfig {
    /// A config for a new vault: random UUID jti, format 8, threshold 220,
    /// kid `masterkeyfile:masterkey.cryptomator`.
    pub fn new(cipher_combo: CipherCombo) -> Self {
        let _ = cipher_combo;
        todo!()
    }

    /// Signs as HS256 and returns the compact token (unpadded base64url).
    pub fn to_token(&self, key: &MasterKey) -> String {
        let _ = key;
        todo!()
    }
}
