//! Issue 5 "Resilience" through the `vault` binary: a reconnect that needs a new TOTP code.
//!
//! Against the 2FA OpenSSH sshd of `vault-sftp/tests/servers/sshd-2fa.sh` (key with passphrase +
//! PAM TOTP, TOTP reuse allowed, `WINDOW_SIZE 3`: a code is accepted in its own 30 s window and
//! the two next to it).
//!
//! - `detached_mount_waits_for_vault_auth`: a detached mount started from a terminal (a pty, so
//!   no askpass reaches the daemon) whose TOTP answer is the code of the previous 30 s window;
//!   once the window moved on, that recorded code is stale, so after the server drops the
//!   session (`kill-sessions`) the daemon cannot log in by itself: a listing fails with EIO in
//!   bounded time, `vault status` shows the mount waiting, the daemon logged one line naming
//!   `vault auth MOUNTPOINT`, `vault auth` with a wrong code exits 3 and the mount still waits,
//!   `vault auth` with a fresh code (VAULT_ASKPASS) exits 0 and the mount is back: a file
//!   written before the drop reads back intact, a new one can be written; then `vault auth`
//!   exits 1 (nothing waits), and no answer is in the daemon's log. A second detached mount of
//!   the same vault, started with `--askpass`, comes back by itself through that program.
//! - `foreground_mount_asks_askpass_on_reconnect`: `vault mount --foreground --askpass`: after
//!   the drop the next access succeeds, the program was asked for a second code and the key
//!   passphrase only once (it is held in memory).
//! - `foreground_mount_asks_the_terminal_on_reconnect`: the same on a terminal (no askpass).
//! - `detached_mount_on_a_reuse_refusing_server_asks_the_terminal_again`: the one test with
//!   TOTP reuse refused: the daemon's replay of the code is refused and `vault mount` asks its
//!   terminal for the next code.
//!
//! Ports: `VAULT_TEST_AUTH_PORT_BASE` (default 43000 + 32 × (pid mod 125)) + 8 × test number.
//!
//! Needs root, FUSE, oathtool, openssh-server, libpam-google-authenticator, python3 (pty).

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::*;

const VAULT_PW: &str = "auth test vault pw";

/// The 2FA sshd of instance `au<pid><n>`; `reuse`: allow or deny a TOTP code twice in its
/// window.
fn sshd(n: u32, reuse: &str) -> Sshd {
    let pid = std::process::id();
    let base = port_base("VAULT_TEST_AUTH_PORT_BASE", 43_000 + (pid % 125) * 32) + 8 * n;
    Sshd::start(
        &format!("au{}{n}", pid % 10_000),
        base,
        &format!("/tmp/vault-auth-sshd-{pid}-{n}"),
        "2fa",
        &[("VAULT_TEST_TOTP_REUSE", reuse)],
    )
}

/// An askpass program answering by prompt text; `totp` is a shell snippet printing the code.
/// Every prompt it gets is appended to `<path>.log`.
fn askpass(dir: &Path, name: &str, sshd: &Sshd, totp: &str) -> PathBuf {
    sshd.askpass(dir, name, VAULT_PW, None, Some(totp))
}

/// `vault ARGS` with a time limit, stdin not a terminal, extra environment `env`.
fn vault_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    run_cmd(vault_cmd(300, args).envs(env.iter().copied()))
}

