//! Issue 16 acceptance 4: reaching a server behind a jump host.
//!
//! Three network namespaces the test creates: the client (`vault` runs there), the bastion
//! (10.201.1.1, joined to the client) and the inner server (10.201.2.2, joined only to the
//! bastion; the bastion does not route, so the inner server is reachable only through an SSH
//! hop on the bastion). Each runs the 2FA sshd of `vault-sftp/tests/servers/sshd-2fa.sh`
//! (key with passphrase + PAM TOTP, reuse allowed) with its own user and TOTP secret; the
//! bastion allows TCP forwarding. The client's private HOME has a `~/.ssh/config`:
//!
//! - `Host inner` with `ProxyJump bastion`: `vault create` and a detached `vault mount`
//!   through it; each hop's code question reaches the askpass program marked with its own
//!   `[sftp USER@HOST]`; the inner server logs the login as coming from the bastion. Then the
//!   client–bastion link is cut (link down in the namespace), both servers drop their
//!   sessions, the link comes back: the mount keeps working and both servers logged a new
//!   login (the reconnect redid both hops).
//! - `Host inner-direct` (no ProxyJump): unreachable without `-J` (exit 5); a mount with
//!   `-J bastion` reads what the first mount wrote; so does `vault ls` of a named vault added
//!   with `-J bastion` (config key `proxy_jump`).
//! - `Host inner-pc` with a `ProxyCommand` (nc and socat are not installed: a bash `/dev/tcp`
//!   relay started in the bastion's namespace): a mount reads the same file.
//! - A known_hosts that holds another key for the bastion: refused with exit 7 and the
//!   "HOST KEY CHANGED for [10.201.1.1]:2222" message, before anything is asked for the
//!   inner server.
//! - A desktop session without terminal or askpass (a stand-in `zenity`) and an empty
//!   known_hosts: each hop's unknown key is confirmed in its own dialog, bastion first, and
//!   recorded; each hop's code question reaches the dialog marked with its own
//!   `[sftp USER@HOST]`; a "no" to the bastion's key exits 7 with nothing else asked.
//!
//! Needs root, FUSE, iproute2, nsenter, oathtool, openssh-server, libpam-google-authenticator.

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cli_support::*;
use test_support::netns::{End, Netns, ip, veth};

const VAULT_PW: &str = "jump test vault pw";
const BASTION_IP: &str = "10.201.1.1";
const INNER_IP: &str = "10.201.2.2";
const PORT: &str = "2222";
const BASTION_TOTP: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const INNER_TOTP: &str = "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U";

/// The three namespaces; deleted when dropped.
struct Net {
    client: String,
    bastion: String,
    inner: String,
    _namespaces: [Netns; 3],
}

impl Net {
    fn up(id: u32) -> Net {
        let (c, b, i) = (
            format!("vt-pjc-{id}"),
            format!("vt-pjb-{id}"),
            format!("vt-pji-{id}"),
        );
        let namespaces = [Netns::new(&c), Netns::new(&b), Netns::new(&i)];
        for [(adev, ans, aaddr), (zdev, zns, zaddr)] in [
            [("pjc", &c, "10.201.1.2/24"), ("pjb", &b, "10.201.1.1/24")],
            [("pjb2", &b, "10.201.2.1/24"), ("pji", &i, "10.201.2.2/24")],
        ] {
            veth(
                &End {
                    ns: ans,
                    dev: adev,
                    addr: aaddr,
                },
                &End {
                    ns: zns,
                    dev: zdev,
                    addr: zaddr,
                },
            );
        }
        Net {
            client: c,
            bastion: b,
            inner: i,
            _namespaces: namespaces,
        }
    }

    /// The client–bastion link down (`false`) or up again.
    fn link(&self, up: bool) {
        let state = if up { "up" } else { "down" };
        ip(&["-n", &self.bastion, "link", "set", "pjb", state]);
    }
}

