//! One fn per S3 request the backend makes, on raw keys: sign (rusty-s3),
//! send with retries ([`Http::send`]), parse. No vault semantics here.

use bytes::Bytes;
use reqwest::{Method, StatusCode};
use rusty_s3::actions::{
    AbortMultipartUpload, CompleteMultipartUpload, CreateMultipartUpload, DeleteObject, GetObject,
    HeadObject, ListObjectsV2, PutObject, UploadPart,
};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use url::Url;

use crate::config::S3Config;
use crate::http::{Failure, Http, Req, SIGN_FOR, read_capped};
use crate::range::ContentRange;

/// Header carrying a per-write token, so a retried conditional write that
/// finds "already exists" can tell its own earlier (committed) attempt from
/// another writer's object.
pub(crate) const WRITE_ID: &str = "x-amz-meta-vault-write-id";

/// Longest listing page accepted (1,000 keys of up to 1 KiB each, plus XML).
const MAX_LIST_BODY: usize = 8 << 20;
/// Longest ETag kept as a version tag (S3's are 34-50 characters).
const MAX_VERSION_TAG: usize = 200;
/// Longest small XML answer (create/complete multipart).
const MAX_SMALL_BODY: usize = 64 << 10;

/// One object of a listing page.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub key: String,
    pub size: u64,
    pub modified: Option<std::time::SystemTime>,
    /// The object's ETag (quotes kept), bounded: a longer one is dropped.
    pub etag: Option<String>,
}

/// One listing page.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub objects: Vec<Listed>,
    pub prefixes: Vec<String>,
    pub next: Option<String>,
}

/// What HEAD says about an object.
#[derive(Debug)]
pub(crate) struct Head {
    pub write_id: Option<String>,
}

/// The bucket, the credentials and the HTTP client.
pub(crate) struct Ops {
    pub http: Http,
    pub bucket: Bucket,
    credentials: Option<Credentials>,
}

fn parse_time(s: &str) -> Option<std::time::SystemTime> {
    let ts: jiff::Timestamp = s.parse().ok()?;
    Some(std::time::SystemTime::from(ts))
}

impl Ops {
    pub(crate) fn new(config: &S3Config) -> Result<Self, String> {
        let style = if config.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(
            config.endpoint.clone(),
            style,
            config.bucket.clone(),
            config.region.clone(),
        )
        .map_err(|e| format!("bad S3 endpoint or bucket name: {e}"))?;
        let credentials = config.credentials.as_ref().map(|c| {
            let key = c.access_key_id.clone();
            let secret = c.secret_access_key.as_str();
            match &c.session_token {
                Some(t) => Credentials::new_with_token(key, secret, t.as_str()),
                None => Credentials::new(key, secret),
            }
        });
        Ok(Ops {
            http: Http::new(config)?,
            bucket,
            credentials,
        })
    }

