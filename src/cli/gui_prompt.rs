//! Graphical password prompts: in a desktop session (`DISPLAY` or `WAYLAND_DISPLAY` set) with
//! no terminal on stdin and no `--askpass`, secrets are asked through a dialog program, so a
//! double-click (`vault open`) can unlock a vault. The first of these is used:
//!
//! 1. `SSH_ASKPASS` (the program the user chose for OpenSSH; same calling convention);
//! 2. `ssh-askpass`, 3. `zenity`, 4. `kdialog`, found on `PATH`.
//!
//! This module only chooses the program and builds its argv; `secrets` runs it like any askpass
//! program (the answer is the first line of its stdout, kept in zeroizing memory). The argv
//! carries the prompt text only, never a secret.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// The dialog title (the prompt text itself says which secret is asked).
const TITLE: &str = "Vault";

/// The kind of dialog program: how its argv is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `SSH_ASKPASS` / `ssh-askpass`: the prompt as the only argument.
    Askpass,
    /// GNOME's `zenity`.
    Zenity,
    /// KDE's `kdialog`.
    Kdialog,
}

/// A dialog program found for this session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuiPrompt {
    /// What is run (a path, or `SSH_ASKPASS` as given).
    pub program: PathBuf,
    pub kind: Kind,
}

/// The parts of the environment the choice depends on (a struct so tests need not touch the
/// process environment, which other tests of the same binary share).
#[derive(Debug, Default, Clone)]
pub struct Env {
    pub display: Option<OsString>,
    pub wayland_display: Option<OsString>,
    pub ssh_askpass: Option<OsString>,
    pub path: Option<OsString>,
}

impl Env {
    /// This process's environment.
    pub fn current() -> Self {
        Env {
            display: std::env::var_os("DISPLAY"),
            wayland_display: std::env::var_os("WAYLAND_DISPLAY"),
            ssh_askpass: std::env::var_os("SSH_ASKPASS"),
            path: std::env::var_os("PATH"),
        }
    }

    /// Whether this is a desktop session (an empty variable counts as unset).
    fn desktop(&self) -> bool {
        let set = |v: &Option<OsString>| v.as_ref().is_some_and(|v| !v.is_empty());
        set(&self.display) || set(&self.wayland_display)
    }
}

/// The dialog program to ask with, if this is a desktop session and one is available.
pub fn find(env: &Env) -> Option<GuiPrompt> {
    if !env.desktop() {
        return None;
    }
    if let Some(cmd) = env.ssh_askpass.as_ref().filter(|c| !c.is_empty()) {
        return Some(GuiPrompt {
            program: PathBuf::from(cmd),
            kind: Kind::Askpass,
        });
    }
    let path = env.path.as_deref()?;
    [
        ("ssh-askpass", Kind::Askpass),
        ("zenity", Kind::Zenity),
        ("kdialog", Kind::Kdialog),
    ]
    .into_iter()
    .find_map(|(name, kind)| on_path(path, name).map(|program| GuiPrompt { program, kind }))
}

/// The first executable regular file `name` in the folders of `path`.
fn on_path(path: &OsStr, name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path)
        .filter(|dir| dir.is_absolute()) // a relative entry would depend on the cwd
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

impl GuiPrompt {
    /// The arguments that show `prompt` (input hidden unless `visible`: a server's question
    /// asked with echo on).
    pub fn args(&self, prompt: &str, visible: bool) -> Vec<OsString> {
        let v: Vec<String> = match self.kind {
            // OpenSSH's convention has no echo flag: the prompt is all it gets.
            Kind::Askpass => vec![prompt.into()],
            // `--entry --hide-text` rather than `--password`: only the entry dialog shows a text,
            // and the text is what says which secret is asked.
            Kind::Zenity => {
                let mut v = vec!["--entry".to_string()];
                if !visible {
                    v.push("--hide-text".into());
                }
                v.push(format!("--title={TITLE}"));
                v.push(format!("--text={}", zenity_text(prompt)));
                v
            }
            Kind::Kdialog => vec![
                "--title".into(),
                TITLE.into(),
                if visible { "--inputbox" } else { "--password" }.into(),
                prompt.into(),
            ],
        };
        v.into_iter().map(OsString::from).collect()
    }

