//! Volume figures and label from the operations layer's `statfs`.

use vault_fs::ops::FsStat;

/// Reported as both total and free when the storage gives no figures
/// (WebDAV servers without a quota, for instance): Explorer refuses to copy
/// onto a drive showing 0 bytes free, so "unknown" must not read as "full".
pub const UNKNOWN_SPACE: u64 = 1 << 50;

/// WinFsp's volume label holds at most 32 UTF-16 units.
pub const MAX_LABEL_UNITS: usize = 32;

/// `(total, free)` in bytes for GetVolumeInfo.
pub fn volume_figures(stat: &FsStat) -> (u64, u64) {
    let block = u64::from(stat.block_size);
    let total = stat.blocks.saturating_mul(block);
    if total == 0 {
        return (UNKNOWN_SPACE, UNKNOWN_SPACE);
    }
    let free = stat.blocks_available.saturating_mul(block).min(total);
    (total, free)
}

/// A volume label: `name` cut to 32 UTF-16 units, never inside a surrogate pair.
pub fn volume_label(name: &str) -> Vec<u16> {
    let mut units = Vec::with_capacity(MAX_LABEL_UNITS);
    for c in name.chars() {
        let mut buf = [0u16; 2];
        let encoded = c.encode_utf16(&mut buf);
        if units.len() + encoded.len() > MAX_LABEL_UNITS {
            break;
        }
        units.extend_from_slice(encoded);
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(blocks: u64, available: u64) -> FsStat {
        FsStat {
            block_size: 4096,
            blocks,
            blocks_free: available,
            blocks_available: available,
            name_max: 255,
        }
    }

    #[test]
    fn figures_in_bytes() {
        assert_eq!(volume_figures(&stat(1000, 250)), (4_096_000, 1_024_000));
        assert_eq!(volume_figures(&stat(1000, 0)), (4_096_000, 0));
    }

    #[test]
    fn unknown_space_is_not_full() {
        assert_eq!(volume_figures(&stat(0, 0)), (UNKNOWN_SPACE, UNKNOWN_SPACE));
    }

    #[test]
    fn figures_never_overflow_or_exceed_total() {
        assert_eq!(
            volume_figures(&stat(u64::MAX, u64::MAX)),
            (u64::MAX, u64::MAX)
        );
        assert_eq!(volume_figures(&stat(10, 20)), (40_960, 40_960));
    }

    #[test]
    fn labels_are_cut_at_32_units() {
        assert_eq!(
            volume_label("vault"),
            "vault".encode_utf16().collect::<Vec<_>>()
        );
        assert_eq!(volume_label(&"x".repeat(40)).len(), 32);
        // 31 units + an emoji (2 units) would be 33: the emoji is left out whole.
        let label = volume_label(&format!("{}😀", "y".repeat(31)));
        assert_eq!(label.len(), 31);
        assert!(String::from_utf16(&label).is_ok());
        assert!(volume_label("").is_empty());
    }
}