    fn creds(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// Signs a request rusty-s3 has no action for: `query` (sorted, as the signer's canonical
    /// request lists it) and `headers` are covered by the signature. Without credentials the
    /// query is appended as is.
    pub(crate) fn sign_raw(
        &self,
        method: rusty_s3::Method,
        mut url: url::Url,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> url::Url {
        match self.creds() {
            Some(c) => rusty_s3::signing::sign(
                &jiff::Timestamp::now(),
                method,
                url,
                c.key(),
                c.secret(),
                c.token(),
                self.bucket.region(),
                SIGN_FOR.as_secs(),
                query.iter().copied(),
                headers.iter().copied(),
            ),
            None => {
                if !query.is_empty() {
                    url.query_pairs_mut().extend_pairs(query.iter().copied());
                }
                url
            }
        }
    }

    /// `HEAD bucket`: `Ok(false)` when it does not exist.
    pub(crate) async fn head_bucket(&self) -> Result<bool, Failure> {
        let url = rusty_s3::actions::HeadBucket::new(&self.bucket, self.creds()).sign(SIGN_FOR);
        let req = Req {
            what: "HEAD bucket",
            method: Method::HEAD,
            url,
            headers: vec![],
            body: None,
        };
        match self.http.send(&req).await {
            Ok(_) => Ok(true),
            Err(f) if f.status() == Some(StatusCode::NOT_FOUND) => Ok(false),
            Err(f) => Err(f),
        }
    }

    /// `CreateBucket` (needs credentials; an unsigned request is refused).
    pub(crate) async fn create_bucket(&self) -> Result<(), Failure> {
        let Some(creds) = self.creds() else {
            return Err(Failure::Protocol(
                "creating a bucket needs credentials".into(),
            ));
        };
        let url = rusty_s3::actions::CreateBucket::new(&self.bucket, creds).sign(SIGN_FOR);
        let req = Req {
            what: "CreateBucket",
            method: Method::PUT,
            url,
            headers: vec![],
            body: None,
        };
        self.http.send(&req).await.map(|_| ())
    }

    /// `HEAD key`: `Ok(None)` when there is no such object.
    pub(crate) async fn head(&self, key: &str) -> Result<Option<Head>, Failure> {
        let url = HeadObject::new(&self.bucket, self.creds(), key).sign(SIGN_FOR);
        let req = Req {
            what: "HEAD",
            method: Method::HEAD,
            url,
            headers: vec![],
            body: None,
        };
        match self.http.send(&req).await {
            Ok((r, _)) => {
                let write_id = r.headers().get(WRITE_ID).and_then(|v| v.to_str().ok());
                Ok(Some(Head {
                    write_id: write_id.map(str::to_owned),
                }))
            }
            Err(f) if f.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(f) => Err(f),
        }
    }

    /// `GET key` of `len` bytes at `offset` (`len > 0`). `Ok(None)`: no such
    /// object; an empty result: the range starts at or past the end.
    pub(crate) async fn get_range(
        &self,
        key: &str,
        offset: u64,
        len: usize,
    ) -> Result<Option<Bytes>, Failure> {
        let last = offset.saturating_add(len as u64 - 1);
        let url = GetObject::new(&self.bucket, self.creds(), key).sign(SIGN_FOR);
        let req = Req {
            what: "GET",
            method: Method::GET,
            url,
            headers: vec![("range", format!("bytes={offset}-{last}"))],
            body: None,
        };
        match self.http.send(&req).await {
            Ok((r, _)) => {
                // A server ignoring Range answers 200 with the whole object:
                // read only as far as the range reaches, never the rest.
                if r.status() == StatusCode::OK {
                    let start = usize::try_from(offset).unwrap_or(usize::MAX);
                    let body = read_prefix(r, start.saturating_add(len)).await?;
                    return Ok(Some(body.slice(start.min(body.len())..)));
                }
                let n = ContentRange::of(&r)?.expect(offset, len)?;
                let body = read_capped(r, n).await?;
                if body.len() != n {
                    return Err(Failure::Protocol(format!(
                        "the server sent {} of the {n} bytes its Content-Range announced",
                        body.len()
                    )));
                }
                Ok(Some(body))
            }
            Err(f) if f.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(f) if f.status() == Some(StatusCode::RANGE_NOT_SATISFIABLE) => {
                Ok(Some(Bytes::new()))
            }
            Err(f) => Err(f),
        }
    }

    /// `GET key` from `offset` to the end, the body left unread (for
    /// [`crate::stream`]). Any failure, a missing object included, is an error.
    pub(crate) async fn get_from(
        &self,
        key: &str,
        offset: u64,
    ) -> Result<reqwest::Response, Failure> {
        let url = GetObject::new(&self.bucket, self.creds(), key).sign(SIGN_FOR);
        let req = Req {
            what: "GET",
            method: Method::GET,
            url,
            headers: vec![("range", format!("bytes={offset}-"))],
            body: None,
        };
        self.http.send(&req).await.map(|(r, _)| r)
    }

    /// `PUT key` with `body`; `create_only` adds `If-None-Match: *`.
    /// Returns how many attempts it took.
    pub(crate) async fn put(
        &self,
        key: &str,
        body: Bytes,
        create_only: bool,
        write_id: &str,
    ) -> Result<u32, Failure> {
        let mut action = PutObject::new(&self.bucket, self.creds(), key);
        let mut headers = vec![(WRITE_ID, write_id.to_owned())];
        if create_only {
            headers.push(("if-none-match", "*".to_owned()));
        }
        for (k, v) in &headers {
            action.headers_mut().insert(*k, v.clone());
        }
        let url = action.sign(SIGN_FOR);
        let req = Req {
            what: "PUT",
            method: Method::PUT,
            url,
            headers,
            body: Some(body),
        };
        self.http.send(&req).await.map(|(_, attempts)| attempts)
    }

    /// `DELETE key` (S3 answers success for a missing key too).
    pub(crate) async fn delete(&self, key: &str) -> Result<(), Failure> {
        let url = DeleteObject::new(&self.bucket, self.creds(), key).sign(SIGN_FOR);
        let req = Req {
            what: "DELETE",
            method: Method::DELETE,
            url,
            headers: vec![],
            body: None,
        };
        match self.http.send(&req).await {
            Ok(_) => Ok(()),
            Err(f) if f.status() == Some(StatusCode::NOT_FOUND) => Ok(()),
            Err(f) => Err(f),
        }
    }

    /// Server-side `CopyObject` of `from` to `to` (up to 5 GiB).
    pub(crate) async fn copy(&self, from: &str, to: &str) -> Result<(), Failure> {
        let source = format!("/{}/{}", self.bucket.name(), encode_key(from));
        let url = self.bucket.object_url(to);
        let headers = [("x-amz-copy-source", source.as_str())];
        let url = self.sign_raw(rusty_s3::Method::Put, url, &[], &headers);
        let req = Req {
            what: "COPY",
            method: Method::PUT,
            url,
            headers: vec![("x-amz-copy-source", source.clone())],
            body: None,
        };
        let (response, _) = self.http.send(&req).await?;
        // CopyObject may fail after its 200 status line: the error is in the body.
        let body = read_capped(response, MAX_SMALL_BODY).await?;
        check_no_error_body(&body, "COPY")
    }

    /// One listing page under `prefix`, with or without a `/` delimiter.
    pub(crate) async fn list_page(
        &self,
        prefix: &str,
        delimiter: bool,
        max_keys: usize,
        token: Option<&str>,
    ) -> Result<Page, Failure> {
        let mut action = ListObjectsV2::new(&self.bucket, self.creds());
        action.with_prefix(prefix);
        if delimiter {
            action.with_delimiter("/");
        }
        action.with_max_keys(max_keys);
        if let Some(token) = token {
            action.with_continuation_token(token);
        }
        let url = action.sign(SIGN_FOR);
        let req = Req {
            what: "LIST",
            method: Method::GET,
            url,
            headers: vec![],
            body: None,
        };
        let (response, _) = self.http.send(&req).await?;
        let body = read_capped(response, MAX_LIST_BODY).await?;
        let text = std::str::from_utf8(&body)
            .map_err(|_| Failure::Protocol("S3 listing is not UTF-8".into()))?;
        let parsed = ListObjectsV2::parse_response(text)
            .map_err(|e| Failure::Protocol(format!("bad S3 listing: {e}")))?;
        Ok(Page {
            objects: parsed
                .contents
                .into_iter()
                .map(|c| Listed {
                    modified: c.last_modified.as_deref().and_then(parse_time),
                    etag: c.etag.filter(|e| e.len() <= MAX_VERSION_TAG),
                    size: c.size.unwrap_or(0),
                    key: c.key,
                })
                .collect(),
            prefixes: parsed
                .common_prefixes
                .into_iter()
                .map(|p| p.prefix)
                .collect(),
            next: parsed.next_continuation_token,
        })
    }

    /// Starts a multipart upload; returns its id.
    pub(crate) async fn create_multipart(
        &self,
        key: &str,
        write_id: &str,
    ) -> Result<String, Failure> {
        let mut action = CreateMultipartUpload::new(&self.bucket, self.creds(), key);
        action.headers_mut().insert(WRITE_ID, write_id.to_owned());
        let url = action.sign(SIGN_FOR);
        let headers = vec![(WRITE_ID, write_id.to_owned())];
        let req = Req {
            what: "CreateMultipartUpload",
            method: Method::POST,
            url,
            headers,
            body: None,
        };
        let (response, _) = self.http.send(&req).await?;
        let body = read_capped(response, MAX_SMALL_BODY).await?;
        let text = String::from_utf8_lossy(&body);
        let parsed = CreateMultipartUpload::parse_response(&text)
            .map_err(|e| Failure::Protocol(format!("bad CreateMultipartUpload answer: {e}")))?;
        Ok(parsed.upload_id().to_owned())
    }

    /// Uploads part `number` (1-based); returns its ETag.
    pub(crate) async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u16,
        body: Bytes,
    ) -> Result<String, Failure> {
        let url =
            UploadPart::new(&self.bucket, self.creds(), key, number, upload_id).sign(SIGN_FOR);
        let req = Req {
            what: "UploadPart",
            method: Method::PUT,
            url,
            headers: vec![],
            body: Some(body),
        };
        let (response, _) = self.http.send(&req).await?;
        response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| Failure::Protocol("UploadPart answer without an ETag".into()))
    }

