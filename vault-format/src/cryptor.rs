//! The [`Cryptor`]: owns the master keys, the only thing that uses them.
//! Names (docs/vault-format.md §5, §6) are AES-SIV; content (docs/vault-format.md §4) dispatches on the cipher combo to
//! `content_gcm` or `content_ctrmac`; the streaming types live in `stream`.

use std::fmt;
use std::io::{Read, Write};

use hmac::{Hmac, KeyInit};
use sha2::Sha256;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::gcm::GcmKey;
use crate::{
    CLEARTEXT_CHUNK_SIZE, CipherCombo, FileHeader, FormatError, MasterKey, content_ctrmac,
    content_gcm, names,
};

pub use crate::stream::{DecryptingReader, EncryptingWriter};

/// Largest directory ID a `dirid.c9r` may hold (docs/vault-format.md §9).
pub const MAX_DIR_ID_LEN: usize = 36;

/// Encrypts and decrypts names and contents of one vault.
/// `Send + Sync`: one shared instance serves every thread.
pub struct Cryptor {
    pub(crate) key: MasterKey,
    pub(crate) combo: CipherCombo,
    /// `macKey || encKey`, the AES-SIV key (docs/vault-format.md §6).
    pub(crate) siv_key: Zeroizing<[u8; 64]>,
    /// encKey expanded for SIV_GCM headers.
    pub(crate) header_gcm: GcmKey,
    /// HMAC-SHA256 keyed with macKey, cloned per use (SIV_CTRMAC headers and chunks).
    pub(crate) mac: Hmac<Sha256>,
}

impl fmt::Debug for Cryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cryptor")
            .field("combo", &self.combo)
            .finish_non_exhaustive()
    }
}

