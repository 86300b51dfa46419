//! Vault symlinks as Windows symbolic-link reparse points
//! (`REPARSE_DATA_BUFFER`, SymbolicLinkReparseBuffer layout, ntifs.h).
//!
//! Only relative targets translate: `../docs/a.txt` becomes `..\docs\a.txt`
//! with SYMLINK_FLAG_RELATIVE, which Windows resolves inside the drive as
//! Linux does inside the mount. An absolute POSIX target (`/etc/hosts`)
//! names a place on some other machine; there is no honest Windows
//! equivalent, so such links report STATUS_IO_REPARSE_DATA_INVALID.

use crate::attr::IO_REPARSE_TAG_SYMLINK;
use crate::path::name_for_windows;
use crate::status::{NtStatus, STATUS_BUFFER_TOO_SMALL, STATUS_IO_REPARSE_DATA_INVALID};

/// The largest reparse buffer Windows accepts (MAXIMUM_REPARSE_DATA_BUFFER_SIZE).
pub const MAX_REPARSE_BUFFER: usize = 16 * 1024;
/// The target is relative to the link's directory.
pub const SYMLINK_FLAG_RELATIVE: u32 = 1;
/// Tag, data length, reserved: the generic reparse header.
const HEADER_LEN: usize = 8;
/// Substitute/print name offsets and lengths, flags.
const SYMLINK_FIELDS_LEN: usize = 12;

/// A vault symlink target as a relative Windows path (UTF-16).
pub fn windows_target(target: &str) -> Result<Vec<u16>, NtStatus> {
    if target.is_empty() || target.starts_with('/') {
        return Err(STATUS_IO_REPARSE_DATA_INVALID);
    }
    let mut out = Vec::with_capacity(target.len());
    for part in target.split('/').filter(|p| !p.is_empty()) {
        let units = match part {
            "." | ".." => part.encode_utf16().collect(),
            _ => name_for_windows(part).ok_or(STATUS_IO_REPARSE_DATA_INVALID)?,
        };
        if !out.is_empty() {
            out.push(u16::from(b'\\'));
        }
        out.extend(units);
    }
    Ok(out)
}

/// The reparse buffer for a symlink to `target` (substitute and print name
/// both the translated target).
pub fn symlink_reparse_buffer(target: &str) -> Result<Vec<u8>, NtStatus> {
    let path = windows_target(target)?;
    let name_bytes = path.len() * 2;
    let total = HEADER_LEN + SYMLINK_FIELDS_LEN + 2 * name_bytes;
    if total > MAX_REPARSE_BUFFER {
        return Err(STATUS_IO_REPARSE_DATA_INVALID);
    }
    // Both fit in u16: total is at most 16 KiB.
    let data_len = (SYMLINK_FIELDS_LEN + 2 * name_bytes) as u16;
    let name_len = name_bytes as u16;
    let mut buf = Vec::with_capacity(total);
    buf.extend_from_slice(&IO_REPARSE_TAG_SYMLINK.to_le_bytes());
    buf.extend_from_slice(&data_len.to_le_bytes());
    buf.extend_from_slice(&0u16.to_le_bytes()); // Reserved
    buf.extend_from_slice(&0u16.to_le_bytes()); // SubstituteNameOffset
    buf.extend_from_slice(&name_len.to_le_bytes()); // SubstituteNameLength
    buf.extend_from_slice(&name_len.to_le_bytes()); // PrintNameOffset
    buf.extend_from_slice(&name_len.to_le_bytes()); // PrintNameLength
    buf.extend_from_slice(&SYMLINK_FLAG_RELATIVE.to_le_bytes());
    for _ in 0..2 {
        for unit in &path {
            buf.extend_from_slice(&unit.to_le_bytes());
        }
    }
    Ok(buf)
}

/// Copies a reparse buffer into WinFsp's output buffer; returns its size.
pub fn copy_out(reparse: &[u8], out: &mut [u8]) -> Result<usize, NtStatus> {
    let dest = out
        .get_mut(..reparse.len())
        .ok_or(STATUS_BUFFER_TOO_SMALL)?;
    dest.copy_from_slice(reparse);
    Ok(reparse.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    fn w(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    #[test]
    fn relative_targets_translate() {
        assert_eq!(windows_target("a.txt"), Ok(w("a.txt")));
        assert_eq!(windows_target("../docs/a.txt"), Ok(w("..\\docs\\a.txt")));
        assert_eq!(windows_target("./x//y/"), Ok(w(".\\x\\y")));
        assert_eq!(windows_target("😀/ü"), Ok(w("😀\\ü")));
    }

    #[test]
    fn untranslatable_targets() {
        for bad in ["", "/etc/hosts", "/", "a/b:c", "x/what?", "back\\slash"] {
            assert_eq!(
                windows_target(bad),
                Err(STATUS_IO_REPARSE_DATA_INVALID),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn buffer_layout() {
        let b = symlink_reparse_buffer("../t").unwrap();
        let name = w("..\\t");
        let name_bytes = name.len() * 2;
        assert_eq!(u32_at(&b, 0), IO_REPARSE_TAG_SYMLINK);
        assert_eq!(u16_at(&b, 4) as usize, 12 + 2 * name_bytes);
        assert_eq!(u16_at(&b, 6), 0);
        assert_eq!(u16_at(&b, 8), 0);
        assert_eq!(u16_at(&b, 10) as usize, name_bytes);
        assert_eq!(u16_at(&b, 12) as usize, name_bytes);
        assert_eq!(u16_at(&b, 14) as usize, name_bytes);
        assert_eq!(u32_at(&b, 16), SYMLINK_FLAG_RELATIVE);
        assert_eq!(b.len(), 20 + 2 * name_bytes);
        let path: Vec<u16> = b[20..20 + name_bytes]
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(path, name);
        assert_eq!(&b[20..20 + name_bytes], &b[20 + name_bytes..]);
    }

    #[test]
    fn oversized_targets_are_refused() {
        // 40 components of 250 units: 20,000 bytes per name, twice over 16 KiB.
        let long: Vec<String> = (0..40).map(|_| "n".repeat(250)).collect();
        assert_eq!(
            symlink_reparse_buffer(&long.join("/")),
            Err(STATUS_IO_REPARSE_DATA_INVALID)
        );
    }

    #[test]
    fn copy_out_checks_room() {
        let b = symlink_reparse_buffer("x").unwrap();
        let mut big = vec![0u8; 100];
        assert_eq!(copy_out(&b, &mut big), Ok(b.len()));
        assert_eq!(&big[..b.len()], &b[..]);
        let mut small = vec![0u8; b.len() - 1];
        assert_eq!(copy_out(&b, &mut small), Err(STATUS_BUFFER_TOO_SMALL));
    }
}