/// Runs `vault ARGS` on a pseudo-terminal, typing the answers to its prompts (the key
/// passphrase, TOTP codes, the vault password): a mount started by a person, with no askpass
/// anywhere. The n-th code asked for is the one of now + `offsets[n]` seconds (the last offset
/// repeats). Returns the exit code and everything the terminal showed.
fn vault_on_pty(args: &[&str], sshd: &Sshd, offsets: &str) -> (i32, String) {
    let out = pty_command(args, sshd, offsets, VAULT_PW).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// A vault at `/~/V` on the server; returns (url, known_hosts, key, good askpass).
fn setup(sshd: &Sshd, dir: &Path) -> (String, PathBuf, String, PathBuf) {
    empty_remote_dir(sshd, "V");
    let kh = sshd.known_hosts_in(dir);
    let key = sshd.var("VAULT_TEST_SSH_KEY");
    let secret = sshd.var("VAULT_TEST_SSH_TOTP_SECRET");
    let good = askpass(
        dir,
        "good.sh",
        sshd,
        &format!("oathtool --totp -b '{secret}'"),
    );
    let url = sshd.url("/~/V");
    vault_env(
        &[
            "create",
            &url,
            "--identity",
            &key,
            "--known-hosts",
            kh.to_str().unwrap(),
            "--askpass",
            good.to_str().unwrap(),
        ],
        &[],
    )
    .ok();
    (url, kh, key, good)
}

fn status_line(mnt: &Path) -> String {
    let out = vault_env(&["status"], &[]).ok();
    out.lines()
        .find(|l| l.starts_with(&format!("{}\t", mnt.display())))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn detached_mount_waits_for_vault_auth() {
    let sshd = sshd(0, "allow");
    let tmp = tempfile::tempdir().unwrap();
    let (url, kh, key, good) = setup(&sshd, tmp.path());
    let secret = sshd.var("VAULT_TEST_SSH_TOTP_SECRET");
    let (k, g) = (kh.to_str().unwrap(), good.to_str().unwrap());

    // Early in a 30 s window, so the daemon's own login (replaying the recorded code of the
    // previous window) is still inside the server's window.
    if now_secs() % 30 > 8 {
        std::thread::sleep(Duration::from_secs(31 - now_secs() % 30));
    }
    let mount_window = now_secs() / 30;
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let log = tmp.path().join("daemon.log");
    let m = mnt.to_str().unwrap();
    let guard = MountGuard::new(mnt.clone());
    // A desktop session bus with a stand-in notification server (issue 16).
    let bus = cli_support::dbus::PrivateBus::start(tmp.path());
    let notifications = cli_support::dbus::NotificationServer::serve(&bus.address);
    let out = pty_command(
        &[
            "mount",
            &url,
            m,
            "--identity",
            &key,
            "--known-hosts",
            k,
            "-o",
            "io_timeout=4,auth_wait=120s",
            "--log-file",
            log.to_str().unwrap(),
        ],
        &sshd,
        "-30",
        VAULT_PW,
    )
    .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "mount on a terminal: {out:?}");
    guard.wait_mounted(Duration::from_secs(60));

    // A second mount of the same vault, started with --askpass: it must come back by itself.
    let mnt2 = tmp.path().join("mnt2");
    std::fs::create_dir(&mnt2).unwrap();
    let guard2 = MountGuard::new(mnt2.clone());
    let stale = askpass(
        tmp.path(),
        "stale.sh",
        &sshd,
        &format!("oathtool --totp -b '{secret}' -N '30 seconds ago'"),
    );
    vault_env(
        &[
            "mount",
            &url,
            mnt2.to_str().unwrap(),
            "--identity",
            &key,
            "--known-hosts",
            k,
            "--askpass",
            stale.to_str().unwrap(),
            "-o",
            "io_timeout=20",
        ],
        &[],
    )
    .ok();
    guard2.wait_mounted(Duration::from_secs(60));
    let stale_codes = |p: &Path| {
        prompts_seen(p)
            .iter()
            .filter(|l| l.starts_with("[sftp ") && l.ends_with("] Verification code: "))
            .count()
    };
    assert_eq!(stale_codes(&stale), 1);

    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    {
        use std::io::Write;
        let mut f = std::fs::File::create(mnt.join("before.bin")).unwrap();
        f.write_all(&data).unwrap();
        f.sync_all().unwrap();
    }
    assert_eq!(std::fs::read(mnt.join("before.bin")).unwrap(), data);
    assert!(
        !status_line(&mnt).contains("waiting"),
        "{}",
        status_line(&mnt)
    );

    // Let the recorded code go stale: the server's window no longer holds it.
    while now_secs() / 30 < mount_window + 1 {
        std::thread::sleep(Duration::from_millis(500));
    }
    // Let the engine's 2 s caches expire, then drop every session.
    std::thread::sleep(Duration::from_secs(3));
    sshd.kill_sessions();

    // The folder's last listing is still served (the metadata cache keeps it across our own
    // writes, to revalidate), but storing a new file needs the server: it fails with EIO
    // after the mount's bounded wait.
    let listed = std::fs::read_dir(&mnt)
        .and_then(|d| d.collect::<Result<Vec<_>, _>>())
        .expect("the last listing while the reconnect waits for a code");
    assert_eq!(listed.len(), 1, "{listed:?}");
    let t = Instant::now();
    let err = {
        use std::io::Write;
        std::fs::File::create(mnt.join("during.bin"))
            .and_then(|mut f| f.write_all(b"needs the server").and_then(|_| f.sync_all()))
            .expect_err("a new file stored while the reconnect waits for a code")
    };
    assert_eq!(err.raw_os_error(), Some(5), "EIO expected, got {err}");
    assert!(
        t.elapsed() < Duration::from_secs(15),
        "failed only after {:?}",
        t.elapsed()
    );

    // `vault status` shows the mount waiting for authentication.
    let t = Instant::now();
    let mut line = status_line(&mnt);
    while !line.contains("waiting for authentication") && t.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(300));
        line = status_line(&mnt);
    }
    assert!(
        line.contains(&format!("waiting for authentication: run `vault auth {m}`")),
        "status: {line:?}"
    );
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logged.contains(&format!(
            "reconnect to 127.0.0.1 needs a verification code: run `vault auth {m}`"
        )),
        "daemon log: {logged}"
    );
    // The desktop was told too, with the way out.
    wait_until("the notification", Duration::from_secs(10), || {
        !notifications.calls().is_empty()
    });
    assert_eq!(
        notifications.calls(),
        [(
            "vault".to_string(),
            "Vault V needs a verification code".to_string(),
            format!("The connection to 127.0.0.1 dropped. To reconnect, run: vault auth {m}")
        )]
    );

    // A wrong code: refused (exit 3), and the mount still waits.
    let wrong = tmp.path().join("wrong.sh");
    write_script(&wrong, "#!/bin/sh\necho 000000\n");
    let line = vault_env(&["auth", m, "--askpass", wrong.to_str().unwrap()], &[]).fails(3);
    assert!(line.contains("refused"), "{line}");
    let t = Instant::now();
    while !status_line(&mnt).contains("waiting for authentication") {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the mount no longer waits after a refused code: {:?}",
            status_line(&mnt)
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // A fresh code through VAULT_ASKPASS: the connection is back.
    let fresh = tmp.path().join("fresh.sh");
    write_script(
        &fresh,
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\ncase \"$1\" in '[sftp '*'] Verification code: ') ;; *) exit 1;; esac\noathtool --totp -b '{secret}' | tee '{}'\n",
            tmp.path().join("fresh.log").display(),
            tmp.path().join("fresh.code").display(),
        ),
    );
    let out = vault_env(&["auth", m], &[("VAULT_ASKPASS", fresh.to_str().unwrap())]);
    assert_eq!(out.code, 0, "vault auth with a fresh code: {}", out.stderr);
    assert!(out.stderr.contains("authenticated"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("fresh.log")).unwrap(),
        format!(
            "[sftp {}@{}] Verification code: \n",
            sshd.var("VAULT_TEST_SSH_USER"),
            sshd.var("VAULT_TEST_SSH_HOST")
        ),
        "the server's prompt, marked as the server's"
    );
    assert_eq!(std::fs::read(mnt.join("before.bin")).unwrap(), data);
    let names: Vec<String> = std::fs::read_dir(&mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"before.bin".to_string()), "{names:?}");
    std::fs::write(mnt.join("after.txt"), b"back").unwrap();
    assert_eq!(std::fs::read(mnt.join("after.txt")).unwrap(), b"back");
    assert!(!status_line(&mnt).contains("waiting"));

    // Nothing waits now: exit 1. No such mount: a clear error.
    let line = vault_env(&["auth", m, "--askpass", g], &[]).fails(1);
    assert!(line.contains("nothing is waiting for an answer"), "{line}");
    let nowhere = tmp.path().join("not-mounted");
    let line = vault_env(&["auth", nowhere.to_str().unwrap(), "--askpass", g], &[]).fails(1);
    assert!(line.contains("no vault is mounted at"), "{line}");

    // The mount started with --askpass came back through that program (a second code asked).
    let listed = std::fs::read_dir(&mnt2).unwrap().count();
    assert!(listed >= 2, "{listed}");
    assert_eq!(
        std::fs::read(mnt2.join("before.bin")).unwrap(),
        data,
        "the askpass mount reads the file back"
    );
    assert!(stale_codes(&stale) >= 2, "{:?}", prompts_seen(&stale));
    assert!(!status_line(&mnt2).contains("waiting"));

    // Answers are never logged.
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    let code = std::fs::read_to_string(tmp.path().join("fresh.code")).unwrap();
    assert!(!logged.contains("000000"), "{logged}");
    assert!(!logged.contains(code.trim()), "{logged}");
    assert!(
        !logged.contains(&sshd.var("VAULT_TEST_SSH_KEY_PASSPHRASE")),
        "{logged}"
    );
    drop(guard2);
    drop(guard);
}

