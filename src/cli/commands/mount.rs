//! `vault mount STORAGE MOUNTPOINT`: the drive.
//!
//! Secrets are asked first, in the foreground. Unless `--foreground`, the program then re-executes
//! itself as a detached daemon (`__mount-daemon`, new session, cwd `/`), hands it the password
//! through a pipe on its stdin (never argv or the environment) and waits on the daemon's stdout
//! for one line: `ok` once the mount answers (then exit 0), or `err CODE MESSAGE` (then the
//! message is printed and CODE is the exit code). The daemon then drops the pipe. Before that
//! line the daemon may send `info TEXT` / `ask ECHO PROMPT` lines: questions its own login could
//! not answer (a replayed TOTP code refused), which the parent asks its terminal or askpass and
//! answers on the pipe (`reauth`). Once mounted, an sftp:// daemon takes reconnect answers from
//! `vault auth` (`reauth`).

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use vault_engine::{OpenOptions, Vault};
use vault_fs::{MountError, MountOptions};
use vault_storage::content::ContentCache;

use crate::cli::Ctx;
use crate::cli::args::{MountArgs, SecretArgs};
use crate::cli::autolock::AutoLock;
use crate::cli::cache::{self, CacheChoice, CacheMode};
use crate::cli::cache_mount::{self, ModeNote};
use crate::cli::daemon_life::DaemonLife;
use crate::cli::desktop::Desktop;
use crate::cli::exit::{CliError, CliResult, Exit};
use crate::cli::notify::Notifier;
use crate::cli::offline::ONLINE_WAIT;
use crate::cli::queue_mount;
use crate::cli::secrets::{Answer, Secrets};
use crate::cli::storage_arg::{self, ConnectOptions, io_text};
use crate::cli::{reauth, runtime};

use super::mount_handover::{decode_answers, encode_answers, read_parent_block};

/// A mount request after option parsing.
#[derive(Debug, Clone)]
struct Plan {
    options: MountOptions,
    secrets: SecretArgs,
    mountpoint: PathBuf,
    /// `-o auth_wait=DURATION`: how long a reconnect waits for `vault auth`.
    auth_wait: Option<Duration>,
    /// `--cache`, `--dir-cache-time` (and their `-o` words).
    cache: CacheChoice,
    /// `--cache-max-size` (`-o cache_max_size=`).
    cache_max_size: Option<u64>,
    /// `-o drain_timeout=`: how long the end of a `vault unmount` waits for the upload queue.
    drain_timeout: Duration,
}

/// `-o` words that only matter to mount(8)/fstab and are dropped here.
const USERSPACE_ONLY: &[&str] = &[
    "defaults", "auto", "noauto", "user", "users", "nouser", "owner", "group", "_netdev", "nofail",
    "rw",
];

