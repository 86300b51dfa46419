//! Acceptance 3: put/get/mkdir/rm/mv/passwd/check round trips through the binary, `cp -r`
//! semantics both ways, askpass and password-file, usage errors (exit 2), `check` exit 6 on a
//! damaged vault and `--repair` fixing a missing dirid.c9r. One vault is created (scrypt cost
//! is not adjustable through the CLI); the rest reuse it.

#![allow(clippy::unwrap_used)]

mod cli_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use cli_support::*;

fn write_exe(path: &Path, body: &str) {
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn find_named(dir: &Path, name: &str, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            find_named(&p, name, out);
        } else if p.file_name().unwrap() == name {
            out.push(p);
        }
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["ls"][..],
        &["bogus"][..],
        &["ls", "./V", "--no-such-flag"][..],
        &["mount", "./V"][..],
        &["completions", "nosh"][..],
        &["mount", "./V", "/mnt", "--idle", "soon"][..],
    ] {
        let run = vault(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
    }
    // A bare word is a named vault; none is configured: the error suggests ./NAME.
    let line = vault(&["ls", "Work"]).fails(2);
    assert!(line.contains("./Work"), "{line}");
    // Unknown URL scheme.
    vault(&["ls", "ftp://host/x"]).fails(2);
    // No secret source and stdin is not a terminal.
    let fx = copy_fixture("vault-v8");
    let line = vault(&["ls", fx.vault_str()]).fails(2);
    assert!(line.contains("--password-file"), "{line}");
    // --help and --version succeed.
    assert_eq!(vault(&["--help"]).code, 0);
    assert_eq!(vault(&["--version"]).code, 0);
    let bash = vault(&["completions", "bash"]).ok();
    assert!(bash.contains("vault"), "completions");
}

