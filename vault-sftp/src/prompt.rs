//! How the backend asks the user for secrets and decisions.

use zeroize::Zeroizing;

/// A prompt could not be answered (no terminal, askpass failed, user cancelled).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PromptError(pub String);

/// Asks the user. The CLI implements it with the terminal or an askpass
/// program (`--askpass`, `VAULT_ASKPASS`); tests implement it in code. Calls
/// may block (they run on a blocking thread); prompt texts are those of
/// `docs/cli.md` so askpass programs can match them:
/// `Passphrase for key FILE: `, the server's keyboard-interactive prompt
/// verbatim (e.g. `Verification code: `), `Password for USER@HOST: `.
pub trait Prompter: Send + Sync {
    /// A secret, read without echo.
    fn secret(&self, prompt: &str) -> Result<Zeroizing<String>, PromptError>;

    /// An answer shown while typed (keyboard-interactive prompts with echo on).
    fn visible(&self, prompt: &str) -> Result<Zeroizing<String>, PromptError>;

    /// A yes/no question (an unknown host key). `false` refuses.
    fn confirm(&self, question: &str) -> bool;

    /// Text the server wants shown (keyboard-interactive name/instructions).
    /// The default drops it.
    fn message(&self, text: &str) {
        let _ = text;
    }

    /// The server refused the answers just given to these keyboard-interactive
    /// prompts (texts as shown). Return `true` if asking again could give a
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
