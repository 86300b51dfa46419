//! `masterkey.cryptomator` (docs/vault-format.md §2, §13): scrypt KEK, RFC 3394 key wrap.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

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
        let mut enc = Zeroizing::new([0u8; 32]);
        let mut mac = Zeroizing::new([0u8; 32]);
        crate::rng::fill_os(&mut enc[..]);
        crate::rng::fill_os(&mut mac[..]);
        MasterKey { enc, mac }
    }

    /// From the 64-byte raw form `encKey || macKey` (recovery key, tests).
    pub fn from_raw(raw: &[u8; 64]) -> MasterKey {
        let mut enc = Zeroizing::new([0u8; 32]);
        let mut mac = Zeroizing::new([0u8; 32]);
        enc.copy_from_slice(&raw[..32]);
        mac.copy_from_slice(&raw[32..]);
        MasterKey { enc, mac }
    }

    /// The raw form `encKey || macKey` (docs/vault-format.md §2 step 3): the JWT key and the recovery key.
    pub(crate) fn raw(&self) -> Zeroizing<[u8; 64]> {
        let mut raw = Zeroizing::new([0u8; 64]);
        raw[..32].copy_from_slice(&self.enc[..]);
        raw[32..].copy_from_slice(&self.mac[..]);
        raw
    }
}

/// The vault version written into format-8 masterkey files (docs/vault-format.md §2).
const VERSION_999: i32 = 999;
/// Length of an RFC 3394 wrap of a 32-byte key.
const WRAPPED_LEN: usize = 40;
/// Upper bound on scrypt memory (128·r·N bytes) we agree to spend on a file we did not write:
/// the reference writes N = 2^15, r = 8 (32 MiB); a hostile file must not make us allocate
/// gigabytes. 1 GiB leaves room for far stronger settings than any client uses.
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;

/// Cryptomator's scrypt cost N (2^15). Every file this crate writes from a file it read
/// (`change_password`, `rewrap`) uses at least this: the parameters of a stored file come from
/// the storage, which may have planted weak ones to make the *new* password cheap to guess.
pub const MIN_SCRYPT_COST: u64 = 1 << 15;
/// Cryptomator's scrypt block size r (8), the one every file this crate writes uses.
pub const MIN_SCRYPT_BLOCK_SIZE: u32 = 8;

/// A parsed `masterkey.cryptomator`.
#[derive(Clone)]
pub struct MasterkeyFile {
    version: i32,
    salt: Vec<u8>,
    cost: u64,
    block_size: u32,
    wrapped_enc: [u8; WRAPPED_LEN],
    wrapped_mac: [u8; WRAPPED_LEN],
    version_mac: Vec<u8>,
}

impl fmt::Debug for MasterkeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Wrapped keys are safe to show but useless in logs; keep the output short.
        f.debug_struct("MasterkeyFile")
            .field("version", &self.version)
            .field("scrypt_cost", &self.cost)
            .field("scrypt_block_size", &self.block_size)
            .finish_non_exhaustive()
    }
}

/// The JSON shape (docs/vault-format.md §2). Unknown fields are ignored, as Gson does.
#[derive(serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Json {
    version: Option<i64>,
    scrypt_salt: Option<String>,
    scrypt_cost_param: Option<i64>,
    scrypt_block_size: Option<i64>,
    primary_master_key: Option<String>,
    hmac_master_key: Option<String>,
    version_mac: Option<String>,
}

fn invalid(why: &str) -> FormatError {
    FormatError::InvalidMasterkeyFile(why.to_owned())
}

fn b64_field(v: Option<String>, name: &str) -> Result<Vec<u8>, FormatError> {
    let s = v.ok_or_else(|| invalid(&format!("{name} missing")))?;
    data_encoding::BASE64
        .decode(s.as_bytes())
        .map_err(|_| invalid(&format!("{name} is not base64")))
}

fn wrapped_field(v: Option<String>, name: &str) -> Result<[u8; WRAPPED_LEN], FormatError> {
    b64_field(v, name)?
        .try_into()
        .map_err(|_| invalid(&format!("{name} is not a wrapped 256-bit key")))
}

