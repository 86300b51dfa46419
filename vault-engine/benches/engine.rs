//! Engine benches over LocalStorage: path resolution (cold and warm),
//! listing a 5,000-entry directory, and sequential reads of a big file
//! through the engine beside the same ciphertext bytes read straight from
//! disk in the same run.
//!
//! `VAULT_BENCH_READ_MB` sets the big file's size (default 1024 = 1 GiB);
//! `VAULT_BENCH_READ_MB=64 cargo bench -p vault-engine` is a quick run.
//! The page cache is warm for both reads (the file was just written), so the
//! comparison isolates the engine's cost (crypto + chunking + storage calls).
//!
//! `small files`: create + open + write 4 KiB + close per file over a
//! LocalStorage *with* fsync (the default), closing with `flush` (durable,
//! fsync(2) semantics) or with `commit` (close(2) semantics) followed by one
//! `syncfs` of the storage's file system per batch (what `sync` costs).
//! `random 4 KiB reads`: aligned 4 KiB reads at random offsets of the big file.

use std::io::Read;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vault_engine::{CreateOptions, DirId, NodeKind, Vault};
use vault_storage::LocalStorage;

const DEPTH: usize = 8;
const LIST_ENTRIES: usize = 5_000;
const BLOCK: usize = 1 << 20;

struct Setup {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    vault: Vault,
    deep_path: String,
    big_dir: DirId,
    big_file: String,
    big_len: u64,
}

fn read_mb() -> u64 {
    std::env::var("VAULT_BENCH_READ_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024)
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = Arc::new(
        LocalStorage::new(dir.path())
            .expect("local")
            .with_fsync(false),
    );
    let vault = Vault::create(
        storage,
        "bench",
        CreateOptions {
            scrypt_cost: 1024,
            ..CreateOptions::default()
        },
    )
    .await
    .expect("create");
    // A deep path.
    let mut id = vault.root();
    let mut deep_path = String::new();
    for i in 0..DEPTH {
        let name = format!("level-{i}");
        deep_path.push('/');
        deep_path.push_str(&name);
        id = match vault.create_dir(&id, &name).await.expect("mkdir").kind {
            NodeKind::Dir(d) => d,
            _ => unreachable!(),
        };
    }
    vault.create_file(&id, "leaf.txt").await.expect("leaf");
    deep_path.push_str("/leaf.txt");
    // A big directory.
    let big_dir = match vault
        .create_dir(&vault.root(), "big-dir")
        .await
        .expect("mkdir")
        .kind
    {
        NodeKind::Dir(d) => d,
        _ => unreachable!(),
    };
    for i in 0..LIST_ENTRIES {
        vault
            .create_file(&big_dir, &format!("file-{i:05}.txt"))
            .await
            .expect("create");
    }
    // A big file, written sequentially through the engine.
    let big_len = read_mb() << 20;
    let node = vault
        .create_file(&vault.root(), "big.bin")
        .await
        .expect("create");
    let f = vault.open(&node).await.expect("open");
    let block: Vec<u8> = (0..BLOCK).map(|i| (i % 251) as u8).collect();
    let t = std::time::Instant::now();
    let mut off = 0;
    while off < big_len {
        f.write(off, &block).await.expect("write");
        off += BLOCK as u64;
    }
    f.flush().await.expect("flush");
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "setup: wrote {} MiB through the engine in {secs:.2} s = {:.0} MiB/s",
        big_len >> 20,
        (big_len >> 20) as f64 / secs
    );
    drop(f);
    // The same bytes written straight to a plain file, for comparison.
    {
        use std::io::Write;
        let t = std::time::Instant::now();
        let mut raw = std::fs::File::create(dir.path().join("raw-plain.bin")).expect("create raw");
        let mut off = 0;
        while off < big_len {
            raw.write_all(&block).expect("write raw");
            off += BLOCK as u64;
        }
        drop(raw);
        let secs = t.elapsed().as_secs_f64();
        eprintln!(
            "setup: wrote {} MiB straight to disk in {secs:.2} s = {:.0} MiB/s",
            big_len >> 20,
            (big_len >> 20) as f64 / secs
        );
        std::fs::remove_file(dir.path().join("raw-plain.bin")).expect("rm raw");
    }
    let big_file = vault
        .resolve("/big.bin")
        .await
        .expect("resolve")
        .storage_path;
    Setup {
        root: dir.path().to_path_buf(),
        _dir: dir,
        vault,
        deep_path,
        big_dir,
        big_file,
        big_len,
    }
}

/// A LocalStorage vault with fsync on (the default), for the small-files case.
async fn durable_vault() -> (tempfile::TempDir, Vault) {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = Arc::new(LocalStorage::new(dir.path()).expect("local"));
    let vault = Vault::create(
        storage,
        "bench",
        CreateOptions {
            scrypt_cost: 1024,
            ..CreateOptions::default()
        },
    )
    .await
    .expect("create");
    (dir, vault)
}

