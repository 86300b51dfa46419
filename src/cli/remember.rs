//! Secrets kept in the OS keyring, only after the user opted in (`--remember`, `--remember-totp`).
//!
//! Backend (`VAULT_KEYRING`, read once per process):
//! - `secret-service` (default): the freedesktop Secret Service (GNOME Keyring, KWallet,
//!   KeePassXC) over D-Bus, through `zbus` (pure Rust; the `dbus` crate would link libdbus,
//!   licensed AFL-2.1/GPL-2.0). Encrypted at rest, unlocked with the desktop login, survives
//!   reboots: what desktop users have.
//! - `keyutils`: the Linux kernel key store (session keyring, linked to the user's persistent
//!   keyring). No daemon, so it works on headless machines and in CI; held in kernel memory
//!   only, lost at reboot and after the persistent keyring expires (3 days unused by default).
//! - `none`: never look up or store anything.
//!
//! Every item has service `vault` and an account naming what it is and what for:
//! `vault-password <storage>`, `webdav-password <scheme>://USER@HOST:PORT`,
//! `ssh-key-passphrase <absolute key file>`, `totp-secret sftp://USER@HOST:PORT`,
//! `s3-secret-key s3://KEY_ID@HOST:PORT` (the S3 endpoint's host and port), where
//! `<storage>` is the normalised STORAGE ([`storage_key`]): `file://` + the absolute folder,
//! or the URL with scheme and host lower-cased, the port explicit, `dav(s)://` written as
//! `http(s)://` and no trailing `/`; on S3 `s3+https://HOST:PORT/BUCKET/PREFIX` (the
//! endpoint's scheme, host and port: bucket names are unique only per endpoint). A vault password belongs to one vault; a WebDAV app
//! password, a TOTP secret and an S3 secret key belong to an account; a key passphrase to a
//! key file.
//!
//! Lookups never fail a command (an unreachable store is the same as an empty one); a store
//! that cannot take a secret the user asked to remember gives one warning line and the command
//! goes on. Secrets asked with `--remember` are stored only once the command succeeded, so a
//! mistyped password is never remembered.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use zeroize::Zeroizing;

use super::args::S3Args;
pub use super::keyring_use::KeyringUse;
use super::storage_arg::StorageSpec;

/// The keyring service name of every item.
pub const SERVICE: &str = "vault";

/// A keyring with its entries cached by account (the mock store keeps its value in the entry).
pub struct Keyring {
    builder: Box<keyring::CredentialBuilder>,
    entries: Mutex<HashMap<String, keyring::Entry>>,
    /// For messages.
    pub backend: &'static str,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// Why a store did not work.
#[derive(Debug, Clone)]
pub struct StoreError(pub String);

impl Keyring {
    /// A keyring over `builder` (tests pass `keyring::mock::default_credential_builder()`).
    pub fn with_builder(builder: Box<keyring::CredentialBuilder>, backend: &'static str) -> Self {
        Keyring {
            builder,
            entries: Mutex::new(HashMap::new()),
            backend,
        }
    }

    fn with_entry<T>(
        &self,
        account: &str,
        f: impl FnOnce(&keyring::Entry) -> keyring::Result<T>,
    ) -> Result<T, StoreError> {
        let mut entries = self
            .entries
            .lock()
            .map_err(|_| StoreError("keyring cache poisoned".into()))?;
        if !entries.contains_key(account) {
            let credential = self
                .builder
                .build(None, SERVICE, account)
                .map_err(|e| StoreError(describe(&e)))?;
            entries.insert(
                account.to_string(),
                keyring::Entry::new_with_credential(credential),
            );
        }
        let entry = entries
            .get(account)
            .ok_or_else(|| StoreError("keyring entry vanished".into()))?;
        f(entry).map_err(|e| StoreError(describe(&e)))
    }

    /// The stored secret, if any.
    pub fn get(&self, account: &str) -> Result<Option<Zeroizing<String>>, StoreError> {
        match self.with_entry(account, |e| match e.get_password() {
            Ok(s) => Ok(Some(Zeroizing::new(s))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e),
        }) {
            Ok(v) => Ok(v),
            Err(e) => Err(e),
        }
    }

