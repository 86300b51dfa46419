//! `vault copy SRC DST` through the binary: a local copy reads back the same with the vault
//! password (none is needed to copy), an interrupted copy (half the objects there, a stale
//! short object, a temp-file leftover, no vault.cryptomator yet) is resumed to completion, a
//! foreign or other-vault DST is refused and left untouched, local → S3 (moto on loopback) → local
//! round-trips the ciphertext, and a vault on SFTP (private sshd) is copied to S3, killed halfway,
//! resumed, mounted and read by pycryptomator (acceptance 5 of issue 13).
#![allow(clippy::unwrap_used)]

mod cli_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::*;

/// `ls -l -R` with the times left out (S3 keeps no modification times).
fn ls_r(vault_dir: &str, pw: &str) -> String {
    no_times(&vault(&["ls", "-l", "-R", vault_dir, "--password-file", pw]).ok())
}

fn no_times(listing: &str) -> String {
    listing
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            format!("{} {} {}\n", w[0], w[1], w[4..].join(" "))
        })
        .collect()
}

/// `ls -l -R` with the times: a local copy keeps them.
fn ls_lr(vault_dir: &str, pw: &str) -> String {
    vault(&["ls", "-l", "-R", vault_dir, "--password-file", pw]).ok()
}

/// The fixture's file paths in the vault (from `ls -R`, files only), for `cat`.
fn first_file(vault_dir: &str, pw: &str) -> String {
    let out = vault(&["ls", "-R", vault_dir, "--password-file", pw]).ok();
    let all: Vec<&str> = out.lines().collect();
    // A directory listed as a prefix of another path is not a file.
    all.iter()
        .find(|p| !all.iter().any(|q| q.starts_with(&format!("{p}/"))) && !p.ends_with('/'))
        .map(|p| p.to_string())
        .unwrap()
}

#[test]
fn local_copy_reads_back_and_needs_no_password() {
    let fx = copy_fixture("vault-v8");
    let dst = fx.tmp.path().join("moved");
    // No password source at all: copy never unlocks.
    let run = vault(&["copy", fx.vault_str(), dst.to_str().unwrap()]);
    assert_eq!(run.ok(), "", "nothing on stdout");
    assert!(
        !run.stderr.contains('\u{1b}'),
        "no progress bar when piped: {:?}",
        run.stderr
    );
    assert!(run.stderr.contains("verified"), "{}", run.stderr);
    assert_eq!(
        tree_state(&dst),
        tree_state(&fx.vault),
        "ciphertext copied as is"
    );
    let d = dst.to_str().unwrap();
    // Times too: make the source's an hour old first, so a copy stamped "now" would differ.
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    for rel in files(&fx.vault) {
        let f = std::fs::File::options()
            .write(true)
            .open(fx.vault.join(rel))
            .unwrap();
        f.set_modified(old).unwrap();
    }
    std::fs::remove_dir_all(&dst).unwrap();
    vault(&["copy", fx.vault_str(), d]).ok();
    assert_eq!(
        ls_lr(d, fx.pw()),
        ls_lr(fx.vault_str(), fx.pw()),
        "same listing, times included"
    );
    let file = first_file(fx.vault_str(), fx.pw());
    let a = vault(&["cat", fx.vault_str(), &file, "--password-file", fx.pw()]);
    let b = vault(&["cat", d, &file, "--password-file", fx.pw()]);
    a.ok();
    assert_eq!(b.ok().len(), a.stdout.len());
    assert_eq!(a.stdout, b.stdout, "cat {file} reads the same");
}

/// Every file under `root`, relative, sorted.
fn files(root: &Path) -> Vec<String> {
    tree_state(root)
        .into_iter()
        .filter(|(_, v)| v.starts_with('f'))
        .map(|(k, _)| k)
        .collect()
}

