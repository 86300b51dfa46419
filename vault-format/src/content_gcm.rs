//! SIV_GCM content format (docs/vault-format.md §4.1): 68-byte header, chunks of nonce(12) || ct || tag(16).

use zeroize::Zeroizing;

use crate::gcm::{GcmKey, NONCE_LEN};
use crate::{CipherCombo, Cryptor, FileHeader, FormatError};

const COMBO: CipherCombo = CipherCombo::SivGcm;
/// Reserved field: the file size before format 5; writers put all-ones (docs/vault-format.md §4.3).
const RESERVED: [u8; 8] = [0xFF; 8];

pub(crate) fn encrypt_header(c: &Cryptor, h: &FileHeader, out: &mut Vec<u8>) {
    let nonce = gcm_nonce(&h.nonce);
    let mut payload = Zeroizing::new([0u8; 40]);
    payload[..8].copy_from_slice(&RESERVED);
    payload[8..].copy_from_slice(&h.content_key[..]);
    out.extend_from_slice(&nonce);
    // No AAD for the header (docs/vault-format.md §4.1).
    c.header_gcm.seal_append(&nonce, &[], &payload[..], out);
}

pub(crate) fn decrypt_header(c: &Cryptor, ciphertext: &[u8]) -> Result<FileHeader, FormatError> {
    let ct = ciphertext
        .get(..COMBO.header_len())
        .ok_or(FormatError::InvalidHeader)?;
    let (nonce, sealed) = ct.split_at(NONCE_LEN);
    let nonce = gcm_nonce(nonce);
    let mut payload = Zeroizing::new(Vec::with_capacity(40));
    c.header_gcm
        .open_append(&nonce, &[], sealed, &mut payload)?;
    let mut key = Zeroizing::new([0u8; 32]);
    // The reserved 8 bytes are ignored on read (docs/vault-format.md §4.3).
    key.copy_from_slice(payload.get(8..40).ok_or(FormatError::InvalidHeader)?);
    Ok(FileHeader::from_parts(nonce.to_vec(), key))
}

/// `BE64(chunk_no) || headerNonce` (docs/vault-format.md §4.1; note the order differs from CTRMAC).
fn aad(h: &FileHeader, chunk_no: u64) -> [u8; 8 + NONCE_LEN] {
    let mut a = [0u8; 8 + NONCE_LEN];
    a[..8].copy_from_slice(&chunk_no.to_be_bytes());
    let n = h.nonce.len().min(NONCE_LEN);
    a[8..8 + n].copy_from_slice(&h.nonce[..n]);
    a
}

fn with_content_key<T>(h: &FileHeader, f: impl FnOnce(&GcmKey) -> T) -> T {
    match &h.gcm {
        Some(k) => f(k),
        // Only a header made for the other combo lacks the expanded key.
        None => f(&GcmKey::new(&h.content_key)),
    }
}

pub(crate) fn encrypt_chunk(
    h: &FileHeader,
    chunk_no: u64,
    nonce: &[u8],
    cleartext: &[u8],
    out: &mut Vec<u8>,
) {
    let nonce = gcm_nonce(nonce);
    out.extend_from_slice(&nonce);
    with_content_key(h, |k| {
        k.seal_append(&nonce, &aad(h, chunk_no), cleartext, out)
    });
}

pub(crate) fn decrypt_chunk(
    h: &FileHeader,
    chunk_no: u64,
    ciphertext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), FormatError> {
    check_chunk_len(ciphertext.len())?;
    let (nonce, sealed) = ciphertext.split_at(NONCE_LEN);
    with_content_key(h, |k| {
        k.open_append(&gcm_nonce(nonce), &aad(h, chunk_no), sealed, out)
    })
}

pub(crate) fn check_chunk_len(len: usize) -> Result<(), FormatError> {
    if len < COMBO.chunk_overhead() || len > COMBO.ciphertext_chunk_len() {
        return Err(FormatError::InvalidCiphertextSize(len as u64));
    }
    Ok(())
}

/// The first 12 bytes of `b`, zero-padded (callers pass exactly 12).
fn gcm_nonce(b: &[u8]) -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    let len = b.len().min(NONCE_LEN);
    n[..len].copy_from_slice(&b[..len]);
    n
}
