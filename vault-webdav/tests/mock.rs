//! Behaviours none of the real test servers show, against a tiny scripted
//! HTTP/1.1 server on loopback: a server that ignores `Range` (answers 200
//! with the whole object), and Nextcloud chunked upload v2 whose final MOVE
//! meets `423 Locked` twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vault_storage::{Body, Storage, StoragePath, WriteMode};
use vault_webdav::{WebDavConfig, WebDavStorage};

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body_len: usize,
}

struct Resp {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn resp(status: u16, body: impl Into<Vec<u8>>) -> Resp {
    Resp {
        status,
        headers: Vec::new(),
        body: body.into(),
    }
}

type Handler = Arc<dyn Fn(&Req) -> Resp + Send + Sync>;

/// Serves `handler` on 127.0.0.1; returns the port. Keep-alive, Content-Length bodies only.
async fn serve(handler: Handler) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let handler = Arc::clone(&handler);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    // Read the head.
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i;
                        }
                        let mut chunk = [0u8; 65536];
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                    buf.drain(..head_end + 4);
                    let mut lines = head.split("\r\n");
                    let mut first = lines.next().unwrap_or("").split(' ');
                    let method = first.next().unwrap_or("").to_owned();
                    let path = first.next().unwrap_or("").to_owned();
                    let headers: HashMap<String, String> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                        .collect();
                    let len: usize = headers
                        .get("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    while buf.len() < len {
                        let mut chunk = [0u8; 65536];
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..len);
                    let r = handler(&Req {
                        method,
                        path,
                        headers,
                        body_len: len,
                    });
                    let mut out = format!(
                        "HTTP/1.1 {} X\r\nContent-Length: {}\r\n",
                        r.status,
                        r.body.len()
                    );
                    for (k, v) in &r.headers {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str("\r\n");
                    let mut bytes = out.into_bytes();
                    bytes.extend_from_slice(&r.body);
                    if sock.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn multistatus(href: &str, collection: bool, len: Option<u64>) -> Resp {
    let rt = if collection {
        "<d:resourcetype><d:collection/></d:resourcetype>"
    } else {
        "<d:resourcetype/>"
    };
    let cl = len
        .map(|l| format!("<d:getcontentlength>{l}</d:getcontentlength>"))
        .unwrap_or_default();
    let body = format!(
        r#"<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"><d:response><d:href>{href}</d:href><d:propstat><d:prop>{rt}{cl}<d:getlastmodified>Wed, 25 Nov 2026 02:38:03 GMT</d:getlastmodified></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>"#
    );
    resp(207, body)
}

fn config(url: &str) -> WebDavConfig {
    let mut c = WebDavConfig::parse(url).expect("url");
    c.user = Some("u".to_owned());
    c.password = Some(SecretString::from("p".to_owned()));
    c
}

#[tokio::test]
async fn a_server_ignoring_range_is_read_correctly() {
    let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let served = data.clone();
    let gets = Arc::new(Mutex::new(0u32));
    let gets2 = Arc::clone(&gets);
    let port = serve(Arc::new(move |r: &Req| {
        match (r.method.as_str(), r.path.as_str()) {
            ("PROPFIND", "/") => multistatus("/", true, None),
            ("PROPFIND", "/f.c9r") => multistatus("/f.c9r", false, Some(1000)),
            ("GET", "/f.c9r") => {
                assert!(r.headers.contains_key("range"), "we always ask for a range");
                *gets2.lock().expect("lock") += 1;
                resp(200, served.clone()) // ignores Range
            }
            _ => resp(404, ""),
        }
    }))
    .await;
    let s = WebDavStorage::connect(config(&format!("dav://127.0.0.1:{port}/")))
        .await
        .expect("connect");
    let f = StoragePath::new("f.c9r").expect("path");
    assert_eq!(
        s.read_at(&f, 100, 50).await.expect("middle").as_ref(),
        &data[100..150]
    );
    assert_eq!(
        s.read_at(&f, 0, 10).await.expect("start").as_ref(),
        &data[..10]
    );
    assert_eq!(
        s.read_at(&f, 990, 50).await.expect("end").as_ref(),
        &data[990..]
    );
    assert!(
        s.read_at(&f, 2000, 5)
            .await
            .expect("past the end")
            .is_empty()
    );
    assert_eq!(s.read_all(&f).await.expect("all").as_ref(), &data[..]);
    assert_eq!(*gets.lock().expect("lock"), 5);
}

#[derive(Default)]
struct NcState {
    mkcol_destination: Option<String>,
    chunks: Vec<(String, usize, Option<String>)>,
    file_moves: u32,
    assembled: Option<u64>,
    final_move: Option<String>,
}

#[tokio::test]
async fn chunked_upload_retries_the_final_move_on_423_and_checks_the_size() {
    let state = Arc::new(Mutex::new(NcState::default()));
    let st = Arc::clone(&state);
    let base = "/remote.php/dav/files/u/";
    let port = serve(Arc::new(move |r: &Req| {
        let mut st = st.lock().expect("lock");
        let p = r.path.as_str();
        match r.method.as_str() {
            "GET" if p == "/status.php" => resp(200, r#"{"installed":true,"maintenance":false,"version":"34.0.1.2","productname":"Nextcloud"}"#),
            "OPTIONS" => resp(200, ""),
            "PROPFIND" if p == base => multistatus(base, true, None),
            "PROPFIND" if p.starts_with(base) && p.contains(".vault-tmp-") => match st.assembled {
                Some(len) => multistatus(p, false, Some(len)),
                None => resp(404, ""),
            },
            "PROPFIND" => resp(404, ""),
            "MKCOL" if p.starts_with("/remote.php/dav/uploads/u/vault-") => {
                st.mkcol_destination = r.headers.get("destination").cloned();
                resp(201, "")
            }
            "PUT" if p.starts_with("/remote.php/dav/uploads/u/vault-") => {
                let n = p.rsplit('/').next().unwrap_or("").to_owned();
                st.chunks.push((n, r.body_len, r.headers.get("oc-total-length").cloned()));
                resp(201, "")
            }
            "MOVE" if p.ends_with("/.file") => {
                st.file_moves += 1;
                if st.file_moves <= 2 {
                    return resp(423, "");
                }
                st.assembled = Some(st.chunks.iter().map(|c| c.1 as u64).sum());
                resp(201, "")
            }
            "MOVE" if p.contains(".vault-tmp-") => {
                st.final_move = r.headers.get("destination").cloned();
                resp(201, "")
            }
            _ => resp(404, ""),
        }
    }))
    .await;
    let mut c = config(&format!("http://127.0.0.1:{port}{base}"));
    c.chunk_threshold = 1 << 20;
    c.chunk_size = 5 << 20;
    let s = WebDavStorage::connect(c).await.expect("connect");
    assert!(s.is_nextcloud());
    let len = (12 << 20) + 5;
    let path = StoragePath::new("big.c9r").expect("path");
    s.write(
        &path,
        Body::from_bytes(vec![7u8; len]),
        WriteMode::Overwrite,
    )
    .await
    .expect("chunked write");
    let st = state.lock().expect("lock");
    let sizes: Vec<(&str, usize)> = st.chunks.iter().map(|(n, l, _)| (n.as_str(), *l)).collect();
    assert_eq!(
        sizes,
        vec![("1", 5 << 20), ("2", 5 << 20), ("3", (2 << 20) + 5)]
    );
    assert!(
        st.chunks
            .iter()
            .all(|c| c.2.as_deref() == Some(len.to_string().as_str())),
        "OC-Total-Length on each chunk"
    );
    assert_eq!(st.file_moves, 3, "two 423 answers, then success");
    let dest = st
        .mkcol_destination
        .clone()
        .expect("MKCOL with Destination");
    assert!(
        dest.contains(".vault-tmp-"),
        "assembled under the temp name first: {dest}"
    );
    assert!(
        st.final_move
            .as_deref()
            .is_some_and(|d| d.ends_with("/remote.php/dav/files/u/big.c9r")),
        "{:?}",
        st.final_move
    );
}

#[tokio::test]
async fn chunked_upload_with_a_wrong_assembled_size_fails() {
    let base = "/remote.php/dav/files/u/";
    let moved = Arc::new(Mutex::new(false));
    let m2 = Arc::clone(&moved);
    let port = serve(Arc::new(move |r: &Req| {
        let p = r.path.as_str();
        match r.method.as_str() {
            "GET" if p == "/status.php" => resp(200, r#"{"installed":true,"version":"34.0.1.2"}"#),
            "PROPFIND" if p == base => multistatus(base, true, None),
            "PROPFIND" if p.contains(".vault-tmp-") => multistatus(p, false, Some(1)),
            "PROPFIND" => resp(404, ""),
            "MKCOL" | "PUT" => resp(201, ""),
            "MOVE" if p.ends_with("/.file") => resp(201, ""),
            "MOVE" => {
                *m2.lock().expect("lock") = true;
                resp(201, "")
            }
            "DELETE" => resp(204, ""),
            _ => resp(404, ""),
        }
    }))
    .await;
    let mut c = config(&format!("http://127.0.0.1:{port}{base}"));
    c.chunk_threshold = 1 << 20;
    let s = WebDavStorage::connect(c).await.expect("connect");
    let err = s
        .write(
            &StoragePath::new("x.c9r").expect("p"),
            Body::from_bytes(vec![1u8; 3 << 20]),
            WriteMode::Overwrite,
        )
        .await
        .expect_err("size mismatch");
    assert!(err.to_string().contains("after assembly"), "{err}");
    assert!(
        !*moved.lock().expect("lock"),
        "a bad upload must not be moved over the target"
    );
}
