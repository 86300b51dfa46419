//! The content cache on disk: `<cache folder>/content/` (0700), one file per cached object
//! version (0600), and `pins` (0600), the pinned storage-path prefixes.
//!
//! An entry file is named by the SHA-256 of its storage path and version tag (so two versions
//! of one object never share a file) and is self-describing: a header (magic, storage path,
//! version tag, size) and then the object's bytes. No index file has to agree with the data:
//! the folder is scanned when the cache is attached, and a file whose header or length does
//! not add up (a crash mid-write, a foreign file) is removed. Files are written under a temp
//! name and renamed into place; pinned ones are synced first, since they are what an offline
//! mount depends on. The file's mtime is its last use, so eviction order survives a remount.
//!
//! Everything here is ciphertext as the storage server holds it: storage paths, version tags,
//! object bytes. Headers read back are bounded and validated like any storage answer.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::StoragePath;

const MAGIC: &[u8; 8] = b"vaultcc1";
/// Longest storage path / version tag accepted in a header.
const MAX_FIELD: u32 = 4096;
/// The pins file's name.
pub const PINS_FILE: &str = "pins";
/// Most pins kept (a bound on what is read back).
pub const MAX_PINS: usize = 100_000;
const TMP_PREFIX: &str = ".tmp-";

/// One entry found on disk.
pub(crate) struct Found {
    pub path: StoragePath,
    pub tag: String,
    pub size: u64,
    pub used: SystemTime,
}

pub(crate) struct Disk {
    dir: PathBuf,
    /// Tests: every write fails with this error kind (a full or failing disk).
    fault: Mutex<Option<std::io::ErrorKind>>,
}

fn hex_name(path: &StoragePath, tag: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(path.as_str().as_bytes());
    h.update([0u8]);
    h.update(tag.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn header(path: &StoragePath, tag: &str, size: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(32 + path.as_str().len() + tag.len());
    h.extend_from_slice(MAGIC);
    for field in [path.as_str().as_bytes(), tag.as_bytes()] {
        h.extend_from_slice(&(field.len() as u32).to_le_bytes());
        h.extend_from_slice(field);
    }
    h.extend_from_slice(&size.to_le_bytes());
    h
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// Reads and checks a header: (path, tag, size, header length).
fn read_header(f: &mut File) -> std::io::Result<(StoragePath, String, u64, u64)> {
    let mut magic = [0u8; 8];
    f.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(bad("not a content cache entry"));
    }
    let mut fields = Vec::new();
    for _ in 0..2 {
        let mut n = [0u8; 4];
        f.read_exact(&mut n)?;
        let n = u32::from_le_bytes(n);
        if n > MAX_FIELD {
            return Err(bad("header field too long"));
        }
        let mut v = vec![0u8; n as usize];
        f.read_exact(&mut v)?;
        fields.push(String::from_utf8(v).map_err(|_| bad("header not UTF-8"))?);
    }
    let mut size = [0u8; 8];
    f.read_exact(&mut size)?;
    let tag = fields.pop().unwrap_or_default();
    let path =
        StoragePath::new(&fields.pop().unwrap_or_default()).map_err(|_| bad("bad storage path"))?;
    let len = 8 + 4 + path.as_str().len() as u64 + 4 + tag.len() as u64 + 8;
    Ok((path, tag, u64::from_le_bytes(size), len))
}

/// Makes `dir` (and parents) with mode 0700.
pub(crate) fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        b.mode(0o700);
        b.create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    b.create(dir)
}

fn private_file(path: &Path) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    o.open(path)
}

/// An entry being written under its temp name.
pub(crate) struct Writer {
    file: File,
    tmp: PathBuf,
    dest: PathBuf,
    left: u64,
}

