//! PROPFIND request bodies and the `207 Multi-Status` parser.

use std::time::SystemTime;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// The named properties we ask for (never `allprop`: it makes servers compute
/// dead properties and quota we do not use). `getetag` becomes the storage
/// metadata's version tag (the metadata cache notices other devices' changes by it).
pub(crate) const PROPFIND_BODY: &str = concat!(
    r#"<?xml version="1.0" encoding="utf-8"?>"#,
    r#"<d:propfind xmlns:d="DAV:"><d:prop>"#,
    r#"<d:resourcetype/><d:getcontentlength/><d:getlastmodified/><d:getetag/>"#,
    r#"</d:prop></d:propfind>"#
);

/// Longest `getetag` kept (servers send 10-70 characters).
const MAX_ETAG: usize = 200;

/// RFC 4331 quota properties, for `space()`.
pub(crate) const QUOTA_BODY: &str = concat!(
    r#"<?xml version="1.0" encoding="utf-8"?>"#,
    r#"<d:propfind xmlns:d="DAV:"><d:prop>"#,
    r#"<d:quota-available-bytes/><d:quota-used-bytes/>"#,
    r#"</d:prop></d:propfind>"#
);

/// One `<d:response>` of a multistatus body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DavEntry {
    /// The href as sent (still percent-encoded).
    pub href: String,
    pub is_collection: bool,
    pub content_length: Option<u64>,
    pub last_modified: Option<SystemTime>,
    /// `getetag`, bounded (a longer one is dropped).
    pub etag: Option<String>,
    pub quota_available: Option<i64>,
    pub quota_used: Option<i64>,
}

#[derive(Default)]
struct PropAcc {
    is_collection: bool,
    content_length: Option<u64>,
    last_modified: Option<SystemTime>,
    etag: Option<String>,
    quota_available: Option<i64>,
    quota_used: Option<i64>,
    status_ok: bool,
}

fn status_is_ok(text: &str) -> bool {
    // "HTTP/1.1 200 OK"
    text.split_whitespace()
        .nth(1)
        .is_some_and(|code| code.starts_with('2'))
}

/// Limits on a multistatus body from an untrusted server, besides its size
/// (capped while it is read, see `client::Dav::capped_body`). Each is far above
/// what a real listing needs (a Cryptomator name is at most a few hundred
/// bytes, the real nesting depth is 6) and keeps a hostile answer from costing
/// more than linear time and memory.
pub(crate) const MAX_DEPTH: usize = 32;
/// Longest text of one element (an href, a date, a status line).
pub(crate) const MAX_TEXT: usize = 16 * 1024;
/// Longest start tag, attributes included (`<d:response xmlns:…>`).
pub(crate) const MAX_TAG: usize = 16 * 1024;

/// Parses a `207 Multi-Status` body. Responses whose own `<d:status>` is not
/// 2xx are dropped; properties only count from `<d:propstat>`s with a 2xx
/// status. A body beyond the limits above is refused with a message saying
/// which limit.
pub(crate) fn parse_multistatus(body: impl std::io::BufRead) -> Result<Vec<DavEntry>, String> {
    let mut reader = NsReader::from_reader(body);
    reader.config_mut().trim_text(false);
    let mut walk = Walk::default();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let (ns, event) = reader
            .read_resolved_event_into(&mut buf)
            .map_err(|e| format!("bad PROPFIND XML: {e}"))?;
        let is_dav = matches!(ns, ResolveResult::Bound(n) if n.as_ref() == "DAV:");
        match event {
            Event::Start(e) => {
                if walk.stack.len() >= MAX_DEPTH {
                    return Err(too_big(&format!("elements nested deeper than {MAX_DEPTH}")));
                }
                check_tag_length(e.len())?;
                let local = if is_dav {
                    e.local_name().as_ref().to_owned()
                } else {
                    String::new()
                };
                walk.open(local);
            }
            Event::Empty(e) => {
                check_tag_length(e.len())?;
                if is_dav && e.local_name().as_ref() == "collection" {
                    walk.mark_collection();
                }
            }
            Event::Text(t) => walk.text.push_str(&t.xml10_content()),
            Event::CData(t) => walk.text.push_str(&t.into_inner()),
            Event::GeneralRef(r) => walk.text.push_str(&reference_text(r)?),
            Event::End(_) => walk.close(),
            Event::Eof => break,
            _ => {}
        }
        if walk.text.len() > MAX_TEXT {
            return Err(too_big(&format!(
                "an element text longer than {MAX_TEXT} bytes"
            )));
        }
    }
    Ok(walk.out)
}

fn too_big(what: &str) -> String {
    format!("bad PROPFIND XML: {what} (a hostile or broken server?)")
}

fn check_tag_length(len: usize) -> Result<(), String> {
    if len > MAX_TAG {
        return Err(too_big(&format!("a start tag longer than {MAX_TAG} bytes")));
    }
    Ok(())
}

