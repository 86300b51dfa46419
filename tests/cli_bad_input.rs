//! Acceptance: the bad-input table. Each bad vault gets its exact one-line message and exit code,
//! and nothing in the vault is modified (the tree is hashed before and after).
//!
//! | case | command | exit |
//! |---|---|---|
//! | wrong password | ls | 3 |
//! | missing vault.cryptomator | ls | 4 |
//! | tampered vault.cryptomator | ls | 4 |
//! | unknown format (7, correctly signed) | ls | 4 |
//! | truncated masterkey.cryptomator | ls | 4 |
//! | missing dir.c9r target | ls -R, get -r (node hidden, warning) / check | 0 / 6 |
//! | tampered chunk | cat | 1 |
//! | missing / unreadable storage | ls | 5 |

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::path::{Path, PathBuf};

use cli_support::*;

/// Runs `args` (with the fixture's password file) against a damaged copy and checks the code,
/// the message and that the vault is unchanged.
#[track_caller]
fn expect(fx: &FixtureCopy, args: &[&str], code: i32) -> String {
    let before = tree_state(&fx.vault);
    let mut full: Vec<&str> = args.to_vec();
    full.push("--password-file");
    full.push(fx.pw());
    let line = vault(&full).fails(code);
    assert_eq!(
        tree_state(&fx.vault),
        before,
        "the vault was modified by {args:?}"
    );
    line
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn wrong_password_exit_3() {
    let fx = copy_fixture("vault-v8");
    std::fs::write(&fx.password_file, "not the password\n").unwrap();
    let v = fx.vault_str();
    assert_eq!(
        expect(&fx, &["ls", v], 3),
        format!("vault: wrong password for {v}")
    );
    assert_eq!(
        expect(&fx, &["cat", v, "/hello.txt"], 3),
        format!("vault: wrong password for {v}")
    );
    // askpass answering wrongly: same message
    let ask = fx.tmp.path().join("ask.sh");
    std::fs::write(&ask, "#!/bin/sh\necho wrong\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ask, std::fs::Permissions::from_mode(0o755)).unwrap();
    let line = vault(&["ls", v, "--askpass", ask.to_str().unwrap()]).fails(3);
    assert_eq!(line, format!("vault: wrong password for {v}"));
}

#[test]
fn missing_vault_config_exit_4() {
    let fx = copy_fixture("vault-v8");
    std::fs::remove_file(fx.vault.join("vault.cryptomator")).unwrap();
    let v = fx.vault_str();
    assert_eq!(
        expect(&fx, &["ls", v], 4),
        format!("vault: {v} is not a vault (no vault.cryptomator)")
    );
    // A plain empty folder is "not a vault" too.
    let empty = fx.tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let line = vault(&["info", empty.to_str().unwrap(), "--password-file", fx.pw()]).fails(4);
    assert_eq!(
        line,
        format!(
            "vault: {} is not a vault (no vault.cryptomator)",
            empty.display()
        )
    );
}

#[test]
fn tampered_vault_config_exit_4() {
    let fx = copy_fixture("vault-v8");
    let path = fx.vault.join("vault.cryptomator");
    let token = std::fs::read_to_string(&path).unwrap();
    // Change the payload (jti) but keep the old signature.
    let parts: Vec<&str> = token.trim().split('.').collect();
    let payload = br#"{"format":8,"shorteningThreshold":220,"jti":"00000000-8d22-4621-916d-aa73634e1972","cipherCombo":"SIV_GCM"}"#;
    std::fs::write(
        &path,
        format!("{}.{}.{}", parts[0], b64url(payload), parts[2]),
    )
    .unwrap();
    let v = fx.vault_str();
    let line = expect(&fx, &["ls", v], 4);
    assert!(
        line.starts_with(&format!("vault: {v} is not a vault (")),
        "{line}"
    );
}

#[test]
fn unknown_format_exit_4() {
    let fx = copy_fixture("vault-v8");
    let vectors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("vectors.json")).unwrap())
            .unwrap();
    let key = hex(vectors["recovery_key"]["raw_key_hex"].as_str().unwrap());
    let header = br#"{"kid":"masterkeyfile:masterkey.cryptomator","typ":"JWT","alg":"HS256"}"#;
    let payload = br#"{"format":7,"shorteningThreshold":220,"jti":"3cdf85ee-8d22-4621-916d-aa73634e1972","cipherCombo":"SIV_GCM"}"#;
    let signing_input = format!("{}.{}", b64url(header), b64url(payload));
    let sig = hmac_sha256(&key, signing_input.as_bytes());
    std::fs::write(
        fx.vault.join("vault.cryptomator"),
        format!("{signing_input}.{}", b64url(&sig)),
    )
    .unwrap();
    let v = fx.vault_str();
    assert_eq!(
        expect(&fx, &["ls", v], 4),
        "vault: unsupported vault format 7"
    );
}

