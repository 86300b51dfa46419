//! Conformance checks: folders, missing and existing entries, and the wrong kind of entry: the error kinds.

use std::time::SystemTime;

use bytes::Bytes;

use super::ctx::Ctx;
use crate::{Body, EntryKind, RenameMode, StorageErrorKind as K, StoragePath, WriteMode};

/// The root and a fresh folder are folders; the fresh folder lists empty.
pub async fn root_and_fresh_folder(ctx: &Ctx) {
    let s = &ctx.storage;
    let root = ctx.ok(
        s.metadata(&StoragePath::root()).await,
        "metadata of the root",
    );
    assert_eq!(
        root.kind,
        EntryKind::Dir,
        "[{}] the root is a folder",
        ctx.name
    );
    let meta = ctx.ok(s.metadata(&ctx.dir).await, "metadata of the test folder");
    assert_eq!(
        (meta.kind, meta.size),
        (EntryKind::Dir, 0),
        "[{}] a folder has kind Dir and size 0",
        ctx.name
    );
    let listed = ctx.ok(
        s.list_dir(&StoragePath::root()).await,
        "list_dir of the root",
    );
    let me = listed
        .iter()
        .find(|e| Some(e.name.as_str()) == ctx.dir.file_name());
    assert_eq!(
        me.map(|e| e.metadata.kind),
        Some(EntryKind::Dir),
        "[{}] the root lists the test folder",
        ctx.name
    );
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &[],
        "a fresh folder lists empty, without . or ..",
    );
    assert!(
        !s.describe().is_empty(),
        "[{}] describe() says something",
        ctx.name
    );
    assert!(
        s.capabilities().max_name_len >= 220,
        "[{}] names of 220 bytes fit (vault-format shortens above)",
        ctx.name
    );
}

/// Every operation on a missing path fails with `NotFound` and creates nothing.
pub async fn not_found(ctx: &Ctx) {
    let s = &ctx.storage;
    let caps = s.capabilities();
    let missing = ctx.p("missing.c9r");
    let below = ctx.p("missing/child.c9r");
    for path in [&missing, &below] {
        ctx.fails(
            s.metadata(path).await,
            &[K::NotFound],
            &format!("metadata {path}"),
        );
        ctx.fails(
            s.list_dir(path).await,
            &[K::NotFound],
            &format!("list_dir {path}"),
        );
        ctx.fails(
            s.read_at(path, 0, 10).await,
            &[K::NotFound],
            &format!("read_at {path}"),
        );
        ctx.fails(
            s.read_all(path).await,
            &[K::NotFound],
            &format!("read_all {path}"),
        );
        ctx.fails(
            s.remove_file(path).await,
            &[K::NotFound],
            &format!("remove_file {path}"),
        );
        ctx.fails(
            s.remove_dir(path).await,
            &[K::NotFound],
            &format!("remove_dir {path}"),
        );
        ctx.fails(
            s.remove_dir_all(path).await,
            &[K::NotFound],
            &format!("remove_dir_all {path}"),
        );
        for mode in [RenameMode::NoReplace, RenameMode::Replace] {
            ctx.fails(
                s.rename(path, &ctx.p("target"), mode).await,
                &[K::NotFound],
                &format!("rename {path} ({mode:?})"),
            );
        }
        if caps.random_write {
            ctx.fails(
                s.write_at(path, 0, Bytes::from_static(b"x")).await,
                &[K::NotFound],
                &format!("write_at {path}"),
            );
            ctx.fails(
                s.set_len(path, 0).await,
                &[K::NotFound],
                &format!("set_len {path}"),
            );
        }
        if caps.set_modified {
            ctx.fails(
                s.set_modified(path, SystemTime::now()).await,
                &[K::NotFound],
                &format!("set_modified {path}"),
            );
        }
    }
    // A missing parent.
    ctx.fails(
        s.create_dir(&below).await,
        &[K::NotFound],
        "create_dir below a missing folder",
    );
    for mode in [WriteMode::CreateNew, WriteMode::Overwrite] {
        let body = Body::from_bytes(&b"data"[..]);
        ctx.fails(
            s.write(&below, body, mode).await,
            &[K::NotFound],
            &format!("write below a missing folder ({mode:?})"),
        );
    }
    let src = ctx.put("src.c9r", b"src").await;
    ctx.fails(
        s.rename(&src, &below, RenameMode::NoReplace).await,
        &[K::NotFound],
        "rename into a missing folder",
    );
    ctx.assert_content(&src, b"src", "a failed rename keeps the source")
        .await;
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["src.c9r"],
        "failed operations create nothing",
    );
}

