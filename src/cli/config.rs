//! Named vaults: `$XDG_CONFIG_HOME/vault/config.toml` (default `~/.config/vault/config.toml`;
//! `VAULT_CONFIG=FILE` points at another file).
//!
//! ```toml
//! [vaults.work]
//! storage = "sftp://me@nas.example.org/~/Vault"
//! mountpoint = "/home/me/Work"      # optional
//! read_only = false                 # optional, like --read-only
//! idle = "30m"                      # optional, like --idle
//! symlinks = "inside"               # optional, like --symlinks (all, inside, none)
//! identity = "/home/me/.ssh/id_ed25519"
//! known_hosts = "/home/me/.ssh/known_hosts"
//! ca_cert = "/etc/ssl/my-ca.pem"
//! accept_new_host_key = false
//! proxy_jump = "me@bastion.example.org"  # optional, like -J
//! insecure_http = false             # true = --insecure-http (password over plain http://)
//! auto_lock = true                  # false = --no-auto-lock
//! sidebar = true                    # false = --no-sidebar
//! notify = true                     # false = --no-notify
//! s3_endpoint = "https://minio.example:9000"   # s3://: like --s3-endpoint
//! s3_region = "eu-central-1"        # like --s3-region
//! s3_profile = "work"               # like --s3-profile (a profile of ~/.aws/credentials)
//! s3_addressing = "path"            # like --s3-addressing (path, virtual)
//! s3_conditional_put = true         # false = --s3-conditional-put=off
//! cache = "metadata"                # optional, like --cache (off, metadata, full)
//! dir_cache_time = "1s"             # optional, like --dir-cache-time
//! cache_max_size = "1G"             # optional, like --cache-max-size
//! ```
//!
//! A file that does not parse, a value of the wrong type or an unknown key is an error naming
//! the file and the line (exit 2, a usage error: the user's input is wrong). Writes go to a
//! temporary file in the same folder, are fsynced and renamed over the old file; the folder is
//! made mode 0700 and the file 0600 (it holds no secrets, but names servers and key files).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::exit::{CliError, CliResult, Exit};
use super::storage_arg::{self, StorageSpec};

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Named vaults, by name.
    #[serde(default)]
    pub vaults: BTreeMap<String, VaultEntry>,
}

/// One named vault.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultEntry {
    /// STORAGE (never a name).
    pub storage: String,
    /// Where `vault mount NAME` mounts it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mountpoint: Option<PathBuf>,
    /// Mount read-only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
    /// `--idle DURATION` as text (`30m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<String>,
    /// `--symlinks MODE` (`all`, `inside`, `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symlinks: Option<String>,
    /// `--identity FILE` (sftp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<PathBuf>,
    /// `--known-hosts FILE` (sftp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<PathBuf>,
    /// `--ca-cert FILE` (davs, https).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    /// `--accept-new-host-key` (sftp).
    #[serde(default, skip_serializing_if = "is_false")]
    pub accept_new_host_key: bool,
    /// `-J HOSTS` (sftp): jump hosts, outermost first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_jump: Option<String>,
    /// `--insecure-http` (dav://, http:// to a host other than loopback).
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure_http: bool,
    /// Lock on suspend / session lock (default true); `false` = `--no-auto-lock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_lock: Option<bool>,
    /// List the mounted vault in the file manager's sidebar (default true); `false` = `--no-sidebar`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidebar: Option<bool>,
    /// Desktop notifications (default true); `false` = `--no-notify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<bool>,
    /// `--s3-endpoint URL` (s3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_endpoint: Option<String>,
    /// `--s3-region R` (s3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_region: Option<String>,
    /// `--s3-profile NAME` (s3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_profile: Option<String>,
    /// `--s3-addressing path|virtual` (s3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_addressing: Option<String>,
    /// `false` = `--s3-conditional-put=off` (s3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_conditional_put: Option<bool>,
    /// `--cache MODE` (`off`, `metadata`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
    /// `--dir-cache-time DURATION` as text (`5s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir_cache_time: Option<String>,
    /// `--cache-max-size SIZE` as text (`2G`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_max_size: Option<String>,
}

