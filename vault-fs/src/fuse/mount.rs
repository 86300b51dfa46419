//! Mounting and unmounting: options, the kernel mount, the session thread,
//! `--idle`, SIGINT/SIGTERM, `fusermount3 -u[z]`, and /proc/self/mountinfo.
//!
//! As root the mount is made with mount(2) and type `fuse.vault` (fuser's own
//! root path would show the type as plain `fuse`); otherwise through the
//! setuid `fusermount3` with `subtype=vault`. Either way `/proc/mounts` shows
//! `fuse.vault` with the options' `fs_name` as the source.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use fuser::{Config, MountOption, Session, SessionACL};
use vault_engine::Vault;

use super::{Activity, FuseAdapter};
use crate::ops::{FsConfig, VaultFs};
use crate::{MountError, MountOptions, MountedVault};

/// The filesystem type shown in /proc/mounts.
const FS_TYPE: &str = "fuse.vault";

/// Options after parsing `extra_options`.
struct Parsed {
    fs: FsConfig,
    allow_non_empty: bool,
    /// Who besides the owner may use the mount: nobody, root (`allow_root`), everyone.
    acl: SessionACL,
    /// `-o allow_root`, settled into `acl` once every word is read.
    allow_root: bool,
    /// `-o default_permissions`: the kernel checks modes even where it could refuse nothing.
    default_permissions: bool,
    attr_ttl: Duration,
    entry_ttl: Duration,
    flags: nix::mount::MsFlags,
    fuser_flags: Vec<MountOption>,
}

fn invalid(msg: String) -> MountError {
    MountError::Io(io::Error::new(io::ErrorKind::InvalidInput, msg))
}

fn parse_secs(key: &str, value: &str) -> Result<Duration, MountError> {
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| invalid(format!("-o {key}={value}: expected seconds")))
}

fn parse_num(key: &str, value: &str, radix: u32) -> Result<u32, MountError> {
    u32::from_str_radix(value, radix)
        .map_err(|_| invalid(format!("-o {key}={value}: expected a number")))
}

fn parse_options(options: &MountOptions) -> Result<Parsed, MountError> {
    let mut p = Parsed::from_flags(options);
    for opt in options
        .extra_options
        .iter()
        .flat_map(|o| o.split(','))
        .map(str::trim)
    {
        let known = match opt.split_once('=') {
            Some((key, value)) => p.set_value(key, value)?,
            None => p.set_word(opt),
        };
        if !known {
            return Err(invalid(format!("unknown mount option `{opt}`")));
        }
    }
    p.settle()
}

impl Parsed {
    /// What the typed options (`--read-only`, `--allow-other`, the timeouts) ask for.
    fn from_flags(options: &MountOptions) -> Parsed {
        use nix::mount::MsFlags;
        Parsed {
            fs: FsConfig {
                uid: nix::unistd::getuid().as_raw(),
                gid: nix::unistd::getgid().as_raw(),
                read_only: options.read_only,
                ..FsConfig::default()
            },
            allow_non_empty: options.allow_non_empty,
            acl: if options.allow_other {
                SessionACL::All
            } else {
                SessionACL::Owner
            },
            allow_root: false,
            default_permissions: false,
            attr_ttl: options.attr_timeout,
            entry_ttl: options.entry_timeout,
            flags: MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            fuser_flags: Vec::new(),
        }
    }

    /// An `-o` word without a value: access, kernel mount flags, fstab words. False when
    /// unknown.
    fn set_word(&mut self, word: &str) -> bool {
        use nix::mount::MsFlags;
        match word {
            "" => {}
            "ro" => self.fs.read_only = true,
            "rw" => self.fs.read_only = false,
            "nonempty" => self.allow_non_empty = true,
            "allow_other" => self.acl = SessionACL::All,
            "allow_root" => self.allow_root = true,
            "default_permissions" => self.default_permissions = true,
            "noatime" => self.flags |= MsFlags::MS_NOATIME,
            "nodiratime" => self.flags |= MsFlags::MS_NODIRATIME,
            "relatime" | "atime" | "async" | "nosuid" | "nodev" => {}
            "exec" => self.flags.remove(MsFlags::MS_NOEXEC),
            "noexec" => {
                self.flags |= MsFlags::MS_NOEXEC;
                self.fuser_flags.push(MountOption::NoExec);
            }
            "sync" => {
                self.flags |= MsFlags::MS_SYNCHRONOUS;
                self.fuser_flags.push(MountOption::Sync);
            }
            "dirsync" => {
                self.flags |= MsFlags::MS_DIRSYNC;
                self.fuser_flags.push(MountOption::DirSync);
            }
            // Accepted for fstab compatibility; the helper handles them.
            "_netdev" | "noauto" | "user" | "users" | "auto" | "nofail" => {}
            _ => return false,
        }
        true
    }

