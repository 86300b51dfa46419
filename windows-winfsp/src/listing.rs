//! Directory listings in the order WinFsp pages them: sorted by UTF-16 name,
//! `.` and `..` first (except at the root), resumed after a marker name.
//!
//! WinFsp calls ReadDirectory repeatedly with the last name it received as
//! the marker; entries must come in one stable order for that to work.

use crate::path::name_for_windows;

/// One entry to hand to WinFsp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed<T> {
    /// The name as Windows sees it.
    pub name: Vec<u16>,
    /// What it refers to.
    pub item: Item<T>,
}

/// What a listed name refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<T> {
    /// `.`: the directory itself.
    Dot,
    /// `..`: its parent.
    DotDot,
    /// A stored entry.
    Entry(T),
}

/// The Windows listing of a directory's `entries`. Names Windows cannot show
/// are left out (see [`name_for_windows`]); the count left out is returned so
/// the adapter can log it (never the names: cleartext names are secrets in logs).
pub fn windows_listing<T>(
    entries: impl IntoIterator<Item = (String, T)>,
    is_root: bool,
) -> (Vec<Listed<T>>, usize) {
    let mut skipped = 0;
    let mut listed: Vec<Listed<T>> = entries
        .into_iter()
        .filter_map(|(name, item)| match name_for_windows(&name) {
            Some(name) => Some(Listed {
                name,
                item: Item::Entry(item),
            }),
            None => {
                skipped += 1;
                None
            }
        })
        .collect();
    listed.sort_by(|a, b| a.name.cmp(&b.name));
    if !is_root {
        let dots = [
            Listed {
                name: vec![u16::from(b'.')],
                item: Item::Dot,
            },
            Listed {
                name: vec![u16::from(b'.'), u16::from(b'.')],
                item: Item::DotDot,
            },
        ];
        listed.splice(0..0, dots);
    }
    (listed, skipped)
}

/// The entries after `marker` (all of them without one).
pub fn after_marker<'a, T>(listing: &'a [Listed<T>], marker: Option<&[u16]>) -> &'a [Listed<T>] {
    let Some(marker) = marker else {
        return listing;
    };
    // Found by position, not by comparison: `.` and `..` lead the listing
    // even where a stored name (`!x`, `-`) would sort before them.
    match listing.iter().position(|e| e.name.as_slice() == marker) {
        Some(i) => &listing[i + 1..],
        // The marker vanished (renamed meanwhile): resume at the first name above it.
        None => {
            let start = listing
                .iter()
                .position(|e| {
                    !matches!(e.item, Item::Dot | Item::DotDot) && e.name.as_slice() > marker
                })
                .unwrap_or(listing.len());
            &listing[start..]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    fn names<T>(l: &[Listed<T>]) -> Vec<String> {
        l.iter()
            .map(|e| String::from_utf16(&e.name).unwrap())
            .collect()
    }

    fn entries(list: &[&str]) -> Vec<(String, u32)> {
        list.iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), i as u32))
            .collect()
    }

    #[test]
    fn sorted_with_dots_below_root() {
        let (l, skipped) = windows_listing(entries(&["b", "a", "C", "😀", "ä"]), false);
        assert_eq!(skipped, 0);
        // Ordinal UTF-16 order: 'C' (0x43) < 'a' < 'b' < 'ä' (0xE4) < the surrogate 0xD83D.
        assert_eq!(names(&l), [".", "..", "C", "a", "b", "ä", "😀"]);
        assert_eq!(l[0].item, Item::Dot);
        assert_eq!(l[1].item, Item::DotDot);
        assert_eq!(l[2].item, Item::Entry(2));
    }

    #[test]
    fn root_has_no_dots() {
        let (l, _) = windows_listing(entries(&["x"]), true);
        assert_eq!(names(&l), ["x"]);
        let (empty, _) = windows_listing(Vec::<(String, u32)>::new(), true);
        assert!(empty.is_empty());
    }

    #[test]
    fn unshowable_names_are_left_out_and_counted() {
        let (l, skipped) = windows_listing(entries(&["ok", "a:b", "c\\d", "e?"]), true);
        assert_eq!(names(&l), ["ok"]);
        assert_eq!(skipped, 3);
    }

    #[test]
    fn paging_after_a_marker() {
        let (l, _) = windows_listing(entries(&["a", "b", "c"]), false);
        assert_eq!(names(after_marker(&l, None)), [".", "..", "a", "b", "c"]);
        assert_eq!(
            names(after_marker(&l, Some(&w(".")))),
            ["..", "a", "b", "c"]
        );
        assert_eq!(names(after_marker(&l, Some(&w("..")))), ["a", "b", "c"]);
        assert_eq!(names(after_marker(&l, Some(&w("b")))), ["c"]);
        assert!(after_marker(&l, Some(&w("c"))).is_empty());
        // A marker that is gone: continue above it, without repeating dots.
        assert_eq!(names(after_marker(&l, Some(&w("aa")))), ["b", "c"]);
        assert!(after_marker(&l, Some(&w("zzz"))).is_empty());
    }
}
