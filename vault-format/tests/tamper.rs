//! Acceptance 4: tampering yields an authentication or format error, never wrong cleartext.
//! Covered: every single-byte flip of headers, chunks (exhaustively for small files, at
//! boundaries, nonces, tags and a stride for multi-chunk ones) and names; swapped chunks;
//! truncation; appended chunks.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::io::Read;

use common::*;
use vault_format::{CipherCombo, Cryptor, FormatError};

const COMBOS: [CipherCombo; 2] = [CipherCombo::SivGcm, CipherCombo::SivCtrMac];
const CHUNK: usize = 32768;

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + 7) as u8).collect()
}

/// Decrypts `ct` both ways and asserts it fails (never returns cleartext).
fn assert_rejected(c: &Cryptor, ct: &[u8], what: &str) {
    match c.decrypt_file(ct) {
        Err(
            FormatError::AuthenticationFailed
            | FormatError::InvalidCiphertextSize(_)
            | FormatError::InvalidHeader,
        ) => {}
        Err(e) => panic!("{what}: unexpected error {e:?}"),
        Ok(_) => panic!("{what}: tampered file decrypted"),
    }
    let mut out = Vec::new();
    let r = c.decrypting_reader(ct).read_to_end(&mut out);
    assert!(r.is_err(), "{what}: stream accepted a tampered file");
}

#[test]
fn every_byte_flip_of_a_small_file_is_rejected() {
    for combo in COMBOS {
        let c = vector_cryptor(combo);
        let ct = c.encrypt_file(&data(100));
        for i in 0..ct.len() {
            for bit in [0x01u8, 0x80] {
                let mut t = ct.clone();
                t[i] ^= bit;
                assert_rejected(&c, &t, &format!("{combo:?} byte {i} bit {bit:#x}"));
            }
        }
    }
}

#[test]
fn byte_flips_across_a_multi_chunk_file_are_rejected() {
    for combo in COMBOS {
        let c = vector_cryptor(combo);
        let ct = c.encrypt_file(&data(2 * CHUNK + 500));
        let hl = combo.header_len();
        let cl = combo.ciphertext_chunk_len();
        let mut positions: Vec<usize> = (0..ct.len()).step_by(499).collect();
        // Every byte of the header, and the first/last 64 bytes of every chunk (nonce, tag/MAC).
        positions.extend(0..hl);
        for k in 0..3 {
            let start = hl + k * cl;
            let end = (start + cl).min(ct.len());
            positions.extend(start..start + 64);
            positions.extend(end - 64..end);
        }
        for i in positions {
            let mut t = ct.clone();
            t[i] ^= 0x20;
            assert_rejected(&c, &t, &format!("{combo:?} byte {i}"));
        }
    }
}

#[test]
fn swapped_chunks_are_rejected() {
    for combo in COMBOS {
        let c = vector_cryptor(combo);
        let ct = c.encrypt_file(&data(3 * CHUNK));
        let (hl, cl) = (combo.header_len(), combo.ciphertext_chunk_len());
        for (a, b) in [(0, 1), (1, 2), (0, 2)] {
            let mut t = ct.clone();
            let ca = ct[hl + a * cl..hl + (a + 1) * cl].to_vec();
            let cb = ct[hl + b * cl..hl + (b + 1) * cl].to_vec();
            t[hl + a * cl..hl + (a + 1) * cl].copy_from_slice(&cb);
            t[hl + b * cl..hl + (b + 1) * cl].copy_from_slice(&ca);
            assert_rejected(&c, &t, &format!("{combo:?} swap {a}/{b}"));
        }
    }
}

#[test]
fn chunks_moved_between_files_are_rejected() {
    for combo in COMBOS {
        let c = vector_cryptor(combo);
        let a = c.encrypt_file(&data(CHUNK));
        let b = c.encrypt_file(&data(CHUNK));
        let mut t = a[..combo.header_len()].to_vec();
        t.extend_from_slice(&b[combo.header_len()..]);
        assert_rejected(&c, &t, &format!("{combo:?} foreign chunk"));
    }
}

