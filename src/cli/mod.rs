//! The `vault` command line (docs/cli.md is the contract).
//!
//! - `args`: clap definitions (raw flags);
//! - `storage_arg`: STORAGE forms → a connected `Storage`;
//! - `secrets`: prompt / password file / askpass; `gui_prompt`: the dialog program in a desktop session;
//! - `session`: open a vault, cleartext path helpers;
//! - `exit`: exit codes and the one error-kind → code mapping;
//! - `output`: logging, progress bars, formatting;
//! - `config`: named vaults (config.toml);
//! - `remember`: the OS keyring (`--remember`), TOTP codes; `keyring_use`: what one command
//!   took from and queued for it (one per run, passed in `SecretArgs`);
//! - `commands`: one module per command.

pub mod args;
mod autolock;
pub(crate) mod cache;
mod cache_mount;
mod commands;
pub mod config;
mod connect;
mod daemon_life;
mod desktop;
pub(crate) mod escape;
pub mod exit;
mod gui_prompt;
pub mod keyring_use;
mod mounted;
pub(crate) mod notify;
mod offline;
mod output;
mod password_file_mode;
mod pin;
mod queue_mount;
pub(crate) mod reauth;
pub mod remember;
mod reveal;
mod s3_arg;
mod secrets;
mod session;
pub mod shell_files;
mod sidebar;
pub mod storage_arg;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};
use exit::{CliError, CliResult, Exit};

/// What every command may need besides its own arguments.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    /// `-q`: no progress, no notes on stderr.
    pub quiet: bool,
}

/// Runs the command line and returns the process exit code.
pub fn run() -> ExitCode {
    harden_process();
    install_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Success
            };
            let _ = e.print();
            return code.into();
        }
    };
    output::init_logging(cli.verbose, cli.quiet);
    // On the main thread, before any runtime thread exists: a keyutils session keyring made
    // here is inherited by every thread (the kernel keeps it per thread).
    let _ = remember::store();
    let ctx = Ctx { quiet: cli.quiet };
    let keyring = keyring_use::KeyringUse::default();
    let mut command = cli.command;
    share_keyring(&mut command, &keyring);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(ctx, command)));
    match result {
        Ok(Ok(())) => {
            // Secrets asked with --remember are stored only now that they proved right.
            remember::commit(&keyring);
            ExitCode::SUCCESS
        }
        Ok(Err(mut e)) => {
            keyring.discard();
            if e.exit == Exit::Auth
                && let Some(hint) = keyring.refused_hint()
            {
                e.message.push_str(&hint);
            }
            report(&e);
            e.exit.into()
        }
        // The panic hook has printed the one line already.
        Err(_) => Exit::Error.into(),
    }
}

/// Prints an error as the one line users see.
pub(crate) fn report(e: &CliError) {
    eprintln!("vault: {}", e.message);
}

fn dispatch(ctx: Ctx, mut command: Command) -> CliResult {
    resolve_names(&mut command)?;
    match command {
        Command::Completions { shell } => commands::completions::run(shell),
        Command::Status { long } => commands::status::run(long),
        Command::Auth { target, askpass } => reauth::run_auth(
            &target,
            &args::SecretArgs {
                askpass,
                ..Default::default()
            },
        ),
        Command::Add(args) => commands::named::add(args),
        Command::List => commands::named::list(),
        Command::Remove { name } => commands::named::remove(&name),
        Command::Forget { storage, secrets } => commands::named::forget(&storage, &secrets),
        Command::Unmount {
            mountpoint,
            force,
            leave_pending,
        } => commands::unmount::run(&mountpoint, force, leave_pending, ctx.quiet),
        Command::Queue { target, retry } => commands::queue::run(&target, retry),
        Command::Mount(args) => commands::mount::run(ctx, args),
        Command::Open { file, lock } => commands::open::run(ctx, &file, lock),
        Command::MountDaemon(args) => commands::mount::run_daemon(ctx, args),
        Command::Pin { paths, wait } => pin::run(&paths, false, wait, ctx.quiet),
        Command::Unpin { paths } => pin::run(&paths, true, false, ctx.quiet),
        other => {
            let rt = runtime()?;
            rt.block_on(async_command(ctx, other))
        }
    }
}

