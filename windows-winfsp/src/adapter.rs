//! `winfsp_wrs::FileSystemInterface` over `VaultFs`: each callback decodes
//! its arguments with the crate's plain functions, calls the ops layer, and
//! encodes the answer. Nothing is decided here that a tested function could
//! decide instead.
//!
//! Windows only, and NEVER COMPILED OR RUN so far (no Windows toolchain where
//! it was written): expect type errors against `winfsp_wrs` 0.4 on the first
//! build, and treat every behaviour as untested until the checklist in
//! README.md has been run.
//!
//! Threads: WinFsp calls these from its own dispatcher threads, never from a
//! tokio worker, so `Handle::block_on` is safe (architecture.md §7).

use std::ffi::OsStr;
use std::future::Future;
use std::sync::Arc;

use tokio::runtime::Handle as Runtime;
use vault_fs::ops::{Attr, FileKind, FsError, FsErrorKind, NodeId, ROOT, SetAttr, VaultFs};
use winfsp_wrs::{
    CleanupFlags, CreateFileInfo, CreateOptions, DirInfo, FileAccessRights, FileAttributes,
    FileInfo, FileSystemInterface, NTSTATUS, PSecurityDescriptor, SecurityDescriptor, U16CStr,
    U16CString, U16Str, VolumeInfo, WriteMode,
};

use crate::attr::{FileInfoData, requested_time};
use crate::context::{Ctx, Handle, lock};
use crate::flags::{Disposition, Intent, after_collision};
use crate::io::{WriteRequest, read_outcome, size_change, write_span};
use crate::listing::{Item, after_marker, windows_listing};
use crate::namespace::{check_delete, check_rename_paths, rename_flags};
use crate::path::{WinPath, check_new_name};
use crate::reparse::{copy_out, symlink_reparse_buffer};
use crate::status::{
    PathStage, STATUS_FILE_IS_A_DIRECTORY, STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_PARAMETER,
    STATUS_MEDIA_WRITE_PROTECTED, STATUS_NOT_A_REPARSE_POINT, STATUS_OBJECT_NAME_COLLISION,
    lookup_status, ntstatus,
};
use crate::volume::volume_figures;

/// Every object gets the same descriptor: the format stores no ACLs, so
/// access is decided by who can reach the drive (the mounting user's
/// session), as with FUSE's default mount. SDDL: owner and group
/// Administrators, full access for SYSTEM, Administrators and Everyone.
const SDDL: &str = "O:BAG:BAD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;WD)";

/// The filesystem WinFsp serves.
pub struct Adapter {
    fs: Arc<VaultFs>,
    runtime: Runtime,
    read_only: bool,
    label: Vec<u16>,
    security: SecurityDescriptor,
}

impl Adapter {
    /// An adapter over `fs`; `label` as [`crate::volume::volume_label`] made it.
    pub fn new(
        fs: Arc<VaultFs>,
        runtime: Runtime,
        read_only: bool,
        label: Vec<u16>,
    ) -> Result<Self, String> {
        let sddl = U16CString::from_str(SDDL).map_err(|e| e.to_string())?;
        let security = SecurityDescriptor::from_wstr(&sddl)?;
        Ok(Adapter {
            fs,
            runtime,
            read_only,
            label,
            security,
        })
    }

    fn block<T>(&self, fut: impl Future<Output = Result<T, FsError>>) -> Result<T, NTSTATUS> {
        self.runtime.block_on(fut).map_err(|e| ntstatus(e.kind()))
    }

    fn info(&self, attr: &Attr) -> FileInfo {
        let d = FileInfoData::from_attr(attr, self.read_only);
        let mut info = FileInfo::default();
        info.set_file_attributes(FileAttributes(d.attributes))
            .set_reparse_tag(d.reparse_tag)
            .set_file_size(d.file_size)
            .set_allocation_size(d.allocation_size)
            .set_creation_time(d.creation_time)
            .set_last_access_time(d.last_access_time)
            .set_last_write_time(d.last_write_time)
            .set_change_time(d.change_time)
            .set_index_number(d.index_number);
        info
    }

