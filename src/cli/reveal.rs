//! `vault mount --reveal`: open the mountpoint in the desktop's file manager (`xdg-open`, else
//! `gio open`). Only on a desktop (`DISPLAY` or `WAYLAND_DISPLAY` set); otherwise, and when no
//! opener works, a one-line note on stderr. Never fails the mount.
//!
//! Also [`open_url`] for a web page a server named (Nextcloud's login page): an opener is handed
//! only `https://` or loopback `http://` URLs ([`browser_safe_url`]), never `file:`, a custom
//! scheme or text that an opener could read as an option.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The programs tried in turn: program and the arguments before the path.
const OPENERS: &[(&str, &[&str])] = &[("xdg-open", &[]), ("gio", &["open"])];

/// How long an opener may take to report failure; one still running then is left to it.
const OPENER_WAIT: Duration = Duration::from_secs(5);

/// True when a graphical session is there to show a file manager.
pub fn on_desktop(display: Option<&OsStr>, wayland_display: Option<&OsStr>) -> bool {
    [display, wayland_display]
        .into_iter()
        .flatten()
        .any(|v| !v.is_empty())
}

/// True for a URL that may go to a browser: `https://HOST…`, or `http://` to this machine.
/// Anything else (another scheme, plain HTTP elsewhere, whitespace or control characters, a
/// leading `-`) is refused.
pub fn browser_safe_url(url: &str) -> bool {
    if url.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let host = parsed.host_str().unwrap_or("");
    !host.is_empty()
        && url.get(..parsed.scheme().len()) == Some(parsed.scheme())
        && vault_storage::cleartext::may_send_credentials(parsed.scheme(), host, false)
}

/// Opens a web page a server named, on a desktop and only if [`browser_safe_url`]; returns
/// whether an opener was started. Never fails the command.
pub fn open_url(url: &str) -> bool {
    if !browser_safe_url(url)
        || !on_desktop(
            std::env::var_os("DISPLAY").as_deref(),
            std::env::var_os("WAYLAND_DISPLAY").as_deref(),
        )
    {
        return false;
    }
    let spawned = Command::new("xdg-open")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    if let Err(e) = &spawned {
        tracing::debug!(target: "vault", error = %e, "xdg-open failed");
    }
    spawned.is_ok()
}

/// Opens `path` in the file manager, or prints why not (unless `quiet`).
pub fn reveal(path: &Path, quiet: bool) {
    // Absolute, so no opener reads a mountpoint named `https:` or `-x` as a URL or an option.
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let path = absolute.as_path();
    let note = |text: String| {
        if !quiet {
            eprintln!("vault: note: {text}");
        }
    };
    if !on_desktop(
        std::env::var_os("DISPLAY").as_deref(),
        std::env::var_os("WAYLAND_DISPLAY").as_deref(),
    ) {
        note(format!(
            "not opening {} in a file manager: no desktop session (DISPLAY and WAYLAND_DISPLAY are unset)",
            path.display()
        ));
        return;
    }
    let mut failures = Vec::new();
    for (program, pre) in OPENERS {
        match open_with(program, pre, path) {
            Ok(()) => return,
            Err(why) => failures.push(format!("{program}: {why}")),
        }
    }
    note(format!(
        "could not open {} in a file manager ({})",
        path.display(),
        failures.join("; ")
    ));
}

/// Runs one opener; `Ok` once it succeeded or is still running after [`OPENER_WAIT`].
fn open_with(program: &str, pre: &[&str], path: &Path) -> Result<(), String> {
    let mut child = Command::new(program)
        .args(pre)
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "not installed".to_string(),
            _ => e.to_string(),
        })?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("failed ({status})")),
            Ok(None) if start.elapsed() >= OPENER_WAIT => return Ok(()),
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desktop_needs_a_non_empty_display_variable() {
        assert!(!on_desktop(None, None));
        assert!(!on_desktop(Some(OsStr::new("")), Some(OsStr::new(""))));
        assert!(on_desktop(Some(OsStr::new(":0")), None));
        assert!(on_desktop(None, Some(OsStr::new("wayland-0"))));
    }

    #[test]
    fn only_https_or_loopback_http_goes_to_a_browser() {
        for ok in [
            "https://cloud.example.org/index.php/login/v2/flow/abc",
            "http://127.0.0.1:8080/login",
            "http://localhost/x",
            "http://[::1]:9/x",
        ] {
            assert!(browser_safe_url(ok), "{ok}");
        }
        for bad in [
            "http://cloud.example.org/login",
            "http://10.0.0.2/login",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "smb://host/share",
            "-https://x",
            "https://x/a b",
            "https://x/\x1b[2J",
            "/home/me/x.desktop",
            "",
        ] {
            assert!(!browser_safe_url(bad), "{bad}");
        }
    }

    #[test]
    fn xdg_open_is_tried_before_gio() {
        let names: Vec<&str> = OPENERS.iter().map(|(p, _)| *p).collect();
        assert_eq!(names, ["xdg-open", "gio"]);
    }
}
