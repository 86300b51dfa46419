//! An open regular file: header, chunk cache, dirty state, write-back.

use crate::VaultError;

/// One open file, shared by every handle on the same node.
#[derive(Debug)]
pub struct OpenFile {}

impl OpenFile {
    /// Reads up to `len` bytes at `offset` (fewer at end of file), fetching and
    /// decrypting only the chunks that cover the range.
    pub async fn read(&self, offset: u64, len: usize) -> Result<zeroize::Zeroizing<Vec<u8>>, VaultError> {
        let _ = (offset, len);
        todo!()
    }

    /// Writes `data` at `offset` (read-modify-write of touched chunks; extends with zeros).
    pub async fn write(&self, offset: u64, data: &[u8]) -> Result<(), VaultError> {
        let _ = (offset, data);
        todo!()
    }

    /// Truncates or extends (with zeros) to `len`.
    pub async fn set_len(&self, len: u64) -> Result<(), VaultError> {
        let _ = len;
        todo!()
    }

    /// Current cleartext size, including unflushed writes.
    pub async fn size(&self) -> u64 {
        todo!()
    }

    /// Makes every write so far durable on storage, atomically (the storage
    /// holds the old or the new version, never a mix). Returns once it has.
    pub async fn flush(&self) -> Result<(), VaultError> {
        todo!()
    }
}
