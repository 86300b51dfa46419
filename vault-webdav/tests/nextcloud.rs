//! Against a real Nextcloud, when `VAULT_TEST_NEXTCLOUD_URL` (the server's
//! base URL, e.g. `http://127.0.0.1:8090`), `VAULT_TEST_NEXTCLOUD_USER` and
//! `VAULT_TEST_NEXTCLOUD_PASSWORD` (account or app password) are set. Without
//! them each test says so and checks nothing else. Login Flow v2 is completed
//! headlessly with curl (HTML forms), which needs the account password.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use vault_storage::conformance::{Quirks, pattern};
use vault_storage::{Body, Storage, StorageErrorKind, StoragePath, WriteMode};
use vault_webdav::{WebDavConfig, WebDavStorage};

struct Nc {
    base: String,
    user: String,
    password: String,
}

fn nc() -> Option<Nc> {
    let base = std::env::var("VAULT_TEST_NEXTCLOUD_URL")
        .ok()?
        .trim_end_matches('/')
        .to_owned();
    let user = std::env::var("VAULT_TEST_NEXTCLOUD_USER").ok()?;
    let password = std::env::var("VAULT_TEST_NEXTCLOUD_PASSWORD").ok()?;
    Some(Nc {
        base,
        user,
        password,
    })
}

fn skip(test: &str) {
    eprintln!("{test}: skipped, VAULT_TEST_NEXTCLOUD_URL/_USER/_PASSWORD not set");
}

