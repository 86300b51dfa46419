//! A new file written whole in one storage write (`vault put`).
//!
//! `create_file` + open + write + flush stores the object twice (the empty header, then the
//! content) and stats it in between: three requests on a remote storage. Here the content is
//! encrypted into a local spool first ([`Stager::stage`], blocking, off the async threads),
//! then the node is created with it by one no-replace write: an existing node of that name
//! (file or folder) is `AlreadyExists`, and the storage's answer to the write is the existence
//! check, so nothing is listed or looked up first.
//!
//! Shortened names (a `.c9s` folder) go through `create_file` + one write of the content.

use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::Arc;
use std::time::SystemTime;

use vault_format::CLEARTEXT_CHUNK_SIZE;
use vault_format::SecretBuf;
use vault_storage::{Body, StorageErrorKind, WriteMode};

use crate::core::Core;
use crate::detect::node_at;
use crate::names;
use crate::{DirId, Node, NodeKind, VaultError, VaultErrorKind, nodes, open_file};

/// A file's ciphertext, encrypted into an unnamed local temp file (deleted by the OS when
/// dropped) or, for a small file, into memory; ready to be stored by
/// [`crate::Vault::create_file_staged`].
pub struct StagedFile {
    spool: Spool,
    /// Ciphertext length.
    len: u64,
    /// Cleartext length.
    size: u64,
}

/// Where a staged ciphertext waits.
enum Spool {
    File(std::fs::File),
    /// Ciphertext only (nothing secret): a small file's, staged without a temp file.
    Memory(bytes::Bytes),
}

impl std::fmt::Debug for StagedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagedFile")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl StagedFile {
    /// Cleartext length.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Ciphertext length (what storage holds once it is created).
    pub(crate) fn ciphertext_len(&self) -> u64 {
        self.len
    }
}

/// Encrypts files for this vault without borrowing it (for a blocking thread).
#[derive(Clone)]
pub struct Stager {
    core: Arc<Core>,
}

impl std::fmt::Debug for Stager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stager").finish_non_exhaustive()
    }
}

impl Stager {
    pub(crate) fn new(core: Arc<Core>) -> Stager {
        Stager { core }
    }

    /// Reads `source` to its end and encrypts it under a fresh header into a local spool;
    /// `progress` is told of every cleartext chunk read. Blocking I/O. Errors are the
    /// source's or the spool's.
    pub fn stage(
        &self,
        source: &mut dyn Read,
        progress: &mut dyn FnMut(u64),
    ) -> std::io::Result<StagedFile> {
        let cryptor = &self.core.cryptor;
        let header = cryptor.new_header();
        let mut spool = std::io::BufWriter::with_capacity(1 << 20, tempfile::tempfile()?);
        let head = cryptor.encrypt_header(&header);
        spool.write_all(&head)?;
        let mut len = head.len() as u64;
        let mut size = 0u64;
        let mut clear = SecretBuf::from(vec![0u8; CLEARTEXT_CHUNK_SIZE]);
        let mut out = Vec::with_capacity(cryptor.combo().ciphertext_chunk_len());
        for chunk_no in 0u64.. {
            let n = read_full(source, &mut clear)?;
            if n == 0 {
                break;
            }
            out.clear();
            cryptor.encrypt_chunk(&header, chunk_no, &clear[..n], &mut out);
            spool.write_all(&out)?;
            len += out.len() as u64;
            size += n as u64;
            progress(n as u64);
            // A short chunk is the last: no empty trailing chunk (docs/vault-format.md §11).
            if n < CLEARTEXT_CHUNK_SIZE {
                break;
            }
        }
        let spool = Spool::File(spool.into_inner().map_err(|e| e.into_error())?);
        Ok(StagedFile { spool, len, size })
    }

