//! What a mount does for the desktop while it is up: its sidebar entry ([`super::sidebar`])
//! and its notifications ([`super::notify`]). The mount commands call [`Desktop::mounted`]
//! once the mount answers and [`Desktop::ended`] once it is gone, however it ended
//! (`vault unmount`, a file manager's eject, auto-lock, `--idle`, SIGTERM).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::args::MountArgs;
use super::notify::{self, Notifier};
use super::sidebar;

/// How long an ending mount waits for its last notification to be sent.
const NOTIFY_FLUSH: Duration = Duration::from_secs(3);

/// The desktop side of one live mount.
#[derive(Debug)]
pub struct Desktop {
    mountpoint: PathBuf,
    idle: Option<Duration>,
    /// The mount's notifier (its clones are with the vault, the broker and auto-lock).
    notifier: Notifier,
}

impl Desktop {
    /// Turns the mount's `notifier` on (unless `--no-notify`, or a terminal is there) and
    /// lists the mount in the sidebar (unless `--no-sidebar`).
    pub fn mounted(args: &MountArgs, mountpoint: &Path, notifier: Notifier) -> Desktop {
        let shown = args.display_name.as_deref().unwrap_or(&args.storage);
        let label = sidebar::label_of(shown);
        if notify::wanted(args.no_notify) {
            notifier.enable(&label);
        }
        if !args.no_sidebar {
            sidebar::mounted(mountpoint, &label);
        }
        Desktop {
            mountpoint: mountpoint.to_path_buf(),
            idle: args.idle,
            notifier,
        }
    }

    /// The mount has ended (`by`: what ended it, when known).
    pub fn ended(self, by: Option<vault_fs::EndedBy>) {
        sidebar::unmounted(&self.mountpoint);
        if by == Some(vault_fs::EndedBy::Idle) {
            let idle = self.idle.map(|d| d.as_secs()).unwrap_or_default();
            self.notifier
                .locked(&format!("It was not used for {}", duration_text(idle)));
        }
        self.notifier.finish(NOTIFY_FLUSH);
    }
}

/// `90 s`, `10 min`, `2 h`, `1 h 30 min`.
fn duration_text(secs: u64) -> String {
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (h, 0, 0) => format!("{h} h"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_text() {
        assert_eq!(duration_text(90), "1 min 30 s");
        assert_eq!(duration_text(45), "45 s");
        assert_eq!(duration_text(600), "10 min");
        assert_eq!(duration_text(7200), "2 h");
        assert_eq!(duration_text(5400), "1 h 30 min");
    }
}
