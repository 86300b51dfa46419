//! Known-answer tests: every section of `tests/fixtures/vectors.json`, negatives included.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use common::*;
use serde_json::Value;
use vault_format::layout::{self, StoredName};
use vault_format::{CipherCombo, Cryptor, FormatError, MasterkeyFile, UnverifiedVaultConfig};

fn s(v: &Value) -> &str {
    v.as_str().expect("string")
}

#[test]
fn dir_id_hashes_and_content_paths_match() {
    let v = vectors();
    let c = vector_cryptor(CipherCombo::SivGcm);
    let cases = v["dir_id_hashes"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        assert_eq!(c.hash_dir_id(s(&case["dir_id"])), s(&case["dir_id_hash"]));
        assert_eq!(
            c.content_dir_path(s(&case["dir_id"])),
            s(&case["storage_path"])
        );
    }
}

#[test]
fn file_names_encrypt_decrypt_and_shorten_as_the_reference() {
    let v = vectors();
    for combo in [CipherCombo::SivGcm, CipherCombo::SivCtrMac] {
        let c = vector_cryptor(combo);
        for case in v["file_names"].as_array().unwrap() {
            let (name, parent, c9r) = (
                s(&case["cleartext_name"]),
                s(&case["parent_dir_id"]),
                s(&case["c9r_name"]),
            );
            assert_eq!(name.as_bytes(), unhex(s(&case["cleartext_name_utf8_hex"])));
            assert_eq!(c.encrypt_name(name, parent), c9r, "{name}");
            assert_eq!(c.decrypt_name(c9r, parent).unwrap(), name);
            assert_eq!(
                c.decrypt_name(c9r.strip_suffix(".c9r").unwrap(), parent)
                    .unwrap(),
                name
            );
            assert_eq!(c9r.len() as u64, case["c9r_name_length"].as_u64().unwrap());
            // Spec §6 length formula.
            assert_eq!(c9r.len(), 4 * (16 + name.len()).div_ceil(3) + 4);
            assert_eq!(layout::shortened_name(c9r), s(&case["c9s_name"]));
            let shortened = case["shortened_at_threshold_220"].as_bool().unwrap();
            match layout::stored_name(c9r, 220) {
                StoredName::Plain(p) => {
                    assert!(!shortened);
                    assert_eq!(p, c9r);
                }
                StoredName::Shortened { c9s, long } => {
                    assert!(shortened);
                    assert_eq!(c9s, s(&case["c9s_name"]));
                    assert_eq!(long, c9r);
                }
            }
            // The parent ID is authenticated: another parent must not decrypt it.
            assert_eq!(
                c.decrypt_name(c9r, "other-parent"),
                Err(FormatError::AuthenticationFailed)
            );
        }
    }
}

#[test]
fn nfd_name_section_behaves_as_described() {
    let v = vectors();
    let n = &v["nfd_name"];
    let c = vector_cryptor(CipherCombo::SivGcm);
    let parent = s(&n["parent_dir_id"]);
    let nfd = String::from_utf8(unhex(s(&n["stored_cleartext_utf8_hex"]))).unwrap();
    let nfc = s(&n["nfc_cleartext"]);
    assert_eq!(nfc.as_bytes(), unhex(s(&n["nfc_cleartext_utf8_hex"])));
    // Listing: the stored NFD name decrypts to the NFD string.
    assert_eq!(
        c.decrypt_name(s(&n["stored_c9r_name"]), parent).unwrap(),
        nfd
    );
    // Lookup: both forms encrypt to the NFC ciphertext; the exact form finds the stored one.
    assert_eq!(c.encrypt_name(nfc, parent), s(&n["nfc_c9r_name"]));
    assert_eq!(c.encrypt_name(&nfd, parent), s(&n["nfc_c9r_name"]));
    assert_eq!(c.encrypt_name_exact(&nfd, parent), s(&n["stored_c9r_name"]));
}

fn combo_of(name: &str) -> CipherCombo {
    match name {
        "SIV_GCM" => CipherCombo::SivGcm,
        _ => CipherCombo::SivCtrMac,
    }
}

#[test]
fn file_headers_decrypt_and_reencrypt_to_the_same_bytes() {
    let v = vectors();
    for name in ["SIV_GCM", "SIV_CTRMAC"] {
        let combo = combo_of(name);
        let c = vector_cryptor(combo);
        let fh = &v[name]["file_header"];
        let bytes = unhex(s(&fh["header_hex"]));
        assert_eq!(bytes.len() as u64, fh["header_size"].as_u64().unwrap());
        assert_eq!(
            combo.header_len() as u64,
            v[name]["header_size"].as_u64().unwrap()
        );
        assert_eq!(
            combo.ciphertext_chunk_len() as u64,
            v[name]["ciphertext_chunk_size"].as_u64().unwrap()
        );
        let h = c.decrypt_header(&bytes).unwrap();
        assert_eq!(h.nonce(), unhex(s(&fh["decrypted"]["header_nonce_hex"])));
        // Encryption is deterministic given nonce and content key: equal bytes prove the key.
        assert_eq!(c.encrypt_header(&h), bytes, "{name}");
        // Every single-byte flip is rejected.
        for i in 0..bytes.len() {
            let mut t = bytes.clone();
            t[i] ^= 0x01;
            assert_eq!(
                c.decrypt_header(&t).unwrap_err(),
                FormatError::AuthenticationFailed,
                "{name} byte {i}"
            );
        }
        assert_eq!(
            c.decrypt_header(&bytes[..bytes.len() - 1]).unwrap_err(),
            FormatError::InvalidHeader
        );
    }
}

