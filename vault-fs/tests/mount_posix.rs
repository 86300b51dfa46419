//! Acceptance 2b: POSIX semantics of the supported operations through a real
//! mount (pjdfstest's list as a guide). Deviations are asserted as such, so a
//! change in behaviour shows up here; README lists them.

mod common;

use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::time::{Duration, SystemTime};

use common::*;
use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};

fn errno<T: std::fmt::Debug>(r: std::io::Result<T>) -> i32 {
    match r {
        Ok(v) => panic!("expected an error, got Ok({v:?})"),
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

fn nix_errno<T: std::fmt::Debug>(r: nix::Result<T>) -> i32 {
    match r {
        Ok(v) => panic!("expected an error, got Ok({v:?})"),
        Err(e) => e as i32,
    }
}

#[test]
fn create_write_read_append_and_exclusive() {
    let m = Mounted::new();
    let p = m.path("a.txt");
    fs::write(&p, b"hello").expect("write");
    assert_eq!(fs::read(&p).expect("read"), b"hello");
    assert_eq!(
        errno(OpenOptions::new().write(true).create_new(true).open(&p)),
        libc::EEXIST
    );
    let mut f = OpenOptions::new().append(true).open(&p).expect("append");
    f.write_all(b" world").expect("append write");
    drop(f);
    assert_eq!(fs::read(&p).expect("read"), b"hello world");
    // O_TRUNC
    fs::write(&p, b"x").expect("truncating write");
    assert_eq!(fs::read(&p).expect("read"), b"x");
    assert_eq!(errno(fs::read(m.path("missing"))), libc::ENOENT);
    assert_eq!(
        errno(fs::write(m.path("no/such/dir/file"), b"")),
        libc::ENOENT
    );
    let md = fs::metadata(&p).expect("stat");
    assert!(md.is_file());
    assert_eq!(md.len(), 1);
}

#[test]
fn write_past_end_leaves_zeros_and_truncate_extends_with_zeros() {
    let m = Mounted::new();
    let p = m.path("holes");
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&p)
        .expect("open");
    f.write_all_at(b"end", 100_000).expect("pwrite");
    let mut all = Vec::new();
    (&f).seek(SeekFrom::Start(0)).expect("seek");
    (&f).read_to_end(&mut all).expect("read");
    assert_eq!(all.len(), 100_003);
    assert!(all[..100_000].iter().all(|b| *b == 0));
    f.set_len(10).expect("shrink");
    f.set_len(70_000).expect("extend");
    let mut buf = vec![1u8; 70_000];
    f.read_exact_at(&mut buf, 0).expect("read");
    assert!(buf.iter().all(|b| *b == 0));
    drop(f);
    assert_eq!(fs::metadata(&p).expect("stat").len(), 70_000);
    // truncate(2) by path, no open handle
    nix::unistd::truncate(&p, 5).expect("truncate by path");
    assert_eq!(fs::metadata(&p).expect("stat").len(), 5);
}

#[test]
fn directories_mkdir_rmdir_unlink_errors() {
    let m = Mounted::new();
    fs::create_dir(m.path("d")).expect("mkdir");
    assert_eq!(errno(fs::create_dir(m.path("d"))), libc::EEXIST);
    fs::write(m.path("d/f"), b"1").expect("write");
    assert_eq!(errno(fs::remove_dir(m.path("d"))), libc::ENOTEMPTY);
    assert_eq!(errno(fs::remove_file(m.path("d"))), libc::EISDIR);
    assert_eq!(errno(fs::remove_dir(m.path("d/f"))), libc::ENOTDIR);
    assert_eq!(errno(fs::create_dir(m.path("d/f/x"))), libc::ENOTDIR);
    fs::remove_file(m.path("d/f")).expect("unlink");
    fs::remove_dir(m.path("d")).expect("rmdir");
    assert!(!m.path("d").exists());
    fs::create_dir_all(m.path("a/b/c/d/e")).expect("mkdir -p");
    assert!(m.path("a/b/c/d/e").is_dir());
}

#[test]
fn rename_semantics() {
    let m = Mounted::new();
    fs::write(m.path("src"), b"source").expect("write");
    fs::write(m.path("dst"), b"destination").expect("write");
    fs::rename(m.path("src"), m.path("dst")).expect("rename over existing file");
    assert_eq!(fs::read(m.path("dst")).expect("read"), b"source");
    assert!(!m.path("src").exists());

    fs::create_dir_all(m.path("d1/sub")).expect("mkdir");
    fs::create_dir(m.path("empty")).expect("mkdir");
    fs::create_dir(m.path("full")).expect("mkdir");
    fs::write(m.path("full/x"), b"x").expect("write");
    assert_eq!(
        errno(fs::rename(m.path("d1"), m.path("d1/sub/inside"))),
        libc::EINVAL
    );
    // The kernel answers this one itself (the target is below the source).
    assert_eq!(
        errno(fs::rename(m.path("d1"), m.path("d1/sub"))),
        libc::EINVAL
    );
    assert_eq!(
        errno(fs::rename(m.path("d1"), m.path("full"))),
        libc::ENOTEMPTY
    );
    assert_eq!(
        errno(fs::rename(m.path("dst"), m.path("empty"))),
        libc::EISDIR
    );
    assert_eq!(
        errno(fs::rename(m.path("empty"), m.path("dst"))),
        libc::ENOTDIR
    );
    fs::write(m.path("d1/sub/file"), b"deep").expect("write");
    fs::rename(m.path("d1"), m.path("empty")).expect("rename dir over empty dir");
    assert_eq!(fs::read(m.path("empty/sub/file")).expect("read"), b"deep");
    // Move across directories, then back; same name is a no-op.
    fs::rename(m.path("dst"), m.path("empty/sub/moved")).expect("move");
    fs::rename(m.path("empty/sub/moved"), m.path("empty/sub/moved")).expect("no-op rename");
    assert_eq!(
        fs::read(m.path("empty/sub/moved")).expect("read"),
        b"source"
    );

    fs::write(m.path("n1"), b"1").expect("write");
    fs::write(m.path("n2"), b"2").expect("write");
    let r = renameat2(
        AT_FDCWD,
        &m.path("n1"),
        AT_FDCWD,
        &m.path("n2"),
        RenameFlags::RENAME_NOREPLACE,
    );
    assert_eq!(nix_errno(r), libc::EEXIST);
    renameat2(
        AT_FDCWD,
        &m.path("n1"),
        AT_FDCWD,
        &m.path("n3"),
        RenameFlags::RENAME_NOREPLACE,
    )
    .expect("noreplace to new name");
    let r = renameat2(
        AT_FDCWD,
        &m.path("n2"),
        AT_FDCWD,
        &m.path("n3"),
        RenameFlags::RENAME_EXCHANGE,
    );
    assert_eq!(
        nix_errno(r),
        libc::EOPNOTSUPP,
        "RENAME_EXCHANGE is unsupported"
    );
    assert_eq!(fs::read(m.path("n2")).expect("read"), b"2");
    assert_eq!(fs::read(m.path("n3")).expect("read"), b"1");
}

#[test]
fn open_file_survives_rename_and_unlink() {
    let m = Mounted::new();
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(m.path("f"))
        .expect("open");
    f.write_all(b"before ").expect("write");
    fs::rename(m.path("f"), m.path("g")).expect("rename while open");
    f.write_all(b"after").expect("write after rename");
    f.sync_all().expect("fsync");
    assert_eq!(fs::read(m.path("g")).expect("read"), b"before after");
    fs::remove_file(m.path("g")).expect("unlink while open");
    assert!(!m.path("g").exists());
    f.write_all(b"!").expect("write after unlink");
    let mut back = Vec::new();
    f.seek(SeekFrom::Start(0)).expect("seek");
    f.read_to_end(&mut back).expect("read after unlink");
    assert_eq!(back, b"before after!");
    let listed: Vec<_> = fs::read_dir(&m.mnt)
        .expect("readdir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(
        listed.is_empty(),
        "hidden copy must not be listed: {listed:?}"
    );
    drop(f);
    // After the last close nothing remains, even after a remount.
    let mut m = m;
    m.remount();
    assert_eq!(fs::read_dir(&m.mnt).expect("readdir").count(), 0);
}

#[test]
fn symlinks() {
    let m = Mounted::new();
    std::os::unix::fs::symlink("target/ü file", m.path("l")).expect("symlink");
    assert_eq!(
        fs::read_link(m.path("l")).expect("readlink").as_os_str(),
        OsStr::new("target/ü file")
    );
    assert!(
        fs::symlink_metadata(m.path("l"))
            .expect("lstat")
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        errno(std::os::unix::fs::symlink("x", m.path("l"))),
        libc::EEXIST
    );
    fs::write(m.path("real"), b"content").expect("write");
    std::os::unix::fs::symlink("real", m.path("l2")).expect("symlink");
    assert_eq!(
        fs::read(m.path("l2")).expect("read through link"),
        b"content"
    );
    let long = "t/".repeat(1000);
    std::os::unix::fs::symlink(&long, m.path("long")).expect("long symlink");
    assert_eq!(
        fs::read_link(m.path("long"))
            .expect("readlink")
            .as_os_str()
            .len(),
        long.len()
    );
    fs::remove_file(m.path("l")).expect("unlink symlink");
    assert!(fs::symlink_metadata(m.path("l")).is_err());
}

/// The kernel may drop an unused inode and look its name up again; the inode number must not
/// change (GNU tar replaces a deferred symlink's placeholder file only if its inode number is
/// the same, and leaves an empty file otherwise). `drop_caches` makes the kernel forget them.
#[test]
fn inode_numbers_survive_the_kernel_forgetting_them() {
    let m = Mounted::new();
    fs::create_dir(m.path("d")).expect("mkdir");
    fs::write(m.path("d/f"), b"x").expect("write");
    std::os::unix::fs::symlink("../outside", m.path("d/l")).expect("symlink");
    let names = ["d", "d/f", "d/l"];
    let inos = |m: &Mounted| -> Vec<u64> {
        names
            .iter()
            .map(|n| fs::symlink_metadata(m.path(n)).expect("lstat").ino())
            .collect()
    };
    let before = inos(&m);
    // Without a forget this test proves nothing: the kernel sends one for each dropped inode,
    // and the new lookup of "d/f" must reach the daemon (the entry count goes back up).
    fs::write("/proc/sys/vm/drop_caches", b"2").expect("drop_caches (the mount tests run as root)");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        inos(&m),
        before,
        "inode numbers after the kernel dropped its inodes"
    );
    // A file made anew under a removed file's name is another file: another number.
    fs::remove_file(m.path("d/f")).expect("unlink");
    fs::write("/proc/sys/vm/drop_caches", b"2").expect("drop_caches");
    std::thread::sleep(Duration::from_millis(200));
    fs::write(m.path("d/f"), b"y").expect("write again");
    assert_ne!(
        fs::symlink_metadata(m.path("d/f")).expect("lstat").ino(),
        before[1],
        "a new file under an old name"
    );
}

