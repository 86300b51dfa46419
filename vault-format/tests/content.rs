//! Content rules beyond the vectors: dirid.c9r backups (docs/vault-format.md §9), strict sizes (docs/vault-format.md §11),
//! the streaming writer and reader, random access to chunks.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::io::{Read, Write};

use common::*;
use vault_format::{CLEARTEXT_CHUNK_SIZE, CipherCombo, FormatError};

const COMBOS: [CipherCombo; 2] = [CipherCombo::SivGcm, CipherCombo::SivCtrMac];

#[test]
fn dir_id_backup_has_the_reference_sizes_and_round_trips() {
    for combo in COMBOS {
        let c = vector_cryptor(combo);
        let root = c.encrypt_dir_id_backup("");
        // Header + one empty chunk: 96 bytes for SIV_GCM (docs/vault-format.md §9), 136 for SIV_CTRMAC.
        assert_eq!(root.len(), combo.header_len() + combo.chunk_overhead());
        assert_eq!(c.decrypt_dir_id_backup(&root).unwrap(), "");
        let id = "0c5d3f4e-1b2a-4c6d-8e9f-a0b1c2d3e4f5";
        let b = c.encrypt_dir_id_backup(id);
        assert_eq!(b.len(), combo.header_len() + combo.chunk_overhead() + 36);
        assert_eq!(c.decrypt_dir_id_backup(&b).unwrap(), id);
    }
}

#[test]
fn dir_id_backup_rejects_more_than_36_bytes_and_tampering() {
    for combo in COMBOS {
        let c = vector_cryptor(combo);
        let long = c.encrypt_dir_id_backup(&"x".repeat(37));
        assert_eq!(
            c.decrypt_dir_id_backup(&long).unwrap_err(),
            FormatError::InvalidNodeFile("dirid.c9r")
        );
        let mut b = c.encrypt_dir_id_backup("abc");
        let last = b.len() - 1;
        b[last] ^= 1;
        assert_eq!(
            c.decrypt_dir_id_backup(&b).unwrap_err(),
            FormatError::AuthenticationFailed
        );
        assert!(c.decrypt_dir_id_backup(&b[..10]).is_err());
    }
}

#[test]
fn decrypt_file_is_strict_about_sizes() {
    for combo in COMBOS {
        let c = vector_cryptor(combo);
        // A regular file ending in an empty chunk is "invalid" per docs/vault-format.md §11 (the dirid backup is not).
        let with_empty_chunk = c.encrypt_dir_id_backup("");
        let len = with_empty_chunk.len() as u64;
        assert_eq!(
            c.decrypt_file(&with_empty_chunk).unwrap_err(),
            FormatError::InvalidCiphertextSize(len)
        );
        assert_eq!(
            c.decrypt_file(&[]).unwrap_err(),
            FormatError::InvalidCiphertextSize(0)
        );
        let f = c.encrypt_file(b"hello");
        assert_eq!(
            c.decrypt_file(&f[..f.len() - 5]).unwrap_err(),
            FormatError::InvalidCiphertextSize(f.len() as u64 - 5)
        );
    }
}

#[test]
fn encrypt_file_never_writes_an_empty_trailing_chunk() {
    for combo in COMBOS {
        let c = vector_cryptor(combo);
        for n in [0usize, 1, 32767, 32768, 32769, 65536] {
            let f = c.encrypt_file(&vec![7u8; n]);
            assert_eq!(f.len() as u64, combo.ciphertext_size(n as u64), "{n}");
            assert_eq!(c.decrypt_file(&f).unwrap().len(), n);
        }
    }
}

#[test]
fn chunks_decrypt_at_any_index_and_only_there() {
    for combo in COMBOS {
        let c = vector_cryptor(combo);
        let h = c.new_header();
        let mut ct = Vec::new();
        c.encrypt_chunk(&h, 5, b"chunk five", &mut ct);
        let mut out = b"prefix".to_vec();
        c.decrypt_chunk(&h, 5, &ct, &mut out).unwrap();
        assert_eq!(out, b"prefixchunk five");
        // Wrong index or another file's header: rejected, and nothing appended.
        assert_eq!(
            c.decrypt_chunk(&h, 4, &ct, &mut out).unwrap_err(),
            FormatError::AuthenticationFailed
        );
        assert_eq!(
            c.decrypt_chunk(&c.new_header(), 5, &ct, &mut out)
                .unwrap_err(),
            FormatError::AuthenticationFailed
        );
        assert_eq!(out, b"prefixchunk five");
        // Fresh nonce per encryption.
        let mut ct2 = Vec::new();
        c.encrypt_chunk(&h, 5, b"chunk five", &mut ct2);
        assert_ne!(ct, ct2);
        assert!(
            c.decrypt_chunk(&h, 0, &ct[..combo.chunk_overhead() - 1], &mut out)
                .is_err()
        );
    }
}