/// Creates `n` files of 4 KiB in a fresh directory; `durable_close`: each
/// closed with `flush`, else with `commit` and one syncfs at the end.
async fn create_small_files(
    vault: &Vault,
    root: &std::path::Path,
    batch: u64,
    n: u64,
    durable_close: bool,
) -> std::time::Duration {
    let data = vec![0x5au8; 4096];
    let t = std::time::Instant::now();
    let dir = match vault
        .create_dir(&vault.root(), &format!("batch-{batch}-{durable_close}"))
        .await
        .expect("mkdir")
        .kind
    {
        NodeKind::Dir(d) => d,
        _ => unreachable!(),
    };
    for i in 0..n {
        let node = vault
            .create_file(&dir, &format!("small-{i:06}.bin"))
            .await
            .expect("create");
        let f = vault.open(&node).await.expect("open");
        f.write(0, &data).await.expect("write");
        if durable_close {
            f.flush().await.expect("flush");
        } else {
            f.commit().await.expect("commit");
        }
    }
    if !durable_close {
        let root = root.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let d = std::fs::File::open(root).expect("open root");
            rustix::fs::syncfs(&d).expect("syncfs");
        })
        .await
        .expect("join");
    }
    t.elapsed()
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let s = rt.block_on(setup());
    let s = &s;
    let (small_dir, small_vault) = rt.block_on(durable_vault());

    let mut g = c.benchmark_group("small files (fsync on), per file");
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(8));
    let batch = std::sync::atomic::AtomicU64::new(0);
    for (label, durable) in [
        ("create + 4 KiB + flush", true),
        ("create + 4 KiB + commit, syncfs per batch", false),
    ] {
        g.bench_function(label, |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let n = batch.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let (v, root) = (&small_vault, small_dir.path());
                async move { create_small_files(v, root, n, iters, durable).await }
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("random 4 KiB reads");
    g.sample_size(10);
    let seed = std::sync::atomic::AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    g.bench_function(
        format!("engine over LocalStorage, {} MiB file", s.big_len >> 20),
        |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let mut x =
                    seed.fetch_add(0x2545_f491_4f6c_dd1d, std::sync::atomic::Ordering::Relaxed);
                let blocks = s.big_len / 4096;
                async move {
                    let node = s.vault.resolve("/big.bin").await.expect("resolve");
                    let f = s.vault.open(&node).await.expect("open");
                    let t = std::time::Instant::now();
                    for _ in 0..iters {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let off = (x % blocks) * 4096;
                        let r = f.read(off, 4096).await.expect("read");
                        assert_eq!(r.len(), 4096);
                    }
                    t.elapsed()
                }
            })
        },
    );
    g.finish();

    let mut g = c.benchmark_group("resolve");
    g.bench_function(format!("cold depth {}", DEPTH + 1), |b| {
        b.to_async(&rt).iter(|| async {
            s.vault.clear_caches();
            s.vault.resolve(&s.deep_path).await.expect("resolve")
        })
    });
    g.bench_function(format!("warm depth {}", DEPTH + 1), |b| {
        b.to_async(&rt)
            .iter(|| async { s.vault.resolve(&s.deep_path).await.expect("resolve") })
    });
    g.finish();

    let mut g = c.benchmark_group("list");
    g.sample_size(10);
    g.throughput(Throughput::Elements(LIST_ENTRIES as u64));
    g.bench_function("5000 entries", |b| {
        b.to_async(&rt).iter(|| async {
            let n = s.vault.list(&s.big_dir).await.expect("list");
            assert_eq!(n.len(), LIST_ENTRIES);
            n
        })
    });
    g.finish();

    let mut g = c.benchmark_group(format!("sequential read {} MiB", s.big_len >> 20));
    g.sample_size(10);
    g.throughput(Throughput::Bytes(s.big_len));
    g.bench_function("engine over LocalStorage", |b| {
        b.to_async(&rt).iter(|| async {
            let node = s.vault.resolve("/big.bin").await.expect("resolve");
            let f = s.vault.open(&node).await.expect("open");
            let mut off = 0u64;
            let mut total = 0usize;
            loop {
                let chunk = f.read(off, BLOCK).await.expect("read");
                if chunk.is_empty() {
                    break;
                }
                total += chunk.len();
                off += chunk.len() as u64;
            }
            assert_eq!(total as u64, s.big_len);
            total
        })
    });
    g.bench_function("engine over LocalStorage, 128 KiB reads", |b| {
        b.to_async(&rt).iter(|| async {
            let node = s.vault.resolve("/big.bin").await.expect("resolve");
            let f = s.vault.open(&node).await.expect("open");
            let mut off = 0u64;
            loop {
                let chunk = f.read(off, 128 << 10).await.expect("read");
                if chunk.is_empty() {
                    break;
                }
                off += chunk.len() as u64;
            }
            assert_eq!(off, s.big_len);
            off
        })
    });
    let ciphertext = s.root.join(&s.big_file);
    g.bench_function("raw ciphertext from disk", |b| {
        b.iter(|| {
            let mut file = std::fs::File::open(&ciphertext).expect("open");
            let mut buf = vec![0u8; BLOCK];
            let mut total = 0usize;
            loop {
                let n = file.read(&mut buf).expect("read");
                if n == 0 {
                    break;
                }
                total += n;
            }
            total
        })
    });
    g.finish();
}

criterion_group!(engine, benches);
criterion_main!(engine);
