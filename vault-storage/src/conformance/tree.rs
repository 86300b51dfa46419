//! Conformance checks: renaming, removing and listing entries, long names, modification times and free space.

use std::time::{Duration, SystemTime};

use super::ctx::{Ctx, pattern};
use crate::{EntryKind, RenameMode, StorageErrorKind as K};

/// Renaming objects: both modes, across folders, and racing no-replace renames.
pub async fn rename_files(ctx: &Ctx) {
    let s = &ctx.storage;
    let a = ctx.put("a.c9r", b"A").await;
    let b = ctx.p("b.c9r");
    ctx.ok(
        s.rename(&a, &b, RenameMode::NoReplace).await,
        "rename to a free name (NoReplace)",
    );
    ctx.assert_missing(&a, "the source is gone").await;
    ctx.assert_content(&b, b"A", "the target has the content")
        .await;

    let c = ctx.put("c.c9r", b"C").await;
    ctx.fails(
        s.rename(&b, &c, RenameMode::NoReplace).await,
        &[K::AlreadyExists],
        "NoReplace onto an existing object",
    );
    ctx.assert_content(&b, b"A", "a refused rename keeps the source")
        .await;
    ctx.assert_content(&c, b"C", "a refused rename keeps the target")
        .await;

    ctx.ok(
        s.rename(&b, &c, RenameMode::Replace).await,
        "Replace onto an existing object",
    );
    ctx.assert_missing(&b, "the replacing source is gone").await;
    ctx.assert_content(&c, b"A", "the target was replaced")
        .await;

    let free = ctx.p("free.c9r");
    ctx.ok(
        s.rename(&c, &free, RenameMode::Replace).await,
        "Replace onto a free name",
    );
    ctx.assert_content(&free, b"A", "Replace onto a free name")
        .await;

    let d = ctx.mkdir("d").await;
    let moved = ctx.p("d/moved.c9r");
    ctx.ok(
        s.rename(&free, &moved, RenameMode::NoReplace).await,
        "rename into another folder",
    );
    ctx.assert_content(&moved, b"A", "moved across folders")
        .await;
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["d"],
        "the top folder after the moves",
    );
    ctx.assert_names(
        ctx.names(&d).await,
        &["moved.c9r"],
        "the folder after the moves",
    );

    // Racing no-replace renames onto one name: exactly one wins.
    let x1 = ctx.put("x1.c9r", b"one").await;
    let x2 = ctx.put("x2.c9r", b"two").await;
    let y = ctx.p("y.c9r");
    let (r1, r2) = tokio::join!(
        s.rename(&x1, &y, RenameMode::NoReplace),
        s.rename(&x2, &y, RenameMode::NoReplace)
    );
    match (r1.map_err(|e| e.kind()), r2.map_err(|e| e.kind())) {
        (Ok(()), Err(K::AlreadyExists)) => {
            ctx.assert_content(&y, b"one", "the first rename won").await;
            ctx.assert_content(&x2, b"two", "the losing source is kept")
                .await;
        }
        (Err(K::AlreadyExists), Ok(())) => {
            ctx.assert_content(&y, b"two", "the second rename won")
                .await;
            ctx.assert_content(&x1, b"one", "the losing source is kept")
                .await;
        }
        other => panic!(
            "[{}] racing NoReplace renames: expected one Ok and one AlreadyExists, got {other:?}",
            ctx.name
        ),
    }
}

