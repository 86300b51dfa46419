//! The file manager's sidebar: a mounted vault is listed under its name while it is mounted.
//!
//! Two places files, both plain user files the file managers re-read when they change:
//! - GTK bookmarks, `$XDG_CONFIG_HOME/gtk-3.0/bookmarks` (Nautilus, Nemo, Thunar, Caja, the GTK
//!   file chooser): one `URI[ LABEL]` per line;
//! - KDE places, `$XDG_DATA_HOME/user-places.xbel` (Dolphin, the KDE file dialogs): XBEL.
//!
//! Every entry we add is recorded in `$XDG_STATE_HOME/vault/sidebar.toml` (with the pid and
//! start time of the process serving the mount), so we only ever remove our own entries: a
//! bookmark the user made for the same folder is left alone (and none is added next to it).
//! Entries of a process that is gone (a killed daemon) are swept by the next `mount`,
//! `unmount`, `status` or `list`. All edits happen under an `flock` of `sidebar.lock` and
//! rewrite the files atomically (temporary file + rename).
//!
//! GIO (Nautilus, Nemo, Thunar) already lists a FUSE mount of a type it does not know as
//! system-internal by itself when its mountpoint is under `/media/`, `/run/media/$USER/` (any
//! user's when root) or the home folder, and not inside a dot folder
//! (`g_unix_mount_guess_should_display`). There the GTK bookmark is skipped, so the vault is not
//! listed twice. KDE's Solid lists FUSE mounts only for the network file system types it knows,
//! so the Dolphin entry is always added.
//!
//! Only in a desktop session (`DISPLAY`, `WAYLAND_DISPLAY` or `XDG_CURRENT_DESKTOP` set): a
//! server's mounts leave the user's files alone. Failures are logged, never fatal.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where the files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Places {
    /// GTK bookmarks file.
    pub gtk: PathBuf,
    /// KDE places file.
    pub xbel: PathBuf,
    /// Our own records, and the lock.
    pub state_dir: PathBuf,
}

fn xdg_dir(var: &str, home: Option<&Path>, fallback: &str) -> Option<PathBuf> {
    match std::env::var_os(var).map(PathBuf::from) {
        // The XDG spec: a relative value is invalid and ignored.
        Some(p) if p.is_absolute() => Some(p),
        _ => home.map(|h| h.join(fallback)),
    }
}

impl Places {
    /// From `$XDG_CONFIG_HOME`, `$XDG_DATA_HOME`, `$XDG_STATE_HOME` and `$HOME`.
    pub fn from_env() -> Option<Places> {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        let home = home.as_deref();
        Some(Places {
            gtk: xdg_dir("XDG_CONFIG_HOME", home, ".config")?
                .join("gtk-3.0")
                .join("bookmarks"),
            xbel: xdg_dir("XDG_DATA_HOME", home, ".local/share")?.join("user-places.xbel"),
            state_dir: xdg_dir("XDG_STATE_HOME", home, ".local/state")?.join("vault"),
        })
    }
}

/// True in a graphical session, where a sidebar is there to show the entry.
pub fn on_desktop() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY", "XDG_CURRENT_DESKTOP"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// Whether GIO lists a mount at `mountpoint` by itself (see the module comment).
pub fn gio_shows(mountpoint: &Path, home: Option<&Path>, user: &str, root: bool) -> bool {
    let Some(mp) = mountpoint.to_str() else {
        return false;
    };
    if mp.contains("/.") {
        return false;
    }
    if mp.starts_with("/media/") {
        return true;
    }
    if let Some(rest) = mp.strip_prefix("/run/media/") {
        if root {
            return true;
        }
        if !user.is_empty() && rest.strip_prefix(user).is_some_and(|r| r.starts_with('/')) {
            return true;
        }
    }
    match home.and_then(Path::to_str) {
        Some(h) if !h.is_empty() && h != "/" => mp
            .strip_prefix(h.trim_end_matches('/'))
            .is_some_and(|r| r.starts_with('/')),
        _ => false,
    }
}

/// The `file://` URI of a folder (percent-encoded: spaces, non-ASCII, `%`, …).
pub fn file_uri(path: &Path) -> Option<String> {
    url::Url::from_file_path(path).ok().map(String::from)
}

