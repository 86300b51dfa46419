//! `vault recovery-key show|reset` end to end (issue 7, acceptance 2).
//!
//! Needs the official word list (GPL-3.0, never in this repository): `VAULT_TEST_WORDLIST`,
//! else pycryptomator 1.15's copy in /opt/vault-test-pyvenv (scripts/install-deps.sh installs
//! it). Without it these tests FAIL and say how to install it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cli_support::*;
use vault_format::MasterKey;
use vault_format::recovery_key::{self, WordList};

const PYVENV: &str = "/opt/vault-test-pyvenv";

fn official_list_path() -> PathBuf {
    let path = std::env::var_os("VAULT_TEST_WORDLIST")
        .map(PathBuf::from)
        .unwrap_or_else(test_support::pyvenv::venv_word_list);
    assert!(
        path.is_file(),
        "the official recovery-key word list is needed and {} does not exist. Install it with \
         scripts/install-deps.sh (pycryptomator 1.15 in {PYVENV} ships a copy), or download \
         src/main/resources/i18n/4096words_en.txt from github.com/cryptomator/cryptomator and set \
         VAULT_TEST_WORDLIST to its path",
        path.display()
    );
    path
}

fn official_list() -> WordList {
    WordList::parse(&std::fs::read_to_string(official_list_path()).unwrap()).unwrap()
}

fn vector_words() -> String {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("vectors.json")).unwrap()).unwrap();
    assert_eq!(v["recovery_key"]["vault"], "vault-v8");
    v["recovery_key"]["words"].as_str().unwrap().to_owned()
}

