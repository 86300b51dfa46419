//! moto (an S3 server in Python) in server mode on a free loopback port, from the venv
//! `scripts/install-deps.sh` fills with `moto[s3]==5.2.5`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::ports::{free_port, wait_for_port};
use crate::process::{KillOnDrop, after_exit};

/// The venv (`VAULT_TEST_S3VENV`, default `/opt/vault-test-s3venv`).
pub fn moto_venv() -> String {
    std::env::var("VAULT_TEST_S3VENV").unwrap_or_else(|_| "/opt/vault-test-s3venv".into())
}

fn spawn() -> (Child, u16) {
    let bin = format!("{}/bin/moto_server", moto_venv());
    assert!(
        std::path::Path::new(&bin).exists(),
        "{bin} missing: run scripts/install-deps.sh"
    );
    let port = free_port();
    let child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server (scripts/install-deps.sh)");
    wait_for_port("moto_server", port, Duration::from_secs(30));
    (child, port)
}

/// A moto server of the caller's, stopped when dropped; and its port.
pub fn start_moto() -> (KillOnDrop, u16) {
    let (child, port) = spawn();
    (KillOnDrop(child), port)
}

/// A moto server that runs until this test process ends (for one kept in a static, which is
/// never dropped); its port.
pub fn start_moto_until_exit() -> u16 {
    let (child, port) = spawn();
    after_exit(&[], &format!("kill {}", child.id()), &[]);
    // Killed by the watchdog, reaped by init once this process is gone.
    drop(child);
    port
}