/// The folder a `file://` URI names, if it is one.
fn uri_path(uri: &str) -> Option<PathBuf> {
    url::Url::parse(uri).ok()?.to_file_path().ok()
}

/// One entry we made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    mountpoint: PathBuf,
    uri: String,
    /// The process serving the mount, and its start time (`/proc/PID/stat` field 22), so a
    /// reused pid does not keep a dead mount's entry.
    pid: u32,
    start_time: u64,
    /// The exact line added to the GTK bookmarks, if one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gtk_line: Option<String>,
    /// The `<ID>` of the bookmark added to the KDE places, if one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    xbel_id: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Records {
    #[serde(default)]
    entry: Vec<Record>,
}

/// `/proc/PID/stat` field 22 (start time in clock ticks), if the process runs (a zombie, whose
/// parent has not reaped it yet, does not).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces and ')'.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    if matches!(fields.next(), Some("Z" | "X" | "x")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

fn alive(r: &Record) -> bool {
    start_time(r.pid) == Some(r.start_time)
}

// ------------------------------------------------------------------ GTK bookmarks

/// Whether a bookmarks text has a line for `mountpoint` (however its URI is spelled).
fn gtk_has(text: &str, mountpoint: &Path) -> bool {
    text.lines().any(|l| {
        l.split(' ')
            .next()
            .and_then(uri_path)
            .is_some_and(|p| p == mountpoint)
    })
}

/// The line we add: `URI LABEL` (a label holds no newline).
fn gtk_line(uri: &str, label: &str) -> String {
    let label: String = label.chars().filter(|c| !c.is_control()).collect();
    if label.is_empty() {
        uri.to_string()
    } else {
        format!("{uri} {label}")
    }
}

fn gtk_add(text: &str, line: &str) -> String {
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(line);
    out.push('\n');
    out
}

/// `text` without the first line equal to `line`; `None` if there is none.
fn gtk_remove(text: &str, line: &str) -> Option<String> {
    let mut found = false;
    let mut out = String::with_capacity(text.len());
    for l in text.split_inclusive('\n') {
        if !found && l.trim_end_matches('\n') == line {
            found = true;
            continue;
        }
        out.push_str(l);
    }
    found.then_some(out)
}

// ------------------------------------------------------------------ KDE places (XBEL)

const XBEL_NEW: &str =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE xbel>\n<xbel>\n</xbel>\n";

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn xml_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `(start, end)` byte ranges of every `<bookmark …>…</bookmark>` element.
fn xbel_bookmarks(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("<bookmark") {
        let start = from + i;
        let after = text[start + "<bookmark".len()..].chars().next();
        // `<bookmark:icon …>` is another element.
        if !matches!(after, Some(c) if c.is_whitespace() || c == '>' || c == '/') {
            from = start + 1;
            continue;
        }
        let Some(j) = text[start..].find("</bookmark>") else {
            break;
        };
        let end = start + j + "</bookmark>".len();
        out.push((start, end));
        from = end;
    }
    out
}

/// The `href` of a bookmark element (its start tag only).
fn xbel_href(element: &str) -> Option<String> {
    let tag = &element[..element.find('>')?];
    let i = tag.find("href=")?;
    let rest = &tag[i + "href=".len()..];
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    Some(xml_unescape(&value[..value.find(quote)?]))
}

fn xbel_has(text: &str, mountpoint: &Path) -> bool {
    xbel_bookmarks(text).into_iter().any(|(s, e)| {
        xbel_href(&text[s..e])
            .and_then(|h| uri_path(&h))
            .is_some_and(|p| p == mountpoint)
    })
}

/// `text` with our bookmark added before `</xbel>`; `None` if it is not an XBEL file.
fn xbel_add(text: &str, uri: &str, label: &str, id: &str) -> Option<String> {
    let close = text.rfind("</xbel>")?;
    let block = format!(
        " <bookmark href=\"{}\">\n  <title>{}</title>\n  <info>\n   <metadata owner=\"http://www.kde.org\">\n    <ID>{}</ID>\n    <isSystemItem>false</isSystemItem>\n   </metadata>\n  </info>\n </bookmark>\n",
        xml_escape(uri),
        xml_escape(label),
        xml_escape(id)
    );
    let mut out = String::with_capacity(text.len() + block.len());
    out.push_str(&text[..close]);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&block);
    out.push_str(&text[close..]);
    Some(out)
}

