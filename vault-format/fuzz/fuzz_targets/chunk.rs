//! Content decryption (docs/vault-format.md §4, §9, §11) for both combos: single chunks at any index, whole
//! files, the streaming reader and dirid.c9r backups. Never panics; nothing unauthenticated
//! comes out. The first input byte picks the combo and index, the rest is ciphertext.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use vault_format::{CipherCombo, Cryptor, MasterKey};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let combo = if sel & 1 == 0 { CipherCombo::SivGcm } else { CipherCombo::SivCtrMac };
    let c = Cryptor::new(MasterKey::from_raw(&[9u8; 64]), combo);
    // A valid header prefix lets the fuzzer reach chunk parsing behind it.
    let header = c.new_header();
    let mut file = c.encrypt_header(&header);
    file.extend_from_slice(rest);

    let mut out = Vec::new();
    assert!(c.decrypt_chunk(&header, u64::from(sel >> 1), rest, &mut out).is_err() || rest.len() >= combo.chunk_overhead());
    let whole = c.decrypt_file(&file);
    let mut streamed = Vec::new();
    let stream = c.decrypting_reader(&file[..]).read_to_end(&mut streamed);
    if let Ok(w) = &whole {
        assert!(stream.is_ok());
        assert_eq!(&w[..], &streamed[..]);
    }
    let _ = c.decrypt_dir_id_backup(&file);
    let _ = c.decrypt_dir_id_backup(rest);
    let _ = c.decrypt_file(rest);
});
