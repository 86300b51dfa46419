//! Generated test trees: the mixed folder every copy, mount and round-trip test writes through a
//! vault (nested folders, names long enough to be shortened in the vault, Unicode names, empty
//! files and exact chunk multiples, a few big files, symlinks of every kind).

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::rng::Rng;

/// What to generate.
#[derive(Clone, Debug)]
pub struct TreeSpec {
    /// Regular files in the random folders (two more stand at the top).
    pub files: usize,
    /// Random folders (besides the root and a five-level chain under `deep/`).
    pub dirs: usize,
    /// How many of the files are big, and their sizes.
    pub big: usize,
    pub big_size: Range<u64>,
    /// The other files: below this size, except that one in ten is empty and one in ten is a
    /// whole number (1 to `chunk_multiples`) of 32 KiB chunks.
    pub small_max: u64,
    pub chunk_multiples: u64,
}

impl TreeSpec {
    /// `files` files, four of 1 to 2 MiB, the rest up to 20 kB; twelve folders.
    pub fn mixed(files: usize) -> TreeSpec {
        TreeSpec {
            files,
            dirs: 12,
            big: 4.min(files),
            big_size: (1 << 20)..(2 << 20),
            small_max: 20_000,
            chunk_multiples: 2,
        }
    }

    /// `files` files totalling about `total_bytes`: a few big ones (up to 5 MiB) hold three
    /// quarters of it; one folder per 25 files.
    pub fn sized(files: usize, total_bytes: u64) -> TreeSpec {
        let big = (files / 100).clamp(2, 20).min(files);
        let big_size = ((total_bytes * 3 / 4) / big.max(1) as u64).clamp(4097, 5 << 20);
        let small_budget = total_bytes.saturating_sub(big_size * big as u64);
        let small_avg = (small_budget / (files - big).max(1) as u64).max(1);
        TreeSpec {
            files,
            dirs: (files / 25).max(4),
            big,
            big_size: (big_size - 4096)..big_size,
            small_max: small_avg * 2,
            chunk_multiples: 3,
        }
    }
}

const UNICODE: [&str; 7] = [
    "Grüße",
    "日本語のファイル",
    "emoji-😀-name",
    "Ελληνικά",
    "façade",
    "naïve café",
    "中文目录",
];

/// Generates the tree of `spec` under `root` (created); returns the regular files made.
pub fn generate_tree(root: &Path, spec: &TreeSpec, rng: &mut Rng) -> Vec<PathBuf> {
    std::fs::create_dir_all(root).expect("mkdir root");
    let mut dirs = vec![root.to_path_buf()];
    for i in 0..spec.dirs {
        let parent = rng.pick(&dirs).expect("root").clone();
        let name = match i % 4 {
            0 => format!("{}-{i}", UNICODE[i % UNICODE.len()]),
            1 => format!("long-dir-{}-{i}", "d".repeat(150)),
            _ => format!("dir{i}"),
        };
        let d = parent.join(name);
        std::fs::create_dir_all(&d).expect("mkdir");
        dirs.push(d);
    }
    let deep = (0..5).fold(root.join("deep"), |p, i| p.join(format!("level{i}")));
    std::fs::create_dir_all(&deep).expect("mkdir deep");
    dirs.push(deep.clone());
    let mut made = Vec::new();
    for i in 0..spec.files {
        let dir = rng.pick(&dirs).expect("root").clone();
        let path = dir.join(file_name(i));
        let size = file_size(spec, i, rng) as usize;
        let data = rng.bytes(size);
        std::fs::write(&path, &data).expect("write");
        made.push(path);
    }
    // Always one long name and one Unicode name at the top.
    let top_long = root.join(format!("long-top-{}.txt", "y".repeat(170)));
    std::fs::write(&top_long, b"top long\n").expect("write");
    std::fs::write(root.join("Ünïcödé top 日本.txt"), b"top unicode\n").expect("write");
    made.push(top_long);
    symlinks(root, &deep, &made[spec.files / 2]);
    made
}

fn file_name(i: usize) -> String {
    match i % 8 {
        0 => format!("{}-{i}.txt", UNICODE[i % UNICODE.len()]),
        1 => format!("long-file-name-{}-{i}.bin", "x".repeat(160)),
        // 160+ bytes in 80+ characters
        2 => format!("ünïcödé-{}-{i}", "é".repeat(80)),
        3 => format!("{i}.dat"),
        _ => format!("file-{i}"),
    }
}

fn file_size(spec: &TreeSpec, i: usize, rng: &mut Rng) -> u64 {
    if i < spec.big {
        let span = spec.big_size.end - spec.big_size.start;
        return spec.big_size.start + rng.below(span);
    }
    match rng.below(10) {
        0 => 0,
        1 => 32 * 1024 * (1 + rng.below(spec.chunk_multiples)),
        _ => rng.below(spec.small_max),
    }
}

/// Symlinks: relative to a file, to a folder, dangling, absolute, and a Unicode one deep down.
fn symlinks(root: &Path, deep: &Path, file: &Path) {
    let link =
        |target: &Path, at: PathBuf| std::os::unix::fs::symlink(target, at).expect("symlink");
    let target = file.strip_prefix(root).expect("under root");
    link(target, root.join("link-to-file"));
    link(Path::new("deep"), root.join("link-to-dir"));
    link(Path::new("does/not/exist"), root.join("dangling-link"));
    link(Path::new("/etc/hostname"), root.join("absolute-link"));
    link(
        Path::new("../../up-and-around ü"),
        deep.join("ünïcödé-link"),
    );
}