    /// A `key=value` option: ownership, permissions, symlinks, timeouts. `Ok(false)` when
    /// unknown.
    fn set_value(&mut self, key: &str, v: &str) -> Result<bool, MountError> {
        match key {
            "uid" => self.fs.uid = parse_num(key, v, 10)?,
            "gid" => self.fs.gid = parse_num(key, v, 10)?,
            "umask" => {
                let m = parse_num(key, v, 8)? & 0o777;
                self.fs.file_perm = (0o666 & !m) as u16;
                self.fs.dir_perm = (0o777 & !m) as u16;
            }
            "fmask" => self.fs.file_perm = (0o666 & !(parse_num(key, v, 8)? & 0o777)) as u16,
            "dmask" => self.fs.dir_perm = (0o777 & !(parse_num(key, v, 8)? & 0o777)) as u16,
            "file_mode" => self.fs.file_perm = (parse_num(key, v, 8)? & 0o7777) as u16,
            "dir_mode" => self.fs.dir_perm = (parse_num(key, v, 8)? & 0o7777) as u16,
            "symlinks" => self.fs.symlinks = v.parse().map_err(|e| invalid(format!("-o {e}")))?,
            "attr_timeout" => self.attr_ttl = parse_secs(key, v)?,
            "entry_timeout" => self.entry_ttl = parse_secs(key, v)?,
            "io_timeout" => {
                let t = parse_secs(key, v)?;
                if t.is_zero() {
                    return Err(invalid("-o io_timeout=0: must be positive".into()));
                }
                self.fs.op_timeout = t;
            }
            // Accepted for fstab compatibility; the helper handles them.
            "fsname" | "subtype" => {}
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Whether the kernel checks modes (`default_permissions`; see `permissions`).
    fn kernel_checks_modes(&self) -> bool {
        let owner = nix::unistd::getuid().as_raw();
        super::permissions::kernel_checks_modes(&self.fs, self.acl, self.default_permissions, owner)
    }

    /// Once every word is read: who may use the mount, and the read-only flag.
    fn settle(mut self) -> Result<Parsed, MountError> {
        if self.allow_root {
            // As in libfuse 2, where the two were mutually exclusive: guessing which one was
            // meant could open the mount to every local user.
            if self.acl == SessionACL::All {
                return Err(invalid(
                    "-o allow_root and allow_other (--allow-other) cannot be combined".into(),
                ));
            }
            self.acl = SessionACL::RootAndOwner;
        }
        if self.fs.read_only {
            self.flags |= nix::mount::MsFlags::MS_RDONLY;
        }
        Ok(self)
    }
}

fn check_mountpoint(mountpoint: &Path, allow_non_empty: bool) -> Result<PathBuf, MountError> {
    let meta = match std::fs::metadata(mountpoint) {
        Ok(meta) => meta,
        Err(e) if e.raw_os_error() == Some(nix::libc::ENOTCONN) => {
            return Err(MountError::Io(io::Error::new(
                e.kind(),
                format!(
                    "{} is a stale mount (transport endpoint is not connected): run `vault unmount --force {}`",
                    mountpoint.display(),
                    mountpoint.display()
                ),
            )));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(MountError::NotADirectory(mountpoint.to_path_buf()));
        }
        Err(e) => return Err(MountError::Io(e)),
    };
    if !meta.is_dir() {
        return Err(MountError::NotADirectory(mountpoint.to_path_buf()));
    }
    if !allow_non_empty && std::fs::read_dir(mountpoint)?.next().is_some() {
        return Err(MountError::NotEmpty(mountpoint.to_path_buf()));
    }
    Ok(std::fs::canonicalize(mountpoint)?)
}

/// Escapes a value for the comma-separated option list fusermount3 parses.
fn option_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == ',' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

fn fuser_config(acl: SessionACL) -> Config {
    let mut config = Config::default();
    // `RootAndOwner` still mounts with the kernel's `allow_other` (the kernel knows no
    // root-only mode); fuser then answers requests of any other user with EACCES.
    config.acl = acl;
    // Two reader threads, each with its own /dev/fuse clone: replies and the
    // copy of write payloads never wait on one thread.
    config.n_threads = Some(2);
    config.clone_fd = true;
    config
}

/// Reader threads when requests run on them (local storage). More would let more requests
/// wait on the disk side by side; with four (before `malloc` limited the process to one
/// arena, each thread kept its own) the bench's peak RSS was 69-75 MiB (two: 40-49).
const INLINE_READER_THREADS: usize = 2;

fn kernel_mount(
    adapter: FuseAdapter,
    mountpoint: &Path,
    options: &MountOptions,
    parsed: &Parsed,
) -> io::Result<Session<FuseAdapter>> {
    let mut config = fuser_config(parsed.acl);
    if adapter.inline() {
        config.n_threads = Some(INLINE_READER_THREADS);
    }
    if nix::unistd::geteuid().is_root() {
        let dev = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/fuse")?;
        let root_mode = std::fs::metadata(mountpoint)?.mode() & 0o170000;
        let mut data = format!(
            "fd={},rootmode={:o},user_id={},group_id={}",
            dev.as_raw_fd(),
            root_mode,
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        );
        if parsed.kernel_checks_modes() {
            data.push_str(",default_permissions");
        }
        if parsed.acl != SessionACL::Owner {
            // For `allow_root` too: fuser filters by uid (see `fuser_config`).
            data.push_str(",allow_other");
        }
        let source = if options.fs_name.is_empty() {
            "vault"
        } else {
            options.fs_name.as_str()
        };
        nix::mount::mount(
            Some(source),
            mountpoint,
            Some(FS_TYPE),
            parsed.flags,
            Some(data.as_str()),
        )
        .map_err(|e| io::Error::from_raw_os_error(e as i32))?;
        let fd = OwnedFd::from(dev);
        match Session::from_fd(adapter, fd, config.acl, config) {
            Ok(session) => Ok(session),
            Err(e) => {
                let _ = nix::mount::umount2(mountpoint, nix::mount::MntFlags::MNT_DETACH);
                Err(e)
            }
        }
    } else {
        let name = if options.fs_name.is_empty() {
            "vault".to_owned()
        } else {
            option_safe(&options.fs_name)
        };
        config.mount_options = vec![
            MountOption::FSName(name),
            MountOption::Subtype("vault".into()),
            MountOption::NoSuid,
            MountOption::NoDev,
        ];
        if parsed.kernel_checks_modes() {
            config.mount_options.push(MountOption::DefaultPermissions);
        }
        if parsed.fs.read_only {
            config.mount_options.push(MountOption::RO);
        }
        if parsed.flags.contains(nix::mount::MsFlags::MS_NOATIME) {
            config.mount_options.push(MountOption::NoAtime);
        }
        config
            .mount_options
            .extend(parsed.fuser_flags.iter().cloned());
        Session::new(adapter, mountpoint, &config)
    }
}

enum Event {
    Ended,
    Signal,
    Idle,
    Stop,
}

struct Inner {
    mountpoint: PathBuf,
    fs: Arc<VaultFs>,
    runtime: tokio::runtime::Handle,
    events: mpsc::Receiver<Event>,
    events_tx: mpsc::Sender<Event>,
    ended: Arc<std::sync::atomic::AtomicBool>,
}

/// A live mount, owned by the process that serves it. Dropping it unmounts.
pub struct MountSession {
    inner: Option<Inner>,
}

impl std::fmt::Debug for MountSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MountSession")
            .field(
                "mountpoint",
                &self.inner.as_ref().map(|i| i.mountpoint.clone()),
            )
            .finish()
    }
}