#[test]
fn foreground_mount_asks_askpass_on_reconnect() {
    let sshd = sshd(1, "allow");
    let tmp = tempfile::tempdir().unwrap();
    let (url, kh, key, good) = setup(&sshd, tmp.path());
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let guard = MountGuard::new(mnt.clone());
    let child = Command::new(bin())
        .args(["mount", "--foreground", &url])
        .arg(&mnt)
        .args(["--identity", &key, "--known-hosts"])
        .arg(&kh)
        .arg("--askpass")
        .arg(&good)
        .args(["-o", "io_timeout=30"])
        .env_remove("VAULT_ASKPASS")
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _child = KillOnDrop(child);
    guard.wait_mounted(Duration::from_secs(60));
    std::fs::write(mnt.join("f.txt"), b"foreground").unwrap();
    let codes = |p: &Path| {
        prompts_seen(p)
            .iter()
            .filter(|l| l.starts_with("[sftp ") && l.ends_with("] Verification code: "))
            .count()
    };
    let before = codes(&good);
    std::thread::sleep(Duration::from_secs(3));
    sshd.kill_sessions();
    std::thread::sleep(Duration::from_millis(500));
    // Storing a file needs the server (a listing may be served from the metadata cache): the
    // reconnect asks the askpass program for a new code, and the write succeeds.
    std::fs::write(mnt.join("g.txt"), b"after the reconnect").unwrap();
    let names: Vec<String> = std::fs::read_dir(&mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&"f.txt".to_string()) && names.contains(&"g.txt".to_string()),
        "{names:?}"
    );
    assert_eq!(codes(&good), before + 1, "{:?}", prompts_seen(&good));
    // The passphrase was asked by `create` and once by the mount, never on the reconnect.
    let passphrases = prompts_seen(&good)
        .iter()
        .filter(|l| l.starts_with("Passphrase for key "))
        .count();
    assert_eq!(passphrases, 2, "{:?}", prompts_seen(&good));
    drop(guard);
}