/// The text an entity or character reference (`&amp;`, `&#x41;`) stands for.
fn reference_text(r: quick_xml::events::BytesRef<'_>) -> Result<String, String> {
    match r.resolve_char_ref() {
        Ok(Some(c)) => Ok(c.to_string()),
        Ok(None) => {
            let raw = format!("&{};", r.into_inner());
            Ok(quick_xml::escape::unescape(&raw)
                .map_err(|e| format!("bad PROPFIND XML entity: {e}"))?
                .into_owned())
        }
        Err(e) => Err(format!("bad PROPFIND XML entity: {e}")),
    }
}

/// The parser's state between events: the open elements, the response and propstat being
/// read, the current element's text, and the responses kept so far.
#[derive(Default)]
struct Walk {
    out: Vec<DavEntry>,
    /// Local names of the open DAV: elements (other namespaces as "").
    stack: Vec<String>,
    /// The open `<d:response>`, and whether its own status (if any) is 2xx.
    entry: Option<(DavEntry, bool)>,
    prop: Option<PropAcc>,
    text: String,
}

impl Walk {
    /// A start tag (`local`: its DAV: local name, or "").
    fn open(&mut self, local: String) {
        match local.as_str() {
            "response" => self.entry = Some((DavEntry::default(), true)),
            "propstat" => self.prop = Some(PropAcc::default()),
            "collection" => self.mark_collection(),
            _ => {}
        }
        self.stack.push(local);
        self.text.clear();
    }

    /// `<d:collection>` inside the open propstat's resourcetype.
    fn mark_collection(&mut self) {
        if let Some(p) = self.prop.as_mut() {
            p.is_collection = true;
        }
    }

    /// An end tag: the element's text goes where its name and its parent's say.
    fn close(&mut self) {
        let local = self.stack.pop().unwrap_or_default();
        let parent = self.stack.last().map(String::as_str).unwrap_or("");
        let value = self.text.trim();
        match (local.as_str(), parent) {
            ("href", "response") => {
                if let Some((e, _)) = self.entry.as_mut() {
                    e.href = value.to_owned();
                }
            }
            ("status", "response") => {
                if let Some((_, ok)) = self.entry.as_mut() {
                    *ok = status_is_ok(value);
                }
            }
            ("propstat", _) => {
                if let (Some(p), Some((e, _))) = (self.prop.take(), self.entry.as_mut())
                    && p.status_ok
                {
                    p.merge_into(e);
                }
            }
            ("response", _) => {
                if let Some((e, ok)) = self.entry.take()
                    && ok
                    && !e.href.is_empty()
                {
                    self.out.push(e);
                }
            }
            (name, parent) => {
                if let Some(p) = self.prop.as_mut() {
                    p.set(name, parent, value);
                }
            }
        }
        self.text.clear();
    }
}

impl PropAcc {
    /// One property element of a propstat (`name` closed inside `parent`).
    fn set(&mut self, name: &str, parent: &str, value: &str) {
        match name {
            "status" if parent == "propstat" => self.status_ok = status_is_ok(value),
            "getcontentlength" => self.content_length = value.parse().ok(),
            "getlastmodified" => self.last_modified = httpdate::parse_http_date(value).ok(),
            "getetag" if !value.is_empty() && value.len() <= MAX_ETAG => {
                self.etag = Some(value.to_owned())
            }
            "quota-available-bytes" => self.quota_available = value.parse().ok(),
            "quota-used-bytes" => self.quota_used = value.parse().ok(),
            _ => {}
        }
    }

