//! STORAGE as `s3://BUCKET/PREFIX` through the binary, against moto 5.2.5 in server mode on
//! loopback (the venv of scripts/install-deps.sh): a missing bucket (exit 5, then
//! `--create-bucket`), the secret key asked as `Secret access key for s3://KEY_ID@ENDPOINT: `,
//! `create`, `put -r`, `get -r`, and the keys from AWS_SECRET_ACCESS_KEY without a prompt.
//! A named vault keeps endpoint, region, profile, addressing and conditional put; with
//! `--remember` the asked secret key and the vault password are kept in the kernel keyring
//! (`VAULT_KEYRING=keyutils`) and `vault forget` drops them.
//! (moto rather than s3s-fs: s3s-fs turns the `PREFIX/` folder markers `vault create` writes
//! into real folders that its listings hide while empty; see vault-s3's tests.)
#![allow(clippy::unwrap_used)]

mod cli_support;

use cli_support::*;

fn s3_vault(home: &std::path::Path, args: &[&str], secret_env: bool) -> Run {
    let mut cmd = vault_cmd(120, args);
    cmd.env("HOME", home)
        .env("AWS_ACCESS_KEY_ID", "vault-cli-key")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3");
    if secret_env {
        cmd.env("AWS_SECRET_ACCESS_KEY", "vault-cli-secret");
    } else {
        cmd.env_remove("AWS_SECRET_ACCESS_KEY");
    }
    run_cmd(&mut cmd)
}

#[test]
fn s3_storage_through_the_cli() {
    let (_moto, port) = start_moto();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");
    let url = "s3://vault-cli/team/V";
    let ask = tmp.path().join("ask.sh");
    let secret_prompt = format!("'Secret access key for s3://vault-cli-key@127.0.0.1:{port}: '");
    write_askpass(
        &ask,
        true,
        &[
            (secret_prompt.as_str(), "echo vault-cli-secret"),
            ("'Vault password for '*", "echo 'correct horse battery'"),
        ],
    );
    let a = ask.to_str().unwrap();
    let common = ["--s3-endpoint", &endpoint, "--askpass", a];
    let with = |cmd: &[&str]| -> Vec<String> {
        cmd.iter()
            .chain(common.iter())
            .map(|s| (*s).to_owned())
            .collect()
    };
    let run = |cmd: &[&str], secret_env: bool| {
        let args = with(cmd);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        s3_vault(&home, &args, secret_env)
    };

    let err = run(&["create", url], false).fails(5);
    assert!(
        err.contains("bucket vault-cli does not exist") && err.contains("--create-bucket"),
        "{err}"
    );
    run(&["create", url, "--create-bucket"], false).ok();
    assert!(
        prompts_seen(&ask)
            .iter()
            .any(|p| p == secret_prompt.trim_matches('\'')),
        "the secret key was asked: {:?}",
        prompts_seen(&ask)
    );

    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("sub/ünïcødé")).unwrap();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(src.join("big.bin"), &big).unwrap();
    std::fs::write(src.join("sub/a.txt"), b"alpha").unwrap();
    std::fs::write(src.join("sub/ünïcødé/empty"), b"").unwrap();
    run(&["put", "-r", url, src.to_str().unwrap(), "/in"], false).ok();
    let back = tmp.path().join("back");
    run(&["get", "-r", url, "/in", back.to_str().unwrap()], false).ok();
    assert_eq!(
        tree_state(&back),
        tree_state(&src),
        "get -r returns what put -r stored"
    );

    // A client killed mid-upload left a multipart upload under the prefix (made with boto3
    // from moto's venv), and one beside it: `check` notes it, `check --repair` aborts it only.
    let uploads = |prefix: &str| -> String {
        let script = format!(
            "import boto3,sys\n\
             s3=boto3.client('s3',endpoint_url='{endpoint}',region_name='us-east-1',\
             aws_access_key_id='k',aws_secret_access_key='s')\n\
             op=sys.argv[1]\n\
             if op=='start':\n    [s3.create_multipart_upload(Bucket='vault-cli',Key=k) for k in sys.argv[2:]]\n\
             else:\n    r=s3.list_multipart_uploads(Bucket='vault-cli',Prefix=sys.argv[2])\n    \
             print(' '.join(u['Key'] for u in r.get('Uploads',[])))\n"
        );
        let out = std::process::Command::new(format!("{}/bin/python", moto_venv()))
            .args(["-c", &script])
            .args(prefix.split(' '))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    uploads("start team/V/d/AA/BBBB/killed.c9r team/Vother/x");
    let noted = run(&["check", url], false).ok();
    assert!(
        noted.contains("note: team/V/d/AA/BBBB/killed.c9r: an unfinished multipart upload"),
        "{noted}"
    );
    assert_eq!(
        uploads("list team/"),
        "team/V/d/AA/BBBB/killed.c9r team/Vother/x"
    );
    let repaired = run(&["check", "--repair", url], false).ok();
    assert!(
        repaired.contains("repaired: team/V/d/AA/BBBB/killed.c9r: an unfinished multipart upload"),
        "{repaired}"
    );
    assert_eq!(
        uploads("list team/"),
        "team/Vother/x",
        "only the vault's upload is aborted"
    );

    // Keys from the environment: no secret-key prompt.
    std::fs::remove_file(format!("{}.log", ask.display())).unwrap();
    let listing = run(&["ls", url, "/in/sub"], true).ok();
    assert!(
        listing.contains("a.txt") && listing.contains("ünïcødé"),
        "{listing}"
    );
    assert!(
        prompts_seen(&ask)
            .iter()
            .all(|p| !p.starts_with("Secret access key")),
        "{:?}",
        prompts_seen(&ask)
    );
}