/// An sshd of the test in namespace `ns`, listening on `bind`.
fn sshd(instance: &str, state: &str, ns: &str, bind: &str, totp: &str, forward: &str) -> Sshd {
    Sshd::start(
        instance,
        2222,
        state,
        "2fa",
        &[
            ("VAULT_TEST_NETNS", ns),
            ("VAULT_TEST_BIND", bind),
            ("VAULT_TEST_TOTP_REUSE", "allow"),
            ("VAULT_TEST_TOTP_SECRET", totp),
            ("VAULT_TEST_SSH_TCP_FORWARDING", forward),
        ],
    )
}

/// `Accepted keyboard-interactive` logins of `user` from `from` in the sshd's log.
fn logins(state: &str, ns: &str, user: &str, from: &str) -> usize {
    let log = format!("{state}/sshd/sshd.2fa-{ns}.log");
    let needle = format!("Accepted keyboard-interactive/pam for {user} from {from} ");
    std::fs::read_to_string(&log)
        .unwrap_or_default()
        .matches(&needle)
        .count()
}

/// Runs `vault` in the client namespace with the private HOME (and XDG folders) of `home`.
fn vault_at(home: &Path, ns: &str, args: &[&str]) -> Run {
    run_cmd(&mut vault_cmd_at(home, ns, args))
}

fn vault_cmd_at(home: &Path, ns: &str, args: &[&str]) -> Command {
    // Absolute: a test may give `vault` a PATH of its own.
    let mut c = Command::new("/usr/bin/nsenter");
    c.arg(format!("--net=/run/netns/{ns}"))
        .args(["--", "/usr/bin/timeout", "120", bin()])
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_STATE_HOME", home.join(".state"))
        .env("XDG_RUNTIME_DIR", home.join(".run"))
        .env("VAULT_KEYRING", "none")
        .env_remove("VAULT_ASKPASS")
        .env_remove("VAULT_LOG")
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("SSH_ASKPASS")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(Stdio::null());
    c
}

