//! The WinFsp callbacks of `adapter::Adapter`, called directly (no WinFsp
//! driver, no drive letter) over a vault in memory: what each Windows request
//! does to the vault and what it answers.
//!
//! Windows only: on Windows `cargo test -p vault-winfsp` runs it natively (it
//! needs neither WinFsp's driver nor its DLL: no mount is made). On Linux
//! `typecheck-glue.sh --run` runs it in a throwaway copy where winfsp_wrs's
//! Windows-API security-descriptor parser is stubbed (README.md says exactly
//! what that proves).
#![cfg(windows)]
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::sync::Arc;

use vault_engine::{CreateOptions as VaultCreateOptions, Vault};
use vault_fs::ops::{FsConfig, ROOT, VaultFs};
use vault_storage::MemoryStorage;
use vault_winfsp::adapter::Adapter;
use vault_winfsp::context::Ctx;
use vault_winfsp::flags::{FILE_DELETE_ON_CLOSE, FILE_DIRECTORY_FILE, FILE_NON_DIRECTORY_FILE};
use vault_winfsp::status::*;
use vault_winfsp::volume::volume_label;
use winfsp_wrs::{
    CleanupFlags, CreateFileInfo, CreateOptions, FileAccessRights, FileAttributes,
    FileSystemInterface, SecurityDescriptor, U16CString, WriteMode,
};

const READ_WRITE: u32 = 0x0012_019F; // FILE_GENERIC_READ | FILE_GENERIC_WRITE
const DELETE: u32 = 0x0001_0000;
const FILE_OPEN: u32 = 1;
const FILE_CREATE: u32 = 2;
const FILE_OPEN_IF: u32 = 3;

struct Fixture {
    /// Owns the threads the adapter's runtime handle runs on.
    runtime: tokio::runtime::Runtime,
    /// The ops layer underneath, to make what Windows cannot (symlinks, odd names).
    fs: Arc<VaultFs>,
    adapter: Adapter,
}

fn fixture(read_only: bool) -> Fixture {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let storage = Arc::new(MemoryStorage::new());
    let vault = runtime
        .block_on(Vault::create(
            storage.clone(),
            "pw",
            VaultCreateOptions {
                scrypt_cost: 1024,
                ..VaultCreateOptions::default()
            },
        ))
        .unwrap();
    let config = FsConfig {
        read_only,
        ..FsConfig::default()
    };
    let fs = Arc::new(VaultFs::new(Arc::new(vault), config));
    let adapter = Adapter::new(
        Arc::clone(&fs),
        runtime.handle().clone(),
        read_only,
        volume_label("test"),
    )
    .unwrap();
    Fixture {
        runtime,
        fs,
        adapter,
    }
}

fn w(s: &str) -> U16CString {
    U16CString::from_str(s).unwrap()
}

fn sd() -> SecurityDescriptor {
    SecurityDescriptor::from_wstr(&w("O:BAG:BAD:P(A;;FA;;;WD)")).unwrap()
}

fn info(options: u32, disposition: u32) -> CreateFileInfo {
    CreateFileInfo {
        create_options: CreateOptions((disposition << 24) | options),
        granted_access: FileAccessRights(READ_WRITE | DELETE),
        file_attributes: FileAttributes(0x80),
        allocation_size: 0,
    }
}

impl Fixture {
    fn create_file(&self, path: &str) -> Ctx {
        let (ctx, _) = self
            .adapter
            .create(&w(path), info(FILE_NON_DIRECTORY_FILE, FILE_CREATE), sd())
            .unwrap();
        ctx
    }

    fn mkdir(&self, path: &str) {
        let (ctx, fi) = self
            .adapter
            .create(&w(path), info(FILE_DIRECTORY_FILE, FILE_CREATE), sd())
            .unwrap();
        assert_eq!(fi.file_attributes().0, 0x10);
        self.close(ctx);
    }

    fn open(&self, path: &str, access: u32) -> Result<Ctx, i32> {
        self.adapter
            .open(
                &w(path),
                CreateOptions(FILE_OPEN << 24),
                FileAccessRights(access),
            )
            .map(|(ctx, _)| ctx)
    }

    fn close(&self, ctx: Ctx) {
        self.adapter.cleanup(ctx.clone(), None, CleanupFlags(0));
        self.adapter.close(ctx);
    }

    fn write_file(&self, path: &str, data: &[u8]) {
        let ctx = self.create_file(path);
        let (n, fi) = self
            .adapter
            .write(ctx.clone(), data, WriteMode::Normal { offset: 0 })
            .unwrap();
        assert_eq!(n, data.len());
        assert_eq!(fi.file_size(), data.len() as u64);
        self.close(ctx);
    }