    /// Stores (replaces) a secret.
    pub fn set(&self, account: &str, secret: &str) -> Result<(), StoreError> {
        self.with_entry(account, |e| e.set_password(secret))
    }

    /// Deletes a secret; `Ok(false)` when there was none.
    pub fn delete(&self, account: &str) -> Result<bool, StoreError> {
        self.with_entry(account, |e| match e.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(e),
        })
    }
}

/// One line for a keyring error (never the secret: keyring errors do not carry it, except
/// `BadEncoding`, whose bytes are left out here).
fn describe(e: &keyring::Error) -> String {
    match e {
        keyring::Error::PlatformFailure(inner) => format!("platform failure: {inner}"),
        keyring::Error::NoStorageAccess(inner) => format!("no access to the store: {inner}"),
        keyring::Error::NoEntry => "no such entry".into(),
        keyring::Error::BadEncoding(_) => "a stored value is not UTF-8".into(),
        keyring::Error::TooLong(what, max) => format!("{what} is longer than {max} bytes"),
        keyring::Error::Invalid(what, why) => format!("invalid {what}: {why}"),
        keyring::Error::Ambiguous(_) => "several matching entries".into(),
        other => other.to_string(),
    }
    .replace('\n', " ")
}

/// The process's keyring (per `VAULT_KEYRING`), or None for `none`.
pub fn store() -> Option<&'static Keyring> {
    // Set once from the environment and never changed: the one global the CLI keeps, since
    // the backend is a property of the process (its environment), not of a command, and
    // opening it twice would ask the OS for a second session keyring.
    static STORE: OnceLock<Option<Keyring>> = OnceLock::new();
    STORE
        .get_or_init(|| {
            let choice = std::env::var("VAULT_KEYRING").unwrap_or_default();
            match choice.trim().to_ascii_lowercase().as_str() {
                "none" | "off" => None,
                "keyutils" | "linux-native" | "kernel" => {
                    // A process started outside a login session (cron, CI, a container) has no
                    // session keyring; the kernel then lends it the user-session keyring, whose
                    // keys it cannot link to the persistent keyring. Ask for a session keyring
                    // of its own (created if missing): items then live in the user's persistent
                    // keyring, which every later process of the user finds.
                    if let Err(e) = linux_keyutils::KeyRing::from_special_id(
                        linux_keyutils::KeyRingIdentifier::Session,
                        true,
                    ) {
                        tracing::debug!(target: "vault", error = %e, "no session keyring");
                    }
                    Some(Keyring::with_builder(
                        keyring::keyutils::default_credential_builder(),
                        "kernel keyutils",
                    ))
                }
                other => {
                    if !other.is_empty() && other != "secret-service" {
                        warn(&format!(
                            "unknown VAULT_KEYRING={other:?} (secret-service, keyutils or none); using secret-service"
                        ));
                    }
                    Some(Keyring::with_builder(
                        keyring::secret_service::default_credential_builder(),
                        "Secret Service",
                    ))
                }
            }
        })
        .as_ref()
}

fn warn(text: &str) {
    eprintln!("vault: warning: {text}");
}

/// Looks `account` up (None when absent or the store is unreachable); notes its use in `k`.
pub fn lookup(k: &KeyringUse, account: &str, what: &'static str) -> Option<Zeroizing<String>> {
    // Every lookup leaves a debug line (tests/cli_sftp_hostile.rs checks that a mount daemon's
    // reconnect makes none); the account is not logged.
    tracing::debug!(target: "vault", what, "keyring lookup");
    let store = store()?;
    match store.get(account) {
        Ok(Some(s)) => {
            tracing::debug!(target: "vault", what, backend = store.backend, "using a secret from the keyring");
            k.note_used(what);
            Some(s)
        }
        Ok(None) => None,
        Err(e) => {
            tracing::debug!(target: "vault", backend = store.backend, error = %e.0, "keyring lookup failed");
            None
        }
    }
}

