//! Issue 11, the smaller hostile-storage items, each with its own test: a Unified Vault Format
//! vault is refused (exit 4); a group- or world-readable `--password-file` gets one warning line;
//! `-o allow_root` admits root and the owner only (real FUSE mounts, run as root); the example
//! systemd unit takes the password from the keyring or askpass, never from a file; and the
//! limitation docs/threat-model.md states: a file cut at a chunk boundary reads shorter unnoticed.
//! (The weak-scrypt items are in tests/cli_recovery_key.rs, which has the word-list handling.)

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use cli_support::*;

#[test]
fn a_unified_vault_format_vault_is_refused_with_exit_4() {
    let tmp = tempfile::tempdir().unwrap();
    let uvf = tmp.path().join("uvf");
    std::fs::create_dir_all(uvf.join("d")).unwrap();
    // Shape only: a UVF vault keeps its (JWE) config in vault.uvf and has no vault.cryptomator.
    std::fs::write(
        uvf.join("vault.uvf"),
        "eyJhbGciOiJBMjU2S1ciLCJlbmMiOiJBMjU2R0NNIn0.x.y.z.w",
    )
    .unwrap();
    let fx = copy_fixture("vault-v8");
    let before = tree_state(&uvf);
    for cmd in ["ls", "info", "check"] {
        let msg = vault(&[cmd, uvf.to_str().unwrap(), "--password-file", fx.pw()]).fails(4);
        assert_eq!(
            msg,
            format!(
                "vault: {} is not a vault (Unified Vault Format vaults (vault.uvf) are not supported)",
                uvf.display()
            ),
            "{cmd}"
        );
    }
    assert_eq!(tree_state(&uvf), before, "nothing written");
    // An empty folder still says what is missing.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let msg = vault(&["ls", empty.to_str().unwrap(), "--password-file", fx.pw()]).fails(4);
    assert!(msg.ends_with("(no vault.cryptomator)"), "{msg}");
}

#[test]
fn a_password_file_others_can_read_gets_one_warning_line() {
    let fx = copy_fixture("vault-v8");
    let pw = fx.tmp.path().join("pw");
    std::fs::copy(fx.pw(), &pw).unwrap();
    let ls = |mode: u32| {
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(mode)).unwrap();
        let r = vault(&[
            "ls",
            fx.vault_str(),
            "--password-file",
            pw.to_str().unwrap(),
        ]);
        assert!(r.ok().contains("hello.txt"));
        r.stderr
    };
    let shown = pw.display();
    for (mode, who) in [
        (0o644, "every local user"),
        (0o604, "every local user"),
        (0o640, "its group"),
    ] {
        let stderr = ls(mode);
        assert_eq!(
            stderr.trim_start(),
            format!(
                "WARN password file {shown} can be read by {who} (mode {mode:04o}); run chmod 600 {shown}\n"
            ),
            "{mode:o}"
        );
    }
    for mode in [0o600, 0o400] {
        assert_eq!(ls(mode), "", "{mode:o}: no warning");
    }
    // `-q` keeps stderr for errors only.
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = vault(&[
        "-q",
        "ls",
        fx.vault_str(),
        "--password-file",
        pw.to_str().unwrap(),
    ]);
    r.ok();
    assert_eq!(r.stderr, "");
}

