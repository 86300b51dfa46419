//! The Python venv `scripts/install-deps.sh` makes at `/opt/vault-test-pyvenv` (pycryptomator,
//! the reference implementation the interop tests compare against): its interpreter and the
//! recovery-key word list pycryptomator ships.

use std::path::{Path, PathBuf};

/// Where the venv lives.
pub const PYVENV: &str = "/opt/vault-test-pyvenv";

/// The venv's python (`VAULT_TEST_PYTHON` overrides it); fails the test, saying how to install
/// it, if it is not there.
#[track_caller]
pub fn python() -> PathBuf {
    let p = std::env::var_os("VAULT_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(PYVENV).join("bin/python"));
    assert!(
        p.exists(),
        "{} missing: run scripts/install-deps.sh (python3 -m venv {PYVENV} && {PYVENV}/bin/pip \
         install pycryptomator==1.15), or set VAULT_TEST_PYTHON",
        p.display()
    );
    p
}

/// pycryptomator's copy of the official recovery-key word list in the venv (under any
/// python3.x of `lib/`); the path it would have when the venv is absent.
pub fn venv_word_list() -> PathBuf {
    let lib = Path::new(PYVENV).join("lib");
    std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            e.path()
                .join("site-packages/pycryptomator/4096words_en.txt")
        })
        .find(|p| p.is_file())
        .unwrap_or_else(|| lib.join("python3.11/site-packages/pycryptomator/4096words_en.txt"))
}
