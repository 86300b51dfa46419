//! The one test with TOTP reuse denied (google-authenticator DISALLOW_REUSE):
//! a code is single-use, so a reconnect inside the same 30 s window must ask
//! the prompter for a fresh code; replaying the used one is refused.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Kbd, ScriptedPrompter, Servers, secs_to_next_window, totp_now};
use vault_sftp::{SftpError, SftpStorage};
use vault_storage::{Storage, StoragePath};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_inside_the_window_asks_for_a_fresh_code() {
    let s = Servers::start("st", "2fa", &[("VAULT_TEST_TOTP_REUSE", "deny")]);
    let pass = s.get("VAULT_TEST_SSH_KEY_PASSPHRASE");
    // Start early in a window so both first logins use the same code.
    if secs_to_next_window() < 20 {
        tokio::time::sleep(Duration::from_secs(secs_to_next_window() + 1)).await;
    }
    let mut cfg = s.config("2fa", "VAULT_TEST_SSH_KEY", "reuse");
    cfg.reconnect_wait = Duration::from_secs(45);
    let p = ScriptedPrompter::new(Some(&pass), Kbd::FreshTotp(s.totp_secret()));
    let st = SftpStorage::connect(cfg.clone(), p.clone())
        .await
        .expect("first login");
    let used = totp_now(&s.totp_secret());

    // Replaying the code just used is refused by the server.
    let replay = ScriptedPrompter::new(Some(&pass), Kbd::Fixed(used));
    let err = SftpStorage::connect(cfg, replay)
        .await
        .expect_err("reused code");
    assert!(
        matches!(err, SftpError::KeyboardInteractiveRejected { .. }),
        "got {err:?}"
    );

    // The reconnect asks again; the prompter waits for the next window (a
    // fresh code) and the call succeeds.
    st.drop_connection().await;
    st.list_dir(&StoragePath::root())
        .await
        .expect("list after reconnect with a fresh code");
    assert_eq!(
        p.kbd_count.load(Ordering::SeqCst),
        2,
        "a second code was asked for"
    );
    assert_eq!(st.reconnect_count(), 1);
    let prompts = p.prompts();
    assert_eq!(
        prompts
            .iter()
            .filter(|q| q.starts_with("Passphrase"))
            .count(),
        1,
        "{prompts:?}"
    );
}
