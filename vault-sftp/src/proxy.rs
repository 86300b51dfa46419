//! `ProxyCommand`: a command run with `sh -c` whose stdin and stdout carry the connection to
//! the server, as in OpenSSH. (Jump hosts are resolved in `config` and connected in
//! `conn::hop`; the tests of both ways of reaching a server are here.)

use crate::SftpError;

/// A running proxy command: killed when the connection that uses it is dropped.
pub(crate) struct ProxyChild(#[allow(dead_code)] tokio::process::Child);

/// The stream a proxy command gives: its stdout to read, its stdin to write.
pub(crate) type ProxyStream =
    tokio::io::Join<tokio::process::ChildStdout, tokio::process::ChildStdin>;

/// Starts `sh -c "exec COMMAND"` (tokens were substituted by
/// [`crate::SftpConfig::from_url`]); as ssh does, `exec` leaves no shell in between, so the
/// process killed with the connection is the command itself. Its stderr goes where ours goes.
pub(crate) fn spawn_proxy_command(
    command: &str,
    hostport: &str,
) -> Result<(ProxyStream, ProxyChild), SftpError> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("exec {command}"))
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
    use crate::{JumpHost, RemoteRoot, SftpConfig, SftpError, parse_sftp_url};
    use std::path::PathBuf;

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

    struct Refuse;
    impl crate::Prompter for Refuse {
        fn secret(&self, _: &str) -> Result<zeroize::Zeroizing<String>, crate::PromptError> {
            Err(crate::PromptError("no".into()))
        }
        fn visible(&self, _: &str) -> Result<zeroize::Zeroizing<String>, crate::PromptError> {
            Err(crate::PromptError("no".into()))
        }
        fn confirm(&self, _: &str) -> bool {
            false
        }
    }

    /// A proxy command that says nothing and ends, or one that does not exist: the connection
    /// fails at once as unreachable (exit 5), naming the server; it never waits for the
    /// handshake limit.
    #[tokio::test]
    async fn a_proxy_command_that_ends_fails_the_connection_at_once() {
        for cmd in ["true", "/nonexistent/proxy %h"] {
            let mut cfg =
                SftpConfig::new("inner.example", 2222, "u", RemoteRoot::Home(String::new()));
            cfg.proxy_command = Some(cmd.into());
            cfg.connect_timeout = std::time::Duration::from_secs(30);
            let t = std::time::Instant::now();
            let err = crate::SftpStorage::connect(cfg, std::sync::Arc::new(Refuse))
                .await
                .unwrap_err();
            assert!(
                t.elapsed() < std::time::Duration::from_secs(5),
                "{cmd}: {:?}",
                t.elapsed()
            );
            assert_eq!(err.exit_code(), 5, "{cmd}: {err}");
            assert!(err.to_string().contains("inner.example:2222"), "{err}");
        }
    }
}
