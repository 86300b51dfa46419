//! The command line as clap parses it: raw flags only, no I/O.
//! `docs/cli.md` is the contract for names, forms and meanings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Mount Cryptomator (format 8) vaults from local folders, SFTP and WebDAV.
#[derive(Debug, Parser)]
#[command(
    name = "vault",
    version,
    about,
    propagate_version = true,
    max_term_width = 100
)]
#[command(
    after_help = "STORAGE is a local folder (./Vault, /media/usb/Vault, ~/Nextcloud/Vault), \
sftp://[user@]host[:port]/path, dav://host/path, davs://host/path, \
https://host/remote.php/dav/files/USER/path, or the NAME of a configured vault.\n\n\
Exit codes: 0 success, 1 error, 2 usage, 3 wrong password or credentials, \
4 not a vault or unsupported format, 5 storage unreachable, 6 check found problems, \
7 host key refused."
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Where secrets come from (never the command line itself, never an env var holding one).
#[derive(Debug, Clone, Default, Args)]
pub struct SecretArgs {
    /// Read the vault password from the first line of FILE (newline stripped).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Run CMD with the prompt text as its only argument and read the secret from its stdout
    /// (like SSH_ASKPASS). CMD is a program path, run without a shell.
    #[arg(long, value_name = "CMD", env = "VAULT_ASKPASS")]
    pub askpass: Option<String>,
    /// Trust this PEM certificate (or CA) too, for davs:// and https:// storage.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// SSH private key to try first (sftp://).
    #[arg(long, short = 'i', value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// known_hosts file to check and extend (sftp://; default ~/.ssh/known_hosts).
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Accept and record an unknown host key without asking (sftp://). A changed key is always refused.
    #[arg(long)]
    pub accept_new_host_key: bool,
    /// Reach the server through these jump hosts, outermost first (sftp://; as ssh -J, over
    /// ~/.ssh/config's ProxyJump/ProxyCommand). Each is a full SSH login: host key checked,
    /// its own questions. `none` ignores the ssh config's ProxyJump.
    #[arg(
        long = "proxy-jump",
        short = 'J',
        value_name = "[USER@]HOST[:PORT][,...]"
    )]
    pub proxy_jump: Option<String>,
    #[command(flatten)]
    pub s3: S3Args,
    /// Make a missing bucket (vault create on s3://).
    #[arg(long)]
    pub create_bucket: bool,
    /// Allow a password over plain http:// (dav://) to a host other than this machine; without
    /// it that is refused, as anyone on the network could read the password.
    #[arg(long)]
    pub insecure_http: bool,
    /// Keep the secrets this command asks for (vault password, SSH key passphrase, WebDAV
    /// password) in the OS keyring, stored once the command succeeded; later runs use them
    /// instead of asking. `vault forget` drops them.
    #[arg(long)]
    pub remember: bool,
    /// Ask for the TOTP secret of this SFTP account (base32, or an otpauth:// URI) and keep it
    /// in the OS keyring: one-time-code prompts are then answered without you, so unattended
    /// reconnects work. This turns two factors into one.
    #[arg(long)]
    pub remember_totp: bool,
    /// Not an argument: the command's use of the keyring, shared by every clone (`cli::run`
    /// makes one per command and hands it to each `SecretArgs` of the command).
    #[arg(skip)]
    pub keyring: super::keyring_use::KeyringUse,
}

