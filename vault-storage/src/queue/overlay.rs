//! The view the queue presents: the storage as it will be once every pending op has reached
//! it. Each pending op is a layer over the storage; a look-up walks the layers from the newest
//! down, following renames back to the name the object had before, until one decides the answer
//! or the storage below is asked.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::{EntryKind, Metadata};

use super::journal::OpKind;

/// One queued op in memory.
#[derive(Debug)]
pub(crate) struct Pending {
    pub seq: u64,
    pub at: SystemTime,
    pub op: OpKind,
    /// The worker is applying it now.
    pub in_flight: bool,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not tried again before this.
    pub next_try: std::time::Instant,
}

/// `p` is `base` or below it (the root holds everything).
pub(crate) fn under(p: &str, base: &str) -> bool {
    base.is_empty()
        || p == base
        || (p.len() > base.len() && p.starts_with(base) && p.as_bytes()[base.len()] == b'/')
}

fn parent(p: &str) -> &str {
    p.rfind('/').map_or("", |i| &p[..i])
}

fn name(p: &str) -> &str {
    p.rfind('/').map_or(p, |i| &p[i + 1..])
}

/// `p` (below `to`) under the name it had before a rename `from` → `to`.
fn back(p: &str, from: &str, to: &str) -> String {
    format!("{from}{}", &p[to.len()..])
}

/// The paths an op touches: an op never overtakes an earlier one touching a path at, above or
/// below one of its own.
pub(crate) fn touched(op: &OpKind) -> [Option<&str>; 2] {
    match op {
        OpKind::Write { path, .. }
        | OpKind::CreateDir { path, .. }
        | OpKind::RemoveFile { path }
        | OpKind::RemoveDir { path }
        | OpKind::RemoveDirAll { path } => [Some(path), None],
        OpKind::Rename { from, to, .. } => [Some(from), Some(to)],
    }
}

/// Whether two ops must stay in order.
pub(crate) fn depends(a: &OpKind, b: &OpKind) -> bool {
    touched(a).iter().flatten().any(|x| {
        touched(b)
            .iter()
            .flatten()
            .any(|y| under(x, y) || under(y, x))
    })
}

/// What a path is in the queued view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    /// The bytes of queued write `seq`.
    Object { seq: u64, len: u64, at: SystemTime },
    /// A folder a queued op created.
    Dir { at: SystemTime },
    /// Removed, renamed away, or below a file.
    Absent,
    /// Whatever the storage has at this path (its name before queued renames).
    Inner {
        path: String,
        /// A rename the worker is applying now moved it: the storage may have either name.
        moving: bool,
    },
}

impl Found {
    pub fn metadata(&self) -> Option<Metadata> {
        match self {
            Found::Object { len, at, .. } => Some(Metadata {
                kind: EntryKind::File,
                size: *len,
                modified: Some(*at),
                version: None,
            }),
            Found::Dir { at } => Some(Metadata {
                kind: EntryKind::Dir,
                size: 0,
                modified: Some(*at),
                version: None,
            }),
            _ => None,
        }
    }
}

/// Resolves `path` through `ops` (oldest first).
pub(crate) fn resolve(ops: &[Pending], path: &str) -> Found {
    let mut q = path.to_owned();
    let mut moving = false;
    for p in ops.iter().rev() {
        match &p.op {
            OpKind::Write { path: w, len, .. } => {
                if q == *w {
                    return Found::Object {
                        seq: p.seq,
                        len: *len,
                        at: p.at,
                    };
                }
                if under(&q, w) {
                    return Found::Absent;
                }
            }
            OpKind::CreateDir {
                path: c,
                maybe_exists,
            } => {
                if q == *c {
                    return Found::Dir { at: p.at };
                }
                // A folder the queue made holds only what later ops put in it.
                if !*maybe_exists && under(&q, c) {
                    return Found::Absent;
                }
            }
            OpKind::RemoveFile { path: r }
            | OpKind::RemoveDir { path: r }
            | OpKind::RemoveDirAll { path: r } => {
                if under(&q, r) {
                    return Found::Absent;
                }
            }
            OpKind::Rename { from, to, .. } => {
                if under(&q, to) {
                    q = back(&q, from, to);
                    moving |= p.in_flight;
                } else if under(&q, from) {
                    return Found::Absent;
                }
            }
        }
    }
    Found::Inner { path: q, moving }
}