    fn read_all(&self, path: &str) -> Vec<u8> {
        let ctx = self.open(path, READ_WRITE).unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let n = match self.adapter.read(ctx.clone(), &mut buf, 0) {
            Ok(n) => n,
            Err(status) if status == STATUS_END_OF_FILE => 0,
            Err(status) => panic!("read: {status:#x}"),
        };
        self.close(ctx);
        buf.truncate(n);
        buf
    }

    fn list(&self, path: &str, marker: Option<&str>) -> Vec<String> {
        let ctx = self.open(path, READ_WRITE).unwrap();
        let mut names = Vec::new();
        let marker = marker.map(w);
        self.adapter
            .read_directory(ctx.clone(), marker.as_deref(), |entry| {
                let len = entry.file_name.iter().position(|&u| u == 0).unwrap_or(255);
                names.push(String::from_utf16(&entry.file_name[..len]).unwrap());
                true
            })
            .unwrap();
        self.close(ctx);
        names
    }

    fn delete(&self, path: &str) -> Result<(), i32> {
        let ctx = self.open(path, DELETE)?;
        let result = self.adapter.set_delete(ctx.clone(), &w(path), true);
        if result.is_ok() {
            self.adapter
                .cleanup(ctx.clone(), Some(&w(path)), CleanupFlags::DELETE);
        }
        self.adapter.close(ctx);
        result
    }
}

#[test]
fn create_write_close_reopen_read() {
    let f = fixture(false);
    f.write_file("\\a.txt", b"hello");
    assert_eq!(f.read_all("\\a.txt"), b"hello");
    let ctx = f.open("\\a.txt", 0x80).unwrap();
    let fi = f.adapter.get_file_info(ctx.clone()).unwrap();
    assert_eq!(fi.file_size(), 5);
    assert_eq!(fi.allocation_size(), 4096);
    assert_eq!(fi.file_attributes().0, 0x80);
    f.close(ctx);
}

#[test]
fn read_past_the_end_is_end_of_file() {
    let f = fixture(false);
    f.write_file("\\a", b"xyz");
    let ctx = f.open("\\a", READ_WRITE).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(f.adapter.read(ctx.clone(), &mut buf, 1), Ok(2));
    assert_eq!(&buf[..2], b"yz");
    assert_eq!(
        f.adapter.read(ctx.clone(), &mut buf, 3),
        Err(STATUS_END_OF_FILE)
    );
    f.close(ctx);
}

#[test]
fn append_and_constrained_writes() {
    let f = fixture(false);
    let ctx = f.create_file("\\log");
    f.adapter
        .write(ctx.clone(), b"one", WriteMode::Normal { offset: 0 })
        .unwrap();
    f.adapter
        .write(ctx.clone(), b"two", WriteMode::WriteToEOF)
        .unwrap();
    let (n, fi) = f
        .adapter
        .write(
            ctx.clone(),
            b"XXXXXX",
            WriteMode::ConstrainedIO { offset: 4 },
        )
        .unwrap();
    assert_eq!(
        (n, fi.file_size()),
        (2, 6),
        "constrained: never past the end"
    );
    f.close(ctx);
    assert_eq!(f.read_all("\\log"), b"onetXX");
}

#[test]
fn lookups_fail_with_windows_statuses() {
    let f = fixture(false);
    f.write_file("\\file", b"");
    assert_eq!(
        f.open("\\nope", READ_WRITE).err(),
        Some(STATUS_OBJECT_NAME_NOT_FOUND)
    );
    assert_eq!(
        f.open("\\nope\\x", READ_WRITE).err(),
        Some(STATUS_OBJECT_PATH_NOT_FOUND)
    );
    assert_eq!(
        f.open("\\file\\x", READ_WRITE).err(),
        Some(STATUS_OBJECT_PATH_NOT_FOUND)
    );
    assert_eq!(
        f.open("\\bad:name", READ_WRITE).err(),
        Some(STATUS_OBJECT_NAME_INVALID)
    );
    let created = f.adapter.create(
        &w("\\file\\x"),
        info(FILE_NON_DIRECTORY_FILE, FILE_CREATE),
        sd(),
    );
    assert_eq!(created.err(), Some(STATUS_OBJECT_PATH_NOT_FOUND));
    // Directory vs file expectations.
    f.mkdir("\\dir");
    let as_file = f.adapter.open(
        &w("\\dir"),
        CreateOptions((FILE_OPEN << 24) | FILE_NON_DIRECTORY_FILE),
        FileAccessRights(READ_WRITE),
    );
    assert_eq!(as_file.err(), Some(STATUS_FILE_IS_A_DIRECTORY));
    let as_dir = f.adapter.open(
        &w("\\file"),
        CreateOptions((FILE_OPEN << 24) | FILE_DIRECTORY_FILE),
        FileAccessRights(READ_WRITE),
    );
    assert_eq!(as_dir.err(), Some(STATUS_NOT_A_DIRECTORY));
}

