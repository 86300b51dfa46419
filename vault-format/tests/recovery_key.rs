//! Recovery key codec (docs/vault-format.md §12).
//!
//! - codec tests use a SYNTHETIC word list ("w0000".."w4095") generated here: no official list needed;
//! - the known-answer tests use the official list (GPL-3.0, never in this repository): from
//!   `VAULT_TEST_WORDLIST`, else pycryptomator's copy in /opt/vault-test-pyvenv (installed by
//!   scripts/install-deps.sh). Without it they are skipped with a notice on stderr saying how to
//!   install it (a fresh clone has no copy), unless `VAULT_REQUIRE_WORDLIST=1` (scripts/test.sh
//!   sets it) makes the absence a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use common::*;
use proptest::prelude::*;
use vault_format::recovery_key::{
    self, OFFICIAL_WORD_LIST_SHA256, RECOVERY_KEY_WORDS, RecoveryKeyError, WordList, WordListError,
};
use vault_format::{MasterKey, MasterkeyFile, UnverifiedVaultConfig};

fn synthetic_words() -> Vec<String> {
    (0..4096).map(|i| format!("w{i:04}")).collect()
}

fn synthetic() -> WordList {
    WordList::from_words(&synthetic_words()).unwrap()
}

fn counting_key() -> MasterKey {
    let mut raw = [0u8; 64];
    for (i, b) in raw.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(11);
    }
    MasterKey::from_raw(&raw)
}

/// zlib CRC-32, written independently of the crate's (bytewise table).
fn reference_crc32(data: &[u8]) -> u32 {
    let table: Vec<u32> = (0..256u32)
        .map(|n| {
            (0..8).fold(n, |c, _| {
                if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                }
            })
        })
        .collect();
    !data.iter().fold(!0u32, |c, &b| {
        table[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

/// The official list; `None` (with a visible notice) when it is not installed, unless
/// `VAULT_REQUIRE_WORDLIST=1` (scripts/test.sh sets it) turns the absence into a failure. The list
/// is not shipped (its only source is GPL-licensed), so a fresh clone has no copy.
fn official_list() -> Option<WordList> {
    let path = std::env::var_os("VAULT_TEST_WORDLIST")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(test_support::pyvenv::venv_word_list);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            let why = format!(
                "the official recovery-key word list is needed for this known-answer test and {} cannot be read ({e}). \
                 Install it with scripts/install-deps.sh (pycryptomator 1.15 in /opt/vault-test-pyvenv ships a copy), \
                 or download src/main/resources/i18n/4096words_en.txt from github.com/cryptomator/cryptomator \
                 and set VAULT_TEST_WORDLIST to its path",
                path.display()
            );
            assert!(
                std::env::var_os("VAULT_REQUIRE_WORDLIST").is_none_or(|v| v != "1"),
                "{why}"
            );
            // Written past libtest's capture so the skip shows in the run's output.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("SKIPPED (word list absent): {why}\n").as_bytes(),
            );
            return None;
        }
    };
    let list = WordList::parse(&text).expect("the official list parses");
    assert!(
        list.is_official(),
        "{} is not the official list (normalised SHA-256 {})",
        path.display(),
        list.normalized_sha256_hex()
    );
    Some(list)
}

// ---- codec, synthetic list ----

#[test]
fn encode_gives_44_words_of_the_list_on_one_line() {
    let words = recovery_key::encode(&counting_key(), &synthetic());
    assert_eq!(words.split(' ').count(), RECOVERY_KEY_WORDS);
    assert!(!words.contains("  ") && !words.contains('\n'));
    assert!(words.split(' ').all(|w| w.len() == 5 && w.starts_with('w')));
}

