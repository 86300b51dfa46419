//! A private D-Bus daemon for tests: `dbus-daemon` with a config that lets anyone own names and
//! send signals; its address goes into DBUS_SYSTEM_BUS_ADDRESS / DBUS_SESSION_BUS_ADDRESS of the
//! command under test, and the test process serves stand-ins on it.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct PrivateBus {
    child: Child,
    pub address: String,
}

impl PrivateBus {
    /// Starts a bus listening on a socket in `dir`.
    pub fn start(dir: &Path) -> PrivateBus {
        let socket = dir.join("private_bus_socket");
        let config = dir.join("private-bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow send_type="signal"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .unwrap();
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--nopidfile", "--print-address"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian package dbus-daemon) must be installed");
        let mut stdout = child.stdout.take().unwrap();
        let mut line = Vec::new();
        let mut byte = [0u8];
        while stdout.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        let address = String::from_utf8(line).unwrap();
        assert!(address.starts_with("unix:"), "bus address {address:?}");
        PrivateBus { child, address }
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (app_name, summary, body) of every Notify call.
pub type Calls = std::sync::Arc<std::sync::Mutex<Vec<(String, String, String)>>>;

/// The stand-in notification server's object.
struct FakeNotifications {
    calls: Calls,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl FakeNotifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: &str,
        _replaces_id: u32,
        _app_icon: &str,
        summary: &str,
        body: &str,
        _actions: Vec<String>,
        _hints: std::collections::HashMap<String, zbus::OwnedVariant>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut calls = self.calls.lock().unwrap();
        calls.push((app_name.into(), summary.into(), body.into()));
        calls.len() as u32
    }
}

/// This process as `org.freedesktop.Notifications` on a (private) bus, recording every call.
pub struct NotificationServer {
    _rt: tokio::runtime::Runtime,
    _conn: zbus::Connection,
    calls: Calls,
}

impl NotificationServer {
    pub fn serve(address: &str) -> NotificationServer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let calls = Calls::default();
        let object = FakeNotifications {
            calls: std::sync::Arc::clone(&calls),
        };
        let conn = rt
            .block_on(
                zbus::connection::Builder::address(address)
                    .name("org.freedesktop.Notifications")
                    .serve_at("/org/freedesktop/Notifications", object)
                    .build(),
            )
            .unwrap();
        NotificationServer {
            _rt: rt,
            _conn: conn,
            calls,
        }
    }

    /// The calls so far.
    pub fn calls(&self) -> Vec<(String, String, String)> {
        self.calls.lock().unwrap().clone()
    }
}
