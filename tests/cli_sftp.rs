//! STORAGE as `sftp://` through the binary, against a private OpenSSH sshd started from
//! `vault-sftp/tests/servers/sshd-2fa.sh` (password mode): host key refused without a terminal
//! (exit 7), `--accept-new-host-key` records it, the server password through askpass with the
//! documented prompt `Password for USER@HOST: `, a refused server password (exit 3), ls/cat/put/get,
//! and a detached mount whose daemon gets both secrets from the parent.

#![allow(clippy::unwrap_used)]

mod cli_support;


use cli_support::*;

#[test]
fn sftp_storage_through_the_cli() {
    let pid = std::process::id();
    let (sshd, url) = sshd_with_fixture_vault(
        &format!("c{}", pid % 100_000),
        30_000 + (pid % 3_000) * 4,
        &format!("/tmp/vault-cli-sshd-{pid}"),
    );
    let user = sshd.var("VAULT_TEST_SSH_USER");
    let port = sshd.var("VAULT_TEST_SSH_PORT_PASSWORD");
    let tmp = tempfile::tempdir().unwrap();
    let vault_pw = std::fs::read_to_string(fixtures().join("vault-v8/password.txt")).unwrap();
    let ask = tmp.path().join("ask.sh");
    write_script(
        &ask,
        &format!(
            "#!/bin/sh\ncase \"$1\" in\n 'Vault password for {url}: ') printf '%s\\n' '{vault_pw}';;\n 'Password for {user}@127.0.0.1'*) echo '{}';;\n *) exit 1;;\nesac\n",
            sshd.var("VAULT_TEST_SSH_PASSWORD")
        ),
    );
    let kh = tmp.path().join("known_hosts");
    let (a, k) = (ask.to_str().unwrap(), kh.to_str().unwrap());

    // unknown host key, no terminal: refused, exit 7, nothing recorded
    let line = vault(&["ls", &url, "--askpass", a, "--known-hosts", k]).fails(7);
    assert!(line.contains("is not known and was not accepted"), "{line}");
    assert!(!kh.exists() || std::fs::read_to_string(&kh).unwrap().is_empty());
    // accepted and recorded; later runs use it silently
    let out = vault(&[
        "ls",
        &url,
        "--askpass",
        a,
        "--known-hosts",
        k,
        "--accept-new-host-key",
    ])
    .ok();
    assert!(out.lines().any(|l| l == "hello.txt"), "{out}");
    assert!(
        std::fs::read_to_string(&kh)
            .unwrap()
            .contains(&format!("[127.0.0.1]:{port}"))
    );
    let out = vault(&[
        "cat",
        &url,
        "/hello.txt",
        "--askpass",
        a,
        "--known-hosts",
        k,
    ]);
    assert_eq!(out.stdout.len(), 12, "{}", out.stderr);

    // a refused server password: exit 3
    let bad = tmp.path().join("bad.sh");
    write_script(&bad, "#!/bin/sh\necho wrong\n");
    let line = vault(&[
        "ls",
        &url,
        "--askpass",
        bad.to_str().unwrap(),
        "--known-hosts",
        k,
    ])
    .fails(3);
    assert!(
        line.contains("refused the password") || line.contains("permission denied"),
        "{line}"
    );

    // put and get back
    let src = tmp.path().join("up.bin");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 199) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    vault(&[
        "put",
        &url,
        src.to_str().unwrap(),
        "/up.bin",
        "--askpass",
        a,
        "--known-hosts",
        k,
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
        "--known-hosts",
        k,
    ])
    .ok();
    assert_eq!(std::fs::read(&back).unwrap(), data);

    // a detached mount: both secrets asked in the foreground and handed to the daemon
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let m = mnt.to_str().unwrap();
    vault(&["mount", &url, m, "--askpass", a, "--known-hosts", k]).ok();
    assert_eq!(std::fs::read(mnt.join("up.bin")).unwrap(), data);
    vault(&["unmount", m]).ok();
}
