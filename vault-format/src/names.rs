//! AES-SIV (RFC 5297) for names and directory IDs (docs/vault-format.md §5, §6).
//!
//! Key order pitfall (docs/vault-format.md §6): the RFC key is `K1 (S2V/CMAC) || K2 (CTR)`, and Cryptomator
//! uses K1 = macKey, K2 = encKey, so the library key is `macKey || encKey`.

use aes_siv::KeyInit;
use aes_siv::siv::Aes256Siv;
use sha1::{Digest, Sha1};
use zeroize::Zeroizing;

use crate::{FormatError, MasterKey};

/// The 64-byte AES-SIV key `macKey || encKey`.
pub(crate) fn siv_key(key: &MasterKey) -> Zeroizing<[u8; 64]> {
    let mut k = Zeroizing::new([0u8; 64]);
    k[..32].copy_from_slice(&key.mac[..]);
    k[32..].copy_from_slice(&key.enc[..]);
    k
}

fn cipher(key: &[u8; 64]) -> Aes256Siv {
    Aes256Siv::new(&(*key).into())
}

/// SIV-encrypts `plaintext` with exactly one associated-data item (names: the parent
/// directory ID, an empty item for root children) or none (directory-ID hashing).
pub(crate) fn encrypt(key: &[u8; 64], ad: Option<&[u8]>, plaintext: &[u8]) -> Vec<u8> {
    let mut c = cipher(key);
    // Only fails with more than 126 AD items; we pass at most one.
    match ad {
        Some(ad) => c.encrypt([ad], plaintext),
        None => c.encrypt::<[&[u8]; 0], &[u8]>([], plaintext),
    }
    .unwrap_or_default()
}

/// Authenticates and decrypts; the output is `ciphertext.len() - 16` bytes.
pub(crate) fn decrypt(
    key: &[u8; 64],
    ad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, FormatError> {
    if ciphertext.len() < aes_siv::siv::IV_SIZE {
        return Err(FormatError::InvalidName);
    }
    cipher(key)
        .decrypt([ad], ciphertext)
        .map_err(|_| FormatError::AuthenticationFailed)
}

/// `base32(SHA1(AES-SIV(dir_id)))` (docs/vault-format.md §5): 20 bytes → 32 base32 characters, no padding.
pub(crate) fn hash_dir_id(key: &[u8; 64], dir_id: &str) -> String {
    let ct = encrypt(key, None, dir_id.as_bytes());
    data_encoding::BASE32.encode(&Sha1::digest(&ct))
}
