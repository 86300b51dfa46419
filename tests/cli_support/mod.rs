//! Shared helpers of the root crate's tests (`tests/*.rs`, each `mod cli_support;`): run the
//! built `vault` binary, copy fixture vaults to temporary folders; FUSE mounts in [`mount`], the
//! sshd servers and their clients in [`sshd`], the hotel-network namespaces in [`hotel`],
//! `rclone serve webdav` in [`webdav`]. What other crates' tests share too (askpass writers,
//! tree copies and hashes, test servers, ports) comes from the `test-support` crate,
//! re-exported here.
#![allow(dead_code, clippy::unwrap_used)]

pub mod dbus;
pub mod hotel;
pub mod mount;
pub mod s3;
pub mod sshd;
pub mod webdav;

// (each test binary uses its own part of these)
#[allow(unused_imports)]
pub use hotel::*;
#[allow(unused_imports)]
pub use mount::*;
#[allow(unused_imports)]
pub use s3::*;
#[allow(unused_imports)]
pub use sshd::*;
#[allow(unused_imports)]
pub use webdav::*;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};
#[allow(unused_imports)]
pub use test_support::askpass::{prompts_seen, read_lines, write_askpass};
#[allow(unused_imports)]
pub use test_support::files::{copy_tree, tree_state};
#[allow(unused_imports)]
pub use test_support::process::{KillOnDrop, write_script};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_vault")
}

/// The fixtures folder at the workspace root.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The result of one `vault` run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert_eq!(self.code, 0, "expected success; stderr: {}", self.stderr);
        self.stdout_str()
    }

    /// Asserts exit `code` and exactly one error line on stderr (besides `WARN` log lines,
    /// which name ciphertext paths), and returns that line.
    #[track_caller]
    pub fn fails(&self, code: i32) -> String {
        assert_eq!(self.code, code, "exit code; stderr: {}", self.stderr);
        assert!(
            !self.stderr.contains('\u{1b}'),
            "no colour codes when piped: {:?}",
            self.stderr
        );
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim_start().starts_with("WARN "))
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "one error line on stderr, got: {:?}",
            self.stderr
        );
        assert!(lines[0].starts_with("vault: "), "{:?}", lines[0]);
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "{}",
            self.stderr
        );
        lines[0].to_string()
    }
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Runs a prepared command to its end and collects its [`Run`].
pub fn run_cmd(cmd: &mut Command) -> Run {
    cmd.output().expect("run command").into()
}

/// Runs `vault ARGS` with no stdin (never a terminal), VAULT_ASKPASS unset, in `cwd`.
pub fn vault_in(cwd: &Path, args: &[&str]) -> Run {
    run_cmd(
        Command::new(bin())
            .args(args)
            .current_dir(cwd)
            .env_remove("VAULT_ASKPASS")
            .env_remove("VAULT_LOG")
            .stdin(Stdio::null()),
    )
}

/// `timeout LIMIT vault ARGS` (never a hung test) with no stdin, and no VAULT_ASKPASS,
/// VAULT_LOG or ssh-agent from the caller; more arguments and environment may follow.
pub fn vault_cmd(limit_secs: u32, args: &[&str]) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.arg(limit_secs.to_string())
        .arg(bin())
        .args(args)
        .env_remove("VAULT_ASKPASS")
        .env_remove("VAULT_LOG")
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null());
    cmd
}

/// Runs `vault ARGS` in the current directory.
pub fn vault(args: &[&str]) -> Run {
    vault_in(Path::new("."), args)
}

/// A fixture vault copied into a temporary folder.
pub struct FixtureCopy {
    pub tmp: tempfile::TempDir,
    /// The copied vault folder.
    pub vault: PathBuf,
    /// A file holding the right password (with a trailing newline, as editors write it).
    pub password_file: PathBuf,
}

impl FixtureCopy {
    pub fn vault_str(&self) -> &str {
        self.vault.to_str().unwrap()
    }
    pub fn pw(&self) -> &str {
        self.password_file.to_str().unwrap()
    }
}

/// Copies `fixtures/<name>/vault` and its password.
pub fn copy_fixture(name: &str) -> FixtureCopy {
    let tmp = tempfile::tempdir().unwrap();
    let vault = tmp.path().join("vault");
    copy_tree(&fixtures().join(name).join("vault"), &vault);
    let password = std::fs::read_to_string(fixtures().join(name).join("password.txt")).unwrap();
    let password_file = tmp.path().join("password.txt");
    std::fs::write(&password_file, format!("{password}\n")).unwrap();
    // As a user should keep it: a group- or world-readable one gets a warning line.
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    FixtureCopy {
        tmp,
        vault,
        password_file,
    }
}

/// SHA-256 in lower-case hex.
pub fn sha256(data: &[u8]) -> String {
    test_support::files::sha256_hex(data)
}

/// HMAC-SHA256 (for re-signing a vault.cryptomator in the bad-input tests).
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut k = if key.len() > 64 {
        Sha256::digest(key).to_vec()
    } else {
        key.to_vec()
    };
    k.resize(64, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// base64url without padding.
pub fn b64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..=chunk.len() {
            s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    s
}

pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// One expected node from an `expected.json`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Expected {
    pub path: String,
    pub kind: String,
    pub size: Option<u64>,
    pub sha256: Option<String>,
    pub target: Option<String>,
}

/// Reads the `entries` of an expected.json.
pub fn expected(file: &Path) -> Vec<Expected> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let mut out: Vec<Expected> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| Expected {
            path: e["path"].as_str().unwrap().to_string(),
            kind: e["type"].as_str().unwrap().to_string(),
            size: e["size"].as_u64(),
            sha256: e["sha256"].as_str().map(String::from),
            target: e["target"].as_str().map(String::from),
        })
        .collect();
    out.sort();
    out
}

/// The upload queue's journals under `cache` (XDG_CACHE_HOME): (object files, log bytes). A
/// file the queue removes between the listing and its `stat` counts as gone.
pub fn journal_counts(cache: &Path) -> (usize, u64) {
    let (mut objs, mut log) = (0, 0);
    for entry in std::fs::read_dir(cache.join("vault"))
        .into_iter()
        .flatten()
        .flatten()
    {
        for f in std::fs::read_dir(entry.path().join("journal"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.ends_with(".obj") {
                objs += 1;
            } else if name == "log" {
                log += f.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    (objs, log)
}