/// Runs `vault ARGS` with `env` set (and VAULT_ASKPASS, VAULT_RECOVERY_WORDLIST, XDG_DATA_HOME
/// removed unless given), stdin from `stdin` or /dev/null.
fn run_env(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Run {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env_remove("VAULT_ASKPASS")
        .env_remove("VAULT_LOG")
        .env_remove("VAULT_RECOVERY_WORDLIST")
        .env_remove("XDG_DATA_HOME")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run vault");
    if let Some(input) = stdin {
        use std::io::Write;
        let mut s = child.stdin.take().unwrap();
        s.write_all(input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(args: &[&str]) -> Run {
    run_env(args, &[], None)
}

fn write(path: &Path, text: &str) -> String {
    std::fs::write(path, text).unwrap();
    // Keys and passwords as a user keeps them (a readable password file gets a warning).
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.to_str().unwrap().to_owned()
}

fn show(vault: &str, password_file: &str) -> String {
    let list = official_list_path();
    let r = run(&[
        "recovery-key",
        "show",
        vault,
        "--password-file",
        password_file,
        "--word-list",
        list.to_str().unwrap(),
    ]);
    let out = r.ok();
    assert_eq!(r.stderr, "", "nothing but the words, and those on stdout");
    out
}

#[test]
fn show_prints_the_fixture_vaults_vector_words_on_one_line_and_writes_nothing() {
    let fx = copy_fixture("vault-v8");
    let before = tree_state(&fx.vault);
    let out = show(fx.vault_str(), fx.pw());
    assert_eq!(out, format!("{}\n", vector_words()));
    assert_eq!(out.lines().count(), 1);
    assert_eq!(out.split_whitespace().count(), 44);
    assert_eq!(tree_state(&fx.vault), before);
}

#[test]
fn the_word_list_is_found_through_the_env_variable_and_xdg_data_home() {
    let fx = copy_fixture("vault-v8");
    let list = official_list_path();
    let expected = format!("{}\n", vector_words());
    let args = [
        "recovery-key",
        "show",
        fx.vault_str(),
        "--password-file",
        fx.pw(),
    ];
    let by_env = run_env(
        &args,
        &[("VAULT_RECOVERY_WORDLIST", list.to_str().unwrap())],
        None,
    );
    assert_eq!(by_env.ok(), expected);
    let data = fx.tmp.path().join("data");
    std::fs::create_dir_all(data.join("vault")).unwrap();
    std::fs::copy(&list, data.join("vault/4096words_en.txt")).unwrap();
    let by_xdg = run_env(&args, &[("XDG_DATA_HOME", data.to_str().unwrap())], None);
    assert_eq!(by_xdg.ok(), expected);
}

#[test]
fn a_missing_or_unofficial_word_list_is_a_clear_error_before_any_password_is_asked() {
    let fx = copy_fixture("vault-v8");
    let empty = fx.tmp.path().join("empty-home");
    std::fs::create_dir_all(&empty).unwrap();
    let env = [
        ("HOME", empty.to_str().unwrap()),
        ("XDG_DATA_HOME", empty.to_str().unwrap()),
    ];
    // No password source at all: reaching the password would be exit 2, not 1.
    let r = run_env(&["recovery-key", "show", fx.vault_str()], &env, None);
    let system_wide = ["/usr/local/share/vault", "/usr/share/vault"]
        .iter()
        .any(|d| Path::new(d).join("4096words_en.txt").is_file());
    if system_wide {
        // This machine has the list installed system-wide: found there, then the password is needed.
        r.fails(2);
    } else {
        let msg = r.fails(1);
        for part in [
            "word list is not installed",
            "github.com/cryptomator/cryptomator",
            "4096words_en.txt",
            "GPL-3.0",
            "--word-list",
            "VAULT_RECOVERY_WORDLIST",
        ] {
            assert!(msg.contains(part), "{part:?} in {msg}");
        }
    }
    // A list of the right shape but other words (a synthetic one) is refused by its hash.
    let synthetic: Vec<String> = (0..4096).map(|i| format!("w{i:04}")).collect();
    let fake = write(&fx.tmp.path().join("fake.txt"), &synthetic.join("\n"));
    for sub in ["show", "reset"] {
        let r = run(&["recovery-key", sub, fx.vault_str(), "--word-list", &fake]);
        let msg = r.fails(1);
        assert!(
            msg.contains("is not the official recovery-key word list")
                && msg.contains("cryptomator"),
            "{msg}"
        );
    }
    // A list in which one word is changed (same count) is refused too.
    let mut text = std::fs::read_to_string(official_list_path()).unwrap();
    text = text.replacen("\nact\n", "\nacts\n", 1);
    let edited = write(&fx.tmp.path().join("edited.txt"), &text);
    let r = run(&[
        "recovery-key",
        "show",
        fx.vault_str(),
        "--word-list",
        &edited,
    ]);
    assert!(r.fails(1).contains("its words differ"), "{}", r.stderr);
    // CRLF line endings of the right words are fine.
    let crlf = std::fs::read_to_string(official_list_path())
        .unwrap()
        .replace('\n', "\r\n");
    let crlf = write(&fx.tmp.path().join("crlf.txt"), &crlf);
    let r = run(&[
        "recovery-key",
        "show",
        fx.vault_str(),
        "--password-file",
        fx.pw(),
        "--word-list",
        &crlf,
    ]);
    assert_eq!(r.ok(), format!("{}\n", vector_words()));
}

/// Every regular file under `dir`, relative path → bytes.
fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    for (rel, kind) in tree_state(dir) {
        if kind.starts_with('f') {
            out.insert(rel.clone(), std::fs::read(dir.join(&rel)).unwrap());
        }
    }
    out
}

#[test]
fn the_recovery_key_restores_access_after_a_password_change_with_both_old_passwords_forgotten() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let vault = t.join("v");
    let v = vault.to_str().unwrap();
    let list = official_list_path();
    let list = list.to_str().unwrap();
    let (a, b, c) = (
        write(&t.join("a"), "password A\n"),
        write(&t.join("b"), "password B\n"),
        write(&t.join("c"), "password C: new\n"),
    );
    run(&["create", v, "--password-file", &a]).ok();
    // Some content: text, binary over a chunk edge, a subfolder.
    let src = t.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("notes.txt"), "recover me\n").unwrap();
    let big: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 253) as u8).collect();
    std::fs::write(src.join("sub/big.bin"), &big).unwrap();
    std::fs::write(src.join("sub/empty"), b"").unwrap();
    run(&[
        "put",
        "-r",
        v,
        src.to_str().unwrap(),
        "/data",
        "--password-file",
        &a,
    ])
    .ok();

    let words = show(v, &a);
    // Password A → B; then A and B are "forgotten": never given again.
    run(&[
        "passwd",
        v,
        "--password-file",
        &a,
        "--new-password-file",
        &b,
    ])
    .ok();
    let mk_before = std::fs::read(vault.join("masterkey.cryptomator")).unwrap();
    let config_before = std::fs::read(vault.join("vault.cryptomator")).unwrap();
    let d_before = tree_state(&vault.join("d"));

    // The key as a user might have written it down: two lines, some capitals.
    let mut written = words.trim().to_owned();
    written = written.replacen(' ', "\n", 1).to_uppercase() + "\n";
    let key_file = write(&t.join("key.txt"), &written);
    let r = run(&[
        "recovery-key",
        "reset",
        v,
        "--word-list",
        list,
        "--recovery-key-file",
        &key_file,
        "--new-password-file",
        &c,
    ]);
    r.ok();
    assert!(
        r.stderr.contains("set from the recovery key"),
        "{}",
        r.stderr
    );

    // Spec §13 backup: the file it replaced, named by its hash.
    let backup = vault.join(format!(
        "masterkey.cryptomator.{}.bkup",
        sha256(&mk_before)[..8].to_uppercase()
    ));
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        mk_before,
        "backup {backup:?}"
    );
    assert!(
        r.stderr
            .contains(backup.file_name().unwrap().to_str().unwrap())
    );
    assert_ne!(
        std::fs::read(vault.join("masterkey.cryptomator")).unwrap(),
        mk_before
    );
    assert_eq!(
        std::fs::read(vault.join("vault.cryptomator")).unwrap(),
        config_before
    );
    assert_eq!(tree_state(&vault.join("d")), d_before, "no content touched");

    // C opens the vault; every file reads back byte-identical.
    let out = t.join("out");
    run(&[
        "get",
        "-r",
        v,
        "/data",
        out.to_str().unwrap(),
        "--password-file",
        &c,
    ])
    .ok();
    assert_eq!(files(&out), files(&src));
    // A and B no longer open it.
    for old in [&a, &b] {
        let msg = run(&["ls", v, "--password-file", old]).fails(3);
        assert!(msg.contains("wrong password"), "{msg}");
    }
    // The keys did not change: the same recovery key.
    assert_eq!(show(v, &c), words);
}

