//! The first stage of both a listing and a conflict resolution: one `list_dir`
//! of a directory's content directory, every entry classified by its stored
//! name alone (docs/vault-format.md §10 steps 1–2: name decryption, no other
//! storage request). Also the [`Finding`]s every stage reports.

use vault_format::conflict::{self, Extracted};
use vault_format::layout;
use vault_storage::{DirEntry, EntryKind, StoragePath};

use crate::core::{Core, TEMP_PREFIX, is_not_found};
use crate::names::NodeLoc;
use crate::{DirId, VaultError, VaultErrorKind};

/// Something wrong (or noteworthy) found while listing or resolving.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub storage_path: String,
    pub cleartext: Option<String>,
    pub kind: FindingKind,
    pub repaired: bool,
}

impl Finding {
    /// A finding nothing was done about.
    pub fn new(storage_path: String, cleartext: Option<String>, kind: FindingKind) -> Finding {
        Finding {
            storage_path,
            cleartext,
            kind,
            repaired: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FindingKind {
    /// A `.c9r` entry whose name contains no decryptable ciphertext.
    Undecryptable,
    /// A `.c9s` folder without readable/decryptable `name.c9s`.
    BadShortened(String),
    /// A sync-conflict copy and what happened to it.
    Conflict(String),
    /// A node with no recognisable type.
    Broken,
    /// A directory node whose content directory is missing.
    MissingContentDir(DirId),
    /// A shadow object left by an interrupted write.
    TempObject,
    /// A node whose decrypted name could escape a path (empty, `.`, `..`,
    /// absolute, `/` or NUL inside): never listed. The reason names no cleartext.
    BadName(&'static str),
}

/// A content directory's entries, sorted by stored name (so repeated scans
/// agree on which duplicate wins), by class. Classes hold indexes into `raw`.
pub(crate) struct Scan {
    pub content_dir: StoragePath,
    pub raw: Vec<DirEntry>,
    /// `.c9r` entries whose whole name decrypts: index, cleartext, location.
    pub normal: Vec<(usize, String, NodeLoc)>,
    /// `.c9s` folders (their name is in `name.c9s`, read by the listing).
    pub shortened: Vec<usize>,
    /// Sync-conflict copies: a decryptable run plus other text.
    pub copies: Vec<(usize, Extracted)>,
    /// Undecryptable names and leftover temp objects.
    pub findings: Vec<Finding>,
}

impl Scan {
    /// The storage path of entry `i`, for findings and logs.
    pub fn path_of(&self, i: usize) -> String {
        self.raw
            .get(i)
            .and_then(|e| self.content_dir.join(&e.name).ok())
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default()
    }
}

/// Lists `dir`'s content directory and classifies every entry.
pub(crate) async fn scan(core: &Core, dir: &DirId) -> Result<Scan, VaultError> {
    let content_dir = core.content_dir(dir)?;
    let mut raw = match core.storage.list_dir(&content_dir).await {
        Ok(r) => r,
        Err(e) if is_not_found(&e) => {
            tracing::warn!(content = %content_dir, "content directory missing");
            return Err(VaultError::node(
                VaultErrorKind::NotFound,
                format!("directory content {content_dir}"),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    raw.sort_by(|a, b| a.name.cmp(&b.name));
    let mut scan = Scan {
        content_dir,
        raw: Vec::new(),
        normal: Vec::new(),
        shortened: Vec::new(),
        copies: Vec::new(),
        findings: Vec::new(),
    };
    for (i, e) in raw.iter().enumerate() {
        classify_entry(core, dir, &mut scan, i, e);
    }
    scan.raw = raw;
    Ok(scan)
}

fn classify_entry(core: &Core, dir: &DirId, scan: &mut Scan, i: usize, e: &DirEntry) {
    let path = || {
        scan.content_dir
            .join(&e.name)
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default()
    };
    if e.name == layout::DIR_ID_BACKUP_FILE {
        return;
    }
    if e.name.starts_with('.') {
        if e.name.starts_with(TEMP_PREFIX) {
            let p = path();
            if !core.live_temps.contains(&p) && !core.removals.contains(&p) {
                scan.findings
                    .push(Finding::new(p, None, FindingKind::TempObject));
            }
        }
        return;
    }
    if e.name.ends_with(layout::C9S_SUFFIX) && e.metadata.kind == EntryKind::Dir {
        scan.shortened.push(i);
        return;
    }
    let Some(base) = e.name.strip_suffix(layout::C9R_SUFFIX) else {
        tracing::debug!(ciphertext = %path(), "unknown entry in content directory ignored");
        return;
    };
    let loc = || NodeLoc {
        content_dir: scan.content_dir.clone(),
        entry: e.name.clone(),
        long_name: None,
    };
    if let Ok(name) = core.cryptor.decrypt_name(base, dir.as_str()) {
        let loc = loc();
        scan.normal.push((i, name, loc));
        return;
    }
    let mut try_decrypt = |s: &str| core.cryptor.decrypt_name(s, dir.as_str()).ok();
    match conflict::extract_ciphertext(base, &mut try_decrypt) {
        Some(ext) if ext.start == 0 && ext.end == base.len() => {
            let loc = loc();
            scan.normal.push((i, ext.cleartext, loc));
        }
        Some(ext) => scan.copies.push((i, ext)),
        None => {
            tracing::warn!(ciphertext = %path(), "entry name does not decrypt; skipped");
            scan.findings
                .push(Finding::new(path(), None, FindingKind::Undecryptable));
        }
    }
}