#[test]
fn named_s3_vaults_keep_their_settings_and_remember_the_secret_key() {
    let (_moto, port) = start_moto();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    // A profile with its own keys: used instead of the key variables when named.
    std::fs::write(
        home.join(".aws/credentials"),
        "[work]\naws_access_key_id = AKWORKPROFILE\naws_secret_access_key = work-secret\n",
    )
    .unwrap();
    let config = tmp.path().join("config.toml");
    let endpoint = format!("http://127.0.0.1:{port}");
    // A key id of this run only: the kernel keyring is shared by the session.
    let key_id = format!("vault-named-{}", std::process::id());
    let ask = tmp.path().join("ask.sh");
    let secret_prompt = format!("Secret access key for s3://{key_id}@127.0.0.1:{port}: ");
    write_askpass(
        &ask,
        true,
        &[
            (
                format!("'{secret_prompt}'").as_str(),
                "echo vault-cli-secret",
            ),
            ("'Vault password for '*", "echo 'correct horse battery'"),
        ],
    );
    let run = |args: &[&str]| {
        let mut cmd = vault_cmd(120, args);
        cmd.env("HOME", &home)
            .env("VAULT_CONFIG", &config)
            .env("VAULT_KEYRING", "keyutils")
            .env("VAULT_ASKPASS", &ask)
            .env("AWS_ACCESS_KEY_ID", &key_id)
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_ENDPOINT_URL_S3");
        run_cmd(&mut cmd)
    };
    let seen_secret_prompt = || prompts_seen(&ask).contains(&secret_prompt);

    // A bad endpoint is refused before it reaches the file (it would break every command).
    let err = run(&["add", "bad", "s3://vault-named/B", "--s3-endpoint", "minio"]).fails(2);
    assert!(err.contains("invalid --s3-endpoint minio"), "{err}");
    assert!(!config.exists());

    // 1. Endpoint, region, profile and the rest go into the entry.
    run(&[
        "add",
        "prof",
        "s3://vault-named/P",
        "--s3-endpoint",
        &endpoint,
        "--s3-region",
        "eu-west-1",
        "--s3-profile",
        "work",
        "--s3-addressing",
        "path",
        "--s3-conditional-put",
        "off",
    ])
    .ok();
    let text = std::fs::read_to_string(&config).unwrap();
    for line in [
        format!("s3_endpoint = \"{endpoint}\""),
        "s3_region = \"eu-west-1\"".into(),
        "s3_profile = \"work\"".into(),
        "s3_addressing = \"path\"".into(),
        "s3_conditional_put = false".into(),
    ] {
        assert!(text.contains(&line), "{line} in {text}");
    }
    // No endpoint flag: it comes from the entry; no secret prompt: the profile's keys win
    // over AWS_ACCESS_KEY_ID (which alone would make vault ask for the secret key).
    run(&["create", "prof", "--create-bucket"]).ok();
    run(&["mkdir", "prof", "/d"]).ok();
    assert!(run(&["ls", "prof", "/"]).ok().contains("d/"));
    assert!(!seen_secret_prompt(), "{:?}", prompts_seen(&ask));
    // A named profile without keys is an error naming it, not a fall-back to the variables.
    let err = run(&[
        "ls",
        "s3://vault-named/P",
        "--s3-endpoint",
        &endpoint,
        "--s3-profile",
        "nope",
    ])
    .fails(2);
    assert!(err.contains("AWS profile nope"), "{err}");

    // 2. Without a profile the secret key is asked once and, with --remember, kept.
    run(&[
        "add",
        "kept",
        "s3://vault-named/K",
        "--s3-endpoint",
        &endpoint,
    ])
    .ok();
    run(&["create", "kept", "--remember"]).ok();
    assert!(seen_secret_prompt(), "asked: {:?}", prompts_seen(&ask));
    std::fs::remove_file(format!("{}.log", ask.display())).unwrap();
    run(&["mkdir", "kept", "/x"]).ok();
    assert!(run(&["ls", "kept", "/"]).ok().contains("x/"));
    assert!(
        prompts_seen(&ask).is_empty(),
        "the keyring answered the secret key and the vault password: {:?}",
        prompts_seen(&ask)
    );
    let forgot = run(&["forget", "kept"]);
    forgot.ok();
    assert!(
        forgot.stderr.contains("S3 secret key") && forgot.stderr.contains("vault password"),
        "{}",
        forgot.stderr
    );
    run(&["ls", "kept", "/"]).ok();
    assert!(seen_secret_prompt(), "asked again after forget");
    assert!(
        prompts_seen(&ask)
            .iter()
            .any(|p| p.starts_with("Vault password for")),
        "{:?}",
        prompts_seen(&ask)
    );
}