#[test]
fn reset_asks_through_askpass_with_the_documented_prompts() {
    let fx = copy_fixture("vault-v8");
    let t = fx.tmp.path();
    let log = t.join("prompts.log");
    let key = write(&t.join("key"), &vector_words());
    let script = t.join("askpass");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{log}'\ncase \"$1\" in\n  'Recovery key for '*) cat '{key}' ;;\n  'New vault password for '*) echo 'new one' ;;\n  *) exit 1 ;;\nesac\n",
            log = log.display(),
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let list = official_list_path();
    let r = run_env(
        &[
            "recovery-key",
            "reset",
            fx.vault_str(),
            "--word-list",
            list.to_str().unwrap(),
        ],
        &[("VAULT_ASKPASS", script.to_str().unwrap())],
        None,
    );
    r.ok();
    let v = fx.vault_str();
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!("Recovery key for {v}: \nNew vault password for {v}: \n")
    );
    let pw = write(&t.join("new"), "new one\n");
    assert!(
        run(&["cat", v, "/hello.txt", "--password-file", &pw])
            .ok()
            .len()
            == 12
    );
    // The recovery key can also come from stdin (`--recovery-key-file -`).
    let pw2 = write(&t.join("new2"), "newer\n");
    let r = run_env(
        &[
            "recovery-key",
            "reset",
            v,
            "--word-list",
            list.to_str().unwrap(),
            "--recovery-key-file",
            "-",
            "--new-password-file",
            &pw2,
        ],
        &[],
        Some(vector_words().as_bytes()),
    );
    r.ok();
    run(&["ls", v, "--password-file", &pw2]).ok();
}