    /// The arguments of a yes/no question (an unknown host key). Zenity's and kdialog's
    /// own question dialogs, with "no" as the default button; an askpass program (OpenSSH's
    /// convention) gets the question, which ends in `(yes/no)? `, and must answer `yes`.
    pub fn confirm_args(&self, question: &str) -> Vec<OsString> {
        let v: Vec<String> = match self.kind {
            Kind::Askpass => vec![question.into()],
            Kind::Zenity => vec![
                "--question".into(),
                "--default-cancel".into(),
                format!("--title={TITLE}"),
                format!("--text={}", zenity_text(question)),
            ],
            Kind::Kdialog => vec![
                "--title".into(),
                TITLE.into(),
                "--warningyesno".into(),
                question.into(),
            ],
        };
        v.into_iter().map(OsString::from).collect()
    }

    /// Asks `question` in a dialog: `true` only for a clear yes (exit 0 of a question
    /// dialog; `yes` from an askpass program). Any failure is a no.
    pub fn confirm(&self, question: &str) -> bool {
        let out = std::process::Command::new(&self.program)
            .args(self.confirm_args(question))
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .output();
        let Ok(out) = out else { return false };
        if !out.status.success() {
            return false;
        }
        match self.kind {
            Kind::Askpass => String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .is_some_and(|l| l.trim().eq_ignore_ascii_case("yes")),
            Kind::Zenity | Kind::Kdialog => true,
        }
    }

    /// The program's short name for messages.
    pub fn name(&self) -> String {
        Path::new(&self.program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.program.display().to_string())
    }
}

