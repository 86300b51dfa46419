//! Multipart uploads left behind under the vault's prefix (a client killed
//! mid-upload, a crash before the abort): listed with ListMultipartUploads
//! and aborted when older than a given age, for `vault check --repair`.
//! Their parts are invisible to listings but billed until aborted.

use std::time::{Duration, SystemTime};

use reqwest::Method;
use vault_storage::{StorageError, StoragePath};

use crate::S3Storage;
use crate::http::{Failure, Req, read_capped};
use crate::ops::Ops;

/// Longest ListMultipartUploads answer read (1,000 uploads with long keys).
const MAX_UPLOADS_BODY: usize = 8 << 20;
/// Most pages of 1,000 uploads followed (a bound against a server that
/// never says "not truncated").
const MAX_PAGES: usize = 100;

/// One unfinished multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleUpload {
    /// The object key it would create (the full key, prefix included).
    pub key: String,
    /// When it was started (`None`: the server did not say; never aborted).
    pub initiated: Option<SystemTime>,
}

/// One page of ListMultipartUploads.
#[derive(Debug, Default)]
struct UploadsPage {
    uploads: Vec<(String, String, Option<SystemTime>)>,
    next: Option<(String, String)>,
}

impl Ops {
    /// One page of the multipart uploads under `prefix`.
    async fn list_uploads(
        &self,
        prefix: &str,
        after: Option<&(String, String)>,
    ) -> Result<UploadsPage, Failure> {
        // `uploads=1` as rusty-s3 writes the flag; sorted, as the signer
        // expects its query (the canonical request lists it in order).
        let mut query: Vec<(&str, &str)> = vec![("uploads", "1"), ("max-uploads", "1000")];
        if !prefix.is_empty() {
            query.push(("prefix", prefix));
        }
        if let Some((key, id)) = after {
            query.push(("key-marker", key));
            query.push(("upload-id-marker", id));
        }
        query.sort_unstable();
        let url = self.bucket.base_url().clone();
        let url = self.sign_raw(rusty_s3::Method::Get, url, &query, &[]);
        let req = Req {
            what: "ListMultipartUploads",
            method: Method::GET,
            url,
            headers: vec![],
            body: None,
        };
        let (response, _) = self.http.send(&req).await?;
        let body = read_capped(response, MAX_UPLOADS_BODY).await?;
        parse_uploads(&body)
    }
}

/// Longest text of one element (keys are at most 1,024 bytes).
const MAX_TEXT: usize = 8 << 10;

