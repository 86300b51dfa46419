//! The per-file header (docs/vault-format.md §4): header nonce and content key.

use std::fmt;
use std::sync::Arc;

use crate::gcm::GcmKey;

/// A decrypted file header. The content key is zeroized on drop and never printed.
#[derive(Clone)]
pub struct FileHeader {
    pub(crate) nonce: Vec<u8>,
    pub(crate) content_key: zeroize::Zeroizing<[u8; 32]>,
    /// SIV_GCM only: the content key, expanded once so chunks do not redo the key schedule.
    pub(crate) gcm: Option<Arc<GcmKey>>,
}

impl fmt::Debug for FileHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileHeader")
            .field("nonce_len", &self.nonce.len())
            .finish_non_exhaustive()
    }
}

impl FileHeader {
    /// The header nonce (12 bytes for SIV_GCM, 16 for SIV_CTRMAC).
    pub fn nonce(&self) -> &[u8] {
        &self.nonce
    }

    /// Builds a header and, for GCM-sized nonces, its expanded content key.
    pub(crate) fn from_parts(
        nonce: Vec<u8>,
        content_key: zeroize::Zeroizing<[u8; 32]>,
    ) -> FileHeader {
        let gcm =
            (nonce.len() == crate::gcm::NONCE_LEN).then(|| Arc::new(GcmKey::new(&content_key)));
        FileHeader {
            nonce,
            content_key,
            gcm,
        }
    }
}
