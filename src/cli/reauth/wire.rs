//! The auth socket's location and its line protocol: escaping and bounded, zeroized lines.

use std::io::Read;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::cli::exit::{CliError, CliResult};

/// Longest protocol line.
pub(super) const MAX_LINE: usize = 8192;

// ------------------------------------------------------------------ socket location

/// `$XDG_RUNTIME_DIR/vault`, else `/tmp/vault-<uid>`: created 0700; refused unless it is a
/// real directory owned by this user and closed to others.
pub fn socket_dir() -> CliResult<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let uid = rustix::process::getuid().as_raw();
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(d) if d.is_absolute() && d.is_dir() => d.join("vault"),
        _ => PathBuf::from(format!("/tmp/vault-{uid}")),
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(CliError::other(format!(
                "cannot create {}: {}",
                dir.display(),
                crate::cli::storage_arg::io_text(&e)
            )));
        }
    }
    let meta = std::fs::symlink_metadata(&dir).map_err(|e| {
        CliError::other(format!(
            "{}: {}",
            dir.display(),
            crate::cli::storage_arg::io_text(&e)
        ))
    })?;
    if !meta.is_dir() || meta.uid() != uid {
        return Err(CliError::other(format!(
            "{} is not a directory of this user; remove it",
            dir.display()
        )));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            CliError::other(format!(
                "{} is open to other users and cannot be closed: {}",
                dir.display(),
                crate::cli::storage_arg::io_text(&e)
            ))
        })?;
    }
    Ok(dir)
}

/// The name a mountpoint is known by: its parent resolved (symlinks, `..`) plus its own name,
/// so the daemon and `vault auth` agree without touching the mount itself.
pub fn mount_key(mountpoint: &Path) -> PathBuf {
    let abs = std::path::absolute(mountpoint).unwrap_or_else(|_| mountpoint.to_path_buf());
    match (abs.parent(), abs.file_name()) {
        (Some(parent), Some(name)) => std::fs::canonicalize(parent)
            .map(|p| p.join(name))
            .unwrap_or(abs),
        _ => abs,
    }
}

/// `auth-<FNV-1a 64 of the mount key>.sock` (stable across builds, unlike std's hasher).
pub(super) fn socket_name(key: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_os_str().as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("auth-{h:016x}.sock")
}

/// The socket of the mount at `key` (see [`mount_key`]).
pub fn socket_path(key: &Path) -> CliResult<PathBuf> {
    Ok(socket_dir()?.join(socket_name(key)))
}

// ------------------------------------------------------------------ protocol text

pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

pub(super) fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// One line (without `\n`) collected byte by byte in a zeroizing buffer, for the blocking and
/// the async reader alike (answers pass through here).
pub(super) struct LineBuf(Zeroizing<Vec<u8>>);

impl LineBuf {
    pub(super) fn new() -> LineBuf {
        // Room for the longest line up front: growing would leave copies behind.
        LineBuf(Zeroizing::new(Vec::with_capacity(MAX_LINE)))
    }

    /// Takes the next byte (`None`: end of input); `Some` once the line is complete:
    /// the line, or `None` at EOF before any byte.
    pub(super) fn feed(
        &mut self,
        byte: Option<u8>,
    ) -> Option<std::io::Result<Option<Zeroizing<String>>>> {
        let invalid = |what| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
        match byte {
            None if self.0.is_empty() => Some(Ok(None)),
            None | Some(b'\n') => Some(match std::str::from_utf8(&self.0) {
                Ok(s) => Ok(Some(Zeroizing::new(s.to_string()))),
                Err(_) => Err(invalid("not UTF-8")),
            }),
            Some(_) if self.0.len() >= MAX_LINE => Some(Err(invalid("line too long"))),
            Some(b) => {
                self.0.push(b);
                None
            }
        }
    }
}

/// Reads one line; `None` at EOF.
pub(super) fn read_line_sync(r: &mut impl Read) -> std::io::Result<Option<Zeroizing<String>>> {
    let mut line = LineBuf::new();
    let mut byte = Zeroizing::new([0u8; 1]);
    loop {
        let n = r.read(&mut byte[..])?;
        if let Some(done) = line.feed((n > 0).then_some(byte[0])) {
            return done;
        }
    }
}

pub(super) async fn read_line_async(
    r: &mut (impl tokio::io::AsyncRead + Unpin),
) -> std::io::Result<Option<Zeroizing<String>>> {
    use tokio::io::AsyncReadExt;
    let mut line = LineBuf::new();
    let mut byte = Zeroizing::new([0u8; 1]);
    loop {
        let n = r.read(&mut byte[..]).await?;
        if let Some(done) = line.feed((n > 0).then_some(byte[0])) {
            return done;
        }
    }
}
