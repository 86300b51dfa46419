//! How the backend asks the user for secrets and decisions.
//!
//! Two kinds of question, kept apart so that text a server sent can never be mistaken for
//! one of ours: [`Prompter::secret`] gets only prompts this crate wrote (`Passphrase for key
//! FILE: `, `Password for USER@HOST: `); a server's keyboard-interactive question arrives in
//! [`Prompter::server`] as a [`ServerQuestion`], whose `shown` text always starts with
//! `[sftp USER@HOST] ` (see [`crate::text`]).

use zeroize::Zeroizing;

/// A prompt could not be answered (no terminal, askpass failed, user cancelled).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PromptError(pub String);

/// A keyboard-interactive question from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerQuestion {
    /// Which server asks: `USER@HOST:PORT` and the `SHA256:` fingerprint of the host key it
    /// proved. An answer may be replayed only to the same `server` and `prompt`.
    pub server: String,
    /// The prompt exactly as the server sent it (never shown as is).
    pub prompt: String,
    /// What the user sees: `[sftp USER@HOST] TEXT`, cleaned and cut.
    pub shown: String,
    /// Whether the answer may be shown while typed.
    pub echo: bool,
}

/// Asks the user. The CLI implements it with the terminal or an askpass
/// program (`--askpass`, `VAULT_ASKPASS`); tests implement it in code. Calls
/// may block (they run on a blocking thread); prompt texts are those of
/// `docs/cli.md` so askpass programs can match them.
pub trait Prompter: Send + Sync {
    /// A local secret, read without echo: `Passphrase for key FILE: ` (decrypts the key
    /// file here) or `Password for USER@HOST: ` (the SSH password of the configured server).
    fn secret(&self, prompt: &str) -> Result<Zeroizing<String>, PromptError>;

    /// An answer shown while typed.
    fn visible(&self, prompt: &str) -> Result<Zeroizing<String>, PromptError>;

    /// A keyboard-interactive question of the server. The default asks the user with the
    /// marked text (`q.shown`), never the bare prompt.
    fn server(&self, q: &ServerQuestion) -> Result<Zeroizing<String>, PromptError> {
        if q.echo {
            self.visible(&q.shown)
        } else {
            self.secret(&q.shown)
        }
    }

    /// A yes/no question (an unknown host key). `false` refuses.
    fn confirm(&self, question: &str) -> bool;

    /// Text the server wants shown (keyboard-interactive name/instructions), already
    /// marked `[sftp USER@HOST] …` and cleaned. The default drops it.
    fn message(&self, text: &str) {
        let _ = text;
    }

    /// The server refused the answers just given to these keyboard-interactive
    /// questions (their `shown` texts, trimmed). Return `true` if asking again could give a
    /// different answer (e.g. a replayed answer was refused and a person can
    /// now be asked): the login then tries keyboard-interactive once more in
    /// the same session. The default gives up.
    fn refused(&self, prompts: &[String]) -> bool {
        let _ = prompts;
        false
    }

    /// A login completed (every method the server asked for was accepted).
    fn logged_in(&self) {}
}
