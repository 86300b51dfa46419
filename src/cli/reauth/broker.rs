//! The broker between a reconnect's questions and `vault auth`: one pending round, its answers
//! and the server's verdict.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tracing::warn;
use zeroize::Zeroizing;

use crate::cli::notify::Notifier;

// ------------------------------------------------------------------ the broker

/// The server's verdict on answers given through `vault auth`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Ok,
    Refused(String),
}

/// A question waiting for `vault auth`.
#[derive(Clone)]
pub(super) struct Pending {
    pub(super) id: u64,
    pub(super) prompt: String,
    pub(super) echo: bool,
    pub(super) info: Option<String>,
}

/// An answer from `vault auth` given to the server, verdict not yet known.
pub(super) struct InFlight {
    pub(super) prompt: String,
    pub(super) answer: Zeroizing<String>,
    pub(super) uses: u8,
}

#[derive(Default)]
pub(super) struct BrokerState {
    /// Questions may be posted (the mount is up and the socket listens).
    pub(super) armed: bool,
    pub(super) closed: bool,
    pub(super) next_id: u64,
    pub(super) pending: Option<Pending>,
    pub(super) delivered: Option<(u64, Zeroizing<String>)>,
    pub(super) in_flight: Option<InFlight>,
    pub(super) awaiting_verdict: bool,
    pub(super) verdict: Option<Verdict>,
    /// Keyboard-interactive name/instructions shown with the next question.
    pub(super) info: Option<String>,
    /// A reconnect asked for `vault auth` and has not logged in since (its question may have
    /// been withdrawn after `auth_wait`: the next attempt asks again).
    pub(super) needs_login: bool,
    /// Logins that succeeded (the first one included).
    pub(super) logins: u64,
    /// A `vault auth` came while no question was posted: whoever makes the next attempt
    /// (the upload queue) may make it now.
    pub(super) asked_for: bool,
}

/// Between the reconnecting backend (a blocking prompter thread) and `vault auth` clients.
pub struct Broker {
    pub(super) state: Mutex<BrokerState>,
    pub(super) cond: Condvar,
    pub(super) host: String,
    pub(super) mountpoint: String,
    pub(super) auth_wait: Duration,
    /// Tells the desktop a question waits (the mount's notifier).
    notifier: Notifier,
}

/// What an `auth` handler waits for.
pub(super) enum Event {
    Verdict(Verdict),
    Pending(Pending),
    TimedOut,
    Closed,
}

impl Broker {
    /// A broker for the mount at `mountpoint` of a storage on `host`; `notifier` tells the
    /// desktop when a question waits.
    pub fn new(
        host: &str,
        mountpoint: &Path,
        auth_wait: Duration,
        notifier: Notifier,
    ) -> Arc<Broker> {
        Arc::new(Broker {
            state: Mutex::new(BrokerState::default()),
            cond: Condvar::new(),
            host: host.to_string(),
            mountpoint: mountpoint.display().to_string(),
            auth_wait,
            notifier,
        })
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, BrokerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// From now on questions are posted for `vault auth`.
    pub fn arm(&self) {
        self.lock().armed = true;
    }

    /// The mount is going away: wake and fail every waiter.
    pub fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        st.armed = false;
        st.pending = None;
        self.cond.notify_all();
    }

    pub(super) fn armed(&self) -> bool {
        let st = self.lock();
        st.armed && !st.closed
    }

    /// True while a question waits for `vault auth`.
    pub fn waiting(&self) -> bool {
        self.lock().pending.is_some()
    }

    /// True from the moment a reconnect posts a question for `vault auth` until a login
    /// succeeds, also between two attempts (a question withdrawn after `auth_wait`).
    pub fn needs_login(&self) -> bool {
        let st = self.lock();
        st.needs_login || st.pending.is_some()
    }

    /// How many logins have succeeded so far: a change means the connection is back.
    pub fn logins(&self) -> u64 {
        self.lock().logins
    }

    /// True once after a `vault auth` found no question posted while a login is needed.
    pub fn take_asked_for(&self) -> bool {
        std::mem::take(&mut self.lock().asked_for)
    }

    /// For a `vault auth` client: the question waiting now, or, while a login is needed but
    /// no attempt is asking (between two tries), the next one posted within `wait`.
    pub(super) fn current_or_next(&self, wait: Duration) -> Option<Pending> {
        {
            let mut st = self.lock();
            if let Some(p) = &st.pending {
                return Some(p.clone());
            }
            if !st.needs_login || st.closed {
                return None;
            }
            st.asked_for = true;
        }
        match self.wait_event(false, 0, wait) {
            Event::Pending(p) => Some(p),
            _ => None,
        }
    }

