//! Secrets (docs/cli.md "Secrets"): a no-echo prompt when stdin is a terminal,
//! `--password-file FILE` (vault password only), `--askpass CMD` / `VAULT_ASKPASS` (every secret),
//! else without a terminal in a desktop session a dialog program (`gui_prompt`).
//! Never from argv, never from an environment variable that holds the secret itself.
//!
//! Secrets live in `SecretString` (zeroized on drop); intermediate buffers are `Zeroizing`.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use secrecy::SecretString;
use zeroize::Zeroizing;

use super::args::SecretArgs;
use super::exit::{CliError, CliResult};
use super::storage_arg::io_text;

/// The prompt for a vault password (contract text).
pub fn vault_prompt(storage: &str) -> String {
    format!("Vault password for {storage}: ")
}

/// The prompt for a new vault password (`passwd`).
pub fn new_vault_prompt(storage: &str) -> String {
    format!("New vault password for {storage}: ")
}

/// One answered prompt, kept to hand to the mount daemon.
pub type Answer = (String, Zeroizing<String>);

/// Where this invocation's secrets come from. Clones share the recorder.
#[derive(Default, Clone)]
pub struct Secrets {
    password_file: Option<PathBuf>,
    askpass: Option<String>,
    terminal: bool,
    /// The dialog program asked instead of a terminal (a desktop session without one).
    gui: Option<super::gui_prompt::GuiPrompt>,
    /// Connection options that travel with the secrets (`--ca-cert`).
    pub connect: super::storage_arg::ConnectOptions,
    /// The daemon answers from what the parent collected (never a prompt of its own).
    preset: Option<std::sync::Arc<Vec<Answer>>>,
    /// The parent of a daemon records every answer.
    recorded: Option<std::sync::Arc<std::sync::Mutex<Vec<Answer>>>>,
    /// Look secrets up in the OS keyring before asking (never in the daemon).
    use_keyring: bool,
    /// `--remember`: store what is asked once the command succeeded.
    pub remember: bool,
    /// `--remember-totp`: ask for the TOTP secret and store it.
    pub remember_totp: bool,
    /// This command's use of the keyring (shared with its `SecretArgs`).
    keyring: super::keyring_use::KeyringUse,
    /// A TOTP generator answering one-time-code prompts (set while connecting over SFTP).
    pub totp: Option<std::sync::Arc<super::remember::Totp>>,
}

/// The start of the pseudo-prompt under which an answer the user typed for a server's
/// keyboard-interactive question is handed to the mount daemon (see [`server_answer_key`]).
const SERVER_ANSWER: &str = "vault: answer for ";

/// The pseudo-prompt of a server question's answer: the server (user, host, port and host
/// key fingerprint) and its exact prompt (C-escaped, so the key holds no newline). An
/// answer is replayed only under this key: to the same server and the same question.
pub fn server_answer_key(q: &vault_sftp::ServerQuestion) -> String {
    format!(
        "{SERVER_ANSWER}{} {}",
        vault_sftp::text::c_escape(&q.server),
        vault_sftp::text::c_escape(&q.prompt)
    )
}

/// Whether `prompt` is one the SFTP backend itself writes for a local secret or the
/// configured server's password (never text a server sent; see `vault_sftp::Prompter`).
pub fn is_local_sftp_prompt(prompt: &str) -> bool {
    (prompt.starts_with("Passphrase for key ") || prompt.starts_with("Password for "))
        && prompt.ends_with(": ")
}

/// Takes the vault password out of the answers a mount daemon got from its parent: it
/// unlocks the vault once and is dropped, so nothing that answers the server later holds it.
pub fn take_vault_password(answers: &mut Vec<Answer>, storage: &str) -> Option<SecretString> {
    let prompt = vault_prompt(storage);
    let i = answers.iter().position(|(p, _)| *p == prompt)?;
    let (_, pw) = answers.swap_remove(i);
    answers.retain(|(p, _)| *p != prompt);
    Some(SecretString::from(pw.as_str()))
}

