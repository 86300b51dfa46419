//! Sync-conflict copies (docs/vault-format.md §10): finding the ciphertext inside a conflict
//! copy's name and computing the cleartext name Cryptomator gives it.
//! Pure name logic; the engine does the storage look-ups and moves.

use std::collections::{HashMap, HashSet};

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

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_sep(b: u8) -> bool {
    b == b'_' || b == b'-'
}

/// The search of step 1, with memoisation: each retry shrinks the region, but two retries per
/// failed run would otherwise make a name full of separators exponential.
struct Search<'a, 'f> {
    base: &'a [u8],
    /// `run[p]`: number of base64url characters starting at `p`.
    run: Vec<usize>,
    try_decrypt: &'f mut dyn FnMut(&str) -> Option<String>,
    failed_regions: HashSet<(usize, usize)>,
    tried_runs: HashMap<(usize, usize), Option<String>>,
}

impl Search<'_, '_> {
    /// Length of the match of
    /// `X{20}(X{4})*(X{4}|X{3}=|X{2}==)` (X = base64url) at `p`, not crossing `end`,
    /// with the backtracking a greedy regex engine does (Java's `Matcher.find`).
    fn match_at(&self, p: usize, end: usize) -> Option<usize> {
        let n = self.run[p].min(end - p);
        if n < 20 {
            return None;
        }
        let r = (n - 20) % 4;
        let followed_by =
            |s: &[u8]| self.base.get(p + n..p + n + s.len()) == Some(s) && p + n + s.len() <= end;
        if r == 3 && followed_by(b"=") {
            return Some(n + 1);
        }
        if r == 2 && followed_by(b"==") {
            return Some(n + 2);
        }
        (n >= 24).then_some(n - r)
    }

    /// Leftmost match in `[start, end)`.
    fn find(&self, start: usize, end: usize) -> Option<(usize, usize)> {
        (start..end).find_map(|p| self.match_at(p, end).map(|len| (p, p + len)))
    }

    fn search(&mut self, start: usize, end: usize) -> Option<Extracted> {
        if start >= end || self.failed_regions.contains(&(start, end)) {
            return None;
        }
        let result = self.search_uncached(start, end);
        if result.is_none() {
            self.failed_regions.insert((start, end));
        }
        result
    }

    fn search_uncached(&mut self, start: usize, end: usize) -> Option<Extracted> {
        let (rs, re) = self.find(start, end)?;
        let run = self.base.get(rs..re)?;
        let decrypted = match self.tried_runs.get(&(rs, re)) {
            Some(d) => d.clone(),
            None => {
                // The run is ASCII, so it is valid UTF-8.
                let d = std::str::from_utf8(run)
                    .ok()
                    .and_then(|s| (self.try_decrypt)(s));
                self.tried_runs.insert((rs, re), d.clone());
                d
            }
        };
        if let Some(cleartext) = decrypted {
            return Some(Extracted {
                start: rs,
                end: re,
                cleartext,
            });
        }
        // `_` and `-` are base64url letters and typical separators: retry around them (docs/vault-format.md §10).
        let first = run.iter().position(|&b| is_sep(b))?;
        if let Some(found) = self.search(rs + first.max(1), end) {
            return Some(found);
        }
        let last = run.iter().rposition(|&b| is_sep(b))?;
        self.search(start, rs + last)
    }
}

/// Longest base name searched for a conflict copy's ciphertext. A real copy is
/// a stored name (at most the shortening threshold, 220 by default, and no
/// file system stores names over 255 bytes) plus a sync client's short suffix.
/// Longer names come only from a hostile storage: the retries around `_`/`-`
/// would cost time quadratic in the length and recursion as deep as the name
/// is long, so such names are never conflict copies and the search is
/// linear-bounded.
pub const MAX_CONFLICT_NAME: usize = 1024;