/// Runs the future `make` returns to completion on `runtime`, from any
/// thread: a helper thread keeps this safe even when called from inside the
/// runtime, and the future is made there (it need not be `Send`).
fn block_on<T: Send, Fut: std::future::Future<Output = T>>(
    runtime: &tokio::runtime::Handle,
    make: impl FnOnce() -> Fut + Send,
) -> Option<T> {
    std::thread::scope(|s| s.spawn(|| runtime.block_on(make())).join().ok())
}

impl MountSession {
    /// The mountpoint (canonical).
    pub fn mountpoint(&self) -> Option<&Path> {
        self.inner.as_ref().map(|i| i.mountpoint.as_path())
    }

    /// A handle that ends [`MountSession::wait`] from another thread or task,
    /// the way SIGTERM does: flush every open file, then unmount.
    pub fn stop_handle(&self) -> Option<StopHandle> {
        self.inner.as_ref().map(|i| StopHandle {
            tx: i.events_tx.clone(),
        })
    }

    /// Blocks until the mount ends: unmounted from outside, `--idle` expired,
    /// SIGINT/SIGTERM or a [`StopHandle`] (then flushes and unmounts cleanly).
    pub fn wait(self) -> Result<(), MountError> {
        self.wait_ended().map(|_| ())
    }

