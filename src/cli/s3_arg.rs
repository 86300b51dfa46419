//! `s3://BUCKET/PREFIX` STORAGE: endpoint, region, credentials (the AWS
//! variables and shared files, else the secret key is asked), and the bucket
//! check (`vault create` on a missing bucket exits 5 unless `--create-bucket`).

use std::sync::Arc;

use url::Url;
use vault_s3::{S3Config, S3Credentials, S3Storage};

use super::exit::{CliError, CliResult, Exit, exit_for_storage_kind};

/// The S3 options of one command (from `ConnectOptions`; none of them secret).
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// `--s3-endpoint URL`.
    pub endpoint: Option<String>,
    /// `--s3-region R`.
    pub region: Option<String>,
    /// `--s3-profile NAME` (instead of `AWS_PROFILE`; its keys win over the key variables).
    pub profile: Option<String>,
    /// `--s3-addressing path|virtual` (default: path with a custom endpoint, virtual for AWS).
    pub addressing: Option<String>,
    /// `--s3-conditional-put` is not `off`.
    pub conditional_put: bool,
    /// The command creates a vault (`vault create`).
    pub creating: bool,
    /// `--create-bucket`.
    pub create_bucket: bool,
    /// Plain http to a host that is not loopback allowed.
    pub insecure_http: bool,
    /// `--ca-cert FILE`.
    pub ca_cert: Option<std::path::PathBuf>,
}

/// Asks for a secret: `(keyring account, prompt)` → the answer (the keyring
/// first where the user opted in, then askpass or the terminal).
pub type AskSecret<'a> = &'a (dyn Fn(String, &str) -> CliResult<secrecy::SecretString> + Sync);

/// Parses what follows `s3://`: a bucket and an optional prefix (without `/` at either end).
pub fn parse(arg: &str, rest: &str) -> CliResult<(String, String)> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if !valid_bucket {
        return Err(CliError::usage(format!(
            "invalid bucket name in {arg} (3-63 lowercase letters, digits, '-' or '.')"
        )));
    }
    let prefix = prefix.trim_matches('/');
    if !prefix.is_empty() && vault_storage::StoragePath::new(prefix).is_err() {
        return Err(CliError::usage(format!("invalid prefix in {arg}")));
    }
    Ok((bucket.to_owned(), prefix.to_owned()))
}

/// The AWS variables and shared files. A profile the user named (`--s3-profile`, a named
/// vault's `s3_profile`) replaces `AWS_PROFILE`, and its keys win over the key variables, as
/// the AWS CLI's `--profile` does.
fn settings(profile: Option<&str>) -> CliResult<vault_s3::AwsSettings> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let env = |k: &str| match (profile, k) {
        (Some(p), "AWS_PROFILE") => Some(p.to_owned()),
        (Some(_), "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" | "AWS_SESSION_TOKEN") => None,
        _ => std::env::var(k).ok(),
    };
    let settings = vault_s3::aws_settings(&env, home.as_deref()).map_err(CliError::usage)?;
    if let Some(p) = profile
        && settings.credentials.is_none()
    {
        return Err(CliError::usage(format!(
            "AWS profile {p} has no aws_access_key_id and aws_secret_access_key \
             in ~/.aws/credentials or ~/.aws/config"
        )));
    }
    Ok(settings)
}

/// The endpoint: `--s3-endpoint`, then the AWS variables/profile, else AWS for the region.
fn endpoint(
    options: &S3Options,
    from_profile: Option<&str>,
    region: &str,
) -> CliResult<(Url, bool)> {
    let custom = options.endpoint.as_deref().or(from_profile);
    let Some(text) = custom else {
        let aws = format!("https://s3.{region}.amazonaws.com");
        let url =
            Url::parse(&aws).map_err(|_| CliError::usage(format!("invalid S3 region {region}")))?;
        // AWS: virtual-hosted addressing.
        return Ok((url, false));
    };
    let url = Url::parse(text)
        .map_err(|e| CliError::usage(format!("invalid --s3-endpoint {text}: {e}")))?;
    // Custom endpoints (MinIO, Ceph RGW, Garage): path-style addressing.
    Ok((url, true))
}