/// The one test here with TOTP reuse refused (google-authenticator DISALLOW_REUSE): `vault mount`
/// and its daemon each log in, so the daemon's replay of the code typed a moment ago is refused;
/// the daemon then asks the terminal of `vault mount` for the next code, and the mount works.
#[test]
fn detached_mount_on_a_reuse_refusing_server_asks_the_terminal_again() {
    let sshd = sshd(2, "deny");
    let tmp = tempfile::tempdir().unwrap();
    let created = now_secs() / 30;
    let (url, kh, key, _good) = setup(&sshd, tmp.path());
    // `create` used this window's code: mount in a later window.
    while now_secs() / 30 <= created {
        std::thread::sleep(Duration::from_millis(500));
    }
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let guard = MountGuard::new(mnt.clone());
    let (code, shown) = vault_on_pty(
        &[
            "mount",
            &url,
            mnt.to_str().unwrap(),
            "--identity",
            &key,
            "--known-hosts",
            kh.to_str().unwrap(),
        ],
        &sshd,
        "+0 +30",
    );
    assert_eq!(code, 0, "mount: {shown}");
    assert_eq!(
        shown.matches("Verification code: ").count(),
        2,
        "a second code was asked on the terminal: {shown}"
    );
    assert!(
        shown.contains("refused the answer to \"[sftp ")
            && shown.contains("] Verification code:\" on the mount's own login"),
        "{shown}"
    );
    guard.wait_mounted(Duration::from_secs(60));
    std::fs::write(mnt.join("x.txt"), b"reuse refused, mount works").unwrap();
    assert_eq!(
        std::fs::read(mnt.join("x.txt")).unwrap(),
        b"reuse refused, mount works"
    );
    drop(guard);
}

/// `vault mount --foreground` on a terminal (no askpass): after the drop, the reconnect asks the
/// terminal for a new code (the passphrase is not asked again) and the access succeeds.
#[test]
fn foreground_mount_asks_the_terminal_on_reconnect() {
    let sshd = sshd(3, "allow");
    let tmp = tempfile::tempdir().unwrap();
    let (url, kh, key, _good) = setup(&sshd, tmp.path());
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let guard = MountGuard::new(mnt.clone());
    let mut cmd = pty_command(
        &[
            "mount",
            "--foreground",
            &url,
            mnt.to_str().unwrap(),
            "--identity",
            &key,
            "--known-hosts",
            kh.to_str().unwrap(),
            "-o",
            "io_timeout=30",
        ],
        &sshd,
        "+0",
        VAULT_PW,
    );
    let child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut child = KillOnDrop(child);
    guard.wait_mounted(Duration::from_secs(60));
    std::fs::write(mnt.join("t.txt"), b"terminal").unwrap();
    std::thread::sleep(Duration::from_secs(3));
    sshd.kill_sessions();
    std::thread::sleep(Duration::from_millis(500));
    let names: Vec<String> = std::fs::read_dir(&mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"t.txt".to_string()), "{names:?}");
    assert_eq!(std::fs::read(mnt.join("t.txt")).unwrap(), b"terminal");
    vault_env(&["unmount", mnt.to_str().unwrap()], &[]).ok();
    let mut shown = String::new();
    use std::io::Read;
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut shown)
        .unwrap();
    assert!(child.0.wait().unwrap().success(), "{shown}");
    assert_eq!(
        shown.matches("Verification code: ").count(),
        2,
        "the reconnect asked the terminal: {shown}"
    );
    assert_eq!(shown.matches("Passphrase for key ").count(), 1, "{shown}");
    drop(guard);
}