    /// [`MountSession::wait`], saying what ended the mount.
    pub fn wait_ended(mut self) -> Result<EndedBy, MountError> {
        let Some(inner) = self.inner.take() else {
            return Ok(EndedBy::Outside);
        };
        let tx = inner.events_tx.clone();
        let signals = inner.runtime.spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            let _ = tx.send(Event::Signal);
        });
        let event = inner.events.recv();
        let by = match &event {
            Ok(Event::Signal) => EndedBy::Signal,
            Ok(Event::Idle) => EndedBy::Idle,
            Ok(Event::Stop) => EndedBy::Stop,
            Ok(Event::Ended) | Err(_) => EndedBy::Outside,
        };
        let result = match event {
            Ok(Event::Ended) | Err(_) => {
                // Unmounted from outside: every handle was released (and written back).
                let flushed = {
                    let fs = Arc::clone(&inner.fs);
                    block_on(&inner.runtime, move || async move { fs.flush_all().await })
                };
                match flushed {
                    Some(Err(e)) => Err(MountError::Io(io::Error::other(format!(
                        "write-back after unmount: {e}"
                    )))),
                    _ => Ok(()),
                }
            }
            Ok(Event::Signal) | Ok(Event::Idle) | Ok(Event::Stop) => shutdown(&inner),
        };
        signals.abort();
        result.map(|()| by)
    }

    /// Flushes every open file and unmounts.
    pub fn unmount(mut self) -> Result<(), MountError> {
        match self.inner.take() {
            Some(inner) => shutdown(&inner),
            None => Ok(()),
        }
    }
}

/// What ended a mount ([`MountSession::wait_ended`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedBy {
    /// Unmounted from outside (`fusermount3 -u`, `umount`, a file manager's eject).
    Outside,
    /// SIGINT or SIGTERM.
    Signal,
    /// `--idle` expired.
    Idle,
    /// A [`StopHandle`] (auto-lock).
    Stop,
}

/// Asks a [`MountSession`] to flush and unmount (see [`MountSession::stop_handle`]).
#[derive(Clone)]
pub struct StopHandle {
    tx: mpsc::Sender<Event>,
}

impl std::fmt::Debug for StopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StopHandle").finish_non_exhaustive()
    }
}

impl StopHandle {
    /// Makes `wait` flush every open file and unmount; a no-op once the mount has ended.
    pub fn stop(&self) {
        let _ = self.tx.send(Event::Stop);
    }
}

impl Drop for MountSession {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take()
            && let Err(e) = shutdown(&inner)
        {
            tracing::warn!(error = %e, "unmount on drop failed");
        }
    }
}

/// Write back, unmount (lazily if busy), wait for the session thread.
fn shutdown(inner: &Inner) -> Result<(), MountError> {
    let flushed = {
        let fs = Arc::clone(&inner.fs);
        block_on(&inner.runtime, move || async move { fs.flush_all().await })
    };
    if !inner.ended.load(std::sync::atomic::Ordering::SeqCst)
        && let Err(e) = unmount_path(&inner.mountpoint, false)
    {
        // Busy (open files): detach lazily. Already gone (unmounted from
        // outside while we were asked to stop): nothing to do.
        tracing::debug!(error = %e, "unmount failed; detaching lazily");
        if let Err(e) = unmount_path(&inner.mountpoint, true)
            && is_mounted(&inner.mountpoint)
        {
            return Err(MountError::Io(e));
        }
    }
    // The session thread ends once the kernel has let go; lazily detached
    // mounts end when their last open file closes.
    loop {
        match inner.events.recv_timeout(Duration::from_secs(10)) {
            Ok(Event::Ended) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Ok(_) => continue,
            Err(mpsc::RecvTimeoutError::Timeout) => break,
        }
    }
    match flushed {
        Some(Err(e)) => Err(MountError::Io(io::Error::other(format!(
            "write-back before unmount failed: {e}"
        )))),
        _ => Ok(()),
    }
}