#[test]
fn truncation_is_rejected_or_yields_only_an_authentic_prefix() {
    for combo in COMBOS {
        let c = vector_cryptor(combo);
        let clear = data(3 * CHUNK + 1000);
        let ct = c.encrypt_file(&clear);
        let (hl, cl) = (combo.header_len(), combo.ciphertext_chunk_len());
        // Inside the header, inside any chunk, or leaving an empty/short tail: always an error.
        for cut in [
            0,
            1,
            hl - 1,
            hl + 1,
            hl + combo.chunk_overhead(),
            hl + cl - 1,
            hl + cl + 5,
            ct.len() - 1,
        ] {
            assert_rejected(&c, &ct[..cut], &format!("{combo:?} cut at {cut}"));
        }
        // At a chunk boundary. Format 8 has no end-of-file marker (docs/vault-format.md §4): a file cut after
        // k whole chunks is indistinguishable from a k-chunk file, for the reference too. What
        // must hold is that no byte of it is wrong: it is exactly the first k chunks.
        for k in 0..=3 {
            let cut = &ct[..hl + k * cl];
            let pt = c.decrypt_file(cut).unwrap();
            assert_eq!(&pt[..], &clear[..k * CHUNK], "{combo:?} k={k}");
        }
    }
}

#[test]
fn appended_chunks_are_rejected() {
    for combo in COMBOS {
        let c = vector_cryptor(combo);
        let (hl, cl) = (combo.header_len(), combo.ciphertext_chunk_len());
        // After a full last chunk: a copy of chunk 0, and a chunk from another file at index 1.
        let full = c.encrypt_file(&data(CHUNK));
        let mut t = full.clone();
        t.extend_from_slice(&full[hl..hl + cl]);
        assert_rejected(&c, &t, &format!("{combo:?} duplicate chunk appended"));
        let other = c.encrypt_file(&data(2 * CHUNK));
        let mut t = full.clone();
        t.extend_from_slice(&other[hl + cl..]);
        assert_rejected(&c, &t, &format!("{combo:?} foreign chunk appended"));
        // After a short last chunk: the short chunk is no longer last.
        let short = c.encrypt_file(&data(100));
        let mut t = short.clone();
        t.extend_from_slice(&short[hl..]);
        assert_rejected(
            &c,
            &t,
            &format!("{combo:?} chunk appended after a short chunk"),
        );
        // An empty chunk appended (what some tools write) is an invalid size (docs/vault-format.md §11).
        let h = c.decrypt_header(&full).unwrap();
        let mut t = full.clone();
        c.encrypt_chunk(&h, 1, &[], &mut t);
        assert_eq!(
            c.decrypt_file(&t).unwrap_err(),
            FormatError::InvalidCiphertextSize(t.len() as u64)
        );
    }
}

#[test]
fn every_byte_flip_of_a_name_ciphertext_is_rejected() {
    let c = vector_cryptor(CipherCombo::SivGcm);
    for name in ["a", "report.txt", "emoji 😀 file", &"x".repeat(200)] {
        let enc = c.encrypt_name(name, "parent");
        let raw = data_encoding::BASE64URL
            .decode(enc.strip_suffix(".c9r").unwrap().as_bytes())
            .unwrap();
        for i in 0..raw.len() {
            let mut t = raw.clone();
            t[i] ^= 0x04;
            let tampered = format!("{}.c9r", data_encoding::BASE64URL.encode(&t));
            assert_eq!(
                c.decrypt_name(&tampered, "parent"),
                Err(FormatError::AuthenticationFailed),
                "{name} {i}"
            );
        }
        // Text-level damage: invalid base64url or truncation is a format error.
        assert_eq!(
            c.decrypt_name(&enc[1..], "parent").unwrap_err(),
            FormatError::InvalidName
        );
        assert_eq!(
            c.decrypt_name("AAAA.c9r", "parent").unwrap_err(),
            FormatError::InvalidName
        );
        assert_eq!(
            c.decrypt_name(&format!("*{}", &enc[1..]), "parent")
                .unwrap_err(),
            FormatError::InvalidName
        );
    }
}
