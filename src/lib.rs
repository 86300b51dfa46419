//! The vault library: the command line's composition root.
//!
//! - [`cli`]: argument parsing, secrets, STORAGE forms, exit codes, one module per command.
//!
//! The engine (`vault-engine`), storage backends (`vault-storage`, …) and the drive (`vault-fs`)
//! are separate crates; this crate only wires them together for the `vault` binary.
#![forbid(unsafe_code)]

pub mod cli;