impl VaultEntry {
    /// The entry's S3 settings as the flags would give them.
    pub fn s3_args(&self) -> super::args::S3Args {
        super::args::S3Args {
            s3_endpoint: self.s3_endpoint.clone(),
            s3_region: self.s3_region.clone(),
            s3_profile: self.s3_profile.clone(),
            s3_addressing: self.s3_addressing.clone(),
            s3_conditional_put: self
                .s3_conditional_put
                .map(|on| if on { "on" } else { "off" }.to_owned()),
        }
    }

    /// Keeps the S3 flags of `vault add` (`on`/`off` as a boolean).
    pub fn set_s3_args(&mut self, s3: &super::args::S3Args) {
        self.s3_endpoint = s3.s3_endpoint.clone();
        self.s3_region = s3.s3_region.clone();
        self.s3_profile = s3.s3_profile.clone();
        self.s3_addressing = s3.s3_addressing.clone();
        self.s3_conditional_put = s3.s3_conditional_put.as_deref().map(|v| v == "on");
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The config file's path.
pub fn path() -> CliResult<PathBuf> {
    if let Some(p) = std::env::var_os("VAULT_CONFIG").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|p| !p.is_empty()) {
        let x = PathBuf::from(x);
        // The XDG spec: a relative value is invalid and ignored.
        if x.is_absolute() {
            return Ok(x.join("vault").join("config.toml"));
        }
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| {
            CliError::usage(
                "cannot find the config file: neither XDG_CONFIG_HOME nor HOME is set (or set VAULT_CONFIG=FILE)",
            )
        })?;
    Ok(PathBuf::from(home)
        .join(".config")
        .join("vault")
        .join("config.toml"))
}

/// Reads the config file; a missing file is an empty config.
pub fn load() -> CliResult<(PathBuf, Config)> {
    let path = path()?;
    let config = load_from(&path)?;
    Ok((path, config))
}

/// Reads `path`; a missing file is an empty config.
pub fn load_from(path: &Path) -> CliResult<Config> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(e) => {
            return Err(CliError::other(format!(
                "cannot read config file {}: {}",
                path.display(),
                storage_arg::io_text(&e)
            )));
        }
    };
    parse(path, &text)
}

/// Parses the text of `path`; errors name the file and the line.
pub fn parse(path: &Path, text: &str) -> CliResult<Config> {
    let config: Config = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let what = e.message().trim().replace('\n', " ");
        let at = match line {
            Some(l) => format!("{}:{l}", path.display()),
            None => path.display().to_string(),
        };
        CliError::new(Exit::Usage, format!("config file {at}: {what}"))
    })?;
    for (name, entry) in &config.vaults {
        let line = line_of_table(text, name);
        let at = match line {
            Some(l) => format!("{}:{l}", path.display()),
            None => path.display().to_string(),
        };
        let bad = |what: String| CliError::new(Exit::Usage, format!("config file {at}: {what}"));
        validate_name(name).map_err(|e| bad(e.message))?;
        match storage_arg::parse(&entry.storage) {
            Ok(StorageSpec::Named(_)) => {
                return Err(bad(format!(
                    "vault {name}: storage {:?} is a bare word; give a folder (./{}), or a URL",
                    entry.storage, entry.storage
                )));
            }
            Ok(_) => {}
            Err(e) => return Err(bad(format!("vault {name}: {}", e.message))),
        }
        if let Some(idle) = &entry.idle {
            super::args::parse_duration(idle)
                .map_err(|e| bad(format!("vault {name}: idle: {e}")))?;
        }
        if let Some(style) = &entry.s3_addressing
            && !matches!(style.as_str(), "path" | "virtual")
        {
            return Err(bad(format!(
                "vault {name}: s3_addressing must be \"path\" or \"virtual\", not {style:?}"
            )));
        }
        if let Some(endpoint) = &entry.s3_endpoint {
            url::Url::parse(endpoint)
                .map_err(|e| bad(format!("vault {name}: s3_endpoint {endpoint:?}: {e}")))?;
        }
        if let Some(mode) = &entry.symlinks {
            mode.parse::<vault_fs::ops::SymlinkPolicy>()
                .map_err(|e| bad(format!("vault {name}: {e}")))?;
        }
        if let Some(mode) = &entry.cache {
            super::cache::parse_mode(mode).map_err(|e| bad(format!("vault {name}: cache: {e}")))?;
        }
        if let Some(t) = &entry.dir_cache_time {
            super::args::parse_duration(t)
                .map_err(|e| bad(format!("vault {name}: dir_cache_time: {e}")))?;
        }
        if let Some(t) = &entry.cache_max_size {
            super::args::parse_size(t)
                .map_err(|e| bad(format!("vault {name}: cache_max_size: {e}")))?;
        }
    }
    Ok(config)
}

