//! Spec §10 against `tests/fixtures/conflicts/expected-resolved.json`'s `resolution` entries:
//! the stored names are decrypted with the fixture vault's key, the ciphertext run is found at
//! the recorded position and the new cleartext names come out as the reference computes them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::collections::{BTreeMap, HashSet};
use std::fs;

use common::*;
use serde_json::Value;
use vault_format::conflict::{extract_ciphertext, resolved_name_candidates};
use vault_format::layout;
use vault_format::{Cryptor, MasterkeyFile, UnverifiedVaultConfig};

fn open() -> (Cryptor, usize, std::path::PathBuf) {
    let dir = fixtures().join("conflicts");
    let root = dir.join("vault");
    let pw = fs::read_to_string(dir.join("password.txt")).unwrap();
    let cfg =
        UnverifiedVaultConfig::parse(&fs::read(root.join("vault.cryptomator")).unwrap()).unwrap();
    let key =
        MasterkeyFile::parse(&fs::read(root.join(cfg.masterkey_file_name().unwrap())).unwrap())
            .unwrap()
            .unlock(&pw)
            .unwrap();
    let cfg = cfg.verify(&key).unwrap();
    (
        Cryptor::new(key, cfg.cipher_combo),
        cfg.shortening_threshold,
        root,
    )
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

#[test]
fn resolution_entries_match_spec_section_10() {
    let (cryptor, threshold, root) = open();
    let expected: Value = serde_json::from_slice(
        &fs::read(fixtures().join("conflicts/expected-resolved.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        expected["shorteningThreshold"].as_u64().unwrap() as usize,
        threshold
    );
    let resolution = expected["resolution"].as_array().unwrap();

    // Directory IDs by cleartext path: from the dir.c9r of every stored directory node.
    let mut dir_ids: BTreeMap<String, String> = BTreeMap::from([("/".to_owned(), String::new())]);
    let root_content = root.join(cryptor.content_dir_path(""));
    for r in resolution.iter().filter(|r| r["dir"] == "/") {
        let node = root_content.join(s(&r["stored_name"]));
        if let Ok(bytes) = fs::read(node.join(layout::DIR_FILE)) {
            let path = r
                .get("resolved_path")
                .map(|p| s(p).to_owned())
                .unwrap_or(format!("/{}", s(&r["cleartext_name"])));
            dir_ids
                .entry(path)
                .or_insert(layout::parse_dir_file(&bytes).unwrap());
        }
    }

    let mut renamed = 0;
    for r in resolution {
        let stored = s(&r["stored_name"]);
        let dir_id = &dir_ids[s(&r["dir"])];
        let base = stored.strip_suffix(".c9r").unwrap();
        let mut decrypt = |run: &str| cryptor.decrypt_name(run, dir_id).ok();
        let found = extract_ciphertext(base, &mut decrypt)
            .unwrap_or_else(|| panic!("nothing found in {stored}"));
        assert_eq!(found.cleartext, s(&r["cleartext_name"]), "{stored}");
        assert_eq!(
            found.start as u64,
            r["extracted_ciphertext_at"].as_u64().unwrap(),
            "{stored}"
        );
        let canonical = format!("{}.c9r", &base[found.start..found.end]);
        let outcome = s(&r["outcome"]);
        assert_eq!(canonical == stored, outcome == "normal", "{stored}");
        if outcome != "renamed to a new cleartext name" {
            continue;
        }
        // The ten candidates, checked against the non-shortened `.c9r` entries actually stored.
        let content = root.join(cryptor.content_dir_path(dir_id));
        let existing: HashSet<String> = fs::read_dir(&content)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let suffix0 = &base[found.end..];
        let chosen = resolved_name_candidates(&found.cleartext, suffix0, threshold)
            .into_iter()
            .find(|c| !existing.contains(&cryptor.encrypt_name(c, dir_id)))
            .unwrap();
        assert_eq!(chosen, s(&r["resolved_name"]), "{stored}");
        let enc = cryptor.encrypt_name(&chosen, dir_id);
        assert_eq!(
            enc.len() as u64,
            r["encrypted_name_length"].as_u64().unwrap()
        );
        assert_eq!(
            enc.len() > threshold,
            r["exceeds_threshold"].as_bool().unwrap()
        );
        if let Some(rec) = r.get("recommended_storage") {
            // e.g. ".c9s form (xRI6iCLQZ2-SNcZcehUBKuF9NBs=.c9s)"
            assert!(
                s(rec).contains(layout::stored_name(&enc, threshold).entry_name()),
                "{rec}"
            );
        }
        renamed += 1;
    }
    assert_eq!(renamed, 6);
}