fn expected_cleartext(f: &Value) -> Vec<u8> {
    let size = f["cleartext_size"].as_u64().unwrap() as usize;
    if let Some(h) = f.get("cleartext_hex") {
        return unhex(s(h));
    }
    assert_eq!(s(&f["cleartext_rule"]), "byte[i] = (i*7+3) mod 256");
    (0..size).map(|i| ((i * 7 + 3) % 256) as u8).collect()
}

#[test]
fn whole_files_decrypt_and_reencrypt_chunk_by_chunk_to_the_same_bytes() {
    let v = vectors();
    for name in ["SIV_GCM", "SIV_CTRMAC"] {
        let combo = combo_of(name);
        let c = vector_cryptor(combo);
        let files = v[name]["files"].as_array().unwrap();
        assert_eq!(files.len(), 4);
        for f in files {
            let ct = b64(s(&f["ciphertext_b64"]));
            assert_eq!(ct.len() as u64, f["ciphertext_size"].as_u64().unwrap());
            let expected = expected_cleartext(f);
            assert_eq!(sha256_hex(&expected), s(&f["cleartext_sha256"]));
            let pt = c.decrypt_file(&ct).unwrap();
            assert_eq!(&pt[..], &expected[..], "{name} {}", expected.len());
            // Streaming reader gives the same bytes.
            let mut streamed = Vec::new();
            std::io::Read::read_to_end(&mut c.decrypting_reader(&ct[..]), &mut streamed).unwrap();
            assert_eq!(streamed, expected);
            // Re-encrypt with the stored nonces: byte-identical to the reference.
            let h = c.decrypt_header(&ct).unwrap();
            let mut again = c.encrypt_header(&h);
            let payload = &ct[combo.header_len()..];
            for (i, (chunk_ct, chunk_pt)) in payload
                .chunks(combo.ciphertext_chunk_len())
                .zip(expected.chunks(32768))
                .enumerate()
            {
                c.encrypt_chunk_with_nonce(
                    &h,
                    i as u64,
                    &chunk_ct[..combo.nonce_len()],
                    chunk_pt,
                    &mut again,
                );
            }
            assert_eq!(again, ct, "{name} {}", expected.len());
            assert_eq!(
                combo.ciphertext_size(expected.len() as u64),
                ct.len() as u64
            );
        }
    }
}

#[test]
fn size_mapping_matches_including_invalid_sizes() {
    let v = vectors();
    for name in ["SIV_GCM", "SIV_CTRMAC"] {
        let combo = combo_of(name);
        let cases = v[name]["size_mapping"].as_array().unwrap();
        assert_eq!(cases.len(), 9);
        for m in cases {
            let ct = m["ciphertext_file_size"].as_u64().unwrap();
            match &m["cleartext_size"] {
                Value::String(x) if x == "invalid" => {
                    assert_eq!(combo.cleartext_size(ct), None, "{name} {ct}")
                }
                n => {
                    let n = n.as_u64().unwrap();
                    assert_eq!(combo.cleartext_size(ct), Some(n), "{name} {ct}");
                    assert_eq!(combo.ciphertext_size(n), ct);
                }
            }
        }
    }
}

#[test]
fn masterkey_file_unlocks_to_the_vector_keys_and_rejects_a_wrong_password() {
    let v = vectors();
    let m = &v["masterkey_file"];
    let json = serde_json::to_vec_pretty(&m["masterkey_cryptomator"]).unwrap();
    let file = MasterkeyFile::parse(&json).unwrap();
    assert_eq!(file.version(), 999);
    let key = file.unlock(s(&m["password"])).unwrap();
    assert!(file.version_mac_matches(&key));
    // Same keys as 00..3f: identical names and an identical signed config prove it.
    let expected = raw_key_from_hex(&format!(
        "{}{}",
        s(&m["expected_enc_key_hex"]),
        s(&m["expected_mac_key_hex"])
    ));
    let token = s(&v["vault_config"]["vault_cryptomator_HS256"]);
    let cfg = UnverifiedVaultConfig::parse(token.as_bytes()).unwrap();
    assert!(cfg.verify(&key).is_ok());
    let a = Cryptor::new(key, CipherCombo::SivGcm);
    let b = Cryptor::new(expected, CipherCombo::SivGcm);
    assert_eq!(a.encrypt_name("x", ""), b.encrypt_name("x", ""));
    assert_eq!(a.hash_dir_id(""), b.hash_dir_id(""));
    // The password is NFC-normalised: its NFD form unlocks too.
    let nfd_pw = s(&m["password"])
        .replace('ä', "a\u{308}")
        .replace('ö', "o\u{308}")
        .replace('ü', "u\u{308}");
    assert_ne!(nfd_pw, s(&m["password"]));
    assert!(file.unlock(&nfd_pw).is_ok());
    assert_eq!(
        file.unlock("vector-password").unwrap_err(),
        FormatError::WrongPassword
    );
}

