//! An S3 server for tests: moto in server mode on a free loopback port (from `test-support`).

#[allow(unused_imports)]
pub use test_support::moto::{moto_venv, start_moto};
#[allow(unused_imports)]
pub use test_support::ports::free_port;