fn version_mac(mac_key: &[u8; 32], version: i32) -> [u8; 32] {
    let mut m =
        <Hmac<Sha256> as KeyInit>::new_from_slice(mac_key).unwrap_or_else(|_| unreachable!());
    m.update(&version.to_be_bytes());
    m.finalize().into_bytes().into()
}

/// scrypt with p = 1, 32-byte output (docs/vault-format.md §2 step 1; the pepper is empty).
fn kek(
    password: &str,
    salt: &[u8],
    cost: u64,
    block_size: u32,
) -> Result<Zeroizing<[u8; 32]>, FormatError> {
    let pw: Zeroizing<String> = Zeroizing::new(password.nfc().collect());
    let log_n = u8::try_from(cost.trailing_zeros()).map_err(|_| invalid("scryptCostParam"))?;
    let params =
        scrypt::Params::new(log_n, block_size, 1).map_err(|_| invalid("scrypt parameters"))?;
    let mut out = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(pw.as_bytes(), salt, &params, &mut out[..])
        .map_err(|_| invalid("scrypt parameters"))?;
    Ok(out)
}

fn unwrap_key(
    kek: &[u8; 32],
    wrapped: &[u8; WRAPPED_LEN],
) -> Result<Zeroizing<[u8; 32]>, FormatError> {
    let kw = aes_kw::KwAes256::new(&(*kek).into());
    let mut out = Zeroizing::new([0u8; 32]);
    // An integrity-check failure is the only password verifier (docs/vault-format.md §2 step 2).
    kw.unwrap_key(wrapped, &mut out[..])
        .map_err(|_| FormatError::WrongPassword)?;
    Ok(out)
}

fn wrap_key(kek: &[u8; 32], key: &[u8; 32]) -> [u8; WRAPPED_LEN] {
    let kw = aes_kw::KwAes256::new(&(*kek).into());
    let mut out = [0u8; WRAPPED_LEN];
    // Wrapping a 32-byte key into a 40-byte buffer cannot fail.
    let _ = kw.wrap_key(key, &mut out);
    out
}

fn check_cost(cost: u64, block_size: u32) -> Result<(), FormatError> {
    if cost <= 1 || !cost.is_power_of_two() {
        return Err(invalid("scryptCostParam must be a power of two > 1"));
    }
    if block_size == 0 {
        return Err(invalid("scryptBlockSize must be positive"));
    }
    let mem = 128u64
        .saturating_mul(block_size as u64)
        .saturating_mul(cost);
    if mem > MAX_SCRYPT_MEMORY {
        return Err(invalid("scrypt parameters need more than 1 GiB of memory"));
    }
    Ok(())
}

impl MasterkeyFile {
    /// Parses the JSON (any whitespace and key order).
    pub fn parse(json: &[u8]) -> Result<Self, FormatError> {
        let j: Json =
            serde_json::from_slice(json).map_err(|e| invalid(&format!("not JSON: {e}")))?;
        // Rejection rules of docs/vault-format.md §2.
        let version = j.version.ok_or_else(|| invalid("version missing"))?;
        let version = i32::try_from(version).map_err(|_| invalid("version out of range"))?;
        if version == 0 {
            return Err(invalid("version is 0"));
        }
        let cost = j
            .scrypt_cost_param
            .ok_or_else(|| invalid("scryptCostParam missing"))?;
        let cost = u64::try_from(cost)
            .map_err(|_| invalid("scryptCostParam must be a power of two > 1"))?;
        let block_size = j
            .scrypt_block_size
            .ok_or_else(|| invalid("scryptBlockSize missing"))?;
        let block_size =
            u32::try_from(block_size).map_err(|_| invalid("scryptBlockSize must be positive"))?;
        check_cost(cost, block_size)?;
        Ok(MasterkeyFile {
            version,
            salt: b64_field(j.scrypt_salt, "scryptSalt")?,
            cost,
            block_size,
            wrapped_enc: wrapped_field(j.primary_master_key, "primaryMasterKey")?,
            wrapped_mac: wrapped_field(j.hmac_master_key, "hmacMasterKey")?,
            version_mac: b64_field(j.version_mac, "versionMac")?,
        })
    }