/// Mounts; see [`crate::mount`].
pub fn mount(
    vault: Arc<Vault>,
    mountpoint: &Path,
    options: MountOptions,
    runtime: tokio::runtime::Handle,
) -> Result<MountSession, MountError> {
    super::malloc::limit_malloc_arenas();
    let parsed = parse_options(&options)?;
    let mountpoint = check_mountpoint(mountpoint, parsed.allow_non_empty)?;
    let mut fs_config = parsed.fs.clone();
    if vault.is_read_only() {
        fs_config.read_only = true;
    }
    let fs = Arc::new(VaultFs::new(vault, fs_config));
    let activity = Arc::new(Activity::new());
    let adapter = FuseAdapter::new(
        Arc::clone(&fs),
        runtime.clone(),
        parsed.attr_ttl,
        parsed.entry_ttl,
        Arc::clone(&activity),
    );
    let session = kernel_mount(adapter, &mountpoint, &options, &parsed)?;
    let background = session.spawn()?;

    let (events_tx, events) = mpsc::channel();
    let ended = Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let tx = events_tx.clone();
        let ended = Arc::clone(&ended);
        std::thread::Builder::new()
            .name("vault-fuse-watch".into())
            .spawn(move || {
                if let Err(e) = background.join() {
                    tracing::warn!(error = %e, "FUSE session ended with an error");
                }
                ended.store(true, std::sync::atomic::Ordering::SeqCst);
                let _ = tx.send(Event::Ended);
            })?;
    }
    if let Some(idle) = options.idle_timeout {
        let tx = events_tx.clone();
        let ended = Arc::clone(&ended);
        let fs = Arc::clone(&fs);
        let tick = (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(tick).await;
                if ended.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                if activity.idle_for() >= idle && fs.open_handle_count() == 0 {
                    let _ = tx.send(Event::Idle);
                    return;
                }
            }
        });
    }
    Ok(MountSession {
        inner: Some(Inner {
            mountpoint,
            fs,
            runtime,
            events,
            events_tx,
            ended,
        }),
    })
}

/// `fusermount3 -u[z]`, falling back to umount2(2) where we may.
fn unmount_path(mountpoint: &Path, lazy: bool) -> io::Result<()> {
    let output = Command::new("fusermount3")
        .arg(if lazy { "-uz" } else { "-u" })
        .arg("--")
        .arg(mountpoint)
        .output();
    let fusermount_error = match output {
        Ok(out) if out.status.success() => return Ok(()),
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        Err(e) => format!("fusermount3: {e}"),
    };
    if nix::unistd::geteuid().is_root() {
        let flags = if lazy {
            nix::mount::MntFlags::MNT_DETACH
        } else {
            nix::mount::MntFlags::empty()
        };
        return nix::mount::umount2(mountpoint, flags)
            .map_err(|e| io::Error::from_raw_os_error(e as i32));
    }
    Err(io::Error::other(fusermount_error))
}

/// True while a `fuse.vault` mount sits at `mountpoint`.
fn is_mounted(mountpoint: &Path) -> bool {
    all_mounts().iter().any(|m| m.mountpoint == mountpoint)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Unmounts a vault mounted at `mountpoint`; see [`crate::unmount`].
pub fn unmount(mountpoint: &Path, force: bool) -> Result<(), MountError> {
    let wanted = absolute(mountpoint);
    let canonical = std::fs::canonicalize(mountpoint).ok();
    let ours = all_mounts()
        .into_iter()
        .any(|m| m.mountpoint == wanted || Some(&m.mountpoint) == canonical.as_ref());
    if !ours {
        return Err(MountError::NotMounted(mountpoint.to_path_buf()));
    }
    let target = canonical.unwrap_or(wanted);
    match unmount_path(&target, false) {
        Ok(()) => Ok(()),
        Err(_) if force => Ok(unmount_path(&target, true)?),
        Err(e) => Err(MountError::Io(e)),
    }
}

/// Decodes the octal escapes (`\040`) of /proc/self/mountinfo fields.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = (bytes[i + 1] - b'0') as u32 * 64
                + (bytes[i + 2] - b'0') as u32 * 8
                + (bytes[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses mountinfo text: `fuse.vault` mounts as (mountpoint, source, read_only, user_id).
fn parse_mountinfo(text: &str) -> Vec<(MountedVault, Option<u32>)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        if fields.len() < 6 || fields.len() < sep + 4 {
            continue;
        }
        if fields[sep + 1] != FS_TYPE {
            continue;
        }
        let mount_opts = fields[5];
        let super_opts = fields[sep + 3];
        let user_id = super_opts
            .split(',')
            .find_map(|o| o.strip_prefix("user_id="))
            .and_then(|v| v.parse::<u32>().ok());
        out.push((
            MountedVault {
                mountpoint: PathBuf::from(unescape(fields[4])),
                source: unescape(fields[sep + 2]),
                read_only: mount_opts.split(',').any(|o| o == "ro"),
            },
            user_id,
        ));
    }
    out
}

fn all_mounts() -> Vec<MountedVault> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    parse_mountinfo(&text).into_iter().map(|(m, _)| m).collect()
}

