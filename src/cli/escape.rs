//! C-style escaping of untrusted text for the terminal.
//!
//! Decrypted names (and any text a server sends) may hold control
//! characters: a newline forges an output line, an ESC sequence rewrites the
//! terminal. Every such string the CLI prints goes through [`c_escape`];
//! `ls -0` is the one raw outlet, for scripts.

use std::borrow::Cow;
use std::fmt::Write;

/// `s` with control characters written as `\n`, `\t`, `\r`, `\xHH` (ASCII and
/// DEL) or `\u{HHHH}` (C1), and a backslash as `\\`, so the escaped form
/// cannot be mistaken for another name. Borrowed when nothing needs escaping.
pub(crate) fn c_escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || c.is_control()) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() && (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_backslash_only() {
        assert!(matches!(c_escape("plain näme.txt"), Cow::Borrowed(_)));
        assert_eq!(c_escape("a\nb"), "a\\nb");
        assert_eq!(c_escape("\x1b[31mred"), "\\x1b[31mred");
        assert_eq!(c_escape("a\\nb"), "a\\\\nb");
        assert_eq!(c_escape("nul\0"), "nul\\x00");
        assert_eq!(c_escape("tab\tcr\r\x7f"), "tab\\tcr\\r\\x7f");
        assert_eq!(c_escape("c1\u{9b}"), "c1\\u{009b}");
    }
}