/// A loopback stand-in for the one AWS answer no local S3 server gives: a bucket in another
/// region answers every request with `status` and `x-amz-bucket-region` (and, for the 400, the
/// XML error AWS sends). Serves `n` connections, then stops.
fn wrong_region_stand_in(status: &'static str, body: &'static str, n: usize) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(n) {
            let Ok(mut stream) = stream else { continue };
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => seen.extend_from_slice(&buf[..k]),
                }
            }
            let answer = format!(
                "HTTP/1.1 {status}\r\nx-amz-bucket-region: eu-central-1\r\n\
                 Content-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    port
}

#[test]
fn a_bucket_in_another_region_is_one_line_naming_its_region() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&str, &str); 2] = [
        // HEAD bucket at a regional endpoint: a body-less redirect.
        ("301 Moved Permanently", ""),
        // A request signed for the wrong region.
        (
            "400 Bad Request",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AuthorizationHeaderMalformed</Code>\
             <Message>the region 'us-east-1' is wrong; expecting 'eu-central-1'</Message>\
             <Region>eu-central-1</Region></Error>",
        ),
    ];
    for (status, body) in cases {
        let port = wrong_region_stand_in(status, body, 20);
        let endpoint = format!("http://127.0.0.1:{port}");
        let mut cmd = vault_cmd(60, &["ls", "s3://far-away/v", "--s3-endpoint", &endpoint]);
        cmd.env("HOME", tmp.path())
            .env("AWS_ACCESS_KEY_ID", "AKFAR")
            .env("AWS_SECRET_ACCESS_KEY", "far-secret")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_ENDPOINT_URL_S3");
        let err = run_cmd(&mut cmd).fails(5);
        assert!(
            err.contains("bucket far-away is in region eu-central-1: use --s3-region eu-central-1"),
            "{status}: {err}"
        );
        assert!(!err.contains("far-secret"), "{err}");
    }
}