/// Renaming folders moves their whole content; NoReplace refuses an existing folder.
pub async fn rename_dirs(ctx: &Ctx) {
    let s = &ctx.storage;
    let d1 = ctx.mkdir("d1").await;
    ctx.put("d1/f.c9r", b"f").await;
    ctx.mkdir("d1/sub").await;
    ctx.put("d1/sub/g.c9r", b"g").await;
    let d2 = ctx.p("d2");
    ctx.ok(
        s.rename(&d1, &d2, RenameMode::NoReplace).await,
        "rename a folder (NoReplace)",
    );
    ctx.assert_missing(&d1, "the old folder is gone").await;
    ctx.assert_content(&ctx.p("d2/f.c9r"), b"f", "content moved with the folder")
        .await;
    ctx.assert_content(
        &ctx.p("d2/sub/g.c9r"),
        b"g",
        "nested content moved with the folder",
    )
    .await;

    let e = ctx.mkdir("e").await;
    ctx.put("e/x.c9r", b"x").await;
    ctx.fails(
        s.rename(&d2, &e, RenameMode::NoReplace).await,
        &[K::AlreadyExists],
        "NoReplace onto an existing folder",
    );
    ctx.assert_content(
        &ctx.p("d2/f.c9r"),
        b"f",
        "a refused folder rename keeps the source",
    )
    .await;
    ctx.assert_content(
        &ctx.p("e/x.c9r"),
        b"x",
        "a refused folder rename keeps the target",
    )
    .await;

    let inside = ctx.p("e/d3");
    ctx.ok(
        s.rename(&d2, &inside, RenameMode::NoReplace).await,
        "move a folder into another folder",
    );
    ctx.assert_content(
        &ctx.p("e/d3/sub/g.c9r"),
        b"g",
        "nested content after the move",
    )
    .await;
    let d4 = ctx.p("d4");
    ctx.ok(
        s.rename(&inside, &d4, RenameMode::Replace).await,
        "Replace-rename a folder onto a free name",
    );
    ctx.assert_names(
        ctx.names(&d4).await,
        &["f.c9r", "sub"],
        "the folder after two moves",
    );
    ctx.assert_names(
        ctx.names(&e).await,
        &["x.c9r"],
        "the other folder after the moves",
    );
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["d4", "e"],
        "the top folder after the moves",
    );
}

/// `remove_file`, `remove_listed_file`, `remove_dir` and `remove_dir_all` of a nested tree.
pub async fn remove(ctx: &Ctx) {
    let s = &ctx.storage;
    let f = ctx.put("f.c9r", b"f").await;
    ctx.ok(s.remove_file(&f).await, "remove_file");
    ctx.assert_missing(&f, "a removed object").await;

    // `remove_listed_file` (which a backend may do by version tag in one request): a file as
    // listed goes; a folder another client put in its place since the listing never does.
    let listed = ctx.put("listed.c9r", b"l").await;
    let replaced = ctx.put("replaced.c9r", b"r").await;
    let listing = ctx.ok(s.list_dir(&ctx.dir).await, "list_dir");
    let as_listed = |name: &str| {
        let entry = listing.iter().find(|e| e.name == name);
        entry
            .map(|e| e.metadata.clone())
            .unwrap_or_else(|| panic!("[{}] {name} is not listed: {listing:?}", ctx.name))
    };
    ctx.ok(
        s.remove_listed_file(&listed, &as_listed("listed.c9r"))
            .await,
        "remove_listed_file",
    );
    ctx.assert_missing(&listed, "a file removed as listed")
        .await;
    ctx.ok(s.remove_file(&replaced).await, "remove_file");
    ctx.mkdir("replaced.c9r").await;
    let inside = ctx.put("replaced.c9r/inside.c9r", b"theirs").await;
    ctx.fails(
        s.remove_listed_file(&replaced, &as_listed("replaced.c9r"))
            .await,
        &[K::IsADirectory],
        "remove_listed_file of a folder put in the listed file's place",
    );
    ctx.assert_content(&inside, b"theirs", "the folder's content survives")
        .await;
    ctx.ok(s.remove_dir_all(&replaced).await, "remove_dir_all");
    let d = ctx.mkdir("empty").await;
    ctx.ok(s.remove_dir(&d).await, "remove_dir of an empty folder");
    ctx.assert_missing(&d, "a removed folder").await;

    let t = ctx.mkdir("tree").await;
    ctx.put("tree/a.c9r", b"a").await;
    ctx.mkdir("tree/sub").await;
    ctx.mkdir("tree/sub/empty").await;
    ctx.put("tree/sub/b.c9r", &pattern(4, 50_000)).await;
    ctx.mkdir("tree/sub/deeper").await;
    ctx.put("tree/sub/deeper/c.c9r", b"c").await;
    let keep = ctx.put("keep.c9r", b"keep").await;
    ctx.ok(
        s.remove_dir_all(&t).await,
        "remove_dir_all of a nested tree",
    );
    ctx.assert_missing(&t, "the removed tree").await;
    ctx.assert_missing(&ctx.p("tree/sub/b.c9r"), "an object of the removed tree")
        .await;
    ctx.assert_content(&keep, b"keep", "a sibling survives remove_dir_all")
        .await;
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["keep.c9r"],
        "after the removals",
    );
}

