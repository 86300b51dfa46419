//! Against real servers started by the harness (tests/common): the storage
//! conformance suite on Apache mod_dav (HTTP and HTTPS with the test CA given
//! as `ca_cert`), rclone and SabreDAV; wrong password, untrusted certificate;
//! listing of many entries; URL forms.

mod common;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use common::{Server, Servers};
use secrecy::SecretString;
use vault_storage::{Body, EntryKind, Storage, StorageErrorKind, StoragePath, WriteMode};
use vault_webdav::{WebDavConfig, WebDavStorage};

fn servers() -> &'static Servers {
    common::shared("c", 0)
}

macro_rules! conformance_on {
    ($module:ident, $server:expr) => {
        mod $module {
            use super::*;
            vault_storage::conformance_tests!({
                let storage = servers().storage($server, "conformance").await;
                (common::as_dyn(storage), common::quirks(), ())
            });
        }
    };
}

conformance_on!(apache_http, Server::ApacheHttp);
conformance_on!(apache_https, Server::ApacheHttps);
conformance_on!(rclone, Server::Rclone);
conformance_on!(sabre, Server::Sabre);

#[tokio::test]
async fn wrong_password_is_authentication_failed_on_every_server() {
    let s = servers();
    for server in Server::ALL {
        let mut config = s.config(server, "");
        config.password = Some(SecretString::from("not-the-password".to_owned()));
        let err = WebDavStorage::connect(config)
            .await
            .expect_err("a wrong password must fail");
        assert_eq!(
            err.kind(),
            StorageErrorKind::AuthenticationFailed,
            "{server:?}: {err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("401") && text.contains("password"),
            "{server:?}: unclear message: {text}"
        );
        assert!(
            !text.contains("not-the-password"),
            "{server:?}: the message leaks the password: {text}"
        );
    }
}

#[tokio::test]
async fn no_password_is_authentication_failed() {
    let s = servers();
    let mut config = s.config(Server::Rclone, "");
    config.password = None;
    config.user = None;
    let err = WebDavStorage::connect(config)
        .await
        .expect_err("no credentials must fail");
    assert_eq!(err.kind(), StorageErrorKind::AuthenticationFailed, "{err}");
}

#[tokio::test]
async fn untrusted_certificate_names_the_problem() {
    let s = servers();
    let mut config = s.config(Server::ApacheHttps, "");
    config.ca_cert = None; // system roots only: the test CA is not among them
    let err = WebDavStorage::connect(config)
        .await
        .expect_err("an untrusted certificate must fail");
    let text = err.to_string();
    assert!(
        text.contains("certificate")
            && text.contains("not trusted")
            && text.contains("unknown issuer"),
        "unclear message: {text}"
    );
    assert!(
        text.contains("--ca-cert"),
        "the message should say how to fix it: {text}"
    );
    assert_ne!(err.kind(), StorageErrorKind::AuthenticationFailed);
}

#[tokio::test]
async fn https_by_host_name_and_davs_form_work_with_the_ca() {
    let s = servers();
    let https = s.var("VAULT_TEST_WEBDAV_APACHE_HTTPS_URL");
    // davs://localhost:PORT/ (the certificate names localhost and 127.0.0.1)
    let davs = https.replacen("https://127.0.0.1", "davs://localhost", 1);
    let mut config = WebDavConfig::parse(&format!("{davs}conformance")).expect("davs URL");
    assert_eq!(config.base_url.scheme(), "https");
    config.user = Some(s.var("VAULT_TEST_WEBDAV_USER"));
    config.password = Some(SecretString::from(s.var("VAULT_TEST_WEBDAV_PASSWORD")));
    config.ca_cert = Some(s.ca_cert());
    let _ = s.storage(Server::ApacheHttps, "conformance").await; // the folder exists
    let storage = WebDavStorage::connect(config)
        .await
        .expect("davs:// with --ca-cert");
    assert_eq!(
        storage
            .metadata(&StoragePath::root())
            .await
            .expect("root")
            .kind,
        EntryKind::Dir
    );
    assert!(
        storage
            .describe()
            .starts_with("webdav https://vault-user@localhost:"),
        "{}",
        storage.describe()
    );
}