/// `text` without the bookmark holding `<ID>id</ID>` (and its line's indentation and newline).
fn xbel_remove(text: &str, id: &str) -> Option<String> {
    let marker = format!("<ID>{}</ID>", xml_escape(id));
    let (s, e) = xbel_bookmarks(text)
        .into_iter()
        .find(|(s, e)| text[*s..*e].contains(&marker))?;
    let line_start = text[..s].rfind('\n').map_or(0, |i| i + 1);
    let start = if text[line_start..s].trim().is_empty() {
        line_start
    } else {
        s
    };
    let end = if text[e..].starts_with('\n') {
        e + 1
    } else {
        e
    };
    Some(format!("{}{}", &text[..start], &text[end..]))
}

// ------------------------------------------------------------------ files

fn read_opt(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Replaces `path` with `text` atomically (temporary file in the same folder, fsync, rename),
/// keeping the old file's mode; a symlinked file is replaced at its target.
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir)?;
    let mode = std::fs::metadata(&path).map_or(0o600, |m| m.permissions().mode() & 0o7777);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.vault-tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Holds the `flock` of `sidebar.lock` while the files are edited.
struct Locked {
    _file: std::fs::File,
}

fn lock(places: &Places) -> std::io::Result<Locked> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&places.state_dir)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(places.state_dir.join("sidebar.lock"))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
    Ok(Locked { _file: file })
}

fn records_path(places: &Places) -> PathBuf {
    places.state_dir.join("sidebar.toml")
}

fn load(places: &Places) -> Records {
    let path = records_path(places);
    match read_opt(&path) {
        Ok(Some(text)) => toml::from_str(&text).unwrap_or_else(|e| {
            tracing::warn!("sidebar: ignoring unreadable {}: {e}", path.display());
            Records::default()
        }),
        Ok(None) => Records::default(),
        Err(e) => {
            tracing::warn!("sidebar: cannot read {}: {e}", path.display());
            Records::default()
        }
    }
}

fn save(places: &Places, records: &Records) -> std::io::Result<()> {
    let path = records_path(places);
    if records.entry.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    let text = toml::to_string(records).map_err(std::io::Error::other)?;
    write_atomic(&path, &text)
}

/// Edits one places file with `f` (which returns `None` to leave it as it is).
fn edit(path: &Path, f: impl FnOnce(Option<&str>) -> Option<String>) -> std::io::Result<bool> {
    let old = read_opt(path)?;
    match f(old.as_deref()) {
        Some(new) => write_atomic(path, &new).map(|()| true),
        None => Ok(false),
    }
}

/// Takes our entries of `r` out of the places files.
fn undo(places: &Places, r: &Record) {
    if let Some(line) = &r.gtk_line
        && let Err(e) = edit(&places.gtk, |t| gtk_remove(t?, line))
    {
        tracing::warn!("sidebar: cannot edit {}: {e}", places.gtk.display());
    }
    if let Some(id) = &r.xbel_id
        && let Err(e) = edit(&places.xbel, |t| xbel_remove(t?, id))
    {
        tracing::warn!("sidebar: cannot edit {}: {e}", places.xbel.display());
    }
}

