//! `vault.cryptomator` (docs/vault-format.md §3): a JWT signed with the raw master key.
//! A typestate: an [`UnverifiedVaultConfig`] becomes a [`VaultConfig`] only
//! through [`UnverifiedVaultConfig::verify`].

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;

use crate::{CipherCombo, FormatError, MasterKey};

/// The only `kid` we accept for password vaults (docs/vault-format.md §3).
pub const MASTERKEY_KID: &str = "masterkeyfile:masterkey.cryptomator";
/// The masterkey file name, relative to the vault root.
pub const MASTERKEY_FILE_NAME: &str = "masterkey.cryptomator";
/// The only vault format this crate reads and writes.
pub const VAULT_FORMAT: u32 = 8;
/// Largest token we look at: real ones are ~300 bytes; this bounds work on hostile input.
const MAX_TOKEN_LEN: usize = 64 * 1024;

/// A token parsed but not yet verified. Only the key id may be read from it.
#[derive(Debug, Clone)]
pub struct UnverifiedVaultConfig {
    /// `header_segment "." claims_segment` exactly as stored: what the signature covers.
    signing_input: String,
    signature: Vec<u8>,
    alg: String,
    kid: String,
    claims: serde_json::Map<String, Value>,
}

fn invalid(why: &str) -> FormatError {
    FormatError::InvalidConfig(why.to_owned())
}

/// Decodes a JWT segment like Java's URL-safe decoder does: URL-safe alphabet, `=` padding
/// tolerated (pycryptomator writes it, docs/vault-format.md §16), `+` and `/` rejected.
fn decode_segment(seg: &str) -> Result<Vec<u8>, FormatError> {
    let unpadded = seg
        .strip_suffix("==")
        .or_else(|| seg.strip_suffix('='))
        .unwrap_or(seg);
    data_encoding::BASE64URL_NOPAD
        .decode(unpadded.as_bytes())
        .map_err(|_| invalid("segment is not base64url"))
}

fn json_object(bytes: &[u8], what: &str) -> Result<serde_json::Map<String, Value>, FormatError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(invalid(&format!("{what} is not a JSON object"))),
    }
}

impl UnverifiedVaultConfig {
    /// Parses the compact JWS (tolerates `=` padding, missing `typ`).
    pub fn parse(token: &[u8]) -> Result<Self, FormatError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(invalid("token too large"));
        }
        let token = std::str::from_utf8(token).map_err(|_| invalid("token is not ASCII"))?;
        // A trailing newline from an editor is harmless; the signature covers the segments only.
        let token = token.trim_matches(|c: char| c.is_ascii_whitespace());
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("not a compact JWS (three segments)"));
        };
        let header = json_object(&decode_segment(h)?, "header")?;
        let claims = json_object(&decode_segment(c)?, "claims")?;
        let signature = decode_segment(s)?;
        let alg = match header.get("alg") {
            Some(Value::String(a)) => a.clone(),
            _ => return Err(invalid("alg missing")),
        };
        let kid = match header.get("kid") {
            Some(Value::String(k)) => k.clone(),
            None => String::new(),
            Some(_) => return Err(invalid("kid is not a string")),
        };
        // `typ` is deliberately not checked (docs/vault-format.md §3).
        let signing_input = format!("{h}.{c}");
        Ok(UnverifiedVaultConfig {
            signing_input,
            signature,
            alg,
            kid,
            claims,
        })
    }

    /// The `kid` header as written.
    pub fn key_id(&self) -> &str {
        &self.kid
    }

    /// The masterkey file name `kid` names, relative to the vault root. Only
    /// `masterkeyfile:masterkey.cryptomator` is accepted (docs/vault-format.md §3); anything
    /// that could name another file is [`FormatError::UnsupportedKeyId`].
    pub fn masterkey_file_name(&self) -> Result<&'static str, FormatError> {
        // Accept only the exact value (scheme case-insensitive): nothing derived from `kid`
        // is ever opened, so traversal, absolute paths and percent-encoding cannot matter.
        match self.kid.split_once(':') {
            Some((scheme, path))
                if scheme.eq_ignore_ascii_case("masterkeyfile") && path == MASTERKEY_FILE_NAME =>
            {
                Ok(MASTERKEY_FILE_NAME)
            }
            _ => Err(FormatError::UnsupportedKeyId(self.kid.clone())),
        }
    }

    /// Checks alg, signature (HS256/384/512 over encKey||macKey), format 8 and combo.
    pub fn verify(&self, key: &MasterKey) -> Result<VaultConfig, FormatError> {
        let raw = key.raw();
        let input = self.signing_input.as_bytes();
        // The algorithm is checked before anything else: `none` never gets near a MAC.
        let ok = match self.alg.as_str() {
            "HS256" => mac_ok::<Hmac<sha2::Sha256>>(&raw[..], input, &self.signature),
            "HS384" => mac_ok::<Hmac<sha2::Sha384>>(&raw[..], input, &self.signature),
            "HS512" => mac_ok::<Hmac<sha2::Sha512>>(&raw[..], input, &self.signature),
            other => return Err(FormatError::UnsupportedAlgorithm(other.to_owned())),
        };
        if !ok {
            return Err(FormatError::ConfigSignatureMismatch);
        }
        let format = match self.claims.get("format") {
            Some(Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| invalid("format is not an integer"))?,
            _ => return Err(invalid("format claim missing")),
        };
        if format != VAULT_FORMAT as i64 {
            return Err(FormatError::UnsupportedVaultFormat { found: format });
        }
        let cipher_combo = match self.claims.get("cipherCombo") {
            Some(Value::String(s)) => CipherCombo::from_claim(s)
                .ok_or_else(|| FormatError::UnsupportedCipherCombo(s.clone()))?,
            _ => return Err(invalid("cipherCombo claim missing")),
        };
        let shortening_threshold = match self.claims.get("shorteningThreshold") {
            None => crate::layout::DEFAULT_SHORTENING_THRESHOLD,
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|t| usize::try_from(t).ok())
                .ok_or_else(|| invalid("shorteningThreshold is not a non-negative integer"))?,
            Some(_) => return Err(invalid("shorteningThreshold is not an integer")),
        };
        let jti = match self.claims.get("jti") {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        // A config is only usable with a kid we will load safely (docs/vault-format.md §3).
        self.masterkey_file_name()?;
        Ok(VaultConfig {
            jti,
            format: VAULT_FORMAT,
            shortening_threshold,
            cipher_combo,
            key_id: self.kid.clone(),
        })
    }
}