#[test]
fn interrupted_copy_is_resumed() {
    let fx = copy_fixture("vault-v8");
    let dst = fx.tmp.path().join("half");
    // What an interruption leaves: half of the objects (never vault.cryptomator, written last),
    // one of them stale (another size), and a write's temp file.
    let all = files(&fx.vault);
    let mut copied = 0;
    for (i, rel) in all.iter().enumerate() {
        if rel == "vault.cryptomator" || i % 2 == 1 {
            continue;
        }
        let to = dst.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(fx.vault.join(rel), &to).unwrap();
        // As `vault copy` leaves them: with the source's time, which it compares where the
        // destination keeps times (a copy made a second later would otherwise differ).
        let mtime = std::fs::metadata(fx.vault.join(rel))
            .unwrap()
            .modified()
            .unwrap();
        let f = std::fs::File::options().write(true).open(&to).unwrap();
        f.set_modified(mtime).unwrap();
        copied += 1;
    }
    assert!(copied >= 5, "the fixture has enough objects ({copied})");
    let stale = all
        .iter()
        .find(|r| r.ends_with(".c9r") && dst.join(r).is_file())
        .unwrap();
    std::fs::write(dst.join(stale), b"short").unwrap();
    // A same-size but different masterkey.cryptomator (top-level objects are compared by bytes).
    let mk = std::fs::read(fx.vault.join("masterkey.cryptomator")).unwrap();
    std::fs::write(dst.join("masterkey.cryptomator"), vec![b' '; mk.len()]).unwrap();
    let leftover = dst.join("d").join(".vault-tmp-abc123");
    std::fs::create_dir_all(leftover.parent().unwrap()).unwrap();
    std::fs::write(&leftover, b"half an object").unwrap();
    let d = dst.to_str().unwrap();
    // A partial copy is not mistaken for a vault.
    vault(&["ls", d, "--password-file", fx.pw()]).fails(4);

    let run = vault(&["copy", fx.vault_str(), d]);
    run.ok();
    let mk_index = all
        .iter()
        .position(|r| r == "masterkey.cryptomator")
        .unwrap();
    // The stale objects are copied again (the masterkey only counts if it was copied by hand).
    let skipped = copied - 1 - usize::from(mk_index % 2 == 0);
    assert!(
        run.stderr.contains(&format!("{skipped} already at")),
        "objects already there are skipped: {}",
        run.stderr
    );
    std::fs::remove_file(&leftover).unwrap();
    assert_eq!(
        tree_state(&dst),
        tree_state(&fx.vault),
        "resumed to completion"
    );
    assert_eq!(ls_r(d, fx.pw()), ls_r(fx.vault_str(), fx.pw()));

    // Again: a complete copy of the same vault is accepted and nothing is copied.
    let again = vault(&["copy", fx.vault_str(), d]);
    again.ok();
    assert!(
        again.stderr.contains("copied 0 objects"),
        "{}",
        again.stderr
    );

    // An object rewritten in SRC since (same size, newer time) is copied again.
    let changed = fx.vault.join(stale);
    let len = std::fs::metadata(&changed).unwrap().len() as usize;
    std::fs::write(&changed, vec![7u8; len]).unwrap();
    let later = std::time::SystemTime::now() + Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&changed)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let run = vault(&["copy", fx.vault_str(), d]);
    run.ok();
    assert!(run.stderr.contains("copied 1 object "), "{}", run.stderr);
    assert_eq!(
        tree_state(&dst),
        tree_state(&fx.vault),
        "the rewritten object is copied"
    );

    // An object the source no longer has (deleted since the last copy) is named, not deleted.
    std::fs::write(dst.join("d/gone.c9r"), b"old").unwrap();
    let run = vault(&["copy", fx.vault_str(), d]);
    run.ok();
    assert!(
        run.stderr.contains("warning: 1 object") && run.stderr.contains("d/gone.c9r"),
        "{}",
        run.stderr
    );
    assert!(dst.join("d/gone.c9r").exists());
}