    pub(super) fn set_info(&self, text: &str) {
        self.lock().info = Some(text.to_string());
    }

    /// The unjudged `vault auth` answer to `prompt`, once more (a reconnect attempt whose link
    /// died before the server's verdict).
    pub(super) fn retry_in_flight(&self, prompt: &str) -> Option<Zeroizing<String>> {
        let mut st = self.lock();
        let f = st.in_flight.as_mut()?;
        if f.prompt != prompt {
            return None;
        }
        if f.uses >= 2 {
            st.in_flight = None;
            return None;
        }
        f.uses += 1;
        Some(f.answer.clone())
    }

    /// Posts `prompt` and blocks until `vault auth` answers it, `auth_wait` passes, or the
    /// mount closes.
    pub(super) fn wait_for_answer(
        &self,
        prompt: &str,
        echo: bool,
    ) -> Result<Zeroizing<String>, vault_sftp::PromptError> {
        let mut st = self.lock();
        if !st.armed || st.closed {
            return Err(vault_sftp::PromptError(format!(
                "no answer to {:?} (a detached mount asks only through --askpass or `vault auth`)",
                prompt.trim()
            )));
        }
        st.next_id += 1;
        let id = st.next_id;
        let info = st.info.take();
        st.pending = Some(Pending {
            id,
            prompt: prompt.to_string(),
            echo,
            info,
        });
        st.delivered = None;
        st.needs_login = true;
        self.cond.notify_all();
        let what = if prompt.to_ascii_lowercase().contains("code") {
            "a verification code".to_string()
        } else {
            format!("an answer to {:?}", prompt.trim())
        };
        warn!(
            "reconnect to {} needs {what}: run `vault auth {}`",
            self.host, self.mountpoint
        );
        self.notifier
            .auth_waiting(&self.host, &self.mountpoint, &what);
        let deadline = Instant::now() + self.auth_wait;
        loop {
            if st.closed {
                st.pending = None;
                return Err(vault_sftp::PromptError("the mount is closing".into()));
            }
            if let Some((did, answer)) = st.delivered.take()
                && did == id
            {
                st.pending = None;
                st.in_flight = Some(InFlight {
                    prompt: prompt.to_string(),
                    answer: answer.clone(),
                    uses: 1,
                });
                st.awaiting_verdict = true;
                st.verdict = None;
                return Ok(answer);
            }
            let now = Instant::now();
            if now >= deadline {
                st.pending = None;
                warn!(
                    "no `vault auth` answer within {}s; the next access to {} tries again",
                    self.auth_wait.as_secs(),
                    self.mountpoint
                );
                return Err(vault_sftp::PromptError(format!(
                    "no answer to {:?} within {}s (run `vault auth {}`)",
                    prompt.trim(),
                    self.auth_wait.as_secs(),
                    self.mountpoint
                )));
            }
            st = self
                .cond
                .wait_timeout(st, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// `vault auth` answers question `id`; false if it is no longer the one waiting.
    pub(super) fn deliver(&self, id: u64, answer: Zeroizing<String>) -> bool {
        let mut st = self.lock();
        match &st.pending {
            Some(p) if p.id == id && st.delivered.is_none() => {
                st.delivered = Some((id, answer));
                self.cond.notify_all();
                true
            }
            _ => false,
        }
    }

    pub(super) fn set_verdict(&self, v: Verdict) {
        let mut st = self.lock();
        st.in_flight = None;
        if v == Verdict::Ok {
            st.needs_login = false;
            st.logins += 1;
        }
        if st.awaiting_verdict {
            st.awaiting_verdict = false;
            st.verdict = Some(v);
            self.cond.notify_all();
        }
    }

    /// Waits for the verdict (when `want_verdict`) or a question newer than `after`.
    pub(super) fn wait_event(&self, want_verdict: bool, after: u64, timeout: Duration) -> Event {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        loop {
            if want_verdict && let Some(v) = st.verdict.take() {
                return Event::Verdict(v);
            }
            if let Some(p) = &st.pending
                && p.id > after
            {
                return Event::Pending(p.clone());
            }
            if st.closed {
                return Event::Closed;
            }
            let now = Instant::now();
            if now >= deadline {
                return Event::TimedOut;
            }
            st = self
                .cond
                .wait_timeout(st, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }
}
