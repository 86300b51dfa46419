//! Conformance checks: reading ranges, the write modes, durability variants, atomic replacement and big objects.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;

use super::ctx::{Ctx, pattern};
use crate::{Body, EntryKind, RenameMode, StorageErrorKind, StorageErrorKind as K, WriteMode};

/// `read_at` returns the asked range, fewer bytes only at the end, nothing at or past it.
pub async fn read_ranges(ctx: &Ctx) {
    let s = &ctx.storage;
    let data = pattern(1, 1000);
    let f = ctx.put("f.c9r", &data).await;
    let meta = ctx.ok(s.metadata(&f).await, "metadata");
    assert_eq!(
        (meta.kind, meta.size),
        (EntryKind::File, 1000),
        "[{}] kind and size",
        ctx.name
    );
    for (offset, len, want) in [
        (0u64, 10usize, &data[..10]),
        (10, 100, &data[10..110]),
        (500, 500, &data[500..]),
        (990, 100, &data[990..]),
        (0, 1000, &data[..]),
        (0, 100_000, &data[..]),
        (999, 1, &data[999..]),
        (1000, 5, &[][..]),
        (5000, 5, &[][..]),
        (0, 0, &[][..]),
        (u64::MAX - 10, 5, &[][..]),
    ] {
        let got = ctx.ok(
            s.read_at(&f, offset, len).await,
            &format!("read_at({offset}, {len})"),
        );
        assert!(
            got.as_ref() == want,
            "[{}] read_at({offset}, {len}) returned {} bytes, expected {}",
            ctx.name,
            got.len(),
            want.len()
        );
    }
    ctx.assert_content(&f, &data, "read_all").await;
    let empty = ctx.put("empty.c9r", b"").await;
    ctx.assert_content(&empty, b"", "an empty object").await;
    let got = ctx.ok(s.read_at(&empty, 0, 10).await, "read_at of an empty object");
    assert!(
        got.is_empty(),
        "[{}] read_at of an empty object is empty",
        ctx.name
    );
}

/// `write` in both modes: CreateNew creates, Overwrite creates or replaces
/// (longer and shorter), streamed and empty bodies; no temp file is left.
pub async fn write_modes(ctx: &Ctx) {
    let s = &ctx.storage;
    let a = ctx.p("a.c9r");
    ctx.ok(
        s.write(&a, Body::from_bytes(&b"first"[..]), WriteMode::CreateNew)
            .await,
        "CreateNew of a new object",
    );
    ctx.assert_content(&a, b"first", "after CreateNew").await;
    let longer = pattern(2, 100_000);
    ctx.ok(
        s.write(&a, Body::from_bytes(longer.clone()), WriteMode::Overwrite)
            .await,
        "Overwrite with longer content",
    );
    ctx.assert_content(&a, &longer, "after a longer Overwrite")
        .await;
    ctx.ok(
        s.write(&a, Body::from_bytes(&b"short"[..]), WriteMode::Overwrite)
            .await,
        "Overwrite with shorter content",
    );
    ctx.assert_content(&a, b"short", "after a shorter Overwrite")
        .await;
    let size = ctx
        .ok(s.metadata(&a).await, "metadata after shrinking")
        .size;
    assert_eq!(size, 5, "[{}] size follows the new content", ctx.name);
    let b = ctx.p("b.c9r");
    ctx.ok(
        s.write(&b, Body::from_bytes(&b"new"[..]), WriteMode::Overwrite)
            .await,
        "Overwrite of a new object",
    );
    ctx.assert_content(&b, b"new", "Overwrite creates").await;
    let streamed = pattern(3, 300_000);
    let body = Body::from_reader(
        streamed.len() as u64,
        std::io::Cursor::new(streamed.clone()),
    );
    let c = ctx.p("c.c9r");
    ctx.ok(
        s.write(&c, body, WriteMode::CreateNew).await,
        "a streamed body",
    );
    ctx.assert_content(&c, &streamed, "a streamed body").await;
    let e = ctx.p("e.c9r");
    ctx.ok(
        s.write(&e, Body::from_bytes(Bytes::new()), WriteMode::CreateNew)
            .await,
        "an empty body",
    );
    assert_eq!(
        ctx.ok(s.metadata(&e).await, "metadata of the empty object")
            .size,
        0,
        "[{}] empty object",
        ctx.name
    );
    ctx.ok(
        s.write(&a, Body::from_bytes(Bytes::new()), WriteMode::Overwrite)
            .await,
        "Overwrite with an empty body",
    );
    ctx.assert_content(&a, b"", "after an empty Overwrite")
        .await;
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["a.c9r", "b.c9r", "c.c9r", "e.c9r"],
        "no temp file is left behind",
    );
}