/// In a desktop session with no terminal and no askpass (a stand-in `zenity`, the only program
/// on PATH): each hop's unknown host key is confirmed in its own question dialog, outermost
/// first, and recorded; each hop's code question reaches the dialog marked with its own
/// `[sftp USER@HOST]`. A "no" to the bastion's key exits 7 before anything else is asked.
fn host_keys_confirmed_in_dialogs(home: &Path, ns: &str, users: (&str, &str), pp: &str) {
    let bin = home.join("dialog-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let zenity = bin.join("zenity");
    let log = home.join("zenity.argv");
    let script = |question: &str| {
        format!(
            "#!/bin/sh\nPATH=/usr/bin:/bin\nprintf '%s\\n' \"$@\" >> '{log}'\n\
             [ \"$1\" = --question ] && {question}\n\
             case \"$*\" in\n\
             *'Passphrase for key '*) printf '%s\\n' '{pp}' ;;\n\
             *'[sftp {bu}@{BASTION_IP}] Verification code: '*) oathtool --totp -b {BASTION_TOTP} ;;\n\
             *'[sftp {iu}@{INNER_IP}] Verification code: '*) oathtool --totp -b {INNER_TOTP} ;;\n\
             *'Vault password for '*) printf '%s\\n' '{VAULT_PW}' ;;\n\
             *) exit 1 ;;\nesac\n",
            log = log.display(),
            bu = users.0,
            iu = users.1,
        )
    };
    let kh = home.join("dialog_known_hosts");
    let run = || {
        run_cmd(
            vault_cmd_at(
                home,
                ns,
                &[
                    "ls",
                    "sftp://inner/~/V",
                    "--known-hosts",
                    kh.to_str().unwrap(),
                ],
            )
            .env("PATH", &bin)
            .env("DISPLAY", ":99"),
        )
    };
    let questions = || {
        read_lines(&log)
            .into_iter()
            .filter(|l| l.starts_with("--text=The authenticity of host "))
            .collect::<Vec<_>>()
    };
    write_script(&zenity, &script("exit 1"));
    let line = run().fails(7);
    assert!(line.contains("was not accepted"), "{line}");
    assert_eq!(questions().len(), 1);
    assert!(questions()[0].contains(&format!("'[{BASTION_IP}]:{PORT}'")));
    assert!(read_lines(&log).iter().all(|l| !l.contains("Verification")));

    std::fs::remove_file(&log).unwrap();
    write_script(&zenity, &script("exit 0"));
    let listed = run().ok();
    assert!(listed.contains("a.txt"), "{listed}");
    let asked = questions();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(
        asked[0].contains(&format!("'[{BASTION_IP}]:{PORT}'")),
        "{asked:?}"
    );
    assert!(
        asked[1].contains(&format!("'[{INNER_IP}]:{PORT}'")),
        "{asked:?}"
    );
    let texts = read_lines(&log);
    for (u, ip) in [(users.0, BASTION_IP), (users.1, INNER_IP)] {
        let marked = format!("--text=[sftp {u}@{ip}] Verification code: ");
        assert!(texts.contains(&marked), "{texts:?}");
    }
    let recorded = std::fs::read_to_string(&kh).unwrap();
    for ip in [BASTION_IP, INNER_IP] {
        assert!(recorded.contains(&format!("[{ip}]:{PORT} ")), "{recorded}");
    }
}

/// A detached mount of `storage` at `home/name` (extra `args`); returns its guard.
fn mount(home: &Path, ns: &str, storage: &str, name: &str, args: &[&str]) -> MountGuard {
    let mnt = home.join(name);
    std::fs::create_dir_all(&mnt).unwrap();
    let guard = MountGuard::new(mnt.clone());
    let mut all = vec!["mount", storage, mnt.to_str().unwrap(), "--no-sidebar"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "io_timeout=30"]);
    vault_at(home, ns, &all).ok();
    guard.wait_mounted(Duration::from_secs(60));
    guard
}

fn unmount(home: &Path, ns: &str, guard: MountGuard) {
    vault_at(home, ns, &["unmount", guard.path().to_str().unwrap()]).ok();
    drop(guard);
}

