//! S3 and S3-compatible object storage (AWS, MinIO, Ceph RGW, Garage, …) as a
//! vault backend, implementing [`vault_storage::Storage`] over a flat key space.
//!
//! Layout: the vault path `a/b` is the key `PREFIX/a/b`. A folder is a
//! zero-byte marker object `PREFIX/a/` (as the S3 consoles, Cyberduck and
//! Mountain Duck make them) and/or the common prefix of the keys below it, so
//! folders written by other clients with or without markers list alike.
//! Requests are signed by rusty-s3 (SigV4) and sent by reqwest with rustls
//! (ring); this crate knows nothing of encryption.
//!
//! Semantics (see [`Capabilities`]):
//! - `write` is whole-object and atomic (S3 shows an object only once its PUT
//!   or CompleteMultipartUpload succeeded); above `multipart_threshold` the
//!   object goes up in parallel parts ([`upload`]).
//! - `CreateNew` is a conditional put (`If-None-Match: *`), or with
//!   `conditional_put: false` HEAD-then-PUT (racy: for stores ignoring the header).
//! - `rename` is copy + delete: not atomic (`atomic_replace: false`); a crash
//!   in between leaves both names. A folder rename copies every key below it,
//!   so `atomic_dir_rename` is false and the engine moves directory nodes
//!   itself in a repairable order.
//! - mtimes are S3's `LastModified` (set by the server on every write);
//!   `set_modified` is not offered (`set_modified: false`).
//! - `random_write` is not offered: objects are replaced whole.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod aws_profile;
mod config;
mod http;
mod known;
mod listing;
mod ops;
mod range;
mod rename;
mod stale;
mod stream;
mod upload;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use vault_storage::{
    Body, Capabilities, DirEntry, EntryKind, Metadata, RenameMode, Storage, StorageError,
    StorageErrorKind, StoragePath, WriteMode,
};

pub use aws_profile::{AwsSettings, aws_settings};
pub use config::{
    DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE, MIN_PART_SIZE, S3Config, S3Credentials,
    check_endpoint,
};
pub use listing::DeepEntry;
pub use stale::StaleUpload;

use crate::http::{Failure, S3Message};
use crate::ops::Ops;
use crate::upload::{Plan, WriteFailure};

/// Longest single name this backend accepts (S3 keys are up to 1,024 bytes
/// in total; vault names stay below 221).
const MAX_NAME_LEN: usize = 255;

/// S3's largest object (5 TiB).
const MAX_OBJECT_SIZE: u64 = 5 << 40;

/// A vault's ciphertext in an S3 bucket under a prefix.
pub struct S3Storage {
    ops: Arc<Ops>,
    /// `""` or `prefix/`.
    root: String,
    bucket: String,
    described: String,
    conditional_put: bool,
    /// See [`S3Config::marker_file`].
    marker_file: Option<String>,
    plan: Plan,
    /// Recently learned folders and files (saves a write its checks).
    known: known::Known,
    /// Open streaming GETs of objects being read sequentially.
    streams: stream::Streams,
}

impl std::fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Storage")
            .field("where", &self.described)
            .finish_non_exhaustive()
    }
}

use StorageErrorKind as K;

fn err(kind: StorageErrorKind, path: &StoragePath) -> StorageError {
    StorageError::new(kind, path.clone())
}

impl S3Storage {
    /// Checks the configuration (the plain-http rule, part sizes) and builds
    /// the client. Makes no request.
    pub fn new(config: S3Config) -> Result<Self, StorageError> {
        let root = StoragePath::root();
        let fail = |m: String| StorageError::with_source(K::Other, &root, S3Message(m));
        config
            .check_endpoint()
            .map_err(|m| StorageError::with_source(K::PermissionDenied, &root, S3Message(m)))?;
        if config.part_size < MIN_PART_SIZE {
            return Err(fail(format!(
                "S3 part size must be at least {MIN_PART_SIZE} bytes"
            )));
        }
        let prefix = config.prefix.trim_matches('/');
        if !prefix.is_empty() {
            StoragePath::new(prefix).map_err(|_| fail(format!("bad S3 prefix {prefix:?}")))?;
        }
        if let Some(name) = &config.marker_file {
            StoragePath::root()
                .join(name)
                .map_err(|_| fail(format!("bad folder marker name {name:?}")))?;
        }
        let ops = Ops::new(&config).map_err(fail)?;
        let described = format!(
            "s3://{}/{} at {}",
            config.bucket,
            prefix,
            ops::shown_endpoint(&config.endpoint)
        );
        Ok(S3Storage {
            ops: Arc::new(ops),
            root: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
            bucket: config.bucket.clone(),
            described,
            conditional_put: config.conditional_put,
            marker_file: config.marker_file.clone(),
            plan: Plan {
                threshold: config.multipart_threshold.max(config.part_size as u64),
                part_size: config.part_size,
                concurrency: config.part_concurrency,
            },
            known: known::Known::default(),
            streams: stream::Streams::default(),
        })
    }