#[tokio::test]
async fn a_bad_ca_file_is_reported() {
    let s = servers();
    let dir = tempfile::tempdir().expect("tempdir");
    let bogus = dir.path().join("ca.pem");
    std::fs::write(&bogus, "not a certificate\n").expect("write");
    let mut config = s.config(Server::ApacheHttps, "");
    config.ca_cert = Some(bogus.clone());
    let err = WebDavStorage::connect(config)
        .await
        .expect_err("a file without certificates");
    assert!(err.to_string().contains("ca.pem"), "{err}");
}

#[tokio::test]
async fn refused_connection_is_unavailable() {
    // A port in our range where nothing listens (base + 9).
    let s = servers();
    let url = format!("dav://127.0.0.1:{}/x", s.port_base + 9);
    let config = WebDavConfig::parse(&url).expect("url");
    let err = WebDavStorage::connect(config)
        .await
        .expect_err("nothing listens there");
    assert_eq!(err.kind(), StorageErrorKind::Unavailable, "{err}");
}

#[tokio::test]
async fn sabre_at_the_nextcloud_path_is_plain_webdav() {
    // SabreDAV mimics only Nextcloud's URL layout: no status.php, so no
    // Nextcloud extensions.
    let storage = servers().storage(Server::Sabre, "conformance").await;
    assert!(!storage.is_nextcloud());
    assert!(!storage.capabilities().set_modified);
}

/// Listing 1,000 entries in one PROPFIND on every server (and timing it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_1000_entries() {
    let s = servers();
    for server in [Server::ApacheHttp, Server::Rclone, Server::Sabre] {
        let storage = s.storage(server, "list1000").await;
        let dir = StoragePath::new("d").expect("path");
        let existing = match storage.list_dir(&dir).await {
            Ok(entries) => entries.len(),
            Err(e) if e.kind() == StorageErrorKind::NotFound => {
                storage.create_dir(&dir).await.expect("mkdir");
                0
            }
            Err(e) => panic!("{server:?}: {e}"),
        };
        if existing != 1000 {
            // Fill it with 1,000 small objects, 8 uploads at a time.
            let mut names: Vec<String> = (0..1000)
                .map(|i| format!("entry-{i:04}-AbCdEfGh_-==.c9r"))
                .collect();
            let have: std::collections::HashSet<String> = storage
                .list_dir(&dir)
                .await
                .expect("list")
                .into_iter()
                .map(|e| e.name)
                .collect();
            names.retain(|n| !have.contains(n));
            let storage2 = Arc::clone(&storage);
            let dir2 = dir.clone();
            futures::stream::iter(names)
                .map(move |name| {
                    let (st, d) = (Arc::clone(&storage2), dir2.clone());
                    async move {
                        let p = d.join(&name).expect("name");
                        st.write(
                            &p,
                            Body::from_bytes(Bytes::from_static(b"0123456789")),
                            WriteMode::Overwrite,
                        )
                        .await
                    }
                })
                .buffer_unordered(8)
                .for_each(|r| async move { r.expect("fill") })
                .await;
        }
        let t = Instant::now();
        let entries = storage.list_dir(&dir).await.expect("list 1000");
        let took = t.elapsed();
        assert_eq!(entries.len(), 1000, "{server:?}");
        assert!(
            entries
                .iter()
                .all(|e| e.metadata.kind == EntryKind::File && e.metadata.size == 10)
        );
        eprintln!(
            "MEASURE list_dir 1000 entries on {server:?}: {:.1} ms",
            took.as_secs_f64() * 1000.0
        );
    }
}

use futures::StreamExt;

