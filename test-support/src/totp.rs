//! TOTP codes and windows (RFC 6238, SHA-1, 30 s, 6 digits) as the 2FA sshd of the tests checks
//! them: the current code for a secret, and waiting for a window no code was given in yet.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// The current code for a base32 secret.
pub fn totp_now(secret_b32: &str) -> String {
    let secret = totp_rs::Secret::Encoded(secret_b32.to_owned())
        .to_bytes()
        .expect("base32 secret");
    let totp = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret,
        None,
        String::new(),
    );
    totp.generate_current().expect("clock")
}

/// Seconds until the next 30 s window starts.
pub fn secs_to_next_window() -> u64 {
    30 - now_secs() % 30
}

/// Sleeps into the next 30 s window (half a second past its start).
pub fn sleep_to_next_totp_window() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    std::thread::sleep(
        Duration::from_secs((now.as_secs() / 30 + 1) * 30).saturating_sub(now)
            + Duration::from_millis(500),
    );
}