#[test]
fn encode_layout_is_key_then_crc_low_bytes_le_in_12_bit_groups() {
    // Rebuild the expected indices by hand from the spec's description.
    let mut raw = [0u8; 64];
    for (i, b) in raw.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(11);
    }
    let crc = reference_crc32(&raw);
    let mut bytes = raw.to_vec();
    bytes.push((crc & 0xFF) as u8);
    bytes.push(((crc >> 8) & 0xFF) as u8);
    let mut expected = Vec::new();
    for g in bytes.chunks(3) {
        let n = (u32::from(g[0]) << 16) | (u32::from(g[1]) << 8) | u32::from(g[2]);
        expected.push(format!("w{:04}", n >> 12));
        expected.push(format!("w{:04}", n & 0xFFF));
    }
    let words = recovery_key::encode(&counting_key(), &synthetic());
    assert_eq!(*words, expected.join(" "));
}

#[test]
fn round_trip_with_extra_whitespace_newlines_and_case() {
    let list = synthetic();
    let words = recovery_key::encode(&counting_key(), &list);
    let messy: String = words
        .split(' ')
        .enumerate()
        .map(|(i, w)| {
            let w = if i % 3 == 0 {
                w.to_uppercase()
            } else {
                w.to_owned()
            };
            if i % 11 == 10 {
                format!("{w}\r\n")
            } else {
                format!("{w} \t ")
            }
        })
        .collect();
    let key = recovery_key::decode(&format!("\n  {messy}\n\n"), &list).unwrap();
    assert_eq!(recovery_key::encode(&key, &list), words);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn round_trip_random_keys(raw in proptest::collection::vec(any::<u8>(), 64)) {
        let list = synthetic();
        let raw: [u8; 64] = raw.try_into().unwrap();
        let words = recovery_key::encode(&MasterKey::from_raw(&raw), &list);
        let back = recovery_key::decode(&words, &list).unwrap();
        prop_assert_eq!(recovery_key::encode(&back, &list), words);
    }
}

