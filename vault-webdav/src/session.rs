//! WebDAV sessions: the cookies a server sets, kept for the life of one
//! connection (one [`crate::WebDavStorage`]) and sent back with every request.
//!
//! Why: Nextcloud checks the password (a slow hash, about 0.45 s on a small
//! server) on every request that carries only Basic auth; a request that also
//! carries the session cookies it handed out costs a few milliseconds.
//!
//! Why a small jar of our own and not reqwest's `cookies` feature or
//! `cookie_store`/`reqwest_cookie_store`: those implement a browser's jar
//! (cookies shared across subdomains and ports through `Domain`, no bound on
//! the number or size of cookies, persistence helpers). Here every cookie is a
//! credential for exactly one server, so the jar is deliberately narrower:
//! - in memory only, dropped with the connection, values zeroized on drop;
//! - scoped to the exact origin (scheme, host, port) of the vault URL, `Domain`
//!   is never widened to other hosts (a cookie naming another domain is refused);
//! - bounded: at most [`MAX_COOKIES`] cookies of at most [`MAX_COOKIE_BYTES`]
//!   (name + value) each; more or larger ones are ignored;
//! - under the plain-HTTP rule of passwords: kept and sent only over HTTPS or to
//!   a loopback host, unless the user allowed insecure HTTP.
//!
//! `Path`, `Secure`, `Max-Age` and `Expires` are honoured (RFC 6265); other
//! attributes (`HttpOnly`, `SameSite`) do not matter to a non-browser client.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use reqwest::Url;
use reqwest::header::{COOKIE, HeaderMap, HeaderValue, SET_COOKIE};
use zeroize::Zeroizing;

/// Most cookies one session keeps (Nextcloud sets about six).
pub(crate) const MAX_COOKIES: usize = 50;
/// Longest cookie kept, name and value together (RFC 6265's minimum a client must support).
pub(crate) const MAX_COOKIE_BYTES: usize = 4096;

struct Cookie {
    name: String,
    value: Zeroizing<String>,
    path: String,
    secure: bool,
    expires: Option<Instant>,
}

impl Cookie {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|e| e > now)
    }
}

/// The session cookies of one server origin.
pub(crate) struct CookieJar {
    origin: url::Origin,
    /// False over plain HTTP to a non-loopback host (without insecure HTTP):
    /// then nothing is kept or sent.
    enabled: bool,
    cookies: Mutex<Vec<Cookie>>,
}

