//! The OpenSSH sshd of `vault-sftp/tests/servers/sshd-2fa.sh` as a test's own instance (from
//! `test-support`), the TOTP clock helpers, a password-login sshd serving a fixture vault, and a
//! key-only sshd with a `vault` client's login for it (known_hosts, URL, askpass).

use std::process::{Command, Stdio};

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

/// Makes an empty folder `name` in the test user's home on `sshd`, owned by that user (where
/// a test then creates its vault).
pub fn empty_remote_dir(sshd: &Sshd, name: &str) {
    let user = sshd.var("VAULT_TEST_SSH_USER");
    let remote = std::path::PathBuf::from(sshd.var("VAULT_TEST_SFTP_ROOT")).join(name);
    assert!(
        std::process::Command::new("install")
            .args(["-d", "-o", &user, "-g", &user])
            .arg(&remote)
            .status()
            .unwrap()
            .success()
    );
}

/// A `vault` client of the key-only listener: its temporary folder (holding the known_hosts
/// copy), the `sftp://` URL of the empty folder `Vault` on the server, and the login options
/// `--identity KEY --known-hosts FILE`.
pub struct KeyOnlyClient {
    pub tmp: tempfile::TempDir,
    pub url: String,
    pub login: Vec<String>,
}

/// Starts the key-only sshd (mode `key`; instance, ports, state folder and extra script
/// environment as [`Sshd::start`] takes them, e.g. `VAULT_TEST_NETNS`), makes the empty folder
/// `Vault` on it, and returns the server and a [`KeyOnlyClient`] of it.
pub fn key_only_sshd(
    instance: &str,
    port_base: u32,
    state_dir: &str,
    env: &[(&str, &str)],
) -> (Sshd, KeyOnlyClient) {
    let sshd = Sshd::start(instance, port_base, state_dir, "key", env);
    let tmp = tempfile::tempdir().unwrap();
    let kh = sshd.known_hosts_in(tmp.path());
    // The key-only listener (`sshd.url` names the 2FA one, which this mode does not start).
    let url = format!(
        "sftp://{}@{}:{}/~/Vault",
        sshd.var("VAULT_TEST_SSH_USER"),
        sshd.var("VAULT_TEST_SSH_HOST"),
        sshd.var("VAULT_TEST_SSH_PORT_KEYONLY")
    );
    empty_remote_dir(&sshd, "Vault");
    let login = vec![
        "--identity".into(),
        sshd.var("VAULT_TEST_SSH_KEY"),
        "--known-hosts".into(),
        kh.to_str().unwrap().into(),
    ];
    (sshd, KeyOnlyClient { tmp, url, login })
}

/// Writes an askpass program at `path` answering the key passphrase of `sshd`, then each
/// `(prompt pattern, password)` of `passwords` (e.g. `'Vault password for '*`).
pub fn key_askpass(sshd: &Sshd, path: &std::path::Path, passwords: &[(&str, &str)]) {
    let mut arms = vec![(
        "'Passphrase for key '*",
        format!(
            "printf '%s\\n' '{}'",
            sshd.var("VAULT_TEST_SSH_KEY_PASSPHRASE")
        ),
    )];
    arms.extend(
        passwords
            .iter()
            .map(|(pattern, pw)| (*pattern, format!("printf '%s\\n' '{pw}'"))),
    );
    super::write_askpass(path, false, &arms);
}

/// `vault ARGS` on a pseudo-terminal (python3's `pty`), typing the key passphrase of `sshd`,
/// TOTP codes and the vault password `vault_pw` as their prompts appear: a mount started by a
/// person, with no askpass anywhere. The n-th code asked for is the one of now + `offsets[n]`
/// seconds (`offsets` space-separated; the last one repeats). Within `timeout 240`, stdin not a
/// terminal, no VAULT_ASKPASS or ssh-agent from the caller; more environment may follow.
pub fn pty_command(args: &[&str], sshd: &Sshd, offsets: &str, vault_pw: &str) -> Command {
    const EXPECT: &str = r#"
import os, pty, select, subprocess, sys, time
offsets, asked = os.environ["OFFSETS"].split(), [0]
def code():
    off = offsets[min(asked[0], len(offsets) - 1)]
    asked[0] += 1
    return subprocess.run(
        ["oathtool", "--totp", "-b", os.environ["SECRET"], "-N", off + " seconds"],
        capture_output=True, text=True, check=True).stdout.strip()
answers = [
    ("Passphrase for key ", lambda: os.environ["PP"]),
    ("Verification code: ", code),
    ("Vault password for ", lambda: os.environ["VPW"]),
]
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
seen, out, deadline = b"", b"", time.time() + 180
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.5)
    if not r:
        if os.waitpid(pid, os.WNOHANG)[0]:
            break
        continue
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    seen += data
    for prompt, answer in answers:
        i = seen.find(prompt.encode())
        if i >= 0:
            seen = seen[i + len(prompt):]
            time.sleep(0.2)
            os.write(fd, (answer() + "\n").encode())
sys.stdout.write(out.decode(errors="replace"))
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let mut cmd = Command::new("timeout");
    cmd.arg("240")
        .arg("python3")
        .arg("-c")
        .arg(EXPECT)
        .arg(super::bin())
        .args(args)
        .env_remove("VAULT_ASKPASS")
        .env_remove("SSH_AUTH_SOCK")
        .env("PP", sshd.var("VAULT_TEST_SSH_KEY_PASSPHRASE"))
        .env("SECRET", sshd.var("VAULT_TEST_SSH_TOTP_SECRET"))
        .env("OFFSETS", offsets)
        .env("VPW", vault_pw)
        .stdin(Stdio::null());
    cmd
}