/// Stores the secrets `k` queued; on failure one warning line, never an error.
pub fn commit(k: &KeyringUse) {
    let pending = k.take_pending();
    if pending.is_empty() {
        return;
    }
    let Some(store) = store() else {
        warn("VAULT_KEYRING=none: nothing was remembered");
        return;
    };
    let mut stored = Vec::new();
    for (account, what, secret) in &pending {
        match store.set(account, secret) {
            Ok(()) => stored.push(*what),
            Err(e) => {
                let advice = if store.backend == "Secret Service" {
                    "; is a keyring daemon (gnome-keyring, KWallet, KeePassXC) running in this session? Without a desktop, set VAULT_KEYRING=keyutils to use the kernel keyring"
                } else {
                    ""
                };
                warn(&format!(
                    "cannot remember the {what} in the {} ({}){advice}; it will be asked again next time",
                    store.backend, e.0
                ));
                return;
            }
        }
    }
    tracing::info!(target: "vault", backend = store.backend, what = ?stored, "remembered in the keyring");
}

// ------------------------------------------------------------------ account names

/// `vault-password <storage>`; `s3` are the command's S3 options (an `s3://` STORAGE's
/// normalised form names the endpoint they choose).
pub fn vault_password_account(storage_arg: &str, s3: &S3Args) -> Option<String> {
    let spec = super::storage_arg::parse(storage_arg).ok()?;
    Some(format!(
        "vault-password {}",
        storage_key(storage_arg, &spec, Some(s3))?
    ))
}

/// The S3 options that choose an endpoint (those a vault key depends on).
pub fn s3_options(s3: &S3Args) -> super::s3_arg::S3Options {
    super::s3_arg::S3Options {
        endpoint: s3.s3_endpoint.clone(),
        region: s3.s3_region.clone(),
        profile: s3.s3_profile.clone(),
        ..Default::default()
    }
}

/// `webdav-password <scheme>://USER@HOST:PORT`.
pub fn webdav_account(config: &vault_webdav::WebDavConfig) -> Option<String> {
    let url = &config.base_url;
    let user = config.user.as_deref()?;
    Some(format!(
        "webdav-password {}://{}@{}:{}",
        url.scheme(),
        user,
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default()?
    ))
}

/// `ssh-key-passphrase <absolute key file>`.
pub fn key_passphrase_account(key_file: &Path) -> String {
    let abs = std::fs::canonicalize(key_file)
        .or_else(|_| std::path::absolute(key_file))
        .unwrap_or_else(|_| key_file.to_path_buf());
    format!("ssh-key-passphrase {}", abs.display())
}

/// `totp-secret sftp://USER@HOST:PORT`.
pub fn totp_account(user: &str, host: &str, port: u16) -> String {
    format!(
        "totp-secret sftp://{user}@{}:{port}",
        host.to_ascii_lowercase()
    )
}

/// The normalised STORAGE a vault password belongs to. An `s3://` STORAGE has one only with
/// its S3 options (`s3`), which choose the endpoint.
pub fn storage_key(arg: &str, spec: &StorageSpec, s3: Option<&S3Args>) -> Option<String> {
    match spec {
        StorageSpec::Local(p) => {
            let abs = std::fs::canonicalize(p)
                .or_else(|_| std::path::absolute(p))
                .ok()?;
            let s = abs.to_string_lossy();
            let s = s.trim_end_matches('/');
            Some(format!("file://{}", if s.is_empty() { "/" } else { s }))
        }
        StorageSpec::Sftp(r) => {
            let user = r.user.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
            let host = if r.host.contains(':') {
                format!("[{}]", r.host.to_ascii_lowercase())
            } else {
                r.host.to_ascii_lowercase()
            };
            let path = r.path.trim_end_matches('/');
            Some(format!(
                "sftp://{user}{host}:{}{}",
                r.port.unwrap_or(22),
                if path.is_empty() { "/" } else { path }
            ))
        }
        StorageSpec::Dav { .. } | StorageSpec::WebDavUrl(_) => {
            let config = vault_webdav::WebDavConfig::parse(arg).ok()?;
            let url = &config.base_url;
            let user = config
                .user
                .as_ref()
                .map(|u| format!("{u}@"))
                .unwrap_or_default();
            let path = url.path().trim_end_matches('/');
            Some(format!(
                "{}://{user}{}:{}{}",
                url.scheme(),
                url.host_str()?.to_ascii_lowercase(),
                url.port_or_known_default()?,
                if path.is_empty() { "/" } else { path }
            ))
        }
        // The normalised form needs the endpoint (an option, else the AWS settings).
        StorageSpec::S3 { bucket, prefix } => {
            super::s3_arg::vault_key_for(bucket, prefix, &s3_options(s3?))
        }
        StorageSpec::Named(_) => None,
    }
}