/// Adds the entries of a new mount and records them; `pid` serves the mount.
fn add_in(
    places: &Places,
    mountpoint: &Path,
    label: &str,
    pid: u32,
    gtk_too: bool,
) -> std::io::Result<()> {
    let Some(uri) = file_uri(mountpoint) else {
        return Ok(());
    };
    let _lock = lock(places)?;
    let mut records = load(places);
    // A record for this folder (an earlier mount): one entry, not two.
    for old in records.entry.iter().filter(|r| r.mountpoint == mountpoint) {
        undo(places, old);
    }
    records.entry.retain(|r| r.mountpoint != mountpoint);
    let mut record = Record {
        mountpoint: mountpoint.to_path_buf(),
        uri: uri.clone(),
        pid,
        start_time: start_time(pid).unwrap_or(0),
        gtk_line: None,
        xbel_id: None,
    };
    if gtk_too {
        let line = gtk_line(&uri, label);
        if edit(&places.gtk, |t| {
            let t = t.unwrap_or("");
            (!gtk_has(t, mountpoint)).then(|| gtk_add(t, &line))
        })? {
            record.gtk_line = Some(line);
        }
    }
    let id = format!("vault-{pid}-{}", record.start_time);
    if edit(&places.xbel, |t| match t {
        Some(t) if xbel_has(t, mountpoint) => None,
        Some(t) => xbel_add(t, &uri, label, &id),
        None => xbel_add(XBEL_NEW, &uri, label, &id),
    })? {
        record.xbel_id = Some(id);
    }
    if record.gtk_line.is_some() || record.xbel_id.is_some() {
        records.entry.push(record);
    }
    save(places, &records)
}

/// Removes our entries for `mountpoint` (none recorded: nothing happens).
fn remove_in(places: &Places, mountpoint: &Path) -> std::io::Result<()> {
    if !records_path(places).exists() {
        return Ok(());
    }
    let _lock = lock(places)?;
    let mut records = load(places);
    let before = records.entry.len();
    for r in records.entry.iter().filter(|r| r.mountpoint == mountpoint) {
        undo(places, r);
    }
    records.entry.retain(|r| r.mountpoint != mountpoint);
    if records.entry.len() == before {
        return Ok(());
    }
    save(places, &records)
}

/// Removes the entries whose serving process is gone.
fn sweep_in(places: &Places) -> std::io::Result<()> {
    if !records_path(places).exists() {
        return Ok(());
    }
    let _lock = lock(places)?;
    let mut records = load(places);
    let (live, dead): (Vec<Record>, Vec<Record>) = records.entry.drain(..).partition(alive);
    if dead.is_empty() {
        records.entry = live;
        return Ok(());
    }
    for r in &dead {
        tracing::info!(
            "sidebar: removing the entry of {} (its mount daemon is gone)",
            r.mountpoint.display()
        );
        undo(places, r);
    }
    records.entry = live;
    save(places, &records)
}

// ------------------------------------------------------------------ the hooks

/// The label of a vault: a named vault's NAME, else the last part of its STORAGE.
pub fn label_of(storage: &str) -> String {
    let s = storage.trim_end_matches('/');
    let last = s.rsplit('/').next().unwrap_or(s);
    if last.is_empty() || last.ends_with(':') {
        storage.to_string()
    } else {
        last.to_string()
    }
}

/// The mount at `mountpoint` is up (served by this process): list it in the sidebars.
pub fn mounted(mountpoint: &Path, label: &str) {
    if !on_desktop() {
        return;
    }
    let Some(places) = Places::from_env() else {
        return;
    };
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let user = std::env::var("USER").unwrap_or_default();
    let root = rustix::process::getuid().is_root();
    let gtk_too = !gio_shows(mountpoint, home.as_deref(), &user, root);
    if !gtk_too {
        tracing::info!(
            "sidebar: GIO lists {} by itself; no GTK bookmark",
            mountpoint.display()
        );
    }
    if let Err(e) = add_in(&places, mountpoint, label, std::process::id(), gtk_too) {
        tracing::warn!("sidebar: cannot add {}: {e}", mountpoint.display());
    }
}

/// The mount at `mountpoint` has ended: take our entries out.
pub fn unmounted(mountpoint: &Path) {
    let Some(places) = Places::from_env() else {
        return;
    };
    if let Err(e) = remove_in(&places, mountpoint) {
        tracing::warn!("sidebar: cannot remove {}: {e}", mountpoint.display());
    }
}

/// Takes out the entries of mount daemons that are gone (`mount`, `unmount`, `status`, `list`).
pub fn sweep() {
    let Some(places) = Places::from_env() else {
        return;
    };
    if let Err(e) = sweep_in(&places) {
        tracing::warn!("sidebar: cannot clean up: {e}");
    }
}

#[cfg(test)]
#[path = "sidebar_tests.rs"]
mod tests;
