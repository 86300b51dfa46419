//! Batches of encrypted chunks on their way to a shadow object in the background.

use bytes::Bytes;

/// Batches written to the shadow object at once. With one, the link idles at every batch
/// edge (the next batch starts once the last reply of the previous one is in, and over SFTP
/// each batch also opens and closes its handle, a round trip each); a second one in flight
/// keeps data moving meanwhile.
pub(super) const MAX_FLIGHTS: usize = 2;

/// A batch of encrypted chunks on its way to the shadow object.
pub(super) enum Flight {
    Running {
        offset: u64,
        bytes: Bytes,
        task: tokio::task::JoinHandle<Result<(), vault_storage::StorageError>>,
    },
    Failed {
        offset: u64,
        bytes: Bytes,
    },
}

impl Flight {
    /// A new batch of bytes `offset..end` must wait for this one: it failed (and is retried
    /// first), or it writes some of the same bytes (the later write must land last).
    pub(super) fn blocks(&self, offset: u64, end: u64) -> bool {
        match self {
            Flight::Failed { .. } => true,
            Flight::Running {
                offset: o, bytes, ..
            } => *o < end && offset < *o + bytes.len() as u64,
        }
    }
}