fn plan(args: &MountArgs) -> CliResult<Plan> {
    let mountpoint_arg = args.mountpoint.clone().ok_or_else(|| {
        CliError::usage(format!(
            "no MOUNTPOINT given and {} has none configured: give one, or `vault add NAME STORAGE MOUNTPOINT --force`",
            args.storage
        ))
    })?;
    let mut options = MountOptions {
        read_only: args.read_only,
        allow_other: args.allow_other,
        idle_timeout: args.idle,
        fs_name: args.storage.clone(),
        ..MountOptions::default()
    };
    let mut secrets = args.secrets.clone();
    let mut auth_wait = None;
    let mut cache = CacheChoice::default();
    let mut cache_max_size = None;
    let mut drain_timeout = queue_mount::DEFAULT_DRAIN_TIMEOUT;
    for word in args
        .options
        .iter()
        .flat_map(|o| o.split(','))
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (word, None),
        };
        match (key, value) {
            ("ro" | "read-only" | "read_only", None) => options.read_only = true,
            ("allow_other", None) => options.allow_other = true,
            ("nonempty", None) => options.allow_non_empty = true,
            ("idle", Some(v)) => {
                options.idle_timeout =
                    Some(super::super::args::parse_duration(v).map_err(CliError::usage)?)
            }
            ("password_file" | "password-file" | "passfile", Some(v)) => {
                secrets.password_file = Some(v.into())
            }
            ("askpass", Some(v)) => secrets.askpass = Some(v.into()),
            ("auth_wait", Some(v)) => {
                auth_wait = Some(super::super::args::parse_duration(v).map_err(CliError::usage)?)
            }
            ("cache", Some(v)) => cache.mode = Some(cache::parse_mode(v).map_err(CliError::usage)?),
            ("cache_max_size", Some(v)) => {
                cache_max_size = Some(super::super::args::parse_size(v).map_err(CliError::usage)?)
            }
            ("drain_timeout", Some(v)) => {
                drain_timeout = super::super::args::parse_duration(v).map_err(CliError::usage)?
            }
            ("dir_cache_time", Some(v)) => {
                cache.ttl = Some(super::super::args::parse_duration(v).map_err(CliError::usage)?)
            }
            ("attr_timeout", Some(v)) => {
                options.attr_timeout =
                    super::super::args::parse_duration(v).map_err(CliError::usage)?
            }
            ("entry_timeout", Some(v)) => {
                options.entry_timeout =
                    super::super::args::parse_duration(v).map_err(CliError::usage)?
            }
            ("symlinks", Some(v)) => {
                v.parse::<vault_fs::ops::SymlinkPolicy>()
                    .map_err(CliError::usage)?;
                options.extra_options.push(word.to_string())
            }
            (k, None) if USERSPACE_ONLY.contains(&k) => {}
            (k, _) if k.starts_with("x-") || k == "comment" => {}
            _ => options.extra_options.push(word.to_string()),
        }
    }
    // After the -o words, so the flag wins (the last `symlinks=` counts).
    if let Some(mode) = &args.symlinks {
        options.extra_options.push(format!("symlinks={mode}"));
    }
    cache.mode = args.cache.or(cache.mode);
    cache.ttl = args.dir_cache_time.or(cache.ttl);
    let cache_max_size = args.cache_max_size.or(cache_max_size);
    let mountpoint = std::path::absolute(&mountpoint_arg).unwrap_or(mountpoint_arg);
    Ok(Plan {
        options,
        secrets,
        mountpoint,
        auth_wait,
        cache,
        cache_max_size,
        drain_timeout,
    })
}

