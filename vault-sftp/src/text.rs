//! Text that comes from the server, made safe to show.
//!
//! A server chooses its keyboard-interactive prompts, instructions and SFTP status messages.
//! Shown bare, a prompt could imitate one of ours (`Vault password for …: `) and an escape
//! sequence could rewrite the terminal. So server prompts are shown as
//! `[sftp USER@HOST] TEXT` with control characters removed, whitespace runs collapsed and the
//! text cut at [`MAX_SERVER_TEXT`] characters; status messages keep every character but are
//! C-escaped (`\n`, `\x1b`, `\\`).

/// Longest server text shown, in characters (after cleaning).
pub const MAX_SERVER_TEXT: usize = 256;

/// Unicode format characters that reorder what follows (bidirectional overrides and
/// isolates): a server could make its text read differently from what it is.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with control characters removed, every run of whitespace turned into one space
/// (leading whitespace dropped) and cut at [`MAX_SERVER_TEXT`] characters.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_SERVER_TEXT * 4));
    let mut count = 0usize;
    let mut space = false;
    for c in text.chars() {
        if count >= MAX_SERVER_TEXT {
            break;
        }
        if c.is_whitespace() {
            space = count > 0;
            continue;
        }
        if c.is_control() || is_bidi_control(c) {
            continue;
        }
        if space {
            out.push(' ');
            count += 1;
            space = false;
            if count >= MAX_SERVER_TEXT {
                break;
            }
        }
        out.push(c);
        count += 1;
    }
    // A trailing run of whitespace stays one space ("Verification code: ").
    if space && count < MAX_SERVER_TEXT {
        out.push(' ');
    }
    out
}

/// Server text as it is shown: `[sftp USER@HOST] TEXT` (TEXT [`clean`]ed).
pub fn server_text(user_at_host: &str, text: &str) -> String {
    format!("[sftp {}] {}", clean(user_at_host), clean(text))
}

/// `text` with `\` and control characters C-escaped (`\\`, `\n`, `\r`, `\t`, `\xHH`,
/// `\u{HHHH}` for other control and bidirectional characters); other characters unchanged.
pub fn c_escape(text: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() || is_bidi_control(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn server_text_is_marked_cleaned_and_cut() {
        assert_eq!(
            server_text("traveller@host", "Verification code: "),
            "[sftp traveller@host] Verification code: "
        );
        assert_eq!(
            server_text("u@h", "\n\x1b[2K\rVault password for sftp://u@h/v:\t\t "),
            "[sftp u@h] [2K Vault password for sftp://u@h/v: "
        );
        assert_eq!(clean("a \u{202e}b\x07  \n c"), "a b c");
        let long = "x".repeat(10_000);
        assert_eq!(clean(&long).chars().count(), MAX_SERVER_TEXT);
        assert_eq!(clean(&"é ".repeat(1000)).chars().count(), MAX_SERVER_TEXT);
        assert_eq!(clean(""), "");
    }

    #[test]
    fn c_escape_shows_every_control_character() {
        assert_eq!(c_escape("no such file"), "no such file");
        assert_eq!(c_escape("a\nb\x1b[31m\\"), "a\\nb\\x1b[31m\\\\");
        assert_eq!(c_escape("\u{202e}\u{85}"), "\\u{202e}\\u{0085}");
        assert_eq!(c_escape("\x7f\0"), "\\x7f\\x00");
    }
}
