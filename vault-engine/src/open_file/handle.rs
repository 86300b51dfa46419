//! [`OpenFile`]'s public face: each call takes the file's state lock and hands the work to
//! [`FileState`]; dropping a handle with unflushed writes commits them in the background.

use std::sync::Arc;

use vault_format::SecretBuf;

use super::{FileState, OpenFile, lock};
use crate::error::VaultError;

impl OpenFile {
    /// Reads up to `len` bytes at `offset` (fewer at end of file), fetching and
    /// decrypting only the chunks that cover the range.
    pub async fn read(&self, offset: u64, len: usize) -> Result<SecretBuf, VaultError> {
        let mut st = self.state.lock().await;
        st.read(&self.core, offset, len).await
    }

    /// Writes `data` at `offset` (read-modify-write of touched chunks; extends with zeros).
    pub async fn write(&self, offset: u64, data: &[u8]) -> Result<(), VaultError> {
        let mut st = self.state.lock().await;
        st.write(&self.core, offset, data).await
    }

    /// Appends `data` at the current end of file; returns the offset it was written at.
    pub async fn append(&self, data: &[u8]) -> Result<u64, VaultError> {
        let mut st = self.state.lock().await;
        let at = st.size;
        st.write(&self.core, at, data).await?;
        Ok(at)
    }

    /// Truncates or extends (with zeros) to `len`.
    pub async fn set_len(&self, len: u64) -> Result<(), VaultError> {
        let mut st = self.state.lock().await;
        st.set_len(&self.core, len).await
    }

    /// Current cleartext size, including unflushed writes.
    pub async fn size(&self) -> u64 {
        self.state.lock().await.size
    }

    /// Makes every write so far durable on storage, atomically (the storage
    /// holds the old or the new version, never a mix). Returns once it has,
    /// also when an earlier [`OpenFile::commit`] already put the data in
    /// place without making it durable (for fsync(2)).
    pub async fn flush(&self) -> Result<(), VaultError> {
        let mut st = self.state.lock().await;
        st.commit(&self.core, true).await
    }

    /// Makes every write so far visible on storage atomically, like
    /// [`OpenFile::flush`] (the storage holds the old or the new complete
    /// version, never a mix), but without waiting for durability (no fsync on
    /// local storage; for close(2): FUSE flush/release). A later `flush`
    /// makes it durable. Whether a power loss right after a `commit` keeps
    /// the old or the new version is up to the file system under the
    /// storage (ext4, btrfs: rename-over-replace is ordered after the data).
    pub async fn commit(&self) -> Result<(), VaultError> {
        let mut st = self.state.lock().await;
        st.commit(&self.core, false).await
    }

    /// The storage path of the committed ciphertext (for logs).
    pub fn storage_path(&self) -> String {
        lock(&self.key).clone()
    }

    pub(crate) async fn state_lock(&self) -> tokio::sync::MutexGuard<'_, FileState> {
        self.state.lock().await
    }

    /// The node was removed: drop unflushed changes, never write them back.
    pub(crate) async fn mark_unlinked(&self) {
        let mut st = self.state.lock().await;
        st.unlinked = true;
        st.reset(&self.core).await;
    }

    /// Moves this file's table entry to a new ciphertext path.
    pub(crate) fn rekey(&self, new_key: &str) {
        let old = std::mem::replace(&mut *lock(&self.key), new_key.to_owned());
        self.core.open_files.rekey(&old, new_key);
    }
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        let key = lock(&self.key).clone();
        let st = self.state.get_mut();
        if st.shadow.is_some() {
            let mut st = std::mem::replace(st, FileState::placeholder());
            let core = Arc::clone(&self.core);
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    tracing::warn!(ciphertext = %key, "open file dropped with unflushed writes; flushing in the background");
                    let task = handle.spawn(async move {
                        if let Err(e) = st.commit(&core, true).await {
                            tracing::warn!(error = %e, "background flush failed; previous version kept");
                        }
                    });
                    self.core.background_commits.start(key.clone(), task);
                }
                Err(_) => {
                    tracing::warn!(ciphertext = %key, "open file dropped with unflushed writes outside a runtime; writes discarded");
                }
            }
        }
        self.core.open_files.remove_if_dead(&key);
    }
}