    /// Completes a multipart upload from the parts' ETags, in order;
    /// `create_only` adds `If-None-Match: *`. Returns the attempts it took.
    pub(crate) async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        etags: &[String],
        create_only: bool,
    ) -> Result<u32, Failure> {
        let mut action = CompleteMultipartUpload::new(
            &self.bucket,
            self.creds(),
            key,
            upload_id,
            etags.iter().map(String::as_str),
        );
        let mut headers = Vec::new();
        if create_only {
            headers.push(("if-none-match", "*".to_owned()));
            action.headers_mut().insert("if-none-match", "*");
        }
        let url = action.sign(SIGN_FOR);
        let body = Bytes::from(action.body());
        let req = Req {
            what: "CompleteMultipartUpload",
            method: Method::POST,
            url,
            headers,
            body: Some(body),
        };
        let (response, attempts) = self.http.send(&req).await?;
        let body = read_capped(response, MAX_SMALL_BODY).await?;
        check_no_error_body(&body, "CompleteMultipartUpload")?;
        Ok(attempts)
    }

    /// Aborts a multipart upload (its parts are deleted by the server).
    pub(crate) async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), Failure> {
        let url =
            AbortMultipartUpload::new(&self.bucket, self.creds(), key, upload_id).sign(SIGN_FOR);
        let req = Req {
            what: "AbortMultipartUpload",
            method: Method::DELETE,
            url,
            headers: vec![],
            body: None,
        };
        self.http.send(&req).await.map(|_| ())
    }
}

/// The first `limit` bytes of a body (the rest is not read).
async fn read_prefix(mut response: reqwest::Response, limit: usize) -> Result<Bytes, Failure> {
    let mut buf = Vec::with_capacity(limit.min(1 << 20));
    while buf.len() < limit {
        let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| Failure::Transport("read", e.without_url()))?
        else {
            break;
        };
        let take = chunk.len().min(limit - buf.len());
        buf.extend_from_slice(&chunk[..take]);
    }
    Ok(Bytes::from(buf))
}

/// S3 can send `200 OK` and then an `<Error>` document (copy, complete).
fn check_no_error_body(body: &[u8], what: &'static str) -> Result<(), Failure> {
    let head = &body[..body.len().min(512)];
    if String::from_utf8_lossy(head).contains("<Error>") {
        return Err(Failure::Status {
            what,
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: crate::http::error_code(body),
            region: None,
        });
    }
    Ok(())
}

/// Percent-encodes a key for `x-amz-copy-source` (keeps `/`).
fn encode_key(key: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'/');
    utf8_percent_encode(key, KEEP).to_string()
}

/// The endpoint without credentials or query, for `describe()`.
pub(crate) fn shown_endpoint(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.as_str().trim_end_matches('/').to_owned()
}