/// A copy killed (SIGKILL) halfway: no half object under a final name, no vault.cryptomator,
/// and a second run completes it. SRC gets extra opaque objects (copy never looks inside),
/// some above the in-memory limit, so the copy takes long enough to be cut.
#[test]
fn killed_copy_leaves_no_half_object_and_resumes() {
    let fx = copy_fixture("vault-v8");
    let pad = fx.vault.join("d").join("ZZ");
    std::fs::create_dir_all(&pad).unwrap();
    for i in 0..6u8 {
        std::fs::write(pad.join(format!("big{i}.c9r")), vec![i; 10 << 20]).unwrap();
    }
    for i in 0..64u8 {
        std::fs::write(pad.join(format!("small{i}.c9r")), vec![i; 64 << 10]).unwrap();
    }
    let dst = fx.tmp.path().join("cut");
    let d = dst.to_str().unwrap();
    let mut child = Command::new(bin())
        .args(["copy", fx.vault_str(), d])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::fs::read_dir(dst.join("d/ZZ"))
        .map(|r| r.count())
        .unwrap_or(0)
        < 8
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "copy made no progress"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !dst.join("vault.cryptomator").exists(),
        "killed before the end, config not written"
    );
    let src_state = tree_state(&fx.vault);
    let cut_state = tree_state(&dst);
    for (rel, state) in &cut_state {
        if rel.rsplit('/').next().unwrap().starts_with(".vault-tmp-") {
            continue;
        }
        assert_eq!(Some(state), src_state.get(rel), "{rel} is whole or absent");
    }
    assert!(cut_state.len() < src_state.len(), "the copy was cut");
    vault(&["ls", d, "--password-file", fx.pw()]).fails(4);

    vault(&["copy", fx.vault_str(), d]).ok();
    let done: std::collections::BTreeMap<_, _> = tree_state(&dst)
        .into_iter()
        .filter(|(k, _)| !k.rsplit('/').next().unwrap().starts_with(".vault-tmp-"))
        .collect();
    assert_eq!(done, src_state, "resumed to completion");
    assert_eq!(ls_r(d, fx.pw()), ls_r(fx.vault_str(), fx.pw()));
}

#[test]
fn foreign_destination_is_refused_and_untouched() {
    let fx = copy_fixture("vault-v8");
    let foreign = fx.tmp.path().join("foreign");
    std::fs::create_dir_all(foreign.join("photos")).unwrap();
    std::fs::write(foreign.join("photos/cat.jpg"), b"meow").unwrap();
    let before = tree_state(&foreign);
    let err = vault(&["copy", fx.vault_str(), foreign.to_str().unwrap()]).fails(1);
    assert!(
        err.contains("refusing") && err.contains("photos/cat.jpg"),
        "{err}"
    );
    assert_eq!(tree_state(&foreign), before, "nothing written");

    // Another vault (its own vault.cryptomator) is refused too.
    let other = copy_fixture("vault-v8-ctrmac");
    let before = tree_state(&other.vault);
    let err = vault(&["copy", fx.vault_str(), other.vault_str()]).fails(1);
    assert!(err.contains("different vault"), "{err}");
    assert_eq!(tree_state(&other.vault), before, "nothing written");

    // Into itself or below itself: a usage error, nothing written.
    let before = tree_state(&fx.vault);
    let err = vault(&[
        "copy",
        fx.vault_str(),
        fx.vault.join("d/inner").to_str().unwrap(),
    ])
    .fails(2);
    assert!(err.contains("nested"), "{err}");
    let err = vault(&["copy", fx.vault_str(), &format!("{}/.", fx.vault_str())]).fails(2);
    assert!(err.contains("same folder"), "{err}");
    assert_eq!(tree_state(&fx.vault), before, "nothing written");

    // SRC must be a vault.
    vault(&[
        "copy",
        foreign.to_str().unwrap(),
        fx.tmp.path().join("x").to_str().unwrap(),
    ])
    .fails(4);
}

fn s3_vault(home: &Path, args: &[&str]) -> Run {
    let mut cmd = vault_cmd(120, args);
    cmd.env("HOME", home)
        .env("AWS_ACCESS_KEY_ID", "vault-copy-key")
        .env("AWS_SECRET_ACCESS_KEY", "vault-copy-secret")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3");
    run_cmd(&mut cmd)
}

