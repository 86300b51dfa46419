//! Reaching the server through jump hosts (`ProxyJump`, `-J`) or through a command
//! (`ProxyCommand`), as OpenSSH does.
//!
//! A jump host is a full SSH login of its own (host key checked against the same
//! known_hosts, its own user, keys and keyboard-interactive questions); the next hop's SSH
//! connection runs inside a `direct-tcpip` channel of it. A proxy command is run with
//! `sh -c`; its stdin and stdout carry the connection to the final server.

use std::path::PathBuf;

use crate::config::{default_identities, expand_tokens, home_dir};
use crate::{SftpConfig, SftpError, parse_sftp_url, ssh_config_lookup};

/// Jump hosts allowed in one chain (OpenSSH has no limit; a longer chain is a mistake).
const MAX_JUMPS: usize = 8;

/// One jump host, resolved through ssh_config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpHost {
    /// Host name or address to connect to (after `HostName`).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Login name on the jump host (its `User`, else the local user: not the final
    /// server's user, as in ssh).
    pub user: String,
    /// Private key files to try (its `IdentityFile`s, else the defaults).
    pub identity_files: Vec<PathBuf>,
}

impl JumpHost {
    /// The name known_hosts uses for it (`host`, or `[host]:port` off port 22).
    pub fn known_hosts_name(&self) -> String {
        known_hosts_name(&self.host, self.port)
    }
}

pub(crate) fn known_hosts_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

impl SftpConfig {
    /// Sets the jump hosts from `-J` / `ProxyJump` text: `[user@]host[:port]` or
    /// `ssh://[user@]host[:port]`, comma-separated, outermost first; `none` removes them.
    /// Each host is looked up in the ssh_config [`SftpConfig::from_url`] read (`HostName`,
    /// `Port`, `User`, `IdentityFile`; a jump host's own `ProxyJump` is not followed).
    /// Replaces a `ProxyCommand`.
    pub fn set_proxy_jump(&mut self, spec: &str) -> Result<(), SftpError> {
        self.proxy_command = None;
        self.proxy_jump.clear();
        let spec = spec.trim();
        if spec.eq_ignore_ascii_case("none") {
            return Ok(());
        }
        let words: Vec<&str> = spec.split(',').map(str::trim).collect();
        if words.len() > MAX_JUMPS {
            return Err(SftpError::Config(format!(
                "more than {MAX_JUMPS} jump hosts in {spec:?}"
            )));
        }
        for word in words {
            let jump = self.resolve_jump(word)?;
            self.proxy_jump.push(jump);
        }
        Ok(())
    }

    fn resolve_jump(&self, word: &str) -> Result<JumpHost, SftpError> {
        let bad = |why: &str| SftpError::Config(format!("bad jump host {word:?}: {why}"));
        let bare = word.strip_prefix("ssh://").unwrap_or(word);
        if bare.is_empty() || bare.contains('/') || bare.starts_with('-') {
            return Err(bad("expected [USER@]HOST[:PORT]"));
        }
        let url = parse_sftp_url(&format!("sftp://{bare}")).map_err(|e| bad(&e.to_string()))?;
        let found = match &self.ssh_config_text {
            Some(text) => ssh_config_lookup(text, &url.host)?,
            None => Default::default(),
        };
        let home = home_dir();
        let user = url
            .user
            .or(found.user)
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("LOGNAME").ok())
            .ok_or_else(|| bad("no user name: write USER@HOST"))?;
        let host = found
            .hostname
            .map(|h| h.replace("%h", &url.host))
            .unwrap_or_else(|| url.host.clone());
        let port = url.port.or(found.port).unwrap_or(22);
        let identity_files = if found.identity_files.is_empty() {
            default_identities(home.as_deref())
        } else {
            found
                .identity_files
                .iter()
                .map(|f| expand_tokens(f, home.as_deref(), &host, &url.host, port, &user))
                .collect()
        };
        Ok(JumpHost {
            host,
            port,
            user,
            identity_files,
        })
    }
}

