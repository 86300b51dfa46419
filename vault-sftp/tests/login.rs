//! Login against real sshd instances (started by the harness from
//! tests/servers/, TOTP reuse allowed): 2FA with ed25519 OpenSSH and RSA PEM
//! keys, wrong TOTP, wrong passphrase, host keys, password, key-only, legacy.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use common::{Kbd, ScriptedPrompter, shared_servers};
use vault_sftp::{SftpError, SftpStorage};
use vault_storage::{Storage, StoragePath};

const TAG: &str = "sl";

fn passphrase(s: &common::Servers) -> String {
    s.get("VAULT_TEST_SSH_KEY_PASSPHRASE")
}

/// A prompter with the right key passphrase and a wrong answer to any other question (none
/// should come).
fn key_prompter(s: &common::Servers) -> Arc<ScriptedPrompter> {
    ScriptedPrompter::new(Some(&passphrase(s)), Kbd::Fixed("x".into()))
}

/// Connects to `server` with `key_env`'s key and [`key_prompter`]; the login must fail
/// (`why`): returns its error.
async fn login_fails(
    s: &common::Servers,
    server: &str,
    key_env: &str,
    subdir: &str,
    why: &str,
) -> SftpError {
    let cfg = s.config(server, key_env, subdir);
    SftpStorage::connect(cfg, key_prompter(s))
        .await
        .expect_err(why)
}

/// `ssh-keygen -H -f KH`: every host name in `kh` hashed.
fn hash_known_hosts(kh: &std::path::Path) {
    let st = std::process::Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(kh)
        .output()
        .unwrap();
    assert!(st.status.success());
}