#[test]
fn create_collisions_and_open_if() {
    let f = fixture(false);
    f.write_file("\\a", b"keep");
    let again = f
        .adapter
        .create(&w("\\a"), info(FILE_NON_DIRECTORY_FILE, FILE_CREATE), sd());
    assert_eq!(again.err(), Some(STATUS_OBJECT_NAME_COLLISION));
    // FILE_OPEN_IF reaching Create after all (another client made it): opened, kept.
    let (ctx, fi) = f
        .adapter
        .create(&w("\\a"), info(FILE_NON_DIRECTORY_FILE, FILE_OPEN_IF), sd())
        .unwrap();
    assert_eq!(fi.file_size(), 4);
    f.close(ctx);
    // Reserved names cannot be created.
    let con = f.adapter.create(
        &w("\\CON"),
        info(FILE_NON_DIRECTORY_FILE, FILE_CREATE),
        sd(),
    );
    assert_eq!(con.err(), Some(STATUS_OBJECT_NAME_INVALID));
}

#[test]
fn listing_pages_after_a_marker() {
    let f = fixture(false);
    f.mkdir("\\d");
    f.write_file("\\d\\y", b"");
    f.write_file("\\d\\x", b"");
    assert_eq!(f.list("\\d", None), [".", "..", "x", "y"]);
    assert_eq!(f.list("\\d", Some("x")), ["y"]);
    assert_eq!(f.list("\\", None), ["d"]);
}

#[test]
fn delete_files_and_directories() {
    let f = fixture(false);
    f.mkdir("\\d");
    f.write_file("\\d\\x", b"1");
    assert_eq!(f.delete("\\d"), Err(STATUS_DIRECTORY_NOT_EMPTY));
    assert_eq!(f.delete("\\d\\x"), Ok(()));
    assert_eq!(
        f.open("\\d\\x", READ_WRITE).err(),
        Some(STATUS_OBJECT_NAME_NOT_FOUND)
    );
    assert_eq!(f.delete("\\d"), Ok(()));
    assert_eq!(
        f.open("\\d", READ_WRITE).err(),
        Some(STATUS_OBJECT_NAME_NOT_FOUND)
    );
    assert_eq!(f.delete("\\"), Err(STATUS_CANNOT_DELETE));
}

#[test]
fn delete_on_close_flag_is_honoured_by_cleanup() {
    let f = fixture(false);
    let (ctx, _) = f
        .adapter
        .create(
            &w("\\tmp"),
            info(FILE_NON_DIRECTORY_FILE | FILE_DELETE_ON_CLOSE, FILE_CREATE),
            sd(),
        )
        .unwrap();
    // WinFsp turns FILE_DELETE_ON_CLOSE into a Cleanup with the Delete flag.
    f.adapter
        .cleanup(ctx.clone(), Some(&w("\\tmp")), CleanupFlags::DELETE);
    f.adapter.close(ctx);
    assert_eq!(
        f.open("\\tmp", READ_WRITE).err(),
        Some(STATUS_OBJECT_NAME_NOT_FOUND)
    );
}

#[test]
fn delete_on_close_open_is_refused_when_delete_would_fail() {
    let f = fixture(false);
    f.mkdir("\\d");
    f.write_file("\\d\\x", b"1");
    let open_doc = |path: &str| {
        f.adapter
            .open(
                &w(path),
                CreateOptions((FILE_OPEN << 24) | FILE_DELETE_ON_CLOSE),
                FileAccessRights(DELETE),
            )
            .map(|(ctx, _)| ctx)
    };
    assert_eq!(open_doc("\\d").err(), Some(STATUS_DIRECTORY_NOT_EMPTY));
    assert_eq!(open_doc("\\").err(), Some(STATUS_CANNOT_DELETE));
    let ctx = open_doc("\\d\\x").unwrap();
    f.adapter
        .cleanup(ctx.clone(), Some(&w("\\d\\x")), CleanupFlags::DELETE);
    f.adapter.close(ctx);
    let ctx = open_doc("\\d").unwrap();
    f.adapter
        .cleanup(ctx.clone(), Some(&w("\\d")), CleanupFlags::DELETE);
    f.adapter.close(ctx);
    assert_eq!(f.list("\\", None), Vec::<String>::new());
}