/// Where and how an `s3://` STORAGE is reached (none of it secret; named vaults keep it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct S3Args {
    /// S3 endpoint for anything but AWS (MinIO, Ceph RGW, Garage), e.g. https://minio.example:9000
    /// (s3://; path-style addressing).
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// S3 region (s3://; default: AWS_REGION, the profile's, else us-east-1).
    #[arg(long, value_name = "R")]
    pub s3_region: Option<String>,
    /// Profile of ~/.aws/credentials and ~/.aws/config to use (s3://; instead of AWS_PROFILE;
    /// its keys win over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY).
    #[arg(long, value_name = "NAME")]
    pub s3_profile: Option<String>,
    /// Bucket addressing (s3://): path (endpoint/bucket/key; the default with --s3-endpoint) or
    /// virtual (bucket.endpoint/key; the default for AWS).
    #[arg(long, value_name = "STYLE", value_parser = ["path", "virtual"])]
    pub s3_addressing: Option<String>,
    /// Create-only writes by conditional put (If-None-Match: *), on by default; off = HEAD then
    /// PUT, for stores that ignore the header (s3://; see README).
    #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
    pub s3_conditional_put: Option<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new, empty format-8 vault (asks the password twice on a terminal).
    Create {
        /// Where the vault goes (an empty or missing folder).
        storage: String,
        #[command(flatten)]
        secrets: SecretArgs,
    },
    /// Show format, cipher combo, shortening threshold and backend.
    Info {
        /// The vault.
        storage: String,
        #[command(flatten)]
        secrets: SecretArgs,
    },
    /// List cleartext names (sizes from ciphertext lengths). Directories end in `/`.
    Ls {
        /// Long format: type, size, modification time (UTC), name, symlink target.
        #[arg(short = 'l')]
        long: bool,
        /// Recurse; paths are printed relative to PATH.
        #[arg(short = 'R')]
        recursive: bool,
        /// Print names raw, each entry ending in NUL instead of a newline (for scripts;
        /// otherwise control characters in names are C-escaped).
        #[arg(short = '0')]
        nul: bool,
        /// The vault.
        storage: String,
        /// Cleartext path inside the vault.
        #[arg(default_value = "/")]
        path: String,
        #[command(flatten)]
        secrets: SecretArgs,
    },
    /// Write a file's cleartext to stdout.
    Cat {
        /// The vault.
        storage: String,
        /// Cleartext path of a file.
        path: String,
        #[command(flatten)]
        secrets: SecretArgs,
    },
    /// Copy out of the vault (`cp -r` semantics: a DEST that does not exist becomes the copy,
    /// an existing directory receives it inside).
    Get {
        /// Copy directories recursively (symlinks are copied as symlinks).
        #[arg(short = 'r', short_alias = 'R')]
        recursive: bool,
        /// The vault.
        storage: String,
        /// Cleartext path inside the vault.
        path: String,
        /// Local destination.
        dest: PathBuf,
        #[command(flatten)]
        secrets: SecretArgs,
    },
    /// Copy into the vault (`cp -r` semantics: a PATH that does not exist becomes the copy,
    /// an existing directory receives it inside).
    Put {
        /// Copy directories recursively (symlinks are copied as symlinks).
        #[arg(short = 'r', short_alias = 'R')]
        recursive: bool,
        /// The vault.
        storage: String,
        /// Local source.
        src: PathBuf,
        /// Cleartext destination path inside the vault.
        path: String,
        #[command(flatten)]
        secrets: SecretArgs,
    },
    /// Create directories.
    Mkdir {
        /// Create missing parents; no error if the directory exists.
        #[arg(short = 'p')]
        parents: bool,
        /// The vault.
        storage: String,
        /// Cleartext paths.
        #[arg(required = true)]
        paths: Vec<String>,
        #[command(flatten)]
        secrets: SecretArgs,
    },
    /// Remove files, symlinks and (with -r) directories.
    Rm {
        /// Remove directories and their contents.
        #[arg(short = 'r', short_alias = 'R')]
        recursive: bool,
        /// The vault.
        storage: String,
        /// Cleartext paths.
        #[arg(required = true)]
        paths: Vec<String>,
        #[command(flatten)]
        secrets: SecretArgs,
    },
    /// Rename or move (into TO when TO is an existing directory).
    Mv {
        /// The vault.
        storage: String,
        /// Cleartext source path.
        from: String,
        /// Cleartext target path.
        to: String,
        #[command(flatten)]
        secrets: SecretArgs,
    },
    /// Change the vault password; keys and data stay unchanged.
    Passwd {
        /// The vault.
        storage: String,
        #[command(flatten)]
        secrets: SecretArgs,
        /// Read the new password from the first line of FILE (non-interactive use).
        #[arg(long, value_name = "FILE")]
        new_password_file: Option<PathBuf>,
    },
    /// Cryptomator-compatible recovery key: show it, or set a new password with it.
    #[command(subcommand)]
    RecoveryKey(RecoveryKeyCommand),
    /// Copy a vault's ciphertext as is to another storage (no password needed); resumable,
    /// vault.cryptomator last, DST checked afterwards. The connection flags apply to both ends.
    Copy {
        /// The vault to copy.
        src: String,
        /// Where to copy it: missing, empty, or a partial copy of the same vault.
        dst: String,
        #[command(flatten)]
        secrets: SecretArgs,
    },
    /// Health check; exit 6 when problems remain.
    Check {
        /// Repair what can be repaired without losing data.
        #[arg(long)]
        repair: bool,
        /// The vault.
        storage: String,
        #[command(flatten)]
        secrets: SecretArgs,
    },
    /// Mount the vault as a drive; detaches once the mount answers.
    Mount(MountArgs),
    /// Internal: the detached mount daemon (started by `vault mount`).
    #[command(name = "__mount-daemon", hide = true)]
    MountDaemon(MountArgs),
    /// Flush and unmount a mounted vault.
    #[command(alias = "umount")]
    Unmount {
        /// The mountpoint, or the NAME of a configured vault.
        mountpoint: PathBuf,
        /// Clear a stale mount whose daemon died ("Transport endpoint is not connected").
        #[arg(long, short = 'f')]
        force: bool,
        /// With --cache=full: do not wait for the upload queue; what is pending stays in the
        /// journal and resumes on the next mount.
        #[arg(long)]
        leave_pending: bool,
    },
    /// Show a --cache=full mount's upload queue; --retry tries every waiting upload now.
    Queue {
        /// The mountpoint, or the NAME of a configured vault.
        #[arg(value_name = "MOUNTPOINT|NAME")]
        target: PathBuf,
        /// Retry every waiting upload now, whatever its backoff.
        #[arg(long)]
        retry: bool,
    },
    /// List this user's mounted vaults.
    Status {
        /// Long form: also each mount's cache mode (`cache=off|metadata|full`) and upload queue.
        #[arg(long, short = 'l')]
        long: bool,
    },
    /// Keep files offline: pin files or folders of a vault mounted with --cache=full (their
    /// content is kept on this disk, files added later to a pinned folder too).
    Pin {
        /// Files or folders on the mount, as cp sees them.
        #[arg(value_name = "PATH", required = true)]
        paths: Vec<PathBuf>,
        /// Wait until the pinned content is on this disk (otherwise it is fetched in the
        /// background).
        #[arg(long)]
        wait: bool,
    },
    /// Unpin files or folders pinned with `vault pin` (their content may then be evicted).
    Unpin {
        /// Files or folders on the mount, as cp sees them.
        #[arg(value_name = "PATH", required = true)]
        paths: Vec<PathBuf>,
    },
    /// Mount a vault at its default mountpoint and open it in the file manager, or only open
    /// it if it is mounted (what a double-click on vault.cryptomator runs).
    Open {
        /// The vault's vault.cryptomator or masterkey.cryptomator (or its folder).
        file: PathBuf,
        /// Unmount that vault instead (the desktop entry's "Lock" action).
        #[arg(long)]
        lock: bool,
    },
    /// Answer a reconnect question (a new TOTP code) of a detached mount.
    Auth {
        /// The mountpoint, or the STORAGE/NAME the vault was mounted from.
        #[arg(value_name = "MOUNTPOINT|NAME")]
        target: PathBuf,
        /// Run CMD with each question as its only argument and read the answer from its stdout
        /// (like SSH_ASKPASS); otherwise the terminal is asked.
        #[arg(long, value_name = "CMD", env = "VAULT_ASKPASS")]
        askpass: Option<String>,
    },
    /// Add a named vault to the config file (`vault mount NAME`, and NAME as STORAGE anywhere).
    Add(AddArgs),
    /// List the named vaults: NAME, STORAGE, MOUNTPOINT, and where each is mounted.
    List,
    /// Forget a named vault: its config entry and its stored secrets (never its data).
    Remove {
        /// The vault's name.
        name: String,
    },
    /// Drop the secrets stored in the keyring for a vault (NAME or STORAGE): its vault
    /// password, and the key passphrases, TOTP secret and WebDAV password of its connection.
    Forget {
        /// A vault name or STORAGE.
        storage: String,
        #[command(flatten)]
        secrets: SecretArgs,
    },
    /// Log in to a server in a browser and get a STORAGE for it.
    Login {
        #[command(subcommand)]
        service: LoginService,
    },
    /// Print shell completions.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// `vault recovery-key` subcommands. The word list is Cryptomator's `4096words_en.txt`
