//! The desktop application's recovery key (docs/vault-format.md §12): the 64-byte raw masterkey
//! (`encKey || macKey`) plus two CRC-32 check bytes, written as 44 words of a
//! 4096-word list.
//!
//! The word list is a parameter, never part of this crate: the official list
//! (`4096words_en.txt` of the Cryptomator desktop application) is GPL-3.0, and this
//! project is MIT OR Apache-2.0, so users supply their own copy at run time.
//! [`WordList::is_official`] tells whether a loaded list is that exact list, by a
//! SHA-256 of its normalised text ([`OFFICIAL_WORD_LIST_SHA256`]).
//!
//! Decoding is forgiving where that is safe: words may be separated by any
//! whitespace (spaces, tabs, newlines: a key written on several lines), and letter
//! case is ignored. Ignoring case is safe because [`WordList`] refuses a list in
//! which two words differ only in case, so a case-folded word still names exactly
//! one index. Nothing else is guessed: an unknown word is an error naming it.
//!
//! Every buffer holding key bytes, indices or words is zeroized when dropped.

use std::collections::HashMap;
use std::fmt;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::MasterKey;

/// Words in a recovery-key word list (12 bits per word).
pub const WORD_LIST_LEN: usize = 4096;
/// Words in a recovery key: (64 key bytes + 2 check bytes) · 8 / 12.
pub const RECOVERY_KEY_WORDS: usize = 44;
/// File name of the official list in the desktop application's resources
/// (`src/main/resources/i18n/4096words_en.txt` in the cryptomator/cryptomator repository).
pub const OFFICIAL_WORD_LIST_FILE_NAME: &str = "4096words_en.txt";
/// SHA-256 (lower-case hex) of the official list's normalised text (see
/// [`WordList::normalized_sha256_hex`]). Computed from the file in the cryptomator/cryptomator
/// repository (unchanged since 2021; byte-identical in commit e1d4d3e85b6c) and from
/// pycryptomator 1.15's copy (the same bytes).
pub const OFFICIAL_WORD_LIST_SHA256: &str =
    "3ca65890a0577ff5eebd1a6f2a85903fd6e24e377d755944817be92bda7f6777";

const RAW_KEY_LEN: usize = 64;
const CHECK_LEN: usize = 2;
const RECOVERY_BYTES: usize = RAW_KEY_LEN + CHECK_LEN;

/// Why a text is not a usable word list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WordListError {
    /// Not exactly 4096 non-empty lines.
    #[error("has {found} words, a recovery-key word list has 4096 (one per line)")]
    WrongCount {
        /// Non-empty lines found.
        found: usize,
    },
    /// A line holds more than one word.
    #[error("line {line} holds more than one word")]
    NotOneWord {
        /// 1-based line number.
        line: usize,
    },
    /// The same word twice (letter case ignored).
    #[error("word {word:?} appears twice (lines {first} and {second}, letter case ignored)")]
    Duplicate {
        /// The word.
        word: String,
        /// 1-based line of the first occurrence.
        first: usize,
        /// 1-based line of the second occurrence.
        second: usize,
    },
}

/// Why a text is not a valid recovery key. The messages say what to fix.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoveryKeyError {
    /// No words at all.
    #[error("the recovery key is empty")]
    Empty,
    /// A word that is not in the list (a typo). `word` is the mistyped text, not a key word.
    #[error("word {position} ({word:?}) is not in the recovery-key word list: it is mistyped")]
    UnknownWord {
        /// The word as typed.
        word: String,
        /// 1-based position in the key.
        position: usize,
    },
    /// Words come in pairs (two 12-bit indices per 3 bytes).
    #[error("the recovery key has {count} words, an odd number: a word is missing or one too many")]
    OddWordCount {
        /// Words given.
        count: usize,
    },
    /// An even number of known words, but not 44.
    #[error("the recovery key has {count} words; a recovery key has 44")]
    WrongLength {
        /// Words given.
        count: usize,
    },
    /// The check bytes do not match the key bytes.
    #[error("the recovery key's check bytes do not match: a word is mistyped or missing")]
    ChecksumMismatch,
}

