//! Batches of encrypted chunks on their way to a shadow object in the background.

use bytes::Bytes;

use crate::core::Core;

/// Encrypted chunks batched into one `write_at`: 4 MiB, so a remote write's fixed cost (an
/// SFTP open and close, each a round trip) is paid once per 4 MiB, not per MiB.
const BATCH_MAX: usize = 4 << 20;
/// Over local storage a write is a `pwrite` with no fixed cost to spread: 1 MiB batches keep
/// a file written front to back at 3 MiB of ciphertext (two in flight, one filling) instead
/// of 12.
const LOCAL_BATCH_MAX: usize = 1 << 20;

/// The batch size for the vault's storage.
pub(super) fn batch_max(core: &Core) -> usize {
    if core.storage.local_io() {
        LOCAL_BATCH_MAX
    } else {
        BATCH_MAX
    }
}

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