async fn login_2fa(key_env: &str, subdir: &str) {
    let s = shared_servers(TAG);
    let cfg = s.config("2fa", key_env, subdir);
    let key_file = cfg.identity_files[0].clone();
    let server_mark = format!("[sftp {}@{}] ", cfg.user, cfg.host);
    let p = ScriptedPrompter::new(Some(&passphrase(&s)), Kbd::Totp(s.totp_secret()));
    let t = Instant::now();
    let st = SftpStorage::connect(cfg, p.clone())
        .await
        .expect("2fa login");
    eprintln!("2FA login with {key_env}: {:?}", t.elapsed());
    assert_eq!(
        p.prompts(),
        vec![
            format!("Passphrase for key {}: ", key_file.display()),
            format!("{server_mark}Verification code: ")
        ],
        "passphrase once, then the server's TOTP prompt marked as the server's"
    );
    st.list_dir(&StoragePath::root())
        .await
        .expect("list after login");
    st.write(
        &StoragePath::new("hello.txt").unwrap(),
        vault_storage::Body::from_bytes(&b"hi"[..]),
        vault_storage::WriteMode::Overwrite,
    )
    .await
    .expect("write");
    assert_eq!(
        &st.read_all(&StoragePath::new("hello.txt").unwrap())
            .await
            .unwrap()[..],
        b"hi"
    );
    assert_eq!(
        std::fs::read(s.sftp_root().join(subdir).join("hello.txt")).unwrap(),
        b"hi"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ed25519_openssh_key_with_passphrase_and_totp_logs_in() {
    login_2fa("VAULT_TEST_SSH_KEY", "login-ed25519").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_pem_key_with_passphrase_and_totp_logs_in() {
    login_2fa("VAULT_TEST_SSH_KEY_RSA_PEM", "login-rsa-pem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_openssh_key_logs_in_on_key_only_server_and_ecdsa_pem_is_explained() {
    let s = shared_servers(TAG);
    let cfg = s.config("key", "VAULT_TEST_SSH_KEY_RSA_OPENSSH", "login-keyonly");
    let p = ScriptedPrompter::new(Some(&passphrase(&s)), Kbd::Fixed("unused".into()));
    SftpStorage::connect(cfg, p.clone())
        .await
        .expect("RSA OpenSSH-format key");
    assert_eq!(p.prompts().len(), 1, "only the passphrase is asked");
    // Encrypted legacy PEM ECDSA keys: russh cannot decrypt them; the error says how to convert.
    let cfg = s.config("key", "VAULT_TEST_SSH_KEY_ECDSA_PEM", "login-keyonly");
    let p = ScriptedPrompter::new(Some(&passphrase(&s)), Kbd::Fixed("unused".into()));
    let err = SftpStorage::connect(cfg, p.clone())
        .await
        .expect_err("unsupported key format");
    assert!(
        matches!(err, SftpError::BadKeyFile { .. }) && err.to_string().contains("ssh-keygen -p"),
        "got {err:?}"
    );
    assert!(
        p.prompts().is_empty(),
        "no passphrase asked for a key that cannot be used"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_totp_fails_with_its_own_error() {
    let s = shared_servers(TAG);
    let cfg = s.config("2fa", "VAULT_TEST_SSH_KEY", "login-wrong-totp");
    let p = ScriptedPrompter::new(Some(&passphrase(&s)), Kbd::Fixed("000000".into()));
    let err = SftpStorage::connect(cfg, p)
        .await
        .expect_err("wrong code must fail");
    assert!(
        matches!(err, SftpError::KeyboardInteractiveRejected { .. }),
        "got {err:?}"
    );
    assert_eq!(err.exit_code(), 3);
    assert!(err.to_string().contains("Verification code"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passphrase_fails_with_its_own_error() {
    let s = shared_servers(TAG);
    for key in ["VAULT_TEST_SSH_KEY", "VAULT_TEST_SSH_KEY_RSA_PEM"] {
        let cfg = s.config("2fa", key, "login-wrong-pass");
        let p = ScriptedPrompter::new(Some("not the passphrase"), Kbd::Totp(s.totp_secret()));
        let err = SftpStorage::connect(cfg, p.clone())
            .await
            .expect_err("wrong passphrase must fail");
        assert!(
            matches!(err, SftpError::WrongPassphrase { .. }),
            "{key}: got {err:?}"
        );
        assert_eq!(err.exit_code(), 3);
        assert_eq!(
            p.prompts().len(),
            1,
            "no TOTP asked after a wrong passphrase"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_key_is_permission_denied() {
    let s = shared_servers(TAG);
    let err = login_fails(
        &s,
        "key",
        "VAULT_TEST_SSH_KEY_UNAUTHORIZED",
        "login-unauth",
        "must be refused",
    )
    .await;
    assert!(
        matches!(err, SftpError::PermissionDenied { .. }),
        "got {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_server_asks_password_prompt() {
    let s = shared_servers(TAG);
    let mut cfg = s.config("password", "VAULT_TEST_SSH_KEY", "login-pw");
    cfg.identity_files.clear();
    let user_host = format!("{}@{}", cfg.user, cfg.host);
    let mut p = ScriptedPrompter::new(None, Kbd::Fixed("x".into()));
    Arc::get_mut(&mut p).unwrap().password = Some(s.get("VAULT_TEST_SSH_PASSWORD"));
    SftpStorage::connect(cfg.clone(), p.clone())
        .await
        .expect("password login");
    assert_eq!(p.prompts(), vec![format!("Password for {user_host}: ")]);
    let mut p = ScriptedPrompter::new(None, Kbd::Fixed("x".into()));
    Arc::get_mut(&mut p).unwrap().password = Some("wrong".into());
    let err = SftpStorage::connect(cfg, p)
        .await
        .expect_err("wrong password");
    assert!(
        matches!(err, SftpError::PasswordRejected { .. }),
        "got {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_host_key_is_asked_and_recorded_changed_is_refused() {
    let s = shared_servers(TAG);
    let dir = tempfile::tempdir().unwrap();
    let kh: PathBuf = dir.path().join("known_hosts");
    let mut cfg = s.config("key", "VAULT_TEST_SSH_KEY", "login-hostkey");
    cfg.known_hosts = kh.clone();

    // Unknown, refused by the user.
    let p = key_prompter(&s);
    let err = SftpStorage::connect(cfg.clone(), p.clone())
        .await
        .expect_err("not confirmed");
    assert!(
        matches!(err, SftpError::HostKeyNotAccepted { .. }),
        "got {err:?}"
    );
    assert_eq!(err.exit_code(), 7);
    let q = p.prompts();
    assert_eq!(q.len(), 1);
    assert!(
        q[0].contains("can't be established") && q[0].contains("key fingerprint is SHA256:"),
        "{}",
        q[0]
    );
    assert!(!kh.exists() || std::fs::read_to_string(&kh).unwrap().is_empty());

    // Unknown, confirmed: recorded, then known silently.
    let mut p = key_prompter(&s);
    Arc::get_mut(&mut p).unwrap().confirm_answer = true;
    SftpStorage::connect(cfg.clone(), p.clone())
        .await
        .expect("confirmed");
    let recorded = std::fs::read_to_string(&kh).unwrap();
    assert!(
        recorded.starts_with(&format!("[{}]:{} ", cfg.host, cfg.port)),
        "{recorded}"
    );
    let p = key_prompter(&s);
    SftpStorage::connect(cfg.clone(), p.clone())
        .await
        .expect("known now");
    assert!(
        p.prompts().iter().all(|q| !q.contains("authenticity")),
        "known key asked again"
    );

    // accept_new_host_key: no question.
    let kh2 = dir.path().join("kh2");
    let mut c2 = cfg.clone();
    c2.known_hosts = kh2.clone();
    c2.accept_new_host_key = true;
    let p = key_prompter(&s);
    SftpStorage::connect(c2, p.clone())
        .await
        .expect("accept-new");
    assert!(p.prompts().iter().all(|q| !q.contains("authenticity")));
    assert!(std::fs::read_to_string(&kh2).unwrap().contains("ssh-"));

    // Changed: same name, another key of the same type; hashed entry.
    let other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINvxXSjGj55Dc5RDyGQqU67NcSWUJvx+PBgvkakd7Rus";
    let name = format!("[{}]:{}", cfg.host, cfg.port);
    std::fs::write(&kh, format!("{name} {other}\n")).unwrap();
    hash_known_hosts(&kh);
    assert!(
        std::fs::read_to_string(&kh).unwrap().starts_with("|1|"),
        "hashed"
    );
    let mut c3 = cfg.clone();
    c3.accept_new_host_key = true; // never overrides a changed key
    let p = key_prompter(&s);
    let err = SftpStorage::connect(c3, p.clone())
        .await
        .expect_err("changed key refused");
    assert!(
        matches!(err, SftpError::HostKeyChanged { .. }),
        "got {err:?}"
    );
    assert_eq!(err.exit_code(), 7);
    assert!(err.to_string().contains("HOST KEY CHANGED"));
    assert!(p.prompts().is_empty(), "nothing asked for a changed key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashed_known_hosts_entry_is_known() {
    let s = shared_servers(TAG);
    let dir = tempfile::tempdir().unwrap();
    let kh = dir.path().join("known_hosts");
    std::fs::copy(s.get("VAULT_TEST_SSH_KNOWN_HOSTS"), &kh).unwrap();
    hash_known_hosts(&kh);
    assert!(
        std::fs::read_to_string(&kh)
            .unwrap()
            .lines()
            .all(|l| l.starts_with("|1|"))
    );
    let mut cfg = s.config("key", "VAULT_TEST_SSH_KEY", "login-hashed");
    cfg.known_hosts = kh;
    let p = key_prompter(&s);
    SftpStorage::connect(cfg, p.clone())
        .await
        .expect("hashed entry matches");
    assert_eq!(p.prompts().len(), 1, "only the passphrase");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_common_algorithm_is_its_own_error() {
    let s = shared_servers(TAG);
    let err = login_fails(
        &s,
        "legacy",
        "VAULT_TEST_SSH_KEY",
        "login-legacy",
        "no common kex",
    )
    .await;
    assert!(
        matches!(err, SftpError::NoCommonAlgorithm { .. }),
        "got {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_remote_path_and_unreachable_port() {
    let s = shared_servers(TAG);
    let mut cfg = s.config("key", "VAULT_TEST_SSH_KEY", "login-missing");
    cfg.root = vault_sftp::RemoteRoot::Home("does/not/exist".into());
    let p = key_prompter(&s);
    let err = SftpStorage::connect(cfg.clone(), p)
        .await
        .expect_err("missing path");
    assert!(matches!(err, SftpError::PathNotFound { .. }), "got {err:?}");
    cfg.port = 1; // nothing listens there
    let p = key_prompter(&s);
    let err = SftpStorage::connect(cfg, p).await.expect_err("unreachable");
    assert!(matches!(err, SftpError::Unreachable { .. }), "got {err:?}");
    assert_eq!(err.exit_code(), 5);
}