async fn storage(nc: &Nc, sub: &str, tweak: impl FnOnce(&mut WebDavConfig)) -> WebDavStorage {
    let root = format!("{}/remote.php/dav/files/{}/", nc.base, nc.user);
    let mut config = WebDavConfig::parse(&root).expect("url");
    config.user = Some(nc.user.clone());
    config.password = Some(SecretString::from(nc.password.clone()));
    let at_root = WebDavStorage::connect(config.clone())
        .await
        .expect("connect to Nextcloud");
    match at_root
        .create_dir(&StoragePath::new(sub).expect("sub"))
        .await
    {
        Ok(()) => {}
        Err(e) if e.kind() == StorageErrorKind::AlreadyExists => {}
        Err(e) => panic!("create {sub}: {e}"),
    }
    config.base_url = reqwest::Url::parse(&format!("{root}{sub}/")).expect("url");
    tweak(&mut config);
    WebDavStorage::connect(config).await.expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nextcloud_is_detected_and_passes_the_conformance_suite() {
    let Some(nc) = nc() else {
        return skip("conformance");
    };
    let s = storage(&nc, "vault-webdav-tests", |_| {}).await;
    assert!(s.is_nextcloud(), "status.php should identify Nextcloud");
    let caps = s.capabilities();
    assert!(caps.set_modified && !caps.random_write && caps.max_name_len == 250);
    let storage: Arc<dyn Storage> = Arc::new(s);
    vault_storage::conformance::run_all(
        storage,
        Quirks {
            mtime_granularity: Duration::from_secs(1),
            ..Default::default()
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_upload_v2_round_trips_and_leaves_no_upload_folder() {
    let Some(nc) = nc() else {
        return skip("chunked upload");
    };
    let s = storage(&nc, "vault-webdav-tests", |c| {
        c.chunk_threshold = 6 << 20;
        c.chunk_size = 5 << 20;
    })
    .await;
    let path = StoragePath::new("chunked.c9r").expect("path");
    let data = pattern(21, (23 << 20) + 17); // 5 chunks, the last one short
    let t = std::time::Instant::now();
    s.write(
        &path,
        Body::from_reader(data.len() as u64, std::io::Cursor::new(data.clone())),
        WriteMode::Overwrite,
    )
    .await
    .expect("chunked write");
    eprintln!(
        "MEASURE chunked upload of 23 MiB to Nextcloud: {:?}",
        t.elapsed()
    );
    assert_eq!(
        s.metadata(&path).await.expect("metadata").size,
        data.len() as u64
    );
    assert_eq!(s.read_all(&path).await.expect("read").as_ref(), &data[..]);
    // Replacing it again (the target exists) works the same way.
    let data2 = pattern(22, 7 << 20);
    s.write(&path, Body::from_bytes(data2.clone()), WriteMode::Overwrite)
        .await
        .expect("second chunked write");
    assert_eq!(s.read_all(&path).await.expect("read").as_ref(), &data2[..]);
    // CreateNew onto it is refused, also through the chunked path.
    let err = s
        .write(
            &path,
            Body::from_bytes(pattern(23, 7 << 20)),
            WriteMode::CreateNew,
        )
        .await
        .expect_err("CreateNew over an existing object");
    assert_eq!(err.kind(), StorageErrorKind::AlreadyExists, "{err}");
    assert_eq!(s.read_all(&path).await.expect("read").as_ref(), &data2[..]);
    s.remove_file(&path).await.expect("cleanup");
    // No upload folder of ours is left on the server.
    let out = Command::new("curl")
        .args([
            "-s",
            "-u",
            &format!("{}:{}", nc.user, nc.password),
            "-X",
            "PROPFIND",
            "-H",
            "Depth: 1",
        ])
        .arg(format!("{}/remote.php/dav/uploads/{}/", nc.base, nc.user))
        .output()
        .expect("curl");
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        !listing.contains("/vault-"),
        "leftover upload folders: {listing}"
    );
}

#[tokio::test]
async fn nextcloud_wrong_password_is_authentication_failed() {
    let Some(nc) = nc() else {
        return skip("wrong password");
    };
    let mut config = WebDavConfig::parse(&format!("{}/remote.php/dav/files/{}/", nc.base, nc.user))
        .expect("url");
    config.user = Some(nc.user.clone());
    config.password = Some(SecretString::from("wrong-app-password".to_owned()));
    let err = WebDavStorage::connect(config)
        .await
        .expect_err("wrong password");
    assert_eq!(err.kind(), StorageErrorKind::AuthenticationFailed, "{err}");
}

/// Runs curl with a cookie jar; returns the body (and follows no redirects).
fn curl(jar: &str, args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-s", "-b", jar, "-c", jar])
        .args(args)
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn between<'a>(hay: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = hay.find(start)? + start.len();
    let j = hay[i..].find(end)? + i;
    Some(&hay[i..j])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_flow_v2_yields_a_working_app_password() {
    let Some(nc) = nc() else {
        return skip("login flow v2");
    };
    let flow = vault_webdav::login_flow_v2_with(
        &nc.base,
        None,
        false,
        Duration::from_millis(500),
        Duration::from_secs(120),
    )
    .await
    .expect("start the login flow");
    assert!(
        flow.login_url.starts_with(&nc.base) && flow.login_url.contains("/login/v2/flow/"),
        "{}",
        flow.login_url
    );
    let login_url = flow.login_url.clone();
    let poll = tokio::spawn(flow.poll());

    // The user's part, done with curl as the browser would (see shared/nextcloud-server/README.md).
    let dir = tempfile::tempdir().expect("tempdir");
    let jar = dir.path().join("jar").display().to_string();
    let origin = format!("Origin: {}", nc.base);
    let _ = curl(&jar, &["-L", &login_url]);
    let flow_page = curl(&jar, &[&format!("{}/index.php/login/v2/flow", nc.base)]);
    let state_b64 = between(
        &flow_page,
        "id=\"initial-state-core-loginFlowAuth\" value=\"",
        "\"",
    )
    .expect("flow state");
    let state_json = Command::new("base64")
        .arg("-d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .expect("stdin")
                .write_all(state_b64.as_bytes())?;
            c.wait_with_output()
        })
        .expect("base64");
    let state_json = String::from_utf8_lossy(&state_json.stdout).into_owned();
    let state_token = between(&state_json, "\"stateToken\":\"", "\"")
        .expect("stateToken")
        .to_owned();
    let login_page = curl(&jar, &[&format!("{}/index.php/login", nc.base)]);
    let rt = between(&login_page, "data-requesttoken=\"", "\"")
        .expect("requesttoken")
        .to_owned();
    let redirect = format!("/index.php/login/v2/grant?stateToken={state_token}");
    let _ = curl(
        &jar,
        &[
            "-H",
            &origin,
            "--data-urlencode",
            &format!("user={}", nc.user),
            "--data-urlencode",
            &format!("password={}", nc.password),
            "--data-urlencode",
            &format!("requesttoken={rt}"),
            "--data-urlencode",
            &format!("redirect_url={redirect}"),
            &format!("{}/index.php/login", nc.base),
        ],
    );
    let grant_page = curl(&jar, &[&format!("{}{redirect}", nc.base)]);
    let rt2 = between(&grant_page, "data-requesttoken=\"", "\"")
        .expect("requesttoken on the grant page")
        .to_owned();
    let _ = curl(
        &jar,
        &[
            "-H",
            &origin,
            "--data-urlencode",
            &format!("stateToken={state_token}"),
            "--data-urlencode",
            &format!("requesttoken={rt2}"),
            &format!("{}/index.php/login/v2/grant", nc.base),
        ],
    );

    let login = tokio::time::timeout(Duration::from_secs(60), poll)
        .await
        .expect("poll finished")
        .expect("poll task")
        .expect("credentials");
    assert_eq!(login.login_name, nc.user);
    assert!(login.app_password.expose_secret().len() >= 32);
    assert!(
        !format!("{login:?}").contains(login.app_password.expose_secret()),
        "Debug leaks the app password"
    );
    // The app password works for DAV.
    let mut config = WebDavConfig::parse(&format!("{}/remote.php/dav/files/{}/", nc.base, nc.user))
        .expect("url");
    config.user = Some(login.login_name.clone());
    config.password = Some(login.app_password.clone());
    let s = WebDavStorage::connect(config)
        .await
        .expect("DAV with the app password");
    assert!(s.is_nextcloud());
    // Revoke it again.
    let _ = Command::new("curl")
        .args([
            "-s",
            "-u",
            &format!(
                "{}:{}",
                login.login_name,
                login.app_password.expose_secret()
            ),
        ])
        .args(["-H", "OCS-APIRequest: true", "-X", "DELETE"])
        .arg(format!("{}/ocs/v2.php/core/apppassword", nc.base))
        .output();
}

/// On Nextcloud a listed file is removed with `If-Match` (detected, not forced), and a folder
/// another client put in its place since is refused (412, then asked: `IsADirectory`) and kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_file_is_removed_by_tag_and_a_folder_in_its_place_stays() {
    let Some(nc) = nc() else {
        return skip("listed removal");
    };
    let sub = "vault-webdav-listed-removal";
    let s = storage(&nc, sub, |_| {}).await;
    let other = storage(&nc, sub, |_| {}).await;
    let p = |n: &str| StoragePath::new(n).expect("path");
    for n in ["a.c9r", "b.c9r"] {
        let _ = other.remove_dir_all(&p(n)).await;
        s.write(&p(n), Body::from_bytes(b"x".to_vec()), WriteMode::Overwrite)
            .await
            .expect("write");
    }
    let listing = s.list_dir(&StoragePath::root()).await.expect("list");
    let meta = |n: &str| {
        let e = listing.iter().find(|e| e.name == n).expect("listed");
        e.metadata.clone()
    };
    s.remove_listed_file(&p("a.c9r"), &meta("a.c9r"))
        .await
        .expect("removed by tag");
    let gone = s.metadata(&p("a.c9r")).await.expect_err("no longer there");
    assert_eq!(gone.kind(), StorageErrorKind::NotFound);

    other.remove_file(&p("b.c9r")).await.expect("remove");
    other
        .create_dir(&p("b.c9r"))
        .await
        .expect("a folder in its place");
    let inside = p("b.c9r/dir.c9r");
    other
        .write(
            &inside,
            Body::from_bytes(b"theirs".to_vec()),
            WriteMode::CreateNew,
        )
        .await
        .expect("with a file in it");
    let err = s
        .remove_listed_file(&p("b.c9r"), &meta("b.c9r"))
        .await
        .expect_err("a folder is never removed as a file");
    assert_eq!(err.kind(), StorageErrorKind::IsADirectory, "{err}");
    assert_eq!(
        other.read_all(&inside).await.expect("kept").as_ref(),
        b"theirs"
    );
    other.remove_dir_all(&p("b.c9r")).await.expect("clean up");
}
