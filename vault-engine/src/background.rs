//! The registry of background commits ([`BackgroundCommits`]): an open file
//! dropped dirty without a flush commits on a task of its own, keyed by its
//! ciphertext path; whoever opens, moves or removes that path (and a
//! whole-vault flush) waits for it first. A leaf: `core` holds one.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::task::JoinHandle;

/// Running commits by ciphertext path.
#[derive(Default)]
pub(crate) struct BackgroundCommits {
    tasks: Mutex<HashMap<String, JoinHandle<()>>>,
}

impl BackgroundCommits {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, JoinHandle<()>>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the commit task of `content_path`.
    pub fn start(&self, content_path: String, task: JoinHandle<()>) {
        self.lock().insert(content_path, task);
    }

    /// Waits for the commit of `content_path`, if one runs.
    pub async fn wait_for(&self, content_path: &str) {
        let task = self.lock().remove(content_path);
        if let Some(t) = task {
            let _ = t.await;
        }
    }

    /// Waits for every commit.
    pub async fn wait_all(&self) {
        let tasks: Vec<_> = self.lock().drain().map(|(_, t)| t).collect();
        for t in tasks {
            let _ = t.await;
        }
    }
}