    fn attr(&self, ino: NodeId) -> Result<Attr, NTSTATUS> {
        self.block(self.fs.getattr_cached(ino))
    }

    /// Resolves a path; a failure is NAME_NOT_FOUND or PATH_NOT_FOUND after
    /// the component that failed (see `status::lookup_status`).
    fn resolve(&self, path: &WinPath) -> Result<NodeId, NTSTATUS> {
        match self
            .runtime
            .block_on(self.fs.resolve_path(&path.ops_path()))
        {
            Ok(ino) => Ok(ino),
            Err(e) if !matches!(e.kind(), FsErrorKind::NotFound | FsErrorKind::NotADirectory) => {
                Err(ntstatus(e.kind()))
            }
            Err(e) => {
                // Which component was missing decides between NAME and PATH not found.
                let stage = match path.split_last() {
                    Some((parent, _)) if self.is_dir(&parent) => PathStage::Final,
                    Some(_) => PathStage::Parent,
                    None => PathStage::Final,
                };
                Err(lookup_status(e.kind(), stage))
            }
        }
    }

    fn is_dir(&self, path: &WinPath) -> bool {
        let ino = self
            .runtime
            .block_on(self.fs.resolve_path(&path.ops_path()));
        matches!(ino.and_then(|ino| self.runtime.block_on(self.fs.getattr_cached(ino))),
            Ok(attr) if attr.kind == FileKind::Dir)
    }

    /// The parent directory of a path about to get a new entry.
    fn resolve_parent(&self, parent: &WinPath) -> Result<NodeId, NTSTATUS> {
        match self.resolve(parent) {
            Ok(ino) if self.attr(ino)?.kind == FileKind::Dir => Ok(ino),
            Ok(_) => Err(lookup_status(FsErrorKind::NotADirectory, PathStage::Parent)),
            Err(status) => Err(status),
        }
    }

    /// The ops file handle of `h`, opening one on first data access.
    fn data_handle(&self, h: &Handle) -> Result<u64, NTSTATUS> {
        let mut slot = lock(&h.file);
        if let Some(id) = *slot {
            return Ok(id);
        }
        match h.kind {
            FileKind::File => {}
            FileKind::Dir => return Err(STATUS_FILE_IS_A_DIRECTORY),
            FileKind::Symlink => return Err(STATUS_INVALID_DEVICE_REQUEST),
        }
        let opened = self.block(self.fs.open(h.ino, h.intent.write, false))?;
        *slot = Some(opened.handle);
        Ok(opened.handle)
    }

    /// Opens an existing node (Open, and Create's fallback after a collision).
    fn open_existing(
        &self,
        path: &WinPath,
        intent: Intent,
        truncate: bool,
    ) -> Result<(Ctx, FileInfo), NTSTATUS> {
        let ino = self.resolve(path)?;
        let attr = self.block(self.fs.getattr(ino))?;
        intent.check_kind(attr.kind)?;
        if intent.delete_on_close {
            // Refused at open, not silently at cleanup (which cannot fail).
            let has_entries = attr.kind == FileKind::Dir && self.has_entries(ino)?;
            check_delete(path, attr.kind, has_entries, self.read_only)?;
        }
        let file = if attr.kind == FileKind::File && (intent.data || truncate) {
            Some(
                self.block(self.fs.open(ino, intent.write || truncate, truncate))?
                    .handle,
            )
        } else {
            None
        };
        // Held until Close, so the node table keeps the node (FUSE's lookup count).
        self.fs.remember(ino);
        let attr = self.attr(ino)?;
        let handle = Handle::new(ino, attr.kind, intent, file);
        Ok((Ctx(Some(Arc::new(handle))), self.info(&attr)))
    }