/// Path-style addressing? `--s3-addressing` wins over the endpoint's default (path for a
/// custom endpoint, virtual-hosted for AWS).
fn path_style(addressing: Option<&str>, default_path_style: bool) -> bool {
    match addressing {
        Some("path") => true,
        Some("virtual") => false,
        _ => default_path_style,
    }
}

/// `host[:port]` of the endpoint, for the prompt and the keyring account.
fn shown_host(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => String::new(),
    }
}

/// Connects to `s3://BUCKET/PREFIX`; checks the bucket (and makes it on `--create-bucket`).
pub async fn connect(
    arg: &str,
    bucket: &str,
    prefix: &str,
    options: &S3Options,
    ask: AskSecret<'_>,
) -> CliResult<Arc<S3Storage>> {
    let aws = settings(options.profile.as_deref())?;
    let region = options
        .region
        .clone()
        .or(aws.region.clone())
        .unwrap_or_else(|| "us-east-1".into());
    let (url, default_path_style) = endpoint(options, aws.endpoint_url.as_deref(), &region)?;
    let path_style = path_style(options.addressing.as_deref(), default_path_style);
    vault_s3::check_endpoint(&url, options.insecure_http).map_err(CliError::usage)?;
    let credentials = match aws.credentials {
        Some(c) => c,
        None => ask_secret(&url, ask)?,
    };
    let mut config = S3Config::new(url, bucket, prefix, &region);
    config.path_style = path_style;
    config.credentials = Some(credentials);
    config.insecure_http = options.insecure_http;
    config.ca_cert = options.ca_cert.clone();
    config.conditional_put = options.conditional_put;
    let storage = S3Storage::new(config).map_err(|e| CliError::usage(format!("{arg}: {e}")))?;
    let fail = |e: vault_storage::StorageError| {
        let exit = match exit_for_storage_kind(e.kind()) {
            Exit::Error => Exit::Unreachable,
            other => other,
        };
        CliError::new(exit, format!("cannot reach storage {arg}: {e}"))
    };
    if !storage.bucket_exists().await.map_err(fail)? {
        if options.creating && options.create_bucket {
            storage.create_bucket().await.map_err(fail)?;
        } else {
            let hint = if options.creating {
                " (--create-bucket makes it)"
            } else {
                ""
            };
            return Err(CliError::new(
                Exit::Unreachable,
                format!("{arg}: bucket {bucket} does not exist{hint}"),
            ));
        }
    }
    Ok(Arc::new(storage))
}

/// The normalised STORAGE a vault password on S3 belongs to: the bucket and prefix at one
/// endpoint (`s3+https://HOST:PORT/BUCKET/PREFIX`, host lower-cased, port explicit), since
/// bucket names are only unique per endpoint.
fn vault_key(endpoint: &Url, bucket: &str, prefix: &str) -> String {
    let path = if prefix.is_empty() {
        bucket.to_owned()
    } else {
        format!("{bucket}/{prefix}")
    };
    format!(
        "s3+{}://{}:{}/{path}",
        endpoint.scheme(),
        endpoint.host_str().unwrap_or("").to_ascii_lowercase(),
        endpoint.port_or_known_default().unwrap_or(443)
    )
}

/// [`vault_key`] with the endpoint from the options and the AWS settings as a connection
/// takes it (the STORAGE text alone does not name the endpoint). Computed, not remembered from
/// a connection, so that `vault forget` (which does not connect) finds the same account.
pub fn vault_key_for(bucket: &str, prefix: &str, options: &S3Options) -> Option<String> {
    let aws = settings(options.profile.as_deref()).ok()?;
    let region = options
        .region
        .clone()
        .or(aws.region.clone())
        .unwrap_or_else(|| "us-east-1".into());
    let (url, _) = endpoint(options, aws.endpoint_url.as_deref(), &region).ok()?;
    Some(vault_key(&url, bucket, prefix))
}

