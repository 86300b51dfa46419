//! Shared helpers for the integration tests: fixture paths, hex, the vector keys.
#![allow(dead_code)]

use vault_format::{CipherCombo, Cryptor, MasterKey};

/// `tests/fixtures/` at the workspace root.
pub fn fixtures() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures"))
}

/// `vectors.json`, parsed.
pub fn vectors() -> serde_json::Value {
    let bytes = std::fs::read(fixtures().join("vectors.json")).expect("vectors.json");
    serde_json::from_slice(&bytes).expect("vectors.json is JSON")
}

pub fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex")
}

pub fn b64(s: &str) -> Vec<u8> {
    data_encoding::BASE64.decode(s.as_bytes()).expect("base64")
}

pub fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// The vector keys: encKey = 00..1f, macKey = 20..3f.
pub fn vector_key() -> MasterKey {
    let mut raw = [0u8; 64];
    for (i, b) in raw.iter_mut().enumerate() {
        *b = i as u8;
    }
    MasterKey::from_raw(&raw)
}

pub fn vector_cryptor(combo: CipherCombo) -> Cryptor {
    Cryptor::new(vector_key(), combo)
}

pub fn raw_key_from_hex(h: &str) -> MasterKey {
    let raw: [u8; 64] = unhex(h).try_into().expect("64 bytes");
    MasterKey::from_raw(&raw)
}
