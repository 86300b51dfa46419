//! One module per command.

pub mod cat;
pub mod check;
pub mod completions;
pub mod copy;
mod copy_walk;
pub mod create;
pub mod dest;
pub mod get;
pub mod info;
pub mod login;
pub mod ls;
pub mod mkdir;
pub mod mount;
mod mount_handover;
pub mod mv;
pub mod named;
pub mod open;
pub mod passwd;
pub mod put;
pub mod queue;
pub mod recovery_key;
pub mod rm;
pub mod status;
pub mod tree;
pub mod unmount;
