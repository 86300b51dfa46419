//! Issue 11, acceptance 3: hostile vault contents, written as a key holder could (the format
//! crate encrypting names, IDs and content by hand): names `..`, `/etc/passwd`, an absolute
//! path, `a/b`, NUL; a directory-ID cycle; an alias; a folder node swapped for an authentic
//! symlink node pointing at a marker folder in /tmp. `get -r` writes nothing outside DEST and
//! nothing through a symlink in DEST, `ls -R` / `rm -r` stop with a clear error, `check` reports
//! each, and a real FUSE mount with the default `--symlinks` writes nothing into /tmp.

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cli_support::*;
use vault_engine::{NodeKind, OpenOptions, Vault};
use vault_format::Cryptor;
use vault_storage::LocalStorage;

/// The hostile vault: a fixture copy plus nodes written by hand.
struct Hostile {
    fx: FixtureCopy,
    /// Absolute path a name points at, in an existing empty folder that must stay empty.
    outside: PathBuf,
    /// Folder in /tmp the swapped symlink points at; must stay empty.
    marker: tempfile::TempDir,
}

/// Writes nodes into a local vault folder by hand.
struct Writer<'a> {
    root: &'a Path,
    c: &'a Cryptor,
}

impl Writer<'_> {
    fn content_dir(&self, id: &str) -> PathBuf {
        self.root.join(self.c.content_dir_path(id))
    }
    fn node(&self, parent: &str, name: &str) -> PathBuf {
        self.content_dir(parent)
            .join(self.c.encrypt_name_exact(name, parent))
    }
    fn file(&self, parent: &str, name: &str, data: &[u8]) {
        std::fs::write(self.node(parent, name), self.c.encrypt_file(data)).unwrap();
    }
    /// A directory node naming `id`; its content directory is made when missing.
    fn dir(&self, parent: &str, name: &str, id: &str) {
        let node = self.node(parent, name);
        std::fs::create_dir(&node).unwrap();
        std::fs::write(node.join("dir.c9r"), id).unwrap();
        let content = self.content_dir(id);
        if !content.exists() {
            std::fs::create_dir_all(&content).unwrap();
            std::fs::write(content.join("dirid.c9r"), self.c.encrypt_dir_id_backup(id)).unwrap();
        }
    }
}

fn dir_id(vault: &Vault, rt: &tokio::runtime::Runtime, path: &str) -> String {
    match rt.block_on(vault.resolve(path)).unwrap().kind {
        NodeKind::Dir(id) => id.as_str().to_owned(),
        other => panic!("{path} is {other:?}"),
    }
}

