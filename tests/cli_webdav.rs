//! STORAGE as `dav://` through the binary, against `rclone serve webdav` (Debian package
//! rclone) on loopback: the server password through askpass (`Password for USER@HOST: `),
//! ls/cat/put/get, a refused server password (exit 3), an unreachable server (exit 5).
#![allow(clippy::unwrap_used)]

mod cli_support;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use cli_support::*;

#[test]
fn webdav_storage_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    copy_tree(&fixtures().join("vault-v8/vault"), &served.join("V"));
    let port = free_port();
    let _server = KillOnDrop(
        Command::new("rclone")
            .args([
                "serve",
                "webdav",
                served.to_str().unwrap(),
                "--addr",
                &format!("127.0.0.1:{port}"),
            ])
            .args([
                "--user",
                "vault-user",
                "--pass",
                "vault-pass",
                "--config",
                "/dev/null",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rclone (Debian package rclone)"),
    );
    test_support::ports::wait_for_port("rclone", port, Duration::from_secs(20));
    let url = format!("dav://vault-user@127.0.0.1:{port}/V");
    let vault_pw = std::fs::read_to_string(fixtures().join("vault-v8/password.txt")).unwrap();
    let script = |server_pw: &str| {
        format!(
            "#!/bin/sh\ncase \"$1\" in\n 'Vault password for {url}: ') printf '%s\\n' '{vault_pw}';;\n 'Password for vault-user@127.0.0.1'*) echo '{server_pw}';;\n *) exit 1;;\nesac\n"
        )
    };
    let ask = tmp.path().join("ask.sh");
    std::fs::write(&ask, script("vault-pass")).unwrap();
    std::fs::set_permissions(&ask, std::fs::Permissions::from_mode(0o755)).unwrap();
    let a = ask.to_str().unwrap();

    let out = vault(&["ls", "-R", &url, "--askpass", a]).ok();
    assert_eq!(out.lines().count(), 26, "{out}");
    assert_eq!(
        vault(&["cat", &url, "/hello.txt", "--askpass", a])
            .stdout
            .len(),
        12
    );
    let src = tmp.path().join("up.bin");
    let data: Vec<u8> = (0..70_000u32).map(|i| (i % 211) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    vault(&[
        "put",
        &url,
        src.to_str().unwrap(),
        "/up.bin",
        "--askpass",
        a,
    ])
    .ok();
    let back = tmp.path().join("back.bin");
    vault(&[
        "get",
        &url,
        "/up.bin",
        back.to_str().unwrap(),
        "--askpass",
        a,
    ])
    .ok();
    assert_eq!(std::fs::read(&back).unwrap(), data);

    let bad = tmp.path().join("bad.sh");
    std::fs::write(&bad, script("wrong")).unwrap();
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o755)).unwrap();
    vault(&["ls", &url, "--askpass", bad.to_str().unwrap()]).fails(3);

    let closed = format!("dav://vault-user@127.0.0.1:{}/V", free_port());
    vault(&["ls", &closed, "--askpass", a]).fails(5);
}