/// Multipart uploads younger than this may still be running (another client's, a mount's):
/// `vault check` reports and `--repair` aborts only older ones.
pub const STALE_UPLOAD_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The keyring account of an S3 secret key: `s3-secret-key s3://KEY_ID@HOST:PORT` (host
/// lower-cased, port explicit), one per key id and endpoint.
pub fn secret_key_account(key_id: &str, endpoint: &Url) -> String {
    format!(
        "s3-secret-key s3://{key_id}@{}:{}",
        endpoint.host_str().unwrap_or("").to_ascii_lowercase(),
        endpoint.port_or_known_default().unwrap_or(443)
    )
}

/// The endpoint and key id a connection with `options` would use when the secret key is
/// asked (for `vault forget`): `None` when the keys come from the environment or a profile.
pub fn asked_key_account(options: &S3Options) -> Option<String> {
    let aws = settings(options.profile.as_deref()).ok()?;
    if aws.credentials.is_some() {
        return None;
    }
    let key_id = std::env::var("AWS_ACCESS_KEY_ID").ok()?;
    let region = options
        .region
        .clone()
        .or(aws.region.clone())
        .unwrap_or_else(|| "us-east-1".into());
    let (url, _) = endpoint(options, aws.endpoint_url.as_deref(), &region).ok()?;
    Some(secret_key_account(key_id.trim(), &url))
}

/// No keys in the environment or a profile: the key id must be in
/// `AWS_ACCESS_KEY_ID`; the secret key is asked (or taken from the keyring).
fn ask_secret(url: &Url, ask: AskSecret<'_>) -> CliResult<S3Credentials> {
    use secrecy::ExposeSecret;
    let Some(key_id) = std::env::var("AWS_ACCESS_KEY_ID")
        .ok()
        .filter(|k| !k.trim().is_empty())
    else {
        return Err(CliError::usage(
            "no S3 credentials: set AWS_ACCESS_KEY_ID (the secret key is then asked), \
             AWS_SECRET_ACCESS_KEY too, or a profile in ~/.aws/credentials (AWS_PROFILE)",
        ));
    };
    let host = shown_host(url);
    let secret = ask(
        secret_key_account(&key_id, url),
        &format!("Secret access key for s3://{key_id}@{host}: "),
    )?;
    Ok(S3Credentials {
        access_key_id: key_id,
        secret_access_key: zeroize::Zeroizing::new(secret.expose_secret().to_owned()),
        session_token: std::env::var("AWS_SESSION_TOKEN")
            .ok()
            .map(zeroize::Zeroizing::new),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn addressing_defaults_and_the_switch() {
        let custom = S3Options {
            endpoint: Some("http://127.0.0.1:9000".into()),
            ..Default::default()
        };
        let (url, default) = endpoint(&custom, None, "us-east-1").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:9000/");
        assert!(default, "a custom endpoint is path-style");
        assert!(!path_style(Some("virtual"), default));
        let (url, default) = endpoint(&S3Options::default(), None, "eu-west-3").unwrap();
        assert_eq!(url.as_str(), "https://s3.eu-west-3.amazonaws.com/");
        assert!(!default, "AWS is virtual-hosted");
        assert!(path_style(Some("path"), default));
        assert!(!path_style(None, default));
    }

    #[test]
    fn vault_keys_name_the_endpoint() {
        let url = Url::parse("HTTPS://S3.EU-West-1.amazonaws.com").unwrap();
        assert_eq!(
            vault_key(&url, "team", "a/V"),
            "s3+https://s3.eu-west-1.amazonaws.com:443/team/a/V"
        );
        let url = Url::parse("http://127.0.0.1:9000/").unwrap();
        assert_eq!(vault_key(&url, "b-1", ""), "s3+http://127.0.0.1:9000/b-1");
    }

    #[test]
    fn secret_key_accounts_are_normalised() {
        let url = Url::parse("HTTPS://MinIO.Example").unwrap();
        assert_eq!(
            secret_key_account("AKID", &url),
            "s3-secret-key s3://AKID@minio.example:443"
        );
        let url = Url::parse("http://127.0.0.1:9000").unwrap();
        assert_eq!(
            secret_key_account("AKID", &url),
            "s3-secret-key s3://AKID@127.0.0.1:9000"
        );
    }
}
