//! Streaming encryptor and decryptor for whole regular files (docs/vault-format.md §4, §11).
//!
//! The writer emits a chunk as soon as 32 KiB of cleartext are buffered and the rest on
//! `finish`, so it never writes an empty trailing chunk (docs/vault-format.md §14.7). The reader
//! authenticates every chunk before releasing a byte of it and is strict: a trailing piece
//! of `<= overhead` bytes (including an empty chunk) is an invalid size (docs/vault-format.md §11).

use std::io::{self, Read, Write};

use zeroize::Zeroizing;

use crate::{CLEARTEXT_CHUNK_SIZE, Cryptor, FileHeader, FormatError};

fn io_err(e: FormatError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// See [`Cryptor::encrypting_writer`].
pub struct EncryptingWriter<'a, W: Write> {
    cryptor: &'a Cryptor,
    sink: W,
    header: FileHeader,
    header_written: bool,
    cleartext: Zeroizing<Vec<u8>>,
    ciphertext: Vec<u8>,
    chunk_no: u64,
}

impl<'a, W: Write> EncryptingWriter<'a, W> {
    pub(crate) fn new(cryptor: &'a Cryptor, sink: W) -> Self {
        EncryptingWriter {
            cryptor,
            sink,
            header: cryptor.new_header(),
            header_written: false,
            cleartext: Zeroizing::new(Vec::with_capacity(CLEARTEXT_CHUNK_SIZE)),
            ciphertext: Vec::with_capacity(cryptor.combo().ciphertext_chunk_len()),
            chunk_no: 0,
        }
    }

    fn write_header(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.sink
                .write_all(&self.cryptor.encrypt_header(&self.header))?;
            self.header_written = true;
        }
        Ok(())
    }

    fn emit_chunk(&mut self) -> io::Result<()> {
        self.ciphertext.clear();
        self.cryptor.encrypt_chunk(
            &self.header,
            self.chunk_no,
            &self.cleartext,
            &mut self.ciphertext,
        );
        self.sink.write_all(&self.ciphertext)?;
        self.cleartext.clear();
        self.chunk_no += 1;
        Ok(())
    }

    /// Writes the final chunk and returns the sink.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.write_header()?;
        if !self.cleartext.is_empty() {
            self.emit_chunk()?;
        }
        self.sink.flush()?;
        Ok(self.sink)
    }
}

impl<W: Write> Write for EncryptingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_header()?;
        let room = CLEARTEXT_CHUNK_SIZE - self.cleartext.len();
        let n = buf.len().min(room);
        self.cleartext.extend_from_slice(&buf[..n]);
        if self.cleartext.len() == CLEARTEXT_CHUNK_SIZE {
            self.emit_chunk()?;
        }
        Ok(n)
    }

    /// Flushes the sink; a partly filled chunk stays buffered until it is full or `finish`.
    fn flush(&mut self) -> std::io::Result<()> {
        self.sink.flush()
    }
}

/// See [`Cryptor::decrypting_reader`].
pub struct DecryptingReader<'a, R: Read> {
    cryptor: &'a Cryptor,
    source: R,
    header: Option<FileHeader>,
    chunk_no: u64,
    ciphertext: Vec<u8>,
    cleartext: Zeroizing<Vec<u8>>,
    pos: usize,
    done: bool,
    consumed: u64,
    failed: Option<FormatError>,
}

/// Reads until `buf` is full or the source ends; returns the bytes read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k.min(buf.len() - n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl<'a, R: Read> DecryptingReader<'a, R> {
    pub(crate) fn new(cryptor: &'a Cryptor, source: R) -> Self {
        DecryptingReader {
            cryptor,
            source,
            header: None,
            chunk_no: 0,
            ciphertext: vec![0u8; cryptor.combo().ciphertext_chunk_len()],
            cleartext: Zeroizing::new(Vec::with_capacity(CLEARTEXT_CHUNK_SIZE)),
            pos: 0,
            done: false,
            consumed: 0,
            failed: None,
        }
    }

    fn fail(&mut self, e: FormatError) -> io::Error {
        self.failed = Some(e.clone());
        io_err(e)
    }

    /// Loads the next chunk into `cleartext`; leaves it empty at the end of the file.
    fn next_chunk(&mut self) -> io::Result<()> {
        let combo = self.cryptor.combo();
        let header = match self.header.take() {
            Some(h) => h,
            None => {
                let hl = combo.header_len();
                let n = read_full(&mut self.source, &mut self.ciphertext[..hl])?;
                self.consumed += n as u64;
                if n < hl {
                    return Err(self.fail(FormatError::InvalidHeader));
                }
                match self.cryptor.decrypt_header(&self.ciphertext[..hl]) {
                    Ok(h) => h,
                    Err(e) => return Err(self.fail(e)),
                }
            }
        };
        self.cleartext.clear();
        self.pos = 0;
        let n = read_full(&mut self.source, &mut self.ciphertext)?;
        self.consumed += n as u64;
        if n == 0 {
            self.done = true;
            self.header = Some(header);
            return Ok(());
        }
        if n <= combo.chunk_overhead() {
            // Spec §11: a trailing piece of 1..=overhead bytes (an empty chunk included) is invalid.
            return Err(self.fail(FormatError::InvalidCiphertextSize(self.consumed)));
        }
        if let Err(e) = self.cryptor.decrypt_chunk(
            &header,
            self.chunk_no,
            &self.ciphertext[..n],
            &mut self.cleartext,
        ) {
            return Err(self.fail(e));
        }
        self.chunk_no += 1;
        if n < self.ciphertext.len() {
            // A short chunk is the last one.
            self.done = true;
        }
        self.header = Some(header);
        Ok(())
    }
}

impl<R: Read> Read for DecryptingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(e) = &self.failed {
            return Err(io_err(e.clone()));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        while self.pos >= self.cleartext.len() {
            if self.done {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let avail = &self.cleartext[self.pos..];
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.pos += n;
        Ok(n)
    }
}