/// The pseudo-prompt under which the mount parent hands a TOTP secret to its daemon.
pub const TOTP_HANDOVER: &str = "vault: TOTP secret for reconnects";
/// The pseudo-prompt under which the mount parent tells its daemon which TOTP time step it
/// used (the daemon's own login then waits for the next one, as the server refuses reuse).
pub const TOTP_STEP_HANDOVER: &str = "vault: TOTP step used";

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("password_file", &self.password_file)
            .finish_non_exhaustive()
    }
}

impl Secrets {
    /// From the command's flags; a terminal prompt only when stdin is a terminal.
    pub fn from_args(args: &SecretArgs) -> Self {
        let askpass = args.askpass.clone().filter(|c| !c.trim().is_empty());
        let terminal = std::io::stdin().is_terminal();
        let gui = (askpass.is_none() && !terminal)
            .then(|| super::gui_prompt::find(&super::gui_prompt::Env::current()))
            .flatten();
        Secrets {
            password_file: args.password_file.clone(),
            askpass,
            terminal,
            gui,
            connect: super::storage_arg::ConnectOptions::from_args(args),
            preset: None,
            recorded: None,
            use_keyring: true,
            remember: args.remember,
            remember_totp: args.remember_totp,
            totp: None,
            keyring: args.keyring.clone(),
        }
    }

    /// This command's use of the keyring: lookups noted, secrets queued until it succeeds.
    pub fn keyring(&self) -> &super::keyring_use::KeyringUse {
        &self.keyring
    }

    /// Secrets asked only through `gui` (the mount daemon's reconnect dialogs).
    pub(crate) fn with_gui(gui: super::gui_prompt::GuiPrompt) -> Self {
        Secrets {
            gui: Some(gui),
            ..Default::default()
        }
    }

    /// Also keep every answer (for [`Secrets::take_recorded`]).
    pub fn recording(mut self) -> Self {
        self.recorded = Some(std::sync::Arc::new(std::sync::Mutex::new(Vec::new())));
        self
    }