#[test]
fn mounts_through_a_jump_host_and_reconnects_through_both_hops() {
    let pid = std::process::id();
    let id = pid % 100_000;
    let net = Net::up(id);
    let (bstate, istate) = (
        format!("/tmp/vault-jump-{pid}-b"),
        format!("/tmp/vault-jump-{pid}-i"),
    );
    let bastion = sshd(
        &format!("pb{id}"),
        &bstate,
        &net.bastion,
        BASTION_IP,
        BASTION_TOTP,
        "yes",
    );
    let inner = sshd(
        &format!("pi{id}"),
        &istate,
        &net.inner,
        INNER_IP,
        INNER_TOTP,
        "no",
    );
    let (buser, iuser) = (
        bastion.var("VAULT_TEST_SSH_USER"),
        inner.var("VAULT_TEST_SSH_USER"),
    );

    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let ssh = home.join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    for d in [".config", ".state", ".run"] {
        std::fs::create_dir_all(home.join(d)).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(home.join(".run"), std::fs::Permissions::from_mode(0o700)).unwrap();
    let kh_text = format!(
        "{}{}",
        std::fs::read_to_string(bastion.var("VAULT_TEST_SSH_KNOWN_HOSTS")).unwrap(),
        std::fs::read_to_string(inner.var("VAULT_TEST_SSH_KNOWN_HOSTS")).unwrap()
    );
    std::fs::write(ssh.join("known_hosts"), &kh_text).unwrap();
    let (bkey, ikey) = (
        bastion.var("VAULT_TEST_SSH_KEY"),
        inner.var("VAULT_TEST_SSH_KEY"),
    );
    // The relay runs in the bastion's namespace: the only place the inner server is reachable.
    // The writer runs in the background (on fd 4: bash gives a background job /dev/null as
    // stdin): it ends when vault closes the pipe, even after the reader (the process vault
    // kills with the connection) is gone, releasing the socket.
    let relay = format!(
        "nsenter --net=/run/netns/{} bash -c 'exec 3<>/dev/tcp/%h/%p 4<&0; cat <&4 >&3 & exec cat <&3'",
        net.bastion
    );
    let inner_block = |host: &str, extra: &str| {
        format!(
            "Host {host}\n  HostName {INNER_IP}\n  Port {PORT}\n  User {iuser}\n  IdentityFile {ikey}\n{extra}"
        )
    };
    std::fs::write(
        ssh.join("config"),
        format!(
            "{}{}{}Host bastion\n  HostName {BASTION_IP}\n  Port {PORT}\n  User {buser}\n  IdentityFile {bkey}\n",
            inner_block("inner", "  ProxyJump bastion\n"),
            inner_block("inner-direct", ""),
            inner_block("inner-pc", &format!("  ProxyCommand {relay}\n")),
        ),
    )
    .unwrap();

    // One askpass for everything; each server's code question answered by its own mark only.
    let askpass = tmp.path().join("askpass.sh");
    let pp = bastion.var("VAULT_TEST_SSH_KEY_PASSPHRASE");
    write_askpass(
        &askpass,
        true,
        &[
            (
                "'Passphrase for key '*': '",
                format!("printf '%s\\n' '{pp}'"),
            ),
            (
                &format!("'[sftp {buser}@{BASTION_IP}] Verification code: '"),
                format!("oathtool --totp -b '{BASTION_TOTP}'"),
            ),
            (
                &format!("'[sftp {iuser}@{INNER_IP}] Verification code: '"),
                format!("oathtool --totp -b '{INNER_TOTP}'"),
            ),
            (
                "'Vault password for '*': '",
                format!("printf '%s\\n' '{VAULT_PW}'"),
            ),
        ],
    );
    let ap = askpass.to_str().unwrap();
    let ns = net.client.as_str();
    let code_prompts = |user: &str, ip: &str| {
        let wanted = format!("[sftp {user}@{ip}] Verification code: ");
        prompts_seen(&askpass)
            .iter()
            .filter(|l| **l == wanted)
            .count()
    };

    // Without a jump the inner server cannot be reached from the client's namespace.
    let direct = vault_at(
        &home,
        ns,
        &["ls", "sftp://inner-direct/~/V", "--askpass", ap],
    );
    let line = direct.fails(5);
    assert!(line.contains(INNER_IP), "{line}");

    // ProxyJump from ~/.ssh/config: create, then a detached mount.
    vault_at(&home, ns, &["create", "sftp://inner/~/V", "--askpass", ap]).ok();
    assert_eq!(
        code_prompts(&buser, BASTION_IP),
        1,
        "{:?}",
        prompts_seen(&askpass)
    );
    assert_eq!(
        code_prompts(&iuser, INNER_IP),
        1,
        "{:?}",
        prompts_seen(&askpass)
    );
    // The inner server saw the login come from the bastion.
    assert_eq!(logins(&istate, &net.inner, &iuser, "10.201.2.1"), 1);
    assert_eq!(logins(&bstate, &net.bastion, &buser, "10.201.1.2"), 1);

    let m = mount(&home, ns, "sftp://inner/~/V", "m1", &["--askpass", ap]);
    std::fs::write(m.path().join("a.txt"), b"through the bastion").unwrap();
    assert_eq!(
        std::fs::read(m.path().join("a.txt")).unwrap(),
        b"through the bastion"
    );
    let (b0, i0) = (
        logins(&bstate, &net.bastion, &buser, "10.201.1.2"),
        logins(&istate, &net.inner, &iuser, "10.201.2.1"),
    );

    // The link drops: cut in the namespace, both servers end their sessions, link back.
    std::thread::sleep(Duration::from_secs(3));
    net.link(false);
    bastion.kill_sessions();
    inner.kill_sessions();
    std::thread::sleep(Duration::from_secs(1));
    net.link(true);
    let names: Vec<String> = std::fs::read_dir(m.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"a.txt".to_string()), "{names:?}");
    std::fs::write(m.path().join("b.txt"), b"after the reconnect").unwrap();
    assert_eq!(
        logins(&bstate, &net.bastion, &buser, "10.201.1.2"),
        b0 + 1,
        "the reconnect logged in to the bastion again"
    );
    assert_eq!(
        logins(&istate, &net.inner, &iuser, "10.201.2.1"),
        i0 + 1,
        "the reconnect logged in to the inner server again, through the bastion"
    );
    unmount(&home, ns, m);

    // -J on the command line, for a host whose config has no ProxyJump.
    let m = mount(
        &home,
        ns,
        "sftp://inner-direct/~/V",
        "m2",
        &["-J", "bastion", "--askpass", ap],
    );
    assert_eq!(
        std::fs::read(m.path().join("b.txt")).unwrap(),
        b"after the reconnect"
    );
    unmount(&home, ns, m);

    // A named vault with `proxy_jump` (`vault add -J`): the config key reaches the connection.
    vault_at(
        &home,
        ns,
        &["add", "jv", "sftp://inner-direct/~/V", "-J", "bastion"],
    )
    .ok();
    let config = std::fs::read_to_string(home.join(".config/vault/config.toml")).unwrap();
    assert!(config.contains("proxy_jump = \"bastion\""), "{config}");
    let listed = vault_at(&home, ns, &["ls", "jv", "--askpass", ap]).ok();
    assert!(
        listed.contains("a.txt") && listed.contains("b.txt"),
        "{listed}"
    );

    // ProxyCommand.
    let i1 = logins(&istate, &net.inner, &iuser, "10.201.2.1");
    let m = mount(&home, ns, "sftp://inner-pc/~/V", "m3", &["--askpass", ap]);
    assert_eq!(
        std::fs::read(m.path().join("a.txt")).unwrap(),
        b"through the bastion"
    );
    unmount(&home, ns, m);
    assert!(logins(&istate, &net.inner, &iuser, "10.201.2.1") > i1);

    // Another key recorded for the bastion: refused, nothing asked for the inner server.
    let bad_kh = tmp.path().join("bad_known_hosts");
    let inner_key_line = kh_text
        .lines()
        .find(|l| l.starts_with(&format!("[{INNER_IP}]:{PORT} ssh-ed25519 ")))
        .unwrap();
    let forged = inner_key_line.replacen(INNER_IP, BASTION_IP, 1);
    std::fs::write(&bad_kh, format!("{forged}\n{inner_key_line}\n")).unwrap();
    let before = code_prompts(&iuser, INNER_IP);
    let refused = vault_at(
        &home,
        ns,
        &[
            "ls",
            "sftp://inner/~/V",
            "--known-hosts",
            bad_kh.to_str().unwrap(),
            "--askpass",
            ap,
        ],
    );
    let line = refused.fails(7);
    assert!(
        line.contains(&format!("HOST KEY CHANGED for [{BASTION_IP}]:{PORT}")),
        "{line}"
    );
    assert_eq!(code_prompts(&iuser, INNER_IP), before);

    host_keys_confirmed_in_dialogs(&home, ns, (&buser, &iuser), &pp);
    // The servers' last sessions end a moment after the client: the purge removes the users
    // only once nothing runs as them.
    for user in [&buser, &iuser] {
        let t = std::time::Instant::now();
        while Command::new("pgrep")
            .args(["-u", user])
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success()
        {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "{user}'s sessions linger"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    drop((bastion, inner));
    drop(net);
}