impl CookieJar {
    /// A jar for the origin of `base`.
    pub(crate) fn new(base: &Url, insecure_http: bool) -> Self {
        // Cookies are credentials: the workspace's one plain-HTTP rule decides.
        let enabled = vault_storage::cleartext::may_send_credentials(
            base.scheme(),
            base.host_str().unwrap_or_default(),
            insecure_http,
        );
        CookieJar {
            origin: base.origin(),
            enabled,
            cookies: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Cookie>> {
        // A panic while holding the lock cannot leave the Vec inconsistent.
        self.cookies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds the `Cookie` header for a request to `url`; true if one was added.
    pub(crate) fn attach(&self, url: &Url, headers: &mut HeaderMap) -> bool {
        if !self.enabled || url.origin() != self.origin {
            return false;
        }
        let now = Instant::now();
        let https = url.scheme() == "https";
        let value = {
            let jar = self.lock();
            let mut value = Zeroizing::new(String::new());
            for c in jar.iter().filter(|c| {
                c.live(now) && (https || !c.secure) && path_matches(url.path(), &c.path)
            }) {
                if !value.is_empty() {
                    value.push_str("; ");
                }
                value.push_str(&c.name);
                value.push('=');
                value.push_str(&c.value);
            }
            value
        };
        if value.is_empty() {
            return false;
        }
        // Only cookie-octets were stored, so this cannot fail.
        match HeaderValue::from_str(&value) {
            Ok(mut v) => {
                v.set_sensitive(true);
                headers.insert(COOKIE, v);
                true
            }
            Err(_) => false,
        }
    }

    /// Takes the `Set-Cookie` headers of the answer to a request for `url`.
    pub(crate) fn absorb(&self, url: &Url, headers: &HeaderMap) {
        if !self.enabled || url.origin() != self.origin {
            return;
        }
        let now = Instant::now();
        for raw in headers.get_all(SET_COOKIE) {
            let Some(cookie) = raw.to_str().ok().and_then(|s| parse(s, url, now)) else {
                tracing::debug!(target: "vault_webdav", "ignoring a Set-Cookie header that is not usable");
                continue;
            };
            let mut jar = self.lock();
            jar.retain(|c| c.live(now) && !(c.name == cookie.name && c.path == cookie.path));
            if !cookie.live(now) {
                continue; // the server deleted it
            }
            if jar.len() >= MAX_COOKIES {
                tracing::debug!(target: "vault_webdav", "the server sets more than {MAX_COOKIES} cookies: ignoring the rest");
                continue;
            }
            jar.push(cookie);
        }
    }

    /// Forgets the session (the server refused it).
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// Number of cookies kept (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// RFC 6265 5.1.4 path-match.
fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

/// RFC 6265 5.1.4 default-path: the request path up to its last `/`.
fn default_path(url: &Url) -> String {
    match url.path().rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => url.path()[..i].to_owned(),
    }
}

/// cookie-octet of RFC 6265 (no space, `"`, `,`, `;`, `\`, controls).
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

/// Parses one `Set-Cookie` value sent in answer to `url`; `None` if it is
/// malformed, too large, or not for this host.
fn parse(header: &str, url: &Url, now: Instant) -> Option<Cookie> {
    let mut parts = header.split(';');
    let (name, value) = parts.next()?.split_once('=')?;
    let name = name.trim();
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    if !is_token(name)
        || !value.bytes().all(is_cookie_octet)
        || name.len() + value.len() > MAX_COOKIE_BYTES
    {
        return None;
    }
    let mut cookie = Cookie {
        name: name.to_owned(),
        value: Zeroizing::new(value.to_owned()),
        path: default_path(url),
        secure: false,
        expires: None,
    };
    let mut max_age_seen = false;
    for attr in parts {
        let (key, val) = attr.split_once('=').unwrap_or((attr, ""));
        let (key, val) = (key.trim().to_ascii_lowercase(), val.trim());
        match key.as_str() {
            "path" if val.starts_with('/') => cookie.path = val.to_owned(),
            "secure" => cookie.secure = true,
            "domain" if !val.is_empty() => {
                // Host-only in any case; a cookie for another domain is refused.
                let domain = val.trim_start_matches('.');
                let host = url.host_str()?;
                let ok = host.eq_ignore_ascii_case(domain)
                    || (host.len() > domain.len()
                        && host
                            .to_ascii_lowercase()
                            .ends_with(&domain.to_ascii_lowercase())
                        && host.as_bytes()[host.len() - domain.len() - 1] == b'.');
                if !ok {
                    return None;
                }
            }
            "max-age" => {
                if let Ok(secs) = val.parse::<i64>() {
                    max_age_seen = true;
                    cookie.expires = Some(if secs <= 0 {
                        now
                    } else {
                        now + Duration::from_secs(secs.unsigned_abs().min(400 * 86_400))
                    });
                }
            }
            "expires" if !max_age_seen => {
                // PHP writes `Thu, 01-Jan-1970 00:00:01 GMT`: dashes to spaces
                // gives the IMF-fixdate httpdate reads.
                if let Ok(t) = httpdate::parse_http_date(&val.replace('-', " ")) {
                    cookie.expires = Some(match t.duration_since(SystemTime::now()) {
                        Ok(left) => now + left.min(Duration::from_secs(400 * 86_400)),
                        Err(_) => now,
                    });
                }
            }
            _ => {}
        }
    }
    // A Secure cookie set over plain HTTP is refused (RFC 6265bis).
    if cookie.secure && url.scheme() != "https" {
        return None;
    }
    Some(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("test value")
    }

    fn set(jar: &CookieJar, at: &str, cookies: &[&str]) {
        let mut h = HeaderMap::new();
        for c in cookies {
            h.append(SET_COOKIE, HeaderValue::from_str(c).expect("test value"));
        }
        jar.absorb(&url(at), &h);
    }

    fn sent(jar: &CookieJar, to: &str) -> Option<String> {
        let mut h = HeaderMap::new();
        jar.attach(&url(to), &mut h);
        h.get(COOKIE).map(|v| v.to_str().expect("ascii").to_owned())
    }

    const BASE: &str = "https://cloud.example.org/remote.php/dav/files/u/V/";

    #[test]
    fn cookies_go_back_to_the_same_origin_only() {
        let jar = CookieJar::new(&url(BASE), false);
        set(
            &jar,
            BASE,
            &[
                "oc_session=abc; path=/; secure; HttpOnly",
                "nc_token=t1; Path=/",
            ],
        );
        let expect = Some("oc_session=abc; nc_token=t1".to_owned());
        assert_eq!(
            sent(
                &jar,
                "https://cloud.example.org/remote.php/dav/files/u/V/d/x"
            ),
            expect
        );
        assert_eq!(
            sent(&jar, "https://cloud.example.org:8443/x"),
            None,
            "other port"
        );
        assert_eq!(
            sent(&jar, "http://cloud.example.org/x"),
            None,
            "other scheme"
        );
        assert_eq!(sent(&jar, "https://evil.example.org/x"), None, "other host");
        // Set by another origin: ignored.
        set(&jar, "https://other.example.org/", &["x=1; path=/"]);
        assert_eq!(sent(&jar, BASE), expect);
        // A Domain attribute naming another host is refused, a matching one kept host-only.
        set(
            &jar,
            BASE,
            &["a=1; Domain=example.com", "b=2; Domain=.example.org"],
        );
        assert_eq!(
            sent(&jar, BASE),
            Some("oc_session=abc; nc_token=t1; b=2".to_owned())
        );
        assert_eq!(sent(&jar, "https://x.example.org/"), None);
    }

    #[test]
    fn path_expiry_and_replacement_are_honoured() {
        let jar = CookieJar::new(&url("https://h/nc/remote.php/dav/"), false);
        set(
            &jar,
            "https://h/nc/remote.php/dav/",
            &[
                "s=1; path=/nc",
                "other=2; path=/elsewhere",
                "gone=3; path=/; expires=Thu, 01-Jan-1970 00:00:01 GMT",
                "later=4; path=/; Max-Age=3600",
            ],
        );
        assert_eq!(
            sent(&jar, "https://h/nc/remote.php/dav/x"),
            Some("s=1; later=4".to_owned())
        );
        assert_eq!(sent(&jar, "https://h/ncx"), Some("later=4".to_owned()));
        // Replaced, then deleted by the server.
        set(&jar, "https://h/nc/", &["s=5; path=/nc"]);
        assert_eq!(
            sent(&jar, "https://h/nc/a"),
            Some("later=4; s=5".to_owned())
        );
        set(
            &jar,
            "https://h/nc/",
            &[
                "s=; path=/nc; Max-Age=0",
                "later=; path=/; expires=Thu, 01 Jan 1970 00:00:01 GMT",
            ],
        );
        assert_eq!(sent(&jar, "https://h/nc/a"), None);
        jar.clear();
        assert_eq!(jar.len(), 0);
    }

    #[test]
    fn the_jar_is_bounded_and_refuses_bad_cookies() {
        let jar = CookieJar::new(&url(BASE), false);
        let many: Vec<String> = (0..80).map(|i| format!("c{i}=v; path=/")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        set(&jar, BASE, &refs);
        assert_eq!(jar.len(), MAX_COOKIES);
        let jar = CookieJar::new(&url(BASE), false);
        let big = format!("big={}; path=/", "x".repeat(MAX_COOKIE_BYTES));
        let fits = format!("fit={}; path=/", "x".repeat(MAX_COOKIE_BYTES - 3));
        set(&jar, BASE, &[&big, "bad name=1", "=noname", "v=a b", &fits]);
        assert_eq!(jar.len(), 1);
        assert!(sent(&jar, BASE).is_some_and(|c| c.starts_with("fit=")));
        // A Secure cookie over plain HTTP is refused.
        let jar = CookieJar::new(&url("http://127.0.0.1:8080/v/"), false);
        set(&jar, "http://127.0.0.1:8080/v/", &["s=1; Secure", "t=2"]);
        assert_eq!(
            sent(&jar, "http://127.0.0.1:8080/v/x"),
            Some("t=2".to_owned())
        );
    }

    #[test]
    fn plain_http_to_a_remote_host_keeps_no_cookies_unless_allowed() {
        for (base, insecure, kept) in [
            ("http://cloud.example.org/v/", false, false),
            ("http://cloud.example.org/v/", true, true),
            ("http://127.0.0.1:8080/v/", false, true),
            ("http://[::1]:8080/v/", false, true),
            ("http://localhost:8080/v/", false, true),
            ("https://cloud.example.org/v/", false, true),
        ] {
            let jar = CookieJar::new(&url(base), insecure);
            set(&jar, base, &["s=1; path=/"]);
            assert_eq!(
                sent(&jar, base).is_some(),
                kept,
                "{base} insecure={insecure}"
            );
        }
    }

    #[test]
    fn the_header_is_sensitive() {
        let jar = CookieJar::new(&url(BASE), false);
        set(&jar, BASE, &["s=1; path=/"]);
        let mut h = HeaderMap::new();
        assert!(jar.attach(&url(BASE), &mut h));
        assert!(h.get(COOKIE).is_some_and(HeaderValue::is_sensitive));
    }
}