    /// The answers given so far (when recording).
    pub fn take_recorded(&self) -> Vec<Answer> {
        match &self.recorded {
            Some(m) => m
                .lock()
                .map(|mut v| std::mem::take(&mut *v))
                .unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// Answers only from `answers` (the mount daemon).
    pub fn preset(answers: Vec<Answer>, connect: super::storage_arg::ConnectOptions) -> Self {
        Secrets {
            preset: Some(std::sync::Arc::new(answers)),
            connect,
            ..Default::default()
        }
    }

    fn record(&self, prompt: &str, answer: &SecretString) {
        if let Some(m) = &self.recorded {
            use secrecy::ExposeSecret;
            if let Ok(mut v) = m.lock() {
                v.push((
                    prompt.to_string(),
                    Zeroizing::new(answer.expose_secret().to_string()),
                ));
            }
        }
    }

    /// The vault password of an existing vault.
    pub fn vault_password(&self, storage: &str) -> CliResult<SecretString> {
        let prompt = vault_prompt(storage);
        if self.preset.is_none()
            && let Some(file) = &self.password_file
        {
            let pw = read_password_file(file)?;
            self.record(&prompt, &pw);
            if self.remember
                && let Some(account) =
                    super::remember::vault_password_account(storage, &self.connect.s3)
            {
                use secrecy::ExposeSecret;
                self.keyring
                    .remember_later(account, "vault password", pw.expose_secret());
            }
            return Ok(pw);
        }
        self.stored_or_ask(
            super::remember::vault_password_account(storage, &self.connect.s3),
            "vault password",
            &prompt,
        )
    }

    /// A secret from the keyring (when `account` has one stored), else asked; with
    /// `--remember`, an asked secret is queued for the keyring (stored once the command
    /// succeeded).
    pub fn stored_or_ask(
        &self,
        account: Option<String>,
        what: &'static str,
        prompt: &str,
    ) -> CliResult<SecretString> {
        use secrecy::ExposeSecret;
        if self.preset.is_none()
            && self.use_keyring
            && let Some(account) = &account
            && let Some(stored) = super::remember::lookup(&self.keyring, account, what)
        {
            let answer = SecretString::from(stored.as_str());
            self.record(prompt, &answer);
            return Ok(answer);
        }
        let answer = self.ask(prompt)?;
        if self.preset.is_none()
            && self.remember
            && let Some(account) = account
        {
            self.keyring
                .remember_later(account, what, answer.expose_secret());
        }
        Ok(answer)
    }

    /// The TOTP generator for the SFTP account USER@HOST:PORT: handed over by the parent (the
    /// daemon), asked for (`--remember-totp`, then queued for the keyring) or stored.
    pub fn totp_for(
        &self,
        user: &str,
        host: &str,
        port: u16,
    ) -> CliResult<Option<std::sync::Arc<super::remember::Totp>>> {
        use super::remember::{Totp, totp_account};
        use secrecy::ExposeSecret;
        if let Some(answers) = &self.preset {
            let totp = answers
                .iter()
                .find(|(p, _)| p == TOTP_HANDOVER)
                .and_then(|(_, a)| Totp::parse(a).ok());
            if let Some(t) = &totp
                && let Some(step) = answers
                    .iter()
                    .rev()
                    .find(|(p, _)| p == TOTP_STEP_HANDOVER)
                    .and_then(|(_, a)| a.parse::<u64>().ok())
            {
                t.mark_used(step);
            }
            return Ok(totp.map(std::sync::Arc::new));
        }
        let account = totp_account(user, host, port);
        let text = if self.remember_totp {
            let prompt =
                format!("TOTP secret for sftp://{user}@{host}:{port} (base32 or otpauth:// URI): ");
            let text = self.ask(&prompt)?;
            Totp::parse(text.expose_secret()).map_err(|e| {
                CliError::usage(format!("--remember-totp: {e}; nothing was stored"))
            })?;
            self.keyring
                .remember_later(account, "TOTP secret", text.expose_secret());
            text
        } else if self.use_keyring
            && let Some(stored) = super::remember::lookup(&self.keyring, &account, "TOTP secret")
        {
            SecretString::from(stored.as_str())
        } else {
            return Ok(None);
        };
        match Totp::parse(text.expose_secret()) {
            Ok(t) => {
                self.record(TOTP_HANDOVER, &text);
                Ok(Some(std::sync::Arc::new(t)))
            }
            Err(e) => {
                eprintln!(
                    "vault: warning: the TOTP secret stored for sftp://{user}@{host}:{port} is unusable ({e}); asking for codes instead"
                );
                Ok(None)
            }
        }
    }

    /// A password being set (`create`: the vault password; `passwd`: the new one). Asked twice
    /// on a terminal; once from askpass; `file` (if any) wins.
    pub fn new_password(&self, prompt: &str, file: Option<&Path>) -> CliResult<SecretString> {
        let pw = if let Some(file) = file {
            read_password_file(file)?
        } else if self.askpass.is_some() || self.gui.is_some() {
            self.ask(prompt)?
        } else if self.terminal {
            let first = self.ask(prompt)?;
            let again = self.ask(&format!("Repeat {}", lowercase_first(prompt)))?;
            use secrecy::ExposeSecret;
            if first.expose_secret() != again.expose_secret() {
                return Err(CliError::other(
                    "the passwords do not match; nothing was changed",
                ));
            }
            first
        } else {
            return Err(no_source());
        };
        use secrecy::ExposeSecret;
        if pw.expose_secret().is_empty() {
            return Err(CliError::other("an empty password is not allowed"));
        }
        Ok(pw)
    }

    /// The answer handed over under exactly `key` (the mount daemon), if any.
    pub fn preset_answer(&self, key: &str) -> Option<SecretString> {
        self.preset
            .as_ref()?
            .iter()
            .find(|(p, _)| p == key)
            .map(|(_, a)| SecretString::from(a.as_str()))
    }

    /// Any secret: askpass if configured, else a no-echo prompt on the terminal.
    pub fn ask(&self, prompt: &str) -> CliResult<SecretString> {
        if self.preset.is_some() {
            return self.preset_answer(prompt).ok_or_else(|| {
                CliError::other(format!("the mount daemon has no answer to {prompt:?}"))
            });
        }
        let answer = self.ask_person(prompt, false)?;
        self.record(prompt, &answer);
        Ok(answer)
    }

    /// An answer shown while typed (keyboard-interactive prompts with echo on).
    pub fn ask_visible(&self, prompt: &str) -> CliResult<SecretString> {
        if self.preset.is_some() {
            return self.ask(prompt);
        }
        let answer = self.ask_person(prompt, true)?;
        self.record(prompt, &answer);
        Ok(answer)
    }

    /// Asks askpass, the terminal or a dialog (with echo when `visible`); nothing recorded.
    fn ask_person(&self, prompt: &str, visible: bool) -> CliResult<SecretString> {
        if let Some(cmd) = &self.askpass {
            return run_askpass(cmd, prompt);
        }
        if let Some(gui) = &self.gui {
            let what = format!("password dialog {}", gui.name());
            return run_prompt_program(gui.program.as_os_str(), &gui.args(prompt, visible), &what);
        }
        if !self.terminal {
            return Err(no_source());
        }
        if !visible {
            let answer = Zeroizing::new(rpassword::prompt_password(prompt).map_err(|e| {
                CliError::other(format!("cannot read the password: {}", io_text(&e)))
            })?);
            return Ok(SecretString::from(answer.as_str()));
        }
        eprint!("{prompt}");
        let mut line = Zeroizing::new(String::new());
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| CliError::other(format!("cannot read the answer: {}", io_text(&e))))?;
        Ok(SecretString::from(line.trim_end_matches(['\n', '\r'])))
    }

    /// A server's keyboard-interactive question: the person is shown only the marked text
    /// (`[sftp USER@HOST] …`); never the keyring, never a local secret. The answer is
    /// recorded under [`server_answer_key`] (a mount hands it to its daemon, which may
    /// replay it to the same server only).
    pub fn ask_server(&self, q: &vault_sftp::ServerQuestion) -> CliResult<SecretString> {
        let key = server_answer_key(q);
        if self.preset.is_some() {
            return self.preset_answer(&key).ok_or_else(|| {
                CliError::other(format!("the mount daemon has no answer to {:?}", q.shown))
            });
        }
        let answer = self.ask_person(&q.shown, q.echo)?;
        self.record(&key, &answer);
        Ok(answer)
    }

    /// A yes/no question on the terminal, else in a desktop session's dialog (never answered
    /// by askpass or the daemon).
    pub fn confirm(&self, question: &str) -> bool {
        if self.preset.is_some() || !self.terminal {
            return self.preset.is_none() && self.gui.as_ref().is_some_and(|g| g.confirm(question));
        }
        eprint!("{question} [yes/no] ");
        let mut line = String::new();
        if std::io::stdin().read_line(&mut line).is_err() {
            return false;
        }
        matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
    }
}

/// The SFTP backend's way of asking: through these secrets (terminal, askpass, daemon preset).
pub struct CliPrompter(pub Secrets);

impl CliPrompter {
    /// A one-time code computed from the held TOTP secret, for a question that asks for one
    /// from the server the secret belongs to (a jump host's question is not answered).
    pub(crate) fn totp_code(
        &self,
        q: &vault_sftp::ServerQuestion,
    ) -> Option<Result<Zeroizing<String>, vault_sftp::PromptError>> {
        let totp = self.0.totp.as_ref()?;
        if !super::remember::is_otp_prompt(&q.prompt) || !totp.serves(&q.server) {
            return None;
        }
        tracing::debug!(target: "vault", "answering a one-time-code prompt from the TOTP secret");
        let code = totp.code_now().map(Zeroizing::new);
        if let Some(step) = totp.used_step() {
            self.0
                .record(TOTP_STEP_HANDOVER, &SecretString::from(step.to_string()));
        }
        Some(code.map_err(vault_sftp::PromptError))
    }
}

/// A held TOTP secret in front of another prompter (a detached mount's, which asks
/// `vault auth` or askpass): one-time-code prompts are answered from the secret, everything
/// else by `then`.
pub struct TotpFirst {
    /// Holds the TOTP secret.
    pub codes: CliPrompter,
    /// Everything else.
    pub then: std::sync::Arc<dyn vault_sftp::Prompter>,
}

impl vault_sftp::Prompter for TotpFirst {
    fn secret(&self, prompt: &str) -> Result<Zeroizing<String>, vault_sftp::PromptError> {
        self.then.secret(prompt)
    }

