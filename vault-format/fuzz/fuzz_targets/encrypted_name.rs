//! Encrypted names (docs/vault-format.md §6, §8, §10): decryption, `.c9s`/`name.c9s`/`dir.c9r` parsing and the
//! conflict-copy ciphertext search never panic; whatever decrypts re-encrypts to its run.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vault_format::conflict::{extract_ciphertext, resolved_name_candidates};
use vault_format::{CipherCombo, Cryptor, MasterKey, layout};

fuzz_target!(|data: &[u8]| {
    let c = Cryptor::new(MasterKey::from_raw(&[3u8; 64]), CipherCombo::SivGcm);
    let s = String::from_utf8_lossy(data);
    if let Ok(clear) = c.decrypt_name(&s, "") {
        assert_eq!(c.encrypt_name_exact(&clear, ""), format!("{}.c9r", s.strip_suffix(".c9r").unwrap_or(&s)));
    }
    let _ = layout::parse_name_file(data);
    let _ = layout::parse_dir_file(data);
    let _ = layout::stored_name(&s, 220);
    let base = s.strip_suffix(".c9r").unwrap_or(&s);
    let mut dec = |run: &str| c.decrypt_name(run, "").ok();
    if let Some(e) = extract_ciphertext(base, &mut dec) {
        assert!(e.start < e.end && e.end <= base.len());
        let _ = resolved_name_candidates(&e.cleartext, &base[e.end..], 220);
    }
    let _ = resolved_name_candidates(&s, "(x)", usize::from(data.first().copied().unwrap_or(0)));
});