/// (GPL-3.0, not shipped with vault): `--word-list FILE`, `VAULT_RECOVERY_WORDLIST`, or
/// `$XDG_DATA_HOME/vault/`, `/usr/local/share/vault/`, `/usr/share/vault/4096words_en.txt`.
#[derive(Debug, Subcommand)]
pub enum RecoveryKeyCommand {
    /// Print the vault's 44-word recovery key on stdout, on one line (asks the vault password).
    /// The words are as secret as the vault's keys.
    Show {
        /// The vault.
        storage: String,
        /// Cryptomator's 4096words_en.txt (checked against its known SHA-256).
        #[arg(long, value_name = "FILE", env = "VAULT_RECOVERY_WORDLIST")]
        word_list: Option<PathBuf>,
        #[command(flatten)]
        secrets: SecretArgs,
    },
    /// Set a new password from the recovery key; the current password is not needed.
    /// The old masterkey file is kept as masterkey.cryptomator.<HEX>.bkup.
    Reset {
        /// The vault.
        storage: String,
        /// Cryptomator's 4096words_en.txt (checked against its known SHA-256).
        #[arg(long, value_name = "FILE", env = "VAULT_RECOVERY_WORDLIST")]
        word_list: Option<PathBuf>,
        /// Read the recovery key from FILE (`-`: stdin); words separated by any whitespace.
        /// Otherwise askpass or a prompt without echo (`Recovery key for STORAGE: `).
        #[arg(long, value_name = "FILE")]
        recovery_key_file: Option<PathBuf>,
        /// Read the new password from the first line of FILE (non-interactive use).
        #[arg(long, value_name = "FILE")]
        new_password_file: Option<PathBuf>,
        #[command(flatten)]
        secrets: SecretArgs,
    },
}