    fn visible(&self, prompt: &str) -> Result<Zeroizing<String>, vault_sftp::PromptError> {
        self.then.visible(prompt)
    }

    fn server(
        &self,
        q: &vault_sftp::ServerQuestion,
    ) -> Result<Zeroizing<String>, vault_sftp::PromptError> {
        self.codes
            .totp_code(q)
            .unwrap_or_else(|| self.then.server(q))
    }

    fn confirm(&self, question: &str) -> bool {
        self.then.confirm(question)
    }

    fn message(&self, text: &str) {
        self.then.message(text);
    }

    fn refused(&self, prompts: &[String]) -> bool {
        self.then.refused(prompts)
    }

    fn logged_in(&self) {
        self.then.logged_in();
    }
}

/// The key file of a `Passphrase for key FILE: ` prompt. Only ever applied to the prompts
/// the SFTP backend writes itself ([`vault_sftp::Prompter::secret`]): a server's question
/// arrives through [`vault_sftp::Prompter::server`] and is never looked up in the keyring.
fn passphrase_prompt_file(prompt: &str) -> Option<&Path> {
    prompt
        .strip_prefix("Passphrase for key ")?
        .strip_suffix(": ")
        .map(Path::new)
}

impl vault_sftp::Prompter for CliPrompter {
    fn secret(&self, prompt: &str) -> Result<Zeroizing<String>, vault_sftp::PromptError> {
        use secrecy::ExposeSecret;
        let answer = match passphrase_prompt_file(prompt) {
            Some(file) => self.0.stored_or_ask(
                Some(super::remember::key_passphrase_account(file)),
                "SSH key passphrase",
                prompt,
            ),
            None => self.0.ask(prompt),
        };
        answer
            .map(|s| Zeroizing::new(s.expose_secret().to_string()))
            .map_err(|e| vault_sftp::PromptError(e.message))
    }

