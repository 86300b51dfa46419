//! Opt-in TOTP secret and remembered SSH secrets (issues 5 and 7), through the `vault` binary,
//! against the real 2FA OpenSSH sshd of `vault-sftp/tests/servers/sshd-2fa.sh` (public key
//! with passphrase + TOTP through PAM, `AuthenticationMethods publickey,keyboard-interactive`,
//! TOTP reuse allowed so the several logins of this test need no wait for a fresh window),
//! with the kernel keyring (`VAULT_KEYRING=keyutils`) as the real store across processes.
//!
//! `remembered_totp_secret_answers_codes_and_forget_drops_it`:
//! 1. `vault create NAME --remember --remember-totp` asks the key passphrase, the TOTP secret
//!    and the vault password (askpass), never a verification code: the code is computed;
//! 2. `vault ls NAME` in a new process with no secret source at all logs in and lists: key
//!    passphrase, TOTP code and vault password all come from the keyring;
//! 3. `vault mount NAME` (detached daemon, handed the TOTP secret) and a listing through it;
//! 4. `vault forget NAME` drops all three; the next login asks for a verification code again.
//!
//! `remembered_totp_mounts_when_the_server_refuses_code_reuse`: the same sshd with reuse
//! denied; `vault mount` (two logins within seconds) still succeeds.
//!
//! Needs root, FUSE, oathtool, openssh-server, libpam-google-authenticator (as sftp_e2e.rs).

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::path::PathBuf;
use std::process::Command;

use cli_support::*;

const VAULT_PW: &str = "remembered, sftp edition";

/// The 2FA sshd of instance `r<pid><n>`; `reuse`: allow or deny a TOTP code twice in its
/// window.
fn sshd(n: u32, reuse: &str) -> Sshd {
    let pid = std::process::id();
    Sshd::start(
        &format!("r{}{n}", pid % 100_000),
        42_100 + (pid % 500) * 16 + 8 * n,
        &format!("/tmp/vault-remember-sshd-{pid}-{n}"),
        "2fa",
        &[("VAULT_TEST_TOTP_REUSE", reuse)],
    )
}

/// The askpass arms for the key passphrase, the TOTP secret and the vault password.
fn secret_arms(passphrase: &str, secret: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "'Passphrase for key '*': '",
            format!("printf '%s\\n' '{passphrase}'"),
        ),
        ("'TOTP secret for '*", format!("printf '%s\\n' '{secret}'")),
        (
            "'Vault password for '*': '",
            format!("printf '%s\\n' '{VAULT_PW}'"),
        ),
    ]
}

