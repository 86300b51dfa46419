//! `masterkey.cryptomator` (spec §2, §13): scrypt KEK, RFC 3394 key wrap.

use std::fmt;

use crate::FormatError;

/// The vault's two 256-bit master keys. No `Clone`, zeroized on drop, and the
/// raw bytes never leave this crate: callers hand it to a [`crate::Cryptor`].
pub struct MasterKey {
    pub(crate) enc: zeroize::Zeroizing<[u8; 32]>,
    pub(crate) mac: zeroize::Zeroizing<[u8; 32]>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

impl MasterKey {
    /// Two fresh random keys from the OS RNG.
    pub fn generate() -> MasterKey {
        todo!()
    }

    /// From the 64-byte raw form `encKey || macKey` (recovery key, tests).
    pub fn from_raw(raw: &[u8; 64]) -> MasterKey {
        let _ = raw;
        todo!()
    }
}

/// A parsed `masterkey.cryptomator`.
#[derive(Debug, Clone)]
pub struct MasterkeyFile {
    // fields private to the implementation
}

impl MasterkeyFile {
    /// Parses the JSON (any whitespace and key order).
    pub fn parse(json: &[u8]) -> Result<Self, FormatError> {
        let _ = json;
        todo!()
    }

    /// Unwraps the keys with `password` (NFC-normalised first).
    /// A failed unwrap is [`FormatError::WrongPassword`].
    pub fn unlock(&self, password: &str) -> Result<MasterKey, FormatError> {
        let _ = password;
        todo!()
    }

    /// Wraps `key` under `password` with a fresh salt, scrypt N=32768 r=8 p=1, version 999.
    pub fn create(key: &MasterKey, password: &str) -> Result<Self, FormatError> {
        Self::create_with_cost(key, password, 32768)
    }

    /// As [`Self::create`] with another scrypt cost (a power of two > 1); tests use small ones.
    pub fn create_with_cost(key: &MasterKey, password: &str, scrypt_cost: u64) -> Result<Self, FormatError> {
        let _ = (key, password, scrypt_cost);
        todo!()
    }

    /// The same keys under a new password and a new salt (spec §13).
    pub fn change_password(&self, old_password: &str, new_password: &str) -> Result<Self, FormatError> {
        let _ = (old_password, new_password);
        todo!()
    }

    /// Serialises as the reference writer does (pretty JSON).
    pub fn to_json(&self) -> Vec<u8> {
        todo!()
    }
}

/// The `.bkup` suffix the desktop app uses for a file's backup copy:
/// upper-case hex of the first 4 bytes of SHA-256 of the file's bytes (spec §13).
pub fn backup_suffix(file_bytes: &[u8]) -> String {
    let _ = file_bytes;
    todo!()
}
