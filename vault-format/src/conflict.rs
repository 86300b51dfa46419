//! Sync-conflict copies (spec §10): finding the ciphertext inside a conflict
//! copy's name and computing the cleartext name Cryptomator gives it.
//! Pure name logic; the engine does the storage look-ups and moves.

/// The ciphertext run found inside a stored entry name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// Byte range of the run inside the base name (the entry name minus `.c9r`).
    pub start: usize,
    /// End of the run (exclusive).
    pub end: usize,
    /// The decrypted cleartext name.
    pub cleartext: String,
}

/// Step 1 of spec §10: finds the leftmost-longest base64url run in `base`
/// (entry name minus `.c9r`) that `try_decrypt` accepts, with the retry
/// regions around `_`/`-`. `None` when nothing decrypts.
pub fn extract_ciphertext(base: &str, try_decrypt: &mut dyn FnMut(&str) -> Option<String>) -> Option<Extracted> {
    let _ = (base, try_decrypt);
    todo!()
}

/// Step 4 of spec §10: the new cleartext names for a conflicting copy, in the
/// order to try: `stem' + suffix + ext`, then `stem' (1) ext` … `stem' (9) ext`.
/// Counts UTF-16 code units and replaces a split surrogate by `?` as the reference does.
pub fn resolved_name_candidates(cleartext: &str, suffix0: &str, shortening_threshold: usize) -> Vec<String> {
    let _ = (cleartext, suffix0, shortening_threshold);
    todo!()
}