/// Parses a `ListMultipartUploadsResult`.
fn parse_uploads(body: &[u8]) -> Result<UploadsPage, Failure> {
    use quick_xml::events::Event;
    let bad = |what: &str| Failure::Protocol(format!("bad ListMultipartUploads answer: {what}"));
    let mut reader = quick_xml::Reader::from_reader(body);
    reader.config_mut().trim_text(false);
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut page = UploadsPage::default();
    let (mut key, mut id, mut initiated) = (String::new(), String::new(), None);
    let (mut truncated, mut next_key, mut next_id) = (false, String::new(), String::new());
    loop {
        match reader.read_event().map_err(|e| bad(&e.to_string()))? {
            Event::Start(e) => {
                if path.len() > 8 {
                    return Err(bad("nested too deep"));
                }
                path.push(e.local_name().as_ref().to_owned());
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(&t.into_inner()),
            Event::GeneralRef(r) => match r.resolve_char_ref() {
                Ok(Some(c)) => text.push(c),
                Ok(None) => {
                    let raw = format!("&{};", r.into_inner());
                    let resolved =
                        quick_xml::escape::unescape(&raw).map_err(|e| bad(&e.to_string()))?;
                    text.push_str(&resolved);
                }
                Err(e) => return Err(bad(&e.to_string())),
            },
            Event::End(_) => {
                let names: Vec<&str> = path.iter().map(String::as_str).collect();
                let value = std::mem::take(&mut text);
                match names.as_slice() {
                    [_, "Upload", "Key"] => key = value,
                    [_, "Upload", "UploadId"] => id = value,
                    [_, "Upload", "Initiated"] => {
                        initiated = value
                            .trim()
                            .parse::<jiff::Timestamp>()
                            .ok()
                            .map(SystemTime::from);
                    }
                    [_, "Upload"] => {
                        if key.is_empty() || id.is_empty() {
                            return Err(bad("an Upload without Key or UploadId"));
                        }
                        let k = std::mem::take(&mut key);
                        let i = std::mem::take(&mut id);
                        page.uploads.push((k, i, initiated.take()));
                    }
                    [_, "IsTruncated"] => truncated = value.trim() == "true",
                    [_, "NextKeyMarker"] => next_key = value,
                    [_, "NextUploadIdMarker"] => next_id = value,
                    _ => {}
                }
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
        if text.len() > MAX_TEXT {
            return Err(bad("an element's text is too long"));
        }
    }
    if truncated {
        if next_key.is_empty() {
            return Err(bad("truncated without NextKeyMarker"));
        }
        page.next = Some((next_key, next_id));
    }
    Ok(page)
}

impl S3Storage {
    /// Aborts the multipart uploads under the vault's prefix started more
    /// than `older_than` ago; returns them (`None`: the store cannot list
    /// multipart uploads). Younger ones may belong to a client still
    /// uploading and are left alone, as are uploads the server gives no
    /// start time for.
    pub async fn abort_stale_uploads(
        &self,
        older_than: Duration,
    ) -> Result<Option<Vec<StaleUpload>>, StorageError> {
        self.stale_uploads(older_than, true).await
    }

    /// The multipart uploads under the vault's prefix started more than
    /// `older_than` ago, aborted if `abort`; `None` when the store answers
    /// ListMultipartUploads with 501 Not Implemented (s3s-fs; a lifecycle
    /// rule or the store's own cleanup is then the only way).
    pub async fn stale_uploads(
        &self,
        older_than: Duration,
        abort: bool,
    ) -> Result<Option<Vec<StaleUpload>>, StorageError> {
        let root = StoragePath::root();
        let cutoff = SystemTime::now()
            .checked_sub(older_than)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut aborted = Vec::new();
        let mut after: Option<(String, String)> = None;
        for _ in 0..MAX_PAGES {
            let page = match self.ops.list_uploads(&self.root, after.as_ref()).await {
                Ok(page) => page,
                Err(f) if f.status() == Some(reqwest::StatusCode::NOT_IMPLEMENTED) => {
                    tracing::info!("the store cannot list multipart uploads: {f:?}");
                    return Ok(None);
                }
                Err(f) => return Err(self.fail(f, &root)),
            };
            for (key, id, initiated) in page.uploads {
                // Only below the prefix, whatever the server's filter did.
                if !key.starts_with(&self.root) || initiated.is_none_or(|t| t > cutoff) {
                    continue;
                }
                if !abort {
                    aborted.push(StaleUpload { key, initiated });
                    continue;
                }
                match self.ops.abort_multipart(&key, &id).await {
                    Ok(()) => aborted.push(StaleUpload { key, initiated }),
                    // Finished or aborted by someone else meanwhile.
                    Err(f) if f.status() == Some(reqwest::StatusCode::NOT_FOUND) => {}
                    Err(f) => return Err(self.fail(f, &root)),
                }
            }
            match page.next {
                Some(next) if Some(&next) != after.as_ref() => after = Some(next),
                _ => break,
            }
        }
        Ok(Some(aborted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pages_with_escaped_keys() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>b</Bucket><KeyMarker></KeyMarker>
  <NextKeyMarker>v/d/a&amp;b</NextKeyMarker><NextUploadIdMarker>id2</NextUploadIdMarker>
  <IsTruncated>true</IsTruncated>
  <Upload><Key>v/d/one</Key><UploadId>id1</UploadId>
    <Initiated>2024-01-02T03:04:05.000Z</Initiated><Owner><ID>x</ID></Owner></Upload>
  <Upload><Key>v/d/a&amp;b</Key><UploadId>id2</UploadId></Upload>
</ListMultipartUploadsResult>"#;
        let page = parse_uploads(xml).unwrap();
        assert_eq!(page.uploads.len(), 2);
        assert_eq!(page.uploads[0].0, "v/d/one");
        assert_eq!(page.uploads[0].1, "id1");
        let t: jiff::Timestamp = "2024-01-02T03:04:05Z".parse().unwrap();
        assert_eq!(page.uploads[0].2, Some(SystemTime::from(t)));
        assert_eq!(page.uploads[1].0, "v/d/a&b");
        assert_eq!(page.uploads[1].2, None);
        assert_eq!(page.next, Some(("v/d/a&b".into(), "id2".into())));
        assert!(parse_uploads(b"<R><Upload><Key>k</Key></Upload></R>").is_err());
    }
}
