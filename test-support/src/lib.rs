//! Harnesses shared by the tests of every crate in the workspace (a dev-dependency only): the
//! test servers of `tests/servers/` and `vault-sftp/tests/servers/`, network namespaces,
//! askpass programs, TOTP codes, generated trees and the seeded RNG. Each module does one job;
//! what only one crate's tests need stays in that crate's `tests/common`.
#![allow(clippy::unwrap_used)]

pub mod askpass;
pub mod files;
pub mod moto;
pub mod netns;
pub mod paths;
pub mod ports;
pub mod process;
pub mod pyvenv;
pub mod rng;
pub mod scripts;
pub mod sshd;
pub mod totp;
pub mod tree;
pub mod wait;
pub mod webdav;
