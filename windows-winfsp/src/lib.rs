//! The Windows drive: WinFsp requests translated onto the operations layer
//! (`vault_fs::ops::VaultFs`), as the FUSE adapter does on Linux.
//!
//! Everything that decides is a plain function in a platform-neutral module,
//! compiled and unit-tested on Linux; only [`adapter`] and [`mount`] touch
//! WinFsp (through `winfsp_wrs`) and exist on Windows alone. They have never
//! been compiled or run: see README.md.
//!
//! - [`status`]: NTSTATUS values and the one `FsErrorKind` → NTSTATUS map;
//! - [`path`]: `\dir\file` UTF-16 names ↔ ops names and paths;
//! - [`attr`]: ops attributes → attribute bits, sizes, FILETIMEs;
//! - [`flags`]: CreateOptions / disposition / GrantedAccess → open intent;
//! - [`io`]: read/write ranges, end of file, size changes;
//! - [`namespace`]: rename and delete rules where Windows and POSIX differ;
//! - [`listing`]: directory paging order and markers;
//! - [`reparse`]: vault symlinks as symbolic-link reparse points;
//! - [`volume`]: volume figures and label;
//! - [`cli`]: the `vault-winfsp` command line;
//! - `adapter`, `context`, `mount` (Windows only): the WinFsp glue.
//!
//! Knows nothing of Cryptomator: only `vault_fs::ops` (and, in the binary,
//! how to unlock a vault).

// Tests: a panic is the failure report.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod attr;
pub mod cli;
pub mod flags;
pub mod io;
pub mod listing;
pub mod namespace;
pub mod path;
pub mod reparse;
pub mod status;
pub mod volume;

#[cfg(windows)]
pub mod adapter;
#[cfg(windows)]
pub mod context;
#[cfg(windows)]
pub mod mount;
