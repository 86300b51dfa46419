//! The registry of what listings presented under names a lookup cannot
//! compute (unresolved conflict copies, names stored in NFD, names stored in
//! the wrong (un)shortened form), per directory. [`Presentations`] owns it:
//! listings record, lookups ask, mutations forget. A leaf: `core` holds one
//! without knowing what a listing is.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::names;
use crate::{DirId, Node};

/// How long the presentation of a listed directory is trusted by lookups.
const TTL: Duration = Duration::from_secs(2);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One directory's presentation: nodes keyed by name and by its NFC form.
struct Presented {
    at: Instant,
    nodes: HashMap<String, Node>,
}

/// What listings presented, by directory.
#[derive(Default)]
pub(crate) struct Presentations {
    dirs: Mutex<HashMap<DirId, Presented>>,
}

impl Presentations {
    /// `Some(node or None)` when `dir` was listed less than the TTL ago;
    /// `None` when a listing is needed to know.
    pub fn lookup(&self, dir: &DirId, name: &str, nfc: &str) -> Option<Option<Node>> {
        let dirs = lock(&self.dirs);
        let p = dirs.get(dir).filter(|p| p.at.elapsed() < TTL)?;
        Some(p.nodes.get(name).or_else(|| p.nodes.get(nfc)).cloned())
    }

    /// Records a fresh listing of `dir`: `nodes` are those only the presentation reaches.
    pub fn record<'a>(&self, dir: &DirId, nodes: impl IntoIterator<Item = &'a Node>) {
        let mut map = HashMap::new();
        for n in nodes {
            map.insert(n.name.clone(), n.clone());
            map.insert(names::nfc(&n.name), n.clone());
        }
        let p = Presented {
            at: Instant::now(),
            nodes: map,
        };
        lock(&self.dirs).insert(dir.clone(), p);
    }

    /// Forgets what was presented for `dir` (after a mutation of many names in it).
    pub fn invalidate(&self, dir: &DirId) {
        lock(&self.dirs).remove(dir);
    }

    /// Forgets what was presented under `name` in `dir` (after we created,
    /// removed or renamed that name). The rest stays valid: our own mutations
    /// only ever store canonical names, so creating many files in a directory
    /// does not make every lookup miss list it again.
    pub fn forget(&self, dir: &DirId, name: &str) {
        if let Some(p) = lock(&self.dirs).get_mut(dir) {
            p.nodes.remove(name);
            p.nodes.remove(&names::nfc(name));
        }
    }

    /// Forgets everything.
    pub fn clear(&self) {
        lock(&self.dirs).clear();
    }
}