    /// A 2xx propstat's properties, where the response has none yet.
    fn merge_into(self, e: &mut DavEntry) {
        e.is_collection |= self.is_collection;
        e.content_length = e.content_length.or(self.content_length);
        e.last_modified = e.last_modified.or(self.last_modified);
        e.etag = e.etag.take().or(self.etag);
        e.quota_available = e.quota_available.or(self.quota_available);
        e.quota_used = e.quota_used.or(self.quota_used);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_apache_style() {
        let xml = br#"<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:" xmlns:ns0="DAV:">
<D:response xmlns:lp1="DAV:" xmlns:lp2="http://apache.org/dav/props/">
<D:href>/v/</D:href>
<D:propstat><D:prop><lp1:resourcetype><D:collection/></lp1:resourcetype>
<lp1:getlastmodified>Wed, 25 Nov 2026 02:38:03 GMT</lp1:getlastmodified></D:prop>
<D:status>HTTP/1.1 200 OK</D:status></D:propstat>
<D:propstat><D:prop><D:getcontentlength/></D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>
</D:response>
<D:response><D:href>/v/a%20b%3D%3D.c9r</D:href>
<D:propstat><D:prop><lp1:resourcetype xmlns:lp1="DAV:"/><lp1:getcontentlength xmlns:lp1="DAV:">1234</lp1:getcontentlength>
<lp1:getlastmodified xmlns:lp1="DAV:">Wed, 25 Nov 2026 02:38:03 GMT</lp1:getlastmodified></D:prop>
<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>http://h/v/x&amp;y/</D:href><D:propstat><D:prop><D:resourcetype><D:collection></D:collection></D:resourcetype></D:prop>
<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>/v/gone</D:href><D:status>HTTP/1.1 404 Not Found</D:status></D:response>
</D:multistatus>"#;
        let entries = parse_multistatus(&xml[..]).expect("test value");
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].href, "/v/");
        assert!(entries[0].is_collection);
        assert_eq!(entries[0].content_length, None);
        assert!(entries[0].last_modified.is_some());
        assert_eq!(entries[1].href, "/v/a%20b%3D%3D.c9r");
        assert!(!entries[1].is_collection);
        assert_eq!(entries[1].content_length, Some(1234));
        assert_eq!(entries[2].href, "http://h/v/x&y/");
        assert!(entries[2].is_collection);
    }

    #[test]
    fn getetag_becomes_the_version_tag_and_is_bounded() {
        let long = "x".repeat(MAX_ETAG + 1);
        let xml = format!(
            r#"<d:multistatus xmlns:d="DAV:">
<d:response><d:href>/v/a.c9r</d:href><d:propstat><d:prop><d:getcontentlength>3</d:getcontentlength>
<d:getetag>"5e-61f0"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
<d:response><d:href>/v/b.c9r</d:href><d:propstat><d:prop><d:getetag>{long}</d:getetag></d:prop>
<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
<d:response><d:href>/v/c.c9r</d:href><d:propstat><d:prop><d:getetag/></d:prop>
<d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>
</d:multistatus>"#
        );
        let entries = parse_multistatus(xml.as_bytes()).expect("test value");
        assert_eq!(entries[0].etag.as_deref(), Some("\"5e-61f0\""));
        assert_eq!(entries[1].etag, None, "an over-long tag is dropped");
        assert_eq!(entries[2].etag, None);
    }

    #[test]
    fn parses_default_namespace_and_quota() {
        let xml = br#"<multistatus xmlns="DAV:"><response><href>/r/</href><propstat><prop>
<quota-available-bytes>100</quota-available-bytes><quota-used-bytes>20</quota-used-bytes>
<resourcetype><collection/></resourcetype></prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>"#;
        let e = parse_multistatus(&xml[..]).expect("test value");
        assert_eq!(e.len(), 1);
        assert!(e[0].is_collection);
        assert_eq!(
            (e[0].quota_available, e[0].quota_used),
            (Some(100), Some(20))
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_multistatus(&b"<a><b></a>"[..]).is_err());
    }

    fn timed(body: &[u8]) -> (Result<Vec<DavEntry>, String>, std::time::Duration) {
        let start = std::time::Instant::now();
        let r = parse_multistatus(body);
        (r, start.elapsed())
    }

    #[test]
    fn hostile_bodies_are_refused_quickly() {
        // 10^5 attributes on one element: quadratic duplicate checks in old quick-xml.
        let mut many = String::from(r#"<d:multistatus xmlns:d="DAV:"><d:response "#);
        for i in 0..100_000 {
            many.push_str(&format!("a{i}=\"x\" "));
        }
        many.push_str("/></d:multistatus>");
        let (r, took) = timed(many.as_bytes());
        assert!(r.expect_err("refused").contains("start tag longer"));
        assert!(took.as_secs() < 2, "{took:?}");

        // 10^5 namespace declarations on one element.
        let mut ns = String::from(r#"<d:multistatus xmlns:d="DAV:"><x "#);
        for i in 0..100_000 {
            ns.push_str(&format!("xmlns:n{i}=\"u{i}\" "));
        }
        ns.push_str("/></d:multistatus>");
        let (r, took) = timed(ns.as_bytes());
        assert!(r.is_err());
        assert!(took.as_secs() < 2, "{took:?}");

        // A 1 MB href (a conflict-shaped name).
        let href = format!(
            "<d:multistatus xmlns:d=\"DAV:\"><d:response><d:href>/v/n (Conflict {}).c9r</d:href></d:response></d:multistatus>",
            "1".repeat(1 << 20)
        );
        let (r, took) = timed(href.as_bytes());
        assert!(r.expect_err("refused").contains("element text longer"));
        assert!(took.as_secs() < 2, "{took:?}");

        // Deep nesting.
        let deep = format!("<d:multistatus xmlns:d=\"DAV:\">{}", "<x>".repeat(100_000));
        let (r, took) = timed(deep.as_bytes());
        assert!(r.expect_err("refused").contains("nested deeper"));
        assert!(took.as_secs() < 2, "{took:?}");
    }
}
