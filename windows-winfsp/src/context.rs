//! The per-open file context WinFsp carries for us, and how it crosses the FFI.
//!
//! Why not `winfsp_wrs`'s own `Arc<T>` context: WinFsp passes a NULL context
//! for volume-wide requests (FlushFileBuffers on the volume becomes a Flush,
//! or a GetFileInfo when Flush is not defined), and that impl would rebuild
//! an `Arc` from NULL. [`Ctx`] maps NULL to `None` instead. This is the only
//! `unsafe` code of the crate; it is compiled on Windows only and has never
//! been compiled (see README.md).

use std::ffi::c_void;
use std::sync::{Arc, Mutex, MutexGuard};

use vault_fs::ops::{Attr, FileKind, HandleId, NodeId};
use winfsp_wrs::{FileContextKind, FileContextMode};

use crate::flags::Intent;
use crate::listing::Listed;

/// One open of a file or directory (one Windows file object).
#[derive(Debug)]
pub struct Handle {
    /// The node; it holds one ops-layer lookup until Close.
    pub ino: NodeId,
    /// Its kind at open time (the format never changes a node's kind).
    pub kind: FileKind,
    /// What the opener asked for.
    pub intent: Intent,
    /// The ops-layer file handle, opened on first data access.
    pub file: Mutex<Option<HandleId>>,
    /// The listing being paged through by ReadDirectory.
    pub listing: Mutex<Option<Vec<Listed<Attr>>>>,
}

impl Handle {
    /// A handle for `ino`, with an ops file handle if one was opened already.
    pub fn new(ino: NodeId, kind: FileKind, intent: Intent, file: Option<HandleId>) -> Self {
        Handle {
            ino,
            kind,
            intent,
            file: Mutex::new(file),
            listing: Mutex::new(None),
        }
    }
}

/// Locks, carrying on after a panic elsewhere (the data is a handle number).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The context WinFsp stores per open: `None` for volume-wide requests.
#[derive(Debug, Clone)]
pub struct Ctx(pub Option<Arc<Handle>>);

impl Ctx {
    /// The handle, or STATUS_INVALID_HANDLE for a volume-wide request.
    pub fn handle(&self) -> Result<&Arc<Handle>, crate::status::NtStatus> {
        self.0.as_ref().ok_or(crate::status::STATUS_INVALID_HANDLE)
    }
}

#[allow(unsafe_code)]
impl FileContextKind for Ctx {
    // One context per open (UmFileContextIsUserContext2): each Windows
    // handle has its own ops-layer handle and listing.
    const MODE: FileContextMode = FileContextMode::Descriptor;

    unsafe fn write(self, out: *mut *mut c_void) {
        let raw = match self.0 {
            Some(handle) => Arc::into_raw(handle).cast_mut().cast::<c_void>(),
            None => std::ptr::null_mut(),
        };
        // SAFETY: `out` is WinFsp's PFileContext for the Create/Open being
        // answered: valid for one pointer write. Ownership of one strong
        // count moves into WinFsp until `access_for_close`.
        unsafe { out.write(raw) };
    }

    unsafe fn access(raw: *mut c_void) -> Self {
        if raw.is_null() {
            return Ctx(None);
        }
        let ptr = raw.cast::<Handle>().cast_const();
        // SAFETY: a non-NULL context is one `write` produced with
        // `Arc::into_raw`, and WinFsp keeps it alive until Close. The count
        // added here belongs to the `Arc` returned, so WinFsp's own count is
        // untouched when that one drops at the end of the request.
        unsafe {
            Arc::increment_strong_count(ptr);
            Ctx(Some(Arc::from_raw(ptr)))
        }
    }

    unsafe fn access_for_close(raw: *mut c_void) -> Self {
        if raw.is_null() {
            return Ctx(None);
        }
        // SAFETY: Close is the last request for this context: the strong
        // count `write` gave WinFsp is taken back here and dropped with it.
        unsafe { Ctx(Some(Arc::from_raw(raw.cast::<Handle>().cast_const()))) }
    }
}