/// `create_dir` and `write(CreateNew)` refuse existing targets and change nothing.
pub async fn already_exists(ctx: &Ctx) {
    let s = &ctx.storage;
    let d = ctx.mkdir("d").await;
    ctx.fails(
        s.create_dir(&d).await,
        &[K::AlreadyExists],
        "create_dir of an existing folder",
    );
    let f = ctx.put("f.c9r", b"one").await;
    let again = s
        .write(&f, Body::from_bytes(&b"two"[..]), WriteMode::CreateNew)
        .await;
    ctx.fails(
        again,
        &[K::AlreadyExists],
        "write(CreateNew) over an existing object",
    );
    ctx.assert_content(&f, b"one", "a refused CreateNew keeps the old content")
        .await;
    ctx.fails(
        s.create_dir(&f).await,
        &[K::AlreadyExists],
        "create_dir over an existing object",
    );
    let onto_dir = s
        .write(&d, Body::from_bytes(&b"x"[..]), WriteMode::CreateNew)
        .await;
    ctx.fails(
        onto_dir,
        &[K::AlreadyExists],
        "write(CreateNew) over an existing folder",
    );
    assert_eq!(
        ctx.ok(s.metadata(&d).await, "metadata d").kind,
        EntryKind::Dir,
        "[{}] d is still a folder",
        ctx.name
    );
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["d", "f.c9r"],
        "nothing else appeared",
    );
}

/// `remove_dir` of a non-empty folder fails with `NotEmpty` and removes nothing.
pub async fn not_empty(ctx: &Ctx) {
    let s = &ctx.storage;
    let d = ctx.mkdir("d").await;
    let f = ctx.put("d/f.c9r", b"x").await;
    ctx.fails(
        s.remove_dir(&d).await,
        &[K::NotEmpty],
        "remove_dir of a folder with an object",
    );
    ctx.assert_content(&f, b"x", "the object survives").await;
    ctx.ok(s.remove_file(&f).await, "remove_file d/f.c9r");
    let sub = ctx.mkdir("d/sub").await;
    ctx.fails(
        s.remove_dir(&d).await,
        &[K::NotEmpty],
        "remove_dir of a folder with an empty subfolder",
    );
    ctx.ok(s.remove_dir(&sub).await, "remove_dir d/sub");
    ctx.ok(s.remove_dir(&d).await, "remove_dir of the now empty d");
    ctx.assert_missing(&d, "d is gone").await;
}

/// File operations on folders and folder operations on files fail with the
/// right kind and change nothing.
pub async fn wrong_kind(ctx: &Ctx) {
    let s = &ctx.storage;
    let d = ctx.mkdir("d").await;
    let f = ctx.put("f.c9r", b"content").await;
    ctx.fails(
        s.read_at(&d, 0, 10).await,
        &[K::IsADirectory],
        "read_at of a folder",
    );
    ctx.fails(
        s.read_all(&d).await,
        &[K::IsADirectory],
        "read_all of a folder",
    );
    ctx.fails(
        s.remove_file(&d).await,
        &[K::IsADirectory],
        "remove_file of a folder",
    );
    let over = s
        .write(&d, Body::from_bytes(&b"x"[..]), WriteMode::Overwrite)
        .await;
    ctx.fails(
        over,
        &[K::IsADirectory, K::AlreadyExists],
        "write(Overwrite) over a folder",
    );
    ctx.fails(
        s.remove_dir(&f).await,
        &[K::NotADirectory],
        "remove_dir of an object",
    );
    ctx.fails(
        s.remove_dir_all(&f).await,
        &[K::NotADirectory],
        "remove_dir_all of an object",
    );
    ctx.fails(
        s.list_dir(&f).await,
        &[K::NotADirectory],
        "list_dir of an object",
    );
    let through = ctx.p("f.c9r/child");
    ctx.fails(
        s.metadata(&through).await,
        &[K::NotFound, K::NotADirectory],
        "metadata through an object",
    );
    ctx.fails(
        s.create_dir(&through).await,
        &[K::NotFound, K::NotADirectory],
        "create_dir below an object",
    );
    ctx.fails(
        s.write(&through, Body::from_bytes(&b"x"[..]), WriteMode::CreateNew)
            .await,
        &[K::NotFound, K::NotADirectory],
        "write below an object",
    );
    let meta = ctx.ok(s.metadata(&d).await, "metadata d");
    assert_eq!(
        meta.kind,
        EntryKind::Dir,
        "[{}] d is still a folder",
        ctx.name
    );
    ctx.assert_content(&f, b"content", "f is unchanged").await;
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["d", "f.c9r"],
        "nothing else appeared",
    );
}
