//! File header decryption (docs/vault-format.md §4) for both combos: never panics, never authenticates
//! random bytes, and a header that does decrypt re-encrypts to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vault_format::{CipherCombo, Cryptor, MasterKey};

fuzz_target!(|data: &[u8]| {
    for combo in [CipherCombo::SivGcm, CipherCombo::SivCtrMac] {
        let c = Cryptor::new(MasterKey::from_raw(&[7u8; 64]), combo);
        if let Ok(h) = c.decrypt_header(data) {
            assert_eq!(c.encrypt_header(&h)[..], data[..combo.header_len()]);
        }
        let _ = combo.cleartext_size(data.len() as u64);
    }
});