async fn async_command(ctx: Ctx, command: Command) -> CliResult {
    use commands::*;
    match command {
        Command::Create { storage, secrets } => create::run(ctx, &storage, &secrets).await,
        Command::Info { storage, secrets } => info::run(&storage, &secrets).await,
        c @ (Command::Ls { .. }
        | Command::Cat { .. }
        | Command::Get { .. }
        | Command::Put { .. }
        | Command::Mkdir { .. }
        | Command::Rm { .. }
        | Command::Mv { .. }) => file_command(ctx, c).await,
        c @ (Command::Passwd { .. } | Command::RecoveryKey(_)) => key_command(ctx, c).await,
        Command::Check {
            repair,
            storage,
            secrets,
        } => check::run(ctx, &storage, &secrets, repair).await,
        Command::Copy { src, dst, secrets } => {
            // Each end resolved on its own: a NAME's connection options apply to its side only.
            let (mut src, mut src_secrets) = (src, secrets.clone());
            config::resolve(&mut src, &mut src_secrets)?;
            let (mut dst, mut dst_secrets) = (dst, secrets);
            config::resolve(&mut dst, &mut dst_secrets)?;
            copy::run(ctx, &src, &src_secrets, &dst, &dst_secrets).await
        }
        Command::Login {
            service:
                args::LoginService::Nextcloud {
                    url,
                    remember,
                    add,
                    folder,
                    ca_cert,
                    insecure_http,
                    timeout,
                },
        } => {
            login::nextcloud(
                &url,
                remember,
                add.as_deref(),
                folder.as_deref(),
                ca_cert.as_deref(),
                insecure_http,
                timeout,
            )
            .await
        }
        Command::Mount(_)
        | Command::MountDaemon(_)
        | Command::Unmount { .. }
        | Command::Queue { .. }
        | Command::Status { .. }
        | Command::Open { .. }
        | Command::Auth { .. }
        | Command::Add(_)
        | Command::List
        | Command::Remove { .. }
        | Command::Forget { .. }
        | Command::Pin { .. }
        | Command::Unpin { .. }
        | Command::Completions { .. } => Err(CliError::other("internal: command dispatched twice")),
    }
}

/// The commands on files in a vault.
async fn file_command(ctx: Ctx, command: Command) -> CliResult {
    use commands::*;
    match command {
        Command::Ls {
            long,
            recursive,
            nul,
            storage,
            path,
            secrets,
        } => ls::run(&storage, &secrets, &path, long, recursive, nul).await,
        Command::Cat {
            storage,
            path,
            secrets,
        } => cat::run(&storage, &secrets, &path).await,
        Command::Get {
            recursive,
            storage,
            path,
            dest,
            secrets,
        } => get::run(ctx, &storage, &secrets, &path, &dest, recursive).await,
        Command::Put {
            recursive,
            storage,
            src,
            path,
            secrets,
        } => put::run(ctx, &storage, &secrets, &src, &path, recursive).await,
        Command::Mkdir {
            parents,
            storage,
            paths,
            secrets,
        } => mkdir::run(&storage, &secrets, &paths, parents).await,
        Command::Rm {
            recursive,
            storage,
            paths,
            secrets,
        } => rm::run(&storage, &secrets, &paths, recursive).await,
        Command::Mv {
            storage,
            from,
            to,
            secrets,
        } => mv::run(&storage, &secrets, &from, &to).await,
        _ => Err(CliError::other("internal: not a file command")),
    }
}

/// The commands on a vault's password and recovery key.
async fn key_command(ctx: Ctx, command: Command) -> CliResult {
    use commands::*;
    match command {
        Command::Passwd {
            storage,
            secrets,
            new_password_file,
        } => passwd::run(ctx, &storage, &secrets, new_password_file.as_deref()).await,
        Command::RecoveryKey(args::RecoveryKeyCommand::Show {
            storage,
            word_list,
            secrets,
        }) => recovery_key::show(ctx, &storage, &secrets, word_list.as_deref()).await,
        Command::RecoveryKey(args::RecoveryKeyCommand::Reset {
            storage,
            word_list,
            recovery_key_file,
            new_password_file,
            secrets,
        }) => {
            recovery_key::reset(
                ctx,
                &storage,
                &secrets,
                word_list.as_deref(),
                recovery_key_file.as_deref(),
                new_password_file.as_deref(),
            )
            .await
        }
        _ => Err(CliError::other("internal: not a key command")),
    }
}