/// `cat FILE` as the unprivileged user nobody (uid/gid 65534): its output, or the error text.
fn cat_as_nobody(file: &Path) -> Result<String, String> {
    let out = Command::new("cat")
        .arg(file)
        .uid(65534)
        .gid(65534)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Mounts the fixture with `flags`, reads hello.txt as root and as nobody, unmounts. Returns
/// nobody's result. (Files show as 0644: only the mount's access rule keeps nobody out.)
fn nobody_reads_through(flags: &[&str]) -> Result<String, String> {
    let s = FuseVault::new();
    // nobody must be able to reach the mountpoint: the temporary folder is 0700.
    std::fs::set_permissions(s.fx.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut args = vec![
        "mount",
        s.fx.vault_str(),
        s.mnt_str(),
        "--password-file",
        s.fx.pw(),
    ];
    args.extend_from_slice(flags);
    let run = vault(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let hello = s.mnt.join("hello.txt");
    assert_eq!(
        std::fs::read(&hello).unwrap().len(),
        12,
        "root, the owner, reads"
    );
    let nobody = cat_as_nobody(&hello);
    vault(&["unmount", s.mnt_str()]).ok();
    nobody
}

#[test]
fn allow_root_admits_root_but_not_other_users() {
    assert!(
        running_as_root(),
        "this test mounts as root and reads as nobody: run it as root"
    );
    let denied = nobody_reads_through(&["-o", "allow_root"]);
    let err = denied.expect_err("nobody must not read an allow_root mount");
    assert!(err.contains("Permission denied"), "{err}");
    // The same mount with --allow-other: every local user reads (what README warns about).
    let allowed = nobody_reads_through(&["--allow-other"]);
    assert_eq!(allowed.map(|t| t.len()), Ok(12));
    // Both at once are refused rather than guessed.
    let s = FuseVault::new();
    let msg = vault(&[
        "mount",
        s.fx.vault_str(),
        s.mnt_str(),
        "--password-file",
        s.fx.pw(),
        "--allow-other",
        "-o",
        "allow_root",
    ])
    .fails(1);
    assert!(msg.contains("cannot be combined"), "{msg}");
    assert!(!is_mounted(&s.mnt));
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

#[test]
fn the_example_systemd_unit_takes_the_password_from_the_keyring_or_askpass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("mount-helpers");
    let unit = std::fs::read_to_string(root.join("vault@.service")).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = readme
        .split("## 2. systemd")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap();
    for (what, text) in [
        ("vault@.service", unit.as_str()),
        ("README section 2", section),
    ] {
        for bad in ["password-file", "password_file", ".password"] {
            assert!(!text.contains(bad), "{what} mentions {bad:?}");
        }
        assert!(text.contains("--remember"), "{what}: the keyring way");
        assert!(text.contains("VAULT_ASKPASS="), "{what}: the askpass way");
    }
    let exec = unit.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
    assert!(exec.contains("vault mount --foreground"), "{exec}");
}

/// Every regular file under `dir` (recursively).
fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// What docs/threat-model.md says about truncation, checked: format 8 has no end-of-file
/// marker, so a file cut after a whole chunk reads as a shorter file without any error and
/// `check` finds nothing; a cut inside a chunk is detected.
#[test]
fn a_file_cut_at_a_chunk_boundary_reads_shorter_without_an_error() {
    let fx = copy_fixture("vault-v8");
    let v = fx.vault_str();
    let src = fx.tmp.path().join("big.bin");
    let data: Vec<u8> = (0..100_003u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    vault(&[
        "put",
        v,
        src.to_str().unwrap(),
        "/big.bin",
        "--password-file",
        fx.pw(),
    ])
    .ok();
    // Header 68 bytes, then 4 chunks (3 of 32 KiB + 28, one of 1699 + 28).
    let size = 68 + 3 * (32768 + 28) + (100_003 - 3 * 32768 + 28);
    let mut all = Vec::new();
    files_under(&fx.vault.join("d"), &mut all);
    let ct: Vec<_> = all
        .into_iter()
        .filter(|p| std::fs::metadata(p).unwrap().len() == size as u64)
        .collect();
    assert_eq!(ct.len(), 1, "the ciphertext of big.bin");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&ct[0])
        .unwrap();
    f.set_len(68 + 2 * (32768 + 28)).unwrap();
    let cat = vault(&["cat", v, "/big.bin", "--password-file", fx.pw()]);
    assert_eq!(cat.code, 0, "{}", cat.stderr);
    assert_eq!(cat.stdout, &data[..65536], "the first two chunks, silently");
    vault(&["check", v, "--password-file", fx.pw()]).ok();
    // Inside a chunk: detected.
    f.set_len(68 + 32768 + 28 + 100).unwrap();
    vault(&["cat", v, "/big.bin", "--password-file", fx.pw()]).fails(1);
}
