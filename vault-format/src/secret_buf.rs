//! [`SecretBuf`]: a growable byte buffer for cleartext that is wiped when dropped, at the speed
//! of a memset.

use std::ops::{Deref, DerefMut};

use zeroize::Zeroize;

/// A `Vec<u8>` holding cleartext, wiped (its whole allocation) when dropped.
///
/// Why not `zeroize::Zeroizing<Vec<u8>>`: zeroize 1.9 wipes a vector's *initialised* bytes one
/// volatile byte store at a time (its `Vec` impl goes through `iter_mut`), and only the spare
/// capacity with its bulk fill. In a sequential read through the drive that byte loop was 19% of
/// the daemon's CPU, twice the decryption (`perf`, 256 MiB read, 2026-12-07). Here the length is
/// set to 0 first, so the whole allocation goes through zeroize's bulk path (a fill followed by
/// an optimisation barrier, which the compiler may not remove).
///
/// As with `Zeroizing<Vec<u8>>`, a reallocation leaves the old allocation unwiped: reserve the
/// capacity up front.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct SecretBuf(Vec<u8>);

impl SecretBuf {
    /// An empty buffer.
    pub fn new() -> Self {
        SecretBuf(Vec::new())
    }

    /// An empty buffer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        SecretBuf(Vec::with_capacity(capacity))
    }
}

impl From<Vec<u8>> for SecretBuf {
    fn from(v: Vec<u8>) -> Self {
        SecretBuf(v)
    }
}

impl Deref for SecretBuf {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for SecretBuf {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl Zeroize for SecretBuf {
    /// Wipes the whole allocation and leaves the buffer empty (its capacity kept).
    fn zeroize(&mut self) {
        self.0.clear();
        self.0.spare_capacity_mut().zeroize();
    }
}

impl Drop for SecretBuf {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl zeroize::ZeroizeOnDrop for SecretBuf {}

impl std::fmt::Debug for SecretBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBuf({} bytes)", self.0.len())
    }
}
