//! The `vault` binary: everything lives in [`vault::cli`].

fn main() -> std::process::ExitCode {
    vault::cli::run()
}
