//! Whole-file decrypt on one thread vs two (issue 15): decrypts one file of `MIB` MiB
//! (default 256) `ROUNDS` times each way, interleaved, and prints the median speed-up.
//!
//! Next to the wall-clock figures it reads each worker thread's scheduler account
//! (`/proc/thread-self/schedstat`: nanoseconds on a CPU, nanoseconds runnable but waiting
//! for one). On a machine whose second core is busy with other work the two-thread run
//! waits on the run queue instead of decrypting: the "cores got" column says how many CPUs
//! the run really had, and "GB/s per CPU-second" shows whether decrypting itself slows down
//! with two threads (it would, if the code shared a lock or a cache line between them).
//!
//!   cargo run --release -p vault-format --example decrypt_scaling [MIB] [ROUNDS]
#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench: a panic is the failure report

use std::hint::black_box;
use std::time::{Duration, Instant};

use vault_format::{CLEARTEXT_CHUNK_SIZE, CipherCombo, Cryptor, FileHeader, MasterKey};

/// (on-CPU, run-queue wait) of the calling thread; zeros where the kernel has no schedstat.
fn sched() -> (Duration, Duration) {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let mut it = text
        .split_whitespace()
        .map(|v| v.parse::<u64>().unwrap_or(0));
    let run = it.next().unwrap_or(0);
    let wait = it.next().unwrap_or(0);
    (Duration::from_nanos(run), Duration::from_nanos(wait))
}

struct Run {
    wall: Duration,
    cpu: Duration,
    wait: Duration,
}

fn decrypt(
    cr: &Cryptor,
    header: &FileHeader,
    chunks: &[&[u8]],
    range: std::ops::Range<usize>,
    out: &mut Vec<u8>,
) -> (Duration, Duration) {
    let (r0, w0) = sched();
    out.clear();
    for i in range {
        cr.decrypt_chunk(header, i as u64, chunks[i], out)
            .expect("chunk authenticates");
    }
    black_box(&out);
    let (r1, w1) = sched();
    (r1.saturating_sub(r0), w1.saturating_sub(w0))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(256);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(7);
    let n = (mib << 20) / CLEARTEXT_CHUNK_SIZE;
    let cr = Cryptor::new(MasterKey::from_raw(&[0x42; 64]), CipherCombo::SivGcm);
    let clear: Vec<u8> = (0..n * CLEARTEXT_CHUNK_SIZE).map(|i| i as u8).collect();
    let file = cr.encrypt_file(&clear);
    drop(clear);
    let combo = cr.combo();
    let header = cr.decrypt_header(&file).expect("header");
    let chunks: Vec<&[u8]> = file[combo.header_len()..]
        .chunks(combo.ciphertext_chunk_len())
        .collect();
    // Output buffers are allocated and touched once, so page faults are not measured.
    let mut out_a = Vec::with_capacity(n * CLEARTEXT_CHUNK_SIZE);
    let mut out_b = Vec::with_capacity(n * CLEARTEXT_CHUNK_SIZE);
    decrypt(&cr, &header, &chunks, 0..n, &mut out_a);
    decrypt(&cr, &header, &chunks, 0..n, &mut out_b);

    let (mut one, mut two) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        let (cpu, wait) = decrypt(&cr, &header, &chunks, 0..n, &mut out_a);
        one.push(Run {
            wall: t.elapsed(),
            cpu,
            wait,
        });
        let t = Instant::now();
        let ((c1, w1), (c2, w2)) = std::thread::scope(|s| {
            let (cr, header, chunks) = (&cr, &header, &chunks);
            let b = &mut out_b;
            let other = s.spawn(move || decrypt(cr, header, chunks, n / 2..n, b));
            let first = decrypt(cr, header, chunks, 0..n / 2, &mut out_a);
            (first, other.join().expect("worker"))
        });
        two.push(Run {
            wall: t.elapsed(),
            cpu: c1 + c2,
            wait: w1 + w2,
        });
    }
    let bytes = (n * CLEARTEXT_CHUNK_SIZE) as f64;
    let gbps = |d: Duration| bytes / d.as_secs_f64() / 1e9;
    let speedups: Vec<f64> = one
        .iter()
        .zip(&two)
        .map(|(a, b)| a.wall.as_secs_f64() / b.wall.as_secs_f64())
        .collect();
    println!(
        "whole-file decrypt {mib} MiB, SIV_GCM, {rounds} interleaved rounds, {} CPUs online",
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );
    println!(
        "{:<10} {:>10} {:>10} {:>12} {:>20}",
        "threads", "GB/s", "cores got", "queue wait", "GB/s per CPU-second"
    );
    for (label, runs) in [("1", &one), ("2", &two)] {
        let wall = median(runs.iter().map(|r| gbps(r.wall)).collect());
        let cores = median(
            runs.iter()
                .map(|r| r.cpu.as_secs_f64() / r.wall.as_secs_f64())
                .collect(),
        );
        let wait = median(
            runs.iter()
                .map(|r| r.wait.as_secs_f64() / r.wall.as_secs_f64())
                .collect(),
        );
        let per_cpu = median(runs.iter().map(|r| gbps(r.cpu)).collect());
        println!(
            "{label:<10} {wall:>10.2} {cores:>10.2} {:>11.0}% {per_cpu:>20.2}",
            wait * 100.0
        );
    }
    println!(
        "speed-up, 2 threads / 1 (median of per-round ratios): {:.2}x",
        median(speedups)
    );
    println!(
        "load average: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
}
