//! `vault mount` prints the mountpoint; `--reveal` opens it in the file manager through
//! `xdg-open` (else `gio open`) on a desktop, and otherwise, or when opening fails, prints a
//! one-line note; the mount never fails for it. Recording stand-ins for `xdg-open` and `gio`
//! come first in PATH. Real FUSE mounts (root, /dev/fuse).

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use cli_support::*;

/// The fixture vault and its mountpoint (`vault unmount` when dropped), and a folder `bin` of
/// stand-in programs.
type Setup = FuseVault;

impl FuseVault {
    fn with_stubs() -> FuseVault {
        let v = FuseVault::new().graceful();
        std::fs::create_dir(v.stubs()).unwrap();
        v
    }

    fn stubs(&self) -> PathBuf {
        self.fx.tmp.path().join("bin")
    }

    /// A stand-in `name` that appends its arguments to `name.calls` and exits `code`.
    fn stub(&self, name: &str, code: i32) {
        let path = self.stubs().join(name);
        write_script(
            &path,
            &format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\nexit {code}\n",
                self.calls_file(name).display()
            ),
        );
    }

    fn calls_file(&self, name: &str) -> PathBuf {
        self.fx.tmp.path().join(format!("{name}.calls"))
    }

    fn calls(&self, name: &str) -> Vec<String> {
        read_lines(&self.calls_file(name))
    }

    /// `vault mount --reveal` with the stand-ins first in PATH and `display` as DISPLAY.
    fn mount_reveal(&self, display: Option<&str>) -> Run {
        let path = format!(
            "{}:{}",
            self.stubs().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new(bin());
        cmd.args([
            "mount",
            self.fx.vault_str(),
            self.mnt.to_str().unwrap(),
            "--reveal",
            // (DISPLAY is set: keep this user's real file-manager sidebar out of it)
            "--no-sidebar",
        ])
        .args(["--password-file", self.fx.pw()])
        .env("PATH", path)
        .env("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("VAULT_ASKPASS")
        .env_remove("VAULT_LOG")
        .stdin(Stdio::null());
        match display {
            Some(d) => cmd.env("DISPLAY", d),
            None => cmd.env_remove("DISPLAY"),
        };
        run_cmd(&mut cmd)
    }
}

#[test]
fn mount_prints_the_mountpoint_and_reveal_opens_it_with_xdg_open() {
    let s = Setup::with_stubs();
    s.stub("xdg-open", 0);
    s.stub("gio", 0);
    let run = s.mount_reveal(Some(":99"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout_str(), format!("{}\n", s.mnt_str()));
    assert!(is_mounted(&s.mnt));
    assert_eq!(
        s.calls("xdg-open"),
        [s.mnt_str()],
        "xdg-open MOUNTPOINT, once"
    );
    assert!(s.calls("gio").is_empty(), "gio not needed");
    assert!(run.stderr.is_empty(), "no note: {}", run.stderr);
}

#[test]
fn reveal_falls_back_to_gio_and_a_failure_never_fails_the_mount() {
    let s = Setup::with_stubs();
    s.stub("xdg-open", 3);
    s.stub("gio", 4);
    let run = s.mount_reveal(Some(":99"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(is_mounted(&s.mnt), "mounted despite the opener failing");
    assert_eq!(run.stdout_str(), format!("{}\n", s.mnt_str()));
    assert_eq!(s.calls("xdg-open"), [s.mnt_str()]);
    assert_eq!(s.calls("gio"), [format!("open {}", s.mnt_str())]);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one note line: {}", run.stderr);
    assert!(
        lines[0].starts_with("vault: note: could not open") && lines[0].contains("xdg-open"),
        "{}",
        lines[0]
    );
}

#[test]
fn reveal_without_a_desktop_prints_a_note_and_opens_nothing() {
    let s = Setup::with_stubs();
    s.stub("xdg-open", 0);
    let run = s.mount_reveal(None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(is_mounted(&s.mnt));
    assert_eq!(run.stdout_str(), format!("{}\n", s.mnt_str()));
    assert!(
        s.calls("xdg-open").is_empty(),
        "no opener without a desktop"
    );
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one note line: {}", run.stderr);
    assert!(lines[0].contains("no desktop session"), "{}", lines[0]);
}