#[test]
fn unsupported_operations_answer_errors_not_success() {
    let m = Mounted::new();
    fs::write(m.path("f"), b"x").expect("write");
    assert_eq!(
        errno(fs::hard_link(m.path("f"), m.path("h"))),
        libc::EPERM,
        "hard links: EPERM"
    );
    let fifo = nix::unistd::mkfifo(
        &m.path("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    );
    assert_eq!(nix_errno(fifo), libc::EOPNOTSUPP, "mkfifo");
    let dev = nix::sys::stat::mknod(
        &m.path("dev"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o644),
        nix::sys::stat::makedev(1, 3),
    );
    assert_eq!(nix_errno(dev), libc::EOPNOTSUPP, "mknod char device");
    let f = OpenOptions::new()
        .write(true)
        .open(m.path("f"))
        .expect("open");
    let r = nix::fcntl::fallocate(
        &f,
        nix::fcntl::FallocateFlags::FALLOC_FL_PUNCH_HOLE
            | nix::fcntl::FallocateFlags::FALLOC_FL_KEEP_SIZE,
        0,
        1,
    );
    assert_eq!(nix_errno(r), libc::EOPNOTSUPP, "fallocate");
    assert!(!m.path("h").exists() && !m.path("fifo").exists() && !m.path("dev").exists());
}

#[test]
fn names_utf8_nfc_and_lengths() {
    let m = Mounted::new();
    // NFD input is stored and listed as NFC; both forms open it.
    fs::write(m.path("e\u{301}te\u{301}"), b"nfd").expect("write nfd");
    let names: Vec<String> = fs::read_dir(&m.mnt)
        .expect("readdir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["\u{e9}t\u{e9}".to_string()]);
    assert_eq!(fs::read(m.path("\u{e9}t\u{e9}")).expect("read nfc"), b"nfd");
    let bad = m.mnt.join(OsStr::from_bytes(b"bad-\xff-name"));
    assert_eq!(
        errno(fs::write(&bad, b"")),
        libc::EILSEQ,
        "non-UTF-8 names are refused"
    );
    let ok = "n".repeat(255);
    fs::write(m.path(&ok), b"255").expect("255-byte name");
    assert_eq!(fs::read(m.path(&ok)).expect("read"), b"255");
    let too_long = "n".repeat(256);
    assert_eq!(errno(fs::write(m.path(&too_long), b"")), libc::ENAMETOOLONG);
    let multibyte = "ü".repeat(127); // 254 bytes
    fs::create_dir(m.path(&multibyte)).expect("long unicode dir");
    fs::write(m.path(&format!("{multibyte}/inner")), b"i").expect("write inside");
}

#[test]
fn large_directory_listing_and_stat() {
    let m = Mounted::new();
    fs::create_dir(m.path("big")).expect("mkdir");
    for i in 0..1500 {
        fs::write(
            m.path(&format!("big/entry-with-a-longish-name-{i:05}")),
            i.to_string(),
        )
        .expect("write");
    }
    let mut names: Vec<String> = fs::read_dir(m.path("big"))
        .expect("readdir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 1500);
    assert_eq!(names[0], "entry-with-a-longish-name-00000");
    let md = fs::metadata(m.path("big/entry-with-a-longish-name-01234")).expect("stat");
    assert_eq!(md.len(), 4);
    let ls = sh("ls -la big | wc -l", &m.mnt);
    assert_eq!(ls.trim(), "1503"); // total line + . + .. + 1500
}

#[test]
fn attributes_owner_modes_times_statfs() {
    let m = Mounted::new();
    let p = m.path("f");
    fs::write(&p, b"data").expect("write");
    let md = fs::metadata(&p).expect("stat");
    assert_eq!(md.uid(), nix::unistd::getuid().as_raw());
    assert_eq!(md.mode() & 0o7777, 0o644);
    fs::create_dir(m.path("d")).expect("mkdir");
    assert_eq!(
        fs::metadata(m.path("d")).expect("stat").mode() & 0o7777,
        0o755
    );
    // chmod/chown are accepted and ignored (deviation: the format stores no modes/owners).
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).expect("chmod accepted");
    assert_eq!(fs::metadata(&p).expect("stat").mode() & 0o7777, 0o644);
    std::os::unix::fs::chown(&p, Some(12345), Some(12345)).expect("chown accepted");
    // mtime set explicitly survives a remount.
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_500_000_000);
    let f = OpenOptions::new().write(true).open(&p).expect("open");
    f.set_modified(t).expect("futimens");
    drop(f);
    assert_eq!(
        fs::metadata(&p).expect("stat").modified().expect("mtime"),
        t
    );
    let st = nix::sys::statvfs::statvfs(&m.mnt).expect("statvfs");
    assert!(st.blocks() > 0);
    assert_eq!(st.name_max(), 255);
    let mut m = m;
    m.remount();
    assert_eq!(
        fs::metadata(m.path("f"))
            .expect("stat")
            .modified()
            .expect("mtime"),
        t
    );
    // fsync of a directory succeeds.
    fs::File::open(&m.mnt)
        .expect("open dir")
        .sync_all()
        .expect("fsync dir");
}

/// The mount's options as /proc/self/mountinfo shows them (both halves).
fn mount_options_of(mnt: &std::path::Path) -> String {
    let mnt = mnt.canonicalize().expect("canon");
    let info = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let needle = format!(" {} ", mnt.display());
    info.lines()
        .find(|l| l.contains(&needle))
        .expect("the mount in mountinfo")
        .to_owned()
}

#[test]
fn modes_are_checked_by_the_kernel_only_where_it_could_refuse_something() {
    // Owner only, modes giving it read and write: no `default_permissions` (it would cost a
    // request per change), and access(2) is answered by the mount from the fixed modes.
    let m = Mounted::new();
    assert!(!mount_options_of(&m.mnt).contains("default_permissions"));
    fs::write(m.path("f"), b"x").expect("write");
    let access = |p: &std::path::Path, mode| nix::unistd::access(p, mode);
    use nix::unistd::AccessFlags as A;
    access(&m.path("f"), A::R_OK | A::W_OK).expect("read and write");
    assert_eq!(
        access(&m.path("f"), A::X_OK),
        Err(nix::errno::Errno::EACCES),
        "a 0644 file is not executable, not even for root"
    );
    access(&m.mnt, A::X_OK).expect("folders are searchable");
    // Other users admitted: the kernel checks every mode itself.
    let shared = Mounted::with_options(vault_fs::MountOptions {
        extra_options: vec!["allow_root".into()],
        ..Default::default()
    });
    assert!(mount_options_of(&shared.mnt).contains("default_permissions"));
    let read_only_files = Mounted::with_options(vault_fs::MountOptions {
        extra_options: vec!["umask=0222".into()],
        ..Default::default()
    });
    assert!(mount_options_of(&read_only_files.mnt).contains("default_permissions"));
}

#[test]
fn read_only_mount_refuses_writes() {
    let m = Mounted::with_options(vault_fs::MountOptions {
        read_only: true,
        ..Default::default()
    });
    assert_eq!(errno(fs::write(m.path("x"), b"")), libc::EROFS);
    assert_eq!(errno(fs::create_dir(m.path("d"))), libc::EROFS);
    let listed = vault_fs::mounted_vaults();
    assert!(
        listed
            .iter()
            .any(|v| v.mountpoint == m.mnt.canonicalize().expect("canon") && v.read_only)
    );
}

#[test]
fn mount_table_nonempty_mountpoint_and_unmount() {
    let m = Mounted::with_options(vault_fs::MountOptions {
        fs_name: "test-source".into(),
        ..Default::default()
    });
    let canon = m.mnt.canonicalize().expect("canon");
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let line = info
        .lines()
        .find(|l| l.contains(&format!(" {} ", canon.display())))
        .expect("mount listed");
    assert!(line.contains(" - fuse.vault test-source "), "{line}");
    let listed = vault_fs::mounted_vaults();
    assert!(
        listed
            .iter()
            .any(|v| v.mountpoint == canon && v.source == "test-source" && !v.read_only),
        "{listed:?}"
    );

    // A non-empty mountpoint is refused unless allowed.
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("occupied"), b"").expect("write");
    let vault = m.vault.clone().expect("vault");
    let err = vault_fs::mount(
        vault,
        dir.path(),
        vault_fs::MountOptions::default(),
        m.runtime.handle().clone(),
    );
    assert!(
        matches!(err, Err(vault_fs::MountError::NotEmpty(_))),
        "{err:?}"
    );
    assert!(matches!(
        vault_fs::unmount(dir.path(), false),
        Err(vault_fs::MountError::NotMounted(_))
    ));
}

#[test]
fn unmount_by_path_ends_the_session() {
    let m = Mounted::new();
    fs::write(m.path("kept"), b"kept").expect("write");
    vault_fs::unmount(&m.mnt, false).expect("unmount by path");
    assert!(wait_for(
        || !vault_fs::mounted_vaults()
            .iter()
            .any(|v| v.mountpoint == m.mnt),
        Duration::from_secs(5)
    ));
    let mut m = m;
    m.remount();
    assert_eq!(fs::read(m.path("kept")).expect("read"), b"kept");
    let _ = ErrorKind::NotFound;
}

/// Regular files below `root` whose name starts with `.vault-tmp-` (temp objects left behind).
fn temps_below(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("fs call") {
            let p = e.expect("fs call").path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".vault-tmp-"))
            {
                out.push(p);
            }
        }
    }
    out
}