#[test]
fn mistyped_or_foreign_recovery_keys_are_refused_and_change_nothing() {
    let fx = copy_fixture("vault-v8");
    let t = fx.tmp.path();
    let v = fx.vault_str();
    let list_path = official_list_path();
    let list_arg = list_path.to_str().unwrap();
    let good: Vec<String> = vector_words().split(' ').map(str::to_owned).collect();
    let before = tree_state(&fx.vault);
    let new_pw = write(&t.join("new"), "never set\n");

    // No source for a new password is given (stdin is not a terminal): the key must be
    // refused (exit 3) before the new password is asked for (that would be exit 2).
    let attempt = |key_text: &str| -> String {
        let key = write(&t.join("key"), key_text);
        let r = run(&[
            "recovery-key",
            "reset",
            v,
            "--word-list",
            list_arg,
            "--recovery-key-file",
            &key,
        ]);
        let msg = r.fails(3);
        assert!(msg.contains("nothing was changed"), "{msg}");
        assert_eq!(
            tree_state(&fx.vault),
            before,
            "vault unchanged after: {msg}"
        );
        msg
    };

    // A word not in the list: named, with its position.
    let mut k = good.clone();
    k[4] = "xyzzy".into();
    let msg = attempt(&k.join(" "));
    assert!(
        msg.contains("word 5 (\"xyzzy\")") && msg.contains("mistyped"),
        "{msg}"
    );

    // A word of the list in the wrong place: the check bytes catch it.
    let list = official_list();
    let mut k = good.clone();
    k[10] = if k[10] == "ability" {
        "able".into()
    } else {
        "ability".into()
    };
    let msg = attempt(&k.join(" "));
    assert!(msg.contains("a word is mistyped or missing"), "{msg}");

    // A word missing; two words missing.
    let msg = attempt(&good[..43].join(" "));
    assert!(msg.contains("43 words") && msg.contains("odd"), "{msg}");
    let msg = attempt(&good[..42].join(" "));
    assert!(msg.contains("42 words") && msg.contains("44"), "{msg}");
    let msg = attempt("   \n");
    assert!(msg.contains("empty"), "{msg}");

    // A well-formed key (check bytes right) of another vault: exit 3 before the new password.
    let mut raw = [0u8; 64];
    for (i, b) in raw.iter_mut().enumerate() {
        *b = i as u8;
    }
    let foreign = recovery_key::encode(&MasterKey::from_raw(&raw), &list);
    let msg = attempt(foreign.as_str());
    assert!(msg.contains("does not belong to the vault"), "{msg}");

    // The right key still works afterwards (nothing was half-written).
    run(&[
        "recovery-key",
        "reset",
        v,
        "--word-list",
        list_arg,
        "--recovery-key-file",
        &write(&t.join("key"), &vector_words()),
        "--new-password-file",
        &new_pw,
    ])
    .ok();
}

#[test]
fn reset_refuses_the_current_password_option_and_a_missing_key_source() {
    let fx = copy_fixture("vault-v8");
    let before = tree_state(&fx.vault);
    let list = official_list_path();
    let msg = run(&[
        "recovery-key",
        "reset",
        fx.vault_str(),
        "--word-list",
        list.to_str().unwrap(),
        "--password-file",
        fx.pw(),
    ])
    .fails(2);
    assert!(msg.contains("--new-password-file"), "{msg}");
    // No terminal, no askpass, no file: a usage error naming the ways to give the key.
    let msg = run(&[
        "recovery-key",
        "reset",
        fx.vault_str(),
        "--word-list",
        list.to_str().unwrap(),
    ])
    .fails(2);
    assert!(msg.contains("--recovery-key-file"), "{msg}");
    // The right key but no source for the new password: exit 2, nothing written.
    let key = write(&fx.tmp.path().join("key"), &vector_words());
    let msg = run(&[
        "recovery-key",
        "reset",
        fx.vault_str(),
        "--word-list",
        list.to_str().unwrap(),
        "--recovery-key-file",
        &key,
    ])
    .fails(2);
    assert!(
        msg.contains("--new-password-file") && msg.contains("nothing was changed"),
        "{msg}"
    );
    // Not a vault: exit 4.
    let empty = fx.tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    run(&[
        "recovery-key",
        "show",
        empty.to_str().unwrap(),
        "--word-list",
        list.to_str().unwrap(),
    ])
    .fails(4);
    // Wrong password for show: exit 3, nothing printed.
    let wrong = write(&fx.tmp.path().join("wrong"), "wrong\n");
    let r = run(&[
        "recovery-key",
        "show",
        fx.vault_str(),
        "--password-file",
        &wrong,
        "--word-list",
        list.to_str().unwrap(),
    ]);
    r.fails(3);
    assert!(r.stdout.is_empty());
    assert_eq!(tree_state(&fx.vault), before);
}