#[test]
fn rename_rules() {
    let f = fixture(false);
    f.write_file("\\a", b"A");
    f.write_file("\\b", b"B");
    f.mkdir("\\d");
    let ctx = f.open("\\a", DELETE).unwrap();
    assert_eq!(
        f.adapter.rename(ctx.clone(), &w("\\a"), &w("\\b"), false),
        Err(STATUS_OBJECT_NAME_COLLISION)
    );
    assert_eq!(
        f.adapter.rename(ctx.clone(), &w("\\a"), &w("\\d"), true),
        Err(STATUS_ACCESS_DENIED)
    );
    assert_eq!(
        f.adapter.rename(ctx.clone(), &w("\\a"), &w("\\b"), true),
        Ok(())
    );
    f.close(ctx);
    assert_eq!(f.read_all("\\b"), b"A");
    assert_eq!(
        f.open("\\a", READ_WRITE).err(),
        Some(STATUS_OBJECT_NAME_NOT_FOUND)
    );
    // Into a directory, and case-only (the drive is case-sensitive).
    let ctx = f.open("\\b", DELETE).unwrap();
    assert_eq!(
        f.adapter
            .rename(ctx.clone(), &w("\\b"), &w("\\d\\B"), false),
        Ok(())
    );
    f.close(ctx);
    assert_eq!(f.list("\\d", None), [".", "..", "B"]);
}

#[test]
fn overwrite_and_set_file_size() {
    let f = fixture(false);
    f.write_file("\\f", b"0123456789");
    let ctx = f.open("\\f", READ_WRITE).unwrap();
    let fi = f.adapter.set_file_size(ctx.clone(), 4, false).unwrap();
    assert_eq!(fi.file_size(), 4);
    // Allocation size above the size changes nothing; below it truncates.
    assert_eq!(
        f.adapter
            .set_file_size(ctx.clone(), 8192, true)
            .unwrap()
            .file_size(),
        4
    );
    assert_eq!(
        f.adapter
            .set_file_size(ctx.clone(), 2, true)
            .unwrap()
            .file_size(),
        2
    );
    let fi = f
        .adapter
        .overwrite(ctx.clone(), FileAttributes(0x80), false, 0)
        .unwrap();
    assert_eq!(fi.file_size(), 0);
    f.close(ctx);
    assert_eq!(f.read_all("\\f"), b"");
}

#[test]
fn modification_time_is_set_and_zero_leaves_it() {
    let f = fixture(false);
    f.write_file("\\t", b"x");
    let ctx = f.open("\\t", READ_WRITE).unwrap();
    let t = 133_000_000_000_000_000u64; // 2022-06-18
    let fi = f
        .adapter
        .set_basic_info(ctx.clone(), FileAttributes(u32::MAX), 0, 0, t, 0)
        .unwrap();
    assert_eq!(fi.last_write_time(), t);
    let fi = f
        .adapter
        .set_basic_info(ctx.clone(), FileAttributes(u32::MAX), 0, 0, 0, 0)
        .unwrap();
    assert_eq!(fi.last_write_time(), t);
    f.close(ctx);
}

#[test]
fn read_only_mount_refuses_changes() {
    let f = fixture(true);
    let created = f
        .adapter
        .create(&w("\\x"), info(FILE_NON_DIRECTORY_FILE, FILE_CREATE), sd());
    assert_eq!(created.err(), Some(STATUS_MEDIA_WRITE_PROTECTED));
    let root = f.open("\\", READ_WRITE).unwrap();
    assert_eq!(
        f.adapter.rename(root.clone(), &w("\\a"), &w("\\b"), false),
        Err(STATUS_MEDIA_WRITE_PROTECTED)
    );
    f.close(root);
}

#[test]
fn volume_info_and_volume_flush() {
    let f = fixture(false);
    let vi = f.adapter.get_volume_info().unwrap();
    assert!(vi.total_size() > 0 && vi.free_size() <= vi.total_size());
    assert_eq!(vi.volume_label().as_slice(), w("test").as_slice());
    // FlushFileBuffers on the volume arrives with no file context.
    assert!(f.adapter.flush(Ctx(None)).is_ok());
    assert_eq!(
        f.adapter.get_file_info(Ctx(None)).err(),
        Some(STATUS_INVALID_HANDLE)
    );
}