/// Small files created, synced, removed by `rm -rf` and created again under the same names
/// at once (unlinks finish in the background over a local folder): the new content is what
/// reads back, the folders are removable right after their files, and after unmount storage
/// holds no temp object and no object of a removed file.
#[test]
fn rm_rf_then_recreate_the_same_names_and_nothing_left_after_unmount() {
    let mut m = Mounted::new();
    for d in 0..3 {
        let dir = m.path(&format!("t/d{d}"));
        fs::create_dir_all(&dir).expect("fs call");
        for i in 0..150 {
            fs::write(dir.join(format!("f{i}")), vec![b'a'; 4096]).expect("fs call");
        }
    }
    nix::unistd::sync();
    let status = std::process::Command::new("rm")
        .arg("-rf")
        .arg(m.path("t"))
        .status()
        .expect("fs call");
    assert!(status.success());
    assert!(!m.path("t").exists());
    let dir = m.path("t/d0");
    fs::create_dir_all(&dir).expect("fs call");
    for i in 0..150 {
        fs::write(dir.join(format!("f{i}")), format!("second {i}")).expect("fs call");
    }
    for i in (0..150).step_by(7) {
        fs::remove_file(dir.join(format!("f{i}"))).expect("fs call");
        fs::write(dir.join(format!("f{i}")), format!("third {i}")).expect("fs call");
    }
    for i in 0..150 {
        let want = if i % 7 == 0 { "third" } else { "second" };
        assert_eq!(
            fs::read_to_string(dir.join(format!("f{i}"))).expect("fs call"),
            format!("{want} {i}")
        );
    }
    assert_eq!(fs::read_dir(&dir).expect("fs call").count(), 150);
    m.unmount();
    assert!(
        temps_below(&m.storage).is_empty(),
        "{:?}",
        temps_below(&m.storage)
    );
    // 150 file objects in one content folder, nothing of the removed tree.
    let mut objects = 0;
    let mut stack = vec![m.storage.join("d")];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("fs call") {
            let p = e.expect("fs call").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "c9r") && !p.ends_with("dir.c9r") {
                objects += 1;
            }
        }
    }
    // dirid.c9r backups: root, t, t/d0; the rest are the 150 files.
    assert_eq!(objects, 150 + 3);
}

