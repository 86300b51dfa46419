//! The table of open files by ciphertext path, so two opens of one file share
//! one state. Type-erased (`dyn Any`) so the shared vault state can own it
//! without depending on the open-file module, which depends on that state;
//! the open-file module is the only one that puts entries in.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

type Entry = dyn Any + Send + Sync;

#[derive(Default)]
pub(crate) struct OpenTable {
    table: Mutex<HashMap<String, Weak<Entry>>>,
}

impl OpenTable {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Weak<Entry>>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The live entry for `key`, if it is a `T`.
    pub fn get<T: Any + Send + Sync>(&self, key: &str) -> Option<Arc<T>> {
        let entry = self.lock().get(key).and_then(Weak::upgrade)?;
        entry.downcast::<T>().ok()
    }

    /// The live entry for `key` if there is one (the caller joins it), else
    /// records `item` under `key` and returns `None`.
    pub fn get_or_insert<T: Any + Send + Sync>(
        &self,
        key: String,
        item: &Arc<T>,
    ) -> Option<Arc<T>> {
        let existing = {
            let mut table = self.lock();
            match table.get(&key).and_then(Weak::upgrade) {
                Some(e) => Some(e),
                None => {
                    let weak: Weak<Entry> = Arc::downgrade(item) as Weak<Entry>;
                    table.insert(key, weak);
                    None
                }
            }
        };
        // Downcast (and any drop) outside the table lock: an entry's Drop may take it.
        existing.and_then(|e| e.downcast::<T>().ok())
    }

    pub fn remove(&self, key: &str) {
        self.lock().remove(key);
    }

    /// Moves the entry under `old` (if any) to `new`.
    pub fn rekey(&self, old: &str, new: &str) {
        let mut table = self.lock();
        if let Some(w) = table.remove(old) {
            table.insert(new.to_owned(), w);
        }
    }

    /// Removes the entry under `key` if nothing holds it any more (it may
    /// already have been replaced by a newer open).
    pub fn remove_if_dead(&self, key: &str) {
        let mut table = self.lock();
        if table.get(key).is_some_and(|w| w.strong_count() == 0) {
            table.remove(key);
        }
    }

    /// Every live entry that is a `T`.
    pub fn alive<T: Any + Send + Sync>(&self) -> Vec<Arc<T>> {
        let entries: Vec<Arc<Entry>> = self.lock().values().filter_map(Weak::upgrade).collect();
        entries
            .into_iter()
            .filter_map(|e| e.downcast::<T>().ok())
            .collect()
    }
}
