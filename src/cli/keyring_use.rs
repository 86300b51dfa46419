//! What one command does with the keyring ([`KeyringUse`]): the secrets it took from it (for
//! the hint on a refused credential), the secrets to store once it succeeded, and the name
//! `vault forget` should be given in hints. One per command run, made by `cli::run` and shared
//! by every clone of the command's `SecretArgs`: no process-global state. A leaf: the keyring
//! itself (`remember`) looks up and commits through it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use zeroize::Zeroizing;

/// A secret queued for the keyring: (account, what, secret).
pub type Pending = (String, &'static str, Zeroizing<String>);

/// One command's use of the keyring; clones share it.
#[derive(Clone, Default)]
pub struct KeyringUse(Arc<Mutex<UseState>>);

#[derive(Default)]
struct UseState {
    used: Vec<&'static str>,
    pending: Vec<Pending>,
    forget_as: Option<String>,
}

impl std::fmt::Debug for KeyringUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the pending secrets.
        f.debug_struct("KeyringUse").finish_non_exhaustive()
    }
}

impl KeyringUse {
    fn state(&self) -> MutexGuard<'_, UseState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes that a secret (`what`) came from the keyring.
    pub fn note_used(&self, what: &'static str) {
        self.state().used.push(what);
    }

    /// Queues `secret` to be stored under `account` once the command succeeded.
    pub fn remember_later(&self, account: String, what: &'static str, secret: &str) {
        let mut st = self.state();
        st.pending.retain(|(a, _, _)| *a != account);
        st.pending
            .push((account, what, Zeroizing::new(secret.to_string())));
    }

    /// Takes the queued secrets (to store them).
    pub fn take_pending(&self) -> Vec<Pending> {
        std::mem::take(&mut self.state().pending)
    }

    /// Drops the queued secrets (the command failed).
    pub fn discard(&self) {
        self.state().pending.clear();
    }

    /// Sets the name `vault forget` should be given in hints.
    pub fn set_forget_as(&self, name: &str) {
        self.state().forget_as = Some(name.to_string());
    }

    /// The hint appended to a wrong-credential error when a stored secret took part.
    pub fn refused_hint(&self) -> Option<String> {
        let st = self.state();
        if st.used.is_empty() {
            return None;
        }
        let mut what: Vec<&str> = st.used.clone();
        what.dedup();
        let name = st.forget_as.clone().unwrap_or_else(|| "STORAGE".into());
        Some(format!(
            " (used the {} remembered in the keyring; if it changed, run `vault forget {name}` and try again)",
            what.join(" and ")
        ))
    }
}