impl fmt::Debug for RecoveryKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The unknown word is shown by Display (the user typed it and must find it);
        // Debug (logs, panics) names only the variant and position.
        match self {
            RecoveryKeyError::UnknownWord { position, .. } => f
                .debug_struct("UnknownWord")
                .field("position", position)
                .finish_non_exhaustive(),
            RecoveryKeyError::Empty => f.write_str("Empty"),
            RecoveryKeyError::OddWordCount { count } => f
                .debug_struct("OddWordCount")
                .field("count", count)
                .finish(),
            RecoveryKeyError::WrongLength { count } => {
                f.debug_struct("WrongLength").field("count", count).finish()
            }
            RecoveryKeyError::ChecksumMismatch => f.write_str("ChecksumMismatch"),
        }
    }
}

/// A 4096-word list: index → word and (case-folded) word → index.
pub struct WordList {
    words: Vec<String>,
    index: HashMap<String, u16>,
}

impl fmt::Debug for WordList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WordList")
            .field("official", &self.is_official())
            .finish_non_exhaustive()
    }
}

impl WordList {
    /// Parses a list file's text: one word per line; a leading byte-order mark, `\r`,
    /// leading/trailing whitespace and empty lines are ignored; exactly 4096 words,
    /// no word twice (letter case ignored).
    pub fn parse(text: &str) -> Result<WordList, WordListError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = Vec::with_capacity(WORD_LIST_LEN);
        for (i, line) in text.split('\n').enumerate() {
            let word = line.trim();
            if word.is_empty() {
                continue;
            }
            if word.contains(char::is_whitespace) {
                return Err(WordListError::NotOneWord { line: i + 1 });
            }
            lines.push((i + 1, word));
        }
        Self::build(lines)
    }

    /// A list from words in index order (tests use synthetic lists).
    pub fn from_words<S: AsRef<str>>(words: &[S]) -> Result<WordList, WordListError> {
        let mut lines = Vec::with_capacity(words.len());
        for (i, w) in words.iter().enumerate() {
            let word = w.as_ref().trim();
            if word.is_empty() || word.contains(char::is_whitespace) {
                return Err(WordListError::NotOneWord { line: i + 1 });
            }
            lines.push((i + 1, word));
        }
        Self::build(lines)
    }

    fn build(lines: Vec<(usize, &str)>) -> Result<WordList, WordListError> {
        if lines.len() != WORD_LIST_LEN {
            return Err(WordListError::WrongCount { found: lines.len() });
        }
        let mut index: HashMap<String, u16> = HashMap::with_capacity(WORD_LIST_LEN);
        let mut first_line: HashMap<String, usize> = HashMap::with_capacity(WORD_LIST_LEN);
        let mut words = Vec::with_capacity(WORD_LIST_LEN);
        for (i, (line, word)) in lines.into_iter().enumerate() {
            let folded = word.to_lowercase();
            if let Some(first) = first_line.get(&folded) {
                return Err(WordListError::Duplicate {
                    word: word.to_owned(),
                    first: *first,
                    second: line,
                });
            }
            // i < 4096 (checked above), so it fits in 12 bits.
            let idx = u16::try_from(i).map_err(|_| WordListError::WrongCount { found: i + 1 })?;
            first_line.insert(folded.clone(), line);
            index.insert(folded, idx);
            words.push(word.to_owned());
        }
        Ok(WordList { words, index })
    }

    /// The normalised text: the 4096 words in order, each followed by `\n`.
    fn normalized(&self) -> String {
        let mut s = String::with_capacity(self.words.iter().map(|w| w.len() + 1).sum());
        for w in &self.words {
            s.push_str(w);
            s.push('\n');
        }
        s
    }

    /// SHA-256 (lower-case hex) of the normalised text: the words in order, each
    /// followed by one `\n` (so line endings, blank lines and surrounding spaces
    /// of the file do not matter, the words and their order do).
    pub fn normalized_sha256_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&Sha256::digest(self.normalized().as_bytes()))
    }

    /// Whether this is the desktop application's official English list.
    pub fn is_official(&self) -> bool {
        self.normalized_sha256_hex() == OFFICIAL_WORD_LIST_SHA256
    }

    /// The word at `index` (0..4096).
    pub fn word(&self, index: u16) -> Option<&str> {
        self.words.get(usize::from(index)).map(String::as_str)
    }

    fn lookup(&self, word: &str) -> Option<u16> {
        if let Some(i) = self.index.get(word) {
            return Some(*i);
        }
        let folded = Zeroizing::new(word.to_lowercase());
        self.index.get(folded.as_str()).copied()
    }
}

