//! Loopback (0 ms) measurements, printed with --nocapture: 2FA login,
//! listing 1,000 entries, 32 MiB up and down, and listing while a large read
//! runs on the same connection. Asserts correctness, and generous bounds only.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Kbd, ScriptedPrompter, shared_servers};
use vault_sftp::SftpStorage;
use vault_storage::{Body, Storage, StoragePath, WriteMode};

fn pattern(seed: u64, len: usize) -> Vec<u8> {
    test_support::rng::Rng::new(seed).bytes(len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_login_listing_and_throughput() {
    let s = shared_servers("sp");
    let cfg = s.config("2fa", "VAULT_TEST_SSH_KEY", "perf");
    let many = s.sftp_root().join("perf/many");
    std::fs::create_dir_all(&many).unwrap();
    for i in 0..1000 {
        std::fs::write(many.join(format!("{:0>40}.c9r", i)), b"x").unwrap();
    }
    let p = ScriptedPrompter::new(
        Some(&s.get("VAULT_TEST_SSH_KEY_PASSPHRASE")),
        Kbd::Totp(s.totp_secret()),
    );
    let t = Instant::now();
    let st = Arc::new(SftpStorage::connect(cfg, p).await.expect("login"));
    eprintln!(
        "[perf 0 ms] 2FA login (passphrase KDF + TOTP): {:.3} s",
        t.elapsed().as_secs_f64()
    );

    let dir = StoragePath::new("many").unwrap();
    let t = Instant::now();
    assert_eq!(st.list_dir(&dir).await.unwrap().len(), 1000);
    eprintln!(
        "[perf 0 ms] list 1000 entries: {:.3} s",
        t.elapsed().as_secs_f64()
    );

    const N: usize = 32 * 1024 * 1024;
    let data = pattern(5, N);
    let f = StoragePath::new("big.c9r").unwrap();
    let t = Instant::now();
    st.write(&f, Body::from_bytes(data.clone()), WriteMode::Overwrite)
        .await
        .unwrap();
    let up = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let back = st.read_at(&f, 0, N).await.unwrap();
    let down = t.elapsed().as_secs_f64();
    assert!(back[..] == data[..], "round trip identical");
    eprintln!(
        "[perf 0 ms] 32 MiB write {:.2} s ({:.0} MB/s), read {:.2} s ({:.0} MB/s)",
        up,
        N as f64 / up / 1e6,
        down,
        N as f64 / down / 1e6
    );

    // Listing stays responsive during a large read (separate SFTP channel).
    let reader = {
        let (st, f) = (st.clone(), f.clone());
        tokio::spawn(async move {
            for _ in 0..4 {
                st.read_at(&f, 0, N).await.unwrap();
            }
        })
    };
    let mut worst = Duration::ZERO;
    let mut n = 0;
    while !reader.is_finished() {
        let t = Instant::now();
        assert_eq!(st.list_dir(&dir).await.unwrap().len(), 1000);
        worst = worst.max(t.elapsed());
        n += 1;
    }
    reader.await.unwrap();
    eprintln!(
        "[perf 0 ms] list 1000 entries during 4 x 32 MiB reads: {n} listings, worst {:.3} s",
        worst.as_secs_f64()
    );
    assert!(worst < Duration::from_secs(5), "listing starved: {worst:?}");
}
