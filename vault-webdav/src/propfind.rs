//! PROPFIND request bodies and the `207 Multi-Status` parser.

use std::time::SystemTime;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// The named properties we ask for (never `allprop`: it makes servers compute
/// dead properties, quota and ETags we do not use).
pub(crate) const PROPFIND_BODY: &str = concat!(
    r#"<?xml version="1.0" encoding="utf-8"?>"#,
    r#"<d:propfind xmlns:d="DAV:"><d:prop>"#,
    r#"<d:resourcetype/><d:getcontentlength/><d:getlastmodified/>"#,
    r#"</d:prop></d:propfind>"#
);

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
    pub quota_available: Option<i64>,
    pub quota_used: Option<i64>,
}

#[derive(Default)]
struct PropAcc {
    is_collection: bool,
    content_length: Option<u64>,
    last_modified: Option<SystemTime>,
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

/// Parses a `207 Multi-Status` body. Responses whose own `<d:status>` is not
/// 2xx are dropped; properties only count from `<d:propstat>`s with a 2xx
/// status.
pub(crate) fn parse_multistatus(body: &[u8]) -> Result<Vec<DavEntry>, String> {
    let mut reader = NsReader::from_reader(body);
    reader.config_mut().trim_text(false);
    let mut out = Vec::new();
    // Local names of the open DAV: elements (other namespaces as "").
    let mut stack: Vec<String> = Vec::new();
    let mut entry: Option<(DavEntry, bool)> = None; // (entry, response-level status ok)
    let mut prop: Option<PropAcc> = None;
    let mut text = String::new();
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("bad PROPFIND XML: {e}"))?;
        let is_dav = matches!(ns, ResolveResult::Bound(n) if n.as_ref() == b"DAV:");
        match event {
            Event::Start(e) => {
                let local = if is_dav {
                    String::from_utf8_lossy(e.local_name().as_ref()).into_owned()
                } else {
                    String::new()
                };
                match local.as_str() {
                    "response" => entry = Some((DavEntry::default(), true)),
                    "propstat" => prop = Some(PropAcc::default()),
                    "collection" => {
                        if let Some(p) = prop.as_mut() {
                            p.is_collection = true;
                        }
                    }
                    _ => {}
                }
                stack.push(local);
                text.clear();
            }
            Event::Empty(e) => {
                if is_dav
                    && e.local_name().as_ref() == b"collection"
                    && let Some(p) = prop.as_mut()
                {
                    p.is_collection = true;
                }
            }
            Event::Text(t) => {
                text.push_str(
                    &t.decode()
                        .map_err(|e| format!("bad PROPFIND XML text: {e}"))?,
                );
            }
            Event::CData(t) => {
                text.push_str(&String::from_utf8_lossy(&t.into_inner()));
            }
            Event::GeneralRef(r) => {
                let name = r
                    .decode()
                    .map_err(|e| format!("bad PROPFIND XML entity: {e}"))?;
                let raw = format!("&{name};");
                let resolved = quick_xml::escape::unescape(&raw)
                    .map_err(|e| format!("bad PROPFIND XML entity: {e}"))?;
                text.push_str(&resolved);
            }
            Event::End(_) => {
                let local = stack.pop().unwrap_or_default();
                let parent = stack.last().map(String::as_str).unwrap_or("");
                let value = text.trim();
                match (local.as_str(), parent) {
                    ("href", "response") => {
                        if let Some((e, _)) = entry.as_mut() {
                            e.href = value.to_owned();
                        }
                    }
                    ("status", "response") => {
                        if let Some((_, ok)) = entry.as_mut() {
                            *ok = status_is_ok(value);
                        }
                    }
                    ("status", "propstat") => {
                        if let Some(p) = prop.as_mut() {
                            p.status_ok = status_is_ok(value);
                        }
                    }
                    ("getcontentlength", _) => {
                        if let Some(p) = prop.as_mut() {
                            p.content_length = value.parse().ok();
                        }
                    }
                    ("getlastmodified", _) => {
                        if let Some(p) = prop.as_mut() {
                            p.last_modified = httpdate::parse_http_date(value).ok();
                        }
                    }
                    ("quota-available-bytes", _) => {
                        if let Some(p) = prop.as_mut() {
                            p.quota_available = value.parse().ok();
                        }
                    }
                    ("quota-used-bytes", _) => {
                        if let Some(p) = prop.as_mut() {
                            p.quota_used = value.parse().ok();
                        }
                    }
                    ("propstat", _) => {
                        if let (Some(p), Some((e, _))) = (prop.take(), entry.as_mut())
                            && p.status_ok
                        {
                            e.is_collection |= p.is_collection;
                            e.content_length = e.content_length.or(p.content_length);
                            e.last_modified = e.last_modified.or(p.last_modified);
                            e.quota_available = e.quota_available.or(p.quota_available);
                            e.quota_used = e.quota_used.or(p.quota_used);
                        }
                    }
                    ("response", _) => {
                        if let Some((e, ok)) = entry.take()
                            && ok
                            && !e.href.is_empty()
                        {
                            out.push(e);
                        }
                    }
                    _ => {}
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
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
        let entries = parse_multistatus(xml).expect("test value");
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
    fn parses_default_namespace_and_quota() {
        let xml = br#"<multistatus xmlns="DAV:"><response><href>/r/</href><propstat><prop>
<quota-available-bytes>100</quota-available-bytes><quota-used-bytes>20</quota-used-bytes>
<resourcetype><collection/></resourcetype></prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>"#;
        let e = parse_multistatus(xml).expect("test value");
        assert_eq!(e.len(), 1);
        assert!(e[0].is_collection);
        assert_eq!(
            (e[0].quota_available, e[0].quota_used),
            (Some(100), Some(20))
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_multistatus(b"<a><b></a>").is_err());
    }
}
