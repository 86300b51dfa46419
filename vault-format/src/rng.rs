//! Randomness: OS entropy for long-lived secrets, a fast thread-local CSPRNG for nonces.
//!
//! Why two sources: keys and salts are rare and come straight from the OS (docs/vault-format.md §2
//! "random salt and keys from the OS RNG"). Nonces are needed for every 32 KiB chunk;
//! one getrandom(2) per chunk cost 3.7–9.3 % of a chunk's encryption in the bench
//! (`chunk_encrypt_nonce_source_32KiB`; we switch below 3 %), so they come from `rand`'s
//! thread-local ChaCha12 generator, which is seeded from the OS and reseeds itself.
//! It is not reseeded after `fork()` or a VM snapshot restore: never fork a process that
//! goes on encrypting (docs/threat-model.md, "Nonces").

use rand::Rng as _;

/// Fills `buf` from the operating system's CSPRNG (keys, salts).
pub(crate) fn fill_os(buf: &mut [u8]) {
    // Failure means the OS has no entropy source at all; nothing sane can continue.
    #[allow(clippy::expect_used)]
    getrandom::fill(buf).expect("the operating system's random number generator failed");
}

/// Fills `buf` from the thread-local CSPRNG (nonces, IDs).
pub(crate) fn fill_fast(buf: &mut [u8]) {
    rand::rng().fill_bytes(buf);
}

/// A random UUIDv4 string (lower-case, 36 characters), as the reference uses for
/// directory IDs (docs/vault-format.md §5) and the config's `jti` (docs/vault-format.md §3).
pub(crate) fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    fill_fast(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let h = data_encoding::HEXLOWER.encode(&b);
    // Indices are constants within the 32-character hex string.
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn uuid_v4_has_the_reference_shape() {
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
        assert!(matches!(u.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert!(
            u.chars()
                .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(uuid_v4(), u);
    }

    #[test]
    fn fast_and_os_fill_produce_different_nonzero_bytes() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        fill_fast(&mut a);
        fill_os(&mut b);
        assert_ne!(a, [0u8; 32]);
        assert_ne!(b, [0u8; 32]);
        assert_ne!(a, b);
    }
}