    /// Unwraps the keys with `password` (NFC-normalised first).
    /// A failed unwrap is [`FormatError::WrongPassword`].
    pub fn unlock(&self, password: &str) -> Result<MasterKey, FormatError> {
        let kek = kek(password, &self.salt, self.cost, self.block_size)?;
        let enc = unwrap_key(&kek, &self.wrapped_enc)?;
        let mac = unwrap_key(&kek, &self.wrapped_mac)?;
        // versionMac is not checked: cryptolib 2.x does not either (docs/vault-format.md §2, §16).
        Ok(MasterKey { enc, mac })
    }

    /// Whether `versionMac` matches `version` under the unlocked MAC key (informational, docs/vault-format.md §2).
    pub fn version_mac_matches(&self, key: &MasterKey) -> bool {
        use subtle::ConstantTimeEq;
        version_mac(&key.mac, self.version)
            .ct_eq(&self.version_mac[..])
            .into()
    }

    /// Wraps `key` under `password` with a fresh salt, scrypt N=32768 r=8 p=1, version 999.
    pub fn create(key: &MasterKey, password: &str) -> Result<Self, FormatError> {
        Self::create_with_cost(key, password, MIN_SCRYPT_COST)
    }

    /// As [`Self::create`] with another scrypt cost (a power of two > 1). Tests and benches use
    /// small ones; nothing a user runs should, since a low cost makes the password cheap to guess.
    pub fn create_with_cost(
        key: &MasterKey,
        password: &str,
        scrypt_cost: u64,
    ) -> Result<Self, FormatError> {
        Self::wrap(key, password, scrypt_cost, VERSION_999)
    }

    fn wrap(key: &MasterKey, password: &str, cost: u64, version: i32) -> Result<Self, FormatError> {
        const BLOCK_SIZE: u32 = MIN_SCRYPT_BLOCK_SIZE;
        check_cost(cost, BLOCK_SIZE)?;
        // 8 random bytes, as the reference writes (docs/vault-format.md §2).
        let mut salt = vec![0u8; 8];
        crate::rng::fill_os(&mut salt);
        let kek = kek(password, &salt, cost, BLOCK_SIZE)?;
        Ok(MasterkeyFile {
            version,
            salt,
            cost,
            block_size: BLOCK_SIZE,
            wrapped_enc: wrap_key(&kek, &key.enc),
            wrapped_mac: wrap_key(&kek, &key.mac),
            version_mac: version_mac(&key.mac, version).to_vec(),
        })
    }

    /// The same keys under a new password and a new salt (docs/vault-format.md §13).
    pub fn change_password(
        &self,
        old_password: &str,
        new_password: &str,
    ) -> Result<Self, FormatError> {
        let key = self.unlock(old_password)?;
        // Keep version and a cost at least Cryptomator's; block size becomes 8 and versionMac
        // is recomputed (docs/vault-format.md §13).
        Self::wrap(&key, new_password, self.rewrite_cost(), self.version)
    }

    /// `key` under `new_password` with a new salt, keeping this file's `version` and its
    /// scrypt cost if that is at least [`MIN_SCRYPT_COST`] (recovery, docs/vault-format.md §12/§13: the old
    /// password is unknown, the key comes from the recovery key). The caller checks `key`
    /// against `vault.cryptomator` first.
    pub fn rewrap(&self, key: &MasterKey, new_password: &str) -> Result<Self, FormatError> {
        Self::wrap(key, new_password, self.rewrite_cost(), self.version)
    }

    /// The cost for a file written in place of this one: never below Cryptomator's, since
    /// this file's cost is whatever the storage served.
    fn rewrite_cost(&self) -> u64 {
        self.cost.max(MIN_SCRYPT_COST)
    }

