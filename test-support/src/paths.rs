//! Where the workspace keeps what tests share: fixture vaults and the test-server scripts.

use std::path::{Path, PathBuf};

/// The workspace root (this crate's parent folder).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support lies inside the workspace")
        .to_path_buf()
}

/// `tests/fixtures`: the fixture vaults, their passwords and expected trees.
pub fn fixtures() -> PathBuf {
    workspace().join("tests/fixtures")
}

/// `tests/servers`: the WebDAV servers' script and its helpers.
pub fn servers_dir() -> PathBuf {
    workspace().join("tests/servers")
}

/// `vault-sftp/tests/servers`: the sshd, hotel-network and link-cutting scripts.
pub fn sftp_servers_dir() -> PathBuf {
    workspace().join("vault-sftp/tests/servers")
}
