//! The detached mount's SFTP prompter: recorded answers, askpass, the parent, then `vault auth`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tracing::debug;
use zeroize::Zeroizing;

use super::broker::{Broker, Verdict};
use super::relay::{ParentRelay, ask_parent};
use crate::cli::secrets::Secrets;

// ------------------------------------------------------------------ the daemon's prompter

/// Where the answer to a question came from (for [`vault_sftp::Prompter::refused`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    Recorded,
    Askpass,
    Parent,
    Dialog,
    Auth,
}

/// The detached mount's prompter (see the module documentation for the order of sources).
pub struct DaemonPrompter {
    pub(super) recorded: Secrets,
    pub(super) askpass: Option<Secrets>,
    /// A desktop session's dialog program (no askpass given): asked on a reconnect before
    /// the question waits for `vault auth`.
    pub(super) dialog: Option<Secrets>,
    pub(super) broker: Arc<Broker>,
    /// Whether `vault mount` may still be asked (see [`ParentRelay`]).
    pub(super) parent: ParentRelay,
    pub(super) refused_recorded: Mutex<HashSet<String>>,
    /// This login's answers: trimmed shown prompt → (replay key, source).
    pub(super) given: Mutex<HashMap<String, (String, Source)>>,
}

impl DaemonPrompter {
    /// `recorded`: the answers collected by `vault mount`; `askpass`: the program the mount was
    /// started with, if any.
    pub fn new(recorded: Secrets, askpass: Option<String>, broker: Arc<Broker>) -> Self {
        let askpass = askpass.filter(|c| !c.trim().is_empty()).map(|cmd| {
            Secrets::from_args(&crate::cli::args::SecretArgs {
                askpass: Some(cmd),
                ..Default::default()
            })
        });
        DaemonPrompter {
            recorded,
            askpass,
            dialog: None,
            broker,
            parent: ParentRelay::default(),
            refused_recorded: Mutex::new(HashSet::new()),
            given: Mutex::new(HashMap::new()),
        }
    }

    /// Also ask through `dialog` (a [`Secrets`] of a desktop session's dialog program) on a
    /// reconnect, before waiting for `vault auth`; a cancelled dialog leaves the question to
    /// `vault auth`.
    pub fn with_dialog(mut self, dialog: Option<Secrets>) -> Self {
        if self.askpass.is_none() {
            self.dialog = dialog;
        }
        self
    }

    /// Ask `vault mount` while `parent` is open (the daemon's first login).
    pub fn with_parent(mut self, parent: ParentRelay) -> Self {
        self.parent = parent;
        self
    }

    pub(super) fn note(&self, shown: &str, key: &str, source: Source) {
        if let Ok(mut g) = self.given.lock() {
            g.insert(shown.trim().to_string(), (key.to_string(), source));
        }
    }

    /// `key`: under which the parent recorded an answer (the local prompt itself, or
    /// [`crate::cli::secrets::server_answer_key`]); `prompt`: what a person is shown.
    pub(super) fn answer(
        &self,
        key: &str,
        prompt: &str,
        echo: bool,
    ) -> Result<Zeroizing<String>, vault_sftp::PromptError> {
        use secrecy::ExposeSecret;
        if let Some(a) = self.broker.retry_in_flight(prompt) {
            self.note(prompt, key, Source::Auth);
            return Ok(a);
        }
        let refused = self
            .refused_recorded
            .lock()
            .map(|r| r.contains(key))
            .unwrap_or(true);
        if !refused && let Some(a) = self.recorded.preset_answer(key) {
            self.note(prompt, key, Source::Recorded);
            return Ok(Zeroizing::new(a.expose_secret().to_string()));
        }
        if self.parent.is_open() && self.askpass.is_none() {
            let note = refused.then(|| {
                format!(
                    "the server refused the answer to {:?} on the mount's own login (a code is \
                     accepted once): give the next one",
                    prompt.trim()
                )
            });
            let a = ask_parent(prompt, echo, note.as_deref())?;
            self.note(prompt, key, Source::Parent);
            return Ok(a);
        }
        if let Some(askpass) = &self.askpass {
            let a = if echo {
                askpass.ask_visible(prompt)
            } else {
                askpass.ask(prompt)
            }
            .map_err(|e| vault_sftp::PromptError(e.message))?;
            self.note(prompt, key, Source::Askpass);
            return Ok(Zeroizing::new(a.expose_secret().to_string()));
        }
        if let Some(dialog) = self.dialog.as_ref().filter(|_| self.broker.armed()) {
            let a = if echo {
                dialog.ask_visible(prompt)
            } else {
                dialog.ask(prompt)
            };
            match a {
                Ok(a) => {
                    self.note(prompt, key, Source::Dialog);
                    return Ok(Zeroizing::new(a.expose_secret().to_string()));
                }
                Err(e) => debug!(
                    "dialog gave no answer ({}); waiting for `vault auth`",
                    e.message
                ),
            }
        }
        let a = self.broker.wait_for_answer(prompt, echo)?;
        self.note(prompt, key, Source::Auth);
        Ok(a)
    }

