//! Acceptance 3: real workloads on the mount: tar x / tar c with identical
//! bytes, git init/add/commit/fsck, sqlite3 with 10,000 rows + integrity check.
//! VAULT_TEST_TAR_FILES sets the tree size (default 5,000).

mod common;

use std::path::Path;

use common::*;

/// A tree of small files (0644) in nested dirs (0755) with a few symlinks.
fn small_tree(root: &Path, files: usize, rng: &mut Rng) {
    let mut dirs = vec![root.to_path_buf()];
    for i in 0..(files / 50).max(2) {
        let parent = dirs[rng.below(dirs.len() as u64) as usize].clone();
        let d = parent.join(format!("dir-{i}"));
        std::fs::create_dir(&d).expect("mkdir");
        dirs.push(d);
    }
    for i in 0..files {
        let dir = &dirs[rng.below(dirs.len() as u64) as usize];
        let mut data = vec![0u8; rng.below(if i % 50 == 0 { 200_000 } else { 6000 }) as usize];
        rng.fill(&mut data);
        let name = if i % 10 == 0 {
            format!("ünïcode-{i}.bin")
        } else {
            format!("file-{i}.txt")
        };
        std::fs::write(dir.join(name), &data).expect("write");
    }
    std::os::unix::fs::symlink("dir-0", root.join("link-dir")).expect("symlink");
    std::os::unix::fs::symlink("../nowhere", dirs[1].join("dangling")).expect("symlink");
}

const TAR_FLAGS: &str = "--sort=name --format=gnu --owner=0 --group=0 --numeric-owner";

#[test]
fn tar_extract_then_create_gives_identical_bytes() {
    let files = env_usize("VAULT_TEST_TAR_FILES", 5000);
    let mut rng = Rng::new(seed("VAULT_TEST_TAR_SEED"));
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    std::fs::create_dir_all(src.join("tree")).expect("mkdir");
    sh("umask 022", work.path());
    small_tree(&src.join("tree"), files, &mut rng);
    let w = work.path().display().to_string();
    sh(
        &format!(
            "chmod -R u=rwX,go=rX '{w}/src/tree' && tar cf '{w}/in.tar' {TAR_FLAGS} -C '{w}/src' tree"
        ),
        work.path(),
    );
    let m = Mounted::new();
    let d = m.mnt.display().to_string();
    timed("tar x", || {
        sh(&format!("tar xf '{w}/in.tar' -C '{d}'"), work.path())
    });
    timed("tar c", || {
        sh(
            &format!("tar cf '{w}/out.tar' {TAR_FLAGS} -C '{d}' tree"),
            work.path(),
        )
    });
    let same = std::process::Command::new("cmp")
        .arg(work.path().join("in.tar"))
        .arg(work.path().join("out.tar"))
        .status()
        .expect("cmp");
    if !same.success() {
        let diff = sh(
            &format!(
                "diff <(tar tvf '{w}/in.tar' {TAR_FLAGS} | sort) <(tar tvf '{w}/out.tar' | sort) | head -20 || true"
            ),
            work.path(),
        );
        panic!("tar archives differ:\n{diff}");
    }
}

#[test]
fn git_init_add_commit_fsck() {
    let mut rng = Rng::new(seed("VAULT_TEST_GIT_SEED"));
    let m = Mounted::new();
    let repo = m.path("repo");
    std::fs::create_dir(&repo).expect("mkdir");
    small_tree(&repo, env_usize("VAULT_TEST_GIT_FILES", 5000), &mut rng);
    let env = "export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@e HOME=/nonexistent GIT_CONFIG_NOSYSTEM=1;";
    timed("git init/add/commit", || {
        sh(
            &format!("{env} git init -q && git add -A && git commit -qm initial"),
            &repo,
        )
    });
    let status = sh(&format!("{env} git status --porcelain"), &repo);
    assert!(status.trim().is_empty(), "clean after commit: {status}");
    timed("git fsck", || {
        sh(&format!("{env} git fsck --full --strict 2>&1"), &repo)
    });
    // A second commit touching a file, then log.
    std::fs::write(repo.join("file-1.txt"), b"changed").ok();
    sh(
        &format!(
            "{env} echo change >> new-file && git add -A && git commit -qm second && git log --oneline | wc -l"
        ),
        &repo,
    );
    let count = sh(&format!("{env} git rev-list --count HEAD"), &repo);
    assert_eq!(count.trim(), "2");
}

#[test]
fn sqlite_ten_thousand_rows_integrity_ok() {
    let mut m = Mounted::new();
    let sql = "PRAGMA journal_mode=DELETE;
        CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, payload BLOB);
        BEGIN;
        WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 10000)
          INSERT INTO t(name, payload) SELECT 'row-' || x, randomblob(100 + x % 400) FROM c;
        COMMIT;
        CREATE INDEX t_name ON t(name);
        UPDATE t SET name = name || '-u' WHERE id % 7 = 0;
        DELETE FROM t WHERE id % 13 = 0;
        VACUUM;
        PRAGMA integrity_check;
        SELECT count(*) FROM t;";
    let out = timed("sqlite3", || {
        sh(&format!("sqlite3 db.sqlite \"{sql}\""), &m.mnt)
    });
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"ok"), "integrity_check: {out}");
    assert_eq!(lines.last().copied(), Some("9231"), "{out}");
    // WAL mode too, then again after a remount.
    let out = sh(
        "sqlite3 db.sqlite 'PRAGMA journal_mode=WAL; INSERT INTO t(name) VALUES (1); PRAGMA integrity_check;'",
        &m.mnt,
    );
    assert!(out.lines().any(|l| l == "ok"), "{out}");
    m.remount();
    let out = sh(
        "sqlite3 db.sqlite 'PRAGMA integrity_check; SELECT count(*) FROM t;'",
        &m.mnt,
    );
    assert_eq!(out.lines().collect::<Vec<_>>(), vec!["ok", "9232"], "{out}");
}
