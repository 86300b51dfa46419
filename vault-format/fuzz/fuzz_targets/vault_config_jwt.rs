//! `vault.cryptomator` parsing (docs/vault-format.md §3), including the `kid` rules: never panics; a config
//! that verifies always names the one safe masterkey file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vault_format::{MasterKey, UnverifiedVaultConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(cfg) = UnverifiedVaultConfig::parse(data) else { return };
    let _ = cfg.key_id();
    if let Ok(name) = cfg.masterkey_file_name() {
        assert_eq!(name, "masterkey.cryptomator");
    }
    let mut raw = [0u8; 64];
    for (i, b) in raw.iter_mut().enumerate() {
        *b = i as u8;
    }
    if let Ok(v) = cfg.verify(&MasterKey::from_raw(&raw)) {
        assert_eq!(v.format, 8);
        assert_eq!(cfg.masterkey_file_name().ok(), Some("masterkey.cryptomator"));
    }
});