#[test]
fn truncated_masterkey_exit_4() {
    let fx = copy_fixture("vault-v8");
    let path = fx.vault.join("masterkey.cryptomator");
    let data = std::fs::read(&path).unwrap();
    std::fs::write(&path, &data[..data.len() / 2]).unwrap();
    let v = fx.vault_str();
    let line = expect(&fx, &["ls", v], 4);
    assert!(
        line.starts_with(&format!("vault: {v} is not a vault (")),
        "{line}"
    );
    assert!(
        line.starts_with(&format!(
            "vault: {v} is not a vault (invalid masterkey.cryptomator: "
        )),
        "{line}"
    );
}

#[test]
fn missing_dir_target_is_hidden_and_check_exits_6() {
    let fx = copy_fixture("vault-v8");
    // Point one directory node at a content directory that does not exist.
    let mut files = Vec::new();
    all_files(&fx.vault.join("d"), &mut files);
    let mut dir_files: Vec<_> = files
        .into_iter()
        .filter(|p| p.file_name().unwrap() == "dir.c9r")
        .collect();
    dir_files.sort();
    assert!(!dir_files.is_empty());
    std::fs::write(&dir_files[0], "00000000-0000-4000-8000-000000000000").unwrap();
    let v = fx.vault_str();
    // Read-only use hides the broken directory (as Cryptomator does), warns with its ciphertext
    // path, lists everything else and writes nothing.
    let before = tree_state(&fx.vault);
    let run = vault(&["ls", "-R", v, "--password-file", fx.pw()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("WARN directory node without content directory; hidden"),
        "{}",
        run.stderr
    );
    let listed = run.stdout_str().lines().count();
    assert!(listed > 10 && listed < 26, "{listed}");
    let dest = fx.tmp.path().join("out");
    let run = vault(&[
        "get",
        "-r",
        v,
        "/",
        dest.to_str().unwrap(),
        "--password-file",
        fx.pw(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(tree_state(&fx.vault), before);
    // check reports it (exit 6) without writing
    let line = expect(&fx, &["check", v], 6);
    assert!(line.contains("problem"), "{line}");
}

#[test]
fn tampered_chunk_cat_fails_exit_1() {
    let fx = copy_fixture("vault-v8");
    let mut files = Vec::new();
    all_files(&fx.vault.join("d"), &mut files);
    // The largest file node is /sizes/size-100000.bin (100000 bytes + header + 4 chunk overheads).
    let biggest = files
        .iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap()
        .clone();
    assert_eq!(
        std::fs::metadata(&biggest).unwrap().len(),
        100_000 + 68 + 4 * 28
    );
    let mut data = std::fs::read(&biggest).unwrap();
    data[68 + 32796 + 100] ^= 0x01; // inside chunk 1: cleartext offset 32768
    std::fs::write(&biggest, &data).unwrap();
    let v = fx.vault_str();
    let line = expect(&fx, &["cat", v, "/sizes/size-100000.bin"], 1);
    assert!(
        line.starts_with("vault: file /sizes/size-100000.bin is corrupted at offset 32768"),
        "{line}"
    );
    // Other files still read; get of the damaged one leaves no partial file.
    vault(&["cat", v, "/hello.txt", "--password-file", fx.pw()]).ok();
    let dest = fx.tmp.path().join("x.bin");
    let line = expect(
        &fx,
        &["get", v, "/sizes/size-100000.bin", dest.to_str().unwrap()],
        1,
    );
    assert!(line.contains("corrupted at offset 32768"), "{line}");
    assert!(!dest.exists());
    assert_eq!(
        std::fs::read_dir(fx.tmp.path())
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".vault-part"))
            .count(),
        0
    );
}

#[test]
fn missing_or_unreadable_storage_exit_5() {
    let tmp = tempfile::tempdir().unwrap();
    let pw = tmp.path().join("pw");
    std::fs::write(&pw, "x\n").unwrap();
    let missing = tmp.path().join("nope");
    let line = vault(&[
        "ls",
        missing.to_str().unwrap(),
        "--password-file",
        pw.to_str().unwrap(),
    ])
    .fails(5);
    assert_eq!(
        line,
        format!(
            "vault: cannot reach storage {}: no such file or directory",
            missing.display()
        )
    );
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let line = vault(&[
        "ls",
        file.to_str().unwrap(),
        "--password-file",
        pw.to_str().unwrap(),
    ])
    .fails(5);
    assert_eq!(
        line,
        format!("vault: storage {} is not a folder", file.display())
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}
