//! WinFsp file names (`\dir\file`, UTF-16, no drive letter) ↔ the operations
//! layer's names and `/`-separated paths.
//!
//! Rules, and why:
//! - Input is decoded strictly: an unpaired UTF-16 surrogate cannot become the
//!   UTF-8 name the vault format stores, so it is STATUS_OBJECT_NAME_INVALID
//!   (never replaced with U+FFFD, which would alias distinct names).
//! - Each component must also pass the ops layer's own check
//!   ([`vault_fs::ops::name_in`]: NFC, at most 255 UTF-8 bytes), so a name is
//!   refused here exactly when the ops layer could not hold it.
//! - Characters Windows forbids in names (`< > : " / | ? *`, controls) are
//!   refused; `:` in particular is the stream separator, and the drive has no
//!   named streams.
//! - Case: the vault is case-sensitive and so is the drive (the volume is
//!   mounted with CaseSensitiveSearch and CasePreservedNames). Names pass
//!   through unchanged: `a.txt` and `A.txt` are two files, as on the Linux
//!   mount and in the official apps. Nothing is case-folded.
//! - New names are stricter than looked-up ones: a reserved device name
//!   (`CON`, `nul.txt`, `COM1`…) or a trailing dot or space cannot be created,
//!   because Win32 programs (Explorer included) could never open it again.
//!   Such names made elsewhere (Linux, macOS) still open through NT paths.
//! - Listing output: a stored name Windows cannot represent (forbidden
//!   characters such as `:` or `\`, or longer than 255 UTF-16 units) is left
//!   out of listings (see [`name_for_windows`]); it stays intact in the vault.

use std::ffi::OsStr;

use vault_fs::ops::name_in;

use crate::status::{NtStatus, STATUS_OBJECT_NAME_INVALID, ntstatus};

/// The separator of WinFsp file names.
const BACKSLASH: u16 = b'\\' as u16;

/// Longest component Windows handles, in UTF-16 units (the volume's
/// MaxComponentLength; WinFsp's directory entries hold no more).
pub const MAX_COMPONENT_UNITS: usize = 255;

/// A validated path from the drive's root: its components, NFC-normalised.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WinPath {
    components: Vec<String>,
}

impl WinPath {
    /// The root (`\`).
    pub fn root() -> WinPath {
        WinPath::default()
    }

    /// Parses a WinFsp file name: `\`, `\a`, `\a\b` (one trailing `\` is
    /// accepted, as directory opens may carry it).
    pub fn parse(name: &[u16]) -> Result<WinPath, NtStatus> {
        let rest = match name.split_first() {
            Some((&BACKSLASH, rest)) => rest,
            _ => return Err(STATUS_OBJECT_NAME_INVALID),
        };
        if rest.is_empty() {
            return Ok(WinPath::root());
        }
        // `\\` is not the root: the component between the two is empty (refused below).
        let rest = match rest.strip_suffix(&[BACKSLASH]) {
            Some(stripped) if !stripped.is_empty() => stripped,
            _ => rest,
        };
        let components = rest
            .split(|&unit| unit == BACKSLASH)
            .map(component_in)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(WinPath { components })
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.components.is_empty()
    }

    /// The components, root first.
    pub fn components(&self) -> &[String] {
        &self.components
    }

    /// The path as `VaultFs::resolve_path` takes it. Components never contain
    /// `/` (refused on input), so joining with it loses nothing.
    pub fn ops_path(&self) -> String {
        self.components.join("/")
    }

    /// The parent and the last name; `None` for the root.
    pub fn split_last(&self) -> Option<(WinPath, &str)> {
        let (last, parent) = self.components.split_last()?;
        Some((
            WinPath {
                components: parent.to_vec(),
            },
            last.as_str(),
        ))
    }

    /// Whether `self` is `other` or lies below it (a directory cannot move there).
    pub fn starts_with(&self, other: &WinPath) -> bool {
        self.components.starts_with(&other.components)
    }
}

/// One component of a WinFsp name → the ops layer's name.
fn component_in(units: &[u16]) -> Result<String, NtStatus> {
    if units.is_empty() || units.len() > MAX_COMPONENT_UNITS {
        return Err(STATUS_OBJECT_NAME_INVALID);
    }
    let name: String = char::decode_utf16(units.iter().copied())
        .collect::<Result<_, _>>()
        .map_err(|_| STATUS_OBJECT_NAME_INVALID)?;
    if name.chars().any(forbidden_in_windows_name) {
        return Err(STATUS_OBJECT_NAME_INVALID);
    }
    // `.`, `..`, NUL, `/`, over-long UTF-8: the ops layer's own rules.
    name_in(OsStr::new(&name)).map_err(|e| ntstatus(e.kind()))
}

/// Characters Windows never allows in a file name (Microsoft's "Naming
/// Files, Paths, and Namespaces"): controls 0-31 and `< > : " / \ | ? *`.
fn forbidden_in_windows_name(c: char) -> bool {
    (c as u32) < 0x20 || matches!(c, '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*')
}