/// Names with characters that need percent-encoding survive a round trip.
#[tokio::test]
async fn awkward_names_round_trip() {
    let s = servers();
    for server in [Server::ApacheHttp, Server::Rclone, Server::Sabre] {
        let storage = s.storage(server, "names").await;
        let names = [
            "X (conflicted copy 2026-11-25 101010).c9r",
            "a&b=c+d%20e#f?g.c9r",
            "ünïcödé €.c9r",
        ];
        for name in names {
            let p = StoragePath::root().join(name).expect("name");
            storage
                .write(
                    &p,
                    Body::from_bytes(Bytes::from(name.as_bytes().to_vec())),
                    WriteMode::Overwrite,
                )
                .await
                .unwrap_or_else(|e| panic!("{server:?} write {name}: {e}"));
            assert_eq!(
                storage.read_all(&p).await.expect("read").as_ref(),
                name.as_bytes(),
                "{server:?} {name}"
            );
        }
        let listed: Vec<String> = storage
            .list_dir(&StoragePath::root())
            .await
            .expect("list")
            .into_iter()
            .map(|e| e.name)
            .collect();
        for name in names {
            assert!(
                listed.iter().any(|l| l == name),
                "{server:?}: {name:?} not listed in {listed:?}"
            );
            storage
                .remove_file(&StoragePath::root().join(name).expect("name"))
                .await
                .expect("remove");
        }
    }
}

/// 64 MiB written (one streamed PUT) and read back (ranged GETs of 8 MiB, as
/// a reader of a large object would) on every server, timed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_64_mib() {
    let s = servers();
    let data = vault_storage::conformance::pattern(64, 64 << 20);
    for server in Server::ALL {
        let storage = s.storage(server, "big").await;
        let path = StoragePath::new("64mib.c9r").expect("path");
        let t = Instant::now();
        storage
            .write(
                &path,
                Body::from_reader(data.len() as u64, std::io::Cursor::new(data.clone())),
                WriteMode::Overwrite,
            )
            .await
            .unwrap_or_else(|e| panic!("{server:?}: {e}"));
        let put = t.elapsed();
        let t = Instant::now();
        let mut back = Vec::with_capacity(data.len());
        while back.len() < data.len() {
            let chunk = storage
                .read_at(&path, back.len() as u64, 8 << 20)
                .await
                .expect("read");
            assert!(
                !chunk.is_empty(),
                "{server:?}: short read at {}",
                back.len()
            );
            back.extend_from_slice(&chunk);
        }
        let get = t.elapsed();
        assert!(back == data, "{server:?}: 64 MiB round trip differs");
        storage.remove_file(&path).await.expect("cleanup");
        eprintln!(
            "MEASURE 64 MiB on {server:?}: PUT {:.2} s ({:.0} MiB/s), GET {:.2} s ({:.0} MiB/s)",
            put.as_secs_f64(),
            64.0 / put.as_secs_f64(),
            get.as_secs_f64(),
            64.0 / get.as_secs_f64()
        );
    }
}

#[tokio::test]
async fn a_missing_root_folder_connects_and_can_be_created() {
    let s = servers();
    for server in [Server::ApacheHttp, Server::Rclone, Server::Sabre] {
        let _ = s.storage(server, "roots").await;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let sub = format!("roots/new-{nanos:x}");
        let storage = WebDavStorage::connect(s.config(server, &sub))
            .await
            .expect("connect to a missing root");
        let err = storage
            .list_dir(&StoragePath::root())
            .await
            .expect_err("missing root");
        assert_eq!(err.kind(), StorageErrorKind::NotFound, "{server:?}: {err}");
        assert!(
            storage.create_root_if_missing().await.expect("create root"),
            "{server:?}"
        );
        assert!(
            !storage.create_root_if_missing().await.expect("again"),
            "{server:?}: second call"
        );
        assert!(
            storage
                .list_dir(&StoragePath::root())
                .await
                .expect("list")
                .is_empty()
        );
        let parent = s.storage(server, "roots").await;
        parent
            .remove_dir(&StoragePath::new(&format!("new-{nanos:x}")).expect("p"))
            .await
            .expect("cleanup");
    }
}