/// A running proxy command: killed when the connection that uses it is dropped.
pub(crate) struct ProxyChild(#[allow(dead_code)] tokio::process::Child);

/// The stream a proxy command gives: its stdout to read, its stdin to write.
pub(crate) type ProxyStream =
    tokio::io::Join<tokio::process::ChildStdout, tokio::process::ChildStdin>;

/// Starts `sh -c COMMAND` (tokens were substituted by [`SftpConfig::from_url`]); its
/// stderr goes where ours goes, as with ssh.
pub(crate) fn spawn_proxy_command(
    command: &str,
    hostport: &str,
) -> Result<(ProxyStream, ProxyChild), SftpError> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| SftpError::Unreachable {
            host: hostport.to_owned(),
            reason: format!("cannot run ProxyCommand: {e}"),
        })?;
    let (Some(out), Some(inp)) = (child.stdout.take(), child.stdin.take()) else {
        return Err(SftpError::Unreachable {
            host: hostport.to_owned(),
            reason: "ProxyCommand has no pipes".into(),
        });
    };
    Ok((tokio::io::join(out, inp), ProxyChild(child)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::RemoteRoot;

    #[test]
    fn jump_hosts_are_resolved_through_ssh_config() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config");
        std::fs::write(
            &file,
            "Host inner\n HostName 10.9.2.2\n User ann\n ProxyJump bastion\n\
             Host bastion\n HostName 10.9.1.1\n Port 2200\n User bob\n IdentityFile /k/%r\n",
        )
        .unwrap();
        let url = parse_sftp_url("sftp://inner/~/v").unwrap();
        let c = SftpConfig::from_url(&url, Some(&file)).unwrap();
        assert_eq!(c.proxy_command, None);
        assert_eq!(
            c.proxy_jump,
            vec![JumpHost {
                host: "10.9.1.1".into(),
                port: 2200,
                user: "bob".into(),
                identity_files: vec![PathBuf::from("/k/bob")],
            }]
        );
        assert_eq!(c.proxy_jump[0].known_hosts_name(), "[10.9.1.1]:2200");
        let mut c = c;
        c.set_proxy_jump("eve@bastion:23, ssh://y@x.example")
            .unwrap();
        assert_eq!(
            (c.proxy_jump[0].user.as_str(), c.proxy_jump[0].port),
            ("eve", 23)
        );
        assert_eq!(
            (c.proxy_jump[1].host.as_str(), c.proxy_jump[1].port),
            ("x.example", 22)
        );
        c.set_proxy_jump("none").unwrap();
        assert!(c.proxy_jump.is_empty());
        for bad in ["", "-oProxyCommand=x", "a/b", "h:0", "a,,b"] {
            assert!(
                matches!(c.set_proxy_jump(bad), Err(SftpError::Config(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn proxy_command_gets_its_tokens_and_competes_with_proxy_jump() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config");
        std::fs::write(
            &file,
            "Host pc\n HostName 10.9.2.2\n User ann\n Port 2022\n\
             ProxyCommand ip netns exec \"ns x\" nc %h %p # %r %%\n ProxyJump ignored\n\
             Host *\n ProxyJump later\n",
        )
        .unwrap();
        let c = SftpConfig::from_url(&parse_sftp_url("sftp://pc/x").unwrap(), Some(&file)).unwrap();
        assert_eq!(
            c.proxy_command.as_deref(),
            Some("ip netns exec \"ns x\" nc 10.9.2.2 2022 # ann %")
        );
        assert!(c.proxy_jump.is_empty());
        let mut c = c;
        // -J wins over the file's ProxyCommand.
        c.set_proxy_jump("x@j").unwrap();
        assert_eq!(c.proxy_command, None);
        assert_eq!(c.proxy_jump.len(), 1);
        let plain = SftpConfig::new("h", 22, "u", RemoteRoot::Home(String::new()));
        assert!(plain.proxy_jump.is_empty() && plain.proxy_command.is_none());
    }
}
