//! Acceptance test 2 of the hostile-storage issue: a hostile WebDAV server. A small proxy in this
//! test forwards everything to `rclone serve webdav` (Debian package rclone) on loopback, except
//! the PROPFINDs of one ciphertext folder (the vault's `/bad`), which it answers with a 1 GiB
//! body, 10^5 attributes on one element, an endless (trickling) listing, a 1 MB conflict-shaped
//! name, or a redirect to another host. Through a FUSE mount of the vault, `ls bad` fails within
//! 10 s each time, the mount daemon's RSS grows by less than 64 MiB, and meanwhile `stat` of
//! another file on the mount answers within 1 s. Also: `vault login nextcloud` hands a login page
//! the server names to `xdg-open` only if it is https:// (or loopback http://) and prints it
//! C-escaped.
#![allow(clippy::unwrap_used)]

mod cli_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cli_support::mount::{MountGuard, daemon_pids, wait_until};
use cli_support::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Mode {
    Honest = 0,
    GiB = 1,
    Attributes = 2,
    Endless = 3,
    ConflictName = 4,
    Redirect = 5,
}

/// What the proxy shares with the test.
struct Shared {
    mode: AtomicU8,
    /// Path (as in the request line) of the hostile ciphertext folder.
    bad: Mutex<String>,
    upstream: u16,
    hostile_hits: AtomicU64,
    /// Bytes of hostile bodies written before the client hung up.
    hostile_bytes: AtomicU64,
    stop: AtomicBool,
}

/// Serves on `listener`: one request per connection (`Connection: close`).
fn proxy(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(conn) = conn else { continue };
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            let _ = handle(conn, &shared);
        });
    }
}

fn handle(conn: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "\r\n" {
            break;
        }
        head.push(line);
    }
    let len: usize = head
        .iter()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    let mut first = head[0].split(' ');
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let mode = shared.mode.load(Ordering::Relaxed);
    let bad = shared.bad.lock().unwrap().clone();
    let mut out = conn;
    if method == "PROPFIND" && !bad.is_empty() && path.contains(&bad) && mode != Mode::Honest as u8
    {
        shared.hostile_hits.fetch_add(1, Ordering::Relaxed);
        return hostile(&mut out, mode, &path, shared);
    }
    // Forward, one request per connection.
    let mut up = TcpStream::connect(("127.0.0.1", shared.upstream))?;
    let mut req = String::new();
    for l in &head {
        let lower = l.to_ascii_lowercase();
        if !lower.starts_with("connection:") {
            req.push_str(l);
        }
    }
    req.push_str("Connection: close\r\n\r\n");
    up.write_all(req.as_bytes())?;
    up.write_all(&body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    out.write_all(&answer)
}

const XML_HEAD: &str = r#"<?xml version="1.0" encoding="utf-8"?><d:multistatus xmlns:d="DAV:">"#;

fn entry(href: &str) -> String {
    format!(
        "<d:response><d:href>{href}</d:href><d:propstat><d:prop><d:resourcetype/>\
         <d:getcontentlength>100</d:getcontentlength></d:prop>\
         <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
    )
}

