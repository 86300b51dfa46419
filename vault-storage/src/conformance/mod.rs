//! The storage conformance suite: the semantics the vault engine relies on,
//! written once and run against every backend (behind the `conformance`
//! feature).
//!
//! Every test works inside its own fresh folder
//! `vault-conformance-<unique>-<test>` below the storage root, so the suite
//! can run against a shared server root, several tests at a time. A passing
//! test removes its folder; a failing one leaves it for inspection.
//!
//! Plugging a backend in (in its `tests/*.rs`, with
//! `vault-storage = { workspace = true, features = ["conformance"] }` and
//! `tokio` among the dev-dependencies):
//!
//! ```text
//! // One #[tokio::test] per conformance test. The expression runs inside each
//! // async test (it may `.await`) and yields (Arc<dyn Storage>, Quirks, guard);
//! // the guard (a tempdir, a server handle, or ()) lives until the test ends.
//! vault_storage::conformance_tests!({
//!     let server = start_server().await;
//!     let storage: std::sync::Arc<dyn vault_storage::Storage> = std::sync::Arc::new(connect(&server).await);
//!     (storage, vault_storage::conformance::Quirks { mtime_granularity: std::time::Duration::from_secs(1), ..Default::default() }, server)
//! });
//! ```
//!
//! or, in one test: `vault_storage::conformance::run_all(storage, quirks).await`.
//! A failure panics with the test's name and what differed.

//!
//! Layout: `ctx` holds the per-test surroundings and assertion helpers; `basics`, `reads_writes`
//! and `tree` hold the checks, grouped by the part of the `Storage` trait they exercise; this
//! module keeps the registry and the runners.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::Storage;

mod basics;
mod ctx;
mod reads_writes;
mod tree;

pub use basics::{already_exists, not_empty, not_found, root_and_fresh_folder, wrong_kind};
pub use ctx::{Ctx, Quirks, pattern};
pub use reads_writes::{
    atomic_overwrite, big_object, create_new_race, nosync_variants, random_write, read_ranges,
    write_modes,
};
pub use tree::{
    list_dir_metadata, long_names, remove, rename_dirs, rename_files, set_modified, space,
};

type BoxFut<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

macro_rules! registry {
    ($($name:ident),* $(,)?) => {
        mod boxed {
            $(pub(super) fn $name(ctx: &super::Ctx) -> super::BoxFut<'_> { Box::pin(super::$name(ctx)) })*
        }
        /// Every test, by name, in the order `run_all` runs them.
        pub const TESTS: &[(&str, for<'a> fn(&'a Ctx) -> BoxFut<'a>)] = &[$((stringify!($name), boxed::$name)),*];
    };
}

registry!(
    root_and_fresh_folder,
    not_found,
    already_exists,
    not_empty,
    wrong_kind,
    read_ranges,
    write_modes,
    nosync_variants,
    atomic_overwrite,
    create_new_race,
    rename_files,
    rename_dirs,
    remove,
    list_dir_metadata,
    long_names,
    random_write,
    set_modified,
    big_object,
    space,
);

/// Runs the test named `name` in its own fresh folder and removes the folder
/// afterwards. Panics (with the test's name) on failure or an unknown name.
pub async fn run_one(name: &str, storage: Arc<dyn Storage>, quirks: Quirks) {
    let Some((_, test)) = TESTS.iter().find(|(n, _)| *n == name) else {
        panic!("no conformance test named {name:?}");
    };
    let ctx = Ctx::new(storage, quirks, name).await;
    test(&ctx).await;
    ctx.cleanup().await;
}

/// Runs every test in [`TESTS`], one after the other, each in its own folder.
pub async fn run_all(storage: Arc<dyn Storage>, quirks: Quirks) {
    for (name, _) in TESTS {
        run_one(name, Arc::clone(&storage), quirks.clone()).await;
    }
}

/// One `#[tokio::test]` per conformance test, plus one checking that the
/// list is complete. The argument is an expression evaluated inside each
/// (async) test that yields `(Arc<dyn Storage>, Quirks, guard)`; the guard
/// lives until the test ends. See the [module docs](crate::conformance).
#[macro_export]
macro_rules! conformance_tests {
    ($setup:expr) => {
        $crate::__conformance_tests!($setup;
            root_and_fresh_folder, not_found, already_exists, not_empty, wrong_kind, read_ranges,
            write_modes, nosync_variants, atomic_overwrite, create_new_race, rename_files, rename_dirs, remove,
            list_dir_metadata, long_names, random_write, set_modified, big_object, space);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    ($setup:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (storage, quirks, _guard): (::std::sync::Arc<dyn $crate::Storage>, $crate::conformance::Quirks, _) = $setup;
                $crate::conformance::run_one(stringify!($name), storage, quirks).await;
            }
        )*

        #[test]
        fn conformance_list_is_complete() {
            let listed: &[&str] = &[$(stringify!($name)),*];
            let all: ::std::vec::Vec<&str> = $crate::conformance::TESTS.iter().map(|(n, _)| *n).collect();
            assert_eq!(listed, all.as_slice(), "conformance_tests! must list every conformance test");
        }
    };
}
