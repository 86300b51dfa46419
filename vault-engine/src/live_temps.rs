//! The registry of shadow objects in use ([`LiveTemps`]): the shadow write
//! path registers a temp object before writing it and unregisters it once
//! committed or dropped; listings, `check --repair` and directory removal ask
//! it so that they never report or delete a temp object a write still needs.
//! A leaf: `core` holds one.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Storage paths of the temp objects in use.
#[derive(Default)]
pub(crate) struct LiveTemps {
    paths: Mutex<HashSet<String>>,
}

impl LiveTemps {
    fn lock(&self) -> MutexGuard<'_, HashSet<String>> {
        self.paths.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks `path` in use (before anything is written to it).
    pub fn register(&self, path: &str) {
        self.lock().insert(path.to_owned());
    }

    /// Marks `path` no longer in use (committed, or given up).
    pub fn release(&self, path: &str) {
        self.lock().remove(path);
    }

    /// True while a write still needs the temp object at `path`.
    pub fn contains(&self, path: &str) -> bool {
        self.lock().contains(path)
    }
}