/// `list_dir` reports every child once with kind, size and mtime, agreeing with `metadata`.
pub async fn list_dir_metadata(ctx: &Ctx) {
    let s = &ctx.storage;
    let before = SystemTime::now();
    ctx.put("empty.c9r", b"").await;
    ctx.put("one.c9r", b"1").await;
    ctx.put("big.c9r", &pattern(5, 70_000)).await;
    ctx.mkdir("sub").await;
    ctx.put("sub/inner.c9r", b"inner").await;
    let mut listed = ctx.ok(s.list_dir(&ctx.dir).await, "list_dir");
    listed.sort_by(|a, b| a.name.cmp(&b.name));
    let got: Vec<(&str, EntryKind, u64)> = listed
        .iter()
        .map(|e| (e.name.as_str(), e.metadata.kind, e.metadata.size))
        .collect();
    let want = vec![
        ("big.c9r", EntryKind::File, 70_000),
        ("empty.c9r", EntryKind::File, 0),
        ("one.c9r", EntryKind::File, 1),
        ("sub", EntryKind::Dir, 0),
    ];
    assert_eq!(
        got, want,
        "[{}] names, kinds and sizes (folders 0)",
        ctx.name
    );
    let mut names = ctx.ok(s.list_names(&ctx.dir).await, "list_names");
    names.sort_by(|a, b| a.0.cmp(&b.0));
    let kinds: Vec<(&str, EntryKind)> = want.iter().map(|(n, k, _)| (*n, *k)).collect();
    let names: Vec<(&str, EntryKind)> = names.iter().map(|(n, k)| (n.as_str(), *k)).collect();
    assert_eq!(
        names, kinds,
        "[{}] list_names agrees with list_dir",
        ctx.name
    );
    // Clocks of a remote server may differ a little from ours.
    let slack = Duration::from_secs(300);
    for entry in &listed {
        let what = format!("listed mtime of {}", entry.name);
        if entry.metadata.kind == EntryKind::File || ctx.quirks.folder_mtime {
            ctx.assert_mtime_close(entry.metadata.modified, before, slack, &what);
        }
        let meta = ctx.ok(
            s.metadata(&ctx.p(&entry.name)).await,
            &format!("metadata {}", entry.name),
        );
        assert_eq!(
            (meta.kind, meta.size),
            (entry.metadata.kind, entry.metadata.size),
            "[{}] metadata agrees with list_dir for {}",
            ctx.name,
            entry.name
        );
        if let Some(listed_mtime) = entry.metadata.modified {
            let moved = if ctx.quirks.sends_in_background {
                slack
            } else {
                Duration::ZERO
            };
            ctx.assert_mtime_close(
                meta.modified,
                listed_mtime,
                moved,
                &format!("metadata mtime of {}", entry.name),
            );
        }
    }
    ctx.assert_names(
        ctx.names(&ctx.p("sub")).await,
        &["inner.c9r"],
        "a subfolder lists only its own children",
    );
}