    /// Encrypts `clear` under a fresh header in memory (no temp file, no blocking I/O: for
    /// small files such as the drive's new files answered locally, whose whole content is
    /// already in memory).
    pub fn stage_bytes(&self, clear: &[u8]) -> StagedFile {
        let cryptor = &self.core.cryptor;
        let header = cryptor.new_header();
        let combo = cryptor.combo();
        let mut out = Vec::with_capacity(combo.ciphertext_size(clear.len() as u64) as usize);
        out.extend_from_slice(&cryptor.encrypt_header(&header));
        let mut chunk = Vec::with_capacity(combo.ciphertext_chunk_len());
        // A short chunk is the last: no empty trailing chunk (docs/vault-format.md §11).
        for (chunk_no, part) in clear.chunks(CLEARTEXT_CHUNK_SIZE).enumerate() {
            chunk.clear();
            cryptor.encrypt_chunk(&header, chunk_no as u64, part, &mut chunk);
            out.extend_from_slice(&chunk);
        }
        StagedFile {
            len: out.len() as u64,
            size: clear.len() as u64,
            spool: Spool::Memory(bytes::Bytes::from(out)),
        }
    }
}

/// Fills `buf` as far as `source` allows (short only at its end).
fn read_full(source: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn spool_body(staged: &StagedFile) -> Result<Body, VaultError> {
    let spool_err = |e: std::io::Error| {
        tracing::warn!(error = %e, "local spool file failed");
        VaultError::node(VaultErrorKind::Other, format!("local spool file: {e}"))
    };
    let spool = match &staged.spool {
        Spool::Memory(bytes) => return Ok(Body::from_bytes(bytes.clone())),
        Spool::File(f) => f,
    };
    let mut reader = spool.try_clone().map_err(spool_err)?;
    reader.seek(SeekFrom::Start(0)).map_err(spool_err)?;
    Ok(Body::from_reader(
        staged.len,
        tokio::fs::File::from_std(reader),
    ))
}

/// Creates `name` in `dir` holding `staged`'s content; `AlreadyExists` if a node of that name
/// is stored in any form a lookup computes (NFC, as given, NFD). Sync-conflict copies a
/// listing would present under the name are not looked for (nothing is listed).
/// `durable`: returns only once the new object is durable; otherwise like a close(2) commit
/// ([`crate::OpenFile::commit`]), durable at the next [`crate::Vault::sync_file`] or
/// [`crate::Vault::flush_all`].
pub(crate) async fn create_staged(
    core: &Arc<Core>,
    dir: &DirId,
    name: &str,
    staged: &StagedFile,
    durable: bool,
) -> Result<Node, VaultError> {
    core.check_writable()?;
    let loc = core.loc(dir, name)?;
    let nfc = names::nfc(name);
    // Names stored by non-normalising clients: only names that have other forms cost a look.
    let mut others = vec![name.to_owned(), names::nfd(name)];
    others.retain(|f| *f != nfc);
    others.dedup();
    for form in &others {
        let other = core.loc_exact(dir, form)?;
        if node_at(core, dir, form, &other).await?.is_some() {
            return Err(VaultError::node(VaultErrorKind::AlreadyExists, nfc));
        }
    }
    if loc.is_shortened() {
        // A `.c9s` node folder: built by `create_file`, the content written once over it.
        let node = nodes::create_file(core, dir, &nfc).await?;
        let path = loc.file_content_path()?;
        let body = spool_body(staged)?;
        if durable {
            core.storage
                .write(&path, body, WriteMode::Overwrite)
                .await?;
        } else {
            core.storage
                .write_nosync(&path, body, WriteMode::Overwrite)
                .await?;
        }
        return Ok(Node {
            size: staged.size,
            ..node
        });
    }
    let node_path = loc.node_path()?;
    let _g = core.dir_locks.lock_shared(dir).await;
    core.await_background(node_path.as_str()).await;
    if open_file::find(core, node_path.as_str()).is_some() {
        return Err(VaultError::node(VaultErrorKind::AlreadyExists, nfc));
    }
    let body = spool_body(staged)?;
    let written = if durable {
        core.storage
            .write(&node_path, body, WriteMode::CreateNew)
            .await
    } else {
        core.storage
            .write_nosync(&node_path, body, WriteMode::CreateNew)
            .await
    };
    written.map_err(|e| {
        if e.kind() == StorageErrorKind::AlreadyExists {
            VaultError::node(VaultErrorKind::AlreadyExists, nfc.clone())
        } else {
            e.into()
        }
    })?;
    core.forget_presented(dir, &nfc);
    tracing::debug!(ciphertext = %node_path, "file created with its content");
    Ok(Node {
        parent: dir.clone(),
        name: nfc,
        kind: NodeKind::File,
        size: staged.size,
        modified: Some(SystemTime::now()),
        damaged: false,
        storage_path: node_path.as_str().to_owned(),
    })
}