/// Services of `vault login`.
#[derive(Debug, Subcommand)]
pub enum LoginService {
    /// Nextcloud Login Flow v2: approve in the browser; prints the davs:// STORAGE and keeps
    /// the new app password in the keyring (--remember) or prints it once.
    Nextcloud {
        /// The server, e.g. https://cloud.example.org (or https://example.org/nextcloud).
        url: String,
        /// Keep the app password in the OS keyring (otherwise it is printed once).
        #[arg(long)]
        remember: bool,
        /// Also add a named vault for the folder --folder on this account.
        #[arg(long, value_name = "NAME")]
        add: Option<String>,
        /// The vault's folder inside the account's files (with --add; default: the top).
        #[arg(long, value_name = "PATH", requires = "add")]
        folder: Option<String>,
        /// Trust this PEM certificate (or CA) too.
        #[arg(long, value_name = "FILE")]
        ca_cert: Option<PathBuf>,
        /// Allow the login over plain http:// to a host other than this machine (the app
        /// password would cross the network readable by anyone on it).
        #[arg(long)]
        insecure_http: bool,
        /// Give up waiting for the approval after this long.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "20m")]
        timeout: std::time::Duration,
    },
}

/// `vault add` options.
#[derive(Debug, Clone, Args)]
pub struct AddArgs {
    /// The name: letters, digits, '-', '_', '.', starting with a letter or digit.
    pub name: String,
    /// Where the vault lives (a folder or a URL; not another name).
    pub storage: String,
    /// Where `vault mount NAME` mounts it.
    pub mountpoint: Option<PathBuf>,
    /// Replace an existing entry of that name.
    #[arg(long)]
    pub force: bool,
    /// Mount read-only.
    #[arg(long)]
    pub read_only: bool,
    /// Unmount after this long without access (e.g. 30m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_text)]
    pub idle: Option<String>,
    /// Which symlink targets a mount returns: all, inside (the default), none.
    #[arg(long, value_name = "MODE", value_parser = ["all", "inside", "none"])]
    pub symlinks: Option<String>,
    /// The mount's cache: off, metadata or full (config key `cache`; default by storage).
    #[arg(long, value_name = "MODE", value_parser = parse_cache_text)]
    pub cache: Option<String>,
    /// How long listings and attributes are used without asking the server (config key
    /// `dir_cache_time`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_text)]
    pub dir_cache_time: Option<String>,
    /// Unpinned content kept by --cache=full (config key `cache_max_size`).
    #[arg(long, value_name = "SIZE", value_parser = parse_size_text)]
    pub cache_max_size: Option<String>,
    /// Do not lock this vault on suspend or session lock.
    #[arg(long)]
    pub no_auto_lock: bool,
    /// SSH private key to try first (sftp://).
    #[arg(long, short = 'i', value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// known_hosts file (sftp://).
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Accept and record an unknown host key without asking (sftp://).
    #[arg(long)]
    pub accept_new_host_key: bool,
    /// Jump hosts, outermost first (sftp://; as ssh -J).
    #[arg(
        long = "proxy-jump",
        short = 'J',
        value_name = "[USER@]HOST[:PORT][,...]"
    )]
    pub proxy_jump: Option<String>,
    /// Trust this PEM certificate (or CA) too (davs://, https://).
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Allow the password over plain http:// (dav://) to a host other than this machine.
    #[arg(long)]
    pub insecure_http: bool,
    #[command(flatten)]
    pub s3: S3Args,
}