#[test]
fn headers_round_trip_and_are_fresh() {
    for combo in COMBOS {
        let c = vector_cryptor(combo);
        let h = c.new_header();
        assert_eq!(h.nonce().len(), combo.nonce_len());
        let ct = c.encrypt_header(&h);
        assert_eq!(ct.len(), combo.header_len());
        let back = c.decrypt_header(&ct).unwrap();
        assert_eq!(back.nonce(), h.nonce());
        assert_eq!(c.encrypt_header(&back), ct);
        assert_ne!(c.new_header().nonce(), h.nonce());
        // A header from another vault key does not authenticate.
        let other = vault_format::Cryptor::new(vault_format::MasterKey::generate(), combo);
        assert_eq!(
            other.decrypt_header(&ct).unwrap_err(),
            FormatError::AuthenticationFailed
        );
    }
}

#[test]
fn streaming_writer_and_reader_round_trip_in_odd_pieces() {
    for combo in COMBOS {
        let c = vector_cryptor(combo);
        for n in [0usize, 1, 32768, 32769, 100_000] {
            let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            let mut w = c.encrypting_writer(Vec::new());
            for piece in data.chunks(1000) {
                w.write_all(piece).unwrap();
            }
            let ct = w.finish().unwrap();
            assert_eq!(ct.len() as u64, combo.ciphertext_size(n as u64), "{n}");
            assert_eq!(&c.decrypt_file(&ct).unwrap()[..], &data[..]);
            let mut r = c.decrypting_reader(&ct[..]);
            let mut back = Vec::new();
            let mut buf = [0u8; 777];
            loop {
                let k = r.read(&mut buf).unwrap();
                if k == 0 {
                    break;
                }
                back.extend_from_slice(&buf[..k]);
            }
            assert_eq!(back, data);
        }
    }
}

#[test]
fn streaming_reader_rejects_an_empty_trailing_chunk_and_short_headers() {
    for combo in COMBOS {
        let c = vector_cryptor(combo);
        let mut out = Vec::new();
        let err = c
            .decrypting_reader(&c.encrypt_dir_id_backup("")[..])
            .read_to_end(&mut out)
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        let f = c.encrypt_file(&[1u8; 10]);
        let err = c
            .decrypting_reader(&f[..combo.header_len() - 1])
            .read_to_end(&mut out)
            .unwrap_err();
        assert_eq!(
            err.get_ref().and_then(|e| e.downcast_ref::<FormatError>()),
            Some(&FormatError::InvalidHeader)
        );
        // After an error the reader keeps failing.
        let mut t = f.clone();
        let last = t.len() - 1;
        t[last] ^= 1;
        let mut r = c.decrypting_reader(&t[..]);
        assert!(r.read_to_end(&mut out).is_err());
        assert!(r.read(&mut [0u8; 4]).is_err());
        assert!(out.is_empty());
    }
}

#[test]
fn chunk_size_constant_is_32_kib() {
    assert_eq!(CLEARTEXT_CHUNK_SIZE, 32768);
}

#[test]
fn cryptor_and_header_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<vault_format::Cryptor>();
    assert_send_sync::<vault_format::FileHeader>();
    assert_send_sync::<vault_format::MasterKey>();
}

#[test]
fn debug_output_never_shows_key_material() {
    let c = vector_cryptor(CipherCombo::SivGcm);
    let h = c.new_header();
    let printed = format!("{c:?} {h:?} {:?}", vector_key());
    assert!(printed.contains("SivGcm"));
    assert!(printed.contains("REDACTED"));
    // The vector keys are 00 01 02 …: no run of them may appear in any encoding.
    for needle in ["0, 1, 2, 3", "00010203", "[0, 1", "content_key"] {
        assert!(!printed.contains(needle), "{printed}");
    }
}
