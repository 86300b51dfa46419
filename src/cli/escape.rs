//! C-escaping of text that came from a server or storage, for one-line messages
//! (docs: "server text with control characters is printed C-escaped"). Kept tiny
//! on purpose: other helpers may add the same function; the lead unifies them.

use std::borrow::Cow;

/// `\\`, `\n`, `\r`, `\t` and every other control character (C0, DEL, C1) as
/// `\xNN` / `\u{NNNN}`; everything else unchanged. Borrowed when nothing changes.
pub fn c_escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || c.is_control()) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x100 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_backslash() {
        assert_eq!(c_escape("plain é"), "plain é");
        assert_eq!(
            c_escape("a\nb\x1b[31m\\c\u{85}\t"),
            "a\\nb\\x1b[31m\\\\c\\x85\\t"
        );
    }
}