/// Step 1 of docs/vault-format.md §10: finds the leftmost-longest base64url run in `base`
/// (entry name minus `.c9r`) that `try_decrypt` accepts, with the retry
/// regions around `_`/`-`. `None` when nothing decrypts, and for a `base`
/// longer than [`MAX_CONFLICT_NAME`] bytes.
pub fn extract_ciphertext(
    base: &str,
    try_decrypt: &mut dyn FnMut(&str) -> Option<String>,
) -> Option<Extracted> {
    if base.len() > MAX_CONFLICT_NAME {
        return None;
    }
    let bytes = base.as_bytes();
    // Only ASCII bytes can be base64url, so byte positions equal the reference's char
    // positions for everything the pattern can match.
    let mut run = vec![0usize; bytes.len() + 1];
    for p in (0..bytes.len()).rev() {
        run[p] = if is_b64url(bytes[p]) {
            run[p + 1] + 1
        } else {
            0
        };
    }
    let mut s = Search {
        base: bytes,
        run,
        try_decrypt,
        failed_regions: HashSet::new(),
        tried_runs: HashMap::new(),
    };
    s.search(0, bytes.len())
}

/// UTF-16 code units back to a string the way Java's UTF-8 encoder sees them: an unpaired
/// surrogate (from a cut through a pair) becomes `?` (docs/vault-format.md §10).
fn from_utf16_java(units: &[u16]) -> String {
    char::decode_utf16(units.iter().copied())
        .map(|r| r.unwrap_or('?'))
        .collect()
}

