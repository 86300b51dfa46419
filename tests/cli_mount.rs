//! Acceptance 4: the drive through the CLI (real FUSE mounts; needs /dev/fuse and fusermount3,
//! run as root here). `vault mount` detaches and returns 0 only once the mount answers; failures
//! are printed before detaching with a non-zero exit; `vault status` lists the mount;
//! `vault unmount` flushes; SIGKILL of the daemon during a write, `unmount --force`, remount;
//! `--idle`; `mount -t fuse.vault` and an fstab line through mount-helpers/mount.vault; the
//! systemd unit passes `systemd-analyze verify` and its ExecStart command mounts and stops
//! cleanly on SIGTERM.

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cli_support::*;

#[test]
fn mount_detaches_lists_and_unmount_flushes() {
    let s = FuseVault::new();
    let run = vault(&[
        "mount",
        s.fx.vault_str(),
        s.mnt_str(),
        "--password-file",
        s.fx.pw(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Returned 0 only once the mount answers: no waiting needed here.
    assert!(is_mounted(&s.mnt));
    assert_eq!(std::fs::read(s.mnt.join("hello.txt")).unwrap().len(), 12);
    assert_eq!(daemon_pids(&s.mnt).len(), 1, "one detached daemon");
    let status = vault(&["status"]).ok();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with(&format!("{}\t", s.mnt_str())) && l.contains(s.fx.vault_str())),
        "{status}"
    );
    // write through the mount, unmount: the data is on storage
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(s.mnt.join("written.bin"), &data).unwrap();
    // Small new files are stored when the kernel's RELEASE reaches the daemon, after close(2)
    // returned: `vault unmount` returns only once the daemon has stored them and ended.
    std::fs::create_dir(s.mnt.join("many")).unwrap();
    for i in 0..100 {
        std::fs::write(s.mnt.join(format!("many/{i}.txt")), format!("{i}")).unwrap();
    }
    vault(&["unmount", s.mnt_str()]).ok();
    assert!(!is_mounted(&s.mnt));
    assert!(
        daemon_pids(&s.mnt).is_empty(),
        "vault unmount returned while its daemon still ran"
    );
    let listed = vault(&[
        "ls",
        s.fx.vault_str(),
        "/many",
        "--password-file",
        s.fx.pw(),
    ])
    .ok();
    assert_eq!(listed.lines().count(), 100, "{listed}");
    let out = vault(&[
        "cat",
        s.fx.vault_str(),
        "/written.bin",
        "--password-file",
        s.fx.pw(),
    ]);
    assert_eq!(out.stdout, data);
    // unmounting again: not mounted
    vault(&["unmount", s.mnt_str()]).fails(1);
}

#[test]
fn mount_failures_are_reported_before_detaching() {
    let s = FuseVault::new();
    let v = s.fx.vault_str();
    // wrong password
    let bad = s.fx.tmp.path().join("bad");
    std::fs::write(&bad, "nope\n").unwrap();
    let line = vault(&[
        "mount",
        v,
        s.mnt_str(),
        "--password-file",
        bad.to_str().unwrap(),
    ])
    .fails(3);
    assert_eq!(line, format!("vault: wrong password for {v}"));
    assert!(!is_mounted(&s.mnt));
    assert!(daemon_pids(&s.mnt).is_empty());
    // non-empty mountpoint
    std::fs::write(s.mnt.join("file"), "x").unwrap();
    let line = vault(&["mount", v, s.mnt_str(), "--password-file", s.fx.pw()]).fails(1);
    assert_eq!(
        line,
        format!(
            "vault: mountpoint {} is not empty (use -o nonempty to mount over it)",
            s.mnt_str()
        )
    );
    std::fs::remove_file(s.mnt.join("file")).unwrap();
    // missing mountpoint
    let missing = s.fx.tmp.path().join("missing");
    vault(&[
        "mount",
        v,
        missing.to_str().unwrap(),
        "--password-file",
        s.fx.pw(),
    ])
    .fails(1);
    // not a vault
    let empty = s.fx.tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    vault(&[
        "mount",
        empty.to_str().unwrap(),
        s.mnt_str(),
        "--password-file",
        s.fx.pw(),
    ])
    .fails(4);
    assert!(!is_mounted(&s.mnt));
    assert!(daemon_pids(&s.mnt).is_empty());
}

#[test]
fn read_only_mount_writes_nothing() {
    let s = FuseVault::new();
    let before = tree_state(&s.fx.vault);
    vault(&[
        "mount",
        "--read-only",
        s.fx.vault_str(),
        s.mnt_str(),
        "--password-file",
        s.fx.pw(),
    ])
    .ok();
    assert_eq!(
        std::fs::read(s.mnt.join("nested/a/b/c/deep.txt"))
            .unwrap()
            .len(),
        10
    );
    let err = std::fs::write(s.mnt.join("new.txt"), "x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(30), "EROFS: {err}");
    let status = vault(&["status"]).ok();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with(&format!("{}\t", s.mnt_str())) && l.ends_with("\tro")),
        "{status}"
    );
    vault(&["unmount", s.mnt_str()]).ok();
    assert_eq!(tree_state(&s.fx.vault), before);
}