fn parse_cache_text(s: &str) -> Result<String, String> {
    crate::cli::cache::parse_mode(s).map(|_| s.to_string())
}

fn parse_size_text(s: &str) -> Result<String, String> {
    parse_size(s).map(|_| s.trim().to_string())
}

fn parse_duration_text(s: &str) -> Result<String, String> {
    parse_duration(s).map(|_| s.trim().to_string())
}

/// `vault mount` options.
#[derive(Debug, Clone, Args)]
pub struct MountArgs {
    /// The vault (a NAME mounts on its configured mountpoint).
    pub storage: String,
    /// An empty directory to mount on (optional for a named vault with a mountpoint).
    pub mountpoint: Option<PathBuf>,
    /// Stay in the foreground (for systemd and debugging).
    #[arg(long, short = 'f')]
    pub foreground: bool,
    /// Mount read-only (the vault is opened read-only: nothing is written).
    #[arg(long)]
    pub read_only: bool,
    /// Let other users access the mount (needs user_allow_other in /etc/fuse.conf for non-root).
    #[arg(long)]
    pub allow_other: bool,
    /// Mount options, comma separated: ro, rw, allow_other, nonempty, idle=DURATION, and options
    /// passed to FUSE.
    #[arg(short = 'o', value_name = "OPTS")]
    pub options: Vec<String>,
    /// Unmount after this long without access (e.g. 90s, 10m, 1h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub idle: Option<std::time::Duration>,
    /// Which symlink targets the mount returns: inside (default: a target that is absolute or
    /// climbs above the mount root fails with EACCES), none (no symlink is followed), all.
    #[arg(long, value_name = "MODE", value_parser = ["all", "inside", "none"])]
    pub symlinks: Option<String>,
    /// Do not lock (flush and unmount) the vault when the system suspends or the session locks
    /// (a named vault's `auto_lock = false`).
    #[arg(long)]
    pub no_auto_lock: bool,
    /// Open the mountpoint in the file manager once mounted (on a desktop: DISPLAY or
    /// WAYLAND_DISPLAY set).
    #[arg(long)]
    pub reveal: bool,
    /// Write the daemon's log to FILE (otherwise it is discarded once detached).
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Do not list the mounted vault in the file manager's sidebar (GTK bookmarks, KDE
    /// places; a named vault's `sidebar = false`).
    #[arg(long)]
    pub no_sidebar: bool,
    /// No desktop notifications (auto-lock, a reconnect waiting for `vault auth`, a sync
    /// conflict; a named vault's `notify = false`).
    #[arg(long)]
    pub no_notify: bool,
    /// Cache: off (nothing kept on disk), metadata (listings and attributes kept on disk,
    /// served when the server is slow or unreachable) or full (also file content: files read
    /// and pinned files work offline; writes go through the upload queue, so close and fsync
    /// return once the change is durable on this laptop). Default: off for a local folder,
    /// metadata for sftp, WebDAV and S3.
    #[arg(long, value_name = "MODE", value_parser = crate::cli::cache::parse_mode)]
    pub cache: Option<crate::cli::cache::CacheMode>,
    /// How long listings and attributes are used without asking the server again (default
    /// 1s; also `-o dir_cache_time=`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub dir_cache_time: Option<std::time::Duration>,
    /// With --cache=full: unpinned content kept on disk before the least recently used is
    /// evicted (default 1G; pinned content is never evicted; also `-o cache_max_size=`).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub cache_max_size: Option<u64>,
    #[command(flatten)]
    pub secrets: SecretArgs,
    /// Internal: STORAGE as the user typed it, for the daemon's messages.
    #[arg(long, hide = true)]
    pub display_name: Option<String>,
    /// Internal: the parent found the server unreachable, so the daemon starts from the cache
    /// without waiting for the connect a second time.
    #[arg(long, hide = true)]
    pub offline_start: bool,
}

