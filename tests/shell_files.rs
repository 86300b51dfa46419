//! Acceptance 4 (shell integration): the completions and man pages shipped in `dist/` are
//! generated from the clap definitions (`vault::cli::shell_files`), are current, and are valid:
//! bash, zsh and fish parse (and complete) them, groff renders every page without a warning.
//!
//! `VAULT_UPDATE_SHELL_FILES=1` rewrites `dist/` instead of comparing
//! (`scripts/gen-shell-files.sh`). Needs bash, zsh, fish, groff and man-db (Debian: zsh, fish,
//! groff-base, man-db; see scripts/install-deps.sh).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use clap::CommandFactory;

fn dist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dist")
}

/// The files under `dist/completions` and `dist/man`, relative to `dist/`.
fn shipped() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for dir in ["completions", "man"] {
        let Ok(entries) = std::fs::read_dir(dist().join(dir)) else {
            continue;
        };
        for e in entries {
            out.insert(format!(
                "{dir}/{}",
                e.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    out
}

/// The visible subcommands (what users can type, so what the shipped files must know).
fn subcommands() -> Vec<String> {
    let names: Vec<String> = vault::cli::args::Cli::command()
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .collect();
    for must in ["mount", "unmount", "status", "completions", "cat"] {
        assert!(names.iter().any(|n| n == must), "{must} in {names:?}");
    }
    names
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (see scripts/install-deps.sh)"))
}

#[track_caller]
fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn file(rel: &str) -> PathBuf {
    dist().join(rel)
}

#[test]
fn shipped_files_are_current() {
    let files = vault::cli::shell_files::render().unwrap();
    let generated: BTreeSet<String> = files.iter().map(|f| f.path.clone()).collect();
    if std::env::var_os("VAULT_UPDATE_SHELL_FILES").is_some() {
        for stale in shipped().difference(&generated) {
            std::fs::remove_file(file(stale)).unwrap();
        }
        for f in &files {
            let path = file(&f.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &f.contents).unwrap();
        }
    }
    assert_eq!(
        shipped(),
        generated,
        "dist/ holds exactly the generated files; run scripts/gen-shell-files.sh"
    );
    for f in &files {
        let on_disk = std::fs::read(file(&f.path)).unwrap();
        assert!(
            on_disk == f.contents,
            "dist/{} is stale; run scripts/gen-shell-files.sh",
            f.path
        );
    }
}

#[test]
fn bash_completion_parses_and_completes_subcommands() {
    let f = file("completions/vault.bash");
    ok(Command::new("bash").arg("-n").arg(&f));
    let script = format!(
        "source {f:?}; complete -p vault >/dev/null || exit 3; \
         COMP_WORDS=(vault ''); COMP_CWORD=1; COMP_LINE='vault '; COMP_POINT=6; \
         _vault vault '' vault; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
    );
    let words = ok(Command::new("bash").arg("-c").arg(script));
    let words: BTreeSet<&str> = words.lines().collect();
    for sub in subcommands() {
        assert!(
            words.contains(sub.as_str()),
            "bash completes {sub}: {words:?}"
        );
    }
    // (clap_complete's bash script also lists the hidden `__mount-daemon`; harmless.)
}

#[test]
fn zsh_completion_parses() {
    let f = file("completions/_vault");
    ok(Command::new("zsh").arg("-n").arg(&f));
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(
        text.starts_with("#compdef vault"),
        "zsh autoloads it by #compdef"
    );
    for sub in subcommands() {
        assert!(text.contains(&format!("'{sub}:")), "zsh knows {sub}");
    }
}

#[test]
fn fish_completion_parses_and_completes_subcommands() {
    let f = file("completions/vault.fish");
    ok(Command::new("fish").arg("--no-execute").arg(&f));
    let out = ok(Command::new("fish")
        .arg("--no-config")
        .arg("-c")
        .arg(format!("source {f:?}; complete -C 'vault '")));
    let words: BTreeSet<&str> = out
        .lines()
        .map(|l| l.split('\t').next().unwrap_or(""))
        .collect();
    for sub in subcommands() {
        assert!(
            words.contains(sub.as_str()),
            "fish completes {sub}: {words:?}"
        );
    }
}

/// Renders with groff, warnings on (`-ww`); returns the text and asserts no warning.
#[track_caller]
fn render_man(page: &Path) -> String {
    let out = run(Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-P", "-cbou"])
        .arg(page)
        .env("LC_ALL", "C.UTF-8"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.is_empty(),
        "groff {page:?}: {stderr}"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn man_pages_render_without_warnings_and_name_every_subcommand() {
    let main = file("man/vault.1");
    let text = render_man(&main);
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("NAME vault - Mount Cryptomator"),
        "NAME section: {text}"
    );
    for sub in subcommands() {
        assert!(
            text.lines().any(|l| l.trim() == format!("vault-{sub}(1)")),
            "vault.1 lists {sub}: {text}"
        );
        let page = file(&format!("man/vault-{sub}.1"));
        let sub_text = render_man(&page);
        assert!(
            sub_text.contains(&format!("vault-{sub}")),
            "{page:?}: {sub_text}"
        );
    }
    assert!(
        !text.contains("__mount-daemon"),
        "hidden command in the man page"
    );
    let mount = render_man(&file("man/vault-mount.1"));
    for flag in ["--no-auto-lock", "--reveal", "--idle"] {
        assert!(mount.contains(flag), "vault-mount.1 documents {flag}");
    }
    // man(1) itself reads the page (as a user's `man -l dist/man/vault.1` would).
    let man = ok(Command::new("man")
        .arg("-l")
        .arg(&main)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100"));
    assert!(man.contains("SYNOPSIS"), "{man}");
}
