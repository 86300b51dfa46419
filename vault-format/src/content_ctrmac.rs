//! SIV_CTRMAC content format (docs/vault-format.md §4.2): 88-byte header, chunks of
//! nonce(16) || AES-CTR ciphertext || HMAC-SHA256(32).
//!
//! CTR treats the whole 16-byte nonce as a 128-bit big-endian counter block (JCE
//! `AES/CTR/NoPadding`). MACs use the vault MAC master key, never the content key, and are
//! verified in constant time before anything is decrypted.

use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::Mac;
use zeroize::Zeroizing;

use crate::{CipherCombo, Cryptor, FileHeader, FormatError};

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

const COMBO: CipherCombo = CipherCombo::SivCtrMac;
const NONCE_LEN: usize = 16;
const MAC_LEN: usize = 32;
const RESERVED: [u8; 8] = [0xFF; 8];

fn ctr_apply(key: &[u8; 32], nonce: &[u8; NONCE_LEN], buf: &mut [u8]) {
    Aes256Ctr::new(&(*key).into(), &(*nonce).into()).apply_keystream(buf);
}

fn nonce16(b: &[u8]) -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    let len = b.len().min(NONCE_LEN);
    n[..len].copy_from_slice(&b[..len]);
    n
}

pub(crate) fn encrypt_header(c: &Cryptor, h: &FileHeader, out: &mut Vec<u8>) {
    let nonce = nonce16(&h.nonce);
    let start = out.len();
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&RESERVED);
    out.extend_from_slice(&h.content_key[..]);
    ctr_apply(&c.key.enc, &nonce, &mut out[start + NONCE_LEN..]);
    // MAC over headerNonce || encryptedPayload.
    let mut m = c.mac.clone();
    m.update(&out[start..]);
    out.extend_from_slice(&m.finalize().into_bytes());
}

pub(crate) fn decrypt_header(c: &Cryptor, ciphertext: &[u8]) -> Result<FileHeader, FormatError> {
    let ct = ciphertext
        .get(..COMBO.header_len())
        .ok_or(FormatError::InvalidHeader)?;
    let (authenticated, tag) = ct.split_at(COMBO.header_len() - MAC_LEN);
    let mut m = c.mac.clone();
    m.update(authenticated);
    m.verify_slice(tag)
        .map_err(|_| FormatError::AuthenticationFailed)?;
    let (nonce, enc_payload) = authenticated.split_at(NONCE_LEN);
    let nonce = nonce16(nonce);
    let mut payload = Zeroizing::new([0u8; 40]);
    payload.copy_from_slice(enc_payload);
    ctr_apply(&c.key.enc, &nonce, &mut payload[..]);
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&payload[8..]);
    Ok(FileHeader::from_parts(nonce.to_vec(), key))
}

/// HMAC(macKey, headerNonce || BE64(i) || chunkNonce || ciphertext) — header nonce first,
/// unlike GCM's AAD (docs/vault-format.md §4.2).
fn chunk_mac(
    c: &Cryptor,
    h: &FileHeader,
    chunk_no: u64,
    nonce_and_ct: &[u8],
) -> hmac::Hmac<sha2::Sha256> {
    let mut m = c.mac.clone();
    m.update(&h.nonce);
    m.update(&chunk_no.to_be_bytes());
    m.update(nonce_and_ct);
    m
}

pub(crate) fn encrypt_chunk(
    c: &Cryptor,
    h: &FileHeader,
    chunk_no: u64,
    nonce: &[u8],
    cleartext: &[u8],
    out: &mut Vec<u8>,
) {
    let nonce = nonce16(nonce);
    let start = out.len();
    out.extend_from_slice(&nonce);
    out.extend_from_slice(cleartext);
    ctr_apply(&h.content_key, &nonce, &mut out[start + NONCE_LEN..]);
    let tag = chunk_mac(c, h, chunk_no, &out[start..])
        .finalize()
        .into_bytes();
    out.extend_from_slice(&tag);
}

pub(crate) fn decrypt_chunk(
    c: &Cryptor,
    h: &FileHeader,
    chunk_no: u64,
    ciphertext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), FormatError> {
    if ciphertext.len() < COMBO.chunk_overhead() || ciphertext.len() > COMBO.ciphertext_chunk_len()
    {
        return Err(FormatError::InvalidCiphertextSize(ciphertext.len() as u64));
    }
    let (authenticated, tag) = ciphertext.split_at(ciphertext.len() - MAC_LEN);
    chunk_mac(c, h, chunk_no, authenticated)
        .verify_slice(tag)
        .map_err(|_| FormatError::AuthenticationFailed)?;
    let (nonce, ct) = authenticated.split_at(NONCE_LEN);
    let start = out.len();
    out.extend_from_slice(ct);
    ctr_apply(&h.content_key, &nonce16(nonce), &mut out[start..]);
    Ok(())
}