/// Parses a size in bytes: `1048576`, `512K`, `300M`, `2G`, `1T` (powers of 1024; `KiB`,
/// `MB`… accepted alike).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || format!("invalid size {s:?} (examples: 500M, 2G)");
    let t = s.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let n: u64 = t[..digits].parse().map_err(|_| bad())?;
    let unit = t[digits..].trim().to_ascii_uppercase();
    let shift = match unit.trim_end_matches('B').trim_end_matches('I') {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(bad()),
    };
    n.checked_mul(1u64 << shift).ok_or_else(bad)
}

/// Parses `90`, `90s`, `10m`, `1h30m`, `2d`, `500ms`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("invalid duration {s:?} (examples: 90s, 10m, 1h30m)");
    let s = s.trim();
    if s.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(secs));
    }
    let mut total = std::time::Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let d = match unit {
            "ms" => std::time::Duration::from_millis(n),
            "s" | "sec" => std::time::Duration::from_secs(n),
            "m" | "min" => std::time::Duration::from_secs(n.saturating_mul(60)),
            "h" => std::time::Duration::from_secs(n.saturating_mul(3600)),
            "d" => std::time::Duration::from_secs(n.saturating_mul(86400)),
            _ => return Err(bad()),
        };
        total = total.saturating_add(d);
    }
    Ok(total)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("512K").unwrap(), 512 << 10);
        assert_eq!(parse_size("300MiB").unwrap(), 300 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        for bad in ["", "G", "1X", "-1", "99999999999T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        for bad in ["", "s", "1x", "m5", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
