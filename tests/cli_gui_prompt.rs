//! Graphical password prompts (README "On the desktop"): in a desktop session with no terminal
//! and no askpass, the secret is asked through `SSH_ASKPASS`, else `ssh-askpass`, `zenity` or
//! `kdialog` found on PATH; the dialog shows the exact prompt text. Stand-in dialog programs
//! record their argv and print the answer.

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::path::Path;
use std::process::Command;

use cli_support::*;

/// `vault ARGS` with stdin not a terminal, no askpass of any kind from the caller, PATH holding
/// only `bin` (so a dialog program installed on this machine is never picked), and `display`
/// as `DISPLAY` (None: no desktop session).
fn vault_desktop(bin: &Path, display: Option<&str>, args: &[&str]) -> Command {
    let mut cmd = vault_cmd(20, args);
    cmd.env_remove("SSH_ASKPASS")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DISPLAY")
        .env("PATH", bin);
    if let Some(d) = display {
        cmd.env("DISPLAY", d);
    }
    // `timeout` itself is looked up on the child's PATH: name it absolutely.
    let mut full = Command::new(which("timeout"));
    full.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => full.env(k, v),
            None => full.env_remove(k),
        };
    }
    full.stdin(std::process::Stdio::null());
    full
}

fn which(name: &str) -> String {
    for dir in ["/usr/bin", "/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p.display().to_string();
        }
    }
    panic!("{name} not found");
}

/// A stand-in dialog at `dir/name` that writes each argument on its own line to
/// `dir/name.argv` and then runs `then` (a shell command).
fn stand_in(dir: &Path, name: &str, then: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    write_script(
        &path,
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}.argv'\n{then}\n",
            path.display()
        ),
    );
    path
}

fn argv_of(program: &Path) -> Vec<String> {
    read_lines(Path::new(&format!("{}.argv", program.display())))
}

const PW: &str = "correct horse battery staple";

fn answer() -> String {
    format!("printf '%s\\n' '{PW}'")
}

#[test]
fn zenity_asks_with_the_exact_prompt_and_the_vault_lists() {
    let fx = copy_fixture("vault-v8");
    assert_eq!(
        std::fs::read_to_string(fixtures().join("vault-v8/password.txt")).unwrap(),
        PW
    );
    let bin = tempfile::tempdir().unwrap();
    let zenity = stand_in(bin.path(), "zenity", &answer());
    let expected = vault(&["ls", fx.vault_str(), "--password-file", fx.pw()]).ok();
    assert!(!expected.is_empty());

    let out = run_cmd(&mut vault_desktop(
        bin.path(),
        Some(":99"),
        &["ls", fx.vault_str()],
    ));
    assert_eq!(out.ok(), expected);
    let prompt = format!("Vault password for {}: ", fx.vault_str());
    assert_eq!(
        argv_of(&zenity),
        [
            "--entry".to_string(),
            "--hide-text".into(),
            "--title=Vault".into(),
            // (zenity's label reads `_` as a mnemonic and `\` as an escape: both doubled)
            format!("--text={}", prompt.replace('\\', "\\\\").replace('_', "__")),
        ]
    );
    // The password is never on the dialog's command line.
    assert!(!argv_of(&zenity).iter().any(|a| a.contains(PW)));

    // WAYLAND_DISPLAY is a desktop session too; kdialog when it is the only one.
    std::fs::remove_file(&zenity).unwrap();
    let kdialog = stand_in(bin.path(), "kdialog", &answer());
    let out = run_cmd(
        vault_desktop(bin.path(), None, &["ls", fx.vault_str()])
            .env("WAYLAND_DISPLAY", "wayland-0"),
    );
    assert_eq!(out.ok(), expected);
    assert_eq!(
        argv_of(&kdialog),
        ["--title", "Vault", "--password", &prompt]
    );
}

#[test]
fn ssh_askpass_wins_and_an_explicit_askpass_wins_over_any_dialog() {
    let fx = copy_fixture("vault-v8");
    let bin = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let zenity = stand_in(bin.path(), "zenity", "exit 1");
    let on_path = stand_in(bin.path(), "ssh-askpass", "exit 1");
    let chosen = stand_in(other.path(), "my-askpass", &answer());
    let prompt = format!("Vault password for {}: ", fx.vault_str());

    // SSH_ASKPASS before ssh-askpass and zenity on PATH; the prompt its only argument.
    let out = run_cmd(
        vault_desktop(bin.path(), Some(":99"), &["ls", fx.vault_str()]).env("SSH_ASKPASS", &chosen),
    );
    out.ok();
    assert_eq!(argv_of(&chosen), std::slice::from_ref(&prompt));
    assert!(argv_of(&zenity).is_empty() && argv_of(&on_path).is_empty());

    // ssh-askpass on PATH before zenity.
    let ssh_askpass = stand_in(bin.path(), "ssh-askpass", &answer());
    run_cmd(&mut vault_desktop(
        bin.path(),
        Some(":99"),
        &["ls", fx.vault_str()],
    ))
    .ok();
    assert_eq!(argv_of(&ssh_askpass), std::slice::from_ref(&prompt));
    assert!(argv_of(&zenity).is_empty());

    // --askpass (or VAULT_ASKPASS) is asked, never the dialog.
    std::fs::remove_file(other.path().join("my-askpass.argv")).unwrap();
    std::fs::remove_file(bin.path().join("ssh-askpass.argv")).unwrap();
    let asked = chosen.to_str().unwrap();
    run_cmd(&mut vault_desktop(
        bin.path(),
        Some(":99"),
        &["ls", fx.vault_str(), "--askpass", asked],
    ))
    .ok();
    assert_eq!(argv_of(&chosen), [prompt]);
    assert!(argv_of(&ssh_askpass).is_empty() && argv_of(&zenity).is_empty());
}

#[test]
fn outside_a_desktop_session_no_dialog_is_asked_exit_2() {
    let fx = copy_fixture("vault-v8");
    let bin = tempfile::tempdir().unwrap();
    let zenity = stand_in(bin.path(), "zenity", &answer());
    let out = run_cmd(
        vault_desktop(bin.path(), None, &["ls", fx.vault_str()]).env("SSH_ASKPASS", &zenity),
    );
    let line = out.fails(2);
    assert!(line.contains("stdin is not a terminal"), "{line}");
    assert!(
        argv_of(&zenity).is_empty(),
        "no dialog outside a desktop session"
    );
    // An empty DISPLAY is no session either.
    let out = run_cmd(&mut vault_desktop(
        bin.path(),
        Some(""),
        &["ls", fx.vault_str()],
    ));
    out.fails(2);
    assert!(argv_of(&zenity).is_empty());
}

#[test]
fn a_cancelled_dialog_is_a_one_line_error() {
    let fx = copy_fixture("vault-v8");
    let bin = tempfile::tempdir().unwrap();
    let zenity = stand_in(bin.path(), "zenity", "exit 1");
    let out = run_cmd(&mut vault_desktop(
        bin.path(),
        Some(":99"),
        &["ls", fx.vault_str()],
    ));
    let line = out.fails(1);
    assert_eq!(
        line,
        "vault: password dialog zenity: exited with exit status: 1; no password given"
    );
    assert!(out.stdout.is_empty());
    assert_eq!(argv_of(&zenity).len(), 4);
}
