//! The upload queue's journal on the laptop's disk: `<dir>/log`, an append-only sequence of
//! records (`u32` length, `u32` CRC-32 of the payload, JSON payload), and `<dir>/<seq>.obj`, the
//! bytes of each queued write (ciphertext, exactly as it goes to the storage). An object file is
//! written and synced before the record naming it is appended; every append is synced before
//! the mutation returns, so a crash keeps every mutation that returned. A crash during an append
//! leaves a torn last record: its length or checksum does not match, so replay drops it and
//! everything after it (nothing after it was ever acknowledged). Folder 0700, files 0600.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Largest record accepted on replay: a record is a path or two and a few numbers.
const MAX_RECORD: u32 = 1 << 20;

/// One queued mutation (paths are storage paths: ciphertext names only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum OpKind {
    /// Replace or create `path` with the bytes of the op's object file (`len` bytes);
    /// `create_new`: fail if it exists.
    Write {
        path: String,
        len: u64,
        create_new: bool,
        /// The storage's version tag of the object this write replaces, when it was known.
        base: Option<String>,
    },
    CreateDir {
        path: String,
        /// Queued while the storage could not say whether it exists: its listing is the
        /// storage's, not empty.
        #[serde(default)]
        maybe_exists: bool,
    },
    RemoveFile {
        path: String,
    },
    RemoveDir {
        path: String,
    },
    RemoveDirAll {
        path: String,
    },
    Rename {
        from: String,
        to: String,
        replace: bool,
    },
}

/// A line of the log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Record {
    /// A mutation queued at `at` (seconds since the Unix epoch).
    Op { seq: u64, at: u64, op: OpKind },
    /// Op `seq` reached the storage (or was cancelled).
    Done { seq: u64 },
}

/// An op read back on replay.
#[derive(Debug, Clone)]
pub(crate) struct Replayed {
    pub seq: u64,
    pub at: u64,
    pub op: OpKind,
}

/// CRC-32 (IEEE), bitwise: records are small and written once per mutation.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// The open journal.
pub(crate) struct Journal {
    dir: PathBuf,
    log: File,
    /// Bytes of whole records in the log: a failed append is cut back to this.
    len: u64,
    /// Test switch: every write fails with ENOSPC.
    pub(crate) fail_enospc: bool,
}

fn private_dir(dir: &Path) -> io::Result<()> {
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

/// Options for a file only its owner reads (0600).
pub(crate) fn private_options() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    o
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    let _ = dir;
    Ok(())
}

fn enospc() -> io::Error {
    io::Error::from_raw_os_error(28)
}

/// Parses the log: the whole records, and the length they take (a torn or corrupt tail is
/// what follows).
fn parse(bytes: &[u8]) -> (Vec<Record>, u64) {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while bytes.len() - pos >= 8 {
        let len = u32::from_le_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]]);
        let sum = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]);
        let start = pos + 8;
        if len > MAX_RECORD || bytes.len() - start < len as usize {
            break;
        }
        let payload = &bytes[start..start + len as usize];
        if crc32(payload) != sum {
            break;
        }
        match serde_json::from_slice::<Record>(payload) {
            Ok(r) => out.push(r),
            Err(_) => break,
        }
        pos = start + len as usize;
    }
    (out, pos as u64)
}

fn frame(rec: &Record) -> io::Result<Vec<u8>> {
    let payload = serde_json::to_vec(rec).map_err(io::Error::other)?;
    let mut buf = Vec::with_capacity(payload.len() + 8);
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&crc32(&payload).to_le_bytes());
    buf.extend_from_slice(&payload);
    Ok(buf)
}

