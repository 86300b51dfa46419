//! Acceptance 3: property tests. Any name (Unicode, up to 255 UTF-8 bytes, given in NFD)
//! round-trips and encrypts like its NFC form; any content of 0..200 KiB, with extra weight
//! around every 32 KiB boundary, round-trips through every path (whole file, stream, chunks).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::io::{Read, Write};

use common::*;
use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;
use vault_format::{CLEARTEXT_CHUNK_SIZE, CipherCombo};

const MAX: usize = 200 * 1024;

/// Up to 255 UTF-8 bytes of arbitrary Unicode scalar values (cut at a char boundary).
fn name() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 1..120).prop_map(|chars| {
        let mut s = String::new();
        for c in chars {
            if s.len() + c.len_utf8() > 255 {
                break;
            }
            s.push(c);
        }
        s
    })
}

/// Sizes anywhere in 0..=200 KiB, or within ±4 bytes of a multiple of 32 KiB.
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        0..=MAX,
        (0..=6usize, -4i64..=4).prop_map(
            |(k, d)| ((k * CLEARTEXT_CHUNK_SIZE) as i64 + d).clamp(0, MAX as i64) as usize
        ),
    ]
}

fn content(len: usize, seed: u64) -> Vec<u8> {
    // Deterministic, not compressible-looking.
    test_support::rng::Rng::new(seed).bytes(len)
}

fn combo() -> impl Strategy<Value = CipherCombo> {
    prop_oneof![Just(CipherCombo::SivGcm), Just(CipherCombo::SivCtrMac)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_name_round_trips_and_nfd_equals_nfc(name in name(), parent in "[a-f0-9-]{0,36}") {
        let c = vector_cryptor(CipherCombo::SivGcm);
        let nfc: String = name.nfc().collect();
        let nfd: String = name.nfd().collect();
        let enc = c.encrypt_name(&nfd, &parent);
        prop_assert_eq!(&enc, &c.encrypt_name(&nfc, &parent));
        prop_assert_eq!(&enc, &c.encrypt_name(&name, &parent));
        prop_assert_eq!(c.decrypt_name(&enc, &parent).unwrap(), nfc.clone());
        // Spec §6 length formula, for the NFC bytes that are encrypted.
        prop_assert_eq!(enc.len(), 4 * (16 + nfc.len()).div_ceil(3) + 4);
        // The exact form keeps NFD and still round-trips.
        let exact = c.encrypt_name_exact(&nfd, &parent);
        prop_assert_eq!(c.decrypt_name(&exact, &parent).unwrap(), nfd);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_content_round_trips(combo in combo(), len in size(), seed in any::<u64>(), piece in 1usize..70_000) {
        let c = vector_cryptor(combo);
        let data = content(len, seed);
        let ct = c.encrypt_file(&data);
        prop_assert_eq!(ct.len() as u64, combo.ciphertext_size(len as u64));
        prop_assert_eq!(combo.cleartext_size(ct.len() as u64), Some(len as u64));
        prop_assert_eq!(&c.decrypt_file(&ct).unwrap()[..], &data[..]);

        // Streaming writer fed in arbitrary pieces, streaming reader.
        let mut w = c.encrypting_writer(Vec::new());
        for p in data.chunks(piece) {
            w.write_all(p).unwrap();
        }
        let streamed = w.finish().unwrap();
        prop_assert_eq!(streamed.len(), ct.len());
        let mut back = Vec::new();
        c.decrypting_reader(&streamed[..]).read_to_end(&mut back).unwrap();
        prop_assert_eq!(&back, &data);

        // Random access: each chunk on its own.
        let h = c.decrypt_header(&ct).unwrap();
        let payload = &ct[combo.header_len()..];
        for (i, (cc, pc)) in payload.chunks(combo.ciphertext_chunk_len()).zip(data.chunks(CLEARTEXT_CHUNK_SIZE)).enumerate() {
            let mut out = Vec::new();
            c.decrypt_chunk(&h, i as u64, cc, &mut out).unwrap();
            prop_assert_eq!(&out[..], pc);
        }
    }
}