#[test]
fn unknown_word_is_named_with_its_position() {
    let list = synthetic();
    let words = recovery_key::encode(&counting_key(), &list);
    let mut v: Vec<&str> = words.split(' ').collect();
    v[6] = "wOOps";
    let err = recovery_key::decode(&v.join(" "), &list).unwrap_err();
    assert_eq!(
        err,
        RecoveryKeyError::UnknownWord {
            word: "wOOps".into(),
            position: 7
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("word 7") && msg.contains("\"wOOps\""), "{msg}");
    assert!(
        !format!("{err:?}").contains("wOOps"),
        "Debug hides the word"
    );
}

#[test]
fn changed_word_fails_the_check_bytes() {
    let list = synthetic();
    let words = recovery_key::encode(&counting_key(), &list);
    let mut v: Vec<String> = words.split(' ').map(str::to_owned).collect();
    // Any single changed 12-bit group in the key bytes changes the CRC (CRC-32 detects
    // every burst of up to 32 bits, and these are the low 16 bits of it: a one-word change of
    // the first 42 words is detected unless the low 16 bits collide, so check the result).
    v[3] = if v[3] == "w0000" {
        "w0001".into()
    } else {
        "w0000".into()
    };
    let err = recovery_key::decode(&v.join(" "), &list).unwrap_err();
    assert_eq!(err, RecoveryKeyError::ChecksumMismatch);
    assert!(err.to_string().contains("a word is mistyped or missing"));
    // The check words themselves changed.
    let mut v: Vec<String> = words.split(' ').map(str::to_owned).collect();
    v[43] = if v[43] == "w0000" {
        "w0001".into()
    } else {
        "w0000".into()
    };
    assert_eq!(
        recovery_key::decode(&v.join(" "), &list).unwrap_err(),
        RecoveryKeyError::ChecksumMismatch
    );
}

#[test]
fn odd_count_wrong_length_and_empty() {
    let list = synthetic();
    let words = recovery_key::encode(&counting_key(), &list);
    let v: Vec<&str> = words.split(' ').collect();
    assert_eq!(
        recovery_key::decode(&v[..43].join(" "), &list).unwrap_err(),
        RecoveryKeyError::OddWordCount { count: 43 }
    );
    assert_eq!(
        recovery_key::decode(&v[..42].join(" "), &list).unwrap_err(),
        RecoveryKeyError::WrongLength { count: 42 }
    );
    let long = format!("{} w0001 w0002", words.as_str());
    assert_eq!(
        recovery_key::decode(&long, &list).unwrap_err(),
        RecoveryKeyError::WrongLength { count: 46 }
    );
    assert_eq!(
        recovery_key::decode(" \n\t ", &list).unwrap_err(),
        RecoveryKeyError::Empty
    );
    let e = RecoveryKeyError::OddWordCount { count: 43 }.to_string();
    assert!(e.contains("43") && e.contains("odd"), "{e}");
}

#[test]
fn word_list_rules() {
    let mut w = synthetic_words();
    // CRLF, blank lines, BOM and surrounding spaces do not change the normalised hash.
    let plain = synthetic().normalized_sha256_hex();
    let messy = format!("\u{feff}{}\r\n\r\n", w.join("  \r\n\n"));
    assert_eq!(
        WordList::parse(&messy).unwrap().normalized_sha256_hex(),
        plain
    );
    assert!(!synthetic().is_official());
    // Wrong count.
    assert_eq!(
        WordList::parse(&w[..4095].join("\n")).unwrap_err(),
        WordListError::WrongCount { found: 4095 }
    );
    // Two words on one line.
    let two = format!("a b\n{}", w[1..].join("\n"));
    assert_eq!(
        WordList::parse(&two).unwrap_err(),
        WordListError::NotOneWord { line: 1 }
    );
    // Duplicates, also when they differ only in case (case-insensitive decoding relies on it).
    w[9] = "W0003".into();
    assert_eq!(
        WordList::parse(&w.join("\n")).unwrap_err(),
        WordListError::Duplicate {
            word: "W0003".into(),
            first: 4,
            second: 10
        }
    );
}

// ---- known answer, official list ----

#[test]
fn official_list_hash_constant_is_the_installed_list() {
    let Some(list) = official_list() else { return };
    assert_eq!(list.normalized_sha256_hex(), OFFICIAL_WORD_LIST_SHA256);
    assert_eq!(list.word(0), Some("ad"));
}

#[test]
fn vault_v8_raw_key_gives_the_vector_words() {
    let v = vectors();
    let rk = &v["recovery_key"];
    assert_eq!(rk["vault"], "vault-v8");
    let raw = unhex(rk["raw_key_hex"].as_str().unwrap());
    // The vector's own CRC and check bytes agree with the spec's byte order.
    let crc = reference_crc32(&raw);
    assert_eq!(format!("{crc:08x}"), rk["crc32_hex"].as_str().unwrap());
    assert_eq!(
        hex::encode([(crc & 0xFF) as u8, ((crc >> 8) & 0xFF) as u8]),
        rk["check_bytes_hex"].as_str().unwrap()
    );
    let Some(list) = official_list() else { return };
    let words = recovery_key::encode(
        &raw_key_from_hex(rk["raw_key_hex"].as_str().unwrap()),
        &list,
    );
    assert_eq!(*words, rk["words"].as_str().unwrap());
    assert_eq!(
        words.split(' ').count(),
        rk["word_count"].as_u64().unwrap() as usize
    );
}

#[test]
fn vault_v8_keys_unlocked_with_its_password_give_the_vector_words_and_back() {
    let v = vectors();
    let expected = v["recovery_key"]["words"].as_str().unwrap();
    let dir = fixtures().join("vault-v8");
    let password = std::fs::read_to_string(dir.join("password.txt")).unwrap();
    let mk = MasterkeyFile::parse(&std::fs::read(dir.join("vault/masterkey.cryptomator")).unwrap())
        .unwrap();
    let key = mk.unlock(&password).unwrap();
    let Some(list) = official_list() else { return };
    assert_eq!(*recovery_key::encode(&key, &list), expected);
    // Decoding the words gives a key that verifies the vault's own vault.cryptomator.
    let decoded = recovery_key::decode(&expected.to_uppercase(), &list).unwrap();
    let token = std::fs::read(dir.join("vault/vault.cryptomator")).unwrap();
    let cfg = UnverifiedVaultConfig::parse(&token).unwrap();
    assert!(cfg.verify(&decoded).is_ok());
}