fn build() -> Hostile {
    let fx = copy_fixture("vault-v8");
    // The folder exists, so a client that takes the absolute name as is can write there.
    let outside = fx.tmp.path().join("outside-dest").join("passwd");
    std::fs::create_dir(outside.parent().unwrap()).unwrap();
    let marker = tempfile::Builder::new()
        .prefix("vault-hostile-marker-")
        .tempdir_in("/tmp")
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let storage = Arc::new(LocalStorage::new(&fx.vault).unwrap().with_fsync(false));
    let pw = std::fs::read_to_string(fx.pw()).unwrap();
    let pw = pw.trim_end();
    let vault = rt
        .block_on(Vault::unlock(storage.clone(), pw, OpenOptions::default()))
        .unwrap();
    let key = rt
        .block_on(Vault::unlock_master_key(storage.clone(), pw))
        .unwrap();
    let c = Cryptor::new(key, vault.info().cipher_combo);
    let root = vault.root();
    rt.block_on(async {
        for d in ["names", "cyc", "al", "docs", "links"] {
            vault.create_dir(&root, d).await.unwrap();
        }
        let names = vault.resolve("/names").await.unwrap();
        let NodeKind::Dir(names_id) = names.kind else {
            unreachable!()
        };
        vault.create_dir(&names_id, "sub").await.unwrap();
        let sub = vault.lookup(&names_id, "sub").await.unwrap();
        let NodeKind::Dir(sub_id) = sub.kind else {
            unreachable!()
        };
        vault.create_file(&sub_id, "inner.txt").await.unwrap();
        vault.create_file(&names_id, "ok.txt").await.unwrap();
        vault
            .create_file(&names_id, "evil\n\x1b[31mred\\")
            .await
            .unwrap();
        let al = vault.resolve("/al").await.unwrap();
        let NodeKind::Dir(al_id) = al.kind else {
            unreachable!()
        };
        vault.create_dir(&al_id, "real").await.unwrap();
        let cyc = vault.resolve("/cyc").await.unwrap();
        let NodeKind::Dir(cyc_id) = cyc.kind else {
            unreachable!()
        };
        vault.create_file(&cyc_id, "keep.txt").await.unwrap();
        let links = vault.resolve("/links").await.unwrap();
        let NodeKind::Dir(links_id) = links.kind else {
            unreachable!()
        };
        vault
            .create_symlink(&links_id, "tmp", marker.path().to_str().unwrap())
            .await
            .unwrap();
        vault.flush_all().await.unwrap();
    });
    let w = Writer {
        root: &fx.vault,
        c: &c,
    };
    let names = dir_id(&vault, &rt, "/names");
    for bad in ["..", "a/b", "x\0y", outside.to_str().unwrap()] {
        w.file(&names, bad, b"hostile");
    }
    // An empty folder named /etc/passwd: harmless even to a client that would follow it.
    w.dir(&names, "/etc/passwd", "00000000-hostile-empty-dir");
    let real = dir_id(&vault, &rt, "/al/real");
    w.file(&real, "only-once.txt", b"data");
    w.dir(&dir_id(&vault, &rt, "/al"), "twin", &real);
    let cyc = dir_id(&vault, &rt, "/cyc");
    w.dir(&cyc, "loop", &cyc);
    // Swap /docs's folder node for the authentic symlink node of /links/tmp.
    let docs = w.node("", "docs");
    std::fs::remove_file(docs.join("dir.c9r")).unwrap();
    std::fs::copy(
        w.node(&dir_id(&vault, &rt, "/links"), "tmp")
            .join("symlink.c9r"),
        docs.join("symlink.c9r"),
    )
    .unwrap();
    Hostile {
        fx,
        outside,
        marker,
    }
}

fn is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().next().is_none()
}

impl Hostile {
    fn vault(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--password-file", self.fx.pw()]);
        run_cmd(&mut vault_cmd(60, &all))
    }
    fn v(&self) -> &str {
        self.fx.vault_str()
    }
    fn nothing_escaped(&self) {
        assert!(
            is_empty(self.outside.parent().unwrap()),
            "written outside DEST"
        );
        assert!(is_empty(self.marker.path()), "written into the /tmp marker");
    }
}

