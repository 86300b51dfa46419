//! Hotel network (harness = false): RTT 80 ms ± 20 ms, 1 % loss each way,
//! the 2FA sshd in its own network namespace, the client in another one.
//!
//! The outer process (run by `cargo test`) sets up the namespaces and the
//! server, then runs this same binary with `--inner` inside the hotel
//! namespace (`nsenter --net`). The inner client measures login, listing a
//! 1,000-entry folder idle and while a copy runs, throughput both ways, and
//! copies while the outer process cuts the link for 20 s. Afterwards the outer
//! process checks every object on the server's disk: complete new content or
//! the previous version, nothing else.
//!
//! Needs root, iproute2, iptables and the netfilterqueue venv (see
//! tests/servers/hotel-net.sh). `VAULT_SFTP_SKIP_HOTEL=1` skips it.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Kbd, ScriptedPrompter, Servers, scripts_dir};
use vault_sftp::{RemoteRoot, SftpConfig, SftpStorage};
use vault_storage::{Body, Storage, StoragePath, WriteMode};

const MANY: usize = 1000;
const THROUGHPUT_BYTES: usize = 1024 * 1024;
const BIG: usize = 2 * 1024 * 1024;
const OLD: usize = 512 * 1024;

fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect()
}

fn many_name(i: usize) -> String {
    // Cryptomator-like: 32 base64url characters + .c9r
    format!("{:0>32}.c9r", format!("Zm9vYmFy{i:06}_-x"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--inner") {
        let dir =
            PathBuf::from(std::env::var("VAULT_SFTP_HOTEL_DIR").expect("VAULT_SFTP_HOTEL_DIR"));
        // RUST_LOG=vault_sftp=debug shows the connection's life.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(inner(&dir));
        return;
    }
    if args.iter().any(|a| a == "--list") {
        println!("hotel_network_copy_list_and_cut: test");
        return;
    }
    let filters: Vec<&String> = args
        .iter()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if !filters.is_empty()
        && !filters
            .iter()
            .any(|f| "hotel_network_copy_list_and_cut".contains(f.as_str()))
    {
        return;
    }
    if std::env::var_os("VAULT_SFTP_SKIP_HOTEL").is_some() {
        println!("hotel test skipped (VAULT_SFTP_SKIP_HOTEL set)");
        return;
    }
    outer();
    println!("test hotel_network_copy_list_and_cut ... ok");
}

/// Tears the network and the server down however the test ends.
struct Net {
    servers: Option<Servers>,
    env: Vec<(String, String)>,
}

impl Net {
    fn hotel(&self, args: &[&str]) -> std::process::Output {
        let mut c = Command::new(scripts_dir().join("hotel-net.sh"));
        c.args(args);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.output().expect("hotel-net.sh")
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        drop(self.servers.take());
        let out = self.hotel(&["down"]);
        if !out.status.success() {
            eprintln!("hotel-net down: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

fn outer() {
    let pid = std::process::id();
    let instance = format!("h{}", pid % 100_000);
    let base_env = vec![("VAULT_TEST_INSTANCE".to_owned(), instance.clone())];
    let mut net = Net {
        servers: None,
        env: base_env,
    };
    let up = net.hotel(&["up", "80", "1", "20"]);
    assert!(
        up.status.success(),
        "hotel-net up: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let cloud = format!("vt-cloud-{instance}");
    let hotel_ns = format!("vt-hotel-{instance}");
    let servers = Servers::start("h", "2fa", &[("VAULT_TEST_NETNS", cloud.as_str())]);
    // Servers::start picked the same instance name ("h" + pid).
    assert_eq!(servers.instance, instance);
    let root = servers.sftp_root().join("hotel");
    let _ = std::fs::remove_dir_all(&root);
    let many = root.join("many");
    std::fs::create_dir_all(&many).unwrap();
    for i in 0..MANY {
        std::fs::write(many.join(many_name(i)), b"x").unwrap();
    }
    // The object the cut copy overwrites: its previous version.
    std::fs::write(root.join("cut.c9r"), pattern(2, OLD)).unwrap();
    std::fs::write(root.join("cut2.c9r"), pattern(2, OLD)).unwrap();
    let user = servers.get("VAULT_TEST_SSH_USER");
    assert!(
        Command::new("chown")
            .arg("-R")
            .arg(format!("{user}:{user}"))
            .arg(&root)
            .status()
            .unwrap()
            .success()
    );

    let ctl = tempfile::tempdir().unwrap();
    let conf = [
        ("host", servers.get("VAULT_TEST_SSH_HOST")),
        ("port", servers.get("VAULT_TEST_SSH_PORT")),
        ("user", user.clone()),
        ("key", servers.get("VAULT_TEST_SSH_KEY")),
        ("pass", servers.get("VAULT_TEST_SSH_KEY_PASSPHRASE")),
        ("totp", servers.totp_secret()),
        ("known_hosts", servers.get("VAULT_TEST_SSH_KNOWN_HOSTS")),
    ];
    let mut f = std::fs::File::create(ctl.path().join("conf")).unwrap();
    for (k, v) in conf {
        writeln!(f, "{k}={v}").unwrap();
    }
    drop(f);
    net.servers = Some(servers);

    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{hotel_ns}"))
        .arg("--")
        .arg(&exe)
        .arg("--inner")
        .env("VAULT_SFTP_HOTEL_DIR", ctl.path())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start inner client in the hotel namespace");

    // Cut the link for 20 s each time the inner client says a copy is under way.
    let started = Instant::now();
    let mut cuts_done = 0;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if ctl
            .path()
            .join(format!("copying{}", cuts_done + 1))
            .exists()
        {
            cuts_done += 1;
            let t = Instant::now();
            assert!(net.hotel(&["cut", "down"]).status.success());
            eprintln!("[outer] link cut #{cuts_done}");
            std::thread::sleep(Duration::from_secs(20));
            assert!(net.hotel(&["restore"]).status.success());
            eprintln!("[outer] link restored after {:?}", t.elapsed());
            std::fs::write(ctl.path().join(format!("restored{cuts_done}")), b"").unwrap();
        }
        if started.elapsed() > Duration::from_secs(600) {
            let _ = child.kill();
            panic!("inner client did not finish in 600 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "inner client failed: {status}");
    assert_eq!(cuts_done, 2, "the link was cut mid-copy twice");

    // Server-side check: every object complete, each cut one new or old.
    for (i, name) in [(1, "cut.c9r"), (2, "cut2.c9r")] {
        let cut = std::fs::read(root.join(name)).unwrap();
        let outcome = std::fs::read_to_string(ctl.path().join(format!("cut-outcome{i}"))).unwrap();
        if cut == pattern(3, BIG) {
            eprintln!("[outer] {name}: copy completed ({outcome})");
        } else {
            assert_eq!(
                cut,
                pattern(2, OLD),
                "{name} is neither the new nor the previous version"
            );
            assert!(
                outcome.starts_with("failed"),
                "the writer was told: {outcome}"
            );
            eprintln!("[outer] {name}: copy failed cleanly, previous version intact ({outcome})");
        }
    }
    assert_eq!(
        std::fs::read(root.join("up.c9r")).unwrap(),
        pattern(1, THROUGHPUT_BYTES)
    );
    assert_eq!(
        std::fs::read(root.join("during.c9r")).unwrap(),
        pattern(4, BIG)
    );
    for e in std::fs::read_dir(&many).unwrap() {
        let e = e.unwrap();
        assert_eq!(std::fs::read(e.path()).unwrap(), b"x");
    }
    let results = std::fs::read_to_string(ctl.path().join("results")).unwrap();
    println!("hotel results:\n{results}");
    let _ = std::fs::remove_dir_all(&root);
}

fn read_conf(dir: &Path) -> std::collections::HashMap<String, String> {
    std::fs::read_to_string(dir.join("conf"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect()
}

async fn inner(dir: &Path) {
    let c = read_conf(dir);
    let mut cfg = SftpConfig::new(
        c["host"].clone(),
        c["port"].parse().unwrap(),
        c["user"].clone(),
        RemoteRoot::Home("hotel".into()),
    );
    cfg.identity_files = vec![PathBuf::from(&c["key"])];
    cfg.use_agent = false;
    cfg.known_hosts = PathBuf::from(&c["known_hosts"]);
    let base_cfg = cfg.clone();
    let p = ScriptedPrompter::new(Some(&c["pass"]), Kbd::Totp(c["totp"].clone()));
    let mut results = String::new();
    let mut note = |line: String| {
        eprintln!("[inner] {line}");
        results.push_str(&line);
        results.push('\n');
    };

    let t = Instant::now();
    let st = Arc::new(
        SftpStorage::connect(cfg, p.clone())
            .await
            .expect("2fa login over the hotel link"),
    );
    note(format!(
        "login (key passphrase + TOTP): {:.2} s",
        t.elapsed().as_secs_f64()
    ));

    let many = StoragePath::new("many").unwrap();
    let t = Instant::now();
    let n = st.list_dir(&many).await.expect("list").len();
    assert_eq!(n, MANY);
    note(format!(
        "list {MANY} entries, idle: {:.2} s",
        t.elapsed().as_secs_f64()
    ));

    // Throughput.
    let up = StoragePath::new("up.c9r").unwrap();
    let t = Instant::now();
    st.write(
        &up,
        Body::from_bytes(pattern(1, THROUGHPUT_BYTES)),
        WriteMode::Overwrite,
    )
    .await
    .expect("upload");
    let secs = t.elapsed().as_secs_f64();
    note(format!(
        "upload 1 MiB: {secs:.2} s = {:.0} KB/s",
        THROUGHPUT_BYTES as f64 / secs / 1000.0
    ));
    let t = Instant::now();
    let back = st.read_all(&up).await.expect("download");
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(&back[..], &pattern(1, THROUGHPUT_BYTES)[..]);
    note(format!(
        "download 1 MiB: {secs:.2} s = {:.0} KB/s",
        THROUGHPUT_BYTES as f64 / secs / 1000.0
    ));

    // Listing while a copy runs.
    let during = StoragePath::new("during.c9r").unwrap();
    let copy = {
        let st = st.clone();
        let during = during.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            st.write(
                &during,
                Body::from_bytes(pattern(4, BIG)),
                WriteMode::Overwrite,
            )
            .await
            .map(|_| t.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut times = Vec::new();
    while !copy.is_finished() {
        let t = Instant::now();
        assert_eq!(
            st.list_dir(&many).await.expect("list during copy").len(),
            MANY
        );
        times.push(t.elapsed().as_secs_f64());
    }
    let took = copy.await.unwrap().expect("copy while listing");
    assert!(
        !times.is_empty(),
        "at least one listing ran during the copy"
    );
    let max = times.iter().cloned().fold(0.0, f64::max);
    let avg = times.iter().sum::<f64>() / times.len() as f64;
    note(format!(
        "list {MANY} entries during a 2 MiB upload: {} listings, avg {avg:.2} s, max {max:.2} s (upload took {:.1} s)",
        times.len(),
        took.as_secs_f64()
    ));

    // Listing while a download runs.
    let download = {
        let st = st.clone();
        let during = during.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            st.read_all(&during).await.map(|b| (b, t.elapsed()))
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut times = Vec::new();
    while !download.is_finished() {
        let t = Instant::now();
        assert_eq!(
            st.list_dir(&many)
                .await
                .expect("list during download")
                .len(),
            MANY
        );
        times.push(t.elapsed().as_secs_f64());
    }
    let (bytes, took) = download.await.unwrap().expect("download while listing");
    assert!(
        bytes[..] == pattern(4, BIG)[..],
        "downloaded bytes identical"
    );
    if !times.is_empty() {
        let max = times.iter().cloned().fold(0.0, f64::max);
        let avg = times.iter().sum::<f64>() / times.len() as f64;
        note(format!(
            "list {MANY} entries during a 2 MiB download: {} listings, avg {avg:.2} s, max {max:.2} s (download took {:.1} s)",
            times.len(),
            took.as_secs_f64()
        ));
    }

    // Copy with a 20 s cut in the middle; the session survives the cut
    // (keepalive 15 s x 4, request timeout 60 s): no new TOTP code.
    let line = cut_copy(&st, dir, 1, "cut.c9r").await;
    note(line);
    note(format!(
        "after cut #1: reconnects {}, TOTP codes asked {}",
        st.reconnect_count(),
        p.kbd_count.load(std::sync::atomic::Ordering::SeqCst)
    ));
    assert_eq!(st.reconnect_count(), 0, "the session rode out a 20 s cut");
    assert_eq!(
        p.kbd_count.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "no second code without a new login"
    );

    // Same with keepalives that give up after 12 s: the connection dies in the cut
    // (also when the cut finds the upload parked on a full socket buffer, where russh
    // counts no keepalives), the write is retried on a new connection (new TOTP code).
    let mut cfg2 = base_cfg.clone();
    cfg2.keepalive_interval = Duration::from_secs(3);
    cfg2.keepalive_max = 3;
    cfg2.connect_timeout = Duration::from_secs(5);
    cfg2.reconnect_wait = Duration::from_secs(90);
    let p2 = ScriptedPrompter::new(Some(&c["pass"]), Kbd::Totp(c["totp"].clone()));
    let st2 = Arc::new(
        SftpStorage::connect(cfg2, p2.clone())
            .await
            .expect("second login"),
    );
    let line = cut_copy(&st2, dir, 2, "cut2.c9r").await;
    note(line);
    note(format!(
        "after cut #2: reconnects {}, TOTP codes asked {}",
        st2.reconnect_count(),
        p2.kbd_count.load(std::sync::atomic::Ordering::SeqCst)
    ));
    assert!(
        st2.reconnect_count() >= 1,
        "the dead connection was replaced"
    );
    assert_eq!(
        p2.kbd_count.load(std::sync::atomic::Ordering::SeqCst) as u64,
        1 + st2.reconnect_count(),
        "one new code per new login"
    );
    // Temp files of interrupted uploads are removed after the reconnect.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let names: Vec<String> = st
        .list_dir(&StoragePath::root())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    let temps = names
        .iter()
        .filter(|n| n.starts_with(".vault-tmp-"))
        .count();
    note(format!("temp files left after both cuts: {temps}"));
    assert_eq!(temps, 0, "no temp file left: {names:?}");
    std::fs::write(dir.join("results"), results).unwrap();
}

/// Overwrites `name` (previous version: 512 KiB) with 2 MiB while the outer
/// process cuts the link for 20 s; returns a report line.
async fn cut_copy(st: &Arc<SftpStorage>, dir: &Path, n: u32, name: &str) -> String {
    let path = StoragePath::new(name).unwrap();
    let copy = {
        let st = st.clone();
        let path = path.clone();
        tokio::spawn(async move {
            st.write(
                &path,
                Body::from_bytes(pattern(3, BIG)),
                WriteMode::Overwrite,
            )
            .await
        })
    };
    let monitor = {
        let st = st.clone();
        tokio::spawn(async move {
            let t0 = Instant::now();
            let mut last = (true, 0);
            loop {
                let now = (st.is_connected(), st.reconnect_count());
                if now != last {
                    eprintln!(
                        "[inner] +{:.1} s: connected {}, reconnects {}",
                        t0.elapsed().as_secs_f64(),
                        now.0,
                        now.1
                    );
                    last = now;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !copy.is_finished(),
        "the copy is still running when the link is cut"
    );
    std::fs::write(dir.join(format!("copying{n}")), b"").unwrap();
    let t = Instant::now();
    let r = copy.await.unwrap();
    monitor.abort();
    let outcome = match &r {
        Ok(()) => format!(
            "completed {:.1} s after the cut started",
            t.elapsed().as_secs_f64()
        ),
        Err(e) => format!("failed cleanly: {e} ({:?})", e.kind()),
    };
    std::fs::write(dir.join(format!("cut-outcome{n}")), &outcome).unwrap();
    if let Err(e) = &r {
        assert_eq!(
            e.kind(),
            vault_storage::StorageErrorKind::Unavailable,
            "{e}"
        );
    }
    while !dir.join(format!("restored{n}")).exists() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let content = st.read_all(&path).await.expect("read after restore");
    assert!(
        content[..] == pattern(3, BIG)[..] || content[..] == pattern(2, OLD)[..],
        "{name} corrupted"
    );
    format!("cut #{n}: 2 MiB overwrite with a 20 s link cut: {outcome}")
}