/// The line of `[vaults.NAME]` (for messages about a table that parsed).
fn line_of_table(text: &str, name: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim();
            l.starts_with('[')
                && l.trim_start_matches('[')
                    .trim_end_matches(']')
                    .replace(['"', '\'', ' '], "")
                    == format!("vaults.{name}")
        })
        .map(|i| i + 1)
}

/// Writes `config` to `path` atomically (temp + fsync + rename), folder 0700, file 0600.
pub fn save_to(path: &Path, config: &Config) -> CliResult {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let fail = |what: &str, e: &std::io::Error| {
        CliError::other(format!(
            "cannot write config file {}: {what}: {}",
            path.display(),
            storage_arg::io_text(e)
        ))
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| fail("creating its folder", &e))?;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    let text = toml::to_string_pretty(config)
        .map_err(|e| CliError::other(format!("cannot write config file: {e}")))?;
    let text = format!(
        "# Named vaults of `vault` (see `vault add --help`). Edited by `vault add` and `vault remove`.\n\n{text}"
    );
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config.toml".into());
    let tmp = dir.join(format!(".{file_name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| fail("creating a temporary file", &e))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| fail("writing", &e))?;
        std::fs::rename(&tmp, path).map_err(|e| fail("renaming the temporary file", &e))?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A vault name: 1-64 characters, ASCII letters, digits, `-`, `_`, `.`, starting with a letter
/// or digit (so it can never be read as a path or URL).
pub fn validate_name(name: &str) -> CliResult {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(CliError::usage(format!(
            "invalid vault name {name:?}: use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit"
        )))
    }
}

/// The error for a bare word that names no configured vault (docs/cli.md).
pub fn unknown_name(name: &str, file: &Path) -> CliError {
    CliError::usage(format!(
        "no vault named {name:?} in {}; for a folder in the current directory say ./{name}",
        file.display()
    ))
}

/// Looks up `name`.
pub fn lookup(name: &str) -> CliResult<VaultEntry> {
    let (file, config) = load()?;
    config
        .vaults
        .get(name)
        .cloned()
        .ok_or_else(|| unknown_name(name, &file))
}

/// If `storage` is a bare word, replaces it with the configured STORAGE and fills the connection
/// options the command line left unset. Returns the entry (None for a non-name STORAGE).
pub fn resolve(
    storage: &mut String,
    secrets: &mut super::args::SecretArgs,
) -> CliResult<Option<(String, VaultEntry)>> {
    let StorageSpec::Named(name) = storage_arg::parse(storage)? else {
        secrets.keyring.set_forget_as(storage);
        return Ok(None);
    };
    let entry = lookup(&name)?;
    secrets.keyring.set_forget_as(&name);
    apply_connect_options(&entry, secrets);
    *storage = entry.storage.clone();
    Ok(Some((name, entry)))
}

/// Options from the entry where the command line gave none (flags win).
pub fn apply_connect_options(entry: &VaultEntry, secrets: &mut super::args::SecretArgs) {
    if secrets.identity.is_none() {
        secrets.identity = entry.identity.clone();
    }
    if secrets.known_hosts.is_none() {
        secrets.known_hosts = entry.known_hosts.clone();
    }
    if secrets.ca_cert.is_none() {
        secrets.ca_cert = entry.ca_cert.clone();
    }
    if secrets.proxy_jump.is_none() {
        secrets.proxy_jump = entry.proxy_jump.clone();
    }
    secrets.accept_new_host_key |= entry.accept_new_host_key;
    secrets.insecure_http |= entry.insecure_http;
    let from_entry = entry.s3_args();
    let s3 = &mut secrets.s3;
    for (flag, kept) in [
        (&mut s3.s3_endpoint, from_entry.s3_endpoint),
        (&mut s3.s3_region, from_entry.s3_region),
        (&mut s3.s3_profile, from_entry.s3_profile),
        (&mut s3.s3_addressing, from_entry.s3_addressing),
        (&mut s3.s3_conditional_put, from_entry.s3_conditional_put),
    ] {
        if flag.is_none() {
            *flag = kept;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(storage: &str) -> VaultEntry {
        VaultEntry {
            storage: storage.into(),
            ..Default::default()
        }
    }

    #[test]
    fn round_trip_keeps_every_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.toml");
        let mut config = Config::default();
        config.vaults.insert(
            "work".into(),
            VaultEntry {
                storage: "sftp://me@nas:2222/~/Vault".into(),
                mountpoint: Some("/home/me/Work".into()),
                read_only: true,
                idle: Some("30m".into()),
                symlinks: Some("none".into()),
                identity: Some("/k/id".into()),
                known_hosts: Some("/k/kh".into()),
                ca_cert: Some("/k/ca.pem".into()),
                accept_new_host_key: true,
                proxy_jump: Some("me@bastion:2200".into()),
                insecure_http: true,
                auto_lock: Some(false),
                sidebar: Some(false),
                notify: Some(false),
                s3_endpoint: Some("https://minio.example:9000".into()),
                s3_region: Some("eu-central-1".into()),
                s3_profile: Some("work".into()),
                s3_addressing: Some("virtual".into()),
                s3_conditional_put: Some(false),
                cache: Some("full".into()),
                dir_cache_time: Some("5s".into()),
                cache_max_size: Some("2G".into()),
            },
        );
        config.vaults.insert("local".into(), entry("/srv/V"));
        save_to(&path, &config).unwrap();
        assert_eq!(load_from(&path).unwrap(), config);
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        // no temporary file left behind
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
        // a missing file is an empty config
        assert_eq!(
            load_from(&dir.path().join("none.toml")).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn bad_files_name_the_line() {
        let p = Path::new("/x/config.toml");
        let e = parse(p, "[vaults.a]\nstorage = \"/v\"\nread_only = \"yes\"\n").unwrap_err();
        assert_eq!(e.exit, Exit::Usage);
        assert!(
            e.message.starts_with("config file /x/config.toml:3: "),
            "{}",
            e.message
        );
        let e = parse(p, "[vaults.a]\nstorage = \"/v\"\n\nmountpont = \"/m\"\n").unwrap_err();
        assert!(
            e.message.starts_with("config file /x/config.toml:4: "),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("mountpont"),
            "names the unknown key: {}",
            e.message
        );
        let e = parse(p, "[vaults.a\nstorage = 1\n").unwrap_err();
        assert!(
            e.message.starts_with("config file /x/config.toml:1: "),
            "{}",
            e.message
        );
        let e = parse(p, "colour = 1\n").unwrap_err();
        assert!(
            e.message.contains(":1: ") && e.message.contains("colour"),
            "{}",
            e.message
        );
        let e = parse(p, "[vaults.a]\nmountpoint = \"/m\"\n").unwrap_err();
        assert!(e.message.contains("storage"), "{}", e.message);
        let e = parse(p, "\n[vaults.a]\nstorage = \"other\"\n").unwrap_err();
        assert!(
            e.message.starts_with("config file /x/config.toml:2: "),
            "{}",
            e.message
        );
        let e = parse(p, "[vaults.\"a/b\"]\nstorage = \"/v\"\n").unwrap_err();
        assert!(e.message.contains("invalid vault name"), "{}", e.message);
        let e = parse(p, "[vaults.a]\nstorage = \"/v\"\nidle = \"soon\"\n").unwrap_err();
        assert!(e.message.contains("idle"), "{}", e.message);
        let e = parse(p, "[vaults.a]\nstorage = \"/v\"\ncache = \"all\"\n").unwrap_err();
        assert!(e.message.contains("off, metadata or full"), "{}", e.message);
        let e = parse(
            p,
            "[vaults.a]\nstorage = \"/v\"\ncache_max_size = \"lots\"\n",
        )
        .unwrap_err();
        assert!(e.message.contains("cache_max_size"), "{}", e.message);
        let e = parse(p, "[vaults.a]\nstorage = \"/v\"\nsymlinks = \"some\"\n").unwrap_err();
        assert!(e.message.contains("symlinks=some"), "{}", e.message);
        let e = parse(
            p,
            "[vaults.a]\nstorage = \"s3://b-1/v\"\ns3_addressing = \"dns\"\n",
        )
        .unwrap_err();
        assert!(e.message.contains("s3_addressing"), "{}", e.message);
        let e = parse(
            p,
            "[vaults.a]\nstorage = \"s3://b-1/v\"\ns3_endpoint = \"minio\"\n",
        )
        .unwrap_err();
        assert!(e.message.contains("s3_endpoint"), "{}", e.message);
        assert_eq!(e.message.lines().count(), 1);
    }

    #[test]
    fn names() {
        for good in ["work", "Work2", "a", "nas.home", "my_vault-1"] {
            validate_name(good).unwrap();
            assert!(matches!(
                storage_arg::parse(good).unwrap(),
                StorageSpec::Named(_)
            ));
        }
        for bad in [
            "",
            ".v",
            "-v",
            "a/b",
            "a b",
            "~v",
            "sftp://x",
            &"x".repeat(65),
            "é",
        ] {
            assert_eq!(validate_name(bad).unwrap_err().exit, Exit::Usage, "{bad}");
        }
    }

    #[test]
    fn unknown_name_suggests_dot_slash() {
        let e = unknown_name("Work", Path::new("/c.toml"));
        assert_eq!(e.exit, Exit::Usage);
        assert!(e.message.contains("./Work"), "{}", e.message);
    }

    #[test]
    fn flags_win_over_the_entry() {
        let e = VaultEntry {
            identity: Some("/cfg/id".into()),
            known_hosts: Some("/cfg/kh".into()),
            proxy_jump: Some("cfg@bastion".into()),
            ..entry("sftp://h/x")
        };
        let mut s = super::super::args::SecretArgs {
            identity: Some("/flag/id".into()),
            ..Default::default()
        };
        apply_connect_options(&e, &mut s);
        assert_eq!(s.identity.as_deref(), Some(Path::new("/flag/id")));
        assert_eq!(s.known_hosts.as_deref(), Some(Path::new("/cfg/kh")));
        assert_eq!(s.proxy_jump.as_deref(), Some("cfg@bastion"));
        let mut s = super::super::args::SecretArgs {
            proxy_jump: Some("none".into()),
            ..Default::default()
        };
        apply_connect_options(&e, &mut s);
        assert_eq!(s.proxy_jump.as_deref(), Some("none"));

        let e = VaultEntry {
            s3_endpoint: Some("http://127.0.0.1:9000".into()),
            s3_region: Some("eu-west-1".into()),
            s3_profile: Some("work".into()),
            s3_conditional_put: Some(false),
            ..entry("s3://bucket/v")
        };
        let mut s = super::super::args::SecretArgs::default();
        s.s3.s3_region = Some("us-east-2".into());
        apply_connect_options(&e, &mut s);
        assert_eq!(s.s3.s3_endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(
            s.s3.s3_region.as_deref(),
            Some("us-east-2"),
            "the flag wins"
        );
        assert_eq!(s.s3.s3_profile.as_deref(), Some("work"));
        assert_eq!(s.s3.s3_conditional_put.as_deref(), Some("off"));
        assert_eq!(s.s3.s3_addressing, None);
    }
}
