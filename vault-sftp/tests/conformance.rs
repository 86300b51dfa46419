//! The storage conformance suite (`vault_storage::conformance`) against the
//! 2FA sshd (key with passphrase + TOTP; reuse allowed so every test logs in).
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Kbd, ScriptedPrompter, shared_servers};
use vault_sftp::SftpStorage;
use vault_storage::Storage;
use vault_storage::conformance::Quirks;

vault_storage::conformance_tests!({
    let s = shared_servers("sc");
    let cfg = s.config("2fa", "VAULT_TEST_SSH_KEY", "conformance");
    let p = ScriptedPrompter::new(
        Some(&s.get("VAULT_TEST_SSH_KEY_PASSPHRASE")),
        Kbd::Totp(s.totp_secret()),
    );
    let storage = SftpStorage::connect(cfg, p).await.expect("2fa login");
    let storage: Arc<dyn Storage> = Arc::new(storage);
    // SFTP v3 keeps whole seconds.
    (
        storage,
        Quirks {
            mtime_granularity: Duration::from_secs(1),
            ..Default::default()
        },
        s,
    )
});
