//! One warning line when a `--password-file` can be read by other local users.
//!
//! Why only a warning: the file is the user's choice and may be shared on purpose (a group
//! of admins); refusing it would break working setups. But a 0644 file in a home folder hands
//! the vault password to every account on the machine, which few users mean. It is a `WARN`
//! log line on stderr (like the other warnings about what was found, not what failed), so
//! `-q` silences it and scripts that read the one error line are not disturbed.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Logs the warning (stderr) if `file` is a regular file readable by its group or others.
pub fn warn_if_readable_by_others(file: &Path) {
    if let Ok(meta) = std::fs::metadata(file)
        && let Some(line) = warning(file, meta.is_file(), meta.permissions().mode())
    {
        tracing::warn!("{line}");
    }
}

/// The warning for a file of this kind and mode, if it deserves one. Pipes and devices
/// (`<(cmd)`, `/dev/stdin`) are not files others could open later, so they get none.
fn warning(file: &Path, regular: bool, mode: u32) -> Option<String> {
    if !regular || mode & 0o044 == 0 {
        return None;
    }
    let who = if mode & 0o004 != 0 {
        "every local user"
    } else {
        "its group"
    };
    let f = file.display();
    Some(format!(
        "password file {f} can be read by {who} (mode {:04o}); run chmod 600 {f}",
        mode & 0o7777
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_or_world_readable_files_are_named_with_their_mode() {
        let f = Path::new("/home/me/pw");
        for mode in [0o600, 0o400, 0o700, 0o622, 0o611] {
            assert_eq!(warning(f, true, mode), None, "{mode:o}");
        }
        let w = warning(f, true, 0o100644).unwrap_or_default();
        assert_eq!(
            w,
            "password file /home/me/pw can be read by every local user (mode 0644); run chmod 600 /home/me/pw"
        );
        let g = warning(f, true, 0o640).unwrap_or_default();
        assert!(g.contains("by its group (mode 0640)"), "{g}");
        assert_eq!(warning(f, false, 0o666), None, "a pipe");
    }
}
