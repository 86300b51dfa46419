//! The parent relay: during the daemon's first login, questions it cannot answer go to
//! `vault mount`'s terminal or askpass over the daemon's stdin/stdout.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use zeroize::Zeroizing;

use super::wire::{escape, read_line_sync, unescape};
use crate::cli::secrets::Secrets;

// ------------------------------------------------------------------ the parent relay

/// Open while the daemon's first login runs and `vault mount` (the parent) still listens:
/// a question the daemon cannot answer (the replayed TOTP code was refused: each process logs
/// in, and a server may refuse a reused code) goes to the parent's terminal or askpass.
/// The daemon holds one and hands clones to its prompter; closed until opened.
#[derive(Clone, Default)]
pub struct ParentRelay(Arc<AtomicBool>);

impl ParentRelay {
    /// The daemon may ask the parent from now on.
    pub fn open(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// The parent is about to be let go (before the daemon's `ok`/`err` line).
    pub fn close(&self) {
        self.0.store(false, Ordering::SeqCst);
    }

    /// The parent may be asked.
    pub fn is_open(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Reads fd 0 directly (std's stdin buffer would keep a copy of the secrets).
pub struct Fd0;

impl Read for Fd0 {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::fd::AsFd;
        rustix::io::read(std::io::stdin().as_fd(), buf).map_err(std::io::Error::from)
    }
}

/// One line from the parent (fd 0), zeroized.
pub fn read_parent_line() -> std::io::Result<Option<Zeroizing<String>>> {
    read_line_sync(&mut Fd0)
}

/// Daemon side: asks the parent, which asks its terminal or askpass.
pub(super) fn ask_parent(
    prompt: &str,
    echo: bool,
    note: Option<&str>,
) -> Result<Zeroizing<String>, vault_sftp::PromptError> {
    let fail = |why: String| vault_sftp::PromptError(format!("cannot ask `vault mount`: {why}"));
    {
        let mut out = std::io::stdout().lock();
        if let Some(n) = note {
            writeln!(out, "info {}", escape(n)).map_err(|e| fail(e.to_string()))?;
        }
        writeln!(out, "ask {} {}", u8::from(echo), escape(prompt))
            .and_then(|()| out.flush())
            .map_err(|e| fail(e.to_string()))?;
    }
    let line = read_parent_line()
        .map_err(|e| fail(e.to_string()))?
        .ok_or_else(|| fail("it went away".into()))?;
    if let Some(a) = line.strip_prefix("answer ") {
        return Ok(Zeroizing::new(a.to_string()));
    }
    Err(vault_sftp::PromptError(unescape(
        line.strip_prefix("noanswer ").unwrap_or("no answer"),
    )))
}

/// Parent side: handles a relay line of the daemon (`info …`, `ask …`); false for any other line
/// (the daemon's report).
pub fn parent_relay_line(line: &str, secrets: &Secrets, to_daemon: &mut impl Write) -> bool {
    use secrecy::ExposeSecret;
    if let Some(info) = line.strip_prefix("info ") {
        eprintln!("vault: {}", unescape(info));
        return true;
    }
    let Some(rest) = line.strip_prefix("ask ") else {
        return false;
    };
    let (echo, text) = rest.split_once(' ').unwrap_or((rest, ""));
    let prompt = unescape(text);
    let asked = if echo == "1" {
        secrets.ask_visible(&prompt)
    } else {
        secrets.ask(&prompt)
    };
    let mut msg = Zeroizing::new(Vec::new());
    match asked {
        Ok(a) => {
            msg.extend_from_slice(b"answer ");
            msg.extend_from_slice(a.expose_secret().as_bytes());
        }
        Err(e) => {
            msg.extend_from_slice(b"noanswer ");
            msg.extend_from_slice(escape(&e.message).as_bytes());
        }
    }
    msg.push(b'\n');
    let _ = to_daemon.write_all(&msg).and_then(|()| to_daemon.flush());
    true
}
