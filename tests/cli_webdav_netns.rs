//! Acceptance test 4b of the hostile-storage issue: a password over plain HTTP to a host that is
//! not this machine. The test creates two network namespaces (`wdh-s-PID`, `wdh-c-PID`) joined
//! by a veth pair, 10.77.0.1 (a capturing HTTP server, python3) and 10.77.0.2 (the client), so
//! the server's address is not loopback for the client. `dav://user@10.77.0.1/…` without
//! `--insecure-http` exits 2 naming the flag, asks for no password and sends nothing; with the
//! flag (or the named vault's `insecure_http = true`) the `Authorization` header arrives. `vault
//! login nextcloud http://10.77.0.1/` is refused the same way. The namespaces are removed at the
//! end, also when the test fails.
#![allow(clippy::unwrap_used)]

mod cli_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::*;
use test_support::netns::{End, Netns, veth};

/// Two namespaces and the capturing server; all removed when dropped.
struct Net {
    client_ns: String,
    server: Option<std::process::Child>,
    /// Deleted when dropped, after the server is gone.
    _namespaces: [Netns; 2],
}

impl Drop for Net {
    fn drop(&mut self) {
        if let Some(mut s) = self.server.take() {
            let _ = s.kill();
            let _ = s.wait();
        }
    }
}

const SERVER: &str = r#"
import http.server, sys
log = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def any(self):
        with open(log, 'a') as f:
            f.write(self.command + ' ' + self.path + '\n' + str(self.headers) + '\n')
        self.send_response(401)
        self.send_header('WWW-Authenticate', 'Basic realm="capture"')
        self.send_header('Content-Length', '0')
        self.end_headers()
    do_GET = do_POST = do_PROPFIND = do_OPTIONS = do_PUT = any
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(('10.77.0.1', int(sys.argv[1])), H).serve_forever()
"#;

fn setup(log: &Path) -> Net {
    let pid = std::process::id();
    let (s, c) = (format!("wdh-s-{pid}"), format!("wdh-c-{pid}"));
    let namespaces = [Netns::new(&s), Netns::new(&c)];
    let (sv, cv) = (format!("wdhs{pid}"), format!("wdhc{pid}"));
    veth(
        &End {
            ns: &s,
            dev: &sv,
            addr: "10.77.0.1/30",
        },
        &End {
            ns: &c,
            dev: &cv,
            addr: "10.77.0.2/30",
        },
    );
    let mut net = Net {
        client_ns: c.clone(),
        server: None,
        _namespaces: namespaces,
    };
    std::fs::write(log, "").unwrap();
    net.server = Some(
        Command::new("ip")
            .args(["netns", "exec", &s, "python3", "-c", SERVER, "8080"])
            .arg(log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3"),
    );
    // Ready once a request from the client namespace gets an answer.
    let start = Instant::now();
    loop {
        let probe = Command::new("ip")
            .args(["netns", "exec", &c, "python3", "-c"])
            .arg("import socket; socket.create_connection(('10.77.0.1', 8080), 1).close()")
            .stderr(Stdio::null())
            .status()
            .unwrap();
        if probe.success() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the capturing server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::write(log, "").unwrap();
    net
}

/// `vault ARGS` inside the client namespace, keyring off, with a config file of its own.
fn vault_ns(net: &Net, config: &Path, args: &[&str]) -> Run {
    run_cmd(
        Command::new("ip")
            .args(["netns", "exec", &net.client_ns, "timeout", "30", bin()])
            .args(args)
            .env_remove("VAULT_ASKPASS")
            .env_remove("VAULT_LOG")
            .env("VAULT_KEYRING", "none")
            .env("VAULT_CONFIG", config)
            .stdin(Stdio::null()),
    )
}

#[test]
fn no_password_travels_in_clear_to_a_host_that_is_not_loopback() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("captured.log");
    let config = tmp.path().join("config.toml");
    let net = setup(&log);
    let ask = tmp.path().join("ask.sh");
    write_askpass(&ask, true, &[("'Password for '*", "echo s3cret-server-pw")]);
    let a = ask.to_str().unwrap();
    let url = "dav://alice@10.77.0.1:8080/V";

    // Refused before anything is asked or sent.
    let line = vault_ns(&net, &config, &["ls", url, "--askpass", a]).fails(2);
    assert!(line.contains("--insecure-http"), "{line}");
    assert!(prompts_seen(&ask).is_empty(), "{:?}", prompts_seen(&ask));
    let login = vault_ns(
        &net,
        &config,
        &["login", "nextcloud", "http://10.77.0.1:8080/"],
    );
    let line = login.fails(2);
    assert!(line.contains("--insecure-http"), "{line}");
    let captured = std::fs::read_to_string(&log).unwrap();
    assert!(
        !captured.to_ascii_lowercase().contains("authorization"),
        "{captured}"
    );
    assert_eq!(captured, "", "nothing was sent");

    // With --insecure-http the password goes (and the server refuses it: exit 3).
    vault_ns(
        &net,
        &config,
        &["ls", url, "--askpass", a, "--insecure-http"],
    )
    .fails(3);
    let captured = std::fs::read_to_string(&log).unwrap();
    assert!(
        captured
            .to_ascii_lowercase()
            .contains("authorization: basic"),
        "{captured}"
    );
    assert_eq!(prompts_seen(&ask).len(), 1);

    // The named vault's config key does the same.
    std::fs::write(&log, "").unwrap();
    std::fs::write(
        &config,
        format!("[vaults.lan]\nstorage = \"{url}\"\ninsecure_http = true\n"),
    )
    .unwrap();
    vault_ns(&net, &config, &["ls", "lan", "--askpass", a]).fails(3);
    let captured = std::fs::read_to_string(&log).unwrap();
    assert!(
        captured
            .to_ascii_lowercase()
            .contains("authorization: basic"),
        "{captured}"
    );
    drop(net);
}

#[test]
fn a_password_typed_into_a_url_is_never_shown() {
    for args in [
        vec!["ls", "dav://alice:hunter2@127.0.0.1:1/V"],
        vec!["ls", "davs://alice:hunter2@host:99999/V"],
        vec!["ls", "https://alice:hunter2@host/x?q=1"],
        vec!["ls", "sftp://alice:hunter2@host/V"],
        vec!["add", "n", "dav://alice:hunter2@host/V"],
        vec!["login", "nextcloud", "https://alice:hunter2@host:bad/"],
        vec!["login", "nextcloud", "https://alice:hunter2@127.0.0.1:1/"],
    ] {
        let run = run_cmd(vault_cmd(30, &args).env("VAULT_KEYRING", "none"));
        let line = run.fails(2);
        assert!(!run.stderr.contains("hunter2"), "{args:?}: {}", run.stderr);
        assert!(!line.is_empty());
    }
}
