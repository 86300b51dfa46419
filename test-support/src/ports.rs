//! Loopback ports for test servers: a free one, a base read from the environment, and waiting
//! until a server listens.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A loopback port nothing listens on now (bound and released at once).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `$var` as a number if set and valid, else `default` (the port bases test binaries keep
/// apart, overridable so parallel runs on one machine do not collide).
pub fn port_base<T: std::str::FromStr>(var: &str, default: T) -> T {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse::<T>().ok())
        .unwrap_or(default)
}

/// Waits until something accepts connections on `127.0.0.1:port`; fails the test naming
/// `what` after `timeout`.
#[track_caller]
pub fn wait_for_port(what: &str, port: u16, timeout: Duration) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let start = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            start.elapsed() < timeout,
            "{what} did not come up on {addr} within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
