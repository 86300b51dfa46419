//! An S3 server for tests: moto in server mode on a free loopback port.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::KillOnDrop;

/// A port nothing listens on now (bound and released at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The venv of scripts/install-deps.sh (moto, boto3).
pub fn moto_venv() -> String {
    std::env::var("VAULT_TEST_S3VENV").unwrap_or_else(|_| "/opt/vault-test-s3venv".into())
}

/// moto 5.2.5 in server mode on loopback (the venv of scripts/install-deps.sh), stopped on drop.
pub fn start_moto() -> (KillOnDrop, u16) {
    let venv = moto_venv();
    let port = free_port();
    let child = Command::new(format!("{venv}/bin/moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server (scripts/install-deps.sh)");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "moto did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (KillOnDrop(child), port)
}
