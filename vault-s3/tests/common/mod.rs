//! Test servers for the S3 backend: s3s-fs in-process (fresh per test, on a
//! temp dir), moto in server mode (one per test binary, from `test-support`),
//! a plain S3 client for laying out objects as other tools would, and a
//! counting / fault-injecting HTTP proxy.
#![allow(dead_code, unused_imports, clippy::unwrap_used)]

pub mod proxy;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use url::Url;
use vault_s3::{S3Config, S3Credentials, S3Storage};

pub const KEY_ID: &str = "vault-test-key";
pub const SECRET: &str = "vault-test-secret-0123456789";
pub const BUCKET: &str = "vault-test";

/// A running S3 server: its endpoint and whatever keeps it alive.
pub struct Server {
    pub endpoint: Url,
    _guard: Box<dyn std::any::Any + Send + Sync>,
}

/// s3s-fs on a fresh temp dir, with authentication on, bucket created.
pub async fn s3s_fs() -> Server {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(BUCKET)).unwrap();
    let fs = s3s_fs::FileSystem::new(dir.path()).unwrap();
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(KEY_ID, SECRET));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let http = ConnBuilder::new(TokioExecutor::new());
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let conn = http
                .serve_connection(TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
    Server {
        endpoint: Url::parse(&format!("http://{addr}")).unwrap(),
        _guard: Box::new((dir, AbortOnDrop(task))),
    }
}

/// s3s-fs on a temp dir that a test can kill (the accept loop and every
/// connection task aborted at once, mid-request, as a killed process stops)
/// and restart on the same folder and port: objects, metadata and multipart
/// state persist on disk.
pub struct KillableS3sFs {
    dir: tempfile::TempDir,
    addr: SocketAddr,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl KillableS3sFs {
    pub async fn start() -> KillableS3sFs {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(BUCKET)).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = KillableS3sFs {
            dir,
            addr,
            tasks: Default::default(),
        };
        server.serve(listener);
        server
    }

    pub fn endpoint(&self) -> Url {
        Url::parse(&format!("http://{}", self.addr)).unwrap()
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let fs = s3s_fs::FileSystem::new(self.dir.path()).unwrap();
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(KEY_ID, SECRET));
        let service = builder.build();
        let tasks = std::sync::Arc::clone(&self.tasks);
        let accept = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let conn = http
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                let task = tokio::spawn(async move {
                    let _ = conn.await;
                });
                tasks.lock().unwrap().push(task.abort_handle());
            }
        });
        self.tasks.lock().unwrap().push(accept.abort_handle());
    }

    /// Stops serving at once: open requests get no answer.
    pub fn kill(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Serves the same folder on the same port again.
    pub async fn restart(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) => {
                    assert!(
                        Instant::now() < deadline,
                        "cannot bind {} again: {e}",
                        self.addr
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        self.serve(listener);
    }
}

impl Drop for KillableS3sFs {
    fn drop(&mut self) {
        self.kill();
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub use test_support::moto::moto_venv;

static MOTO: OnceLock<Url> = OnceLock::new();

/// The moto server of this test binary (started on first use, from `test-support`; a
/// watchdog stops it when the test process is gone). Callers make buckets of their own
/// ([`unique_bucket`]).
pub async fn moto() -> Server {
    let endpoint = MOTO.get_or_init(|| {
        let port = test_support::moto::start_moto_until_exit();
        Url::parse(&format!("http://127.0.0.1:{port}")).unwrap()
    });
    Server {
        endpoint: endpoint.clone(),
        _guard: Box::new(()),
    }
}

static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// A bucket name unique to this test process and call.
pub fn unique_bucket() -> String {
    format!(
        "vt-{}-{}",
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    )
}

/// The backend's configuration for `endpoint`, bucket, prefix; small retry
/// delays so fault tests stay quick.
pub fn config(endpoint: &Url, bucket: &str, prefix: &str) -> S3Config {
    let mut config = S3Config::new(endpoint.clone(), bucket, prefix, "us-east-1");
    config.credentials = Some(S3Credentials {
        access_key_id: KEY_ID.into(),
        secret_access_key: SECRET.to_owned().into(),
        session_token: None,
    });
    config.initial_backoff = Duration::from_millis(20);
    config.max_backoff = Duration::from_millis(200);
    config
}

pub fn storage(endpoint: &Url, bucket: &str, prefix: &str) -> S3Storage {
    S3Storage::new(config(endpoint, bucket, prefix)).unwrap()
}

/// A plain S3 client (rusty-s3 + reqwest) for what other tools would do.
pub struct Plain {
    bucket: Bucket,
    creds: Credentials,
    http: reqwest::Client,
}

impl Plain {
    pub fn new(endpoint: &Url, bucket: &str) -> Plain {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Plain {
            bucket: Bucket::new(
                endpoint.clone(),
                UrlStyle::Path,
                bucket.to_owned(),
                "us-east-1",
            )
            .unwrap(),
            creds: Credentials::new(KEY_ID, SECRET),
            http: reqwest::Client::new(),
        }
    }

    pub async fn create_bucket(&self) {
        let url = self
            .bucket
            .create_bucket(&self.creds)
            .sign(Duration::from_secs(600));
        let r = self
            .http
            .put(url)
            .header("content-length", "0")
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "create bucket: {}", r.status());
    }

    pub async fn put(&self, key: &str, data: impl Into<Bytes>) {
        let data: Bytes = data.into();
        let url = self
            .bucket
            .put_object(Some(&self.creds), key)
            .sign(Duration::from_secs(600));
        let r = self
            .http
            .put(url)
            .header("content-length", data.len())
            .body(data)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "put {key}: {}", r.status());
    }

    /// Starts a multipart upload of `key` and uploads one part, as a client
    /// killed mid-upload leaves it; returns the upload id.
    pub async fn start_upload(&self, key: &str) -> String {
        let url = self
            .bucket
            .create_multipart_upload(Some(&self.creds), key)
            .sign(Duration::from_secs(600));
        let r = self.http.post(url).send().await.unwrap();
        assert!(
            r.status().is_success(),
            "create upload {key}: {}",
            r.status()
        );
        let text = r.text().await.unwrap();
        let id = rusty_s3::actions::CreateMultipartUpload::parse_response(&text)
            .unwrap()
            .upload_id()
            .to_owned();
        let url = self
            .bucket
            .upload_part(Some(&self.creds), key, 1, &id)
            .sign(Duration::from_secs(600));
        let part = vec![7u8; 5 << 20];
        let r = self
            .http
            .put(url)
            .header("content-length", part.len())
            .body(part)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "upload part {key}: {}", r.status());
        id
    }

    /// Every key in the bucket under `prefix`.
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let mut action = self.bucket.list_objects_v2(Some(&self.creds));
        action.with_prefix(prefix);
        let url = action.sign(Duration::from_secs(600));
        let text = self
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let parsed = rusty_s3::actions::ListObjectsV2::parse_response(&text).unwrap();
        parsed.contents.into_iter().map(|c| c.key).collect()
    }
}
