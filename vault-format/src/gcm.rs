//! AES-256-GCM, the content cipher of SIV_GCM (docs/vault-format.md §4.1), behind one small type.
//!
//! Two backends: `aws-lc` (default; aws-lc-rs, the fastest AES-GCM on crates.io, which
//! keeps chunk crypto faster than any FUSE file system moves data) and `rustcrypto`
//! (pure Rust, RustCrypto `aes-gcm`). With both features on, aws-lc-rs is used.
//! The key schedule is built once per key and reused for every chunk of a file.

use crate::FormatError;

#[cfg(not(any(feature = "aws-lc", feature = "rustcrypto")))]
compile_error!("vault-format needs the `aws-lc` or the `rustcrypto` feature for AES-GCM");

/// GCM tag length.
pub(crate) const TAG_LEN: usize = 16;
/// GCM nonce length.
pub(crate) const NONCE_LEN: usize = 12;

/// An expanded AES-256-GCM key.
pub(crate) struct GcmKey {
    #[cfg(feature = "aws-lc")]
    key: aws_lc_rs::aead::LessSafeKey,
    #[cfg(all(feature = "rustcrypto", not(feature = "aws-lc")))]
    key: aes_gcm::Aes256Gcm,
}

impl GcmKey {
    /// Expands `key`.
    pub(crate) fn new(key: &[u8; 32]) -> GcmKey {
        #[cfg(feature = "aws-lc")]
        {
            use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
            // Only fails for a key of the wrong length; ours is a [u8; 32].
            #[allow(clippy::expect_used)]
            let unbound = UnboundKey::new(&AES_256_GCM, key).expect("AES-256 key is 32 bytes");
            GcmKey {
                key: LessSafeKey::new(unbound),
            }
        }
        #[cfg(all(feature = "rustcrypto", not(feature = "aws-lc")))]
        {
            use aes_gcm::KeyInit;
            GcmKey {
                key: aes_gcm::Aes256Gcm::new(&(*key).into()),
            }
        }
    }

    /// Appends `ciphertext || tag` of `plaintext` to `out`.
    pub(crate) fn seal_append(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) {
        let start = out.len();
        out.reserve(plaintext.len() + TAG_LEN);
        out.extend_from_slice(plaintext);
        let buf = &mut out[start..];
        #[cfg(feature = "aws-lc")]
        {
            use aws_lc_rs::aead::{Aad, Nonce};
            // Sealing only fails above GCM's 64 GiB message limit; chunks are <= 32 KiB.
            #[allow(clippy::expect_used)]
            let tag = self
                .key
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(*nonce),
                    Aad::from(aad),
                    buf,
                )
                .expect("GCM message length limit");
            out.extend_from_slice(tag.as_ref());
        }
        #[cfg(all(feature = "rustcrypto", not(feature = "aws-lc")))]
        {
            use aes_gcm::AeadInOut;
            #[allow(clippy::expect_used)]
            let tag = self
                .key
                .encrypt_inout_detached(&(*nonce).into(), aad, buf.into())
                .expect("GCM message length limit");
            out.extend_from_slice(&tag);
        }
    }

    /// Authenticates `ciphertext || tag` and appends the plaintext to `out`.
    /// On failure `out` is left as it was.
    pub(crate) fn open_append(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ciphertext_and_tag: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), FormatError> {
        let ct_len = ciphertext_and_tag
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(FormatError::AuthenticationFailed)?;
        let (ct, tag) = ciphertext_and_tag.split_at(ct_len);
        let start = out.len();
        out.extend_from_slice(ct);
        let buf = &mut out[start..];
        #[cfg(feature = "aws-lc")]
        let ok = {
            use aws_lc_rs::aead::{Aad, Nonce};
            self.key
                .open_in_place_separate_tag(
                    Nonce::assume_unique_for_key(*nonce),
                    Aad::from(aad),
                    tag,
                    buf,
                )
                .is_ok()
        };
        #[cfg(all(feature = "rustcrypto", not(feature = "aws-lc")))]
        let ok = {
            use aes_gcm::AeadInOut;
            let tag = aes_gcm::Tag::try_from(tag).map_err(|_| FormatError::AuthenticationFailed)?;
            self.key
                .decrypt_inout_detached(&(*nonce).into(), aad, buf.into(), &tag)
                .is_ok()
        };
        if ok {
            Ok(())
        } else {
            // The buffer may hold unauthenticated bytes: wipe them before dropping them.
            zeroize::Zeroize::zeroize(&mut out[start..]);
            out.truncate(start);
            Err(FormatError::AuthenticationFailed)
        }
    }
}