// ------------------------------------------------------------------ TOTP

/// A TOTP generator (RFC 6238). Holds the secret; no `Debug`, zeroized on drop (totp-rs
/// `zeroize` feature). Servers refuse a code used twice in its window (google-authenticator's
/// DISALLOW_REUSE), so a second login inside the window (the mount daemon after its parent, a
/// quick reconnect) waits for the next window.
pub struct Totp {
    inner: totp_rs::TOTP,
    used_step: Mutex<Option<u64>>,
    /// `USER@HOST:PORT ` of the server the secret belongs to, once known: its codes go to
    /// that server's questions only, never to a jump host's.
    server: std::sync::OnceLock<String>,
}

impl Totp {
    /// From a base32 secret (spaces and case ignored; Google Authenticator defaults: SHA1,
    /// 6 digits, 30 s) or an `otpauth://totp/…` URI (its algorithm, digits and period).
    pub fn parse(text: &str) -> Result<Totp, String> {
        let text = text.trim();
        if text.to_ascii_lowercase().starts_with("otpauth://") {
            let t = totp_rs::TOTP::from_url_unchecked(text)
                .map_err(|e| format!("not a usable otpauth:// URI ({e})"))?;
            if t.secret.is_empty() {
                return Err("the otpauth:// URI has an empty secret".into());
            }
            return Ok(Totp::new(t));
        }
        let cleaned: Zeroizing<String> = Zeroizing::new(
            text.chars()
                .filter(|c| !c.is_whitespace() && *c != '-')
                .map(|c| c.to_ascii_uppercase())
                .collect::<String>()
                .trim_end_matches('=')
                .to_string(),
        );
        if cleaned.is_empty() {
            return Err("the TOTP secret is empty".into());
        }
        let bytes = totp_rs::Secret::Encoded(cleaned.to_string())
            .to_bytes()
            .ok()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| {
                "the TOTP secret is not base32 (letters A-Z and digits 2-7) or an otpauth:// URI"
                    .to_string()
            })?;
        Ok(Totp::new(totp_rs::TOTP::new_unchecked(
            totp_rs::Algorithm::SHA1,
            6,
            1,
            30,
            bytes,
            None,
            String::new(),
        )))
    }

    fn new(inner: totp_rs::TOTP) -> Totp {
        Totp {
            inner,
            used_step: Mutex::new(None),
            server: std::sync::OnceLock::new(),
        }
    }

    /// Ties the secret to the server `user@host:port` (see [`Totp::serves`]).
    pub fn bind_to(&self, user: &str, host: &str, port: u16) {
        let _ = self.server.set(format!("{user}@{host}:{port} "));
    }

    /// Whether a question of `server` (a `vault_sftp::ServerQuestion::server`) may be
    /// answered with this secret's codes: the bound server's only.
    pub fn serves(&self, server: &str) -> bool {
        self.server
            .get()
            .is_none_or(|s| server.starts_with(s.as_str()))
    }

    /// The code for `unix_time` (seconds).
    pub fn code_at(&self, unix_time: u64) -> String {
        self.inner.generate(unix_time)
    }

    /// The time step whose code was last given out (by this process or, handed over, its parent).
    pub fn used_step(&self) -> Option<u64> {
        self.used_step.lock().ok().and_then(|g| *g)
    }

    /// Notes that the code of `step` was used already.
    pub fn mark_used(&self, step: u64) {
        if let Ok(mut g) = self.used_step.lock() {
            *g = Some(g.map_or(step, |s| s.max(step)));
        }
    }

    /// The code for now; if now's code was given out already, waits for the next window.
    pub fn code_now(&self) -> Result<String, String> {
        let period = self.inner.step.max(1);
        let now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|e| format!("the system clock is before 1970 ({e})"))
        };
        let mut used = self
            .used_step
            .lock()
            .map_err(|_| "TOTP state poisoned".to_string())?;
        let mut t = now()?;
        if used.is_some_and(|u| u >= t.as_secs() / period) {
            let next = (t.as_secs() / period + 1) * period;
            let wait = std::time::Duration::from_secs(next).saturating_sub(t)
                + std::time::Duration::from_millis(200);
            tracing::info!(target: "vault", "this TOTP code was used already; waiting {wait:?} for the next one");
            std::thread::sleep(wait);
            t = now()?;
        }
        let step = t.as_secs() / period;
        *used = Some(step);
        Ok(self.inner.generate(step * period))
    }
}