/// This user's mounted vaults; see [`crate::mounted_vaults`].
pub fn mounted_vaults() -> Vec<MountedVault> {
    let uid = nix::unistd::getuid().as_raw();
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    parse_mountinfo(&text)
        .into_iter()
        .filter(|(_, user)| user.is_none_or(|u| u == uid))
        .map(|(m, _)| m)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines_are_parsed() {
        let text = "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n\
                    120 29 0:61 / /tmp/my\\040vault rw,nosuid,nodev,relatime shared:1 - fuse.vault local\\040folder rw,user_id=0,group_id=0,default_permissions\n\
                    121 29 0:62 / /tmp/ro ro,nosuid - fuse.vault v2 ro,user_id=1000,group_id=1000\n";
        let parsed = parse_mountinfo(text);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].0.mountpoint, PathBuf::from("/tmp/my vault"));
        assert_eq!(parsed[0].0.source, "local folder");
        assert!(!parsed[0].0.read_only);
        assert_eq!(parsed[0].1, Some(0));
        assert!(parsed[1].0.read_only);
        assert_eq!(parsed[1].1, Some(1000));
    }

    #[test]
    fn options_are_parsed_and_unknown_ones_refused() {
        let mut o = MountOptions {
            extra_options: vec![
                "ro,uid=7,gid=8,umask=027".into(),
                "nonempty".into(),
                "io_timeout=5".into(),
            ],
            ..Default::default()
        };
        let p = parse_options(&o).map_err(|e| e.to_string());
        let p = match p {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        assert!(p.fs.read_only && p.allow_non_empty);
        assert_eq!(
            (p.fs.uid, p.fs.gid, p.fs.file_perm, p.fs.dir_perm),
            (7, 8, 0o640, 0o750)
        );
        assert_eq!(p.fs.op_timeout, Duration::from_secs(5));
        o.extra_options = vec!["bogus".into()];
        assert!(parse_options(&o).is_err());
    }

    /// `allow_root` is root and the owner only, never everyone (it used to become
    /// `allow_other`); combined with `allow_other` it is refused rather than guessed.
    #[test]
    fn allow_root_admits_root_only_and_allow_other_everyone() {
        let acl = |words: &[&str], allow_other: bool| {
            let o = MountOptions {
                extra_options: words.iter().map(|w| w.to_string()).collect(),
                allow_other,
                ..Default::default()
            };
            parse_options(&o).map(|p| p.acl).map_err(|e| e.to_string())
        };
        assert_eq!(acl(&[], false), Ok(SessionACL::Owner));
        assert_eq!(acl(&["allow_root"], false), Ok(SessionACL::RootAndOwner));
        assert_eq!(acl(&["ro,allow_root"], false), Ok(SessionACL::RootAndOwner));
        assert_eq!(acl(&["allow_other"], false), Ok(SessionACL::All));
        assert_eq!(acl(&[], true), Ok(SessionACL::All));
        for (words, flag) in [
            (&["allow_root", "allow_other"][..], false),
            (&["allow_other,allow_root"][..], false),
            (&["allow_root"][..], true),
        ] {
            let err = acl(words, flag).expect_err("refused");
            assert!(err.contains("cannot be combined"), "{err}");
        }
        assert_eq!(
            fuser_config(SessionACL::RootAndOwner).acl,
            SessionACL::RootAndOwner
        );
    }
}
