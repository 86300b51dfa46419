//! Acceptance 2: the fixture vaults (made by the reference library) decrypt completely through
//! the crate's API. The directory walk uses std::fs here, in the test only; the crate does no I/O.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;

use common::*;
use serde_json::{Value, json};
use vault_format::layout::{self, StoredName};
use vault_format::{Cryptor, MasterkeyFile, UnverifiedVaultConfig};

struct Walk<'a> {
    cryptor: &'a Cryptor,
    root: &'a Path,
    threshold: usize,
    entries: BTreeMap<String, Value>,
}

impl Walk<'_> {
    fn dir(&mut self, dir_id: &str, clear_path: &str) {
        let content = self.root.join(self.cryptor.content_dir_path(dir_id));
        assert!(content.is_dir(), "content dir of {clear_path:?} missing");
        // Every content directory of these vaults has a dirid.c9r naming its own ID (docs/vault-format.md §9).
        let backup = fs::read(content.join(layout::DIR_ID_BACKUP_FILE)).expect("dirid.c9r");
        assert_eq!(self.cryptor.decrypt_dir_id_backup(&backup).unwrap(), dir_id);
        for e in fs::read_dir(&content).unwrap() {
            let e = e.unwrap();
            let stored = e.file_name().into_string().unwrap();
            if stored == layout::DIR_ID_BACKUP_FILE {
                continue;
            }
            let node = e.path();
            let (c9r, shortened) = if stored.ends_with(layout::C9S_SUFFIX) {
                let long =
                    layout::parse_name_file(&fs::read(node.join(layout::NAME_FILE)).unwrap())
                        .unwrap();
                assert_eq!(layout::shortened_name(&long), stored);
                (long, true)
            } else {
                assert!(stored.ends_with(layout::C9R_SUFFIX), "{stored}");
                (stored.clone(), false)
            };
            let name = self.cryptor.decrypt_name(&c9r, dir_id).unwrap();
            // The lookup rule finds this very entry from the cleartext name (docs/vault-format.md §8).
            let again = self.cryptor.encrypt_name(&name, dir_id);
            assert_eq!(again, c9r);
            assert_eq!(
                layout::stored_name(&again, self.threshold).entry_name(),
                stored
            );
            assert_eq!(
                matches!(
                    layout::stored_name(&again, self.threshold),
                    StoredName::Shortened { .. }
                ),
                shortened
            );
            let path = format!("{clear_path}/{name}");
            let value = if node.is_dir() && node.join(layout::DIR_FILE).is_file() {
                let child = layout::parse_dir_file(&fs::read(node.join(layout::DIR_FILE)).unwrap())
                    .unwrap();
                self.dir(&child, &path);
                json!({"path": path, "type": "dir", "shortened": shortened})
            } else if node.is_dir() && node.join(layout::SYMLINK_FILE).is_file() {
                let ct = fs::read(node.join(layout::SYMLINK_FILE)).unwrap();
                let target =
                    String::from_utf8(self.cryptor.decrypt_file(&ct).unwrap().to_vec()).unwrap();
                assert!(target.len() <= layout::MAX_SYMLINK_TARGET_LEN);
                json!({"path": path, "type": "symlink", "target": target, "shortened": shortened})
            } else {
                let file = if node.is_dir() {
                    node.join(layout::CONTENTS_FILE)
                } else {
                    node.clone()
                };
                assert!(
                    !node.is_dir() || shortened,
                    "contents.c9r only in shortened nodes"
                );
                let ct = fs::read(&file).unwrap();
                let pt = self.cryptor.decrypt_file(&ct).unwrap();
                let size = self
                    .cryptor
                    .combo()
                    .cleartext_size(ct.len() as u64)
                    .unwrap();
                assert_eq!(size, pt.len() as u64);
                let mut streamed = Vec::new();
                self.cryptor
                    .decrypting_reader(&ct[..])
                    .read_to_end(&mut streamed)
                    .unwrap();
                assert_eq!(&streamed[..], &pt[..]);
                json!({"path": path, "type": "file", "size": size, "sha256": sha256_hex(&pt), "shortened": shortened})
            };
            assert!(
                self.entries.insert(path.clone(), value).is_none(),
                "duplicate {path}"
            );
        }
    }
}

fn check_vault(fixture: &str, combo_claim: &str) {
    let dir = fixtures().join(fixture);
    let root = dir.join("vault");
    let password = fs::read_to_string(dir.join("password.txt")).unwrap();
    // Opening procedure of docs/vault-format.md §3: decode, kid, load key, verify.
    let config =
        UnverifiedVaultConfig::parse(&fs::read(root.join("vault.cryptomator")).unwrap()).unwrap();
    let mk_name = config.masterkey_file_name().unwrap();
    let key = MasterkeyFile::parse(&fs::read(root.join(mk_name)).unwrap())
        .unwrap()
        .unlock(&password)
        .unwrap();
    let config = config.verify(&key).unwrap();
    assert_eq!(config.cipher_combo.as_str(), combo_claim);
    let cryptor = Cryptor::new(key, config.cipher_combo);

    let mut walk = Walk {
        cryptor: &cryptor,
        root: &root,
        threshold: config.shortening_threshold,
        entries: BTreeMap::new(),
    };
    walk.dir("", "");

    let expected: Value =
        serde_json::from_slice(&fs::read(dir.join("expected.json")).unwrap()).unwrap();
    assert_eq!(expected["cipherCombo"], combo_claim);
    let expected: BTreeMap<String, Value> = expected["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["path"].as_str().unwrap().to_owned(), e.clone()))
        .collect();
    assert_eq!(
        walk.entries.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (path, want) in &expected {
        assert_eq!(&walk.entries[path], want, "{path}");
    }
    assert!(expected.len() >= 26, "{fixture}: {} nodes", expected.len());
}

#[test]
fn vault_v8_siv_gcm_decrypts_completely() {
    check_vault("vault-v8", "SIV_GCM");
}

#[test]
fn vault_v8_ctrmac_decrypts_completely() {
    check_vault("vault-v8-ctrmac", "SIV_CTRMAC");
}