#[test]
fn idle_unmounts_by_itself() {
    let s = FuseVault::new();
    vault(&[
        "mount",
        s.fx.vault_str(),
        s.mnt_str(),
        "--idle",
        "2s",
        "--password-file",
        s.fx.pw(),
    ])
    .ok();
    assert!(is_mounted(&s.mnt));
    wait_until("the idle unmount", Duration::from_secs(15), || {
        !is_mounted(&s.mnt)
    });
    wait_until("the daemon to exit", Duration::from_secs(10), || {
        daemon_pids(&s.mnt).is_empty()
    });
}

#[test]
fn sigkill_during_write_then_force_unmount_and_remount() {
    let s = FuseVault::new();
    let v = s.fx.vault_str();
    let pw = s.fx.pw();
    vault(&["mount", v, s.mnt_str(), "--password-file", pw]).ok();
    let old: Vec<u8> = (0..8_000_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(s.mnt.join("big.bin"), &old).unwrap();
    // Overwrite in place (no O_TRUNC) with new bytes of the same length, and kill mid-way.
    let new: Vec<u8> = (0..8_000_000u32).map(|i| (i % 239) as u8 ^ 0x5a).collect();
    let new_file = s.fx.tmp.path().join("new.bin");
    std::fs::write(&new_file, &new).unwrap();
    let mut writer = Command::new("dd")
        .args(["bs=64k", "conv=notrunc,fsync", "status=none"])
        .arg(format!("if={}", new_file.display()))
        .arg(format!("of={}", s.mnt.join("big.bin").display()))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pids = daemon_pids(&s.mnt);
    assert_eq!(pids.len(), 1);
    Command::new("kill")
        .args(["-9", &pids[0].to_string()])
        .status()
        .unwrap();
    let _ = writer.wait();
    wait_until("the daemon to die", Duration::from_secs(10), || {
        daemon_pids(&s.mnt).is_empty()
    });
    // stale: "Transport endpoint is not connected". The kernel notices the closed
    // /dev/fuse a moment after the process is gone, so poll (bounded) for it.
    wait_until(
        "the mount to go stale (ENOTCONN)",
        Duration::from_secs(10),
        || matches!(std::fs::read_dir(&s.mnt), Err(e) if e.raw_os_error() == Some(107)),
    );
    vault(&["unmount", "--force", s.mnt_str()]).ok();
    assert!(!is_mounted(&s.mnt));
    vault(&["mount", v, s.mnt_str(), "--password-file", pw]).ok();
    let now = std::fs::read(s.mnt.join("big.bin")).unwrap();
    assert!(
        now == old || now == new,
        "the interrupted file is neither its old nor its new content"
    );
    // every other file intact
    for e in expected(&fixtures().join("vault-v8/expected.json")) {
        if e.kind == "file" {
            let p = s.mnt.join(e.path.trim_start_matches('/'));
            assert_eq!(
                sha256(&std::fs::read(&p).unwrap()),
                e.sha256.unwrap(),
                "{}",
                e.path
            );
        }
    }
    vault(&["unmount", s.mnt_str()]).ok();
    // check passes: leftovers of the interrupted write (ciphertext temp objects) are
    // harmless notes, not problems; --repair removes them and leaves nothing to note.
    let out = vault(&["check", v, "--password-file", pw]).ok();
    assert!(
        out.lines()
            .all(|l| l.starts_with("note: ") && l.contains("leftover temp")),
        "{out}"
    );
    vault(&["check", "--repair", v, "--password-file", pw]).ok();
    let out = vault(&["check", v, "--password-file", pw]).ok();
    assert_eq!(out, "", "nothing left to note after --repair");
}

/// How the truncating writer reaches the existing file.
#[derive(Clone, Copy, PartialEq)]
enum TruncPath {
    /// Nothing cached in the kernel: LOOKUP, then OPEN with O_TRUNC.
    Cold,
    /// `ls` of the mount first: the entry is cached, OPEN with O_TRUNC.
    Listed,
    /// The kernel holds a negative entry for the name (looked up before the
    /// file was put): FUSE CREATE with O_TRUNC of a name that exists.
    CreateExisting,
}

/// Issue 4 acceptance 5, truncating variant: `dd of=F` (O_CREAT|O_TRUNC, then
/// dup2 and close of the original descriptor, i.e. a FUSE flush before any
/// write) over an existing file, SIGKILL of the daemon mid-write, `unmount
/// --force`, remount: the file holds its old content (or the new one), never
/// the empty version of the truncation.
fn sigkill_during_truncating_write(path: TruncPath) {
    use std::io::Write;
    let s = FuseVault::new();
    let v = s.fx.vault_str();
    let pw = s.fx.pw();
    let old: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let old_file = s.fx.tmp.path().join("old.bin");
    std::fs::write(&old_file, &old).unwrap();
    let target = s.mnt.join("f.bin");
    let put = || {
        vault(&[
            "put",
            v,
            old_file.to_str().unwrap(),
            "/f.bin",
            "--password-file",
            pw,
        ])
        .ok();
    };
    if path == TruncPath::CreateExisting {
        vault(&[
            "mount",
            v,
            s.mnt_str(),
            "--password-file",
            pw,
            "-o",
            "entry_timeout=120",
        ])
        .ok();
        let err = std::fs::metadata(&target).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        put();
    } else {
        put();
        vault(&["mount", v, s.mnt_str(), "--password-file", pw]).ok();
        if path == TruncPath::Listed {
            let names: Vec<_> = std::fs::read_dir(&s.mnt)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert!(names.iter().any(|n| n == "f.bin"), "{names:?}");
        }
    }
    // The new content comes through a pipe the test holds open: dd has
    // truncated, flushed and written part of it when the daemon dies, and
    // cannot finish before.
    let new: Vec<u8> = (0..8_000_000u32).map(|i| (i % 239) as u8 ^ 0x5a).collect();
    let mut writer = Command::new("dd")
        .args(["bs=64k", "iflag=fullblock", "status=none"])
        .arg(format!("of={}", target.display()))
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut feed = writer.stdin.take().unwrap();
    feed.write_all(&new[..2_000_000]).unwrap();
    let io = format!("/proc/{}/io", writer.id());
    wait_until("dd to write 1 MB", Duration::from_secs(30), || {
        std::fs::read_to_string(&io)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("wchar: "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .is_some_and(|n| n >= 1_000_000)
    });
    std::thread::sleep(Duration::from_millis(300));
    // dd cannot end by itself while the pipe is open: only on an error.
    assert!(
        writer.try_wait().unwrap().is_none(),
        "dd failed before the kill"
    );
    let pids = daemon_pids(&s.mnt);
    assert_eq!(pids.len(), 1);
    Command::new("kill")
        .args(["-9", &pids[0].to_string()])
        .status()
        .unwrap();
    wait_until("the daemon to die", Duration::from_secs(10), || {
        daemon_pids(&s.mnt).is_empty()
    });
    drop(feed);
    let _ = writer.wait();
    vault(&["unmount", "--force", s.mnt_str()]).ok();
    assert!(!is_mounted(&s.mnt));
    vault(&["mount", v, s.mnt_str(), "--password-file", pw]).ok();
    let now = std::fs::read(&target).unwrap();
    assert!(
        now == old || now == new,
        "the interrupted file is neither its old nor its new content ({} bytes)",
        now.len()
    );
    vault(&["unmount", s.mnt_str()]).ok();
    // check passes (the interrupted write's leftover shadow is a harmless note); --repair
    // clears it.
    vault(&["check", v, "--password-file", pw]).ok();
    vault(&["check", "--repair", v, "--password-file", pw]).ok();
    vault(&["check", v, "--password-file", pw]).ok();
    vault(&["mount", v, s.mnt_str(), "--password-file", pw]).ok();
    assert_eq!(std::fs::read(&target).unwrap(), now, "changed by --repair");
    vault(&["unmount", s.mnt_str()]).ok();
}

#[test]
fn sigkill_during_truncating_write_cold_open() {
    sigkill_during_truncating_write(TruncPath::Cold);
}

#[test]
fn sigkill_during_truncating_write_after_ls() {
    sigkill_during_truncating_write(TruncPath::Listed);
}

#[test]
fn sigkill_during_truncating_write_fuse_create_of_existing_name() {
    sigkill_during_truncating_write(TruncPath::CreateExisting);
}

#[test]
fn mount_helper_for_mount_t_fuse_vault_and_fstab() {
    let s = FuseVault::new();
    let helper = Path::new(env!("CARGO_MANIFEST_DIR")).join("mount-helpers/mount.vault");
    let link = Path::new("/sbin/mount.fuse.vault");
    // Installed as the docs say (a symlink to this checkout's helper); an installed regular
    // file is someone's real helper and is left alone.
    match std::fs::symlink_metadata(link) {
        Ok(m) if !m.file_type().is_symlink() => {
            panic!("{} exists and is not a symlink", link.display())
        }
        Ok(_) if std::fs::read_link(link).unwrap() == helper => {}
        Ok(_) => {
            std::fs::remove_file(link).unwrap();
            std::os::unix::fs::symlink(&helper, link).unwrap();
        }
        Err(_) => std::os::unix::fs::symlink(&helper, link).unwrap(),
    }
    let run = Command::new("mount")
        .args(["-t", "fuse.vault", s.fx.vault_str(), s.mnt_str()])
        .arg("-o")
        .arg(format!("password_file={},ro,noauto,x-gvfs-show", s.fx.pw()))
        .env("VAULT_BIN", bin())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(is_mounted(&s.mnt));
    assert_eq!(std::fs::read(s.mnt.join("hello.txt")).unwrap().len(), 12);
    assert!(
        std::fs::write(s.mnt.join("x"), "x").is_err(),
        "ro was passed on"
    );
    assert!(
        Command::new("umount")
            .arg(&s.mnt)
            .status()
            .unwrap()
            .success()
    );
    wait_until("the unmount", Duration::from_secs(10), || {
        !is_mounted(&s.mnt)
    });

    // An fstab line (mount -T uses another fstab file, so the system's is not touched).
    let fstab = s.fx.tmp.path().join("fstab");
    std::fs::write(
        &fstab,
        format!(
            "{} {} fuse.vault noauto,password_file={},idle=1h 0 0\n",
            s.fx.vault_str(),
            s.mnt_str(),
            s.fx.pw()
        ),
    )
    .unwrap();
    let run = Command::new("mount")
        .arg("-T")
        .arg(&fstab)
        .arg(&s.mnt)
        .env("VAULT_BIN", bin())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::write(s.mnt.join("via-fstab.txt"), "hi").unwrap();
    vault(&["unmount", s.mnt_str()]).ok();
    let out = vault(&[
        "cat",
        s.fx.vault_str(),
        "/via-fstab.txt",
        "--password-file",
        s.fx.pw(),
    ]);
    assert_eq!(out.stdout, b"hi");
    // a wrong password is reported by mount(8) with a failure status
    let bad = s.fx.tmp.path().join("bad");
    std::fs::write(&bad, "nope\n").unwrap();
    let run = Command::new("mount")
        .args(["-t", "fuse.vault", s.fx.vault_str(), s.mnt_str()])
        .arg("-o")
        .arg(format!("password_file={}", bad.display()))
        .env("VAULT_BIN", bin())
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("wrong password"));
    assert!(!is_mounted(&s.mnt));
}

#[test]
fn systemd_unit_verifies_and_its_command_runs() {
    let s = FuseVault::new();
    let dir = s.fx.tmp.path().join("units");
    let cfg = s.fx.tmp.path().join("cfg/vault");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&cfg).unwrap();
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("mount-helpers/vault@.service"),
    )
    .unwrap();
    std::fs::write(
        dir.join("vault@.service"),
        unit.replace("=vault ", &format!("={} ", bin()))
            .replace("=-vault ", &format!("=-{} ", bin())),
    )
    .unwrap();
    // The unit's askpass way (it documents no password file).
    let askpass = s.fx.tmp.path().join("askpass");
    write_askpass(
        &askpass,
        false,
        &[("'Vault password for '*", format!("cat '{}'", s.fx.pw()))],
    );
    std::fs::write(
        cfg.join("test.env"),
        format!(
            "VAULT_STORAGE={}\nVAULT_MOUNTPOINT={}\nVAULT_ASKPASS={}\n",
            s.fx.vault_str(),
            s.mnt_str(),
            askpass.display()
        ),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "./vault@test.service"])
        .current_dir(&dir)
        .output()
        .expect("systemd-analyze (Debian package systemd)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The ExecStart command, as systemd would run it (foreground), then SIGTERM as on stop.
    let mut child = Command::new(bin())
        .args(["mount", "--foreground", s.fx.vault_str(), s.mnt_str()])
        .env("VAULT_ASKPASS", &askpass)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the foreground mount", Duration::from_secs(15), || {
        is_mounted(&s.mnt)
    });
    std::fs::write(s.mnt.join("from-unit.txt"), "unit").unwrap();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!is_mounted(&s.mnt));
    let out = vault(&[
        "cat",
        s.fx.vault_str(),
        "/from-unit.txt",
        "--password-file",
        s.fx.pw(),
    ]);
    assert_eq!(out.stdout, b"unit");
}