/// Whether a keyboard-interactive prompt asks for a one-time code: it contains, ignoring case,
/// "verification code", "one-time", "one time", "otp" or "token".
pub fn is_otp_prompt(prompt: &str) -> bool {
    let p = prompt.to_lowercase();
    ["verification code", "one-time", "one time", "otp", "token"]
        .iter()
        .any(|w| p.contains(w))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::cli::storage_arg::parse;

    fn mock() -> Keyring {
        Keyring::with_builder(keyring::mock::default_credential_builder(), "mock")
    }

    #[test]
    fn mock_store_round_trip_and_delete() {
        let k = mock();
        let acc = "vault-password sftp://me@h:22/v";
        assert!(k.get(acc).unwrap().is_none());
        k.set(acc, "hunter2").unwrap();
        assert_eq!(k.get(acc).unwrap().unwrap().as_str(), "hunter2");
        k.set(acc, "changed").unwrap();
        assert_eq!(k.get(acc).unwrap().unwrap().as_str(), "changed");
        assert!(
            k.get("vault-password sftp://me@h:22/other")
                .unwrap()
                .is_none()
        );
        assert!(k.delete(acc).unwrap());
        assert!(!k.delete(acc).unwrap());
        assert!(k.get(acc).unwrap().is_none());
    }

    #[test]
    fn mock_store_failure_is_an_error_value_not_a_panic() {
        let k = mock();
        let acc = "webdav-password https://me@h:443";
        k.set(acc, "x").unwrap();
        {
            let entries = k.entries.lock().unwrap();
            let cred: &keyring::mock::MockCredential =
                entries[acc].get_credential().downcast_ref().unwrap();
            cred.set_error(keyring::Error::NoStorageAccess("locked".into()));
        }
        let e = k.get(acc).unwrap_err();
        assert!(e.0.contains("no access to the store: locked"), "{}", e.0);
        assert!(!e.0.contains('\n'));
        // the error is cleared after one call, as the mock documents
        assert_eq!(k.get(acc).unwrap().unwrap().as_str(), "x");
    }

    #[test]
    fn keyring_debug_shows_no_secret() {
        let k = mock();
        k.set("a", "s3cr3t").unwrap();
        assert!(!format!("{k:?}").contains("s3cr3t"));
    }

    #[test]
    fn storage_keys_are_normalised() {
        let key = |s: &str| storage_key(s, &parse(s).unwrap(), None).unwrap();
        assert_eq!(key("sftp://me@NAS:22/srv/v/"), key("sftp://me@nas/srv/v"));
        assert_eq!(key("sftp://me@nas/srv/v"), "sftp://me@nas:22/srv/v");
        assert_ne!(key("sftp://me@nas/srv/v"), key("sftp://you@nas/srv/v"));
        assert_eq!(
            key("davs://me@Cloud.example/remote.php/dav/files/me/V"),
            key("https://me@cloud.example:443/remote.php/dav/files/me/V/")
        );
        assert_eq!(key("dav://me@h/x"), "http://me@h:80/x");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        assert_eq!(key(&format!("{d}/")), key(d));
        assert!(key(d).starts_with("file:///"));
        assert!(storage_key("Work", &parse("Work").unwrap(), None).is_none());
    }

    #[test]
    fn s3_storage_keys_name_the_endpoint_the_options_choose() {
        let arg = "s3://team/a/V";
        let s3 = S3Args {
            s3_endpoint: Some("http://127.0.0.1:9000".into()),
            ..Default::default()
        };
        assert_eq!(
            storage_key(arg, &parse(arg).unwrap(), Some(&s3)).unwrap(),
            "s3+http://127.0.0.1:9000/team/a/V"
        );
        assert_eq!(
            vault_password_account(arg, &s3).unwrap(),
            "vault-password s3+http://127.0.0.1:9000/team/a/V"
        );
        // Without the options the endpoint is unknown: no key rather than a wrong one.
        assert!(storage_key(arg, &parse(arg).unwrap(), None).is_none());
    }

    #[test]
    fn account_names() {
        let c =
            vault_webdav::WebDavConfig::parse("davs://me@cloud.example/remote.php/dav/files/me/V")
                .unwrap();
        assert_eq!(
            webdav_account(&c).unwrap(),
            "webdav-password https://me@cloud.example:443"
        );
        let c2 = vault_webdav::WebDavConfig::parse(
            "https://me@cloud.example/remote.php/dav/files/me/Other",
        )
        .unwrap();
        assert_eq!(
            webdav_account(&c),
            webdav_account(&c2),
            "one app password per account"
        );
        assert_eq!(
            totp_account("me", "NAS", 2222),
            "totp-secret sftp://me@nas:2222"
        );
        assert_eq!(
            vault_password_account("sftp://me@nas/v", &S3Args::default()).unwrap(),
            "vault-password sftp://me@nas:22/v"
        );
    }

    #[test]
    fn totp_codes_match_rfc6238_and_google_defaults() {
        // RFC 6238 appendix B, SHA1: secret "12345678901234567890" (base32 below), 8 digits
        // there; the last 6 digits are the 6-digit code.
        let b32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        let t = Totp::parse(b32).unwrap();
        assert_eq!(t.code_at(59), "287082");
        assert_eq!(t.code_at(1111111109), "081804");
        assert_eq!(t.code_at(2000000000), "279037");
        // spaces, lower case and padding as people paste them
        let t2 = Totp::parse("gezd gnbv gy3t qojq gezd gnbv gy3t qojq====").unwrap();
        assert_eq!(t2.code_at(59), "287082");
        // a short (80-bit) secret as libpam-google-authenticator makes
        let short = Totp::parse("JBSWY3DPEHPK3PXP").unwrap();
        // a code given out is not given out again inside its window
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let step_now = now / 30;
        assert_eq!(short.used_step(), None);
        if now % 30 < 28 {
            short.mark_used(step_now - 1);
            let c = short.code_now().unwrap();
            assert_eq!(c, short.code_at(now), "an older used step does not delay");
            assert_eq!(short.used_step(), Some(step_now));
        }
        assert_eq!(short.code_at(59).len(), 6);
        // an otpauth URI with its own parameters
        let uri =
            format!("otpauth://totp/x:me?secret={b32}&issuer=x&digits=8&period=30&algorithm=SHA1");
        assert_eq!(Totp::parse(&uri).unwrap().code_at(59), "94287082");
        for bad in ["", "not base32!", "0189", "otpauth://totp/x?issuer=x"] {
            assert!(Totp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn otp_prompt_rule() {
        for p in [
            "Verification code: ",
            "VERIFICATION CODE:",
            "One-time password: ",
            "Enter OTP: ",
            "Token code: ",
            "Please enter one time passcode",
        ] {
            assert!(is_otp_prompt(p), "{p}");
        }
        for p in [
            "Password: ",
            "Passphrase for key /k: ",
            "Vault password for x: ",
        ] {
            assert!(!is_otp_prompt(p), "{p}");
        }
    }
}