    /// True if the bucket exists (`HEAD bucket`). A bucket in another
    /// region fails with a message naming its region.
    pub async fn bucket_exists(&self) -> Result<bool, StorageError> {
        let root = StoragePath::root();
        self.ops
            .head_bucket()
            .await
            .map_err(|f| self.fail(f, &root))
    }

    /// Creates the bucket (`vault create --create-bucket`).
    pub async fn create_bucket(&self) -> Result<(), StorageError> {
        let root = StoragePath::root();
        self.ops
            .create_bucket()
            .await
            .map_err(|f| self.fail(f, &root))
    }

    /// The object key of `path`.
    fn key(&self, path: &StoragePath) -> String {
        format!("{}{}", self.root, path.as_str())
    }

    /// The key prefix of everything inside folder `path` (with the trailing `/`).
    fn dir_prefix(&self, path: &StoragePath) -> String {
        if path.is_root() {
            self.root.clone()
        } else {
            format!("{}{}/", self.root, path.as_str())
        }
    }

    fn fail(&self, f: Failure, path: &StoragePath) -> StorageError {
        f.into_error(path, &self.bucket)
    }

    /// True if `path` is a folder: the root, or any key (a marker included) below it.
    async fn is_dir(&self, path: &StoragePath) -> Result<bool, StorageError> {
        if path.is_root() || self.known.kind(path) == Some(EntryKind::Dir) {
            return Ok(true);
        }
        let page = self
            .ops
            .list_page(&self.dir_prefix(path), false, 1, None)
            .await
            .map_err(|f| self.fail(f, path))?;
        let found = !page.objects.is_empty() || !page.prefixes.is_empty();
        if found {
            self.known.saw(path, EntryKind::Dir);
        }
        Ok(found)
    }

    /// True if `path` is a folder, with no request when this backend wrote
    /// it as a file, saw it as one, or found nothing there moments ago.
    async fn is_dir_unless_known_file(&self, path: &StoragePath) -> Result<bool, StorageError> {
        if self.known.kind(path) == Some(EntryKind::File) || self.known.absent(path) {
            return Ok(false);
        }
        self.is_dir(path).await
    }

    /// The parent of `path` must be a folder (`NotFound` otherwise).
    async fn need_parent(&self, path: &StoragePath) -> Result<(), StorageError> {
        match path.parent() {
            Some(parent) if !self.is_dir(&parent).await? => Err(err(K::NotFound, path)),
            _ => Ok(()),
        }
    }

    async fn write_body(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        if path.is_root() {
            return Err(err(K::IsADirectory, path));
        }
        self.need_parent(path).await?;
        if self.is_dir_unless_known_file(path).await? {
            return Err(err(
                match mode {
                    WriteMode::CreateNew => K::AlreadyExists,
                    WriteMode::Overwrite => K::IsADirectory,
                },
                path,
            ));
        }
        let key = self.key(path);
        self.streams.forget(&key);
        let create_new = mode == WriteMode::CreateNew;
        if create_new && !self.conditional_put {
            // The documented fallback for stores that ignore If-None-Match: racy.
            let head = self.ops.head(&key).await.map_err(|f| self.fail(f, path))?;
            if head.is_some() {
                return Err(err(K::AlreadyExists, path));
            }
        }
        let create_only = create_new && self.conditional_put;
        let len = body.len();
        upload::write_object(
            &self.ops,
            &key,
            len,
            body.into_reader(),
            create_only,
            &self.plan,
        )
        .await
        .map_err(|e| match e {
            WriteFailure::Exists => err(K::AlreadyExists, path),
            WriteFailure::Body(io) => StorageError::with_source(K::Other, path, io),
            WriteFailure::Store(f) => self.fail(f, path),
        })?;
        // The object now exists, so its parent is a folder (a key below it).
        self.known.saw(path, EntryKind::File);
        if let Some(parent) = path.parent() {
            self.known.saw(&parent, EntryKind::Dir);
        }
        Ok(())
    }

    /// `len` bytes of `key` at `offset`: from the object's streaming GET when
    /// the read continues (or runs just ahead of) earlier reads, else by a
    /// ranged GET.
    async fn get_bytes(
        &self,
        key: &str,
        offset: u64,
        len: usize,
    ) -> Result<Option<Bytes>, Failure> {
        use stream::{Plan as Read, Served};
        let stream = match self.streams.plan(key, offset, len) {
            Read::Use(stream) => Some(stream),
            Read::Open(stream, mut body, at) => {
                let opened = match self.ops.get_from(key, at).await {
                    Ok(response) => body.open(response),
                    Err(f) => {
                        tracing::debug!("streaming GET not opened: {f:?}");
                        false
                    }
                };
                if !opened {
                    // The ranged GET below tells what is wrong (missing, past the end, …).
                    self.streams.remove(&stream);
                }
                drop(body);
                Some(stream)
            }
            Read::Ranged => None,
        };
        if let Some(stream) = stream {
            match stream.serve(offset, len).await {
                Served::Bytes(bytes) => return Ok(Some(bytes)),
                Served::Behind => {}
                Served::Done => self.streams.remove(&stream),
            }
        }
        let got = self.ops.get_range(key, offset, len).await?;
        if got.as_ref().is_some_and(|b| b.len() == len) {
            self.streams.ended(key, offset + len as u64);
        }
        Ok(got)
    }