/// A file manager (or `rm -r`, `du`) lists a folder, then stats or removes every entry. The
/// listing answers for all of them: every chunk of it comes with attributes (READDIRPLUS),
/// so the stats that follow ask storage nothing. Before, only a listing's first chunk did,
/// and every later entry cost a lookup: a storage request each where no metadata cache
/// answers it (over a local folder always, over a remote store once its listing is older than
/// the dir cache time).
#[test]
fn stats_after_a_listing_ask_storage_nothing() {
    const ENTRIES: usize = 1000; // several getdents chunks of ~200 entries
    let memory = std::sync::Arc::new(vault_storage::MemoryStorage::new());
    let mut m = Mounted::over_memory(std::sync::Arc::clone(&memory));
    fs::create_dir(m.path("many")).expect("mkdir");
    for i in 0..ENTRIES {
        fs::write(m.path(&format!("many/entry-{i:04}")), b"abc").expect("create");
    }
    // Nothing of the folder stays in the kernel's caches.
    m.remount();
    let names: Vec<_> = fs::read_dir(m.path("many"))
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), ENTRIES);
    memory.reset_calls();
    for name in &names {
        let md = fs::symlink_metadata(m.path("many").join(name)).expect("stat");
        assert!(md.is_file());
        assert_eq!(md.len(), 3);
    }
    for op in ["metadata", "list_dir", "read_at"] {
        assert_eq!(
            memory.calls(op),
            0,
            "{op} requests for stats a listing answered"
        );
    }
}