/// Zenity's entry label unescapes backslash sequences and takes `_` as a mnemonic marker:
/// both are doubled so the dialog shows the prompt exactly.
pub fn zenity_text(prompt: &str) -> String {
    prompt.replace('\\', "\\\\").replace('_', "__")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tool(dir: &Path, name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn env(path: &Path) -> Env {
        Env {
            display: Some(":0".into()),
            path: Some(path.as_os_str().to_owned()),
            ..Default::default()
        }
    }

    #[test]
    fn the_order_is_ssh_askpass_then_ssh_askpass_zenity_kdialog_on_path() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = env(dir.path());
        assert_eq!(find(&e), None, "nothing on PATH");
        tool(dir.path(), "kdialog");
        assert_eq!(find(&e).unwrap().kind, Kind::Kdialog);
        let zenity = tool(dir.path(), "zenity");
        let found = find(&e).unwrap();
        assert_eq!((found.kind, found.program), (Kind::Zenity, zenity));
        let ssh = tool(dir.path(), "ssh-askpass");
        let found = find(&e).unwrap();
        assert_eq!((found.kind, found.program), (Kind::Askpass, ssh));
        e.ssh_askpass = Some("/opt/my-askpass".into());
        let found = find(&e).unwrap();
        assert_eq!(
            (found.kind, found.program),
            (Kind::Askpass, PathBuf::from("/opt/my-askpass"))
        );
        // An empty SSH_ASKPASS counts as unset.
        e.ssh_askpass = Some("".into());
        assert_eq!(find(&e).unwrap().name(), "ssh-askpass");
    }

    #[test]
    fn only_in_a_desktop_session() {
        let dir = tempfile::tempdir().unwrap();
        tool(dir.path(), "zenity");
        let mut e = env(dir.path());
        e.ssh_askpass = Some("/opt/my-askpass".into());
        e.display = None;
        assert_eq!(find(&e), None);
        e.display = Some("".into());
        assert_eq!(find(&e), None, "an empty DISPLAY is no session");
        e.wayland_display = Some("wayland-0".into());
        assert_eq!(find(&e).unwrap().kind, Kind::Askpass);
    }

    #[test]
    fn non_executables_and_relative_path_entries_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("zenity");
        std::fs::write(&plain, "").unwrap(); // mode 644
        std::fs::create_dir(dir.path().join("ssh-askpass")).unwrap(); // a folder
        assert_eq!(find(&env(dir.path())), None);
        let rel = Env {
            path: Some(".".into()),
            ..env(dir.path())
        };
        assert_eq!(find(&rel), None);
    }

    /// Through the secrets path: a server's question (echo on) reaches zenity marked and
    /// visible, a local prompt hidden; the answer is stdout's first line; a cancel is an error.
    #[test]
    fn secrets_ask_through_the_dialog() {
        use crate::cli::secrets::{CliPrompter, Secrets};
        use secrecy::ExposeSecret;
        use vault_sftp::Prompter;
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("argv");
        let script = tool(dir.path(), "zenity");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\nprintf 'answer\\nmore\\n'\n",
                log.display()
            ),
        )
        .unwrap();
        let gui = GuiPrompt {
            program: script.clone(),
            kind: Kind::Zenity,
        };
        let s = Secrets::with_gui(gui.clone());
        assert_eq!(s.vault_password("./V").unwrap().expose_secret(), "answer");
        let q = vault_sftp::ServerQuestion {
            server: "u@h:22 SHA256:x".into(),
            prompt: "Name: ".into(),
            shown: vault_sftp::text::server_text("u@h", "Name: "),
            echo: true,
        };
        assert_eq!(CliPrompter(s).server(&q).unwrap().as_str(), "answer");
        let argv = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            argv,
            "--entry\n--hide-text\n--title=Vault\n--text=Vault password for ./V: \n\
             --entry\n--title=Vault\n--text=[sftp u@h] Name: \n"
        );
        std::fs::write(&script, "#!/bin/sh\nexit 1\n").unwrap();
        let err = Secrets::with_gui(gui).vault_password("./V").unwrap_err();
        assert!(
            err.message.contains("password dialog zenity"),
            "{}",
            err.message
        );
    }

    /// An unknown host key asked in a dialog: yes only for exit 0 of a question dialog or an
    /// askpass answering `yes`; a cancel, a failure or any other answer is a no.
    #[test]
    fn host_key_questions_in_a_dialog() {
        use crate::cli::secrets::Secrets;
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("argv");
        let script = tool(dir.path(), "zenity");
        let write = |body: &str| {
            std::fs::write(
                &script,
                format!(
                    "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\n{body}\n",
                    log.display()
                ),
            )
            .unwrap()
        };
        let q = "The authenticity of host 'h' can't be established.\nAre you sure (yes/no)? ";
        let zenity = GuiPrompt {
            program: script.clone(),
            kind: Kind::Zenity,
        };
        write("exit 0");
        assert!(Secrets::with_gui(zenity.clone()).confirm(q));
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            format!("--question\n--default-cancel\n--title=Vault\n--text={q}\n")
        );
        write("exit 1");
        assert!(!Secrets::with_gui(zenity).confirm(q));
        let askpass = GuiPrompt {
            program: script.clone(),
            kind: Kind::Askpass,
        };
        write("echo yes");
        assert!(askpass.confirm(q));
        for no in ["echo", "echo y", "echo no", "echo yes; exit 1"] {
            write(no);
            assert!(!askpass.confirm(q), "{no}");
        }
        let kdialog = GuiPrompt {
            program: dir.path().join("missing"),
            kind: Kind::Kdialog,
        };
        assert!(!kdialog.confirm(q));
        assert_eq!(
            kdialog.confirm_args(q),
            ["--title", "Vault", "--warningyesno", q]
        );
    }

    #[test]
    fn argv_per_program() {
        let p = |kind| GuiPrompt {
            program: "/x".into(),
            kind,
        };
        let s = |v: Vec<OsString>| -> Vec<String> {
            v.into_iter().map(|a| a.into_string().unwrap()).collect()
        };
        let prompt = "Vault password for ./my_V: ";
        assert_eq!(s(p(Kind::Askpass).args(prompt, false)), [prompt]);
        assert_eq!(
            s(p(Kind::Zenity).args(prompt, false)),
            [
                "--entry",
                "--hide-text",
                "--title=Vault",
                "--text=Vault password for ./my__V: "
            ]
        );
        assert_eq!(
            s(p(Kind::Zenity).args("[sftp u@h] Code \\n: ", true)),
            ["--entry", "--title=Vault", "--text=[sftp u@h] Code \\\\n: "]
        );
        assert_eq!(
            s(p(Kind::Kdialog).args(prompt, false)),
            ["--title", "Vault", "--password", prompt]
        );
        assert_eq!(
            s(p(Kind::Kdialog).args("[sftp u@h] Name: ", true)),
            ["--title", "Vault", "--inputbox", "[sftp u@h] Name: "]
        );
    }
}