/// Step 4 of docs/vault-format.md §10: the new cleartext names for a conflicting copy, in the
/// order to try: `stem' + suffix + ext`, then `stem' (1) ext` … `stem' (9) ext`.
/// Counts UTF-16 code units and replaces a split surrogate by `?` as the reference does.
pub fn resolved_name_candidates(
    cleartext: &str,
    suffix0: &str,
    shortening_threshold: usize,
) -> Vec<String> {
    let name: Vec<u16> = cleartext.encode_utf16().collect();
    let suffix0: Vec<u16> = suffix0.encode_utf16().collect();
    // Split at the last '.', only if it is not the first unit.
    let (stem, ext) = match name.iter().rposition(|&u| u == u16::from(b'.')) {
        Some(i) if i > 0 => name.split_at(i),
        _ => (&name[..], &[][..]),
    };
    // Java int arithmetic (truncating division); negative lengths clamp to 0.
    let t = i64::try_from(shortening_threshold).unwrap_or(i64::MAX / 2);
    let max = (t - 4) / 4 * 3 - 16;
    let net = max - ext.len() as i64;
    let clamp = |x: i64, len: usize| usize::try_from(x.max(0)).unwrap_or(0).min(len);
    let suffix = &suffix0[..clamp(net / 2, suffix0.len())];
    let stem_cut = &stem[..clamp(net - (suffix.len() as i64).max(4), stem.len())];

    let mut out = Vec::with_capacity(10);
    let mut first = stem_cut.to_vec();
    first.extend_from_slice(suffix);
    first.extend_from_slice(ext);
    out.push(from_utf16_java(&first));
    for i in 1..=9 {
        let mut c = stem_cut.to_vec();
        c.extend(format!(" ({i})").encode_utf16());
        c.extend_from_slice(ext);
        out.push(from_utf16_java(&c));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const CT: &str = "kftBW-OeB4EvFojO6FclKx_JVLCOzRUlm0BX";

    fn accept_only(good: &'static str) -> impl FnMut(&str) -> Option<String> {
        move |s: &str| (s == good).then(|| "clear".to_owned())
    }

    #[test]
    fn plain_and_suffixed_names_are_found_at_zero() {
        let mut f = accept_only(CT);
        let e = extract_ciphertext(CT, &mut f).unwrap();
        assert_eq!(
            (e.start, e.end, e.cleartext.as_str()),
            (0, CT.len(), "clear")
        );
        let base = format!("{CT} (conflicted copy 2026-11-25 033004)");
        assert_eq!(extract_ciphertext(&base, &mut f).unwrap().end, CT.len());
    }

    #[test]
    fn copy_of_prefix_is_peeled_off_by_the_separator_retries() {
        let mut tried = Vec::new();
        let mut f = |s: &str| {
            tried.push(s.to_owned());
            (s == CT).then(|| "summary.txt".to_owned())
        };
        let base = format!("Copy_of_{CT}");
        let e = extract_ciphertext(&base, &mut f).unwrap();
        assert_eq!(e.start, 8);
        assert_eq!(e.cleartext, "summary.txt");
        // The spec's order: whole run, `_of_…`, `of_…`, `_<ct>`, `<ct>`.
        assert_eq!(tried[0], base);
        assert_eq!(tried.last().unwrap(), CT);
    }

    #[test]
    fn padding_is_part_of_the_run() {
        let ct = "jlEPfoOeyq5NEoBkY1gakQVCf2sK7djf0A==";
        let mut f = accept_only(ct);
        assert_eq!(
            extract_ciphertext(&format!("{ct} (x)"), &mut f)
                .unwrap()
                .end,
            ct.len()
        );
        let ct3 = "Ni7PzxxHgsYs5lNBh6QeXpzAISu-Tp_TCA4=";
        let mut f = accept_only(ct3);
        assert_eq!(
            extract_ciphertext(&format!(".{ct3}"), &mut f)
                .unwrap()
                .start,
            1
        );
    }

    #[test]
    fn nothing_decryptable_is_none_and_short_runs_never_match() {
        let mut f = |_: &str| None;
        assert_eq!(
            extract_ciphertext(
                "Copy_of_abcdefghijklmnopqrstuvwxyz-_-_-_-_-_-_-_-_-_",
                &mut f
            ),
            None
        );
        let mut g = |_: &str| Some("x".to_owned());
        assert_eq!(extract_ciphertext("abcdefghijklmnopqrs (1)", &mut g), None);
        assert_eq!(extract_ciphertext("", &mut g), None);
    }

    #[test]
    fn hostile_long_names_cost_linear_time() {
        // 1 MB names: a run cut by separators everywhere, and a conflict-shaped one.
        for base in [
            "-_".repeat(1 << 19),
            "AAAAAAAAAAAAAAAAAAA_".repeat(1 << 16),
            format!("{CT} (Conflict {})", "1".repeat(1 << 20)),
        ] {
            let start = std::time::Instant::now();
            let mut bytes_tried = 0usize;
            let mut f = |s: &str| {
                bytes_tried += s.len();
                None
            };
            assert_eq!(extract_ciphertext(&base, &mut f), None);
            assert_eq!(bytes_tried, 0);
            assert!(start.elapsed().as_millis() < 500, "{:?}", start.elapsed());
        }
        // Just below the limit, the worst case stays bounded (a real copy is found as before).
        let near = "AAAAAAAAAAAAAAAAAAA_".repeat(MAX_CONFLICT_NAME / 20);
        let mut bytes_tried = 0usize;
        let mut f = |s: &str| {
            bytes_tried += s.len();
            None
        };
        assert_eq!(extract_ciphertext(&near, &mut f), None);
        assert!(bytes_tried < 1 << 20, "{bytes_tried}");
        let mut g = accept_only(CT);
        let base = format!("{CT} (conflicted copy 2026-11-25 033004)");
        assert_eq!(
            extract_ciphertext(&base, &mut g).map(|e| e.end),
            Some(CT.len())
        );
    }

    #[test]
    fn many_separators_stay_fast() {
        let base = "-_".repeat(120);
        let mut calls = 0usize;
        let mut f = |_: &str| {
            calls += 1;
            None
        };
        assert_eq!(extract_ciphertext(&base, &mut f), None);
        assert!(calls < 100_000, "{calls}");
    }

    #[test]
    fn candidates_follow_the_spec_examples() {
        let sfx = " (conflicted copy 2026-11-25 033004)";
        let c = resolved_name_candidates("report.txt", sfx, 220);
        assert_eq!(c.len(), 10);
        assert_eq!(c[0], format!("report{sfx}.txt"));
        assert_eq!(c[1], "report (1).txt");
        assert_eq!(c[9], "report (9).txt");
        assert_eq!(
            resolved_name_candidates("summary.txt", "", 220)[1],
            "summary (1).txt"
        );
        assert_eq!(
            resolved_name_candidates("projects", sfx, 220)[0],
            format!("projects{sfx}")
        );
        assert_eq!(
            resolved_name_candidates(".hidden", "", 220)[1],
            ".hidden (1)"
        );
        // Cut inside an emoji: the lone high surrogate becomes '?'.
        let name = format!("{}\u{1F600}b.txt", "a".repeat(105));
        assert_eq!(
            resolved_name_candidates(&name, sfx, 220)[0],
            format!("{}?{sfx}.txt", "a".repeat(105))
        );
        // Long ASCII stem is cut to 106 units.
        let long = format!("long-report-{}.txt", "x".repeat(104));
        assert_eq!(
            resolved_name_candidates(&long, sfx, 220)[0],
            format!("{}{sfx}.txt", &long[..106])
        );
        // Tiny thresholds do not panic.
        assert_eq!(resolved_name_candidates("a.txt", sfx, 0)[0], ".txt");
    }
}
