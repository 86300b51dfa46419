//! THE rule for credentials over plain HTTP, shared by every HTTP backend
//! (WebDAV, S3) and the CLI: a password, cookie, token or signed request may
//! travel unencrypted only to this machine itself, unless the user said
//! `--insecure-http` (config key `insecure_http`). Anyone on the path (hotel
//! Wi-Fi, a proxy) could otherwise read or replay it.

use std::net::{IpAddr, Ipv6Addr};

/// True for `localhost` and the loopback addresses 127.0.0.0/8 and `::1`
/// (also as an IPv4-mapped `::ffff:127.x.y.z`). `host` is a URL's host as
/// `url::Url::host_str` gives it (an IPv6 address may still be in brackets).
/// Nothing is resolved: a name other than `localhost` is never loopback here.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => {
            v6 == Ipv6Addr::LOCALHOST || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

/// Whether a credential may be sent to `scheme://host`: always over `https`,
/// over plain `http` only to a loopback host or when `insecure_http` is set.
/// Any other scheme is refused (the caller knows no way to protect it).
pub fn may_send_credentials(scheme: &str, host: &str, insecure_http: bool) -> bool {
    match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => insecure_http || is_loopback_host(host),
        _ => false,
    }
}

/// The one-line refusal for `what` (e.g. "the WebDAV password") to `host`.
pub fn refusal(what: &str, host: &str) -> String {
    format!(
        "refusing to send {what} over plain HTTP to {host}, which is not this machine: \
         use https (davs:// for WebDAV), or pass --insecure-http (config key insecure_http) \
         if the network to it is trusted"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "127.0.0.1",
            "127.1.2.3",
            "[::1]",
            "::1",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "10.0.0.1",
            "128.0.0.1",
            "[::2]",
            "localhost.example.org",
            "my-localhost",
            "127.0.0.1.nip.io",
            "",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn the_rule() {
        assert!(may_send_credentials("https", "cloud.example.org", false));
        assert!(may_send_credentials("HTTP", "127.0.0.1", false));
        assert!(!may_send_credentials("http", "10.1.2.3", false));
        assert!(may_send_credentials("http", "10.1.2.3", true));
        assert!(!may_send_credentials("ftp", "127.0.0.1", true));
        assert!(refusal("the WebDAV password", "h").contains("--insecure-http"));
    }
}
