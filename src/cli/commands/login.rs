//! `vault login nextcloud URL`: Nextcloud Login Flow v2 (`vault_webdav::login_flow_v2_with`).
//!
//! Prints the login page (and opens it with `xdg-open` on a desktop), waits for the approval,
//! then prints the account's STORAGE, `davs://LOGIN@HOST/…/remote.php/dav/files/LOGIN/`. The
//! app password goes to the keyring under the account the WebDAV backend looks up later
//! (`--remember`), or is printed once.

use std::path::Path;
use std::time::Duration;

use secrecy::ExposeSecret;

use crate::cli::config::{self, VaultEntry};
use crate::cli::exit::{CliError, CliResult, Exit};
use crate::cli::remember;

/// The STORAGE of `login`'s files on the server the user named (`server_url`: its scheme,
/// host, port and base path; the server's own idea of its address may be an internal one
/// behind a proxy), with `folder` inside the files.
pub fn nextcloud_storage(
    server_url: &str,
    login_name: &str,
    folder: Option<&str>,
) -> Result<String, String> {
    // Messages never show a password typed into the URL.
    let shown = vault_webdav::redact_password(server_url);
    let url =
        url::Url::parse(server_url.trim()).map_err(|e| format!("{shown:?} is not a URL ({e})"))?;
    if url.password().is_some() {
        return Err(format!(
            "{shown}: put no password in the URL; the login happens in the browser"
        ));
    }
    let scheme = match url.scheme() {
        "https" => "davs",
        "http" => "dav",
        other => return Err(format!("{shown}: use https:// (not {other}://)")),
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("{shown} has no host"))?;
    if login_name.is_empty() {
        return Err("the server gave an empty login name".into());
    }
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let mut base = url.path().trim_end_matches('/').to_string();
    // A server URL given with index.php or a page path: keep only the installation's base.
    if let Some(i) = base.find("/index.php") {
        base.truncate(i);
    }
    let user = encode(login_name);
    let folder = folder
        .map(|f| f.trim_matches('/'))
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .unwrap_or_default();
    Ok(format!(
        "{scheme}://{user}@{host}{port}{base}/remote.php/dav/files/{user}/{folder}"
    ))
}

/// Percent-encodes what cannot stand in a URL's user part or one path segment.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Checks the arguments before anything goes over the network: a server address, and plain
/// HTTP only to this machine or with `--insecure-http` (the flow hands out an app password).
pub fn check_args(url: &str, add: Option<&str>, insecure_http: bool) -> CliResult {
    let lower = url.trim().to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err(CliError::usage(format!(
            "{}: give the Nextcloud server's address, e.g. https://cloud.example.org",
            vault_webdav::redact_password(url)
        )));
    }
    nextcloud_storage(url, "x", None).map_err(CliError::usage)?;
    if let Ok(parsed) = url::Url::parse(url.trim()) {
        let host = parsed.host_str().unwrap_or("");
        if !vault_storage::cleartext::may_send_credentials(parsed.scheme(), host, insecure_http) {
            return Err(CliError::usage(format!(
                "{}: {}",
                vault_webdav::redact_password(url),
                vault_storage::cleartext::refusal("the login token and app password", host)
            )));
        }
    }
    if let Some(name) = add {
        config::validate_name(name)?;
        let (file, cfg) = config::load()?;
        if cfg.vaults.contains_key(name) {
            return Err(CliError::other(format!(
                "a vault named {name} is already in {}; choose another name for --add",
                file.display()
            )));
        }
    }
    Ok(())
}

