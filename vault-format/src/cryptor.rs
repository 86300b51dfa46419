//! The [`Cryptor`]: owns the master keys, the only thing that uses them.

use std::io::{Read, Write};

use crate::{CipherCombo, FileHeader, FormatError, MasterKey};

/// Encrypts and decrypts names and contents of one vault.
/// `Send + Sync`: one shared instance serves every thread.
#[derive(Debug)]
pub struct Cryptor {
    // fields private to the implementation
    _key: MasterKey,
    _combo: CipherCombo,
}

impl Cryptor {
    /// A cryptor for `key` and the vault's cipher combo.
    pub fn new(key: MasterKey, combo: CipherCombo) -> Self {
        Cryptor { _key: key, _combo: combo }
    }

    /// The cipher combo.
    pub fn combo(&self) -> CipherCombo {
        todo!()
    }

    // ---- names (spec §5, §6) ----

    /// `b64url(AES-SIV(NFC(name), ad = parent_dir_id)) + ".c9r"`.
    pub fn encrypt_name(&self, cleartext: &str, parent_dir_id: &str) -> String {
        let _ = (cleartext, parent_dir_id);
        todo!()
    }

    /// As [`Self::encrypt_name`] without NFC normalisation (to find names a
    /// non-normalising client stored in NFD).
    pub fn encrypt_name_exact(&self, cleartext: &str, parent_dir_id: &str) -> String {
        let _ = (cleartext, parent_dir_id);
        todo!()
    }

    /// Decrypts an encrypted name, with or without its `.c9r` suffix.
    pub fn decrypt_name(&self, encrypted: &str, parent_dir_id: &str) -> Result<String, FormatError> {
        let _ = (encrypted, parent_dir_id);
        todo!()
    }

    /// `base32(SHA1(AES-SIV(dir_id)))`, 32 characters.
    pub fn hash_dir_id(&self, dir_id: &str) -> String {
        let _ = dir_id;
        todo!()
    }

    /// `d/XX/YYYY…` for a directory ID (root = `""`).
    pub fn content_dir_path(&self, dir_id: &str) -> String {
        let _ = dir_id;
        todo!()
    }

    // ---- content (spec §4) ----

    /// A fresh header: random nonce and content key.
    pub fn new_header(&self) -> FileHeader {
        todo!()
    }

    /// The header's ciphertext (68 or 88 bytes).
    pub fn encrypt_header(&self, header: &FileHeader) -> Vec<u8> {
        let _ = header;
        todo!()
    }

    /// Authenticates and decrypts a header from the first `header_len` bytes.
    pub fn decrypt_header(&self, ciphertext: &[u8]) -> Result<FileHeader, FormatError> {
        let _ = ciphertext;
        todo!()
    }

    /// Appends the ciphertext of chunk `chunk_no` (fresh random nonce) to `out`.
    /// `cleartext` is at most [`crate::CLEARTEXT_CHUNK_SIZE`] bytes.
    pub fn encrypt_chunk(&self, header: &FileHeader, chunk_no: u64, cleartext: &[u8], out: &mut Vec<u8>) {
        let _ = (header, chunk_no, cleartext, out);
        todo!()
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
        let _ = (header, chunk_no, ciphertext, out);
        todo!()
    }

    /// A whole regular file: header + chunks, no empty trailing chunk.
    pub fn encrypt_file(&self, cleartext: &[u8]) -> Vec<u8> {
        let _ = cleartext;
        todo!()
    }

    /// A whole regular file, strictly: an invalid size (spec §11) is an error.
    pub fn decrypt_file(&self, ciphertext: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>, FormatError> {
        let _ = ciphertext;
        todo!()
    }

    /// `dirid.c9r` content: header + one (possibly empty) chunk (spec §9).
    pub fn encrypt_dir_id_backup(&self, dir_id: &str) -> Vec<u8> {
        let _ = dir_id;
        todo!()
    }

    /// Reads a `dirid.c9r` (accepts the empty final chunk; at most 36 bytes).
    pub fn decrypt_dir_id_backup(&self, ciphertext: &[u8]) -> Result<String, FormatError> {
        let _ = ciphertext;
        todo!()
    }

    /// Streaming encryptor: cleartext written in, ciphertext to `sink`.
    /// `finish` must be called; it writes the last chunk.
    pub fn encrypting_writer<W: Write>(&self, sink: W) -> crate::cryptor::EncryptingWriter<'_, W> {
        let _ = sink;
        todo!()
    }

    /// Streaming decryptor: ciphertext from `source`, authenticated cleartext out.
    pub fn decrypting_reader<R: Read>(&self, source: R) -> crate::cryptor::DecryptingReader<'_, R> {
        let _ = source;
        todo!()
    }
}

/// See [`Cryptor::encrypting_writer`].
pub struct EncryptingWriter<'a, W: Write> {
    _cryptor: &'a Cryptor,
    _sink: W,
}

impl<W: Write> EncryptingWriter<'_, W> {
    /// Writes the final chunk and returns the sink.
    pub fn finish(self) -> std::io::Result<W> {
        todo!()
    }
}

impl<W: Write> Write for EncryptingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = buf;
        todo!()
    }
    fn flush(&mut self) -> std::io::Result<()> {
        todo!()
    }
}

/// See [`Cryptor::decrypting_reader`].
pub struct DecryptingReader<'a, R: Read> {
    _cryptor: &'a Cryptor,
    _source: R,
}

impl<R: Read> Read for DecryptingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let _ = buf;
        todo!()
    }
}
