//! Shared helpers for the integration tests: hex, the vector keys (fixture paths and hashes
//! from `test-support`).
#![allow(dead_code, unused_imports)]

pub use test_support::files::sha256_hex;
/// `tests/fixtures/` at the workspace root.
pub use test_support::paths::fixtures;
use vault_format::{CipherCombo, Cryptor, MasterKey};

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