/// `vault login nextcloud URL [--remember] [--add NAME [--folder PATH]] [--ca-cert F]`.
pub async fn nextcloud(
    url: &str,
    remember: bool,
    add: Option<&str>,
    folder: Option<&str>,
    ca_cert: Option<&Path>,
    insecure_http: bool,
    timeout: Duration,
) -> CliResult {
    check_args(url, add, insecure_http)?;
    let flow = vault_webdav::login_flow_v2_with(
        url.trim(),
        ca_cert,
        insecure_http,
        Duration::from_secs(2),
        timeout,
    )
    .await
    .map_err(|e| {
        let exit = match crate::cli::exit::exit_for_storage_kind(e.kind()) {
            Exit::Error => Exit::Unreachable,
            other => other,
        };
        CliError::new(
            exit,
            format!("cannot start the Nextcloud login at {url}: {e}"),
        )
    })?;
    let (login_url, poll) = flow.into_parts();
    // The page's address is the server's text: shown escaped, opened only if https (or loopback).
    eprintln!(
        "Log in and grant access in a browser: {}",
        crate::cli::escape::c_escape(&login_url)
    );
    if !crate::cli::reveal::browser_safe_url(&login_url) {
        eprintln!(
            "vault: warning: the server's login page is not an https:// address; it is not opened in a browser"
        );
    }
    crate::cli::reveal::open_url(&login_url);
    eprintln!("Waiting for the approval…");
    let login = poll.await.map_err(|e| {
        CliError::new(
            crate::cli::exit::exit_for_storage_kind(e.kind()),
            format!("Nextcloud login at {url}: {e}"),
        )
    })?;
    let storage = nextcloud_storage(url, &login.login_name, folder).map_err(CliError::other)?;
    let account = vault_webdav::WebDavConfig::parse(&storage)
        .ok()
        .and_then(|c| remember::webdav_account(&c));
    let mut stored = false;
    if remember {
        match (remember::store(), &account) {
            (Some(store), Some(account)) => {
                match store.set(account, login.app_password.expose_secret()) {
                    Ok(()) => stored = true,
                    Err(e) => eprintln!(
                        "vault: warning: cannot keep the app password in the {} ({}); it is printed instead",
                        store.backend, e.0
                    ),
                }
            }
            _ => eprintln!(
                "vault: warning: the keyring is off (VAULT_KEYRING=none); the app password is printed instead"
            ),
        }
    }
    println!("{storage}");
    if stored {
        eprintln!("The app password is in the keyring; commands on {storage} use it.");
    } else {
        println!("{}", login.app_password.expose_secret());
        eprintln!(
            "vault: warning: the app password (line 2) is shown only now: keep it in a password manager, or log in again with --remember"
        );
    }
    if let Some(name) = add {
        let (file, mut cfg) = config::load()?;
        cfg.vaults.insert(
            name.to_string(),
            VaultEntry {
                storage: storage.clone(),
                ca_cert: ca_cert
                    .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())),
                insecure_http,
                ..Default::default()
            },
        );
        config::save_to(&file, &cfg)?;
        eprintln!("Added vault {name} ({storage}) to {}", file.display());
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn storage_from_the_server_url_and_login() {
        assert_eq!(
            nextcloud_storage("https://cloud.example.org", "me", None).unwrap(),
            "davs://me@cloud.example.org/remote.php/dav/files/me/"
        );
        assert_eq!(
            nextcloud_storage(
                "https://Example.org:8443/nextcloud/",
                "me",
                Some("/Vaults/Work/")
            )
            .unwrap(),
            "davs://me@example.org:8443/nextcloud/remote.php/dav/files/me/Vaults/Work"
        );
        assert_eq!(
            nextcloud_storage("http://10.0.0.2/index.php/login", "a@b.c", None).unwrap(),
            "dav://a%40b.c@10.0.0.2/remote.php/dav/files/a%40b.c/"
        );
        assert!(nextcloud_storage("ftp://h", "me", None).is_err());
        assert!(nextcloud_storage("https://h", "", None).is_err());
    }

    #[test]
    fn derived_storage_is_a_webdav_storage_of_that_account() {
        let s = nextcloud_storage("https://cloud.example.org", "me@mail.org", Some("V")).unwrap();
        let c = vault_webdav::WebDavConfig::parse(&s).unwrap();
        assert_eq!(c.user.as_deref(), Some("me@mail.org"));
        assert_eq!(
            c.nextcloud_layout().unwrap().1,
            "me@mail.org",
            "the DAV path names the user"
        );
        assert_eq!(
            remember::webdav_account(&c).unwrap(),
            "webdav-password https://me@mail.org@cloud.example.org:443",
        );
        // the same account key as the plain https:// form of another folder
        let other = vault_webdav::WebDavConfig::parse(
            "https://me%40mail.org@cloud.example.org/remote.php/dav/files/me%40mail.org/Other",
        )
        .unwrap();
        assert_eq!(
            remember::webdav_account(&c),
            remember::webdav_account(&other)
        );
    }

    #[test]
    fn arguments_are_checked_before_the_network() {
        assert_eq!(
            check_args("cloud.example.org", None, false)
                .unwrap_err()
                .exit,
            Exit::Usage
        );
        assert_eq!(
            check_args("sftp://h/x", None, false).unwrap_err().exit,
            Exit::Usage
        );
        assert_eq!(
            check_args("https://h", Some("bad/name"), false)
                .unwrap_err()
                .exit,
            Exit::Usage
        );
        let e = check_args("http://10.0.0.2/nextcloud", None, false).unwrap_err();
        assert_eq!(e.exit, Exit::Usage);
        assert!(e.message.contains("--insecure-http"), "{}", e.message);
        check_args("http://10.0.0.2/nextcloud", None, true).unwrap();
        check_args("http://127.0.0.1:8080/", None, false).unwrap();
    }
}