fn u16_at(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

#[test]
fn symlinks_are_reparse_points() {
    let f = fixture(false);
    f.mkdir("\\dir");
    f.write_file("\\dir\\target.txt", b"T");
    f.runtime
        .block_on(f.fs.symlink(ROOT, "link".as_ref(), "dir/target.txt".as_ref()))
        .unwrap();
    f.runtime
        .block_on(f.fs.symlink(ROOT, "abs".as_ref(), "/etc/hosts".as_ref()))
        .unwrap();
    // GetSecurityByName: attributes say reparse point; the final component
    // is WinFsp's to resolve, and no search along the path is needed.
    let searched = std::cell::Cell::new(0);
    let find = || {
        searched.set(searched.get() + 1);
        Some(FileAttributes(0x400))
    };
    let (attributes, _, reparse) = f.adapter.get_security_by_name(&w("\\link"), find).unwrap();
    assert_eq!(attributes.0, 0x400);
    assert!(!reparse);
    assert_eq!(searched.get(), 0);
    // A symlink on the way: the walk fails, the search finds it, WinFsp reparses.
    f.runtime
        .block_on(f.fs.symlink(ROOT, "dirlink".as_ref(), "dir".as_ref()))
        .unwrap();
    let (_, _, reparse) = f
        .adapter
        .get_security_by_name(&w("\\dirlink\\target.txt"), find)
        .unwrap();
    assert!(reparse);
    assert_eq!(searched.get(), 1);
    // Nothing on the way and nothing there: the lookup's own status.
    assert_eq!(
        f.adapter
            .get_security_by_name(&w("\\dir\\nope"), || None)
            .map(|(a, _, r)| (a.0, r)),
        Err(STATUS_OBJECT_NAME_NOT_FOUND)
    );
    // The reparse buffer: symlink tag, relative flag, backslashed target.
    let mut buf = vec![0u8; 1024];
    let n = f
        .adapter
        .get_reparse_point_by_name(&w("\\link"), false, Some(&mut buf))
        .unwrap();
    assert_eq!(
        u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]),
        0xA000_000C
    );
    assert_eq!(u32::from_le_bytes([buf[16], buf[17], buf[18], buf[19]]), 1);
    let len = u16_at(&buf, 10);
    let name: Vec<u16> = buf[20..20 + len]
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(String::from_utf16(&name).unwrap(), "dir\\target.txt");
    assert_eq!(n, 20 + 2 * len);
    // Size query without a buffer; too small a buffer.
    assert_eq!(
        f.adapter
            .get_reparse_point_by_name(&w("\\link"), false, None),
        Ok(n)
    );
    let mut small = vec![0u8; 8];
    assert_eq!(
        f.adapter
            .get_reparse_point_by_name(&w("\\link"), false, Some(&mut small)),
        Err(STATUS_BUFFER_TOO_SMALL)
    );
    // Not a symlink; an absolute target.
    assert_eq!(
        f.adapter.get_reparse_point_by_name(&w("\\dir"), true, None),
        Err(STATUS_NOT_A_REPARSE_POINT)
    );
    // An absolute target: the operations layer's default `--symlinks=inside` policy refuses it
    // (access denied) before the adapter's own rule (no absolute reparse data) is reached.
    assert_eq!(
        f.adapter
            .get_reparse_point_by_name(&w("\\abs"), false, None),
        Err(STATUS_ACCESS_DENIED)
    );
    // Opened as itself (FILE_OPEN_REPARSE_POINT): GetReparsePoint by handle.
    let (ctx, fi) = f
        .adapter
        .open(
            &w("\\link"),
            CreateOptions((FILE_OPEN << 24) | 0x0020_0000),
            FileAccessRights(0x80),
        )
        .unwrap();
    assert_eq!(fi.reparse_tag(), 0xA000_000C);
    let mut buf2 = vec![0u8; 1024];
    assert_eq!(
        f.adapter
            .get_reparse_point(ctx.clone(), &w("\\link"), &mut buf2),
        Ok(n)
    );
    assert_eq!(buf2[..n], buf[..n]);
    f.close(ctx);
}

#[test]
fn names_windows_cannot_show_are_hidden_not_lost() {
    let f = fixture(false);
    // Made elsewhere (Linux allows ':' and '?' in names).
    let made = f.runtime.block_on(f.fs.mkdir(ROOT, "a:b".as_ref()));
    assert!(made.is_ok());
    f.runtime
        .block_on(f.fs.mkdir(ROOT, "what?".as_ref()))
        .unwrap();
    f.mkdir("\\shown");
    assert_eq!(f.list("\\", None), ["shown"]);
    assert_eq!(
        f.open("\\a:b", READ_WRITE).err(),
        Some(STATUS_OBJECT_NAME_INVALID)
    );
    // Still in the vault.
    assert!(f.runtime.block_on(f.fs.resolve_path("a:b")).is_ok());
}