    /// scrypt's cost parameter N of this file.
    pub fn scrypt_cost(&self) -> u64 {
        self.cost
    }

    /// scrypt's block size r of this file.
    pub fn scrypt_block_size(&self) -> u32 {
        self.block_size
    }

    /// Whether this file's scrypt settings are below Cryptomator's (N = 2^15, r = 8), so its
    /// password is cheaper to guess than a vault made by any Cryptomator client.
    pub fn is_weak(&self) -> bool {
        self.cost < MIN_SCRYPT_COST || self.block_size < MIN_SCRYPT_BLOCK_SIZE
    }

    /// The `version` field (999 for format-8 vaults).
    pub fn version(&self) -> i32 {
        self.version
    }

    /// Serialises as the reference writer does (pretty JSON).
    pub fn to_json(&self) -> Vec<u8> {
        let b64 = |b: &[u8]| Some(data_encoding::BASE64.encode(b));
        let j = Json {
            version: Some(self.version as i64),
            scrypt_salt: b64(&self.salt),
            scrypt_cost_param: i64::try_from(self.cost).ok(),
            scrypt_block_size: Some(self.block_size as i64),
            primary_master_key: b64(&self.wrapped_enc),
            hmac_master_key: b64(&self.wrapped_mac),
            version_mac: b64(&self.version_mac),
        };
        // Serialising a struct of strings and integers cannot fail.
        serde_json::to_vec_pretty(&j).unwrap_or_default()
    }
}

