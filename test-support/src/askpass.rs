//! Askpass programs for tests: a shell script that answers each prompt by its text (and logs
//! the prompts it was asked), as `VAULT_ASKPASS` or `SSH_ASKPASS` runs it.

use std::path::Path;

use crate::process::write_script;

/// Writes an askpass program at `path` that answers by prompt text: each `(pattern, command)`
/// is one arm of `case "$1"` (a shell pattern, quoted; a command printing the answer); any other
/// prompt is an error (a line on stderr, exit 1). With `log`, every prompt is first appended to
/// `<path>.log` (see [`prompts_seen`]).
pub fn write_askpass<S: AsRef<str>>(path: &Path, log: bool, arms: &[(&str, S)]) {
    let mut text = String::from("#!/bin/sh\n");
    if log {
        text += &format!("printf '%s\\n' \"$1\" >> '{}.log'\n", path.display());
    }
    text += "case \"$1\" in\n";
    for (pattern, command) in arms {
        text += &format!("  {pattern}) {} ;;\n", command.as_ref());
    }
    text += "  *) echo \"askpass: unexpected prompt: $1\" >&2; exit 1 ;;\nesac\n";
    write_script(path, &text);
}

/// The lines of a file (none if it does not exist).
pub fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The prompts an askpass of [`write_askpass`] (with `log`) was asked, in order.
pub fn prompts_seen(askpass: &Path) -> Vec<String> {
    read_lines(Path::new(&format!("{}.log", askpass.display())))
}
