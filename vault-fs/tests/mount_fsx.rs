//! Acceptance 2a: fsx-style randomized data test. pread/pwrite/truncate/extend,
//! fsync and close/reopen on several files through the mount, mirrored on
//! reference files in a temp dir; every read and every size is compared.
//! VAULT_FSX_SEED replays a run (the seed is printed); VAULT_FSX_OPS sets the
//! number of operations (default 10,000).

mod common;

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use common::*;

const FILES: usize = 4;
const MAX_LEN: u64 = 1 << 20;

fn open(path: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .expect("open")
}

fn read_fully(f: &File, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        let n = f
            .read_at(&mut buf[done..], offset + done as u64)
            .expect("pread");
        if n == 0 {
            break;
        }
        done += n;
    }
    buf.truncate(done);
    buf
}

#[test]
fn fsx_random_operations_match_reference_files() {
    let seed = seed("VAULT_FSX_SEED");
    let ops = env_usize("VAULT_FSX_OPS", 10_000);
    let mut rng = Rng::new(seed);
    let reference = tempfile::tempdir().expect("tempdir");
    let mut m = Mounted::new();
    let names: Vec<String> = (0..FILES).map(|i| format!("fsx-{i}")).collect();
    let ref_paths: Vec<PathBuf> = names.iter().map(|n| reference.path().join(n)).collect();
    let mnt_paths: Vec<PathBuf> = names.iter().map(|n| m.path(n)).collect();
    let mut refs: Vec<File> = ref_paths.iter().map(|p| open(p)).collect();
    let mut mnts: Vec<File> = mnt_paths.iter().map(|p| open(p)).collect();
    let mut log: VecDeque<String> = VecDeque::new();
    let mut buf = vec![0u8; 256 * 1024];

    let fail = |log: &VecDeque<String>, what: String| -> ! {
        panic!(
            "seed {seed}: {what}\nlast operations:\n{}",
            log.iter().cloned().collect::<Vec<_>>().join("\n")
        );
    };

    let started = std::time::Instant::now();
    for op in 0..ops {
        let k = rng.below(FILES as u64) as usize;
        let size = refs[k].metadata().expect("stat").len();
        let choice = rng.below(100);
        let desc;
        if choice < 40 {
            // pwrite: mostly inside or just past the end, sometimes far out (hole).
            let offset = if rng.below(10) == 0 {
                rng.below(MAX_LEN)
            } else {
                rng.below(size + 1 + 4096)
            };
            let len = match rng.below(4) {
                0 => 1 + rng.below(64),
                1 => 1 + rng.below(4096),
                2 => 32 * 1024,
                _ => 1 + rng.below(buf.len() as u64),
            } as usize;
            let len = len.min((MAX_LEN.saturating_sub(offset)) as usize).max(1);
            rng.fill(&mut buf[..len]);
            refs[k]
                .write_all_at(&buf[..len], offset)
                .expect("ref pwrite");
            if let Err(e) = mnts[k].write_all_at(&buf[..len], offset) {
                fail(&log, format!("op {op}: pwrite {k} @{offset}+{len}: {e}"));
            }
            desc = format!("{op}: pwrite f{k} @{offset} len {len}");
        } else if choice < 75 {
            let offset = rng.below(size + 100);
            let len = 1 + rng.below(200_000) as usize;
            let want = read_fully(&refs[k], offset, len);
            let got = read_fully(&mnts[k], offset, len);
            desc = format!("{op}: pread f{k} @{offset} len {len} (size {size})");
            if got != want {
                let first = got.iter().zip(&want).position(|(a, b)| a != b);
                log.push_back(desc);
                fail(
                    &log,
                    format!(
                        "read mismatch: got {} bytes, want {}, first differing byte {first:?}",
                        got.len(),
                        want.len()
                    ),
                );
            }
        } else if choice < 87 {
            let len = if rng.below(2) == 0 {
                rng.below(size + 1)
            } else {
                rng.below(MAX_LEN)
            };
            refs[k].set_len(len).expect("ref truncate");
            if let Err(e) = mnts[k].set_len(len) {
                fail(&log, format!("op {op}: truncate {k} to {len}: {e}"));
            }
            desc = format!("{op}: truncate f{k} {size} -> {len}");
        } else if choice < 92 {
            if let Err(e) = mnts[k].sync_all() {
                fail(&log, format!("op {op}: fsync {k}: {e}"));
            }
            desc = format!("{op}: fsync f{k}");
        } else {
            // Close and reopen (flush + release; the next open may keep the page cache).
            mnts[k] = open(&mnt_paths[k]);
            refs[k] = open(&ref_paths[k]);
            desc = format!("{op}: reopen f{k}");
        }
        log.push_back(desc);
        if log.len() > 30 {
            log.pop_front();
        }
        let (rs, ms) = (
            refs[k].metadata().expect("stat").len(),
            mnts[k].metadata().map(|m| m.len()),
        );
        if ms.as_ref().ok() != Some(&rs) {
            fail(
                &log,
                format!("size mismatch on f{k}: mount {ms:?}, reference {rs}"),
            );
        }
    }
    eprintln!("{ops} operations in {:.2?}", started.elapsed());
    drop(mnts);
    let compare_all = |m: &Mounted, when: &str| {
        for (i, name) in names.iter().enumerate() {
            let want = std::fs::read(&ref_paths[i]).expect("read ref");
            let got = std::fs::read(m.path(name)).expect("read mount");
            assert!(
                got == want,
                "seed {seed}: {name} differs {when} ({} vs {} bytes)",
                got.len(),
                want.len()
            );
        }
    };
    compare_all(&m, "after close");
    m.remount();
    compare_all(&m, "after remount");
}