#[test]
fn pycryptomator_opens_a_reset_vault_with_our_recovery_key() {
    let python = PathBuf::from(PYVENV).join("bin/python");
    assert!(
        python.is_file(),
        "{} missing: scripts/install-deps.sh installs pycryptomator 1.15 there",
        python.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let vault = t.join("v");
    let v = vault.to_str().unwrap();
    let a = write(&t.join("a"), "first\n");
    let c = write(&t.join("c"), "third\n");
    run(&["create", v, "--password-file", &a]).ok();
    let src = write(&t.join("note.txt"), "interop check 42\n");
    run(&["put", v, &src, "/note.txt", "--password-file", &a]).ok();
    let words = show(v, &a);
    let key_file = write(&t.join("key"), &words);
    run(&[
        "recovery-key",
        "reset",
        v,
        "--word-list",
        official_list_path().to_str().unwrap(),
        "--recovery-key-file",
        &key_file,
        "--new-password-file",
        &c,
    ])
    .ok();
    // pycryptomator reads the 44 words from stdin (`--master-keys - -`) and decrypts the file.
    let mut child = Command::new(&python)
        .args([
            "-m",
            "pycryptomator",
            "--master-keys",
            "-",
            "-",
            v,
            "decrypt",
            "/note.txt",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(words.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("interop check 42"), "{stdout}");
}

/// The scrypt settings of `masterkey.cryptomator` in `vault`.
fn scrypt_of(vault: &Path) -> (u64, u64) {
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(vault.join("masterkey.cryptomator")).unwrap())
            .unwrap();
    (
        j["scryptCostParam"].as_u64().unwrap(),
        j["scryptBlockSize"].as_u64().unwrap(),
    )
}

/// What a hostile storage can do without any key: plant a `masterkey.cryptomator` with N = 2.
/// Here it wraps the real key (as a file the user's own old tool might have written), so the
/// password still opens it: the point is what the CLI writes next.
fn plant_weak_masterkey(vault: &Path, password: &str) {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("vectors.json")).unwrap()).unwrap();
    let raw: [u8; 64] = hex(v["recovery_key"]["raw_key_hex"].as_str().unwrap())
        .try_into()
        .unwrap();
    let weak =
        vault_format::MasterkeyFile::create_with_cost(&MasterKey::from_raw(&raw), password, 2)
            .unwrap();
    std::fs::write(vault.join("masterkey.cryptomator"), weak.to_json()).unwrap();
    assert_eq!(scrypt_of(vault), (2, 8));
}

/// Issue 11, acceptance 4a: a planted N = 2 never reaches the file `passwd` or `recovery-key
/// reset` writes (they used to keep the old cost, making the new password cheap to guess); the
/// weak file read gives one WARN line; `create` writes Cryptomator's settings.
#[test]
fn weak_scrypt_settings_planted_by_the_storage_are_never_written_back() {
    let fx = copy_fixture("vault-v8");
    let t = fx.tmp.path();
    let v = fx.vault_str();
    let old_pw = std::fs::read_to_string(fx.pw()).unwrap();
    let warned = |stderr: &str| {
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("weak scrypt settings"))
            .collect();
        assert_eq!(lines.len(), 1, "one warning: {stderr}");
        assert!(
            lines[0].trim_start().starts_with("WARN ") && lines[0].contains("N=2, r=8"),
            "{stderr}"
        );
    };

    plant_weak_masterkey(&fx.vault, old_pw.trim_end());
    let b = write(&t.join("b"), "password B\n");
    let r = run(&[
        "passwd",
        v,
        "--password-file",
        fx.pw(),
        "--new-password-file",
        &b,
    ]);
    r.ok();
    assert_eq!(scrypt_of(&fx.vault), (32768, 8), "passwd");
    warned(&r.stderr);
    run(&["ls", v, "--password-file", &b]).ok();

    plant_weak_masterkey(&fx.vault, "whatever the server chose");
    let c = write(&t.join("c"), "password C\n");
    let key = write(&t.join("key"), &vector_words());
    let list = official_list_path();
    let r = run(&[
        "recovery-key",
        "reset",
        v,
        "--word-list",
        list.to_str().unwrap(),
        "--recovery-key-file",
        &key,
        "--new-password-file",
        &c,
    ]);
    r.ok();
    assert_eq!(scrypt_of(&fx.vault), (32768, 8), "recovery-key reset");
    warned(&r.stderr);
    let r = run(&["ls", v, "--password-file", &c]);
    r.ok();
    assert!(!r.stderr.contains("weak"), "{}", r.stderr);

    let fresh = t.join("fresh");
    run(&["create", fresh.to_str().unwrap(), "--password-file", &c]).ok();
    assert_eq!(scrypt_of(&fresh), (32768, 8), "create");
}
