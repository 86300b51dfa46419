#![allow(clippy::unwrap_used)]

use super::*;

fn places(dir: &Path) -> Places {
    Places {
        gtk: dir.join("config/gtk-3.0/bookmarks"),
        xbel: dir.join("data/user-places.xbel"),
        state_dir: dir.join("state/vault"),
    }
}

#[test]
fn gio_lists_media_run_media_and_home_but_not_dot_folders() {
    let home = Some(Path::new("/home/me"));
    let shows = |p: &str, root| gio_shows(Path::new(p), home, "me", root);
    assert!(shows("/media/usb/Vault", false));
    assert!(shows("/run/media/me/Vault", false));
    assert!(!shows("/run/media/other/Vault", false));
    assert!(shows("/run/media/other/Vault", true));
    assert!(shows("/home/me/Vaults/Work", false));
    assert!(!shows("/home/me/.local/share/vault/Work", false));
    assert!(!shows("/home/meta/Vault", false));
    assert!(!shows("/run/user/1000/vault/Work", false));
    assert!(!shows("/mnt/work", false));
}

#[test]
fn uris_are_percent_encoded() {
    let uri = file_uri(Path::new("/tmp/My Vault/Tresor-Größe")).unwrap();
    assert_eq!(uri, "file:///tmp/My%20Vault/Tresor-Gr%C3%B6%C3%9Fe");
    assert_eq!(
        uri_path(&uri).unwrap(),
        Path::new("/tmp/My Vault/Tresor-Größe")
    );
}

#[test]
fn labels_are_the_last_part_of_storage() {
    assert_eq!(label_of("work"), "work");
    assert_eq!(label_of("/srv/vaults/Work/"), "Work");
    assert_eq!(label_of("sftp://me@nas/~/Private"), "Private");
}

#[test]
fn gtk_lines_are_added_and_only_ours_removed() {
    let text = "file:///home/me/Documents\nfile:///mnt/x Mine";
    let line = gtk_line("file:///mnt/x", "Work\nbad");
    assert_eq!(line, "file:///mnt/x Workbad");
    let added = gtk_add(text, &line);
    assert_eq!(
        added,
        "file:///home/me/Documents\nfile:///mnt/x Mine\nfile:///mnt/x Workbad\n"
    );
    assert_eq!(
        gtk_remove(&added, &line).unwrap(),
        "file:///home/me/Documents\nfile:///mnt/x Mine\n"
    );
    assert!(gtk_remove(text, &line).is_none());
    assert!(gtk_has(text, Path::new("/mnt/x")));
}

#[test]
fn xbel_bookmarks_are_added_and_only_ours_removed() {
    let user = "<?xml version=\"1.0\"?>\n<xbel xmlns:bookmark=\"x\">\n <bookmark href=\"file:///home/me\">\n  <title>Home</title>\n  <info><metadata owner=\"http://freedesktop.org\"><bookmark:icon name=\"user-home\"/></metadata></info>\n </bookmark>\n</xbel>\n";
    let added = xbel_add(user, "file:///a&b", "R&D <x>", "vault-1-2").unwrap();
    assert!(added.contains("href=\"file:///a&amp;b\""), "{added}");
    assert!(
        added.contains("<title>R&amp;D &lt;x&gt;</title>"),
        "{added}"
    );
    assert!(xbel_has(&added, Path::new("/a&b")));
    assert!(xbel_has(&added, Path::new("/home/me")));
    assert_eq!(xbel_remove(&added, "vault-1-2").unwrap(), user);
    assert!(xbel_remove(user, "vault-1-2").is_none());
    assert!(xbel_add("not xml", "file:///a", "a", "i").is_none());
}

#[test]
fn a_second_mount_leaves_one_entry_and_hand_made_entries_stay() {
    let tmp = tempfile::tempdir().unwrap();
    let p = places(tmp.path());
    let mp = Path::new("/run/user/1/vault/Sö Vault");
    let hand = "file:///run/user/1/vault/Other Hand made\n";
    std::fs::create_dir_all(p.gtk.parent().unwrap()).unwrap();
    std::fs::write(&p.gtk, hand).unwrap();
    let me = std::process::id();
    add_in(&p, mp, "Sö Vault", me, true).unwrap();
    add_in(&p, mp, "Sö Vault", me, true).unwrap();
    let gtk = std::fs::read_to_string(&p.gtk).unwrap();
    assert_eq!(
        gtk,
        format!("{hand}file:///run/user/1/vault/S%C3%B6%20Vault Sö Vault\n")
    );
    let xbel = std::fs::read_to_string(&p.xbel).unwrap();
    assert_eq!(xbel.matches("<bookmark ").count(), 1, "{xbel}");
    remove_in(&p, mp).unwrap();
    assert_eq!(std::fs::read_to_string(&p.gtk).unwrap(), hand);
    assert_eq!(std::fs::read_to_string(&p.xbel).unwrap(), XBEL_NEW);
    assert!(!records_path(&p).exists());
}

#[test]
fn a_folder_the_user_bookmarked_is_never_touched() {
    let tmp = tempfile::tempdir().unwrap();
    let p = places(tmp.path());
    let hand = "file:///mnt/work%20x My work\n";
    std::fs::create_dir_all(p.gtk.parent().unwrap()).unwrap();
    std::fs::write(&p.gtk, hand).unwrap();
    add_in(&p, Path::new("/mnt/work x"), "x", std::process::id(), true).unwrap();
    assert_eq!(std::fs::read_to_string(&p.gtk).unwrap(), hand);
    remove_in(&p, Path::new("/mnt/work x")).unwrap();
    assert_eq!(std::fs::read_to_string(&p.gtk).unwrap(), hand);
}

#[test]
fn entries_of_a_dead_process_are_swept_and_live_ones_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let p = places(tmp.path());
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    add_in(&p, Path::new("/mnt/dead"), "dead", dead, true).unwrap();
    add_in(&p, Path::new("/mnt/live"), "live", std::process::id(), true).unwrap();
    sweep_in(&p).unwrap();
    let gtk = std::fs::read_to_string(&p.gtk).unwrap();
    assert_eq!(gtk, "file:///mnt/live live\n");
    assert!(
        !std::fs::read_to_string(&p.xbel)
            .unwrap()
            .contains("/mnt/dead")
    );
}

#[test]
fn a_zombie_is_not_alive() {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    // Exited but not reaped yet: still in /proc, state Z.
    let t = std::time::Instant::now();
    while start_time(pid).is_some() && t.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(start_time(pid), None);
    child.wait().unwrap();
    assert!(start_time(std::process::id()).is_some());
}