    /// A local prompt of the SFTP backend (key passphrase, the server's own password);
    /// anything else is refused rather than matched against what the parent handed over.
    pub(super) fn local(
        &self,
        prompt: &str,
        echo: bool,
    ) -> Result<Zeroizing<String>, vault_sftp::PromptError> {
        if !crate::cli::secrets::is_local_sftp_prompt(prompt) {
            return Err(vault_sftp::PromptError(format!(
                "the mount daemon answers no prompt {:?}",
                vault_sftp::text::clean(prompt)
            )));
        }
        self.answer(prompt, prompt, echo)
    }
}

impl vault_sftp::Prompter for DaemonPrompter {
    fn secret(&self, prompt: &str) -> Result<Zeroizing<String>, vault_sftp::PromptError> {
        self.local(prompt, false)
    }

    fn visible(&self, prompt: &str) -> Result<Zeroizing<String>, vault_sftp::PromptError> {
        self.local(prompt, true)
    }

    fn server(
        &self,
        q: &vault_sftp::ServerQuestion,
    ) -> Result<Zeroizing<String>, vault_sftp::PromptError> {
        self.answer(&crate::cli::secrets::server_answer_key(q), &q.shown, q.echo)
    }

    /// An unknown host key is never accepted by a detached mount (no one to ask).
    fn confirm(&self, _question: &str) -> bool {
        false
    }

    fn message(&self, text: &str) {
        if !text.trim().is_empty() {
            self.broker.set_info(text.trim_end());
        }
    }

    fn refused(&self, prompts: &[String]) -> bool {
        let given = self
            .given
            .lock()
            .map(|mut g| std::mem::take(&mut *g))
            .unwrap_or_default();
        let mut again = false;
        for p in prompts {
            match given.get(p.trim()) {
                Some((full, Source::Recorded)) => {
                    debug!("the recorded answer was refused; it is not replayed again");
                    if let Ok(mut r) = self.refused_recorded.lock() {
                        r.insert(full.clone());
                    }
                    again |= self.askpass.is_some()
                        || self.parent.is_open()
                        || self.broker.armed()
                        || self.dialog.is_some();
                }
                Some((_, Source::Auth)) => {
                    self.broker.set_verdict(Verdict::Refused(format!(
                        "{} refused the answer to {:?}; the mount still waits: run `vault auth {}` again",
                        self.broker.host,
                        p.trim(),
                        self.broker.mountpoint
                    )));
                    again |= self.broker.armed();
                }
                Some((_, Source::Parent)) => again |= self.parent.is_open(),
                // A person typed it: they may have mistyped; the login's retries are bounded.
                Some((_, Source::Dialog)) => again = true,
                Some((_, Source::Askpass)) | None => {}
            }
        }
        again
    }

    fn logged_in(&self) {
        if let Ok(mut g) = self.given.lock() {
            g.clear();
        }
        self.broker.set_verdict(Verdict::Ok);
    }
}