/// `write_nosync`, `rename_nosync` and `sync_entry` behave like the durable
/// calls (modes, atomic replace, no temp files left behind).
pub async fn nosync_variants(ctx: &Ctx) {
    let s = &ctx.storage;
    let a = ctx.p("a.c9r");
    ctx.ok(
        s.write_nosync(&a, Body::from_bytes(&b"first"[..]), WriteMode::CreateNew)
            .await,
        "write_nosync CreateNew of a new object",
    );
    ctx.assert_content(&a, b"first", "after write_nosync CreateNew")
        .await;
    match s
        .write_nosync(&a, Body::from_bytes(&b"x"[..]), WriteMode::CreateNew)
        .await
    {
        Err(e) => assert_eq!(
            e.kind(),
            StorageErrorKind::AlreadyExists,
            "[{}] write_nosync CreateNew over an object",
            ctx.name
        ),
        Ok(()) => panic!("[{}] write_nosync CreateNew replaced an object", ctx.name),
    }
    ctx.assert_content(
        &a,
        b"first",
        "a refused write_nosync CreateNew changes nothing",
    )
    .await;
    let longer = pattern(7, 100_000);
    ctx.ok(
        s.write_nosync(&a, Body::from_bytes(longer.clone()), WriteMode::Overwrite)
            .await,
        "write_nosync Overwrite",
    );
    ctx.assert_content(&a, &longer, "after write_nosync Overwrite")
        .await;
    ctx.ok(s.sync_entry(&a).await, "sync_entry after write_nosync");
    let b = ctx.p("b.c9r");
    ctx.ok(
        s.write(&b, Body::from_bytes(&b"bee"[..]), WriteMode::CreateNew)
            .await,
        "write b",
    );
    match s.rename_nosync(&b, &a, RenameMode::NoReplace).await {
        Err(e) => assert_eq!(
            e.kind(),
            StorageErrorKind::AlreadyExists,
            "[{}] rename_nosync NoReplace onto an object",
            ctx.name
        ),
        Ok(()) => panic!("[{}] rename_nosync NoReplace replaced an object", ctx.name),
    }
    ctx.ok(
        s.rename_nosync(&b, &a, RenameMode::Replace).await,
        "rename_nosync Replace",
    );
    ctx.assert_content(&a, b"bee", "after rename_nosync Replace")
        .await;
    ctx.ok(s.sync_entry(&a).await, "sync_entry after rename_nosync");
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["a.c9r"],
        "rename_nosync moved the object; no temp file is left behind",
    );
}

/// Concurrent readers during large overwrites see the old or the new object,
/// whole, never a prefix or a mix; nor a gap (`NotFound`), unless the backend
/// declares `atomic_replace: false`.
pub async fn atomic_overwrite(ctx: &Ctx) {
    const N: usize = 4 << 20;
    let s = &ctx.storage;
    let f = ctx.put("big.c9r", &vec![0xAA; N]).await;
    let gap_ok = !s.capabilities().atomic_replace;
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for r in 0..2 {
        let (storage, path, done, name) = (
            Arc::clone(s),
            f.clone(),
            Arc::clone(&done),
            ctx.name.clone(),
        );
        readers.push(tokio::spawn(async move {
            let mut reads = 0u32;
            loop {
                let finished = done.load(Ordering::Acquire);
                let size = match storage.metadata(&path).await {
                    Ok(m) => m.size,
                    // Without atomic_replace the target may vanish for a moment.
                    Err(e) if gap_ok && e.kind() == K::NotFound => continue,
                    Err(e) => panic!("[{name}] reader {r}: metadata during an overwrite: {e}"),
                };
                assert_eq!(
                    size, N as u64,
                    "[{name}] reader {r}: size during an overwrite"
                );
                let got = match storage.read_at(&path, 0, N).await {
                    Ok(b) => b,
                    Err(e) if gap_ok && e.kind() == K::NotFound => continue,
                    Err(e) => panic!("[{name}] reader {r}: read_at during an overwrite: {e}"),
                };
                assert_eq!(
                    got.len(),
                    N,
                    "[{name}] reader {r}: saw a prefix of {} bytes",
                    got.len()
                );
                let first = got[0];
                assert!(
                    first == 0xAA || first == 0x55,
                    "[{name}] reader {r}: unexpected byte {first:#x}"
                );
                assert!(
                    got.iter().all(|&b| b == first),
                    "[{name}] reader {r}: saw a mix of old and new"
                );
                reads += 1;
                if finished {
                    return reads;
                }
            }
        }));
    }
    for round in 0..6 {
        let fill = if round % 2 == 0 { 0x55 } else { 0xAA };
        let body = Body::from_bytes(vec![fill; N]);
        ctx.ok(
            s.write(&f, body, WriteMode::Overwrite).await,
            &format!("overwrite round {round}"),
        );
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        let reads = reader
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        assert!(reads >= 1, "[{}] each reader read at least once", ctx.name);
    }
    ctx.assert_content(&f, &vec![0xAA; N], "the last overwrite wins")
        .await;
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["big.c9r"],
        "no temp file is left behind",
    );
}