fn mac_ok<M: Mac + KeyInit>(key: &[u8], input: &[u8], sig: &[u8]) -> bool {
    let Ok(mut m) = <M as KeyInit>::new_from_slice(key) else {
        return false;
    };
    m.update(input);
    // Constant-time comparison.
    m.verify_slice(sig).is_ok()
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
        VaultConfig {
            jti: crate::rng::uuid_v4(),
            format: VAULT_FORMAT,
            shortening_threshold: crate::layout::DEFAULT_SHORTENING_THRESHOLD,
            cipher_combo,
            key_id: MASTERKEY_KID.to_owned(),
        }
    }

    /// Signs as HS256 and returns the compact token (unpadded base64url).
    pub fn to_token(&self, key: &MasterKey) -> String {
        let header = serde_json::json!({ "kid": self.key_id, "typ": "JWT", "alg": "HS256" });
        let claims = serde_json::json!({
            "format": self.format,
            "shorteningThreshold": self.shortening_threshold,
            "jti": self.jti,
            "cipherCombo": self.cipher_combo.as_str(),
        });
        let enc = |v: &Value| data_encoding::BASE64URL_NOPAD.encode(v.to_string().as_bytes());
        let input = format!("{}.{}", enc(&header), enc(&claims));
        let raw = key.raw();
        let sig = match <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&raw[..]) {
            Ok(mut m) => {
                m.update(input.as_bytes());
                m.finalize().into_bytes().to_vec()
            }
            // HMAC takes keys of any length.
            Err(_) => Vec::new(),
        };
        format!("{input}.{}", data_encoding::BASE64URL_NOPAD.encode(&sig))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key(b: u8) -> MasterKey {
        MasterKey::from_raw(&[b; 64])
    }

    #[test]
    fn new_config_round_trips_through_a_token() {
        for combo in [CipherCombo::SivGcm, CipherCombo::SivCtrMac] {
            let c = VaultConfig::new(combo);
            let token = c.to_token(&key(1));
            assert!(!token.contains('='));
            let u = UnverifiedVaultConfig::parse(token.as_bytes()).unwrap();
            assert_eq!(u.key_id(), MASTERKEY_KID);
            assert_eq!(u.masterkey_file_name().unwrap(), MASTERKEY_FILE_NAME);
            assert_eq!(u.verify(&key(1)).unwrap(), c);
            assert_eq!(
                u.verify(&key(2)).unwrap_err(),
                FormatError::ConfigSignatureMismatch
            );
        }
    }

    #[test]
    fn new_config_has_spec_defaults() {
        let c = VaultConfig::new(CipherCombo::SivGcm);
        assert_eq!(
            (c.format, c.shortening_threshold, c.key_id.as_str()),
            (8, 220, MASTERKEY_KID)
        );
        assert_eq!(c.jti.len(), 36);
    }

    #[test]
    fn malformed_tokens_are_invalid_config() {
        for t in ["", "a.b", "a.b.c.d", "!!.e30.", "e30.e30.+/", "bnVsbA.e30."] {
            assert!(
                matches!(
                    UnverifiedVaultConfig::parse(t.as_bytes()),
                    Err(FormatError::InvalidConfig(_))
                ),
                "{t}"
            );
        }
    }

    #[test]
    fn kid_scheme_is_case_insensitive_but_path_exact() {
        let mk = |kid: &str| UnverifiedVaultConfig {
            signing_input: String::new(),
            signature: vec![],
            alg: "HS256".into(),
            kid: kid.into(),
            claims: Default::default(),
        };
        assert!(
            mk("MasterKeyFile:masterkey.cryptomator")
                .masterkey_file_name()
                .is_ok()
        );
        for bad in [
            "",
            "masterkeyfile:",
            "masterkeyfile:../masterkey.cryptomator",
            "masterkeyfile:/etc/passwd",
            "masterkeyfile:masterkey%2Ecryptomator",
            "hub+https://x/y",
            "masterkeyfile:c:masterkey.cryptomator",
        ] {
            assert!(
                matches!(
                    mk(bad).masterkey_file_name(),
                    Err(FormatError::UnsupportedKeyId(_))
                ),
                "{bad}"
            );
        }
    }
}
