//! `vault completions SHELL`.

use std::io::Write;

use crate::cli::exit::{CliError, CliResult};
use crate::cli::shell_files;

/// Prints completions for `shell` on stdout (the files in `dist/completions` are the same).
pub fn run(shell: clap_complete::Shell) -> CliResult {
    let mut out = std::io::stdout().lock();
    out.write_all(&shell_files::completions(shell))
        .and_then(|()| out.flush())
        .map_err(|e| CliError::other(format!("cannot write the completions: {e}")))
}
