//! The FUSE adapter: `fuser::Filesystem` over [`VaultFs`]. Translates, never
//! decides; knows nothing of Cryptomator.
//!
//! Every callback that may touch storage either runs on the FUSE reader
//! thread that received it, or spawns a task on the tokio runtime and replies
//! from it (see [`FuseAdapter::spawn`]): over a local folder the first (a
//! request is a few system calls, and every thread handoff costs more than
//! the 4 KiB read it carries), over a network the second, so a slow storage
//! request never blocks others. A semaphore bounds the tasks in flight: when
//! it is exhausted the FUSE reader thread waits, which pushes back on the
//! kernel.
//!
//! Split by seam: this file holds the callbacks; `translate` maps types
//! (errno, attributes, times, open flags); `mount` runs the session; `malloc`
//! sets the allocator up.

pub mod malloc;
mod mount;
mod permissions;
mod translate;

pub use mount::{EndedBy, MountSession, StopHandle, mount, mounted_vaults, unmount};
pub use translate::errno;
use translate::{
    O_EXCL, O_TRUNC, file_attr, file_type, libc_s_ifmt, libc_s_ifreg, open_mode, time_of,
};

use std::ffi::{OsStr, OsString};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use fuser::{
    AccessFlags, BsdFileFlags, CopyFileRangeFlags, FileHandle, FileType, Filesystem, FopenFlags,
    Generation, INodeNo, InitFlags, IoctlFlags, KernelConfig, LockOwner, OpenFlags, PollEvents,
    PollFlags, PollNotifier, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyDirectoryPlus,
    ReplyEmpty, ReplyEntry, ReplyIoctl, ReplyLseek, ReplyOpen, ReplyPoll, ReplyStatfs, ReplyWrite,
    ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use tokio::sync::Semaphore;

use crate::ops::{Attr, FileKind, FsErrorKind, RenameFlags, SetAttr, VaultFs};

/// Requests in flight at most (each holds at most one max_write buffer).
const MAX_IN_FLIGHT: usize = 64;

/// Last-request clock for `--idle`.
#[derive(Debug)]
pub(crate) struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }
    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }
    pub(crate) fn idle_for(&self) -> Duration {
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

pub(crate) struct FuseAdapter {
    fs: Arc<VaultFs>,
    runtime: tokio::runtime::Handle,
    permits: Arc<Semaphore>,
    attr_ttl: Duration,
    entry_ttl: Duration,
    activity: Arc<Activity>,
    /// Requests run on the reader thread (local storage; see [`FuseAdapter::spawn`]).
    inline: bool,
}

fn max_pages_limit() -> u32 {
    std::fs::read_to_string("/proc/sys/fs/fuse/max_pages_limit")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(256)
}

impl FuseAdapter {
    pub(crate) fn new(
        fs: Arc<VaultFs>,
        runtime: tokio::runtime::Handle,
        attr_ttl: Duration,
        entry_ttl: Duration,
        activity: Arc<Activity>,
    ) -> Self {
        let inline = fs.vault().local_io();
        FuseAdapter {
            fs,
            runtime,
            permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            attr_ttl,
            entry_ttl,
            activity,
            inline,
        }
    }

    /// Whether requests run on the FUSE reader threads (see [`FuseAdapter::spawn`]).
    pub(crate) fn inline(&self) -> bool {
        self.inline
    }

    /// Runs `work`, which replies to the request.
    ///
    /// Over local storage ([`vault_engine::Vault::local_io`]) on the calling
    /// FUSE reader thread, to completion, with the storage's system calls made
    /// right there ([`vault_engine::run_io_inline`]): a 4 KiB read then costs
    /// the kernel's switch to this thread and back, as in any FUSE daemon,
    /// instead of three more (to a runtime worker, to the blocking pool and
    /// back). Several reader threads serve requests side by side.
    ///
    /// Otherwise as a task on the runtime; the reply is sent from there. Takes
    /// an in-flight permit first, on the calling FUSE reader thread (never a
    /// runtime thread): when all are taken that thread waits, which holds back
    /// further requests from the kernel. The permit is held until the task has
    /// replied. The engine calls inside `work` are bounded by `io_timeout` in
    /// [`VaultFs`].
    fn spawn<F, Fut>(&self, work: F)
    where
        F: FnOnce(Arc<VaultFs>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.activity.touch();
        if self.inline {
            let fs = Arc::clone(&self.fs);
            vault_engine::run_io_inline(|| self.runtime.block_on(work(fs)));
            return;
        }
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => Some(permit),
            // Saturated: block this reader thread until a task finishes.
            Err(_) => self
                .runtime
                .block_on(Arc::clone(&self.permits).acquire_owned())
                .ok(),
        };
        let fs = Arc::clone(&self.fs);
        self.runtime.spawn(async move {
            let _permit = permit;
            work(fs).await;
        });
    }
}