/// The `.bkup` suffix the desktop app uses for a file's backup copy:
/// upper-case hex of the first 4 bytes of SHA-256 of the file's bytes (docs/vault-format.md §13).
pub fn backup_suffix(file_bytes: &[u8]) -> String {
    let d = Sha256::digest(file_bytes);
    data_encoding::HEXUPPER.encode(&d[..4])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        let mut raw = [0u8; 64];
        for (i, b) in raw.iter_mut().enumerate() {
            *b = i as u8;
        }
        MasterKey::from_raw(&raw)
    }

    #[test]
    fn create_unlock_round_trip_with_small_cost() {
        let f = MasterkeyFile::create_with_cost(&key(), "pw", 16).unwrap();
        let k = f.unlock("pw").unwrap();
        assert_eq!(*k.raw(), *key().raw());
        assert!(f.version_mac_matches(&k));
        assert_eq!(f.version(), 999);
    }

    #[test]
    fn wrong_password_is_its_own_error() {
        let f = MasterkeyFile::create_with_cost(&key(), "pw", 16).unwrap();
        assert_eq!(f.unlock("nope").unwrap_err(), FormatError::WrongPassword);
    }

    #[test]
    fn password_is_nfc_normalised() {
        let f = MasterkeyFile::create_with_cost(&key(), "Cre\u{300}me", 16).unwrap();
        assert!(f.unlock("Cr\u{e8}me").is_ok());
    }

    #[test]
    fn json_round_trip_keeps_everything() {
        let f = MasterkeyFile::create_with_cost(&key(), "pw", 16).unwrap();
        let g = MasterkeyFile::parse(&f.to_json()).unwrap();
        assert_eq!(g.salt, f.salt);
        assert_eq!(g.wrapped_enc, f.wrapped_enc);
        assert_eq!(g.version_mac, f.version_mac);
        assert!(g.unlock("pw").is_ok());
    }

    #[test]
    fn change_password_keeps_keys_and_changes_salt() {
        let f = MasterkeyFile::create_with_cost(&key(), "old", 16).unwrap();
        let g = f.change_password("old", "new").unwrap();
        assert_ne!(g.salt, f.salt);
        // The small test cost is not carried over: the new file has Cryptomator's.
        assert_eq!(g.cost, MIN_SCRYPT_COST);
        assert_eq!(*g.unlock("new").unwrap().raw(), *key().raw());
        assert_eq!(g.unlock("old").unwrap_err(), FormatError::WrongPassword);
        assert_eq!(
            f.change_password("bad", "new").unwrap_err(),
            FormatError::WrongPassword
        );
    }

    #[test]
    fn rewrap_keeps_version_and_needs_no_old_password() {
        let f = MasterkeyFile::create_with_cost(&key(), "forgotten", 16).unwrap();
        let g = f.rewrap(&key(), "new").unwrap();
        assert_ne!(g.salt, f.salt);
        assert_eq!((g.cost, g.version, g.block_size), (MIN_SCRYPT_COST, 999, 8));
        assert_eq!(*g.unlock("new").unwrap().raw(), *key().raw());
        assert!(g.version_mac_matches(&g.unlock("new").unwrap()));
        assert_eq!(
            g.unlock("forgotten").unwrap_err(),
            FormatError::WrongPassword
        );
    }

    /// A file as a hostile storage could plant it: the vault's key under the password with N = 2
    /// (or r = 1). Whatever is written in its place has Cryptomator's settings again.
    #[test]
    fn weak_scrypt_settings_of_a_read_file_are_never_written_back() {
        let planted = MasterkeyFile::create_with_cost(&key(), "pw", 2).unwrap();
        let planted = MasterkeyFile::parse(&planted.to_json()).unwrap();
        assert!(planted.is_weak());
        assert_eq!(planted.scrypt_cost(), 2);
        for new in [
            planted.change_password("pw", "new").unwrap(),
            planted.rewrap(&key(), "new").unwrap(),
        ] {
            let reread = MasterkeyFile::parse(&new.to_json()).unwrap();
            assert_eq!(reread.scrypt_cost(), MIN_SCRYPT_COST);
            assert_eq!(reread.scrypt_block_size(), MIN_SCRYPT_BLOCK_SIZE);
            assert!(!reread.is_weak());
        }
        let json = String::from_utf8(planted.to_json()).unwrap();
        let r1 = json.replace("\"scryptBlockSize\": 8", "\"scryptBlockSize\": 1");
        assert!(MasterkeyFile::parse(r1.as_bytes()).unwrap().is_weak());
        // A stronger stored cost is kept, not lowered.
        let strong = MasterkeyFile::create_with_cost(&key(), "pw", 1 << 16).unwrap();
        assert!(!strong.is_weak());
        assert_eq!(strong.rewrap(&key(), "new").unwrap().scrypt_cost(), 1 << 16);
    }

    #[test]
    fn invalid_files_are_rejected() {
        let good = String::from_utf8(
            MasterkeyFile::create_with_cost(&key(), "pw", 16)
                .unwrap()
                .to_json(),
        )
        .unwrap();
        let cases = [
            good.replace("\"version\": 999", "\"version\": 0"),
            good.replace("\"scryptCostParam\": 16", "\"scryptCostParam\": 1"),
            good.replace("\"scryptCostParam\": 16", "\"scryptCostParam\": 24"),
            good.replace(
                "\"scryptCostParam\": 16",
                "\"scryptCostParam\": 1099511627776",
            ),
            good.replace("\"scryptBlockSize\": 8", "\"scryptBlockSize\": 0"),
            good.replace("\"scryptBlockSize\": 8", "\"scryptBlockSize\": -1"),
            good.replace("versionMac", "versionMacX"),
            good.replace("scryptSalt", "salt"),
            "[]".to_owned(),
            "{".to_owned(),
        ];
        for c in cases {
            assert!(
                matches!(
                    MasterkeyFile::parse(c.as_bytes()),
                    Err(FormatError::InvalidMasterkeyFile(_))
                ),
                "{c}"
            );
        }
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(format!("{:?}", key()), "MasterKey([REDACTED])");
        let f = MasterkeyFile::create_with_cost(&key(), "pw", 16).unwrap();
        assert!(!format!("{f:?}").contains(&data_encoding::BASE64.encode(&f.wrapped_enc)));
    }

    #[test]
    fn backup_suffix_is_upper_hex_of_sha256_prefix() {
        // SHA-256("") = e3b0c442...
        assert_eq!(backup_suffix(b""), "E3B0C442");
    }
}
