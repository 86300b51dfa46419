//! The shape of the code, checked on every run: no import cycle among the modules of any crate,
//! and no production `.rs` file (the part before its first `#[cfg(test)]`) over 800 lines.
//!
//! A module is a file under a crate's `src/`. Module Y has an edge to module X when Y's
//! production code names `crate::X…`, `super::X…` or `self::X…` (any path, not only `use`
//! lines; one level of `{a, b}` groups is expanded). A cycle is a strongly connected component of
//! more than one module. Crate roots (`lib.rs`, `main.rs`) take part in the length rule only:
//! every module may name items of its root.
//!
//! And no production function over [`MAX_FN_LINES`] lines (from its `fn` line to its closing
//! brace, found by brace matching that skips comments, strings and character literals).

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 800;

/// Longest production function, in lines (its `fn` line to its closing brace).
const MAX_FN_LINES: usize = 100;

type ModPath = Vec<String>;

/// Every crate's `src/` folder in the workspace (fuzz targets, tests, benches, examples excluded).
fn crate_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    if entries.iter().any(|p| p.ends_with("Cargo.toml")) && dir.join("src").is_dir() {
        out.push(dir.join("src"));
    }
    for p in entries {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let skip = [
            "target", ".git", "fuzz", "tests", "benches", "examples", "src", "dist",
        ];
        if p.is_dir() && !skip.contains(&name.as_str()) && !name.starts_with('.') {
            crate_sources(&p, out);
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn production(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

fn module_path(src: &Path, file: &Path) -> ModPath {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: ModPath = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

fn path_parts(text: &str) -> Vec<String> {
    text.split("::")
        .map(str::trim)
        .filter(|p| !p.is_empty() && *p != "self")
        .map(str::to_string)
        .collect()
}

/// The modules of one crate (roots excluded) and their edges.
fn edges_of(src: &Path) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut bodies = BTreeMap::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if f.parent() == Some(src) && (name == "lib.rs" || name == "main.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        bodies.insert(module_path(src, &f), production(&text).to_string());
    }
    let group = regex::Regex::new(r"\b(crate|super|self)((?:::\w+)*)::\{([^{}]*)\}").unwrap();
    let single = regex::Regex::new(r"\b(crate|super|self)((?:::\w+)+)").unwrap();
    let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = bodies
        .keys()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for (m, body) in &bodies {
        // `head::rest` as a path from the crate root; leading `super`s climb further.
        let resolve = |head: &str, rest: Vec<String>| -> ModPath {
            let mut p = match head {
                "crate" => Vec::new(),
                "super" => m[..m.len().saturating_sub(1)].to_vec(),
                _ => m.clone(),
            };
            let mut rest = rest.into_iter().peekable();
            while rest.next_if(|s| s == "super").is_some() {
                p.pop();
            }
            p.extend(rest);
            p
        };
        let mut named: Vec<ModPath> = Vec::new();
        for c in group.captures_iter(body) {
            let pre = path_parts(&c[2]);
            for item in c[3].split(',') {
                let mut rest = pre.clone();
                rest.extend(path_parts(item));
                named.push(resolve(&c[1], rest));
            }
        }
        for c in single.captures_iter(body) {
            named.push(resolve(&c[1], path_parts(&c[2])));
        }
        for p in named {
            // The longest prefix that is a module of this crate (other than `m` itself).
            if let Some(target) = (1..=p.len())
                .rev()
                .map(|k| p[..k].to_vec())
                .find(|t| bodies.contains_key(t) && t != m)
            {
                edges.get_mut(m).unwrap().insert(target);
            }
        }
    }
    edges
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    struct State<'a> {
        edges: &'a BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<&'a ModPath, usize>,
        low: BTreeMap<&'a ModPath, usize>,
        stack: Vec<&'a ModPath>,
        on: BTreeSet<&'a ModPath>,
        out: Vec<Vec<ModPath>>,
    }
    fn strong<'a>(s: &mut State<'a>, v: &'a ModPath) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on.insert(v);
        for w in &s.edges[v] {
            if !s.index.contains_key(w) {
                strong(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            strong(&mut s, v);
        }
    }
    s.out
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn no_module_cycles_in_any_crate() {
    let mut srcs = Vec::new();
    crate_sources(&workspace(), &mut srcs);
    assert!(srcs.len() >= 7, "crates found: {srcs:?}");
    let mut found = Vec::new();
    for src in &srcs {
        for comp in cycles(&edges_of(src)) {
            let names: Vec<String> = comp.iter().map(|m| m.join("::")).collect();
            found.push(format!("{}: {}", src.display(), names.join(", ")));
        }
    }
    assert!(found.is_empty(), "module cycles:\n{}", found.join("\n"));
}

/// The scan covers the root crate and every workspace member, the test-support crate included
/// (its `src/` is production code for these rules, though only tests use it).
#[test]
fn every_workspace_member_is_scanned() {
    let manifest = std::fs::read_to_string(workspace().join("Cargo.toml")).unwrap();
    let members = manifest
        .split("members = [")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .expect("a [workspace] members list");
    let mut srcs = Vec::new();
    crate_sources(&workspace(), &mut srcs);
    let mut expected = vec![workspace().join("src")];
    for m in members.split(',').map(|m| m.trim().trim_matches('"')) {
        if !m.is_empty() {
            expected.push(workspace().join(m).join("src"));
        }
    }
    assert!(
        expected.contains(&workspace().join("test-support/src")),
        "{expected:?}"
    );
    for src in expected {
        assert!(
            srcs.contains(&src),
            "{} not scanned: {srcs:?}",
            src.display()
        );
    }
}

#[test]
fn no_production_file_over_800_lines() {
    let mut srcs = Vec::new();
    crate_sources(&workspace(), &mut srcs);
    let mut long = Vec::new();
    for src in &srcs {
        let mut files = Vec::new();
        rust_files(src, &mut files);
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let lines = production(&text).lines().count();
            if lines > MAX_LINES {
                long.push(format!("{} ({lines} lines)", f.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "production files over {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}

/// The functions of `text` as (name, first line, line count). Nested functions are listed
/// too (and count inside the outer one).
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let head = regex::Regex::new(
        r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+\S+\s+)?fn\s+(\w+)",
    )
    .unwrap();
    let bytes = text.as_bytes();
    let line_of = |at: usize| text[..at].matches('\n').count() + 1;
    let mut out = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let start = at;
        at += line.len();
        let Some(c) = head.captures(line) else {
            continue;
        };
        // The body's `{`, unless a `;` ends a declaration first (a trait's method).
        let Some(open) = text[start..].find(['{', ';']).map(|i| start + i) else {
            continue;
        };
        if bytes[open] != b'{' {
            continue;
        }
        if let Some(close) = matching_brace(bytes, open) {
            let first = line_of(start);
            out.push((c[1].to_string(), first, line_of(close) - first + 1));
        }
    }
    out
}

/// The index of the `}` closing the `{` at `open`, skipping comments, strings (raw ones too)
/// and character literals (a lifetime `'a` is not one).
fn matching_brace(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'r' if (b.get(i + 1) == Some(&b'#') || b.get(i + 1) == Some(&b'"'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let end: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                i += 2 + hashes;
                while i < b.len() && !b[i..].starts_with(&end) {
                    i += 1;
                }
                i += end.len() - 1;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'\'' => {
                if b.get(i + 1) == Some(&b'\\') {
                    // `'\''`, `'\n'`, `'\u{7d}'`: past the escaped character to the close.
                    i += 3;
                    while i < b.len() && b[i] != b'\'' {
                        i += 1;
                    }
                } else if let Some(c) = String::from_utf8_lossy(&b[i + 1..(i + 5).min(b.len())])
                    .chars()
                    .next()
                    && b.get(i + 1 + c.len_utf8()) == Some(&b'\'')
                {
                    i += 1 + c.len_utf8();
                }
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[test]
fn no_production_function_over_100_lines() {
    let mut srcs = Vec::new();
    crate_sources(&workspace(), &mut srcs);
    let mut long = Vec::new();
    let mut seen = 0;
    for src in &srcs {
        let mut files = Vec::new();
        rust_files(src, &mut files);
        // A `tests.rs` / `*_tests.rs` file is a `#[cfg(test)]` module of its parent.
        files.retain(|f| !f.file_stem().unwrap().to_string_lossy().ends_with("tests"));
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let rel = f.strip_prefix(workspace()).unwrap_or(&f).to_path_buf();
            for (name, line, lines) in functions(production(&text)) {
                seen += 1;
                if lines > MAX_FN_LINES {
                    long.push(format!("{}:{line} {name} ({lines} lines)", rel.display()));
                }
            }
        }
    }
    assert!(seen > 1000, "functions found: {seen}");
    assert!(
        long.is_empty(),
        "production functions over {MAX_FN_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_function_measure_skips_strings_comments_and_chars() {
    let text = "trait T {\n    fn decl(&self);\n}\n\
        pub(crate) async fn a<'x>(s: &'x str) -> usize {\n\
        let c = '}'; let d = '\\''; // }\n\
        let t = \"}\\\"}\"; let r = r#\"}\"#; /* } */\n\
        fn inner() {}\n\
        s.len()\n}\nfn b() {}\n";
    let found = functions(text);
    let names: Vec<(&str, usize, usize)> =
        found.iter().map(|(n, l, c)| (n.as_str(), *l, *c)).collect();
    assert_eq!(names, [("a", 4, 6), ("inner", 7, 1), ("b", 10, 1)]);
}

#[test]
fn the_cycle_finder_finds_a_planted_cycle() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("b")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod a; mod b;").unwrap();
    std::fs::write(src.join("a.rs"), "fn f() { crate::b::c::g(); }").unwrap();
    std::fs::write(src.join("b/mod.rs"), "pub mod c;").unwrap();
    std::fs::write(
        src.join("b/c.rs"),
        "use super::super::{a, b};\n#[cfg(test)]\nuse crate::nothing;",
    )
    .unwrap();
    let edges = edges_of(&src);
    let cyc = cycles(&edges);
    assert_eq!(cyc.len(), 1, "{edges:?}");
    let mut names: Vec<String> = cyc[0].iter().map(|m| m.join("::")).collect();
    names.sort();
    assert_eq!(names, ["a", "b::c"]);
}
