//! Issue 11, acceptance 5: a dropped link loses nothing on an SFTP server
//! without `posix-rename@openssh.com`.
//!
//! OpenSSH's sftp-server runs behind `tests/servers/sftp-cut.py` (sshd's
//! `Subsystem sftp`), which hides the extension and ends the session after
//! request N. For every N of a replace through the engine the file reads, after
//! a reconnect and `check --repair`, as its old or its new version, and no
//! backup or temp object is left. Twice: once the writer never comes back (a
//! crash, the link gone for good: only `check` can restore), once it reconnects
//! and retries (a `vault put` or a mount on a flaky link). Key-only sshd, one
//! for all N. Then the replace-related storage conformance tests, uncut.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Kbd, ScriptedPrompter, Servers};
use vault_engine::check::{NoProgress, check};
use vault_engine::{CreateOptions, OpenOptions, Vault};
use vault_sftp::{SftpConfig, SftpStorage};
use vault_storage::conformance::Quirks;
use vault_storage::{Storage, StoragePath};

const TAG: &str = "rc";
const PW: &str = "pw";

/// The cutter's control file (see sftp-cut.py), writable by the test user.
struct Control(PathBuf);

impl Control {
    fn set(&self, line: &str) {
        std::fs::write(&self.0, format!("{line}\n")).unwrap();
    }
    fn get(&self) -> String {
        std::fs::read_to_string(&self.0).unwrap().trim().to_owned()
    }
}

async fn connect(cfg: &SftpConfig, passphrase: &str) -> Arc<SftpStorage> {
    let p = ScriptedPrompter::new(Some(passphrase), Kbd::Fixed("no".into()));
    Arc::new(SftpStorage::connect(cfg.clone(), p).await.expect("login"))
}

async fn read(vault: &Vault, path: &str) -> Vec<u8> {
    let node = vault.resolve(path).await.expect("the file exists");
    let f = vault.open(&node).await.expect("open");
    f.read(0, 1 << 20).await.expect("read").to_vec()
}

/// Overwrites an existing file as `vault put` does: truncate, write, flush.
async fn replace(vault: &Vault, path: &str, data: &[u8]) -> Result<(), vault_engine::VaultError> {
    let node = vault.resolve(path).await?;
    let f = vault.open(&node).await?;
    f.set_len(0).await?;
    f.write(0, data).await?;
    f.flush().await
}

/// A writer that dies with its link: its own runtime, shut down right after
/// the replace returns, so it never reconnects and nothing it spawned runs on.
/// `(result, whether the cut happened)`.
fn crashing_writer(
    cfg: &SftpConfig,
    passphrase: &str,
    ctl: &Control,
    n: usize,
    new: &[u8],
) -> (Result<(), String>, bool) {
    let mut cfg = cfg.clone();
    cfg.reconnect_wait = Duration::from_millis(1);
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let (result, vault) = rt.block_on(async {
                    let st = connect(&cfg, passphrase).await;
                    let vault = Vault::unlock(st, PW, OpenOptions::default())
                        .await
                        .expect("unlock");
                    ctl.set(&format!("cut {n} off"));
                    let r = replace(&vault, "/doc.txt", new)
                        .await
                        .map_err(|e| e.to_string());
                    (r, vault)
                });
                let cut = !ctl.get().starts_with("cut");
                // Dropping the vault would start a background commit: the process is gone.
                std::mem::forget(vault);
                rt.shutdown_background();
                (result, cut)
            })
            .join()
            .unwrap()
    })
}

