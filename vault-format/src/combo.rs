//! Cipher combos and the cleartext/ciphertext size math of docs/vault-format.md §4 and §11.

use crate::CLEARTEXT_CHUNK_SIZE;

/// The content encryption of a vault (`cipherCombo` claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherCombo {
    /// AES-SIV names, AES-GCM content (default for new vaults).
    SivGcm,
    /// AES-SIV names, AES-CTR + HMAC-SHA256 content (vaults migrated from format 7).
    SivCtrMac,
}

impl CipherCombo {
    /// The claim value, `SIV_GCM` or `SIV_CTRMAC`.
    pub fn as_str(self) -> &'static str {
        match self {
            CipherCombo::SivGcm => "SIV_GCM",
            CipherCombo::SivCtrMac => "SIV_CTRMAC",
        }
    }

    /// Parses a claim value.
    pub fn from_claim(s: &str) -> Option<Self> {
        match s {
            "SIV_GCM" => Some(CipherCombo::SivGcm),
            "SIV_CTRMAC" => Some(CipherCombo::SivCtrMac),
            _ => None,
        }
    }

    /// Header nonce length: 12 (GCM IV) or 16 (CTR counter block), docs/vault-format.md §4.1/§4.2.
    pub fn nonce_len(self) -> usize {
        match self {
            CipherCombo::SivGcm => 12,
            CipherCombo::SivCtrMac => 16,
        }
    }

    /// Authentication tag length: 16 (GCM tag) or 32 (HMAC-SHA256).
    pub fn tag_len(self) -> usize {
        match self {
            CipherCombo::SivGcm => 16,
            CipherCombo::SivCtrMac => 32,
        }
    }

    /// File header length: 68 or 88.
    pub fn header_len(self) -> usize {
        // nonce || E(8 reserved bytes || 32-byte content key) || tag
        self.nonce_len() + 40 + self.tag_len()
    }

    /// Per-chunk overhead (nonce + tag/MAC): 28 or 48.
    pub fn chunk_overhead(self) -> usize {
        self.nonce_len() + self.tag_len()
    }

    /// Largest ciphertext chunk: 32796 or 32816.
    pub fn ciphertext_chunk_len(self) -> usize {
        CLEARTEXT_CHUNK_SIZE + self.chunk_overhead()
    }

    /// Cleartext size of a regular file with this ciphertext size; `None`
    /// when no cleartext maps to it (shorter than a header, or a trailing
    /// chunk of `0 < rest <= overhead` bytes).
    pub fn cleartext_size(self, ciphertext_size: u64) -> Option<u64> {
        // Spec §11, literally.
        let payload = ciphertext_size.checked_sub(self.header_len() as u64)?;
        let chunk = self.ciphertext_chunk_len() as u64;
        let overhead = self.chunk_overhead() as u64;
        let full = payload / chunk;
        let rest = payload % chunk;
        if rest > 0 && rest <= overhead {
            return None;
        }
        let tail = if rest == 0 { 0 } else { rest - overhead };
        // full * 32768 < payload, so this cannot overflow.
        Some(full * CLEARTEXT_CHUNK_SIZE as u64 + tail)
    }

    /// Ciphertext size of a regular file with this cleartext size.
    /// Saturates at `u64::MAX` for sizes no file can have.
    pub fn ciphertext_size(self, cleartext_size: u64) -> u64 {
        let cs = CLEARTEXT_CHUNK_SIZE as u64;
        let full = cleartext_size / cs;
        let r = cleartext_size % cs;
        let tail = if r == 0 {
            0
        } else {
            r + self.chunk_overhead() as u64
        };
        full.saturating_mul(self.ciphertext_chunk_len() as u64)
            .saturating_add(self.header_len() as u64)
            .saturating_add(tail)
    }

    /// Number of chunks a regular file of `cleartext_size` bytes has (no empty trailing chunk).
    pub fn chunk_count(self, cleartext_size: u64) -> u64 {
        cleartext_size.div_ceil(CLEARTEXT_CHUNK_SIZE as u64)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_spec_section_4() {
        assert_eq!(CipherCombo::SivGcm.header_len(), 68);
        assert_eq!(CipherCombo::SivCtrMac.header_len(), 88);
        assert_eq!(CipherCombo::SivGcm.chunk_overhead(), 28);
        assert_eq!(CipherCombo::SivCtrMac.chunk_overhead(), 48);
        assert_eq!(CipherCombo::SivGcm.ciphertext_chunk_len(), 32796);
        assert_eq!(CipherCombo::SivCtrMac.ciphertext_chunk_len(), 32816);
    }

    #[test]
    fn spec_section_11_examples() {
        let g = CipherCombo::SivGcm;
        assert_eq!(g.cleartext_size(68), Some(0));
        for s in 69..=96 {
            assert_eq!(g.cleartext_size(s), None, "{s}");
        }
        assert_eq!(g.cleartext_size(97), Some(1));
        assert_eq!(g.cleartext_size(32864), Some(32768));
        assert_eq!(g.cleartext_size(32893), Some(32769));
        assert_eq!(g.cleartext_size(1049575), Some(1048583));
        assert_eq!(g.cleartext_size(0), None);
        assert_eq!(g.cleartext_size(67), None);
    }

    #[test]
    fn sizes_round_trip_for_both_combos() {
        for c in [CipherCombo::SivGcm, CipherCombo::SivCtrMac] {
            for n in
                (0..200_000u64)
                    .step_by(97)
                    .chain([32767, 32768, 32769, 65536, u32::MAX as u64])
            {
                assert_eq!(c.cleartext_size(c.ciphertext_size(n)), Some(n), "{c:?} {n}");
            }
            assert_eq!(c.ciphertext_size(u64::MAX), u64::MAX);
            // No overflow panic at the top of the range.
            let _ = c.cleartext_size(u64::MAX);
        }
    }

    #[test]
    fn claims_round_trip_and_unknown_is_none() {
        for c in [CipherCombo::SivGcm, CipherCombo::SivCtrMac] {
            assert_eq!(CipherCombo::from_claim(c.as_str()), Some(c));
        }
        assert_eq!(CipherCombo::from_claim("SIV_CTR"), None);
    }
}