impl Journal {
    /// Opens (or creates) the journal in `dir` and returns the ops still pending, oldest first.
    /// A torn tail is cut off; the log is rewritten with the pending ops only; object files no
    /// pending op names are removed.
    pub fn open(dir: &Path) -> io::Result<(Journal, Vec<Replayed>)> {
        private_dir(dir)?;
        let path = dir.join("log");
        let mut bytes = Vec::new();
        match File::open(&path) {
            Ok(mut f) => {
                f.read_to_end(&mut bytes)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let (records, good) = parse(&bytes);
        if good < bytes.len() as u64 {
            tracing::warn!(
                journal = %dir.display(),
                dropped_bytes = bytes.len() as u64 - good,
                "upload journal: a torn or corrupt last record was dropped (it was never acknowledged)"
            );
        }
        let mut pending: Vec<Replayed> = Vec::new();
        for r in records {
            match r {
                Record::Op { seq, at, op } => pending.push(Replayed { seq, at, op }),
                Record::Done { seq } => pending.retain(|p| p.seq != seq),
            }
        }
        // A write whose object file is gone cannot be replayed; it is reported, not guessed.
        pending.retain(|p| match &p.op {
            OpKind::Write { len, .. } => {
                let ok = std::fs::metadata(dir.join(format!("{}.obj", p.seq)))
                    .map(|m| m.len() == *len)
                    .unwrap_or(false);
                if !ok {
                    tracing::error!(
                        seq = p.seq,
                        "upload journal: a queued write lost its object file; skipped"
                    );
                }
                ok
            }
            _ => true,
        });
        // The compacted log: pending ops only, written beside and renamed over.
        let tmp = dir.join("log.new");
        let _ = std::fs::remove_file(&tmp);
        let mut out = private_options().write(true).create_new(true).open(&tmp)?;
        let mut len = 0u64;
        for p in &pending {
            let buf = frame(&Record::Op {
                seq: p.seq,
                at: p.at,
                op: p.op.clone(),
            })?;
            out.write_all(&buf)?;
            len += buf.len() as u64;
        }
        out.sync_all()?;
        drop(out);
        std::fs::rename(&tmp, &path)?;
        sync_dir(dir)?;
        let mut log = private_options().read(true).write(true).open(&path)?;
        log.seek(SeekFrom::End(0))?;
        // Objects of ops that are done, or whose record never made it: not needed.
        for entry in std::fs::read_dir(dir)?.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(seq) = name
                .strip_suffix(".obj")
                .and_then(|s| s.parse::<u64>().ok())
                && !pending.iter().any(|p| p.seq == seq)
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let journal = Journal {
            dir: dir.to_path_buf(),
            log,
            len,
            fail_enospc: false,
        };
        Ok((journal, pending))
    }

    /// Where op `seq`'s bytes are.
    pub fn obj_path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq}.obj"))
    }

    /// Appends `rec` and syncs it. On failure the log is cut back to its last whole record,
    /// so a later append does not follow a torn one.
    pub fn append(&mut self, rec: &Record) -> io::Result<()> {
        let buf = frame(rec)?;
        let result = if self.fail_enospc {
            Err(enospc())
        } else {
            self.log.write_all(&buf).and_then(|()| self.log.sync_data())
        };
        match result {
            Ok(()) => {
                self.len += buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                let _ = self.log.set_len(self.len);
                let _ = self.log.seek(SeekFrom::Start(self.len));
                Err(e)
            }
        }
    }

    /// Empties the log (nothing is pending any more) and removes `seqs`' object files.
    pub fn reset(&mut self) -> io::Result<()> {
        self.log.set_len(0)?;
        self.log.seek(SeekFrom::Start(0))?;
        self.log.sync_data()?;
        self.len = 0;
        Ok(())
    }

    /// Checks the switch a test sets to simulate a full disk.
    pub fn check_space(&self) -> io::Result<()> {
        if self.fail_enospc {
            Err(enospc())
        } else {
            Ok(())
        }
    }
}

/// Writes an object file (`len` bytes from `reader`) durably at `path`.
pub(crate) async fn write_object(
    path: &Path,
    len: u64,
    reader: &mut (dyn tokio::io::AsyncRead + Send + Unpin),
) -> io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    let std_file = private_options().write(true).create_new(true).open(path)?;
    let mut file = tokio::fs::File::from_std(std_file);
    let copied = tokio::io::copy(&mut tokio::io::AsyncReadExt::take(reader, len), &mut file).await;
    let result = match copied {
        Ok(n) if n == len => {
            async {
                file.flush().await?;
                file.sync_all().await
            }
            .await
        }
        Ok(n) => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("body yielded {n} bytes, expected {len}"),
        )),
        Err(e) => Err(e),
    };
    drop(file);
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    } else if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn torn_tail_is_dropped_and_earlier_records_kept() {
        let a = frame(&Record::Done { seq: 1 }).unwrap();
        let b = frame(&Record::Done { seq: 2 }).unwrap();
        let mut bytes = [a.clone(), b.clone()].concat();
        let (recs, good) = parse(&bytes);
        assert_eq!(recs.len(), 2);
        assert_eq!(good, bytes.len() as u64);
        bytes.truncate(a.len() + b.len() - 3);
        let (recs, good) = parse(&bytes);
        assert_eq!(recs.len(), 1);
        assert_eq!(good, a.len() as u64);
        // A flipped byte in the last record's payload: its checksum no longer matches.
        let mut bytes = [a.clone(), b.clone()].concat();
        let last = bytes.len() - 2;
        bytes[last] ^= 0x20;
        assert_eq!(parse(&bytes).0.len(), 1);
    }
}
