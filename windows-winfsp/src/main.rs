//! `vault-winfsp`: mounts a vault as a Windows drive. On other systems it
//! only explains itself (the crate builds everywhere so its logic is tested).

use std::process::ExitCode;

use clap::Parser;
use vault_winfsp::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    run(cli)
}

#[cfg(windows)]
fn run(cli: Cli) -> ExitCode {
    ExitCode::from(vault_winfsp::mount::run(cli))
}

#[cfg(not(windows))]
fn run(_cli: Cli) -> ExitCode {
    eprintln!("vault-winfsp: this is the Windows drive adapter; on this system use `vault mount`");
    ExitCode::from(vault_winfsp::cli::EXIT_ERROR)
}