impl Cryptor {
    /// A cryptor for `key` and the vault's cipher combo.
    pub fn new(key: MasterKey, combo: CipherCombo) -> Self {
        let siv_key = names::siv_key(&key);
        let header_gcm = GcmKey::new(&key.enc);
        // HMAC accepts keys of any length; 32 bytes cannot be rejected.
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.mac[..])
            .unwrap_or_else(|_| unreachable!());
        Cryptor {
            key,
            combo,
            siv_key,
            header_gcm,
            mac,
        }
    }

    /// The cipher combo.
    pub fn combo(&self) -> CipherCombo {
        self.combo
    }

    // ---- names (docs/vault-format.md §5, §6) ----

    /// `b64url(AES-SIV(NFC(name), ad = parent_dir_id)) + ".c9r"`.
    pub fn encrypt_name(&self, cleartext: &str, parent_dir_id: &str) -> String {
        let nfc: String = cleartext.nfc().collect();
        self.encrypt_name_exact(&nfc, parent_dir_id)
    }

    /// As [`Self::encrypt_name`] without NFC normalisation (to find names a
    /// non-normalising client stored in NFD).
    pub fn encrypt_name_exact(&self, cleartext: &str, parent_dir_id: &str) -> String {
        // One AD item, the parent ID; empty for root children (docs/vault-format.md §6).
        let ct = names::encrypt(
            &self.siv_key,
            Some(parent_dir_id.as_bytes()),
            cleartext.as_bytes(),
        );
        let mut s = data_encoding::BASE64URL.encode(&ct);
        s.push_str(crate::layout::C9R_SUFFIX);
        s
    }

    /// Decrypts an encrypted name, with or without its `.c9r` suffix.
    pub fn decrypt_name(
        &self,
        encrypted: &str,
        parent_dir_id: &str,
    ) -> Result<String, FormatError> {
        let b64 = encrypted
            .strip_suffix(crate::layout::C9R_SUFFIX)
            .unwrap_or(encrypted);
        let ct = data_encoding::BASE64URL
            .decode(b64.as_bytes())
            .map_err(|_| FormatError::InvalidName)?;
        let pt = names::decrypt(&self.siv_key, parent_dir_id.as_bytes(), &ct)?;
        String::from_utf8(pt).map_err(|_| FormatError::InvalidName)
    }

    /// `base32(SHA1(AES-SIV(dir_id)))`, 32 characters.
    pub fn hash_dir_id(&self, dir_id: &str) -> String {
        names::hash_dir_id(&self.siv_key, dir_id)
    }

    /// `d/XX/YYYY…` for a directory ID (root = `""`).
    pub fn content_dir_path(&self, dir_id: &str) -> String {
        let h = self.hash_dir_id(dir_id);
        // The hash is 32 ASCII characters.
        let (a, b) = h.split_at(2);
        format!("d/{a}/{b}")
    }

    // ---- content (docs/vault-format.md §4) ----

    /// A fresh header: random nonce and content key.
    pub fn new_header(&self) -> FileHeader {
        let mut nonce = vec![0u8; self.combo.nonce_len()];
        crate::rng::fill_fast(&mut nonce);
        let mut key = Zeroizing::new([0u8; 32]);
        crate::rng::fill_os(&mut key[..]);
        FileHeader::from_parts(nonce, key)
    }

    /// The header's ciphertext (68 or 88 bytes).
    pub fn encrypt_header(&self, header: &FileHeader) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.combo.header_len());
        match self.combo {
            CipherCombo::SivGcm => content_gcm::encrypt_header(self, header, &mut out),
            CipherCombo::SivCtrMac => content_ctrmac::encrypt_header(self, header, &mut out),
        }
        out
    }

    /// Authenticates and decrypts a header from the first `header_len` bytes.
    pub fn decrypt_header(&self, ciphertext: &[u8]) -> Result<FileHeader, FormatError> {
        match self.combo {
            CipherCombo::SivGcm => content_gcm::decrypt_header(self, ciphertext),
            CipherCombo::SivCtrMac => content_ctrmac::decrypt_header(self, ciphertext),
        }
    }

    /// Appends the ciphertext of chunk `chunk_no` (fresh random nonce) to `out`.
    /// `cleartext` is at most [`crate::CLEARTEXT_CHUNK_SIZE`] bytes.
    pub fn encrypt_chunk(
        &self,
        header: &FileHeader,
        chunk_no: u64,
        cleartext: &[u8],
        out: &mut Vec<u8>,
    ) {
        // A fresh nonce for every write of a chunk (docs/vault-format.md §14.8).
        let mut nonce = [0u8; 16];
        let nonce = &mut nonce[..self.combo.nonce_len()];
        crate::rng::fill_fast(nonce);
        self.encrypt_chunk_with_nonce(header, chunk_no, nonce, cleartext, out);
    }

    /// As [`Self::encrypt_chunk`] with a caller-chosen nonce: for known-answer tests only.
    /// Reusing a nonce under one content key breaks confidentiality and, for GCM, integrity.
    #[doc(hidden)]
    pub fn encrypt_chunk_with_nonce(
        &self,
        header: &FileHeader,
        chunk_no: u64,
        nonce: &[u8],
        cleartext: &[u8],
        out: &mut Vec<u8>,
    ) {
        debug_assert!(cleartext.len() <= CLEARTEXT_CHUNK_SIZE);
        match self.combo {
            CipherCombo::SivGcm => {
                content_gcm::encrypt_chunk(header, chunk_no, nonce, cleartext, out)
            }
            CipherCombo::SivCtrMac => {
                content_ctrmac::encrypt_chunk(self, header, chunk_no, nonce, cleartext, out)
            }
        }
    }

    /// Authenticates chunk `chunk_no` and appends its cleartext to `out`.
    /// Nothing is appended when authentication fails.
    pub fn decrypt_chunk(
        &self,
        header: &FileHeader,
        chunk_no: u64,
        ciphertext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), FormatError> {
        match self.combo {
            CipherCombo::SivGcm => content_gcm::decrypt_chunk(header, chunk_no, ciphertext, out),
            CipherCombo::SivCtrMac => {
                content_ctrmac::decrypt_chunk(self, header, chunk_no, ciphertext, out)
            }
        }
    }

    /// A whole regular file: header + chunks, no empty trailing chunk.
    pub fn encrypt_file(&self, cleartext: &[u8]) -> Vec<u8> {
        let header = self.new_header();
        let size = usize::try_from(self.combo.ciphertext_size(cleartext.len() as u64)).unwrap_or(0);
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(&self.encrypt_header(&header));
        for (i, chunk) in cleartext.chunks(CLEARTEXT_CHUNK_SIZE).enumerate() {
            self.encrypt_chunk(&header, i as u64, chunk, &mut out);
        }
        out
    }

    /// A whole regular file, strictly: an invalid size (docs/vault-format.md §11) is an error.
    pub fn decrypt_file(&self, ciphertext: &[u8]) -> Result<crate::SecretBuf, FormatError> {
        let len = ciphertext.len() as u64;
        let size = self
            .combo
            .cleartext_size(len)
            .ok_or(FormatError::InvalidCiphertextSize(len))?;
        let header = self.decrypt_header(ciphertext)?;
        let payload = ciphertext
            .get(self.combo.header_len()..)
            .ok_or(FormatError::InvalidCiphertextSize(len))?;
        let mut out = crate::SecretBuf::with_capacity(usize::try_from(size).unwrap_or(0));
        for (i, chunk) in payload
            .chunks(self.combo.ciphertext_chunk_len())
            .enumerate()
        {
            self.decrypt_chunk(&header, i as u64, chunk, &mut out)?;
        }
        Ok(out)
    }

    /// `dirid.c9r` content: header + one (possibly empty) chunk (docs/vault-format.md §9).
    pub fn encrypt_dir_id_backup(&self, dir_id: &str) -> Vec<u8> {
        let header = self.new_header();
        let mut out = self.encrypt_header(&header);
        // The reference's streaming encryptor always emits a final chunk on close, so the
        // root's backup ends in an empty chunk (docs/vault-format.md §9).
        let bytes = dir_id.as_bytes();
        let mut chunks = bytes.chunks(CLEARTEXT_CHUNK_SIZE).enumerate().peekable();
        if chunks.peek().is_none() {
            self.encrypt_chunk(&header, 0, &[], &mut out);
        }
        for (i, chunk) in chunks {
            self.encrypt_chunk(&header, i as u64, chunk, &mut out);
        }
        out
    }

    /// Reads a `dirid.c9r` (accepts the empty final chunk; at most 36 bytes).
    pub fn decrypt_dir_id_backup(&self, ciphertext: &[u8]) -> Result<String, FormatError> {
        const WHAT: &str = "dirid.c9r";
        let header = self.decrypt_header(ciphertext)?;
        let payload = ciphertext
            .get(self.combo.header_len()..)
            .ok_or(FormatError::InvalidHeader)?;
        // An ID of at most 36 bytes fits in one chunk; more ciphertext can only mean more cleartext.
        if payload.len() > self.combo.ciphertext_chunk_len() {
            return Err(FormatError::InvalidNodeFile(WHAT));
        }
        let mut out = Zeroizing::new(Vec::new());
        // Like the reference's streaming reader: authenticate chunk after chunk until the end;
        // an empty final chunk yields nothing (docs/vault-format.md §9).
        for (i, chunk) in payload
            .chunks(self.combo.ciphertext_chunk_len())
            .enumerate()
        {
            self.decrypt_chunk(&header, i as u64, chunk, &mut out)?;
        }
        if out.len() > MAX_DIR_ID_LEN {
            return Err(FormatError::InvalidNodeFile(WHAT));
        }
        String::from_utf8(out.to_vec()).map_err(|_| FormatError::InvalidNodeFile(WHAT))
    }

    /// Streaming encryptor: cleartext written in, ciphertext to `sink`.
    /// `finish` must be called; it writes the last chunk.
    pub fn encrypting_writer<W: Write>(&self, sink: W) -> crate::cryptor::EncryptingWriter<'_, W> {
        EncryptingWriter::new(self, sink)
    }

    /// Streaming decryptor: ciphertext from `source`, authenticated cleartext out.
    pub fn decrypting_reader<R: Read>(&self, source: R) -> crate::cryptor::DecryptingReader<'_, R> {
        DecryptingReader::new(self, source)
    }
}