#[test]
fn local_to_s3_and_back() {
    let (_moto, port) = start_moto();
    let fx = copy_fixture("vault-v8");
    let home = fx.tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");
    let url = "s3://vault-copy/team/V";
    let e = endpoint.as_str();
    s3_vault(
        &home,
        &[
            "copy",
            fx.vault_str(),
            url,
            "--s3-endpoint",
            e,
            "--create-bucket",
        ],
    )
    .ok();
    let listing = s3_vault(
        &home,
        &[
            "ls",
            "-l",
            "-R",
            url,
            "--s3-endpoint",
            e,
            "--password-file",
            fx.pw(),
        ],
    )
    .ok();
    let listing = no_times(&listing);
    assert_eq!(
        listing,
        ls_r(fx.vault_str(), fx.pw()),
        "the bucket holds the same vault"
    );

    // Resuming a complete copy copies nothing; and back from S3 to a folder, byte for byte.
    let again = s3_vault(&home, &["copy", fx.vault_str(), url, "--s3-endpoint", e]);
    again.ok();
    assert!(
        again.stderr.contains("copied 0 objects"),
        "{}",
        again.stderr
    );
    let back = fx.tmp.path().join("back");
    s3_vault(
        &home,
        &["copy", url, back.to_str().unwrap(), "--s3-endpoint", e],
    )
    .ok();
    assert_eq!(
        tree_state(&back),
        tree_state(&fx.vault),
        "S3 → local returns the ciphertext"
    );
}

/// The keys under `prefix` in moto's bucket (an unsigned ListObjectsV2 over plain HTTP/1.0:
/// quick enough to watch a copy in progress; moto does not check signatures).
fn moto_keys(port: u16, bucket: &str, prefix: &str) -> Vec<String> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        conn,
        "GET /{bucket}?list-type=2&prefix={prefix} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    answer
        .split("<Key>")
        .skip(1)
        .filter_map(|rest| {
            rest.split_once("</Key>")
                .map(|(k, _)| k.replace("&amp;", "&"))
        })
        .collect()
}

