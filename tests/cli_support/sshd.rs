//! The OpenSSH sshd of `vault-sftp/tests/servers/sshd-2fa.sh` as a test's own instance (from
//! `test-support`), the TOTP clock helpers, and a password-login sshd serving a fixture vault.

#[allow(unused_imports)]
pub use test_support::ports::port_base;
#[allow(unused_imports)]
pub use test_support::scripts::ServerScript;
pub use test_support::sshd::Sshd;
#[allow(unused_imports)]
pub use test_support::totp::{now_secs, sleep_to_next_totp_window};

/// A password-login sshd (instance `instance`, ports from `port_base`) whose test user owns a copy
/// of the `vault-v8` fixture at `~/V`; returns the server and `sftp://USER@127.0.0.1:PORT/~/V`.
pub fn sshd_with_fixture_vault(instance: &str, port_base: u32, state_dir: &str) -> (Sshd, String) {
    let sshd = Sshd::start(instance, port_base, state_dir, "password", &[]);
    let user = sshd.var("VAULT_TEST_SSH_USER");
    let port = sshd.var("VAULT_TEST_SSH_PORT_PASSWORD");
    let root = std::path::PathBuf::from(sshd.var("VAULT_TEST_SFTP_ROOT"));
    super::copy_tree(&super::fixtures().join("vault-v8/vault"), &root.join("V"));
    assert!(
        std::process::Command::new("chown")
            .args(["-R", &user])
            .arg(root.join("V"))
            .status()
            .unwrap()
            .success()
    );
    (sshd, format!("sftp://{user}@127.0.0.1:{port}/~/V"))
}
