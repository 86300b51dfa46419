//! Acceptance 1: `cp -a` a mixed tree in, `diff -r`, remount, `diff -r`, then
//! pycryptomator (an independent implementation) reads the vault folder and
//! matches the source.
//!
//! Size: VAULT_TEST_TREE_FILES (default 1000), VAULT_TEST_TREE_MB (default 100).
//! Python: VAULT_TEST_PYTHON, default /opt/vault-test-pyvenv/bin/python (created
//! with `python3 -m venv` + `pip install pycryptomator` when missing).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("VAULT_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = Path::new("/opt/vault-test-pyvenv");
    let py = venv.join("bin/python");
    let has = Command::new(&py)
        .args(["-c", "import pycryptomator"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !has {
        sh(
            &format!(
                "python3 -m venv {0} && {0}/bin/pip install -q pycryptomator",
                venv.display()
            ),
            Path::new("/"),
        );
    }
    py
}

#[test]
fn cp_a_tree_diff_remount_diff_and_pycryptomator_agrees() {
    let files = env_usize("VAULT_TEST_TREE_FILES", 1000);
    let mb = env_usize("VAULT_TEST_TREE_MB", 100) as u64;
    let mut rng = Rng::new(seed("VAULT_TEST_TREE_SEED"));
    let src_dir = tempfile::tempdir().expect("tempdir");
    let src = src_dir.path().join("tree");
    std::fs::create_dir(&src).expect("mkdir");
    timed("generate tree", || {
        generate_tree(&src, files, mb << 20, &mut rng)
    });

    // The tree holds an absolute and a climbing symlink that must round-trip verbatim:
    // `symlinks=all` (the default `inside` refuses their readlink on purpose).
    let mut m = Mounted::with_options(vault_fs::MountOptions {
        extra_options: vec!["symlinks=all".into()],
        ..vault_fs::MountOptions::default()
    });
    let (s, d) = (src.display().to_string(), m.mnt.display().to_string());
    timed("cp -a", || {
        sh(&format!("cp -a '{s}/.' '{d}/'"), Path::new("/"))
    });
    timed("diff -r (mounted)", || {
        sh(
            &format!("diff -r --no-dereference '{s}' '{d}'"),
            Path::new("/"),
        )
    });
    // Sizes and mtimes as cp -a preserved them.
    let listing = |root: &str| {
        sh(
            &format!("cd '{root}' && find . -type f -printf '%p %s %TY%Tm%Td%TH%TM%TS\\n' | sort"),
            Path::new("/"),
        )
    };
    let want = listing(&s);
    assert_eq!(listing(&d), want, "sizes/mtimes differ after cp -a");

    timed("remount", || m.remount());
    let d = m.mnt.display().to_string();
    timed("diff -r (after remount)", || {
        sh(
            &format!("diff -r --no-dereference '{s}' '{d}'"),
            Path::new("/"),
        )
    });
    assert_eq!(listing(&d), want, "sizes/mtimes differ after remount");
    m.unmount();

    let py = python();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/pycryptomator_compare.py"
    );
    let mut child = Command::new(&py)
        .arg(script)
        .arg(&m.storage)
        .arg(&src)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .expect("password");
    let out = timed("pycryptomator compare", || {
        child.wait_with_output().expect("python")
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "pycryptomator disagrees:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(": 0 mismatches"), "{stdout}");
}
