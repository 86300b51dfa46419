//! `vault completions SHELL`.

use clap::CommandFactory;

use crate::cli::args::Cli;
use crate::cli::exit::CliResult;

/// Prints completions for `shell` on stdout.
pub fn run(shell: clap_complete::Shell) -> CliResult {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "vault", &mut std::io::stdout());
    Ok(())
}