/// Acceptance: a vault on SFTP (private sshd, password login through askpass) copied to S3
/// (moto), the copy killed (SIGKILL) halfway and resumed; the bucket then lists as the source
/// does, mounts and reads back (`diff -r` against the source's cleartext), and pycryptomator
/// reads the bucket's objects (downloaded with boto3, not by us). The source gets opaque padding
/// objects (copy never looks inside) so the copy runs long enough to be cut.
#[test]
fn sftp_to_s3_killed_resumed_mounted_and_read_by_pycryptomator() {
    let (_moto, s3_port) = start_moto();
    let pid = std::process::id();
    let (sshd, sftp) = sshd_with_fixture_vault(
        &format!("cp{}", pid % 100_000),
        50_200 + (pid % 1_000) * 4,
        &format!("/tmp/vault-copy-sshd-{pid}"),
    );
    let user = sshd.var("VAULT_TEST_SSH_USER");
    let server_vault = std::path::PathBuf::from(sshd.var("VAULT_TEST_SFTP_ROOT")).join("V");
    let pad = server_vault.join("d/ZZ");
    std::fs::create_dir_all(&pad).unwrap();
    for i in 0..4u8 {
        std::fs::write(pad.join(format!("big{i}.c9r")), vec![i; 8 << 20]).unwrap();
    }
    for i in 0..150u8 {
        std::fs::write(pad.join(format!("small{i}.c9r")), vec![i; 32 << 10]).unwrap();
    }
    assert!(
        Command::new("chown")
            .args(["-R", &user])
            .arg(&pad)
            .status()
            .unwrap()
            .success()
    );
    let source_objects = files(&server_vault).len();
    let fx = copy_fixture("vault-v8");
    let home = fx.tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let ask = fx.tmp.path().join("ask.sh");
    write_script(
        &ask,
        &format!(
            "#!/bin/sh\ncase \"$1\" in\n 'Password for {user}@127.0.0.1'*) echo '{}';;\n *) exit 1;;\nesac\n",
            sshd.var("VAULT_TEST_SSH_PASSWORD")
        ),
    );
    let kh = fx.tmp.path().join("known_hosts");
    let endpoint = format!("http://127.0.0.1:{s3_port}");
    let url = "s3://vault-copy-sftp/V";
    let copy_args = [
        "copy",
        &sftp,
        url,
        "--askpass",
        ask.to_str().unwrap(),
        "--known-hosts",
        kh.to_str().unwrap(),
        "--accept-new-host-key",
        "--s3-endpoint",
        &endpoint,
        "--create-bucket",
    ];

    // Killed halfway.
    let started = Instant::now();
    let mut child = Command::new(bin())
        .args(copy_args)
        .env("HOME", &home)
        .env("AWS_ACCESS_KEY_ID", "vault-copy-key")
        .env("AWS_SECRET_ACCESS_KEY", "vault-copy-secret")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("VAULT_ASKPASS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(
        "a quarter of the objects in the bucket",
        Duration::from_secs(60),
        || {
            std::net::TcpStream::connect(("127.0.0.1", s3_port)).is_ok()
                && moto_keys(s3_port, "vault-copy-sftp", "V/").len() >= source_objects / 4
        },
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let cut = moto_keys(s3_port, "vault-copy-sftp", "V/");
    eprintln!(
        "killed after {:?} with {} of {source_objects} objects copied",
        started.elapsed(),
        cut.len()
    );
    assert!(
        cut.len() < source_objects,
        "the copy was cut: {}",
        cut.len()
    );
    assert!(
        !cut.iter().any(|k| k == "V/vault.cryptomator"),
        "vault.cryptomator is written last"
    );
    let cut_open = s3_vault(
        &home,
        &[
            "ls",
            url,
            "--s3-endpoint",
            &endpoint,
            "--password-file",
            fx.pw(),
        ],
    );
    cut_open.fails(4);

    // Resumed.
    let resumed = s3_vault(&home, &copy_args);
    resumed.ok();
    assert!(resumed.stderr.contains("verified"), "{}", resumed.stderr);
    let listing = s3_vault(
        &home,
        &[
            "ls",
            "-l",
            "-R",
            url,
            "--s3-endpoint",
            &endpoint,
            "--password-file",
            fx.pw(),
        ],
    )
    .ok();
    assert_eq!(no_times(&listing), ls_r(fx.vault_str(), fx.pw()));

    // The source's cleartext, to compare the mount and pycryptomator with.
    let clear = fx.tmp.path().join("clear");
    vault(&[
        "get",
        "-r",
        fx.vault_str(),
        "/",
        clear.to_str().unwrap(),
        "--password-file",
        fx.pw(),
    ])
    .ok();

    // Mounts and reads back.
    let mnt = fx.tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let guard = MountGuard::new(mnt.clone());
    s3_vault(
        &home,
        &[
            "mount",
            url,
            mnt.to_str().unwrap(),
            "--s3-endpoint",
            &endpoint,
            "--password-file",
            fx.pw(),
            "--symlinks=all",
        ],
    )
    .ok();
    assert!(guard.mounted());
    let diff = Command::new("diff")
        .args(["-r", "--no-dereference"])
        .arg(&clear)
        .arg(&mnt)
        .output()
        .unwrap();
    assert!(
        diff.status.success(),
        "the mounted bucket differs from the source:\n{}",
        String::from_utf8_lossy(&diff.stdout)
    );
    guard.unmount();
    assert!(!guard.mounted());

    // pycryptomator reads the bucket's objects, fetched by boto3 (folder markers, keys ending
    // in `/`, become folders).
    let fetched = fx.tmp.path().join("fetched");
    let script = format!(
        "import boto3,os,sys\n\
         s3=boto3.client('s3',endpoint_url='{endpoint}',region_name='us-east-1',\
         aws_access_key_id='k',aws_secret_access_key='s')\n\
         for page in s3.get_paginator('list_objects_v2').paginate(Bucket='vault-copy-sftp',Prefix='V/'):\n\
         \x20   for o in page.get('Contents',[]):\n\
         \x20       dest=os.path.join(sys.argv[1],o['Key'][2:])\n\
         \x20       os.makedirs(os.path.dirname(dest),exist_ok=True)\n\
         \x20       if not o['Key'].endswith('/'):\n\
         \x20           s3.download_file('vault-copy-sftp',o['Key'],dest)\n"
    );
    let out = Command::new(format!("{}/bin/python", moto_venv()))
        .args(["-c", &script])
        .arg(&fetched)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let python = std::env::var_os("VAULT_TEST_PYTHON")
        .unwrap_or_else(|| "/opt/vault-test-pyvenv/bin/python".into());
    let mut compare = Command::new("timeout")
        .arg("300")
        .arg(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/vault-fs/tests/pycryptomator_compare.py"
        ))
        .arg(&fetched)
        .arg(&clear)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let pw = std::fs::read_to_string(fx.pw()).unwrap();
        let mut stdin = compare.stdin.take().unwrap();
        writeln!(stdin, "{}", pw.trim_end_matches('\n')).unwrap();
    }
    let out = compare.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "pycryptomator disagrees:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
