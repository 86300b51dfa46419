//! docs/cli.md against the code: every exit code its table lists is one the binary can return
//! with that number, every local prompt text it lists is produced by the code verbatim, and the
//! vault-password prompts reach an askpass program exactly as documented.

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::path::{Path, PathBuf};

use cli_support::*;
use vault::cli::exit::Exit;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn contract() -> String {
    std::fs::read_to_string(root().join("docs/cli.md")).unwrap()
}

/// The rows of the "Exit codes" table: (code, meaning).
fn documented_exit_codes(doc: &str) -> Vec<(u8, String)> {
    let section = doc
        .split("## Exit codes")
        .nth(1)
        .expect("an Exit codes section");
    section
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let code = cells.get(1)?.parse::<u8>().ok()?;
            Some((code, cells.get(2)?.to_string()))
        })
        .collect()
}

/// The local prompt texts listed under "Prompt texts" (backticked items of its bullet list).
fn documented_prompts(doc: &str) -> Vec<String> {
    let section = doc
        .split("**Prompt texts.**")
        .nth(1)
        .expect("a Prompt texts paragraph");
    let list = section
        .split("\n\n")
        .nth(1)
        .expect("the list of local prompts");
    list.lines()
        .filter(|l| l.starts_with("- "))
        .flat_map(|l| l.split('`').skip(1).step_by(2).map(str::to_string))
        .filter(|p| p.ends_with(": "))
        .collect()
}

/// Every `.rs` file under `dir`, concatenated.
fn sources(dir: &Path, out: &mut String) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
}

/// A documented template (`Vault password for STORAGE: `) as the literal pieces a Rust format
/// string must contain in order, the upper-case placeholders being `{…}` arguments.
fn literal_pieces(template: &str) -> Vec<String> {
    const PLACEHOLDERS: [&str; 7] = [
        "STORAGE", "FILE", "USER", "HOST", "PORT", "KEY_ID", "ENDPOINT",
    ];
    let mut pieces = vec![String::new()];
    for word in template.split_inclusive(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
        let core = word.trim_end_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_');
        if PLACEHOLDERS.contains(&core) {
            pieces.push(word[core.len()..].to_string());
        } else {
            pieces.last_mut().unwrap().push_str(word);
        }
    }
    pieces.into_iter().filter(|p| !p.is_empty()).collect()
}

#[test]
fn exit_code_table_matches_the_code() {
    let rows = documented_exit_codes(&contract());
    let codes: Vec<u8> = rows.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        codes,
        (0..=7).collect::<Vec<u8>>(),
        "the table lists 0..=7 in order"
    );
    for (code, meaning) in &rows {
        assert_eq!(
            Exit::from_code(*code).code(),
            *code,
            "exit {code} ({meaning})"
        );
    }
    let named = [
        (Exit::Success, "success"),
        (Exit::Error, "other error"),
        (Exit::Usage, "usage"),
        (Exit::Auth, "wrong password"),
        (Exit::NotAVault, "not a vault"),
        (Exit::Unreachable, "unreachable"),
        (Exit::CheckProblems, "`check` found problems"),
        (Exit::HostKey, "host key refused"),
    ];
    for (exit, words) in named {
        let (_, meaning) = &rows[exit.code() as usize];
        assert!(
            meaning.contains(words),
            "exit {} is documented as {meaning:?}, the code calls it {exit:?}",
            exit.code()
        );
    }
}

#[test]
fn every_documented_local_prompt_is_in_the_code() {
    let prompts = documented_prompts(&contract());
    assert!(
        prompts.len() >= 5,
        "prompts found in docs/cli.md: {prompts:?}"
    );
    let mut code = String::new();
    sources(&root().join("src"), &mut code);
    sources(&root().join("vault-sftp/src"), &mut code);
    for prompt in &prompts {
        let pieces = literal_pieces(prompt);
        let found = code.lines().any(|line| {
            let mut at = 0;
            pieces
                .iter()
                .all(|piece| match line[at..].find(piece.as_str()) {
                    Some(i) => {
                        at += i + piece.len();
                        true
                    }
                    None => false,
                })
        });
        assert!(
            found,
            "prompt {prompt:?} (pieces {pieces:?}) not produced by the code"
        );
    }
}

#[test]
fn vault_password_prompts_reach_askpass_verbatim() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("prompts.log");
    let askpass = write_recording_askpass(tmp.path(), &log, "correct horse");
    let v = tmp.path().join("V");
    let v_arg = v.to_str().unwrap();
    vault_cmd_run(&["create", v_arg, "--askpass", askpass.to_str().unwrap()]).ok();
    vault_cmd_run(&["ls", v_arg, "--askpass", askpass.to_str().unwrap()]).ok();
    vault_cmd_run(&["passwd", v_arg, "--askpass", askpass.to_str().unwrap()]).ok();
    let shown = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(
        lines,
        [
            format!("Vault password for {v_arg}: "),
            format!("Vault password for {v_arg}: "),
            format!("Vault password for {v_arg}: "),
            format!("New vault password for {v_arg}: "),
        ],
        "prompts given to askpass"
    );
    let doc = contract();
    assert!(doc.contains("`Vault password for STORAGE: `"));
    assert!(doc.contains("`New vault password for STORAGE: `"));
}

fn vault_cmd_run(args: &[&str]) -> Run {
    run_cmd(&mut vault_cmd(60, args))
}

/// An askpass program that appends each prompt to `log` and answers `answer`.
fn write_recording_askpass(dir: &Path, log: &Path, answer: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("askpass.sh");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\nprintf '%s\\n' '{answer}'\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}