#[test]
fn remote_storage_forms_are_recognised() {
    // sftp is not built in yet: a clear error, not a usage error and not a panic.
    let run = vault(&[
        "ls",
        "sftp://me@127.0.0.1:1/srv/v",
        "--password-file",
        "/dev/null",
    ]);
    assert_ne!(run.code, 2, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}

#[test]
fn full_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let v = t.join("V");
    let vs = v.to_str().unwrap();
    let pw = t.join("pw");
    std::fs::write(&pw, "correct horse\n").unwrap();
    let pws = pw.to_str().unwrap();

    // create (folder made), then a second create refuses the non-empty folder
    vault(&["create", vs, "--password-file", pws]).ok();
    assert!(v.join("vault.cryptomator").is_file() && v.join("masterkey.cryptomator").is_file());
    vault(&["create", vs, "--password-file", pws]).fails(1);
    let info = vault(&["info", vs, "--password-file", pws]).ok();
    assert!(
        info.contains("SIV_GCM") && info.contains("format:               8"),
        "{info}"
    );

    // askpass: gets exactly the documented prompt as its only argument
    let ask = t.join("ask.sh");
    write_exe(
        &ask,
        &format!(
            "#!/bin/sh\n[ \"$#\" -eq 1 ] && [ \"$1\" = 'Vault password for {vs}: ' ] || exit 1\necho 'correct horse'\n"
        ),
    );
    assert_eq!(
        vault(&["ls", vs, "--askpass", ask.to_str().unwrap()]).ok(),
        ""
    );
    // VAULT_ASKPASS works too
    let run = std::process::Command::new(bin())
        .args(["ls", vs])
        .env("VAULT_ASKPASS", &ask)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    // a local tree with nesting, an empty file, a multi-chunk file, a long and a Unicode name, a symlink
    let src = t.join("src");
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    std::fs::create_dir(src.join("emptydir")).unwrap();
    std::fs::write(src.join("empty"), b"").unwrap();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(src.join("sub/big.bin"), &big).unwrap();
    let long = format!("{}.txt", "l".repeat(200));
    std::fs::write(src.join("sub").join(&long), b"long name").unwrap();
    std::fs::write(src.join("sub/deeper/Ünïcødé 😀.txt"), b"unicode").unwrap();
    std::os::unix::fs::symlink("sub/big.bin", src.join("link")).unwrap();
    let src_state = tree_state(&src);

    // put -r into a missing path: it becomes the copy
    vault(&[
        "put",
        "-r",
        vs,
        src.to_str().unwrap(),
        "/copy",
        "--password-file",
        pws,
    ])
    .ok();
    // put -r into an existing directory: lands inside it
    vault(&["mkdir", vs, "/into", "--password-file", pws]).ok();
    vault(&[
        "put",
        "-r",
        vs,
        src.to_str().unwrap(),
        "/into",
        "--password-file",
        pws,
    ])
    .ok();
    let ls = vault(&["ls", "-R", vs, "--password-file", pws]).ok();
    assert!(ls.lines().any(|l| l == "copy/sub/big.bin"), "{ls}");
    assert!(ls.lines().any(|l| l == "into/src/sub/big.bin"), "{ls}");
    assert!(ls.lines().any(|l| l == format!("copy/sub/{long}")), "{ls}");
    let long_ls = vault(&["ls", "-l", vs, "/copy", "--password-file", pws]).ok();
    assert!(
        long_ls
            .lines()
            .any(|l| l.starts_with('l') && l.ends_with("link -> sub/big.bin")),
        "{long_ls}"
    );
    // a directory without -r is refused
    assert!(
        vault(&[
            "put",
            vs,
            src.to_str().unwrap(),
            "/x",
            "--password-file",
            pws
        ])
        .fails(1)
        .contains("put -r")
    );

    // get -r into a missing path, and into an existing directory: identical trees
    let out1 = t.join("out1");
    vault(&[
        "get",
        "-r",
        vs,
        "/copy",
        out1.to_str().unwrap(),
        "--password-file",
        pws,
    ])
    .ok();
    assert_eq!(tree_state(&out1), src_state);
    let out2 = t.join("out2");
    std::fs::create_dir(&out2).unwrap();
    vault(&[
        "get",
        "-r",
        vs,
        "/into/src",
        out2.to_str().unwrap(),
        "--password-file",
        pws,
    ])
    .ok();
    assert_eq!(tree_state(&out2.join("src")), src_state);
    // cat
    let run = vault(&["cat", vs, "/copy/sub/big.bin", "--password-file", pws]);
    assert_eq!(run.stdout, big);

    // put a single file over an existing one (overwrite), and into an existing dir
    std::fs::write(t.join("small"), b"new content").unwrap();
    vault(&[
        "put",
        vs,
        t.join("small").to_str().unwrap(),
        "/copy/sub/big.bin",
        "--password-file",
        pws,
    ])
    .ok();
    assert_eq!(
        vault(&["cat", vs, "/copy/sub/big.bin", "--password-file", pws]).stdout,
        b"new content"
    );
    vault(&[
        "put",
        vs,
        t.join("small").to_str().unwrap(),
        "/copy",
        "--password-file",
        pws,
    ])
    .ok();
    assert_eq!(
        vault(&["cat", vs, "/copy/small", "--password-file", pws]).stdout,
        b"new content"
    );

    // mkdir -p, mkdir of an existing dir fails, mkdir -p of it does not
    vault(&["mkdir", "-p", vs, "/a/b/c", "--password-file", pws]).ok();
    vault(&["mkdir", vs, "/a/b", "--password-file", pws]).fails(1);
    vault(&["mkdir", "-p", vs, "/a/b", "--password-file", pws]).ok();

    // mv: rename, into an existing directory, over a file, and not into itself
    vault(&[
        "mv",
        vs,
        "/copy/small",
        "/copy/renamed",
        "--password-file",
        pws,
    ])
    .ok();
    vault(&["mv", vs, "/copy/renamed", "/a/b", "--password-file", pws]).ok();
    assert_eq!(
        vault(&["cat", vs, "/a/b/renamed", "--password-file", pws]).stdout,
        b"new content"
    );
    vault(&["mv", vs, "/copy", "/a/b/c/moved", "--password-file", pws]).ok();
    assert_eq!(
        vault(&[
            "cat",
            vs,
            "/a/b/c/moved/sub/deeper/Ünïcødé 😀.txt",
            "--password-file",
            pws
        ])
        .stdout,
        b"unicode"
    );
    vault(&["mv", vs, "/a", "/a/b/c/inside", "--password-file", pws]).fails(1);

    // rm: a directory needs -r
    vault(&["rm", vs, "/into", "--password-file", pws]).fails(1);
    vault(&["rm", "-r", vs, "/into", "--password-file", pws]).ok();
    vault(&["rm", vs, "/a/b/renamed", "--password-file", pws]).ok();
    vault(&["cat", vs, "/a/b/renamed", "--password-file", pws]).fails(1);
    let ls = vault(&["ls", "-R", vs, "--password-file", pws]).ok();
    assert!(!ls.contains("into/"), "{ls}");

    // check: healthy
    vault(&["check", vs, "--password-file", pws]).ok();

    // passwd: the old password stops working, the new one works; data unchanged
    let pw2 = t.join("pw2");
    std::fs::write(&pw2, "battery staple\n").unwrap();
    vault(&[
        "passwd",
        vs,
        "--password-file",
        pws,
        "--new-password-file",
        pw2.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(
        vault(&["ls", vs, "--password-file", pws]).fails(3),
        format!("vault: wrong password for {vs}")
    );
    assert_eq!(
        vault(&[
            "cat",
            vs,
            "/a/b/c/moved/sub/deeper/Ünïcødé 😀.txt",
            "--password-file",
            pw2.to_str().unwrap()
        ])
        .stdout,
        b"unicode"
    );
    // passwd through askpass: both prompts answered by the program
    let ask2 = t.join("ask2.sh");
    write_exe(
        &ask2,
        &format!(
            "#!/bin/sh\ncase \"$1\" in\n 'Vault password for {vs}: ') echo 'battery staple';;\n 'New vault password for {vs}: ') echo 'third one';;\n *) exit 1;;\nesac\n"
        ),
    );
    vault(&["passwd", vs, "--askpass", ask2.to_str().unwrap()]).ok();
    let pw3 = t.join("pw3");
    std::fs::write(&pw3, "third one").unwrap();
    let pw3s = pw3.to_str().unwrap();
    vault(&["ls", vs, "--password-file", pw3s]).ok();

    // check: a missing dirid.c9r is a problem (exit 6, nothing written), --repair fixes it
    let mut dirids = Vec::new();
    find_named(&v.join("d"), "dirid.c9r", &mut dirids);
    assert!(dirids.len() > 2);
    dirids.sort();
    std::fs::remove_file(&dirids[1]).unwrap();
    let before = tree_state(&v);
    let run = vault(&["check", vs, "--password-file", pw3s]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert!(run.stdout.starts_with(b"problem: "), "{}", run.stdout_str());
    assert_eq!(tree_state(&v), before, "check without --repair wrote");
    let run = vault(&["check", "--repair", vs, "--password-file", pw3s]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout_str().contains("repaired: "),
        "{}",
        run.stdout_str()
    );
    assert!(dirids[1].is_file(), "dirid.c9r restored");
    vault(&["check", vs, "--password-file", pw3s]).ok();
}
