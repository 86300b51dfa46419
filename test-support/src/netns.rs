//! Network namespaces of a test: created fresh (loopback up), joined by veth pairs with
//! addresses, deleted when dropped, so test traffic never leaves the machine.

use std::process::{Command, Stdio};

/// `ip ARGS`, failing the test unless it succeeds.
#[track_caller]
pub fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("ip (iproute2)");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace, deleted when dropped.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Creates namespace `name` (deleting a stale one of that name first) with loopback up.
    pub fn new(name: &str) -> Netns {
        delete(name);
        ip(&["netns", "add", name]);
        ip(&["-n", name, "link", "set", "lo", "up"]);
        Netns {
            name: name.to_owned(),
        }
    }

    /// `--net=/run/netns/NAME`, for `nsenter`.
    pub fn nsenter_arg(&self) -> String {
        format!("--net=/run/netns/{}", self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        delete(&self.name);
    }
}

fn delete(name: &str) {
    let _ = Command::new("ip")
        .args(["netns", "delete", name])
        .stderr(Stdio::null())
        .status();
}

/// One end of a veth pair: its namespace, device name and address (`10.0.0.1/24`).
pub struct End<'a> {
    pub ns: &'a str,
    pub dev: &'a str,
    pub addr: &'a str,
}

/// A veth pair between two namespaces, both ends addressed and up.
pub fn veth(a: &End, b: &End) {
    ip(&[
        "link", "add", a.dev, "netns", a.ns, "type", "veth", "peer", "name", b.dev, "netns", b.ns,
    ]);
    for end in [a, b] {
        ip(&["-n", end.ns, "addr", "add", end.addr, "dev", end.dev]);
        ip(&["-n", end.ns, "link", "set", end.dev, "up"]);
    }
}
