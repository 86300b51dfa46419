//! Test harness: starts private sshd instances from `tests/servers/` (a
//! unique VAULT_TEST_INSTANCE and port base per test binary, so parallel runs
//! do not collide), hands out configs and scripted prompters, and stops and
//! purges the instance when the last test of the binary is done with it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use vault_sftp::{PromptError, Prompter, RemoteRoot, SftpConfig};
use zeroize::Zeroizing;

pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers")
}

/// One sshd instance (all modes) of this test binary.
pub struct Servers {
    pub instance: String,
    pub port_base: u16,
    pub env: HashMap<String, String>,
    /// Extra environment for the scripts (instance, ports, netns, reuse).
    pub script_env: Vec<(String, String)>,
    /// For the shared instance: which start this is (see [`shared_servers`]).
    shared_generation: Option<usize>,
}

impl Servers {
    /// Starts `modes` (e.g. "all") of a fresh instance. `tag` (1-3 chars) keeps
    /// the instance names of different test binaries apart; `extra` env goes
    /// to the scripts (VAULT_TEST_NETNS, VAULT_TEST_TOTP_REUSE, ...).
    pub fn start(tag: &str, modes: &str, extra: &[(&str, &str)]) -> Servers {
        let pid = std::process::id();
        let instance = format!("{tag}{}", pid % 100_000);
        assert!(instance.len() <= 8);
        let port_base = 20_000 + ((pid % 2_000) as u16) * 4 + tag_offset(tag);
        let mut script_env: Vec<(String, String)> = vec![
            ("VAULT_TEST_INSTANCE".into(), instance.clone()),
            ("VAULT_TEST_PORT_BASE".into(), port_base.to_string()),
        ];
        for (k, v) in extra {
            script_env.push(((*k).into(), (*v).into()));
        }
        if !extra.iter().any(|(k, _)| *k == "VAULT_TEST_TOTP_REUSE") {
            script_env.push(("VAULT_TEST_TOTP_REUSE".into(), "allow".into()));
        }
        let mut s = Servers {
            instance,
            port_base,
            env: HashMap::new(),
            script_env,
            shared_generation: None,
        };
        let out = s.script("sshd-2fa.sh", &["start", modes]);
        assert!(
            out.status.success(),
            "sshd start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = s.script("sshd-2fa.sh", &["env"]);
        assert!(out.status.success());
        let mut env = HashMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some((k, v)) = line.split_once('=') {
                env.insert(k.to_owned(), v.trim_matches('\'').to_owned());
            }
        }
        s.env = env;
        s
    }

    pub fn script(&self, name: &str, args: &[&str]) -> std::process::Output {
        let mut cmd = Command::new(scripts_dir().join(name));
        cmd.args(args);
        for (k, v) in &self.script_env {
            cmd.env(k, v);
        }
        cmd.output().expect("run test-server script")
    }

    pub fn get(&self, key: &str) -> String {
        self.env
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("{key} missing from sshd-2fa.sh env"))
    }

    pub fn port(&self, mode: &str) -> u16 {
        let key = match mode {
            "2fa" => "VAULT_TEST_SSH_PORT",
            "key" => "VAULT_TEST_SSH_PORT_KEYONLY",
            "password" => "VAULT_TEST_SSH_PORT_PASSWORD",
            "legacy" => "VAULT_TEST_SSH_PORT_LEGACY",
            _ => panic!("mode {mode}"),
        };
        self.get(key).parse().expect("port")
    }

    pub fn sftp_root(&self) -> PathBuf {
        PathBuf::from(self.get("VAULT_TEST_SFTP_ROOT"))
    }

    /// A config for `mode` with `key` (env name of the key file), a private
    /// known_hosts copy and short timeouts, rooted at `~/<subdir>` (created).
    pub fn config(&self, mode: &str, key_env: &str, subdir: &str) -> SftpConfig {
        let dir = self.sftp_root().join(subdir);
        std::fs::create_dir_all(&dir).expect("create test subdir");
        let user = self.get("VAULT_TEST_SSH_USER");
        let _ = Command::new("chown")
            .arg("-R")
            .arg(format!("{user}:{user}"))
            .arg(&dir)
            .status();
        let mut c = SftpConfig::new(
            self.get("VAULT_TEST_SSH_HOST"),
            self.port(mode),
            user,
            RemoteRoot::Home(subdir.into()),
        );
        c.identity_files = vec![PathBuf::from(self.get(key_env))];
        c.use_agent = false;
        c.known_hosts = PathBuf::from(self.get("VAULT_TEST_SSH_KNOWN_HOSTS"));
        c.connect_timeout = Duration::from_secs(10);
        c.request_timeout = Duration::from_secs(30);
        c.reconnect_wait = Duration::from_secs(20);
        c
    }

    pub fn totp_secret(&self) -> String {
        self.get("VAULT_TEST_SSH_TOTP_SECRET")
    }
}

fn tag_offset(tag: &str) -> u16 {
    // Different binaries of one run get different port blocks.
    (tag.bytes().map(u16::from).sum::<u16>() % 7) * 8_000 % 36_000
}