    fn visible(&self, prompt: &str) -> Result<Zeroizing<String>, vault_sftp::PromptError> {
        use secrecy::ExposeSecret;
        self.0
            .ask_visible(prompt)
            .map(|s| Zeroizing::new(s.expose_secret().to_string()))
            .map_err(|e| vault_sftp::PromptError(e.message))
    }

    fn server(
        &self,
        q: &vault_sftp::ServerQuestion,
    ) -> Result<Zeroizing<String>, vault_sftp::PromptError> {
        use secrecy::ExposeSecret;
        if let Some(code) = self.totp_code(q) {
            return code;
        }
        self.0
            .ask_server(q)
            .map(|s| Zeroizing::new(s.expose_secret().to_string()))
            .map_err(|e| vault_sftp::PromptError(e.message))
    }

    fn confirm(&self, question: &str) -> bool {
        self.0.confirm(question)
    }

    fn message(&self, text: &str) {
        if self.0.terminal && !text.trim().is_empty() {
            eprintln!("{}", text.trim_end());
        }
    }
}

fn no_source() -> CliError {
    CliError::usage(
        "a password is needed but stdin is not a terminal: use --password-file FILE or --askpass CMD (or VAULT_ASKPASS)",
    )
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// First line of `file`, without its line ending.
pub fn read_password_file(file: &Path) -> CliResult<SecretString> {
    super::password_file_mode::warn_if_readable_by_others(file);
    let mut bytes = Zeroizing::new(Vec::new());
    std::fs::File::open(file)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| {
            CliError::other(format!(
                "cannot read password file {}: {}",
                file.display(),
                io_text(&e)
            ))
        })?;
    first_line(&bytes).ok_or_else(|| {
        CliError::other(format!(
            "password file {} is not valid UTF-8",
            file.display()
        ))
    })
}

/// The first line of `bytes` (`\n` or `\r\n` stripped) as a secret.
fn first_line(bytes: &[u8]) -> Option<SecretString> {
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let mut line = &bytes[..end];
    if let Some(l) = line.strip_suffix(b"\r") {
        line = l;
    }
    std::str::from_utf8(line).ok().map(SecretString::from)
}

/// Runs the askpass program with `prompt` as its only argument; its stdout's first line is the answer.
fn run_askpass(cmd: &str, prompt: &str) -> CliResult<SecretString> {
    let what = format!("askpass program {cmd}");
    run_prompt_program(cmd.as_ref(), &[prompt.into()], &what)
}

/// Runs a program that asks the person (`args` hold the prompt, never a secret); its stdout's
/// first line is the answer. A non-zero exit (a cancelled dialog) gives no answer.
fn run_prompt_program(
    cmd: &std::ffi::OsStr,
    args: &[std::ffi::OsString],
    what: &str,
) -> CliResult<SecretString> {
    let fail = |why: String| CliError::other(format!("{what}: {why}"));
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| fail(io_text(&e)))?;
    let mut out = Zeroizing::new(Vec::new());
    if let Some(mut stdout) = child.stdout.take() {
        stdout
            .read_to_end(&mut out)
            .map_err(|e| fail(io_text(&e)))?;
    }
    let status = child.wait().map_err(|e| fail(io_text(&e)))?;
    if !status.success() {
        return Err(fail(format!("exited with {status}; no password given")));
    }
    first_line(&out).ok_or_else(|| fail("printed something that is not UTF-8".into()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn first_line_strips_endings() {
        assert_eq!(first_line(b"pw\n").unwrap().expose_secret(), "pw");
        assert_eq!(first_line(b"pw\r\nsecond\n").unwrap().expose_secret(), "pw");
        assert_eq!(first_line(b"p w ").unwrap().expose_secret(), "p w ");
        assert_eq!(first_line(b"").unwrap().expose_secret(), "");
        assert!(first_line(b"\xff\n").is_none());
    }

    #[test]
    fn passphrase_prompts_name_their_key() {
        assert_eq!(
            passphrase_prompt_file("Passphrase for key /k/id_ed25519: "),
            Some(Path::new("/k/id_ed25519"))
        );
        assert_eq!(passphrase_prompt_file("Verification code: "), None);
    }

    #[test]
    fn a_held_totp_secret_answers_code_prompts_only() {
        use vault_sftp::Prompter;
        let t = super::super::remember::Totp::parse("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
        let expected = t.code_now().unwrap();
        let s = Secrets {
            totp: Some(std::sync::Arc::new(t)),
            ..Default::default()
        };
        let p = CliPrompter(s);
        let code = p.server(&question("Verification code: ", false)).unwrap();
        assert_eq!(code.len(), 6);
        // (a 30 s step may have passed between the two computations)
        assert!(code.as_str() == expected || code.chars().all(|c| c.is_ascii_digit()));
        assert_eq!(
            p.server(&question("One-time password: ", true))
                .unwrap()
                .len(),
            6
        );
        // other prompts still go to the (absent) terminal: exit 2, no source
        assert!(p.server(&question("Password: ", false)).is_err());
        // a local prompt is never answered with a code
        assert!(p.secret("Passphrase for key /k (code): ").is_err());
        // bound to its server: a jump host's code question is not answered with its codes
        let t = p.0.totp.as_ref().unwrap();
        t.bind_to("u", "h", 22);
        assert!(t.serves(&question("Verification code: ", false).server));
        let mut jump = question("Verification code: ", false);
        jump.server = "u@bastion:22 SHA256:y".into();
        assert!(p.server(&jump).is_err());
        jump.server = "u@h:2222 SHA256:x".into();
        assert!(p.server(&jump).is_err());
    }

    fn question(prompt: &str, echo: bool) -> vault_sftp::ServerQuestion {
        vault_sftp::ServerQuestion {
            server: "u@h:22 SHA256:x".into(),
            prompt: prompt.into(),
            shown: vault_sftp::text::server_text("u@h", prompt),
            echo,
        }
    }

    /// What the user typed for a server's question is shown the marked text, recorded
    /// only under the server's key, and a preset (the daemon) answers only that key.
    #[test]
    fn server_questions_are_marked_and_keyed_to_their_server() {
        use vault_sftp::Prompter;
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("ask");
        let log = dir.path().join("log");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\necho answer\n",
                log.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let s = Secrets {
            askpass: Some(script.to_string_lossy().into()),
            ..Default::default()
        }
        .recording();
        let p = CliPrompter(s.clone());
        let hostile = question("Vault password for ./V: ", false);
        assert_eq!(p.server(&hostile).unwrap().as_str(), "answer");
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "[sftp u@h] Vault password for ./V: \n"
        );
        let rec = s.take_recorded();
        assert_eq!(rec.len(), 1);
        assert!(rec[0].0.starts_with(SERVER_ANSWER) && rec[0].0 != vault_prompt("./V"));
        let daemon = Secrets::preset(rec, Default::default());
        // The same server and question: replayed. Another host key or prompt: not.
        assert_eq!(
            daemon.ask_server(&hostile).unwrap().expose_secret(),
            "answer"
        );
        let mut other = hostile.clone();
        other.server = "u@h:22 SHA256:y".into();
        assert!(daemon.ask_server(&other).is_err());
        // The marked text never answers the local prompt it imitates.
        assert!(daemon.vault_password("./V").is_err());
        assert!(is_local_sftp_prompt("Passphrase for key /k: "));
        assert!(!is_local_sftp_prompt(&hostile.shown));
    }

    #[test]
    fn the_vault_password_is_taken_out_of_a_daemons_answers() {
        let mut answers = vec![
            (vault_prompt("./V"), Zeroizing::new("pw".to_string())),
            (
                "Passphrase for key /k: ".to_string(),
                Zeroizing::new("pp".to_string()),
            ),
        ];
        let pw = take_vault_password(&mut answers, "./V").unwrap();
        assert_eq!(pw.expose_secret(), "pw");
        assert_eq!(answers.len(), 1);
        assert!(take_vault_password(&mut answers, "./V").is_none());
    }

    #[test]
    fn prompts() {
        assert_eq!(vault_prompt("./V"), "Vault password for ./V: ");
        assert_eq!(
            lowercase_first("New vault password for ./V: "),
            "new vault password for ./V: "
        );
    }

    #[test]
    fn askpass_gets_the_prompt_as_its_only_argument() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("ask");
        std::fs::write(
            &script,
            "#!/bin/sh\n[ $# -eq 1 ] || exit 9\nprintf '%s|secret\\n' \"$1\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let s = Secrets {
            askpass: Some(script.to_string_lossy().into()),
            ..Default::default()
        }
        .recording();
        assert_eq!(
            s.vault_password("./V").unwrap().expose_secret(),
            "Vault password for ./V: |secret"
        );
        let rec = s.take_recorded();
        assert_eq!(rec.len(), 1);
        let preset = Secrets::preset(rec, Default::default());
        assert_eq!(
            preset.vault_password("./V").unwrap().expose_secret(),
            "Vault password for ./V: |secret"
        );
        assert!(preset.ask("Password for a@b: ").is_err());
        let s = Secrets {
            askpass: Some("/nonexistent/askpass".into()),
            ..Default::default()
        };
        assert!(s.vault_password("./V").is_err());
        let s = Secrets::default();
        assert_eq!(
            s.vault_password("./V").unwrap_err().exit,
            super::super::exit::Exit::Usage
        );
    }
}