#[test]
fn remembered_totp_secret_answers_codes_and_forget_drops_it() {
    let sshd = sshd(0, "allow");
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config.toml");
    let kh = sshd.known_hosts_in(tmp.path());
    let key = sshd.var("VAULT_TEST_SSH_KEY");
    let secret = sshd.var("VAULT_TEST_SSH_TOTP_SECRET");
    let passphrase = sshd.var("VAULT_TEST_SSH_KEY_PASSPHRASE");
    let url = sshd.url("/~/Vault");
    let run = |args: &[&str]| -> Run {
        run_cmd(
            vault_cmd(300, args)
                .env("VAULT_CONFIG", &config)
                .env("VAULT_KEYRING", "keyutils"),
        )
    };
    // An askpass answering everything but a verification code (logged, then refused).
    let ask = tmp.path().join("ask.sh");
    let log = tmp.path().join("ask.sh.log");
    let mut arms = secret_arms(&passphrase, &secret);
    arms.push((
        "'[sftp '*'] Verification code: '",
        format!("oathtool --totp -b '{secret}'"),
    ));
    write_askpass(&ask, true, &arms);
    run(&[
        "add",
        "nas",
        &url,
        "--identity",
        &key,
        "--known-hosts",
        kh.to_str().unwrap(),
    ])
    .ok();
    let dir = PathBuf::from(sshd.var("VAULT_TEST_SFTP_ROOT")).join("Vault");

    // 1. create, remembering everything: no verification code is asked
    let r = run(&[
        "create",
        "nas",
        "--remember",
        "--remember-totp",
        "--askpass",
        ask.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    assert!(dir.join("vault.cryptomator").is_file());
    let seen = read_lines(&log);
    assert!(
        seen.iter()
            .any(|p| p.starts_with("TOTP secret for sftp://")),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|p| p.starts_with("Passphrase for key ")),
        "{seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|p| p.starts_with("[sftp ") && p.ends_with("] Verification code: ")),
        "the code was computed, not asked: {seen:?}"
    );

    // 2. a new process with no secret source at all
    std::fs::remove_file(&log).unwrap();
    run(&["mkdir", "nas", "/from-keyring"]).ok();
    let out = run(&["ls", "nas"]).ok();
    assert!(out.lines().any(|l| l == "from-keyring/"), "{out}");
    assert!(read_lines(&log).is_empty(), "nothing asked");

    // 3. a detached mount: the daemon holds the TOTP secret for reconnects
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let _guard = MountGuard::lazy(mnt.clone());
    let r = run(&["mount", "nas", mnt.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(mnt.join("from-keyring").is_dir());
    run(&["unmount", mnt.to_str().unwrap()]).ok();

    // 4. forget: all three gone; the server's code prompt is asked again
    let r = run(&["forget", "nas"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for what in ["vault password", "TOTP secret", "SSH key passphrase"] {
        assert!(r.stderr.contains(what), "{what}: {}", r.stderr);
    }
    assert_ne!(run(&["ls", "nas"]).code, 0, "nothing stored, no source");
    run(&["ls", "nas", "--askpass", ask.to_str().unwrap()]).ok();
    let seen = read_lines(&log);
    assert!(
        seen.iter()
            .any(|p| p.starts_with("[sftp ") && p.ends_with("] Verification code: ")),
        "asked again after forget: {seen:?}"
    );
}

/// With reuse denied (google-authenticator's default), `vault mount` logs in twice within
/// seconds (the parent checks, the daemon mounts): with a remembered TOTP secret the daemon is
/// told which code the parent used and waits for the next window instead of being refused.
#[test]
fn remembered_totp_mounts_when_the_server_refuses_code_reuse() {
    let sshd = sshd(1, "deny");
    let tmp = tempfile::tempdir().unwrap();
    let kh = sshd.known_hosts_in(tmp.path());
    let key = sshd.var("VAULT_TEST_SSH_KEY");
    let secret = sshd.var("VAULT_TEST_SSH_TOTP_SECRET");
    let passphrase = sshd.var("VAULT_TEST_SSH_KEY_PASSPHRASE");
    let url = sshd.url("/~/Vault");
    let ask = tmp.path().join("ask.sh");
    write_askpass(&ask, false, &secret_arms(&passphrase, &secret));
    let run = |args: &[&str]| -> Run {
        run_cmd(
            vault_cmd(300, args)
                .args(["--identity", &key, "--known-hosts", kh.to_str().unwrap()])
                .args(["--askpass", ask.to_str().unwrap()])
                .env("VAULT_KEYRING", "none"),
        )
    };
    // --remember-totp with VAULT_KEYRING=none: the secret is used for this run only (and a
    // warning says nothing was stored); every code is computed
    let r = run(&["create", &url, "--remember-totp"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // create used this window's code: start the mount in a fresh window (separate commands
    // inside one window are refused by such a server, as with typed codes)
    sleep_to_next_totp_window();
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let _guard = MountGuard::lazy(mnt.clone());
    let started = std::time::Instant::now();
    let r = run(&["mount", &url, mnt.to_str().unwrap(), "--remember-totp"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    eprintln!(
        "[cli_remember_sftp] mount with reuse denied: {:.1?}",
        started.elapsed()
    );
    assert!(mnt.join(".").is_dir());
    std::fs::write(mnt.join("f.txt"), b"through the daemon").unwrap();
    Command::new(bin())
        .arg("unmount")
        .arg(&mnt)
        .status()
        .unwrap();
    // (the daemon used the next window's code: wait for the one after)
    sleep_to_next_totp_window();
    let out = run(&["cat", &url, "/f.txt", "--remember-totp"]);
    assert_eq!(out.stdout, b"through the daemon", "{}", out.stderr);
}