#[test]
fn vault_configs_hs256_hs384_hs512_verify() {
    let v = vectors();
    for alg in ["HS256", "HS384", "HS512"] {
        let token = s(&v["vault_config"][format!("vault_cryptomator_{alg}")]);
        let u = UnverifiedVaultConfig::parse(token.as_bytes()).unwrap();
        assert_eq!(u.masterkey_file_name().unwrap(), "masterkey.cryptomator");
        let cfg = u.verify(&vector_key()).unwrap();
        assert_eq!(cfg.format, 8);
        assert_eq!(cfg.key_id, "masterkeyfile:masterkey.cryptomator");
        assert!(cfg.shortening_threshold > 0);
        // A different key does not verify.
        let mut other = [0u8; 64];
        other[0] = 1;
        assert_eq!(
            u.verify(&vault_format::MasterKey::from_raw(&other))
                .unwrap_err(),
            FormatError::ConfigSignatureMismatch
        );
    }
}

/// Runs the steps a client takes before using a config: parse, kid, verify.
fn open(token: &str) -> Result<vault_format::VaultConfig, FormatError> {
    let u = UnverifiedVaultConfig::parse(token.as_bytes())?;
    u.masterkey_file_name()?;
    u.verify(&vector_key())
}

#[test]
fn vault_config_negatives_are_all_rejected_with_the_right_error() {
    let v = vectors();
    let cases = v["vault_config"]["negative"].as_array().unwrap();
    assert_eq!(cases.len(), 9);
    for case in cases {
        let name = s(&case["name"]);
        assert_eq!(s(&case["expected"]), "reject");
        let err = open(s(&case["token"])).unwrap_err();
        let ok = match name {
            "bad_signature" => err == FormatError::ConfigSignatureMismatch,
            "unknown_format_7" => err == FormatError::UnsupportedVaultFormat { found: 7 },
            "unknown_format_9" => err == FormatError::UnsupportedVaultFormat { found: 9 },
            "unknown_cipher_combo" => matches!(err, FormatError::UnsupportedCipherCombo(_)),
            "alg_none" => err == FormatError::UnsupportedAlgorithm("none".into()),
            "alg_RS256" => err == FormatError::UnsupportedAlgorithm("RS256".into()),
            n if n.starts_with("kid_") => matches!(err, FormatError::UnsupportedKeyId(_)),
            other => panic!("unknown negative case {other}"),
        };
        assert!(ok, "{name}: {err:?}");
        // The kid cases must also fail verification on their own (never usable).
        if name.starts_with("kid_") {
            let u = UnverifiedVaultConfig::parse(s(&case["token"]).as_bytes()).unwrap();
            assert!(
                matches!(
                    u.verify(&vector_key()),
                    Err(FormatError::UnsupportedKeyId(_))
                ),
                "{name}"
            );
        }
    }
}

#[test]
fn vault_config_tolerated_tokens_are_accepted() {
    let v = vectors();
    let cases = v["vault_config"]["tolerated"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for case in cases {
        assert_eq!(s(&case["expected"]), "accept");
        let cfg = open(s(&case["token"])).unwrap_or_else(|e| panic!("{}: {e:?}", s(&case["name"])));
        assert_eq!(cfg.format, 8);
    }
}

#[test]
fn recovery_key_raw_bytes_are_the_keys_of_vault_v8() {
    let v = vectors();
    let rk = &v["recovery_key"];
    assert_eq!(s(&rk["vault"]), "vault-v8");
    let dir = fixtures().join("vault-v8");
    let pw = std::fs::read_to_string(dir.join("password.txt")).unwrap();
    let file =
        MasterkeyFile::parse(&std::fs::read(dir.join("vault/masterkey.cryptomator")).unwrap())
            .unwrap();
    let unlocked = Cryptor::new(file.unlock(&pw).unwrap(), CipherCombo::SivGcm);
    let from_raw = Cryptor::new(raw_key_from_hex(s(&rk["raw_key_hex"])), CipherCombo::SivGcm);
    assert_eq!(unlocked.hash_dir_id(""), from_raw.hash_dir_id(""));
    assert_eq!(
        unlocked.encrypt_name("a", "b"),
        from_raw.encrypt_name("a", "b")
    );
}
