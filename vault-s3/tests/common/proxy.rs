//! A small HTTP proxy in front of a test S3 server: counts requests by S3
//! operation, and answers the first N requests of a chosen operation with
//! `503 SlowDown` (or drops their connection) before passing requests on.
//! The `Host` header is passed unchanged, so SigV4 signatures made for the
//! proxy's address still verify at the server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use url::Url;

/// How the proxy fails a request it is told to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `503 Service Unavailable` with an S3 `SlowDown` error body.
    SlowDown,
    /// Close the connection without an answer (the request never reaches the server).
    Drop,
    /// Pass the request on, then close the connection without passing the
    /// answer back: the server committed, the client does not know.
    DropAnswer,
    /// Pass the request on without its `Range` header (a server ignoring
    /// ranges answers 200 with the whole object).
    IgnoreRange,
    /// Answer a listing with an empty page that is "truncated" and always
    /// names the same continuation token.
    StuckListing,
    /// Pass the answer back with its body cut in half (headers as the server
    /// sent them, but for a `Content-Length` that matches the cut body).
    ShortBody,
    /// Pass the answer back with 100 bytes more in its body (headers as the
    /// server sent them, but for a `Content-Length` that matches).
    LongBody,
}

#[derive(Default)]
struct State {
    counts: HashMap<&'static str, u32>,
    failures: HashMap<&'static str, (u32, Fault)>,
    /// Requests of an operation passed on before its failures begin.
    passes: HashMap<&'static str, u32>,
}

/// A running proxy.
pub struct Proxy {
    pub endpoint: Url,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The S3 operation a request is, from method and query.
pub fn operation(method: &hyper::Method, query: &str) -> &'static str {
    let has = |k: &str| {
        query
            .split('&')
            .any(|p| p == k || p.starts_with(&format!("{k}=")))
    };
    match method.as_str() {
        "POST" if has("uploads") => "CreateMultipartUpload",
        "POST" if has("uploadId") => "CompleteMultipartUpload",
        "PUT" if has("partNumber") => "UploadPart",
        "DELETE" if has("uploadId") => "AbortMultipartUpload",
        "PUT" => "PutObject",
        "GET" if has("list-type") => "ListObjectsV2",
        "GET" => "GetObject",
        "HEAD" => "HeadObject",
        "DELETE" => "DeleteObject",
        _ => "Other",
    }
}

impl Proxy {
    /// Starts a proxy to `upstream` on an ephemeral loopback port.
    pub async fn start(upstream: &Url) -> Proxy {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let upstream = upstream.clone();
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let (client, upstream, state) =
                    (client.clone(), upstream.clone(), Arc::clone(&shared));
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        forward(req, client.clone(), upstream.clone(), Arc::clone(&state))
                    });
                    let _ = ConnBuilder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        Proxy {
            endpoint: Url::parse(&format!("http://{addr}")).unwrap(),
            state,
            task,
        }
    }

    /// Fails the next `n` requests of `operation` with `fault`.
    pub fn fail_next(&self, operation: &'static str, n: u32, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .failures
            .insert(operation, (n, fault));
    }

    /// Passes the next `pass` requests of `operation` on, then fails `n` with `fault`.
    pub fn fail_after(&self, operation: &'static str, pass: u32, n: u32, fault: Fault) {
        let mut s = self.state.lock().unwrap();
        s.passes.insert(operation, pass);
        s.failures.insert(operation, (n, fault));
    }

    /// Requests of `operation` seen so far (failed ones included).
    pub fn count(&self, operation: &str) -> u32 {
        self.state
            .lock()
            .unwrap()
            .counts
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    pub fn reset_counts(&self) {
        self.state.lock().unwrap().counts.clear();
    }
}

type Answer = Result<Response<Full<Bytes>>, std::io::Error>;

async fn forward(
    req: Request<hyper::body::Incoming>,
    client: reqwest::Client,
    upstream: Url,
    state: Arc<Mutex<State>>,
) -> Answer {
    let op = operation(req.method(), req.uri().query().unwrap_or(""));
    let fault = {
        let mut s = state.lock().unwrap();
        *s.counts.entry(op).or_default() += 1;
        let passing = s.passes.get_mut(op).filter(|p| **p > 0);
        let passing = passing.map(|p| *p -= 1).is_some();
        match s.failures.get_mut(op).filter(|_| !passing) {
            Some((n, fault)) if *n > 0 => {
                *n -= 1;
                Some(*fault)
            }
            _ => None,
        }
    };
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    match fault {
        Some(Fault::SlowDown) => {
            let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                       <Message>Please reduce your request rate.</Message></Error>";
            return Ok(Response::builder()
                .status(503)
                .header("content-type", "application/xml")
                .body(Full::new(Bytes::from(xml)))
                .unwrap());
        }
        // An error from the service makes hyper close the connection unanswered.
        Some(Fault::Drop) => return Err(std::io::Error::other("dropped by the test proxy")),
        Some(Fault::StuckListing) => {
            let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult \
                       xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix></Prefix>\
                       <KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>\
                       <NextContinuationToken>same</NextContinuationToken></ListBucketResult>";
            return Ok(Response::builder()
                .status(200)
                .header("content-type", "application/xml")
                .body(Full::new(Bytes::from(xml)))
                .unwrap());
        }
        Some(Fault::DropAnswer | Fault::IgnoreRange | Fault::ShortBody | Fault::LongBody)
        | None => {}
    }
    let mut url = upstream.clone();
    url.set_path(parts.uri.path());
    url.set_query(parts.uri.query());
    let mut out = client.request(parts.method.clone(), url);
    for (name, value) in &parts.headers {
        let skip = name == "range" && fault == Some(Fault::IgnoreRange);
        if name != "connection" && name != "transfer-encoding" && !skip {
            out = out.header(name, value);
        }
    }
    let answer = out.body(body).send().await.map_err(|e| {
        eprintln!("test proxy: forwarding failed: {e:?}");
        std::io::Error::other(e)
    })?;
    if fault == Some(Fault::DropAnswer) {
        let _ = answer.bytes().await;
        return Err(std::io::Error::other("answer dropped by the test proxy"));
    }
    let mut response = Response::builder().status(answer.status());
    let reshaped = matches!(fault, Some(Fault::ShortBody | Fault::LongBody));
    for (name, value) in answer.headers() {
        let skip = reshaped && name == "content-length";
        if name != "connection" && name != "transfer-encoding" && !skip {
            response = response.header(name, value);
        }
    }
    let mut bytes = answer.bytes().await.map_err(std::io::Error::other)?;
    match fault {
        Some(Fault::ShortBody) => bytes.truncate(bytes.len() / 2),
        Some(Fault::LongBody) => {
            let mut longer = bytes.to_vec();
            longer.extend_from_slice(&[0x5a; 100]);
            bytes = Bytes::from(longer);
        }
        _ => {}
    }
    Ok(response.body(Full::new(bytes)).unwrap())
}