    fn symlink_buffer(&self, ino: NodeId) -> Result<Vec<u8>, NTSTATUS> {
        if self.attr(ino)?.kind != FileKind::Symlink {
            return Err(STATUS_NOT_A_REPARSE_POINT);
        }
        let target = self.block(self.fs.readlink(ino))?;
        symlink_reparse_buffer(&target)
    }

    fn has_entries(&self, ino: NodeId) -> Result<bool, NTSTATUS> {
        let dh = self.block(self.fs.opendir(ino))?;
        let entries = self.fs.readdir(dh).map_err(|e| ntstatus(e.kind()));
        self.fs.releasedir(dh);
        Ok(!entries?.is_empty())
    }
}

impl FileSystemInterface for Adapter {
    type FileContext = Ctx;

    const GET_VOLUME_INFO_DEFINED: bool = true;
    fn get_volume_info(&self) -> Result<VolumeInfo, NTSTATUS> {
        let stat = self.block(self.fs.statfs())?;
        let (total, free) = volume_figures(&stat);
        VolumeInfo::new(total, free, U16Str::from_slice(&self.label))
            .map_err(|_| STATUS_INVALID_PARAMETER)
    }

    const GET_SECURITY_BY_NAME_DEFINED: bool = true;
    fn get_security_by_name(
        &self,
        file_name: &U16CStr,
        find_reparse_point: impl Fn() -> Option<FileAttributes>,
    ) -> Result<(FileAttributes, PSecurityDescriptor, bool), NTSTATUS> {
        let path = WinPath::parse(file_name.as_slice())?;
        match self.resolve(&path) {
            Ok(ino) => {
                // Resolved: every component on the way was a directory, so
                // there is no symlink to report (and no per-prefix search).
                let attr = self.attr(ino)?;
                let bits = FileInfoData::from_attr(&attr, self.read_only).attributes;
                Ok((FileAttributes(bits), self.security.as_ptr(), false))
            }
            // A symlink on the way stops the walk: WinFsp resolves it (STATUS_REPARSE).
            Err(status) => match find_reparse_point() {
                Some(attributes) => Ok((attributes, self.security.as_ptr(), true)),
                None => Err(status),
            },
        }
    }

    const OPEN_DEFINED: bool = true;
    fn open(
        &self,
        file_name: &U16CStr,
        create_options: CreateOptions,
        granted_access: FileAccessRights,
    ) -> Result<(Ctx, FileInfo), NTSTATUS> {
        let path = WinPath::parse(file_name.as_slice())?;
        let intent = Intent::new(create_options.0, granted_access.0, self.read_only);
        self.open_existing(&path, intent, false)
    }

    const CREATE_DEFINED: bool = true;
    fn create(
        &self,
        file_name: &U16CStr,
        create_file_info: CreateFileInfo,
        _security_descriptor: SecurityDescriptor,
    ) -> Result<(Ctx, FileInfo), NTSTATUS> {
        if self.read_only {
            return Err(STATUS_MEDIA_WRITE_PROTECTED);
        }
        let path = WinPath::parse(file_name.as_slice())?;
        let (parent, name) = path.split_last().ok_or(STATUS_OBJECT_NAME_COLLISION)?;
        check_new_name(name)?;
        let options = create_file_info.create_options.0;
        let intent = Intent::new(options, create_file_info.granted_access.0, self.read_only);
        let parent_ino = self.resolve_parent(&parent)?;
        // Attributes and the allocation size hint are not stored (README).
        let created = if intent.creates_directory() {
            self.block(self.fs.mkdir(parent_ino, OsStr::new(name)))
                .map(|attr| (attr, None))
        } else {
            self.block(self.fs.create(parent_ino, OsStr::new(name), true, false))
                .map(|(attr, opened)| (attr, Some(opened.handle)))
        };
        match created {
            // mkdir and create count the one lookup this handle holds.
            Ok((attr, file)) => {
                let handle = Handle::new(attr.ino, attr.kind, intent, file);
                Ok((Ctx(Some(Arc::new(handle))), self.info(&attr)))
            }
            Err(status) if status == STATUS_OBJECT_NAME_COLLISION => {
                // Appeared since Open missed it (another client): honour an
                // "open if it exists" disposition.
                match after_collision(Disposition::from_create_options(options)) {
                    Some(truncate) => self.open_existing(&path, intent, truncate),
                    None => Err(status),
                }
            }
            Err(status) => Err(status),
        }
    }