/// CRC-32 (IEEE 802.3, reflected, as zlib's `crc32`).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// The two check bytes of docs/vault-format.md §12: the low 16 bits of the CRC-32, little-endian.
fn check_bytes(raw: &[u8]) -> [u8; CHECK_LEN] {
    let crc = crc32(raw);
    [(crc & 0xFF) as u8, ((crc >> 8) & 0xFF) as u8]
}

/// The recovery key of `key`: 44 words joined by single spaces (one line, no newline).
pub fn encode(key: &MasterKey, list: &WordList) -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; RECOVERY_BYTES]);
    bytes[..RAW_KEY_LEN].copy_from_slice(&key.raw()[..]);
    let check = check_bytes(&bytes[..RAW_KEY_LEN]);
    bytes[RAW_KEY_LEN..].copy_from_slice(&check);
    let mut indices = Zeroizing::new([0u16; RECOVERY_KEY_WORDS]);
    for (g, chunk) in bytes.chunks_exact(3).enumerate() {
        let n = (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]);
        indices[2 * g] = ((n >> 12) & 0xFFF) as u16;
        indices[2 * g + 1] = (n & 0xFFF) as u16;
    }
    // Reserve the exact length first so the string never reallocates (no stray copies).
    let len: usize = indices
        .iter()
        .map(|&i| list.word(i).map_or(0, str::len))
        .sum::<usize>()
        + RECOVERY_KEY_WORDS
        - 1;
    let mut out = Zeroizing::new(String::with_capacity(len));
    for (n, &i) in indices.iter().enumerate() {
        if n > 0 {
            out.push(' ');
        }
        // A WordList always has 4096 words and every index is < 4096.
        out.push_str(list.word(i).unwrap_or_default());
    }
    out
}

/// Decodes a recovery key (see the module docs for what is tolerated). Errors in this
/// order: empty; the first unknown word; an odd word count; not 44 words; check bytes.
pub fn decode(text: &str, list: &WordList) -> Result<MasterKey, RecoveryKeyError> {
    // Exact capacity: the Vec never reallocates (no unzeroized copies of indices).
    let mut indices: Zeroizing<Vec<u16>> =
        Zeroizing::new(Vec::with_capacity(text.split_whitespace().count()));
    for (n, word) in text.split_whitespace().enumerate() {
        match list.lookup(word) {
            Some(i) => indices.push(i),
            None => {
                return Err(RecoveryKeyError::UnknownWord {
                    word: word.to_owned(),
                    position: n + 1,
                });
            }
        }
    }
    let count = indices.len();
    if count == 0 {
        return Err(RecoveryKeyError::Empty);
    }
    if !count.is_multiple_of(2) {
        return Err(RecoveryKeyError::OddWordCount { count });
    }
    if count != RECOVERY_KEY_WORDS {
        return Err(RecoveryKeyError::WrongLength { count });
    }
    let mut bytes = Zeroizing::new([0u8; RECOVERY_BYTES]);
    for (g, pair) in indices.chunks_exact(2).enumerate() {
        let n = (u32::from(pair[0]) << 12) | u32::from(pair[1]);
        bytes[3 * g] = (n >> 16) as u8;
        bytes[3 * g + 1] = (n >> 8) as u8;
        bytes[3 * g + 2] = n as u8;
    }
    let (raw, check) = bytes.split_at(RAW_KEY_LEN);
    // Not secret-dependent timing in any useful sense (the CRC is public given the key),
    // but compare without early exit anyway.
    let expected = check_bytes(raw);
    if (expected[0] ^ check[0]) | (expected[1] ^ check[1]) != 0 {
        return Err(RecoveryKeyError::ChecksumMismatch);
    }
    let raw: &[u8; RAW_KEY_LEN] = raw
        .try_into()
        .map_err(|_| RecoveryKeyError::WrongLength { count })?;
    Ok(MasterKey::from_raw(raw))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        // The standard CRC-32/ISO-HDLC check value.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn check_bytes_are_low_16_bits_little_endian() {
        let crc = crc32(b"123456789");
        assert_eq!(check_bytes(b"123456789"), [0x26, 0x39]);
        assert_eq!(crc & 0xFFFF, 0x3926);
    }
}