/// One child in a queued listing.
#[derive(Debug, Clone)]
pub(crate) enum Child {
    /// Known from the queue.
    Known(Metadata),
    /// Not there.
    Gone,
    /// Whatever the storage has at this path (a child renamed in by a queued rename).
    Inner(String),
}

/// How to list a folder in the queued view.
#[derive(Debug)]
pub(crate) struct ListPlan {
    /// Children the queue decides, by name.
    pub decided: BTreeMap<String, Child>,
    /// The storage's folder whose other children are listed (none: the queue made the folder).
    pub inner: Option<String>,
    /// The folder does not exist in the view (when nothing was decided).
    pub missing: bool,
    /// A rename the worker is applying now is involved.
    pub moving: bool,
    /// The path is a queued file, not a folder.
    pub file: bool,
}

fn decide(plan: &mut ListPlan, n: &str, c: Child) {
    plan.decided.entry(n.to_owned()).or_insert(c);
}

/// Plans the listing of `dir` through `ops` (oldest first).
pub(crate) fn plan_list(ops: &[Pending], dir: &str) -> ListPlan {
    let mut plan = ListPlan {
        decided: BTreeMap::new(),
        inner: None,
        missing: false,
        moving: false,
        file: false,
    };
    let mut q = dir.to_owned();
    for (i, p) in ops.iter().enumerate().rev() {
        match &p.op {
            OpKind::Write { path: w, len, .. } => {
                if parent(w) == q && !w.is_empty() {
                    let f = Found::Object {
                        seq: p.seq,
                        len: *len,
                        at: p.at,
                    };
                    decide(
                        &mut plan,
                        name(w),
                        Child::Known(f.metadata().unwrap_or_else(dir_meta)),
                    );
                } else if under(&q, w) {
                    plan.missing = true;
                    plan.file = q == *w;
                    return plan;
                }
            }
            OpKind::CreateDir {
                path: c,
                maybe_exists,
            } => {
                if q == *c {
                    if *maybe_exists {
                        continue;
                    }
                    return plan;
                }
                if parent(c) == q {
                    decide(&mut plan, name(c), Child::Known(dir_meta_at(p.at)));
                }
            }
            OpKind::RemoveFile { path: r }
            | OpKind::RemoveDir { path: r }
            | OpKind::RemoveDirAll { path: r } => {
                if under(&q, r) {
                    plan.missing = true;
                    return plan;
                }
                if parent(r) == q {
                    decide(&mut plan, name(r), Child::Gone);
                }
            }
            OpKind::Rename { from, to, .. } => {
                if parent(to) == q && to != from {
                    let child = match resolve(&ops[..i], from) {
                        Found::Inner { path, moving } => {
                            plan.moving |= moving || p.in_flight;
                            Child::Inner(path)
                        }
                        f => f.metadata().map_or(Child::Gone, Child::Known),
                    };
                    decide(&mut plan, name(to), child);
                }
                if parent(from) == q && to != from {
                    decide(&mut plan, name(from), Child::Gone);
                }
                if under(&q, to) {
                    q = back(&q, from, to);
                    plan.moving |= p.in_flight;
                } else if under(&q, from) {
                    plan.missing = true;
                    return plan;
                }
            }
        }
    }
    plan.inner = Some(q);
    plan
}

fn dir_meta() -> Metadata {
    dir_meta_at(SystemTime::now())
}

fn dir_meta_at(at: SystemTime) -> Metadata {
    Metadata {
        kind: EntryKind::Dir,
        size: 0,
        modified: Some(at),
        version: None,
    }
}