    const OVERWRITE_DEFINED: bool = true;
    fn overwrite(
        &self,
        file_context: Ctx,
        _file_attributes: FileAttributes,
        _replace_file_attributes: bool,
        _allocation_size: u64,
    ) -> Result<FileInfo, NTSTATUS> {
        let h = file_context.handle()?;
        let fh = self.data_handle(h)?;
        let changes = SetAttr {
            size: Some(0),
            handle: Some(fh),
            ..SetAttr::default()
        };
        let attr = self.block(self.fs.setattr(h.ino, changes))?;
        Ok(self.info(&attr))
    }

    const CLEANUP_DEFINED: bool = true;
    fn cleanup(&self, file_context: Ctx, file_name: Option<&U16CStr>, flags: CleanupFlags) {
        let Ok(h) = file_context.handle() else {
            return;
        };
        if !flags.is(CleanupFlags::DELETE) {
            // close(2) semantics: write back now; the handle stays for paging I/O until Close.
            if let Some(fh) = *lock(&h.file)
                && let Err(status) = self.block(self.fs.flush(fh))
            {
                tracing::warn!(ino = h.ino, status, "write-back at cleanup failed");
            }
            return;
        }
        // Deleting: drop our data handle first, so the ops layer removes the
        // file instead of hiding it until that handle closes.
        if let Some(fh) = lock(&h.file).take()
            && let Err(e) = self.runtime.block_on(self.fs.release(fh))
        {
            tracing::warn!(ino = h.ino, kind = ?e.kind(), "release before delete failed");
        }
        let Some(path) = file_name.and_then(|n| WinPath::parse(n.as_slice()).ok()) else {
            return;
        };
        let Some((parent, name)) = path.split_last() else {
            return;
        };
        let result = self.resolve(&parent).and_then(|parent_ino| match h.kind {
            FileKind::Dir => self.block(self.fs.rmdir(parent_ino, OsStr::new(name))),
            FileKind::File | FileKind::Symlink => {
                self.block(self.fs.unlink(parent_ino, OsStr::new(name)))
            }
        });
        if let Err(status) = result {
            // Cleanup cannot fail; SetDelete checked what it could beforehand.
            tracing::warn!(ino = h.ino, status, "delete on cleanup failed");
        }
    }

    const CLOSE_DEFINED: bool = true;
    fn close(&self, file_context: Ctx) {
        let Ok(h) = file_context.handle() else {
            return;
        };
        if let Some(fh) = lock(&h.file).take()
            && let Err(e) = self.runtime.block_on(self.fs.release(fh))
        {
            tracing::warn!(ino = h.ino, kind = ?e.kind(), "release failed (kept for retry by the ops layer)");
        }
        self.fs.forget(h.ino, 1);
    }

    const READ_DEFINED: bool = true;
    fn read(&self, file_context: Ctx, buffer: &mut [u8], offset: u64) -> Result<usize, NTSTATUS> {
        let h = file_context.handle()?;
        let fh = self.data_handle(h)?;
        let data = self.block(self.fs.read(fh, offset, buffer.len()))?;
        let n = data.len().min(buffer.len());
        if let (Some(dest), Some(src)) = (buffer.get_mut(..n), data.get(..n)) {
            dest.copy_from_slice(src);
        }
        read_outcome(n, buffer.len())
    }