impl Drop for Servers {
    fn drop(&mut self) {
        // The shared instance keeps one name per binary: if a test restarted it
        // after the last user let go (before this drop ran), the newer start owns
        // the name now and purges it itself. Without this check the purge below
        // deleted the state of the instance that had just been started.
        let lifecycle = self.shared_generation.map(|g| {
            let l = LIFECYCLE.lock().unwrap_or_else(|e| e.into_inner());
            (l, SHARED_GENERATION.load(Ordering::SeqCst) == g)
        });
        if matches!(&lifecycle, Some((_, false))) {
            return;
        }
        let out = self.script("sshd-2fa.sh", &["purge"]);
        if !out.status.success() {
            eprintln!(
                "sshd purge failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

static SHARED: Mutex<Weak<Servers>> = Mutex::new(Weak::new());
/// Serialises starting the shared instance with purging an earlier one.
static LIFECYCLE: Mutex<()> = Mutex::new(());
/// How many times the shared instance was started in this binary.
static SHARED_GENERATION: AtomicUsize = AtomicUsize::new(0);

/// The loopback instance with all modes, shared by the tests of one binary
/// while any of them runs (TOTP reuse allowed).
pub fn shared_servers(tag: &str) -> Arc<Servers> {
    let mut g = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = g.upgrade() {
        return s;
    }
    let _lifecycle = LIFECYCLE.lock().unwrap_or_else(|e| e.into_inner());
    let mut started = Servers::start(tag, "all", &[]);
    started.shared_generation = Some(SHARED_GENERATION.fetch_add(1, Ordering::SeqCst) + 1);
    let s = Arc::new(started);
    *g = Arc::downgrade(&s);
    s
}

/// The current TOTP code (RFC 6238 SHA1/30 s/6 digits) for a base32 secret.
pub fn totp_now(secret_b32: &str) -> String {
    let secret = totp_rs::Secret::Encoded(secret_b32.to_owned())
        .to_bytes()
        .expect("base32 secret");
    let totp = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret,
        None,
        String::new(),
    );
    totp.generate_current().expect("clock")
}

/// Seconds until the next 30 s TOTP window starts.
pub fn secs_to_next_window() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    30 - now % 30
}

/// What the scripted prompter answers.
#[derive(Clone)]
pub enum Kbd {
    /// The current TOTP code for this secret.
    Totp(String),
    /// A fixed (wrong) answer.
    Fixed(String),
    /// A fresh code: waits for a TOTP window in which no code was given yet.
    FreshTotp(String),
}

/// A prompter driven by the test: records every prompt it was shown.
pub struct ScriptedPrompter {
    pub passphrase: Option<String>,
    pub password: Option<String>,
    pub kbd: Kbd,
    pub confirm_answer: bool,
    pub log: Mutex<Vec<String>>,
    pub kbd_count: AtomicUsize,
    used_windows: Mutex<Vec<u64>>,
}

impl ScriptedPrompter {
    pub fn new(passphrase: Option<&str>, kbd: Kbd) -> Arc<ScriptedPrompter> {
        Arc::new(ScriptedPrompter {
            passphrase: passphrase.map(str::to_owned),
            password: None,
            kbd,
            confirm_answer: false,
            log: Mutex::new(Vec::new()),
            kbd_count: AtomicUsize::new(0),
            used_windows: Mutex::new(Vec::new()),
        })
    }

    pub fn prompts(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn record(&self, s: &str) {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(s.to_owned());
    }

    fn answer_kbd(&self) -> String {
        self.kbd_count.fetch_add(1, Ordering::SeqCst);
        match &self.kbd {
            Kbd::Totp(s) => totp_now(s),
            Kbd::Fixed(a) => a.clone(),
            Kbd::FreshTotp(s) => {
                let window = |now: u64| now / 30;
                loop {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .expect("clock")
                        .as_secs();
                    let mut used = self.used_windows.lock().unwrap_or_else(|e| e.into_inner());
                    // The server accepts +-1 window and refuses reuse of any code it saw:
                    // only a window after every used one gives a new code.
                    if used.iter().all(|w| window(now) > *w) {
                        used.push(window(now));
                        return totp_now(s);
                    }
                    drop(used);
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
    }
}

impl Prompter for ScriptedPrompter {
    fn secret(&self, prompt: &str) -> Result<Zeroizing<String>, PromptError> {
        self.record(prompt);
        if prompt.starts_with("Passphrase for key ") {
            return self
                .passphrase
                .clone()
                .map(Zeroizing::new)
                .ok_or_else(|| PromptError("no passphrase".into()));
        }
        if prompt.starts_with("Password for ") {
            return self
                .password
                .clone()
                .map(Zeroizing::new)
                .ok_or_else(|| PromptError("no password".into()));
        }
        Ok(Zeroizing::new(self.answer_kbd()))
    }

    fn visible(&self, prompt: &str) -> Result<Zeroizing<String>, PromptError> {
        self.record(prompt);
        Ok(Zeroizing::new(self.answer_kbd()))
    }

    fn confirm(&self, question: &str) -> bool {
        self.record(question);
        self.confirm_answer
    }
}