/// Cheap checks before any secret is asked for.
fn check_mountpoint(plan: &Plan) -> CliResult {
    let mp = &plan.mountpoint;
    match std::fs::metadata(mp) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(mount_error(MountError::NotADirectory(mp.clone()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(mount_error(MountError::NotADirectory(mp.clone())));
        }
        Err(e) => {
            return Err(CliError::other(format!(
                "mountpoint {}: {}",
                mp.display(),
                io_text(&e)
            )));
        }
    }
    if !plan.options.allow_non_empty
        && let Ok(mut entries) = std::fs::read_dir(mp)
        && entries.next().is_some()
    {
        return Err(mount_error(MountError::NotEmpty(mp.clone())));
    }
    Ok(())
}

fn mount_error(e: MountError) -> CliError {
    CliError::new(Exit::Error, e.to_string())
}

/// A named vault's settings where the command line gave none (flags win).
fn apply_named(args: &mut MountArgs) -> CliResult {
    let Some((_name, entry)) = crate::cli::config::resolve(&mut args.storage, &mut args.secrets)?
    else {
        return Ok(());
    };
    if args.mountpoint.is_none() {
        args.mountpoint = entry.mountpoint.clone();
    }
    args.read_only |= entry.read_only;
    if args.idle.is_none()
        && let Some(idle) = &entry.idle
    {
        args.idle = Some(super::super::args::parse_duration(idle).map_err(CliError::usage)?);
    }
    if args.symlinks.is_none() {
        args.symlinks = entry.symlinks.clone();
    }
    if entry.auto_lock == Some(false) {
        args.no_auto_lock = true;
    }
    if args.cache.is_none()
        && let Some(mode) = &entry.cache
    {
        args.cache = Some(cache::parse_mode(mode).map_err(CliError::usage)?);
    }
    if args.dir_cache_time.is_none()
        && let Some(t) = &entry.dir_cache_time
    {
        args.dir_cache_time = Some(super::super::args::parse_duration(t).map_err(CliError::usage)?);
    }
    if args.cache_max_size.is_none()
        && let Some(t) = &entry.cache_max_size
    {
        args.cache_max_size = Some(super::super::args::parse_size(t).map_err(CliError::usage)?);
    }
    args.no_sidebar |= entry.sidebar == Some(false);
    args.no_notify |= entry.notify == Some(false);
    Ok(())
}

/// `vault mount`.
pub fn run(ctx: Ctx, mut args: MountArgs) -> CliResult {
    crate::cli::sidebar::sweep();
    apply_named(&mut args)?;
    let plan = plan(&args)?;
    storage_arg::parse(&args.storage)?;
    check_mountpoint(&plan)?;
    let rt = runtime()?;
    if args.foreground {
        let mut secrets = Secrets::from_args(&plan.secrets);
        secrets.connect.cache = plan.cache;
        let (vault, mode, content, queue) = rt.block_on(async {
            let (existing, offline) =
                crate::cli::offline::connect_for_mount(&args.storage, &secrets, ONLINE_WAIT)
                    .await?;
            let (storage, cached) = (existing.storage, existing.cached);
            let (storage, content) = cache_mount::content_layer(
                storage,
                &args.storage,
                &plan.cache,
                plan.cache_max_size,
            )?;
            let (storage, queue) = queue_mount::layer(storage, plan.cache.mode);
            let password = secrets.vault_password(&args.storage)?;
            let vault = Vault::unlock(
                storage.clone(),
                password.expose_secret(),
                OpenOptions {
                    read_only: plan.options.read_only,
                },
            )
            .await
            .map_err(|e| CliError::vault(&args.storage, &e))?;
            drop(password);
            let mode = persist_cache(
                &vault,
                cached.as_deref(),
                content.as_deref(),
                queue.as_deref(),
                &args.storage,
                &plan,
            )?;
            if let Some(o) = offline {
                o.watch(&tokio::runtime::Handle::current(), storage);
            }
            Ok::<_, CliError>((Arc::new(vault), mode, content, queue))
        })?;
        drop(secrets);
        // This mount's notifications (off until `Desktop::mounted`).
        let notifier = Notifier::default();
        vault.on_conflict(notifier.conflict_observer());
        let mount = vault_fs::mount(
            vault.clone(),
            &plan.mountpoint,
            plan.options.clone(),
            rt.handle().clone(),
        )
        .map_err(mount_error)?;
        let _mode_note = ModeNote::write(&plan.mountpoint, mode);
        let _pins = cache_mount::serve_pins(rt.handle(), &vault, content, mode, &plan.mountpoint);
        if let Some(q) = &queue {
            queue_mount::report(rt.handle(), q.clone(), &plan.mountpoint, None);
        }
        // Mounted: what --remember asked for was right.
        crate::cli::remember::commit(&plan.secrets.keyring);
        let life = DaemonLife::hold(mount.mountpoint().unwrap_or(&plan.mountpoint));
        let autolock = arm_auto_lock(&rt, &mount, args.no_auto_lock, &notifier);
        let desktop = Desktop::mounted(
            &args,
            mount.mountpoint().unwrap_or(&plan.mountpoint),
            notifier,
        );
        mounted(&plan, args.reveal, ctx.quiet);
        let result = mount.wait_ended().map_err(mount_error);
        if let Some(q) = &queue {
            queue_mount::finish(&rt, q, &plan.mountpoint, plan.drain_timeout);
        }
        autolock.finish();
        desktop.ended(result.as_ref().ok().copied());
        drop(life);
        return result.map(|_| ());
    }
    // Every secret is asked here, in the foreground, and handed to the daemon through a pipe.
    let secrets = Secrets::from_args(&plan.secrets).recording();
    // Started offline here, the daemon does not wait for the connect again.
    let (existing, offline) = rt.block_on(crate::cli::offline::connect_for_mount(
        &args.storage,
        &secrets,
        ONLINE_WAIT,
    ))?;
    // Dropped before the daemon starts: the cache's lock goes with them.
    drop(existing);
    args.offline_start = offline.is_some();
    drop(offline);
    secrets.vault_password(&args.storage)?;
    drop(rt);
    let answers = secrets.take_recorded();
    spawn_daemon(&args, &plan, answers, &secrets)?;
    mounted(&plan, args.reveal, ctx.quiet);
    Ok(())
}

/// Makes the metadata cache persistent when the mode (asked for, or the storage's default) is
/// `metadata` or `full` (then with the content cache); the mode the mount runs with.
fn persist_cache(
    vault: &Vault,
    cached: Option<&vault_storage::cached::CachedStorage>,
    content: Option<&ContentCache>,
    queue: Option<&vault_storage::queue::QueuedStorage>,
    storage_arg: &str,
    plan: &Plan,
) -> CliResult<CacheMode> {
    let choice = &plan.cache;
    let spec = storage_arg::parse(storage_arg)?;
    let local = matches!(spec, storage_arg::StorageSpec::Local(_));
    match (choice.mode_for(local), cached) {
        (mode @ (CacheMode::Metadata | CacheMode::Full), Some(cached)) => {
            let persisted = cache_mount::persist(
                cached,
                content,
                &vault.info().vault_id,
                storage_arg,
                &spec,
                &plan.secrets.s3,
                choice.mode.is_some(),
            )?;
            match (mode, queue) {
                (CacheMode::Full, Some(q)) if persisted != CacheMode::Off => {
                    queue_mount::attach(q, cached, vault)?;
                    Ok(CacheMode::Full)
                }
                _ => Ok(persisted),
            }
        }
        _ => Ok(CacheMode::Off),
    }
}

/// Auto-lock on suspend and session lock, unless `--no-auto-lock` (see `cli::autolock`).
fn arm_auto_lock(
    rt: &tokio::runtime::Runtime,
    mount: &vault_fs::MountSession,
    no_auto_lock: bool,
    notifier: &Notifier,
) -> AutoLock {
    match (no_auto_lock, mount.stop_handle(), mount.mountpoint()) {
        (false, Some(stop), Some(mountpoint)) => {
            AutoLock::start(rt, mountpoint, stop, notifier.clone())
        }
        _ => AutoLock::disabled(),
    }
}

/// The mount answers: print its mountpoint, and open it in the file manager on `--reveal`.
fn mounted(plan: &Plan, reveal: bool, quiet: bool) {
    println!("{}", plan.mountpoint.display());
    if reveal {
        crate::cli::reveal::reveal(&plan.mountpoint, quiet);
    }
}

/// Starts the detached daemon, hands it `answers` and relays its questions until it reports.
fn spawn_daemon(
    args: &MountArgs,
    plan: &Plan,
    answers: Vec<Answer>,
    secrets: &Secrets,
) -> CliResult {
    let spec = storage_arg::parse(&args.storage)?;
    let storage_abs = storage_arg::absolute(&args.storage, &spec);
    let exe = std::env::current_exe()
        .map_err(|e| CliError::other(format!("cannot find the vault program: {e}")))?;
    let argv = daemon_argv(args, plan, storage_abs);
    let stderr = daemon_stderr(args.log_file.as_deref())?;
    let mut child = Command::new(exe)
        .args(&argv)
        .env_remove("VAULT_ASKPASS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map_err(|e| CliError::other(format!("cannot start the mount daemon: {}", io_text(&e))))?;
    let mut to_daemon = child.stdin.take();
    if let Some(stdin) = &mut to_daemon {
        // A daemon that died early closes the pipe; its report (or exit status) says why.
        let _ = stdin.write_all(&encode_answers(&answers));
        let _ = stdin.flush();
    }
    drop(answers);
    let report = relay_until_report(&mut child, &mut to_daemon, secrets);
    drop(to_daemon);
    daemon_outcome(report.trim_end(), &mut child)
}

/// `__mount-daemon` with the plan's options, then `-- STORAGE MOUNTPOINT`.
fn daemon_argv(args: &MountArgs, plan: &Plan, storage_abs: String) -> Vec<OsString> {
    let mut argv: Vec<OsString> = vec!["__mount-daemon".into()];
    if plan.options.read_only {
        argv.push("--read-only".into());
    }
    if plan.options.allow_other {
        argv.push("--allow-other".into());
    }
    if args.no_auto_lock {
        argv.push("--no-auto-lock".into());
    }
    if args.offline_start {
        argv.push("--offline-start".into());
    }
    for (off, flag) in [
        (args.no_sidebar, "--no-sidebar"),
        (args.no_notify, "--no-notify"),
    ] {
        if off {
            argv.push(flag.into());
        }
    }
    if let Some(idle) = plan.options.idle_timeout {
        argv.push("--idle".into());
        argv.push(format!("{}ms", idle.as_millis()).into());
    }
    argv.push("-o".into());
    argv.push(daemon_option_words(plan).join(",").into());
    argv.extend(daemon_askpass_argv(&plan.secrets));
    argv.push("--display-name".into());
    argv.push(args.storage.clone().into());
    argv.extend(ConnectOptions::from_args(&plan.secrets).to_argv());
    argv.push("--".into());
    argv.push(storage_abs.into());
    argv.push(plan.mountpoint.clone().into());
    argv
}

/// The daemon's `-o` words: the plan's own, and the settings that have no flag of their own.
fn daemon_option_words(plan: &Plan) -> Vec<String> {
    let mut words = plan.options.extra_options.clone();
    if plan.options.allow_non_empty {
        words.push("nonempty".into());
    }
    words.push(format!(
        "attr_timeout={}ms",
        plan.options.attr_timeout.as_millis()
    ));
    words.push(format!(
        "entry_timeout={}ms",
        plan.options.entry_timeout.as_millis()
    ));
    if let Some(wait) = plan.auth_wait {
        words.push(format!("auth_wait={}ms", wait.as_millis()));
    }
    if let Some(mode) = plan.cache.mode {
        words.push(format!("cache={}", mode.as_str()));
    }
    if let Some(ttl) = plan.cache.ttl {
        words.push(format!("dir_cache_time={}ms", ttl.as_millis()));
    }
    if let Some(max) = plan.cache_max_size {
        words.push(format!("cache_max_size={max}"));
    }
    if plan.drain_timeout != queue_mount::DEFAULT_DRAIN_TIMEOUT {
        words.push(format!(
            "drain_timeout={}ms",
            plan.drain_timeout.as_millis()
        ));
    }
    words
}

/// The daemon's stderr: `--log-file` (appended to), else nowhere.
fn daemon_stderr(log_file: Option<&Path>) -> CliResult<Stdio> {
    let Some(path) = log_file else {
        return Ok(Stdio::null());
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| {
            CliError::other(format!(
                "cannot open log file {}: {}",
                path.display(),
                io_text(&e)
            ))
        })?;
    Ok(Stdio::from(file))
}

/// Reads the daemon's lines, relaying its questions (see `reauth`), until the first line
/// that is none: its report.
fn relay_until_report(
    child: &mut std::process::Child,
    to_daemon: &mut Option<std::process::ChildStdin>,
    secrets: &Secrets,
) -> String {
    let mut report = String::new();
    if let Some(stdout) = child.stdout.take() {
        let mut reader = std::io::BufReader::new(stdout);
        // Questions the daemon's own login could not answer come first (see `reauth`).
        loop {
            report.clear();
            let _ = reader.read_line(&mut report);
            let relayed = match to_daemon {
                Some(stdin) => {
                    reauth::parent_relay_line(report.trim_end_matches(['\n', '\r']), secrets, stdin)
                }
                None => false,
            };
            if !relayed {
                break;
            }
        }
    }
    report
}

/// What the daemon's report means: `ok`, `err CODE MESSAGE`, or nothing (it stopped).
fn daemon_outcome(report: &str, child: &mut std::process::Child) -> CliResult {
    if report == "ok" {
        return Ok(());
    }
    if let Some(rest) = report.strip_prefix("err ") {
        let _ = child.wait();
        let (code, message) = rest.split_once(' ').unwrap_or((rest, "mount failed"));
        let exit = Exit::from_code(code.parse().unwrap_or(1));
        return Err(CliError::new(
            if exit == Exit::Success {
                Exit::Error
            } else {
                exit
            },
            message,
        ));
    }
    let status = child
        .wait()
        .map(|s| s.to_string())
        .unwrap_or_else(|e| e.to_string());
    Err(CliError::other(format!(
        "the mount daemon stopped before the mount was ready ({status})"
    )))
}

/// The detached daemon (`vault __mount-daemon … STORAGE MOUNTPOINT`, password on stdin).
pub fn run_daemon(_ctx: Ctx, args: MountArgs) -> CliResult {
    let _ = rustix::process::setsid();
    let mut report = std::io::stdout();
    let relay = reauth::ParentRelay::default();
    // This mount's notifications (off until `Desktop::mounted`).
    let notifier = Notifier::default();
    let started = start_daemon(&args, &relay, &notifier);
    relay.close();
    let (rt, mount, auth_socket, mode_note, cached, pins, queue) = match started {
        Ok(v) => v,
        Err(e) => {
            let _ = writeln!(report, "err {} {}", e.exit.code(), e.message);
            let _ = report.flush();
            return Err(e);
        }
    };
    // Held until everything is stored: `vault unmount` waits for it.
    let life = DaemonLife::hold(mount.mountpoint().unwrap_or(Path::new("/")));
    let autolock = arm_auto_lock(&rt, &mount, args.no_auto_lock, &notifier);
    let desktop = Desktop::mounted(
        &args,
        mount.mountpoint().unwrap_or(Path::new("/")),
        notifier,
    );
    let _ = writeln!(report, "ok");
    let _ = report.flush();
    // Let go of the parent's pipe: stdin and stdout now point at /dev/null.
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let _ = rustix::stdio::dup2_stdout(&null);
        let _ = rustix::stdio::dup2_stdin(&null);
    }
    let result = mount.wait_ended().map_err(mount_error);
    if let (Some(q), Ok(p)) = (&queue, plan(&args)) {
        queue_mount::finish(&rt, q, &p.mountpoint, p.drain_timeout);
    }
    if let Some(c) = &cached {
        c.release_store();
    }
    drop(auth_socket);
    drop(pins);
    drop(mode_note);
    autolock.finish();
    desktop.ended(result.as_ref().ok().copied());
    let result = result.map(|_| ());
    rt.shutdown_timeout(Duration::from_secs(5));
    drop(life);
    result
}

type Started = (
    tokio::runtime::Runtime,
    vault_fs::MountSession,
    Option<reauth::AuthSocket>,
    ModeNote,
    Option<Arc<vault_storage::cached::CachedStorage>>,
    Option<crate::cli::pin::PinSocket>,
    Option<Arc<vault_storage::queue::QueuedStorage>>,
);

fn start_daemon(
    args: &MountArgs,
    relay: &reauth::ParentRelay,
    notifier: &Notifier,
) -> CliResult<Started> {
    let mut plan = plan(args)?;
    plan.options.fs_name = args.storage.clone();
    let input = read_parent_block()?;
    let mut answers =
        decode_answers(&input).ok_or_else(|| CliError::other("garbled secrets from the parent"))?;
    drop(input);
    let shown_name = args
        .display_name
        .clone()
        .unwrap_or_else(|| args.storage.clone());
    // The vault password unlocks once and is dropped: what answers the server never holds it.
    let password = crate::cli::secrets::take_vault_password(&mut answers, &shown_name)
        .ok_or_else(|| CliError::other("no vault password from the parent"))?;
    relay.open();
    let mut secrets = Secrets::preset(answers, ConnectOptions::from_args(&plan.secrets));
    secrets.connect.cache = plan.cache;
    let broker = reauth_prompter(args, &plan, &mut secrets, relay, notifier);
    let _ = std::env::set_current_dir(Path::new("/"));
    let rt = runtime()?;
    let read_only = plan.options.read_only;
    let (vault, mode, cached, content, queue) = rt.block_on(async {
        let wait = if args.offline_start {
            std::time::Duration::ZERO
        } else {
            ONLINE_WAIT
        };
        let (existing, offline) =
            crate::cli::offline::connect_for_mount(&args.storage, &secrets, wait)
                .await
                .map_err(|e| shown(e, args))?;
        let (storage, cached) = (existing.storage, existing.cached);
        let (storage, content) =
            cache_mount::content_layer(storage, &args.storage, &plan.cache, plan.cache_max_size)
                .map_err(|e| shown(e, args))?;
        let (storage, queue) = queue_mount::layer(storage, plan.cache.mode);
        let unlocked = Vault::unlock(
            storage.clone(),
            password.expose_secret(),
            OpenOptions { read_only },
        )
        .await
        .map_err(|e| CliError::vault(&shown_name, &e));
        drop(password);
        let vault = unlocked?;
        let mode = persist_cache(
            &vault,
            cached.as_deref(),
            content.as_deref(),
            queue.as_deref(),
            &args.storage,
            &plan,
        )
        .map_err(|e| shown(e, args))?;
        if let Some(o) = offline {
            o.watch(&tokio::runtime::Handle::current(), storage);
        }
        Ok::<_, CliError>((Arc::new(vault), mode, cached, content, queue))
    })?;
    drop(secrets);
    vault.on_conflict(notifier.conflict_observer());
    let key = reauth::mount_key(&plan.mountpoint);
    let mount = vault_fs::mount(
        vault.clone(),
        &plan.mountpoint,
        plan.options.clone(),
        rt.handle().clone(),
    )
    .map_err(mount_error)?;
    let socket = reauth_serve(&rt, broker.clone(), &key);
    let note = ModeNote::write(&plan.mountpoint, mode);
    let pins = cache_mount::serve_pins(rt.handle(), &vault, content, mode, &plan.mountpoint);
    if let Some(q) = &queue {
        let login = broker.filter(|_| socket.is_some());
        queue_mount::report(rt.handle(), q.clone(), &plan.mountpoint, login);
    }
    Ok((rt, mount, socket, note, cached, pins, queue))
}

/// Messages name STORAGE as the user typed it, not the daemon's absolute form.
fn shown(mut e: CliError, args: &MountArgs) -> CliError {
    if let Some(name) = &args.display_name {
        e.message = e.message.replace(&args.storage, name);
    }
    e
}

// ------------------------------------------------------------------ reconnect answers (`vault auth`)

/// `--askpass CMD` for the daemon (a path made absolute: the daemon runs in `/`), so a
/// reconnect that needs a new answer asks the same program.
fn daemon_askpass_argv(secrets: &SecretArgs) -> Vec<OsString> {
    match secrets.askpass.as_deref().map(str::trim) {
        Some(cmd) if !cmd.is_empty() => {
            let cmd = if cmd.contains('/') {
                std::path::absolute(cmd)
                    .map(PathBuf::into_os_string)
                    .unwrap_or_else(|_| cmd.into())
            } else {
                cmd.into()
            };
            vec!["--askpass".into(), cmd]
        }
        _ => Vec::new(),
    }
}

/// For an sftp:// mount: the daemon's prompter (recorded answers until refused, then askpass,
/// then a desktop dialog, then `vault auth`), installed in `secrets`; its broker is served once the mount is up.
fn reauth_prompter(
    args: &MountArgs,
    plan: &Plan,
    secrets: &mut Secrets,
    relay: &reauth::ParentRelay,
    notifier: &Notifier,
) -> Option<Arc<reauth::Broker>> {
    let url = vault_sftp::parse_sftp_url(&args.storage).ok()?;
    let broker = reauth::Broker::new(
        &url.host,
        &plan.mountpoint,
        plan.auth_wait.unwrap_or(reauth::DEFAULT_AUTH_WAIT),
        notifier.clone(),
    );
    // In a desktop session a reconnect's question also gets a dialog (`gui_prompt`).
    let dialog = crate::cli::gui_prompt::find(&crate::cli::gui_prompt::Env::current())
        .map(Secrets::with_gui);
    let prompter = reauth::DaemonPrompter::new(
        secrets.clone(),
        plan.secrets.askpass.clone(),
        broker.clone(),
    )
    .with_dialog(dialog)
    .with_parent(relay.clone());
    secrets.connect.sftp_prompter = Some(reauth::SharedPrompter(Arc::new(prompter)));
    Some(broker)
}

/// Listens for `vault auth` (a failure only costs that: the mount stays).
fn reauth_serve(
    rt: &tokio::runtime::Runtime,
    broker: Option<Arc<reauth::Broker>>,
    key: &Path,
) -> Option<reauth::AuthSocket> {
    let broker = broker?;
    match reauth::serve(rt, broker, key) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("`vault auth` will not reach this mount: {}", e.message);
            None
        }
    }
}