    const WRITE_DEFINED: bool = true;
    fn write(
        &self,
        file_context: Ctx,
        buffer: &[u8],
        mode: WriteMode,
    ) -> Result<(usize, FileInfo), NTSTATUS> {
        let h = file_context.handle()?;
        let fh = self.data_handle(h)?;
        let request = match mode {
            WriteMode::Normal { offset } => WriteRequest::At(offset),
            WriteMode::ConstrainedIO { offset } => WriteRequest::Constrained(offset),
            WriteMode::WriteToEOF => WriteRequest::Append,
        };
        let size = self.attr(h.ino)?.size;
        let (offset, len) = write_span(request, size, buffer.len());
        let written = match buffer.get(..len) {
            Some(data) if !data.is_empty() => self.block(self.fs.write(fh, offset, data))?,
            _ => 0,
        };
        Ok((written, self.info(&self.attr(h.ino)?)))
    }

    const FLUSH_DEFINED: bool = true;
    fn flush(&self, file_context: Ctx) -> Result<FileInfo, NTSTATUS> {
        let Some(h) = file_context.0.as_ref() else {
            // FlushFileBuffers on the volume: write back every open file.
            self.block(self.fs.flush_all())?;
            return Ok(FileInfo::default());
        };
        if let Some(fh) = *lock(&h.file) {
            self.block(self.fs.fsync(fh))?;
        }
        Ok(self.info(&self.attr(h.ino)?))
    }

    const GET_FILE_INFO_DEFINED: bool = true;
    fn get_file_info(&self, file_context: Ctx) -> Result<FileInfo, NTSTATUS> {
        let h = file_context.handle()?;
        Ok(self.info(&self.attr(h.ino)?))
    }

    const SET_BASIC_INFO_DEFINED: bool = true;
    fn set_basic_info(
        &self,
        file_context: Ctx,
        _file_attributes: FileAttributes,
        _creation_time: u64,
        _last_access_time: u64,
        last_write_time: u64,
        _change_time: u64,
    ) -> Result<FileInfo, NTSTATUS> {
        let h = file_context.handle()?;
        // Only the modification time is stored; attributes, creation,
        // access and change times are accepted and dropped (chmod on Linux).
        let attr = match requested_time(last_write_time) {
            Some(mtime) => {
                let changes = SetAttr {
                    mtime: Some(mtime),
                    handle: *lock(&h.file),
                    ..SetAttr::default()
                };
                self.block(self.fs.setattr(h.ino, changes))?
            }
            None => self.attr(h.ino)?,
        };
        Ok(self.info(&attr))
    }

    const SET_FILE_SIZE_DEFINED: bool = true;
    fn set_file_size(
        &self,
        file_context: Ctx,
        new_size: u64,
        set_allocation_size: bool,
    ) -> Result<FileInfo, NTSTATUS> {
        let h = file_context.handle()?;
        let current = self.attr(h.ino)?.size;
        let attr = match size_change(new_size, set_allocation_size, current) {
            Some(size) => {
                let fh = self.data_handle(h)?;
                let changes = SetAttr {
                    size: Some(size),
                    handle: Some(fh),
                    ..SetAttr::default()
                };
                self.block(self.fs.setattr(h.ino, changes))?
            }
            None => self.attr(h.ino)?,
        };
        Ok(self.info(&attr))
    }

    const SET_DELETE_DEFINED: bool = true;
    fn set_delete(
        &self,
        file_context: Ctx,
        file_name: &U16CStr,
        delete_file: bool,
    ) -> Result<(), NTSTATUS> {
        if !delete_file {
            return Ok(());
        }
        let h = file_context.handle()?;
        let path = WinPath::parse(file_name.as_slice())?;
        let has_entries = h.kind == FileKind::Dir && self.has_entries(h.ino)?;
        check_delete(&path, h.kind, has_entries, self.read_only)
    }

