//! The `rclone serve webdav` server of `tests/servers/webdav.sh` as a test's own instance.

/// `tests/servers/webdav.sh ARGS rclone` for one instance (its `VAULT_TEST_*` variables in
/// `env`: instance, ports, state folder, and `VAULT_TEST_NETNS` for a network namespace);
/// stopped when dropped.
pub struct Dav {
    pub env: Vec<(String, String)>,
}

impl Dav {
    pub fn run(&self, cmd: &str) -> std::process::Output {
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/webdav.sh");
        std::process::Command::new("timeout")
            .arg("120")
            .arg(script)
            .args([cmd, "rclone"])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap()
    }

    pub fn ok(&self, cmd: &str) -> String {
        let out = self.run(cmd);
        assert!(
            out.status.success(),
            "webdav.sh {cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn var(&self, k: &str) -> String {
        self.ok("env")
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} not in webdav.sh env"))
            .trim_matches('\'')
            .to_string()
    }
}

impl Drop for Dav {
    fn drop(&mut self) {
        let _ = self.run("stop");
    }
}
