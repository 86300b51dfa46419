//! Child processes of tests: killed when the test ends, shell commands that must succeed,
//! executable scripts, and watchdogs that outlive the test process to stop its servers.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A child process killed (and reaped) when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `bash -c CMD` in `cwd` (bounded to 600 s, no stdin) and returns its stdout; fails the
/// test with the output if it fails.
#[track_caller]
pub fn sh_in(cmd: &str, cwd: &Path) -> String {
    let out = Command::new("timeout")
        .args(["600", "bash", "-c", cmd])
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("spawn bash");
    assert!(
        out.status.success(),
        "command failed: {cmd}\nstatus: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// [`sh_in`] in the current folder.
#[track_caller]
pub fn sh(cmd: &str) -> String {
    sh_in(cmd, Path::new("."))
}

/// Writes an executable script (mode 755).
pub fn write_script(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Starts a detached shell that waits until this test process is gone, then runs `then`
/// (`sh -c`, with `env`): test servers shared through a static are never dropped, and must
/// still stop however the test binary ends. `wrapper` (such as `flock -o LOCK`) runs the whole
/// shell, from before the wait to the end of `then`.
pub fn after_exit(wrapper: &[&str], then: &str, env: &[(&str, String)]) {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {then}",
        pid = std::process::id()
    );
    // Detached on purpose: it outlives this process.
    #[allow(clippy::zombie_processes)]
    Command::new("setsid")
        .args(wrapper)
        .args(["sh", "-c", &script])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the watchdog");
}