#[test]
fn get_r_writes_only_inside_dest_and_never_through_a_symlink() {
    let h = build();
    let dest = h.fx.tmp.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    // DEST already holds names/sub as a symlink to the marker: never written through.
    std::fs::create_dir(dest.join("names")).unwrap();
    std::os::unix::fs::symlink(h.marker.path(), dest.join("names/sub")).unwrap();
    let r = h.vault(&["get", "-r", h.v(), "/names", dest.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    for reason in [
        "decrypted name is . or ..",
        "decrypted name contains /",
        "decrypted name contains NUL",
        "decrypted name is an absolute path",
        "not a directory (a symlink is not followed)",
    ] {
        assert!(r.stderr.contains(reason), "{reason}: {}", r.stderr);
    }
    assert!(r.stderr.contains("ciphertext node d/"), "{}", r.stderr);
    h.nothing_escaped();
    assert!(dest.join("names/ok.txt").is_file());
    assert!(dest.join("names/evil\n\x1b[31mred\\").is_file());
    let mut got: Vec<String> = std::fs::read_dir(dest.join("names"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    got.sort();
    assert_eq!(
        got,
        ["evil\n\x1b[31mred\\", "ok.txt", "sub"],
        "no temp file left"
    );

    // A cycle and an alias stop the copy before anything is written.
    for (path, what) in [
        ("/cyc", "directory ID cycle"),
        ("/al", "directory ID alias"),
    ] {
        let d = h.fx.tmp.path().join(format!("dest{}", &path[1..]));
        std::fs::create_dir(&d).unwrap();
        let line = h
            .vault(&["get", "-r", h.v(), path, d.to_str().unwrap()])
            .fails(1);
        assert!(
            line.contains(what) && line.contains("ciphertext node"),
            "{line}"
        );
        assert!(is_empty(&d), "{path}: nothing written");
    }
    // The swapped folder comes out as a symlink; nothing is written through it.
    let d = h.fx.tmp.path().join("destdocs");
    h.vault(&["get", "-r", h.v(), "/docs", d.to_str().unwrap()])
        .ok();
    assert!(std::fs::symlink_metadata(&d).unwrap().is_symlink());
    h.nothing_escaped();
}

#[test]
fn ls_escapes_names_and_stops_at_cycles_rm_r_removes_nothing() {
    let h = build();
    let r = h.vault(&["ls", h.v(), "/names"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let out = r.stdout_str();
    eprintln!("{out}{}", r.stderr);
    assert!(out.contains("evil\\n\\x1b[31mred\\\\\n"), "{out:?}");
    assert!(!out.contains('\u{1b}'), "{out:?}");
    assert!(
        out.contains("ok.txt\n") && out.contains("sub/\n"),
        "{out:?}"
    );
    assert_eq!(out.lines().count(), 3, "{out:?}");
    assert_eq!(r.stderr.matches("(refused)").count(), 5, "{}", r.stderr);
    let raw = h.vault(&["ls", "-0", h.v(), "/names"]);
    assert_eq!(raw.code, 1);
    assert_eq!(
        raw.stdout,
        b"evil\n\x1b[31mred\\\0ok.txt\0sub/\0".to_vec(),
        "ls -0: raw names, NUL-terminated"
    );

    for (path, what) in [
        ("/cyc", "directory ID cycle"),
        ("/al", "directory ID alias"),
    ] {
        let r = h.vault(&["ls", "-R", h.v(), path]);
        eprintln!("{}{}", r.stdout_str(), r.stderr);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stderr.contains(what), "{path}: {}", r.stderr);
        assert!(r.stdout.len() < 200, "{path}: stopped: {}", r.stdout_str());
        let line = h.vault(&["rm", "-r", h.v(), path]).fails(1);
        assert!(line.contains(what), "{line}");
    }
    // rm -r of a folder holding refused names stops too.
    let line = h.vault(&["rm", "-r", h.v(), "/names"]).fails(1);
    assert!(line.contains("(refused)"), "{line}");
    // Nothing was removed.
    let all = h.vault(&["ls", h.v(), "/cyc"]).ok();
    assert!(all.contains("keep.txt"), "{all}");
    assert!(
        h.vault(&["ls", h.v(), "/al/real"])
            .ok()
            .contains("only-once.txt")
    );
    assert!(
        h.vault(&["ls", h.v(), "/names/sub"])
            .ok()
            .contains("inner.txt")
    );
}

#[test]
fn check_reports_each_hostile_node() {
    let h = build();
    let r = h.vault(&["check", h.v()]);
    assert_eq!(r.code, 6, "{}", r.stderr);
    let out = r.stdout_str();
    eprintln!("{out}{}", r.stderr);
    let count = |s: &str| out.lines().filter(|l| l.contains(s)).count();
    assert_eq!(count("decrypted name is . or .."), 1, "{out}");
    assert_eq!(count("decrypted name contains /"), 1, "{out}");
    assert_eq!(count("decrypted name contains NUL"), 1, "{out}");
    assert_eq!(count("decrypted name is an absolute path"), 2, "{out}");
    assert_eq!(
        count("directory ID cycle: same ID as its ancestor /cyc"),
        1,
        "{out}"
    );
    assert_eq!(
        count("directory ID collision: same ID as /al/real"),
        1,
        "{out}"
    );
    // The swapped folder left its content directory behind: that is what check can see.
    assert!(count("orphaned") >= 1, "{out}");
    assert!(!out.contains('\u{1b}') && !out.contains('\0'), "{out:?}");
}

#[test]
fn mount_hides_bad_names_and_never_follows_a_link_out() {
    let h = build();
    let mnt = h.fx.tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let guard = MountGuard::lazy(mnt.clone());
    let log = h.fx.tmp.path().join("mount.log");
    let log_arg = log.to_str().unwrap();
    h.vault(&["mount", h.v(), mnt.to_str().unwrap(), "--log-file", log_arg])
        .ok();
    guard.wait_mounted(Duration::from_secs(20));

    let mut names: Vec<String> = std::fs::read_dir(mnt.join("names"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["evil\n\x1b[31mred\\", "ok.txt", "sub"]);

    // /docs is listed as a symlink, but the kernel may not follow it out of the vault.
    assert!(
        std::fs::symlink_metadata(mnt.join("docs"))
            .unwrap()
            .is_symlink()
    );
    let e = std::fs::read_link(mnt.join("docs")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(13), "EACCES: {e}");
    assert!(std::fs::write(mnt.join("docs/planted"), b"x").is_err());
    assert!(std::fs::create_dir(mnt.join("links/tmp/planted-dir")).is_err());
    // A relative link that stays inside still works.
    std::os::unix::fs::symlink("../names/ok.txt", mnt.join("links/ok")).unwrap();
    assert_eq!(std::fs::read(mnt.join("links/ok")).unwrap(), b"");
    guard.unmount();
    h.nothing_escaped();
    // The log names the refused link and the skipped entries by ciphertext path only.
    let log = std::fs::read_to_string(&log).unwrap();
    let refused = log
        .lines()
        .filter(|l| l.contains("readlink refused") && l.contains("ciphertext=d/"))
        .count();
    assert!(refused >= 1, "{log}");
    assert!(log.matches("entry skipped").count() >= 5, "{log}");
    assert!(!log.contains("passwd") && !log.contains("evil"), "{log}");

    // -o symlinks=none: no readlink at all, not even inside.
    h.vault(&["mount", h.v(), mnt.to_str().unwrap(), "-o", "symlinks=none"])
        .ok();
    guard.wait_mounted(Duration::from_secs(20));
    let e = std::fs::read_link(mnt.join("links/ok")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(13), "EACCES: {e}");
    guard.unmount();

    // --symlinks=all is the old behaviour: the same write lands in /tmp (the setup has teeth).
    h.vault(&["mount", h.v(), mnt.to_str().unwrap(), "--symlinks=all"])
        .ok();
    guard.wait_mounted(Duration::from_secs(20));
    assert_eq!(
        std::fs::read_link(mnt.join("docs")).unwrap(),
        h.marker.path()
    );
    std::fs::write(mnt.join("docs/planted"), b"x").unwrap();
    guard.unmount();
    assert!(h.marker.path().join("planted").exists());
}

#[test]
fn get_removes_its_temp_file_on_every_error_path() {
    let h = build();
    let dest = h.fx.tmp.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    // A 200 KiB file: several chunks, so errors come part way through.
    let big = h.fx.tmp.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 200 * 1024]).unwrap();
    h.vault(&["put", h.v(), big.to_str().unwrap(), "/big.bin"])
        .ok();
    let path = "/big.bin".to_owned();

    // A local write error (file size limit, EFBIG) part way through.
    let script = "ulimit -f 2; trap '' XFSZ; exec \"$0\" \"$@\"";
    let r = run_cmd(
        std::process::Command::new("sh")
            .args(["-c", script, bin(), "get", h.v(), &path])
            .arg(&dest)
            .args(["--password-file", h.fx.pw()])
            .env_remove("VAULT_ASKPASS")
            .stdin(std::process::Stdio::null()),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("cannot write"), "{}", r.stderr);
    assert!(is_empty(&dest), "temp file left after a write error");

    // A vault read error (a chunk fails authentication) part way through.
    // The largest ciphertext object is big.bin's content.
    let (_, node) = std::fs::read_dir(h.fx.vault.join("d"))
        .unwrap()
        .flat_map(|a| std::fs::read_dir(a.unwrap().path()).unwrap())
        .flat_map(|b| std::fs::read_dir(b.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (std::fs::metadata(&p).unwrap().len(), p))
        .max()
        .unwrap();
    let mut bytes = std::fs::read(&node).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&node, bytes).unwrap();
    let r = h.vault(&["get", h.v(), &path, dest.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("corrupted"), "{}", r.stderr);
    assert!(is_empty(&dest), "temp file left after a read error");
}
