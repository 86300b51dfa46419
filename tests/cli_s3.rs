//! STORAGE as `s3://BUCKET/PREFIX` through the binary, against moto 5.2.5 in server mode on
//! loopback (the venv of scripts/install-deps.sh): a missing bucket (exit 5, then
//! `--create-bucket`), the secret key asked as `Secret access key for s3://KEY_ID@ENDPOINT: `,
//! `create`, `put -r`, `get -r`, and the keys from AWS_SECRET_ACCESS_KEY without a prompt.
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
            .any(|p| p == &secret_prompt.trim_matches('\'')),
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