impl Writer {
    pub fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        if data.len() as u64 > self.left {
            return Err(bad("more bytes than the object's size"));
        }
        self.file.write_all(data)?;
        self.left -= data.len() as u64;
        Ok(())
    }

    /// Puts the entry in place (synced first when `durable`); fails if bytes are missing.
    pub fn commit(self, durable: bool) -> std::io::Result<()> {
        if self.left != 0 {
            return Err(bad("fewer bytes than the object's size"));
        }
        if durable {
            self.file.sync_data()?;
        }
        std::fs::rename(&self.tmp, &self.dest)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Gone after a successful rename; otherwise the half-written temp file.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

impl Disk {
    /// Opens (makes) the content folder `dir`.
    pub fn open(dir: &Path) -> std::io::Result<Disk> {
        private_dir(dir)?;
        Ok(Disk {
            dir: dir.to_path_buf(),
            fault: Mutex::new(None),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn set_fault(&self, fault: Option<std::io::ErrorKind>) {
        *self.fault.lock().unwrap_or_else(|p| p.into_inner()) = fault;
    }

    fn fault(&self) -> std::io::Result<()> {
        match *self.fault.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(kind) => Err(std::io::Error::from(kind)),
            None => Ok(()),
        }
    }

    fn file(&self, path: &StoragePath, tag: &str) -> PathBuf {
        self.dir.join(hex_name(path, tag))
    }

    /// Every valid entry; temp files and damaged entries are removed.
    pub fn scan(&self) -> Vec<Found> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            let full = e.path();
            if name.starts_with(TMP_PREFIX) {
                let _ = std::fs::remove_file(&full);
                continue;
            }
            if name.len() != 64 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            match Self::check(&full) {
                Some(f) if hex_name(&f.path, &f.tag) == name => out.push(f),
                _ => {
                    tracing::info!(file = %full.display(), "content cache: removing a damaged entry");
                    let _ = std::fs::remove_file(&full);
                }
            }
        }
        out
    }

    fn check(full: &Path) -> Option<Found> {
        let mut f = File::open(full).ok()?;
        let meta = f.metadata().ok()?;
        let (path, tag, size, hlen) = read_header(&mut f).ok()?;
        (meta.is_file() && meta.len() == hlen.checked_add(size)?).then(|| Found {
            path,
            tag,
            size,
            used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        })
    }

    /// Up to `len` bytes at `offset` of the entry (`path`, `tag`).
    pub fn read(
        &self,
        path: &StoragePath,
        tag: &str,
        offset: u64,
        len: usize,
        touch: bool,
    ) -> std::io::Result<Vec<u8>> {
        let mut f = File::open(self.file(path, tag))?;
        let (p, t, size, hlen) = read_header(&mut f)?;
        if &p != path || t != tag {
            return Err(bad("entry names another object"));
        }
        let want = size.saturating_sub(offset).min(len as u64) as usize;
        let mut buf = vec![0u8; want];
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileExt as _;
            f.read_exact_at(&mut buf, hlen + offset)?;
        }
        #[cfg(not(unix))]
        {
            use std::io::Seek as _;
            f.seek(std::io::SeekFrom::Start(hlen + offset))?;
            f.read_exact(&mut buf)?;
        }
        if touch {
            let _ = f.set_modified(SystemTime::now());
        }
        Ok(buf)
    }

    /// Starts writing the entry (`path`, `tag`) of `size` bytes.
    pub fn writer(&self, path: &StoragePath, tag: &str, size: u64) -> std::io::Result<Writer> {
        self.fault()?;
        let name = hex_name(path, tag);
        let tmp = self.dir.join(format!("{TMP_PREFIX}{name}"));
        let _ = std::fs::remove_file(&tmp);
        let mut file = private_file(&tmp)?;
        let w = Writer {
            file: file.try_clone()?,
            tmp,
            dest: self.dir.join(name),
            left: size,
        };
        file.write_all(&header(path, tag, size))?;
        Ok(w)
    }

    /// Writes a whole entry at once.
    pub fn put(&self, path: &StoragePath, tag: &str, data: &[u8]) -> std::io::Result<()> {
        let mut w = self.writer(path, tag, data.len() as u64)?;
        w.write(data)?;
        self.fault()?;
        w.commit(false)
    }

    pub fn remove(&self, path: &StoragePath, tag: &str) {
        let _ = std::fs::remove_file(self.file(path, tag));
    }

    /// The pinned prefixes saved last (invalid lines are skipped).
    pub fn load_pins(&self) -> Vec<StoragePath> {
        let Ok(f) = File::open(self.dir.join(PINS_FILE)) else {
            return Vec::new();
        };
        let mut text = String::new();
        // Bounded: a pin line is a storage path.
        let _ = f
            .take((MAX_PINS * (MAX_FIELD as usize + 1)) as u64)
            .read_to_string(&mut text);
        text.lines()
            .filter(|l| !l.is_empty())
            .filter_map(|l| StoragePath::new(l).ok())
            .take(MAX_PINS)
            .collect()
    }

    /// Saves the pinned prefixes (temp file + rename, synced).
    pub fn save_pins(&self, pins: &[StoragePath]) -> std::io::Result<()> {
        let tmp = self.dir.join(format!("{TMP_PREFIX}{PINS_FILE}"));
        let _ = std::fs::remove_file(&tmp);
        let mut f = private_file(&tmp)?;
        let mut text = String::new();
        // A name with a line break cannot be a line of this file (the engine makes none).
        for p in pins.iter().filter(|p| !p.as_str().contains(['\n', '\r'])) {
            text.push_str(p.as_str());
            text.push('\n');
        }
        f.write_all(text.as_bytes())?;
        f.sync_data()?;
        std::fs::rename(&tmp, self.dir.join(PINS_FILE))
    }
}