/// Long names (220+ bytes, base64url alphabet with `=`, `-`, `_`), as vault
/// ciphertext names are, work for objects and folders, and rename.
pub async fn long_names(ctx: &Ctx) {
    let s = &ctx.storage;
    let max = s.capabilities().max_name_len;
    let long = |seed: u64, suffix: &str| {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let len = 224usize.min(max);
        let mut name: String = pattern(seed, len - suffix.len() - 2)
            .iter()
            .map(|b| ALPHABET[usize::from(b % 64)] as char)
            .collect();
        name.push_str("==");
        name.replace_range(0..2, "-_");
        name.push_str(suffix);
        name
    };
    let file_name = long(6, ".c9r");
    let dir_name = long(7, ".c9r");
    let renamed = long(8, ".c9r");
    assert!(
        file_name.len() >= 220,
        "[{}] the long names are 220+ bytes",
        ctx.name
    );
    let f = ctx.put(&file_name, b"long").await;
    let d = ctx.mkdir(&dir_name).await;
    ctx.put(&format!("{dir_name}/dir.c9r"), b"dirid").await;
    let short = "Xy_-AbCdEfGhIjKlMnOpQrStUvWxYz0=.c9s";
    ctx.mkdir(short).await;
    ctx.put(&format!("{short}/name.c9s"), file_name.as_bytes())
        .await;
    ctx.put(&format!("{short}/contents.c9r"), b"contents").await;
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &[&file_name, &dir_name, short],
        "long names list exactly",
    );
    ctx.assert_names(
        ctx.names(&d).await,
        &["dir.c9r"],
        "inside a long-named folder",
    );
    ctx.assert_content(&f, b"long", "a long-named object").await;
    let to = ctx.p(&renamed);
    ctx.ok(
        s.rename(&f, &to, RenameMode::NoReplace).await,
        "rename between long names",
    );
    ctx.assert_content(&to, b"long", "after renaming a long name")
        .await;
    ctx.assert_content(
        &ctx.p(&format!("{short}/name.c9s")),
        file_name.as_bytes(),
        "name.c9s",
    )
    .await;
    ctx.ok(
        s.remove_dir_all(&d).await,
        "remove_dir_all of a long-named folder",
    );
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &[&renamed, short],
        "after the removal",
    );
}

/// `set_modified` round-trips (within the declared granularity) when the
/// backend can, and is `Unsupported` otherwise.
pub async fn set_modified(ctx: &Ctx) {
    let s = &ctx.storage;
    let f = ctx.put("f.c9r", b"content").await;
    // 2020-01-02T03:04:05Z, whole seconds so second-granular backends keep it exactly.
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_934_245);
    if !s.capabilities().set_modified {
        ctx.fails(
            s.set_modified(&f, t).await,
            &[K::Unsupported],
            "set_modified without the capability",
        );
        return;
    }
    ctx.ok(s.set_modified(&f, t).await, "set_modified");
    let meta = ctx.ok(s.metadata(&f).await, "metadata");
    ctx.assert_mtime_close(
        meta.modified,
        t,
        Duration::ZERO,
        "metadata after set_modified",
    );
    let listed = ctx.ok(s.list_dir(&ctx.dir).await, "list_dir");
    let entry = listed.iter().find(|e| e.name == "f.c9r");
    ctx.assert_mtime_close(
        entry.and_then(|e| e.metadata.modified),
        t,
        Duration::ZERO,
        "list_dir after set_modified",
    );
    let later = t + Duration::from_secs(86_400 * 400);
    ctx.ok(s.set_modified(&f, later).await, "set_modified again");
    let meta = ctx.ok(s.metadata(&f).await, "metadata");
    ctx.assert_mtime_close(
        meta.modified,
        later,
        Duration::ZERO,
        "metadata after a second set_modified",
    );
    ctx.assert_content(&f, b"content", "set_modified keeps the content")
        .await;
}

/// `space` answers; where it reports figures, they are consistent.
pub async fn space(ctx: &Ctx) {
    if let Some(info) = ctx.ok(ctx.storage.space().await, "space") {
        assert!(
            info.total == 0 || info.available <= info.total,
            "[{}] available {} <= total {}",
            ctx.name,
            info.available,
            info.total
        );
    }
}