/// `name`'s metadata as a listing of `storage`'s root gives it.
async fn listed(storage: &WebDavStorage, name: &str) -> vault_storage::Metadata {
    let entries = storage.list_dir(&StoragePath::root()).await.expect("list");
    entries
        .into_iter()
        .find(|e| e.name == name)
        .expect("listed")
        .metadata
}

/// Requests the Apache server logged for `url_path` since `mark` lines (method and status),
/// up to its `DELETE`: Apache writes a request's line after answering it, so this waits (at
/// most 5 s) for that line.
fn apache_requests(mark: usize, url_path: &str) -> Vec<String> {
    let root = std::path::PathBuf::from(servers().var(Server::ApacheHttp.root_var()));
    let log = root
        .parent()
        .expect("apache folder")
        .join("logs/access.log");
    let started = Instant::now();
    loop {
        let text =
            std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let seen: Vec<String> = text
            .lines()
            .skip(mark)
            .filter(|l| l.contains(&format!(" {url_path} ")))
            .map(|l| {
                let mut quoted = l.split('"').skip(1);
                let method = quoted.next().unwrap_or_default().split(' ').next();
                let status = quoted.next().unwrap_or_default().split_whitespace().next();
                format!(
                    "{} {}",
                    method.unwrap_or_default(),
                    status.unwrap_or_default()
                )
            })
            .collect();
        if seen.iter().any(|r| r.starts_with("DELETE "))
            || started.elapsed() > std::time::Duration::from_secs(5)
        {
            return seen;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn apache_log_len() -> usize {
    let root = std::path::PathBuf::from(servers().var(Server::ApacheHttp.root_var()));
    let log = root
        .parent()
        .expect("apache folder")
        .join("logs/access.log");
    std::fs::read_to_string(log).map_or(0, |t| t.lines().count())
}

/// Another client puts a folder (with a file in it) where `name` was; its path on the server's
/// disk.
async fn folder_in_place(server: Server, sub: &str, name: &str) -> std::path::PathBuf {
    let other = servers().storage(server, sub).await;
    let dir = StoragePath::new(name).expect("path");
    other
        .remove_file(&dir)
        .await
        .expect("another client removes the file");
    other
        .create_dir(&dir)
        .await
        .expect("and makes a folder there");
    let inside = dir.join("dir.c9r").expect("path");
    other
        .write(
            &inside,
            Body::from_bytes(Bytes::from_static(b"theirs")),
            WriteMode::CreateNew,
        )
        .await
        .expect("with a file in it");
    std::path::PathBuf::from(servers().var(server.root_var()))
        .join(sub)
        .join(name)
        .join("dir.c9r")
}

/// `remove_listed_file`: where the server checks `If-Match` (Apache mod_dav_fs, detected), a file
/// listed with a strong ETag goes in one `DELETE`; with a weak one (Apache's within the second
/// the file changed), or on a server not known to check the tag (rclone ignores it, SabreDAV 1.8
/// deletes a folder whatever it says), it is asked about first. A folder another client put in
/// the file's place since the listing is never deleted, on any server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_file_goes_in_one_delete_and_a_folder_in_its_place_stays() {
    let s = servers();
    let sub = "listed-removal";
    for server in [Server::ApacheHttp, Server::Rclone, Server::Sabre] {
        let dir = std::path::PathBuf::from(s.var(server.root_var())).join(sub);
        let _ = std::fs::remove_dir_all(dir);
    }
    let apache = s.storage(Server::ApacheHttp, sub).await;
    let p = |n: &str| StoragePath::new(n).expect("path");
    let write = |n: &'static str| {
        let apache = &apache;
        async move {
            let body = Body::from_bytes(Bytes::from_static(b"x"));
            let written = apache.write(&p(n), body, WriteMode::Overwrite).await;
            written.expect("write");
        }
    };
    write("settled.c9r").await;
    write("never.c9r").await;
    write("replaced.c9r").await;
    // A tag given within the second the file changed is weak: asked first, then removed. (Tried
    // again if this machine stalled for a second between the write and the listing.)
    let mut weak = None;
    for _ in 0..3 {
        write("fresh.c9r").await;
        let m = listed(&apache, "fresh.c9r").await;
        if m.version.as_deref().is_some_and(|v| v.starts_with("W/")) {
            weak = Some(m);
            break;
        }
    }
    let weak = weak.expect("Apache gives a weak ETag within the second a file changed");
    let mark = apache_log_len();
    apache
        .remove_listed_file(&p("fresh.c9r"), &weak)
        .await
        .expect("remove");
    let asked = apache_requests(mark, &format!("/{sub}/fresh.c9r"));
    assert_eq!(asked, ["PROPFIND 207", "DELETE 204"]);

    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let strong = listed(&apache, "settled.c9r").await;
    assert!(
        strong
            .version
            .as_deref()
            .is_some_and(|v| v.starts_with('"')),
        "{strong:?}"
    );
    let mark = apache_log_len();
    apache
        .remove_listed_file(&p("settled.c9r"), &strong)
        .await
        .expect("remove");
    assert_eq!(
        apache_requests(mark, &format!("/{sub}/settled.c9r")),
        ["DELETE 204"]
    );
    let gone = apache
        .metadata(&p("settled.c9r"))
        .await
        .expect_err("no longer there");
    assert_eq!(gone.kind(), StorageErrorKind::NotFound);

    // The setting off: asked first, whatever the server.
    let mut config = s.config(Server::ApacheHttp, sub);
    config.if_match_delete = vault_webdav::IfMatchDelete::Never;
    let asking = WebDavStorage::connect(config).await.expect("connect");
    let strong = listed(&asking, "never.c9r").await;
    let mark = apache_log_len();
    asking
        .remove_listed_file(&p("never.c9r"), &strong)
        .await
        .expect("remove");
    let asked = apache_requests(mark, &format!("/{sub}/never.c9r"));
    assert_eq!(asked, ["PROPFIND 207", "DELETE 204"]);

    let was = listed(&apache, "replaced.c9r").await;
    let inside = folder_in_place(Server::ApacheHttp, sub, "replaced.c9r").await;
    let err = apache
        .remove_listed_file(&p("replaced.c9r"), &was)
        .await
        .expect_err("a folder is never removed as a file");
    assert_eq!(err.kind(), StorageErrorKind::IsADirectory, "{err}");
    assert!(
        inside.exists(),
        "Apache: the folder put in the file's place was deleted"
    );

    for server in [Server::Rclone, Server::Sabre] {
        let storage = s.storage(server, sub).await;
        storage
            .write(
                &p("replaced.c9r"),
                Body::from_bytes(Bytes::from_static(b"x")),
                WriteMode::Overwrite,
            )
            .await
            .expect("write");
        let was = listed(&storage, "replaced.c9r").await;
        let inside = folder_in_place(server, sub, "replaced.c9r").await;
        let err = storage
            .remove_listed_file(&p("replaced.c9r"), &was)
            .await
            .expect_err("a folder is never removed as a file");
        assert_eq!(
            err.kind(),
            StorageErrorKind::IsADirectory,
            "{server:?}: {err}"
        );
        assert!(
            inside.exists(),
            "{server:?}: the folder put in the file's place was deleted"
        );
        std::fs::remove_dir_all(inside.parent().expect("folder")).expect("clean up");
    }
    std::fs::remove_dir_all(inside.parent().expect("folder")).expect("clean up");
}
