//! Test harness: private sshd instances of `tests/servers/sshd-2fa.sh` (from `test-support`; a
//! unique VAULT_TEST_INSTANCE and port base per test binary, so parallel runs do not collide),
//! one shared by the tests of a binary and purged when the last is done with it; configs and
//! scripted prompters for the backend.
#![allow(dead_code, unused_imports)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use test_support::sshd::Sshd;
pub use test_support::totp::{secs_to_next_window, totp_now};
use vault_sftp::{PromptError, Prompter, RemoteRoot, SftpConfig};
use zeroize::Zeroizing;

pub fn scripts_dir() -> PathBuf {
    test_support::paths::sftp_servers_dir()
}

/// One sshd instance (all modes) of this test binary.
pub struct Servers {
    pub instance: String,
    pub port_base: u16,
    pub env: HashMap<String, String>,
    sshd: Sshd,
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
        let mut env = extra.to_vec();
        if !extra.iter().any(|(k, _)| *k == "VAULT_TEST_TOTP_REUSE") {
            env.push(("VAULT_TEST_TOTP_REUSE", "allow"));
        }
        let sshd = Sshd::start_in_default_state(&instance, port_base.into(), modes, &env);
        Servers {
            instance,
            port_base,
            env: sshd.vars().clone(),
            sshd,
            shared_generation: None,
        }
    }

    /// A script of `tests/servers/` with this instance's environment.
    pub fn script(&self, name: &str, args: &[&str]) -> Output {
        self.sshd.script(name, args)
    }

    /// The environment every script call of this instance gets.
    pub fn script_env(&self) -> &[(String, String)] {
        self.sshd.script_env()
    }

    pub fn get(&self, key: &str) -> String {
        self.sshd.var(key)
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
        let _ = std::process::Command::new("chown")
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
    // Different binaries of one run get different port blocks, all below 52,000: ports from
    // 55,000 up are where `scripts/test.sh` moves the kernel's ephemeral range, and a block
    // up there once failed a CI run (sshd could not bind a port a client socket held).
    (tag.bytes().map(u16::from).sum::<u16>() % 4) * 8_000
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
            self.sshd.keep();
            return;
        }
        self.sshd.purge();
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