/// Checks a name about to be created (file, directory, rename target): on
/// top of [`WinPath::parse`]'s rules, no reserved device name and no
/// trailing dot or space.
pub fn check_new_name(name: &str) -> Result<(), NtStatus> {
    if name.ends_with('.') || name.ends_with(' ') || is_reserved_device_name(name) {
        return Err(STATUS_OBJECT_NAME_INVALID);
    }
    Ok(())
}

/// Whether Win32 treats `name` as a device (`CON`, `nul.txt`, `COM1.tar.gz`,
/// `LPT²`…): the part before the first dot, trailing spaces ignored,
/// compared without regard to ASCII case.
pub fn is_reserved_device_name(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    if matches!(upper.as_str(), "CON" | "PRN" | "AUX" | "NUL") {
        return true;
    }
    let Some(port) = upper
        .strip_prefix("COM")
        .or_else(|| upper.strip_prefix("LPT"))
    else {
        return false;
    };
    let mut chars = port.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => c.is_ascii_digit() || matches!(c, '¹' | '²' | '³'),
        _ => false,
    }
}

/// A stored name as a Windows directory entry; `None` when Windows cannot
/// show it (forbidden characters, more than 255 UTF-16 units), and the
/// listing then leaves it out.
pub fn name_for_windows(name: &str) -> Option<Vec<u16>> {
    if name.is_empty() || name.chars().any(forbidden_in_windows_name) {
        return None;
    }
    let units: Vec<u16> = name.encode_utf16().collect();
    (units.len() <= MAX_COMPONENT_UNITS).then_some(units)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::STATUS_NAME_TOO_LONG;

    fn w(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    fn parse(s: &str) -> Result<Vec<String>, NtStatus> {
        WinPath::parse(&w(s)).map(|p| p.components().to_vec())
    }

    #[test]
    fn root_and_simple_paths() {
        assert!(WinPath::parse(&w("\\")).unwrap().is_root());
        assert_eq!(parse("\\a"), Ok(vec!["a".to_string()]));
        assert_eq!(
            parse("\\dir\\sub\\file.txt"),
            Ok(vec!["dir".into(), "sub".into(), "file.txt".into()])
        );
        assert_eq!(parse("\\dir\\"), Ok(vec!["dir".to_string()]));
        assert_eq!(
            WinPath::parse(&w("\\dir\\sub")).unwrap().ops_path(),
            "dir/sub"
        );
        assert_eq!(WinPath::root().ops_path(), "");
    }

    #[test]
    fn malformed_paths_are_invalid() {
        for bad in ["", "a", "a\\b", "\\a\\\\b", "\\\\", "\\a\\\\"] {
            assert_eq!(parse(bad), Err(STATUS_OBJECT_NAME_INVALID), "{bad:?}");
        }
    }

    #[test]
    fn dot_names_and_nul_are_invalid() {
        for bad in ["\\.", "\\..", "\\a\\..\\b", "\\a\0b"] {
            assert_eq!(parse(bad), Err(STATUS_OBJECT_NAME_INVALID), "{bad:?}");
        }
    }

    #[test]
    fn forbidden_characters_are_invalid() {
        for c in ['<', '>', ':', '"', '/', '|', '?', '*', '\u{1}', '\u{1f}'] {
            let path = format!("\\a{c}b");
            assert_eq!(parse(&path), Err(STATUS_OBJECT_NAME_INVALID), "{c:?}");
        }
        // A named stream is refused (no streams on this drive).
        assert_eq!(
            parse("\\f.txt:Zone.Identifier:$DATA"),
            Err(STATUS_OBJECT_NAME_INVALID)
        );
    }

    #[test]
    fn unpaired_surrogates_are_invalid() {
        let mut lone_high = w("\\a");
        lone_high.push(0xD800);
        assert_eq!(WinPath::parse(&lone_high), Err(STATUS_OBJECT_NAME_INVALID));
        let mut lone_low = w("\\");
        lone_low.push(0xDC00);
        lone_low.extend(w("x"));
        assert_eq!(WinPath::parse(&lone_low), Err(STATUS_OBJECT_NAME_INVALID));
        // Reversed pair: low then high.
        let reversed = vec![BACKSLASH, 0xDE00, 0xD83D];
        assert_eq!(WinPath::parse(&reversed), Err(STATUS_OBJECT_NAME_INVALID));
    }

    #[test]
    fn surrogate_pairs_decode() {
        assert_eq!(parse("\\😀.txt"), Ok(vec!["😀.txt".to_string()]));
    }

    #[test]
    fn input_is_normalised_to_nfc() {
        // "é" as e + combining acute (NFD) arrives as the precomposed U+00E9.
        assert_eq!(parse("\\cafe\u{301}"), Ok(vec!["caf\u{e9}".to_string()]));
    }

    #[test]
    fn case_is_preserved() {
        assert_eq!(parse("\\ReadMe.TXT"), Ok(vec!["ReadMe.TXT".to_string()]));
        assert_ne!(parse("\\a.txt"), parse("\\A.txt"));
    }

    #[test]
    fn component_length_limits() {
        let ascii_255 = "a".repeat(255);
        assert_eq!(
            parse(&format!("\\{ascii_255}")),
            Ok(vec![ascii_255.clone()])
        );
        let ascii_256 = "a".repeat(256);
        assert_eq!(
            parse(&format!("\\{ascii_256}")),
            Err(STATUS_OBJECT_NAME_INVALID)
        );
        // 100 CJK characters: 100 UTF-16 units (fine for Windows) but 300
        // UTF-8 bytes, more than the ops layer's 255.
        let cjk = "漢".repeat(100);
        assert_eq!(parse(&format!("\\{cjk}")), Err(STATUS_NAME_TOO_LONG));
        let cjk_85 = "漢".repeat(85);
        assert_eq!(parse(&format!("\\{cjk_85}")), Ok(vec![cjk_85.clone()]));
    }

    #[test]
    fn long_paths_are_accepted() {
        // Far beyond MAX_PATH (260): WinFsp passes long paths, and so do we.
        let component = "d".repeat(200);
        let path: String = (0..100).map(|_| format!("\\{component}")).collect();
        let parsed = parse(&path).unwrap();
        assert_eq!(parsed.len(), 100);
        assert!(parsed.iter().all(|c| c == &component));
    }

    #[test]
    fn split_last_and_starts_with() {
        let p = WinPath::parse(&w("\\a\\b\\c")).unwrap();
        let (parent, name) = p.split_last().unwrap();
        assert_eq!(name, "c");
        assert_eq!(parent.ops_path(), "a/b");
        assert!(p.starts_with(&parent));
        assert!(p.starts_with(&p));
        assert!(!parent.starts_with(&p));
        assert!(p.starts_with(&WinPath::root()));
        assert!(WinPath::root().split_last().is_none());
        let ab = WinPath::parse(&w("\\ab")).unwrap();
        let a = WinPath::parse(&w("\\a")).unwrap();
        assert!(!ab.starts_with(&a), "component-wise, not string prefix");
    }

    #[test]
    fn reserved_device_names() {
        for name in [
            "CON",
            "con",
            "Con.txt",
            "PRN",
            "AUX",
            "NUL",
            "nul.tar.gz",
            "COM1",
            "com9.log",
            "LPT1",
            "LPT0",
            "COM0",
            "LPT²",
            "COM³.x",
            "NUL .txt",
        ] {
            assert!(is_reserved_device_name(name), "{name:?}");
            assert_eq!(
                check_new_name(name),
                Err(STATUS_OBJECT_NAME_INVALID),
                "{name:?}"
            );
        }
        for name in [
            "CONSOLE", "con1", "COM10", "LPT", "nullable", "a.CON", "COMx", ".con",
        ] {
            assert!(!is_reserved_device_name(name), "{name:?}");
            assert_eq!(check_new_name(name), Ok(()), "{name:?}");
        }
    }

    #[test]
    fn trailing_dots_and_spaces_cannot_be_created() {
        for name in ["file.", "file ", "dir..", "x. "] {
            assert_eq!(
                check_new_name(name),
                Err(STATUS_OBJECT_NAME_INVALID),
                "{name:?}"
            );
            // …but an existing one can still be looked up.
            assert_eq!(parse(&format!("\\{name}")), Ok(vec![name.to_string()]));
        }
        assert_eq!(check_new_name(".hidden"), Ok(()));
    }

    #[test]
    fn names_for_windows() {
        assert_eq!(name_for_windows("plain.txt"), Some(w("plain.txt")));
        assert_eq!(name_for_windows("😀"), Some(vec![0xD83D, 0xDE00]));
        // Names made on Linux that Windows cannot show are left out.
        for hidden in [
            "a:b",
            "back\\slash",
            "what?",
            "tab\tname",
            "star*",
            "pipe|",
            "",
        ] {
            assert_eq!(name_for_windows(hidden), None, "{hidden:?}");
        }
        // 255 UTF-8 bytes of 4-byte characters is 126 UTF-16 units: fine.
        assert!(name_for_windows(&"😀".repeat(63)).is_some());
        // Reserved and trailing-dot names are shown: they open via NT paths.
        assert_eq!(name_for_windows("CON"), Some(w("CON")));
        assert_eq!(name_for_windows("x."), Some(w("x.")));
    }

    #[test]
    fn round_trip_listing_name_to_lookup() {
        for name in [
            "a",
            "Ünïcödé",
            "😀 smile.txt",
            "CON",
            "trailing.",
            "x".repeat(255).as_str(),
        ] {
            let units = name_for_windows(name).unwrap();
            let mut path = vec![BACKSLASH];
            path.extend(&units);
            let parsed = WinPath::parse(&path).unwrap();
            assert_eq!(parsed.components(), &[name.to_string()], "{name:?}");
            assert_eq!(String::from_utf16(&units).unwrap(), name);
        }
    }
}