/// A NAME given as STORAGE becomes the configured STORAGE, with the entry's connection options
/// where no flag was given (docs/cli.md "STORAGE"). `mount` does this itself (it also takes
/// the mountpoint and mount options); `forget` looks the name up itself.
/// Hands the command's one [`keyring_use::KeyringUse`] to each of its `SecretArgs`. No `_` arm:
/// a new command with secrets must be listed here, or what it remembers would be lost.
fn share_keyring(command: &mut Command, keyring: &keyring_use::KeyringUse) {
    use args::RecoveryKeyCommand as Rk;
    let secrets = match command {
        Command::Create { secrets, .. }
        | Command::Info { secrets, .. }
        | Command::Ls { secrets, .. }
        | Command::Cat { secrets, .. }
        | Command::Get { secrets, .. }
        | Command::Put { secrets, .. }
        | Command::Mkdir { secrets, .. }
        | Command::Rm { secrets, .. }
        | Command::Mv { secrets, .. }
        | Command::Passwd { secrets, .. }
        | Command::Copy { secrets, .. }
        | Command::Check { secrets, .. }
        | Command::Forget { secrets, .. }
        | Command::RecoveryKey(Rk::Show { secrets, .. } | Rk::Reset { secrets, .. }) => secrets,
        Command::Mount(args) | Command::MountDaemon(args) => &mut args.secrets,
        Command::Unmount { .. }
        | Command::Queue { .. }
        | Command::Status { .. }
        | Command::Open { .. }
        | Command::Auth { .. }
        | Command::Add(_)
        | Command::List
        | Command::Remove { .. }
        | Command::Login { .. }
        | Command::Pin { .. }
        | Command::Unpin { .. }
        | Command::Completions { .. } => return,
    };
    secrets.keyring = keyring.clone();
}

fn resolve_names(command: &mut Command) -> CliResult {
    match command {
        Command::Create { storage, secrets }
        | Command::Info { storage, secrets }
        | Command::Ls {
            storage, secrets, ..
        }
        | Command::Cat {
            storage, secrets, ..
        }
        | Command::Get {
            storage, secrets, ..
        }
        | Command::Put {
            storage, secrets, ..
        }
        | Command::Mkdir {
            storage, secrets, ..
        }
        | Command::Rm {
            storage, secrets, ..
        }
        | Command::Mv {
            storage, secrets, ..
        }
        | Command::Passwd {
            storage, secrets, ..
        }
        | Command::Check {
            storage, secrets, ..
        }
        | Command::RecoveryKey(
            args::RecoveryKeyCommand::Show {
                storage, secrets, ..
            }
            | args::RecoveryKeyCommand::Reset {
                storage, secrets, ..
            },
        ) => {
            config::resolve(storage, secrets)?;
        }
        _ => {}
    }
    Ok(())
}

/// The one tokio runtime of a command.
pub(crate) fn runtime() -> CliResult<tokio::runtime::Runtime> {
    // Before the runtime's threads exist (see the function: the mount daemon's memory).
    #[cfg(target_os = "linux")]
    vault_fs::limit_malloc_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::other(format!("cannot start the async runtime: {e}")))
}

/// No core dumps (they would hold keys and cleartext): RLIMIT_CORE = 0 and not dumpable.
fn harden_process() {
    use rustix::process::{Resource, Rlimit, setrlimit};
    if let Err(e) = setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    ) {
        eprintln!("vault: warning: cannot disable core dumps: {e}");
    }
    #[cfg(target_os = "linux")]
    if let Err(e) =
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
    {
        eprintln!("vault: warning: cannot mark the process non-dumpable: {e}");
    }
}

/// A panic is a bug: one line, no backtrace, no Debug dump of anything that may hold secrets.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("vault: internal error{location} (this is a bug; please report it)");
    }));
}