    /// Reads `len` bytes at `offset`; a missing object is told apart from a folder.
    async fn read_range(
        &self,
        path: &StoragePath,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, StorageError> {
        // No object is larger than S3's 5 TiB: such a range needs no GET (and
        // some servers refuse a start offset beyond i64 instead of 416).
        if len == 0 || path.is_root() || offset >= MAX_OBJECT_SIZE {
            let meta = self.metadata(path).await?;
            if meta.kind == EntryKind::Dir {
                return Err(err(K::IsADirectory, path));
            }
            return Ok(Bytes::new());
        }
        match self.get_bytes(&self.key(path), offset, len).await {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) if self.is_dir(path).await? => Err(err(K::IsADirectory, path)),
            Ok(None) => Err(err(K::NotFound, path)),
            // A store keeping folders as real directories may fail a GET of one.
            Err(f) if self.is_dir(path).await.unwrap_or(false) => {
                tracing::debug!(%path, "GET of a folder failed: {f:?}");
                Err(err(K::IsADirectory, path))
            }
            Err(f) => Err(self.fail(f, path)),
        }
    }
}

#[async_trait]
impl Storage for S3Storage {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            random_write: false,
            atomic_replace: false,
            atomic_dir_rename: false,
            max_name_len: MAX_NAME_LEN,
            set_modified: false,
        }
    }

    fn describe(&self) -> String {
        self.described.clone()
    }

    async fn metadata(&self, path: &StoragePath) -> Result<Metadata, StorageError> {
        self.probe(path)
            .await?
            .ok_or_else(|| err(K::NotFound, path))
    }

    async fn list_dir(&self, path: &StoragePath) -> Result<Vec<DirEntry>, StorageError> {
        self.list_children(path).await
    }

    async fn list_dir_in_one_request(
        &self,
        path: &StoragePath,
    ) -> Result<Option<Vec<DirEntry>>, StorageError> {
        // A one-key probe is a listing request too: a page of the parent costs the same.
        self.list_children_one_page(path).await
    }

    async fn read_at(
        &self,
        path: &StoragePath,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, StorageError> {
        self.read_range(path, offset, len).await
    }

    async fn read_all(&self, path: &StoragePath) -> Result<Bytes, StorageError> {
        // One ranged GET to the end instead of a metadata round trip first.
        self.read_range(path, 0, usize::MAX / 2).await
    }

    async fn write(
        &self,
        path: &StoragePath,
        body: Body,
        mode: WriteMode,
    ) -> Result<(), StorageError> {
        self.write_body(path, body, mode).await
    }

    async fn write_at(&self, path: &StoragePath, _: u64, _: Bytes) -> Result<(), StorageError> {
        Err(err(K::Unsupported, path))
    }

    async fn set_len(&self, path: &StoragePath, _: u64) -> Result<(), StorageError> {
        Err(err(K::Unsupported, path))
    }

    async fn sync(&self, _: &StoragePath) -> Result<(), StorageError> {
        // A write is durable when S3 acknowledges it.
        Ok(())
    }

    async fn create_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.make_dir(path).await
    }

    async fn remove_file(&self, path: &StoragePath) -> Result<(), StorageError> {
        match self.probe(path).await? {
            None => Err(err(K::NotFound, path)),
            Some(m) if m.kind == EntryKind::Dir => Err(err(K::IsADirectory, path)),
            Some(_) => {
                self.known.forget_up(path);
                self.streams.forget(&self.key(path));
                self.ops
                    .delete(&self.key(path))
                    .await
                    .map_err(|f| self.fail(f, path))
            }
        }
    }

    async fn remove_dir(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.known.clear();
        self.streams.clear();
        self.remove_folder(path, false).await
    }

    async fn remove_dir_all(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.known.clear();
        self.streams.clear();
        self.remove_folder(path, true).await
    }

    async fn rename(
        &self,
        from: &StoragePath,
        to: &StoragePath,
        mode: RenameMode,
    ) -> Result<(), StorageError> {
        // A rename removes `from` (and, for a folder, every path below it).
        self.known.clear();
        self.streams.clear();
        let moved = self.move_path(from, to, mode).await;
        self.known.clear();
        moved
    }
}