    const RENAME_DEFINED: bool = true;
    fn rename(
        &self,
        file_context: Ctx,
        file_name: &U16CStr,
        new_file_name: &U16CStr,
        replace_if_exists: bool,
    ) -> Result<(), NTSTATUS> {
        if self.read_only {
            return Err(STATUS_MEDIA_WRITE_PROTECTED);
        }
        let h = file_context.handle()?;
        let from = WinPath::parse(file_name.as_slice())?;
        let to = WinPath::parse(new_file_name.as_slice())?;
        check_rename_paths(&from, &to)?;
        if from == to {
            return Ok(());
        }
        let (Some((from_parent, from_name)), Some((to_parent, to_name))) =
            (from.split_last(), to.split_last())
        else {
            return Err(STATUS_INVALID_PARAMETER);
        };
        let target = match self.resolve(&to) {
            Ok(ino) => Some(self.attr(ino)?.kind),
            Err(status) if status == ntstatus(FsErrorKind::NotFound) => None,
            Err(status) => return Err(status),
        };
        let flags = rename_flags(h.kind, target, replace_if_exists)?;
        let from_parent = self.resolve(&from_parent)?;
        let to_parent = self.resolve_parent(&to_parent)?;
        self.block(self.fs.rename(
            from_parent,
            OsStr::new(from_name),
            to_parent,
            OsStr::new(to_name),
            flags,
        ))
    }

    const READ_DIRECTORY_DEFINED: bool = true;
    fn read_directory(
        &self,
        file_context: Ctx,
        marker: Option<&U16CStr>,
        mut add_dir_info: impl FnMut(DirInfo) -> bool,
    ) -> Result<(), NTSTATUS> {
        let h = file_context.handle()?;
        let mut listing = lock(&h.listing);
        if marker.is_none() || listing.is_none() {
            // A fresh enumeration: take a new snapshot.
            let dh = self.block(self.fs.opendir(h.ino))?;
            let entries = self.fs.readdir(dh).map_err(|e| ntstatus(e.kind()));
            self.fs.releasedir(dh);
            let entries = entries?;
            let (listed, skipped) = windows_listing(
                entries.iter().map(|e| (e.name.clone(), e.attr)),
                h.ino == ROOT,
            );
            if skipped > 0 {
                tracing::debug!(
                    ino = h.ino,
                    skipped,
                    "names Windows cannot show were left out"
                );
            }
            *listing = Some(listed);
        }
        let Some(listed) = listing.as_ref() else {
            return Ok(());
        };
        let here = self.attr(h.ino)?;
        let parent = self.attr(self.fs.parent_of(h.ino))?;
        for entry in after_marker(listed, marker.map(|m| m.as_slice())) {
            let attr = match &entry.item {
                Item::Dot => here,
                Item::DotDot => parent,
                Item::Entry(attr) => *attr,
            };
            let Ok(name) = U16CString::from_vec(entry.name.clone()) else {
                continue;
            };
            if !add_dir_info(DirInfo::new(self.info(&attr), &name)) {
                break;
            }
        }
        Ok(())
    }

    const GET_REPARSE_POINT_DEFINED: bool = true;
    fn get_reparse_point(
        &self,
        file_context: Ctx,
        _file_name: &U16CStr,
        buffer: &mut [u8],
    ) -> Result<usize, NTSTATUS> {
        let h = file_context.handle()?;
        copy_out(&self.symlink_buffer(h.ino)?, buffer)
    }

    // Lets WinFsp follow symlinks inside paths (ResolveReparsePoints and
    // GetSecurityByName's find_reparse_point both call it).
    const RESOLVE_REPARSE_POINTS_DEFINED: bool = true;
    fn get_reparse_point_by_name(
        &self,
        file_name: &U16CStr,
        _is_directory: bool,
        buffer: Option<&mut [u8]>,
    ) -> Result<usize, NTSTATUS> {
        let path = WinPath::parse(file_name.as_slice())?;
        let ino = self.resolve(&path)?;
        let reparse = self.symlink_buffer(ino)?;
        match buffer {
            Some(out) => copy_out(&reparse, out),
            None => Ok(reparse.len()),
        }
    }
}