macro_rules! try_reply {
    ($reply:expr, $result:expr) => {
        match $result {
            Ok(value) => value,
            Err(err) => {
                $reply.error(errno(err.kind()));
                return;
            }
        }
    };
}

impl Filesystem for FuseAdapter {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // As large as the kernel allows: max_pages_limit pages (256 → 1 MiB).
        let max_write = max_pages_limit()
            .saturating_mul(4096)
            .clamp(128 * 1024, 16 * 1024 * 1024);
        if let Err(nearest) = config.set_max_write(max_write) {
            let _ = config.set_max_write(nearest);
        }
        if let Err(nearest) = config.set_max_readahead(max_write) {
            let _ = config.set_max_readahead(nearest);
        }
        let _ = config.set_max_background(32);
        let _ = config.set_congestion_threshold(24);
        // READDIRPLUS on every chunk of a listing, not the kernel's adaptive mode (which
        // sends attributes with the first chunk only): a listing holds every entry's
        // attributes anyway, and without them each later stat or unlink (`ls -l`, `rm -r`,
        // a file manager) costs a LOOKUP round trip and an engine lookup (a storage request
        // where no metadata cache answers it: over a local folder a `statx`, over a remote
        // store once the listing is older than the dir cache time).
        let wanted = InitFlags::FUSE_ASYNC_READ
            | InitFlags::FUSE_BIG_WRITES
            | InitFlags::FUSE_MAX_PAGES
            | InitFlags::FUSE_ATOMIC_O_TRUNC
            | InitFlags::FUSE_AUTO_INVAL_DATA
            | InitFlags::FUSE_DO_READDIRPLUS
            | InitFlags::FUSE_PARALLEL_DIROPS
            | InitFlags::FUSE_CACHE_SYMLINKS;
        let supported = wanted & config.capabilities();
        let _ = config.add_capabilities(supported);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let name = name.to_owned();
        let (attr_ttl, entry_ttl) = (self.attr_ttl, self.entry_ttl);
        self.spawn(move |fs| async move {
            match fs.lookup(parent.0, &name).await {
                Ok(attr) => {
                    reply.entry_with_ttls(&attr_ttl, &entry_ttl, &file_attr(&attr), Generation(0))
                }
                Err(e) if e.kind() == FsErrorKind::NotFound && !entry_ttl.is_zero() => {
                    // Node id 0: a negative entry the kernel may cache for entry_ttl.
                    let mut attr = file_attr(&Attr {
                        ino: 0,
                        kind: FileKind::File,
                        size: 0,
                        mtime: SystemTime::UNIX_EPOCH,
                        perm: 0,
                        uid: 0,
                        gid: 0,
                        nlink: 0,
                    });
                    attr.ino = INodeNo(0);
                    reply.entry_with_ttls(&attr_ttl, &entry_ttl, &attr, Generation(0));
                }
                Err(e) => reply.error(errno(e.kind())),
            }
        });
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.fs.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let ttl = self.attr_ttl;
        self.spawn(move |fs| async move {
            let attr = try_reply!(reply, fs.getattr(ino.0).await);
            reply.attr(&ttl, &file_attr(&attr));
        });
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let ttl = self.attr_ttl;
        let changes = SetAttr {
            size,
            mtime: mtime.map(time_of),
            atime: atime.map(time_of),
            mode,
            uid,
            gid,
            handle: fh.map(|h| h.0),
        };
        self.spawn(move |fs| async move {
            let attr = try_reply!(reply, fs.setattr(ino.0, changes).await);
            reply.attr(&ttl, &file_attr(&attr));
        });
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        self.spawn(move |fs| async move {
            let target = try_reply!(reply, fs.readlink(ino.0).await);
            reply.data(target.as_bytes());
        });
    }

    fn mknod(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        if mode & libc_s_ifmt() != libc_s_ifreg() {
            // FIFOs, sockets and devices: the format has no such nodes.
            reply.error(errno(FsErrorKind::Unsupported));
            return;
        }
        let name = name.to_owned();
        let (attr_ttl, entry_ttl) = (self.attr_ttl, self.entry_ttl);
        self.spawn(move |fs| async move {
            let (attr, opened) = try_reply!(reply, fs.create(parent.0, &name, true, false).await);
            let _ = fs.release(opened.handle).await;
            reply.entry_with_ttls(&attr_ttl, &entry_ttl, &file_attr(&attr), Generation(0));
        });
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        let name = name.to_owned();
        let (attr_ttl, entry_ttl) = (self.attr_ttl, self.entry_ttl);
        self.spawn(move |fs| async move {
            let attr = try_reply!(reply, fs.mkdir(parent.0, &name).await);
            reply.entry_with_ttls(&attr_ttl, &entry_ttl, &file_attr(&attr), Generation(0));
        });
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let name = name.to_owned();
        self.spawn(move |fs| async move {
            try_reply!(reply, fs.unlink(parent.0, &name).await);
            reply.ok();
        });
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let name = name.to_owned();
        self.spawn(move |fs| async move {
            try_reply!(reply, fs.rmdir(parent.0, &name).await);
            reply.ok();
        });
    }

    fn symlink(
        &self,
        _req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let name = link_name.to_owned();
        let target: OsString = target.as_os_str().to_owned();
        let (attr_ttl, entry_ttl) = (self.attr_ttl, self.entry_ttl);
        self.spawn(move |fs| async move {
            let attr = try_reply!(reply, fs.symlink(parent.0, &name, &target).await);
            reply.entry_with_ttls(&attr_ttl, &entry_ttl, &file_attr(&attr), Generation(0));
        });
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: fuser::RenameFlags,
        reply: ReplyEmpty,
    ) {
        if flags.contains(fuser::RenameFlags::RENAME_WHITEOUT) {
            reply.error(errno(FsErrorKind::Unsupported));
            return;
        }
        let flags = RenameFlags {
            no_replace: flags.contains(fuser::RenameFlags::RENAME_NOREPLACE),
            exchange: flags.contains(fuser::RenameFlags::RENAME_EXCHANGE),
        };
        let (name, newname) = (name.to_owned(), newname.to_owned());
        self.spawn(move |fs| async move {
            try_reply!(
                reply,
                fs.rename(parent.0, &name, newparent.0, &newname, flags)
                    .await
            );
            reply.ok();
        });
    }

    fn link(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _newparent: INodeNo,
        _newname: &OsStr,
        reply: ReplyEntry,
    ) {
        // The format has no hard links; EPERM is link(2)'s answer for that.
        reply.error(errno(FsErrorKind::NotPermitted));
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let (write, truncate) = open_mode(flags.0);
        self.spawn(move |fs| async move {
            let opened = try_reply!(reply, fs.open(ino.0, write, truncate).await);
            let fopen = if opened.keep_cache {
                FopenFlags::FOPEN_KEEP_CACHE
            } else {
                FopenFlags::empty()
            };
            reply.opened(FileHandle(opened.handle), fopen);
        });
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        self.spawn(move |fs| async move {
            let data = try_reply!(reply, fs.read(fh.0, offset, size as usize).await);
            reply.data(&data);
        });
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        if self.inline {
            // Served right here: no copy of the payload (up to max_write) to hand over.
            self.activity.touch();
            let run = || self.runtime.block_on(self.fs.write(fh.0, offset, data));
            let written = try_reply!(reply, vault_engine::run_io_inline(run));
            return reply.written(written as u32);
        }
        let data = vault_engine::SecretBuf::from(data.to_vec());
        self.spawn(move |fs| async move {
            let written = try_reply!(reply, fs.write(fh.0, offset, &data).await);
            reply.written(written as u32);
        });
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        self.spawn(move |fs| async move {
            try_reply!(reply, fs.flush(fh.0).await);
            reply.ok();
        });
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.spawn(move |fs| async move {
            try_reply!(reply, fs.release(fh.0).await);
            reply.ok();
        });
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.spawn(move |fs| async move {
            try_reply!(reply, fs.fsync(fh.0).await);
            reply.ok();
        });
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.spawn(move |fs| async move {
            let handle = try_reply!(reply, fs.opendir(ino.0).await);
            reply.opened(FileHandle(handle), FopenFlags::empty());
        });
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        self.activity.touch();
        let entries = try_reply!(reply, self.fs.readdir(fh.0));
        let parent = self.fs.parent_of(ino.0);
        let mut index = offset;
        loop {
            let full = match index {
                0 => reply.add(ino, 1, FileType::Directory, "."),
                1 => reply.add(INodeNo(parent), 2, FileType::Directory, ".."),
                n => match entries.get((n - 2) as usize) {
                    Some(e) => {
                        reply.add(INodeNo(e.attr.ino), n + 1, file_type(e.attr.kind), &e.name)
                    }
                    None => break,
                },
            };
            if full {
                break;
            }
            index += 1;
        }
        reply.ok();
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let ttl = self.entry_ttl;
        self.spawn(move |fs| async move {
            let entries = try_reply!(reply, fs.readdir(fh.0));
            let parent = fs.parent_of(ino.0);
            let mut index = offset;
            loop {
                let full = match index {
                    // "." and "..": the kernel does not count lookups for them.
                    0 | 1 => {
                        let (id, name) = if index == 0 {
                            (ino.0, ".")
                        } else {
                            (parent, "..")
                        };
                        let attr = try_reply!(reply, fs.getattr_cached(id).await);
                        reply.add(
                            INodeNo(id),
                            index + 1,
                            name,
                            &ttl,
                            &file_attr(&attr),
                            Generation(0),
                        )
                    }
                    n => match entries.get((n - 2) as usize) {
                        Some(e) => {
                            let full = reply.add(
                                INodeNo(e.attr.ino),
                                n + 1,
                                &e.name,
                                &ttl,
                                &file_attr(&e.attr),
                                Generation(0),
                            );
                            if !full {
                                fs.remember(e.attr.ino);
                            }
                            full
                        }
                        None => break,
                    },
                };
                if full {
                    break;
                }
                index += 1;
            }
            reply.ok();
        });
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        // Answered first: dropping a big listing's snapshot (each entry's node released and
        // collected) took ~0.5 µs an entry, 2.7 ms for 5,000, all of it waited for by
        // `rm -r` before. The order does not matter to the node table: a node goes once both
        // the kernel's lookups and the snapshots holding it are gone, whichever ends last.
        reply.ok();
        self.fs.releasedir(fh.0);
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        // Directory changes reach storage before their requests are answered.
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        self.spawn(move |fs| async move {
            let st = try_reply!(reply, fs.statfs().await);
            reply.statfs(
                st.blocks,
                st.blocks_free,
                st.blocks_available,
                u64::from(u32::MAX),
                u64::from(u32::MAX) - fs.node_count() as u64,
                st.block_size,
                st.name_max,
                st.block_size,
            );
        });
    }

    fn setxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        reply.error(errno(FsErrorKind::NotImplemented));
    }

    fn getxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _size: u32,
        reply: ReplyXattr,
    ) {
        reply.error(errno(FsErrorKind::NotImplemented));
    }

    fn listxattr(&self, _req: &Request, _ino: INodeNo, _size: u32, reply: ReplyXattr) {
        reply.error(errno(FsErrorKind::NotImplemented));
    }

    fn removexattr(&self, _req: &Request, _ino: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(errno(FsErrorKind::NotImplemented));
    }

    fn access(&self, req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        // Asked only when the kernel does not check modes itself (`permissions`).
        let (uid, gid) = (req.uid(), req.gid());
        self.spawn(move |fs| async move {
            let attr = try_reply!(reply, fs.getattr_cached(ino.0).await);
            match permissions::access_allowed(&attr, uid, gid, mask) {
                true => reply.ok(),
                false => reply.error(errno(FsErrorKind::PermissionDenied)),
            }
        });
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let name = name.to_owned();
        let exclusive = flags & O_EXCL != 0;
        let truncate = flags & O_TRUNC != 0;
        let attr_ttl = self.attr_ttl;
        self.spawn(move |fs| async move {
            let (attr, opened) =
                try_reply!(reply, fs.create(parent.0, &name, exclusive, truncate).await);
            reply.created(
                &attr_ttl,
                &file_attr(&attr),
                Generation(0),
                FileHandle(opened.handle),
                FopenFlags::empty(),
            );
        });
    }

    fn ioctl(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: IoctlFlags,
        _cmd: u32,
        _in_data: &[u8],
        _out_size: u32,
        reply: ReplyIoctl,
    ) {
        reply.error(errno(FsErrorKind::NotImplemented));
    }

    fn poll(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _ph: PollNotifier,
        _events: PollEvents,
        _flags: PollFlags,
        reply: ReplyPoll,
    ) {
        reply.error(errno(FsErrorKind::NotImplemented));
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _length: u64,
        _mode: i32,
        reply: ReplyEmpty,
    ) {
        // Kernel answers EOPNOTSUPP; posix_fallocate then writes zeros itself.
        reply.error(errno(FsErrorKind::NotImplemented));
    }

    fn lseek(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: i64,
        _whence: i32,
        reply: ReplyLseek,
    ) {
        // Kernel falls back to its generic lseek (no holes: SEEK_DATA/SEEK_HOLE trivial).
        reply.error(errno(FsErrorKind::NotImplemented));
    }

    fn copy_file_range(
        &self,
        _req: &Request,
        _ino_in: INodeNo,
        _fh_in: FileHandle,
        _offset_in: u64,
        _ino_out: INodeNo,
        _fh_out: FileHandle,
        _offset_out: u64,
        _len: u64,
        _flags: CopyFileRangeFlags,
        reply: ReplyWrite,
    ) {
        // Kernel falls back to a read/write copy.
        reply.error(errno(FsErrorKind::NotImplemented));
    }
}