fn hostile(out: &mut TcpStream, mode: u8, path: &str, shared: &Shared) -> std::io::Result<()> {
    let count = |n: usize| {
        shared.hostile_bytes.fetch_add(n as u64, Ordering::Relaxed);
    };
    let fixed = |out: &mut TcpStream, status: &str, extra: &str, body: &[u8]| {
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/xml; charset=utf-8\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        out.write_all(head.as_bytes())?;
        out.write_all(body)
    };
    let streamed_head = "HTTP/1.1 207 Multi-Status\r\nContent-Type: application/xml; charset=utf-8\r\nConnection: close\r\n\r\n";
    match mode {
        m if m == Mode::GiB as u8 => {
            // 1 GiB of well-formed entries, without a Content-Length (ends at close).
            out.write_all(streamed_head.as_bytes())?;
            out.write_all(XML_HEAD.as_bytes())?;
            let mut block = String::new();
            let mut i = 0u64;
            while block.len() < 256 * 1024 {
                block.push_str(&entry(&format!("{path}x{i:08}.c9r")));
                i += 1;
            }
            let mut sent = 0usize;
            while sent < 1 << 30 {
                out.write_all(block.as_bytes())?;
                sent += block.len();
                count(block.len());
            }
            Ok(())
        }
        m if m == Mode::Attributes as u8 => {
            let mut body = String::from(XML_HEAD);
            body.push_str("<d:response");
            for i in 0..100_000 {
                body.push_str(&format!(" a{i}=\"v\""));
            }
            body.push_str(&format!(
                "><d:href>{path}</d:href></d:response></d:multistatus>"
            ));
            count(body.len());
            fixed(out, "207 Multi-Status", "", body.as_bytes())
        }
        m if m == Mode::Endless as u8 => {
            // A listing that never ends, one entry every 20 ms: it never stalls either.
            out.write_all(streamed_head.as_bytes())?;
            out.write_all(XML_HEAD.as_bytes())?;
            let mut i = 0u64;
            loop {
                let e = entry(&format!("{path}e{i:08}.c9r"));
                out.write_all(e.as_bytes())?;
                count(e.len());
                i += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        m if m == Mode::ConflictName as u8 => {
            let name = format!(
                "{}{}%20(Conflict%20{}).c9r",
                path,
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "1".repeat(1 << 20)
            );
            let body = format!("{XML_HEAD}{}{}</d:multistatus>", entry(path), entry(&name));
            count(body.len());
            fixed(out, "207 Multi-Status", "", body.as_bytes())
        }
        _ => fixed(
            out,
            "302 Found",
            "Location: http://elsewhere.invalid:8080/steal/\r\n",
            b"",
        ),
    }
}

/// The resident set of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The ciphertext folder of the vault's `/bad`: of the two folders under `d/`, the one that
/// is not the root's (the root's holds `/bad`'s `dir.c9r`).
fn bad_folder(vault: &Path) -> String {
    let mut dirs = Vec::new();
    for a in std::fs::read_dir(vault.join("d")).unwrap().flatten() {
        for b in std::fs::read_dir(a.path()).unwrap().flatten() {
            dirs.push(b.path());
        }
    }
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    let holds_dir_node = |d: &PathBuf| {
        std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .any(|e| e.path().join("dir.c9r").exists())
    };
    let bad = dirs.iter().find(|d| !holds_dir_node(d)).unwrap();
    let rel = bad.strip_prefix(vault).unwrap();
    format!("/V/{}", rel.to_str().unwrap())
}

struct Rclone(std::process::Child);

impl Drop for Rclone {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `ls` on `dir` while checking that `stat` of `other` keeps answering within 1 s, and
/// samples `pid`'s RSS. Returns (ls exit code, ls duration, RSS growth in KiB).
fn attack(dir: &Path, other: &Path, pid: u32) -> (Option<i32>, Duration, u64) {
    let before = rss_kib(pid);
    let peak = Arc::new(AtomicU64::new(before));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let start = Instant::now();
    let mut ls = Command::new("timeout")
        .args(["30", "ls"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let code = loop {
        if let Some(status) = ls.try_wait().unwrap() {
            break status.code();
        }
        let t = Instant::now();
        let st = Command::new("timeout")
            .args(["5", "stat"])
            .arg(other)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        let took = t.elapsed();
        assert!(
            st.success(),
            "stat of another file failed during the attack"
        );
        assert!(
            took < Duration::from_secs(1),
            "stat of another file took {took:?} during the attack"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let took = start.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    (
        code,
        took,
        peak.load(Ordering::Relaxed).saturating_sub(before),
    )
}

#[test]
fn a_hostile_webdav_server_cannot_hang_or_bloat_the_mount() {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    std::fs::create_dir(&served).unwrap();
    let vault_dir = served.join("V");
    let pw = tmp.path().join("pw");
    std::fs::write(&pw, "correct horse\n").unwrap();
    let pw_s = pw.to_str().unwrap();
    let v = vault_dir.to_str().unwrap();
    vault(&["create", v, "--password-file", pw_s]).ok();
    vault(&["mkdir", v, "/bad", "--password-file", pw_s]).ok();
    let good = tmp.path().join("good.txt");
    std::fs::write(&good, "good").unwrap();
    vault(&[
        "put",
        v,
        good.to_str().unwrap(),
        "/good.txt",
        "--password-file",
        pw_s,
    ])
    .ok();
    let bad = bad_folder(&vault_dir);

    let upstream = free_port();
    let _rclone = Rclone(
        Command::new("rclone")
            .args(["serve", "webdav", served.to_str().unwrap()])
            .args(["--addr", &format!("127.0.0.1:{upstream}")])
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
    wait_until("rclone to listen", Duration::from_secs(20), || {
        TcpStream::connect(("127.0.0.1", upstream)).is_ok()
    });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let shared = Arc::new(Shared {
        mode: AtomicU8::new(Mode::Honest as u8),
        bad: Mutex::new(bad.clone()),
        upstream,
        hostile_hits: AtomicU64::new(0),
        hostile_bytes: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    {
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || proxy(listener, shared));
    }
    let url = format!("dav://vault-user@127.0.0.1:{port}/V");
    let ask = tmp.path().join("ask.sh");
    write_askpass(
        &ask,
        false,
        &[("'Password for vault-user@127.0.0.1'*", "echo vault-pass")],
    );
    let a = ask.to_str().unwrap();

    // The redirect through the CLI: a clear one-line error naming the other host.
    shared.mode.store(Mode::Redirect as u8, Ordering::Relaxed);
    let run = run_cmd(&mut vault_cmd(
        30,
        &["ls", &url, "/bad", "--askpass", a, "--password-file", pw_s],
    ));
    let line = run.fails(1);
    assert!(line.contains("elsewhere.invalid"), "{line}");
    assert!(!run.stderr.contains("vault-pass"), "{}", run.stderr);
    shared.mode.store(Mode::Honest as u8, Ordering::Relaxed);

    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let guard = MountGuard::new(mnt.clone());
    run_cmd(&mut vault_cmd(
        60,
        &[
            "mount",
            &url,
            mnt.to_str().unwrap(),
            "--askpass",
            a,
            "--password-file",
            pw_s,
            "--read-only",
            "-o",
            "attr_timeout=0,entry_timeout=0",
            // The backend's own bounds are under test: no metadata cache in front, which
            // would answer with the last good listing instead of the hostile one.
            "--cache=off",
            "--dir-cache-time=0",
        ],
    ))
    .ok();
    guard.wait_mounted(Duration::from_secs(10));
    let pid = *daemon_pids(&mnt).first().expect("the mount daemon");
    let other = mnt.join("good.txt");
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "good");
    assert!(std::fs::read_dir(mnt.join("bad")).unwrap().next().is_none());

    for mode in [
        Mode::GiB,
        Mode::Attributes,
        Mode::Endless,
        Mode::ConflictName,
        Mode::Redirect,
    ] {
        shared.hostile_hits.store(0, Ordering::Relaxed);
        shared.hostile_bytes.store(0, Ordering::Relaxed);
        shared.mode.store(mode as u8, Ordering::Relaxed);
        // The backend answers a listing it learnt within the last second from memory
        // (vault-webdav's `recent`); wait that out so the hostile answer is really fetched.
        std::thread::sleep(Duration::from_millis(1_500));
        let (code, took, grew_kib) = attack(&mnt.join("bad"), &other, pid);
        shared.mode.store(Mode::Honest as u8, Ordering::Relaxed);
        eprintln!(
            "{mode:?}: ls exit {code:?} after {took:?}, daemon RSS +{grew_kib} KiB, {} hostile answers, {} hostile bytes sent",
            shared.hostile_hits.load(Ordering::Relaxed),
            shared.hostile_bytes.load(Ordering::Relaxed)
        );
        assert!(
            shared.hostile_hits.load(Ordering::Relaxed) > 0,
            "{mode:?} was served"
        );
        assert_ne!(
            code,
            Some(0),
            "{mode:?}: ls of the hostile folder must fail"
        );
        assert_ne!(code, Some(124), "{mode:?}: ls hung");
        assert!(took < Duration::from_secs(10), "{mode:?}: ls took {took:?}");
        assert!(
            grew_kib < 64 * 1024,
            "{mode:?}: daemon RSS grew by {grew_kib} KiB"
        );
        if mode == Mode::GiB {
            let sent = shared.hostile_bytes.load(Ordering::Relaxed);
            assert!(sent < 1 << 30, "the client read all of the 1 GiB body");
        }
        // The daemon is still there and serving.
        assert_eq!(std::fs::read_to_string(&other).unwrap(), "good");
    }
    // The hostile folder reads again once the server behaves.
    assert!(std::fs::read_dir(mnt.join("bad")).unwrap().next().is_none());
    shared.stop.store(true, Ordering::Relaxed);
    drop(guard);
}

/// A stand-in Nextcloud login flow whose first flow names a hostile login page (a `file:` URL
/// with a terminal escape), the second an https:// page.
const LOGIN_FLOW: &str = r#"
import http.server, json, sys
flows = ["file:///etc/passwd\u001b[2J", "https://cloud.example.org/login/v2/flow/abc"]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get('Content-Length') or 0)
        self.rfile.read(n)
        port = self.server.server_address[1]
        if self.path.endswith('/login/v2'):
            body = {"poll": {"token": "tok", "endpoint": "http://127.0.0.1:%d/login/v2/poll" % port},
                    "login": flows.pop(0)}
        else:
            body = {"server": "http://127.0.0.1:%d" % port, "loginName": "me", "appPassword": "app-pw"}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

#[test]
fn login_hands_only_https_pages_to_xdg_open_and_escapes_the_server_text() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Command::new("python3")
        .args(["-c", LOGIN_FLOW])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _server = KillOnDrop(server);
    let url = format!("http://127.0.0.1:{}", line.trim());
    let bin_dir = tmp.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    let opened = tmp.path().join("opened.log");
    write_script(
        &bin_dir.join("xdg-open"),
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\n",
            opened.display()
        ),
    );
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let login = || {
        run_cmd(
            vault_cmd(30, &["login", "nextcloud", &url])
                .env("PATH", &path)
                .env("DISPLAY", ":0")
                .env("VAULT_KEYRING", "none")
                .env("VAULT_CONFIG", tmp.path().join("config.toml")),
        )
    };
    let r = login();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains('\u{1b}'), "{:?}", r.stderr);
    assert!(
        r.stderr.contains("file:///etc/passwd\\x1b[2J"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("not an https:// address"), "{}", r.stderr);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !opened.exists(),
        "xdg-open was handed {:?}",
        read_lines(&opened)
    );

    let r = login();
    assert_eq!(r.code, 0, "{}", r.stderr);
    wait_until("xdg-open to run", Duration::from_secs(5), || {
        opened.exists()
    });
    assert_eq!(
        read_lines(&opened),
        ["https://cloud.example.org/login/v2/flow/abc"]
    );
}