/// Backup and temp objects anywhere under the vault folder on the server.
fn strays(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            found.extend(strays(&e.path()));
        } else if name.starts_with(".vault-bak-") || name.starts_with(".vault-tmp-") {
            found.push(e.path());
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cut_of_a_replace_leaves_the_old_or_new_version() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let t0 = Instant::now();
    let ctl_dir = tempfile::Builder::new()
        .prefix("vault-sftp-cut-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(ctl_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let ctl = Control(ctl_dir.path().join("ctl"));
    ctl.set("off");
    std::fs::set_permissions(&ctl.0, std::fs::Permissions::from_mode(0o666)).unwrap();
    // VAULT_TEST_CUT_LOG=1: print the requests each step sent (pid, type, id).
    let log = ctl.0.with_extension("log");
    if std::env::var_os("VAULT_TEST_CUT_LOG").is_some() {
        std::fs::write(&log, "").unwrap();
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o666)).unwrap();
    }
    let cutter = common::scripts_dir().join("sftp-cut.py");
    let subsystem = format!("/usr/bin/python3 {} {}", cutter.display(), ctl.0.display());
    let s = Servers::start(TAG, "key", &[("VAULT_TEST_SFTP_SUBSYSTEM", &subsystem)]);
    let passphrase = s.get("VAULT_TEST_SSH_KEY_PASSPHRASE");
    let cfg = s.config("key", "VAULT_TEST_SSH_KEY", "cut");
    let folder = s.sftp_root().join("cut");

    let st = connect(&cfg, &passphrase).await;
    assert!(
        !st.capabilities().atomic_replace,
        "the cutter hides posix-rename"
    );
    let small = CreateOptions {
        scrypt_cost: 1024,
        ..CreateOptions::default()
    };
    let vault = Vault::create(st, PW, small).await.expect("create");
    let f = vault.create_file(&vault.root(), "doc.txt").await.unwrap();
    let h = vault.open(&f).await.unwrap();
    h.write(0, b"version 0").await.unwrap();
    h.flush().await.unwrap();
    drop((h, vault));
    eprintln!("setup {:?}", t0.elapsed());

    // The checker: one connection for the whole test, idle while a cut is armed.
    let checker = connect(&cfg, &passphrase).await;
    let mut current = b"version 0".to_vec();
    let mut restored = 0;
    // The writer that reconnects: one connection for all N, as a mount has.
    let returning_storage = connect(&cfg, &passphrase).await;
    let returning = Vault::unlock(returning_storage.clone(), PW, OpenOptions::default())
        .await
        .expect("unlock");
    for writer_returns in [false, true] {
        let mut n = 1;
        loop {
            let t = Instant::now();
            let new = format!("version {n} ({writer_returns})").into_bytes();
            let (result, cut) = if writer_returns {
                // A cut at the last request may have ended the session unnoticed
                // (no reply awaited): reconnect now, so that N counts the replace only.
                returning_storage
                    .metadata(&StoragePath::root())
                    .await
                    .expect("probe");
                ctl.set(&format!("cut {n} off"));
                let r = replace(&returning, "/doc.txt", &new)
                    .await
                    .map_err(|e| e.to_string());
                (r, !ctl.get().starts_with("cut"))
            } else {
                crashing_writer(&cfg, &passphrase, &ctl, n, &new)
            };
            ctl.set("off");
            if writer_returns {
                assert!(
                    result.is_ok(),
                    "N={n}: the retry after the reconnect succeeds: {result:?}"
                );
            }
            let wrote = t.elapsed();

            // Then: check --repair over a live connection, and the file.
            let vault = Vault::unlock(checker.clone(), PW, OpenOptions::default())
                .await
                .expect("unlock");
            let report = check(&vault, true, &NoProgress).await.expect("check");
            assert_eq!(
                report.remaining().count(),
                0,
                "N={n}: {:#?}",
                report.problems
            );
            restored += report
                .problems
                .iter()
                .filter(|p| p.description.contains("only copy") && p.repaired)
                .count();
            let now = read(&vault, "/doc.txt").await;
            assert!(
                now == current || now == new,
                "N={n} ({writer_returns}): {:?} is neither {:?} nor {:?}",
                String::from_utf8_lossy(&now),
                String::from_utf8_lossy(&current),
                String::from_utf8_lossy(&new)
            );
            assert_eq!(
                strays(&folder),
                Vec::<PathBuf>::new(),
                "N={n}: stray objects"
            );
            eprintln!(
                "N={n} returns={writer_returns}: write {wrote:?}, all {:?}",
                t.elapsed()
            );
            if let Ok(requests) = std::fs::read_to_string(&log) {
                eprintln!("{requests}");
                std::fs::write(&log, "").unwrap();
            }
            current = now;
            if !cut {
                // The replace ran to its end before request N: every cut point was tried.
                assert!(result.is_ok(), "{result:?}");
                assert_eq!(current, new);
                eprintln!("writer returns={writer_returns}: {} cut points", n - 1);
                break;
            }
            n += 1;
        }
    }
    assert!(
        restored > 0,
        "some cut left only the backup, and check restored it"
    );

    // Uncut, the storage contract holds on this server too (the replace paths,
    // names too long for a backup name).
    let t = Instant::now();
    let conf = s.config("key", "VAULT_TEST_SSH_KEY", "conformance");
    for name in [
        "write_modes",
        "nosync_variants",
        "atomic_overwrite",
        "rename_files",
        "long_names",
    ] {
        let st: Arc<dyn Storage> = connect(&conf, &passphrase).await;
        let quirks = Quirks {
            mtime_granularity: Duration::from_secs(1),
            ..Default::default()
        };
        vault_storage::conformance::run_one(name, st, quirks).await;
    }
    eprintln!("conformance subset {:?}", t.elapsed());
    eprintln!("total {:?}", t0.elapsed());
}
