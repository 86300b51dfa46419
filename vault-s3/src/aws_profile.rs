//! Where S3 tools take credentials, region and endpoint from: the
//! `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`
//! variables, then a profile (`AWS_PROFILE`, else `default`) of the shared
//! files `~/.aws/credentials` and `~/.aws/config`. `credential_process` and
//! SSO profiles are not supported (they run programs or need a browser) and
//! say so. The caller asks for the secret key when nothing is found.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::config::S3Credentials;

/// What the environment and the shared files say.
#[derive(Debug, Default)]
pub struct AwsSettings {
    /// Static credentials, if any were found.
    pub credentials: Option<S3Credentials>,
    /// `AWS_REGION`, `AWS_DEFAULT_REGION` or the profile's `region`.
    pub region: Option<String>,
    /// `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL` or the profile's `endpoint_url`.
    pub endpoint_url: Option<String>,
    /// The profile used (`default` unless `AWS_PROFILE` names one).
    pub profile: String,
}

/// Longest shared file read (they are a few lines).
const MAX_FILE: u64 = 1 << 20;

/// The key/value pairs of one `[section]` of an INI-style AWS file.
fn section(text: &str, wanted: &str) -> Vec<(String, Zeroizing<String>)> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == wanted;
            continue;
        }
        if let (true, Some((k, v))) = (inside, line.split_once('=')) {
            out.push((
                k.trim().to_ascii_lowercase(),
                Zeroizing::new(v.trim().to_owned()),
            ));
        }
    }
    out
}

fn read_file(path: &Path) -> Result<Option<Zeroizing<String>>, String> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut text = Zeroizing::new(String::new());
    file.take(MAX_FILE)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(Some(text))
}

fn get<'a>(pairs: &'a [(String, Zeroizing<String>)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn static_credentials(pairs: &[(String, Zeroizing<String>)]) -> Option<S3Credentials> {
    Some(S3Credentials {
        access_key_id: get(pairs, "aws_access_key_id")?.to_owned(),
        secret_access_key: Zeroizing::new(get(pairs, "aws_secret_access_key")?.to_owned()),
        session_token: get(pairs, "aws_session_token").map(|t| Zeroizing::new(t.to_owned())),
    })
}

/// Reads the settings. `env` looks a variable up (the process environment
/// in production, a table in tests); `home` is the home folder.
pub fn aws_settings(
    env: &dyn Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Result<AwsSettings, String> {
    let var = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let profile = var("AWS_PROFILE").unwrap_or_else(|| "default".into());
    let aws_dir = home.map(|h| h.join(".aws"));
    let file = |var_name: &str, name: &str| -> Option<PathBuf> {
        var(var_name)
            .map(PathBuf::from)
            .or_else(|| aws_dir.as_ref().map(|d| d.join(name)))
    };
    let creds_text = match file("AWS_SHARED_CREDENTIALS_FILE", "credentials") {
        Some(p) => read_file(&p)?,
        None => None,
    };
    let config_text = match file("AWS_CONFIG_FILE", "config") {
        Some(p) => read_file(&p)?,
        None => None,
    };
    let from_creds = creds_text
        .as_deref()
        .map(|t| section(t, &profile))
        .unwrap_or_default();
    let config_section = if profile == "default" {
        "default".to_owned()
    } else {
        format!("profile {profile}")
    };
    let from_config = config_text
        .as_deref()
        .map(|t| section(t, &config_section))
        .unwrap_or_default();

    let env_creds = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Some(S3Credentials {
            access_key_id: id,
            secret_access_key: Zeroizing::new(secret),
            session_token: var("AWS_SESSION_TOKEN").map(Zeroizing::new),
        }),
        _ => None,
    };
    let credentials = env_creds
        .or_else(|| static_credentials(&from_creds))
        .or_else(|| static_credentials(&from_config));
    if credentials.is_none() {
        for unsupported in [
            "credential_process",
            "sso_session",
            "sso_start_url",
            "role_arn",
        ] {
            if get(&from_config, unsupported).is_some() || get(&from_creds, unsupported).is_some() {
                return Err(format!(
                    "AWS profile {profile} uses {unsupported}, which vault does not support: \
                     give static keys (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the profile)"
                ));
            }
        }
    }
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .or_else(|| get(&from_config, "region").map(str::to_owned));
    let endpoint_url = var("AWS_ENDPOINT_URL_S3")
        .or_else(|| var("AWS_ENDPOINT_URL"))
        .or_else(|| get(&from_config, "endpoint_url").map(str::to_owned));
    Ok(AwsSettings {
        credentials,
        region,
        endpoint_url,
        profile,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn home_with(creds: &str, config: &str) -> tempfile::TempDir {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".aws")).unwrap();
        std::fs::write(home.path().join(".aws/credentials"), creds).unwrap();
        std::fs::write(home.path().join(".aws/config"), config).unwrap();
        home
    }

    const CREDS: &str = "# comment\n[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = s3cr3t-default\n\n[work]\naws_access_key_id=AKWORK\naws_secret_access_key=s3cr3t-work\naws_session_token = tok\n";
    const CONFIG: &str = "[default]\nregion = eu-central-1\n\n[profile work]\nregion = us-west-2\nendpoint_url = https://minio.example:9000\n\n[profile sso]\nsso_start_url = https://x\n";

    #[test]
    fn environment_wins_then_the_profile() {
        let home = home_with(CREDS, CONFIG);
        let s = aws_settings(&env(&[]), Some(home.path())).unwrap();
        let c = s.credentials.unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.secret_access_key.as_str()),
            ("AKDEFAULT", "s3cr3t-default")
        );
        assert_eq!(s.region.as_deref(), Some("eu-central-1"));
        assert_eq!(s.endpoint_url, None);

        let s = aws_settings(&env(&[("AWS_PROFILE", "work")]), Some(home.path())).unwrap();
        let c = s.credentials.unwrap();
        assert_eq!(c.access_key_id, "AKWORK");
        assert_eq!(c.session_token.as_deref().map(String::as_str), Some("tok"));
        assert_eq!(s.region.as_deref(), Some("us-west-2"));
        assert_eq!(
            s.endpoint_url.as_deref(),
            Some("https://minio.example:9000")
        );

        let vars = [
            ("AWS_PROFILE", "work"),
            ("AWS_ACCESS_KEY_ID", "AKENV"),
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
            ("AWS_REGION", "ap-south-1"),
        ];
        let s = aws_settings(&env(&vars), Some(home.path())).unwrap();
        let c = s.credentials.unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.session_token.is_none()),
            ("AKENV", true)
        );
        assert_eq!(s.region.as_deref(), Some("ap-south-1"));
        assert!(!format!("{c:?}").contains("envsecret"));
    }

    #[test]
    fn nothing_found_and_unsupported_profiles() {
        let empty = tempfile::tempdir().unwrap();
        let s = aws_settings(&env(&[]), Some(empty.path())).unwrap();
        assert!(s.credentials.is_none() && s.region.is_none());
        let home = home_with(CREDS, CONFIG);
        let err = aws_settings(&env(&[("AWS_PROFILE", "sso")]), Some(home.path())).unwrap_err();
        assert!(
            err.contains("sso_start_url") && err.contains("not support"),
            "{err}"
        );
        let s = aws_settings(&env(&[("AWS_PROFILE", "missing")]), Some(home.path())).unwrap();
        assert!(s.credentials.is_none(), "an unknown profile has no keys");
    }
}