/// Concurrent `write(CreateNew)` of one name: exactly one wins, the others get
/// `AlreadyExists`, and the object holds the winner's bytes.
pub async fn create_new_race(ctx: &Ctx) {
    let path = ctx.p("race.c9r");
    let mut tasks = Vec::new();
    for i in 0..8u64 {
        let (storage, path) = (Arc::clone(&ctx.storage), path.clone());
        tasks.push(tokio::spawn(async move {
            let data = pattern(100 + i, 64 * 1024);
            let result = storage
                .write(&path, Body::from_bytes(data.clone()), WriteMode::CreateNew)
                .await;
            (data, result.map_err(|e| e.kind()))
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (data, result) = task
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        match result {
            Ok(()) => winners.push(data),
            Err(kind) => assert_eq!(kind, K::AlreadyExists, "[{}] a losing CreateNew", ctx.name),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "[{}] exactly one CreateNew wins",
        ctx.name
    );
    ctx.assert_content(&path, &winners[0], "the winner's bytes")
        .await;
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["race.c9r"],
        "no temp file is left behind",
    );
}

/// `write_at`, `set_len` and `sync` work in place when `random_write`, and
/// are `Unsupported` otherwise.
pub async fn random_write(ctx: &Ctx) {
    let s = &ctx.storage;
    let mut model = pattern(9, 100);
    let f = ctx.put("f.c9r", &model).await;
    if !s.capabilities().random_write {
        ctx.fails(
            s.write_at(&f, 0, Bytes::from_static(b"x")).await,
            &[K::Unsupported],
            "write_at without random_write",
        );
        ctx.fails(
            s.set_len(&f, 0).await,
            &[K::Unsupported],
            "set_len without random_write",
        );
        ctx.assert_content(&f, &model, "unchanged").await;
        return;
    }
    let mut apply = |offset: usize, data: &[u8]| {
        if model.len() < offset + data.len() {
            model.resize(offset + data.len(), 0);
        }
        model[offset..offset + data.len()].copy_from_slice(data);
    };
    ctx.ok(
        s.write_at(&f, 10, Bytes::from_static(b"abc")).await,
        "write_at inside",
    );
    apply(10, b"abc");
    ctx.ok(
        s.write_at(&f, 98, Bytes::from_static(b"12345")).await,
        "write_at across the end",
    );
    apply(98, b"12345");
    ctx.ok(
        s.write_at(&f, 200, Bytes::from_static(b"z")).await,
        "write_at past the end (zero gap)",
    );
    apply(200, b"z");
    let chunk = pattern(10, 40_000);
    ctx.ok(
        s.write_at(&f, 32_768 - 7, Bytes::from(chunk.clone())).await,
        "a large write_at",
    );
    apply(32_768 - 7, &chunk);
    ctx.ok(s.write_at(&f, 0, Bytes::new()).await, "an empty write_at");
    ctx.ok(s.sync(&f).await, "sync");
    ctx.assert_content(&f, &model, "after write_at").await;
    ctx.ok(s.set_len(&f, 50).await, "set_len shrinking");
    model.truncate(50);
    ctx.assert_content(&f, &model, "after shrinking").await;
    ctx.ok(s.set_len(&f, 60).await, "set_len growing (zeros)");
    model.resize(60, 0);
    ctx.ok(s.sync(&f).await, "sync");
    ctx.assert_content(&f, &model, "after growing").await;
    assert_eq!(
        ctx.ok(s.metadata(&f).await, "metadata").size,
        60,
        "[{}] size after set_len",
        ctx.name
    );
    ctx.ok(s.set_len(&f, 0).await, "set_len to zero");
    ctx.assert_content(&f, b"", "after set_len(0)").await;
    ctx.assert_names(
        ctx.names(&ctx.dir).await,
        &["f.c9r"],
        "nothing else appeared",
    );
}

/// A 5 MiB object round-trips through a streamed body and ranged reads.
pub async fn big_object(ctx: &Ctx) {
    let s = &ctx.storage;
    let data = pattern(11, (5 << 20) + 123);
    let f = ctx.p("big.c9r");
    let body = Body::from_reader(data.len() as u64, std::io::Cursor::new(data.clone()));
    ctx.ok(s.write(&f, body, WriteMode::CreateNew).await, "write 5 MiB");
    assert_eq!(
        ctx.ok(s.metadata(&f).await, "metadata").size,
        data.len() as u64,
        "[{}] size of the big object",
        ctx.name
    );
    ctx.assert_content(&f, &data, "read_all of the big object")
        .await;
    for (offset, len) in [
        (0usize, 32_768 + 28),
        (3 * 32_796 - 7, 100_000),
        (data.len() - 1000, 5000),
    ] {
        let got = ctx.ok(
            s.read_at(&f, offset as u64, len).await,
            &format!("read_at({offset}, {len})"),
        );
        let want = &data[offset..(offset + len).min(data.len())];
        assert!(
            got.as_ref() == want,
            "[{}] read_at({offset}, {len}) of the big object",
            ctx.name
        );
    }
}
