//! Logging in over an established SSH session: the server's method list in
//! its order (partial success included), public keys (agent or key files
//! with passphrases), keyboard-interactive and password.

use russh::client::{self, AuthResult, KeyboardInteractiveAuthResponse};
use russh::keys::PrivateKeyWithHashAlg;
use russh::keys::agent::client::AgentClient;
use russh::keys::ssh_key::{HashAlg, PrivateKey};
use russh::{MethodKind, MethodSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tracing::debug;
use zeroize::Zeroizing;

use super::{ClientHandler, ConnCtx, Hop, ask, map_russh};
use crate::{ServerQuestion, SftpError};

/// Keyboard-interactive rounds started again in one session after the
/// prompter said a new answer can be had (see [`crate::Prompter::refused`]).
const MAX_KBD_RETRIES: usize = 3;

impl ConnCtx {
    /// Logs in with whatever the server asks for, in its order, including
    /// partial success (`AuthenticationMethods publickey,keyboard-interactive`).
    pub(super) async fn authenticate(
        &self,
        hop: &Hop,
        handle: &mut client::Handle<ClientHandler>,
        server: &str,
    ) -> Result<(), SftpError> {
        let hostport = hop.hostport();
        let user = hop.user.clone();
        let mut remaining = match handle
            .authenticate_none(user.clone())
            .await
            .map_err(|e| map_russh(e, &hostport))?
        {
            AuthResult::Success => return Ok(()),
            AuthResult::Failure {
                remaining_methods, ..
            } => remaining_methods,
        };
        let mut tried: Vec<&str> = Vec::new();
        let (mut did_pubkey, mut did_kbd, mut did_password) = (false, false, false);
        loop {
            debug!(?remaining, "server accepts");
            let step = if remaining.contains(&MethodKind::PublicKey) && !did_pubkey {
                did_pubkey = true;
                tried.push("publickey");
                self.auth_publickey(hop, handle).await?
            } else if remaining.contains(&MethodKind::KeyboardInteractive) && !did_kbd {
                did_kbd = true;
                tried.push("keyboard-interactive");
                self.auth_kbd_interactive(hop, handle, server).await?
            } else if remaining.contains(&MethodKind::Password) && !did_password {
                did_password = true;
                tried.push("password");
                self.auth_password(hop, handle).await?
            } else {
                return Err(SftpError::PermissionDenied {
                    host: hop.user_at_host(),
                    methods: method_names(&remaining),
                    tried: if tried.is_empty() {
                        "nothing usable".into()
                    } else {
                        tried.join(", ")
                    },
                });
            };
            match step {
                Step::Success => return Ok(()),
                Step::Continue(rest) => {
                    // A method that succeeded partially may be asked again by
                    // some servers (e.g. publickey,publickey): allow one repeat.
                    if rest.contains(&MethodKind::PublicKey) && tried.last() == Some(&"publickey") {
                        did_pubkey = false;
                        tried.pop();
                        tried.push("publickey (partial)");
                    }
                    remaining = rest;
                }
                Step::Failed(rest) => remaining = rest,
            }
        }
    }

    async fn auth_publickey(
        &self,
        hop: &Hop,
        handle: &mut client::Handle<ClientHandler>,
    ) -> Result<Step, SftpError> {
        let hostport = hop.hostport();
        let user = hop.user.clone();
        let mut last = Step::Failed(MethodSet::from(&[MethodKind::PublicKey][..]));
        if self.cfg.use_agent && std::env::var_os("SSH_AUTH_SOCK").is_some() {
            match AgentClient::connect_env().await {
                Ok(mut agent) => {
                    let ids = agent.request_identities().await.unwrap_or_default();
                    for id in ids {
                        let key = id.public_key().into_owned();
                        let hash = if key.algorithm().is_rsa() {
                            self.rsa_hash(handle).await
                        } else {
                            None
                        };
                        match handle
                            .authenticate_publickey_with(user.clone(), key, hash, &mut agent)
                            .await
                        {
                            Ok(r) => {
                                last = Step::from(r);
                                if !matches!(last, Step::Failed(_)) {
                                    return Ok(last);
                                }
                            }
                            Err(e) => debug!("agent signing failed: {e}"),
                        }
                    }
                }
                Err(e) => debug!("ssh-agent not usable: {e}"),
            }
        }
        for file in &hop.identity_files {
            let Some(key) = self.load_key(file).await? else {
                continue;
            };
            let hash = if key.algorithm().is_rsa() {
                self.rsa_hash(handle).await
            } else {
                None
            };
            let r = handle
                .authenticate_publickey(
                    user.clone(),
                    PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                )
                .await
                .map_err(|e| map_russh(e, &hostport))?;
            last = Step::from(r);
            if !matches!(last, Step::Failed(_)) {
                return Ok(last);
            }
            debug!(key = %file.display(), "key not accepted");
        }
        Ok(last)
    }

    async fn rsa_hash(&self, handle: &client::Handle<ClientHandler>) -> Option<HashAlg> {
        match handle.best_supported_rsa_hash().await {
            Ok(Some(h)) => h,
            // No server-sig-algs: every OpenSSH since 7.2 takes rsa-sha2-512.
            _ => Some(HashAlg::Sha512),
        }
    }

    /// Loads a private key; asks its passphrase once and keeps it for reconnects.
    async fn load_key(&self, file: &Path) -> Result<Option<PrivateKey>, SftpError> {
        let text = match tokio::fs::read_to_string(file).await {
            Ok(t) => Zeroizing::new(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(SftpError::BadKeyFile {
                    key: file.to_path_buf(),
                    reason: e.to_string(),
                });
            }
        };
        // Key derivation is local CPU work, not network time (see `bounded`).
        self.activity.prompting.fetch_add(1, Ordering::SeqCst);
        let plain = {
            let text = text.clone();
            tokio::task::spawn_blocking(move || russh::keys::decode_secret_key(&text, None)).await
        };
        self.activity.prompting.fetch_sub(1, Ordering::SeqCst);
        let err = match plain {
            Ok(Ok(k)) => return Ok(Some(k)),
            Ok(Err(e)) => e,
            Err(e) => {
                return Err(SftpError::BadKeyFile {
                    key: file.to_path_buf(),
                    reason: e.to_string(),
                });
            }
        };
        let encrypted =
            matches!(err, russh::keys::Error::KeyIsEncrypted) || text.contains("ENCRYPTED");
        if !encrypted {
            return Err(SftpError::BadKeyFile {
                key: file.to_path_buf(),
                reason: err.to_string(),
            });
        }
        if text.contains("-----BEGIN EC PRIVATE KEY-----") && text.contains("DEK-Info:") {
            return Err(SftpError::BadKeyFile {
                key: file.to_path_buf(),
                reason: "passphrase-protected legacy PEM ECDSA keys are not supported; convert the key to the \
                         OpenSSH format with: ssh-keygen -p -f FILE"
                    .into(),
            });
        }
        let held = self
            .secrets
            .lock()
            .ok()
            .and_then(|s| s.passphrases.get(file).cloned());
        let pass = match held {
            Some(p) => p,
            None => {
                let prompt = format!("Passphrase for key {}: ", file.display());
                ask(&self.prompter, &self.activity, move |p| p.secret(&prompt))
                    .await?
                    .map_err(|e| SftpError::PromptFailed {
                        what: format!("the passphrase of {}", file.display()),
                        reason: e.0,
                    })?
            }
        };
        self.activity.prompting.fetch_add(1, Ordering::SeqCst);
        let decoded = {
            let (text, pass) = (text.clone(), pass.clone());
            tokio::task::spawn_blocking(move || {
                russh::keys::decode_secret_key(&text, Some(pass.as_str()))
            })
            .await
        };
        self.activity.prompting.fetch_sub(1, Ordering::SeqCst);
        self.activity.touch();
        match decoded {
            Ok(Ok(k)) => {
                if let Ok(mut s) = self.secrets.lock() {
                    s.passphrases.insert(file.to_path_buf(), pass);
                }
                Ok(Some(k))
            }
            Ok(Err(e)) => {
                debug!("key decode with passphrase failed: {e}");
                if let Ok(mut s) = self.secrets.lock() {
                    s.passphrases.remove(file);
                }
                Err(SftpError::WrongPassphrase {
                    key: file.to_path_buf(),
                })
            }
            Err(e) => Err(SftpError::BadKeyFile {
                key: file.to_path_buf(),
                reason: e.to_string(),
            }),
        }
    }

    /// Keyboard-interactive: every text of the server reaches the prompter marked as the
    /// server's (`[sftp USER@HOST] …`, see [`crate::text`]); answers come from
    /// [`Prompter::server`], never from a local secret.
    async fn auth_kbd_interactive(
        &self,
        hop: &Hop,
        handle: &mut client::Handle<ClientHandler>,
        server: &str,
    ) -> Result<Step, SftpError> {
        let hostport = hop.hostport();
        let mut answered: Vec<String> = Vec::new();
        let mut retries = 0;
        let mut reply = handle
            .authenticate_keyboard_interactive_start(hop.user.clone(), None)
            .await
            .map_err(|e| map_russh(e, &hostport))?;
        // Bounded: a server that keeps asking forever is cut off.
        for _ in 0..16 + 4 * MAX_KBD_RETRIES {
            match reply {
                KeyboardInteractiveAuthResponse::Success => return Ok(Step::Success),
                KeyboardInteractiveAuthResponse::Failure {
                    remaining_methods,
                    partial_success,
                } => {
                    if partial_success {
                        return Ok(Step::Continue(remaining_methods));
                    }
                    if answered.is_empty() {
                        return Ok(Step::Failed(remaining_methods));
                    }
                    // The prompter may have another source now (a replayed
                    // answer was refused, a person can be asked): try again in
                    // this session, a bounded number of times.
                    if retries < MAX_KBD_RETRIES
                        && remaining_methods.contains(&MethodKind::KeyboardInteractive)
                        && self.prompter.refused(&answered)
                    {
                        retries += 1;
                        debug!(retries, "keyboard-interactive refused; asking again");
                        answered.clear();
                        reply = handle
                            .authenticate_keyboard_interactive_start(hop.user.clone(), None)
                            .await
                            .map_err(|e| map_russh(e, &hostport))?;
                        continue;
                    }
                    return Err(SftpError::KeyboardInteractiveRejected {
                        host: hop.user_at_host(),
                        prompt: answered.join(" / "),
                    });
                }
                KeyboardInteractiveAuthResponse::InfoRequest {
                    name,
                    instructions,
                    prompts,
                } => {
                    let text = [name.trim(), instructions.trim()]
                        .iter()
                        .filter(|s| !s.is_empty())
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("\n");
                    if !text.is_empty() {
                        let text = crate::text::server_text(&hop.user_at_host(), &text);
                        let _ =
                            ask(&self.prompter, &self.activity, move |p| p.message(&text)).await;
                    }
                    let mut responses = Vec::with_capacity(prompts.len());
                    for pr in prompts {
                        let q = ServerQuestion {
                            server: server.to_owned(),
                            shown: crate::text::server_text(&hop.user_at_host(), &pr.prompt),
                            prompt: pr.prompt,
                            echo: pr.echo,
                        };
                        let shown = q.shown.trim().to_owned();
                        let answer = ask(&self.prompter, &self.activity, move |p| p.server(&q))
                            .await?
                            .map_err(|e| SftpError::PromptFailed {
                                what: format!("{shown:?}"),
                                reason: e.0,
                            })?;
                        answered.push(shown);
                        // russh takes plain Strings; the copy lives until the message is sent.
                        responses.push(String::from(answer.as_str()));
                    }
                    reply = handle
                        .authenticate_keyboard_interactive_respond(responses)
                        .await
                        .map_err(|e| map_russh(e, &hostport))?;
                }
            }
        }
        Err(SftpError::Ssh(
            "the server kept asking keyboard-interactive questions".into(),
        ))
    }

    async fn auth_password(
        &self,
        hop: &Hop,
        handle: &mut client::Handle<ClientHandler>,
    ) -> Result<Step, SftpError> {
        let hostport = hop.hostport();
        let held = self
            .secrets
            .lock()
            .ok()
            .and_then(|s| s.passwords.get(&hostport).cloned());
        let pw = match held {
            Some(p) => p,
            None => {
                let prompt = format!("Password for {}: ", hop.user_at_host());
                ask(&self.prompter, &self.activity, move |p| p.secret(&prompt))
                    .await?
                    .map_err(|e| SftpError::PromptFailed {
                        what: "the password".into(),
                        reason: e.0,
                    })?
            }
        };
        let r = handle
            .authenticate_password(hop.user.clone(), String::from(pw.as_str()))
            .await
            .map_err(|e| map_russh(e, &hostport))?;
        match Step::from(r) {
            Step::Failed(_) => {
                if let Ok(mut s) = self.secrets.lock() {
                    s.passwords.remove(&hostport);
                }
                Err(SftpError::PasswordRejected {
                    host: hop.user_at_host(),
                })
            }
            ok => {
                if let Ok(mut s) = self.secrets.lock() {
                    s.passwords.insert(hostport.clone(), pw);
                }
                Ok(ok)
            }
        }
    }
}

enum Step {
    Success,
    /// Partial success: continue with these.
    Continue(MethodSet),
    /// This method failed; the server still accepts these.
    Failed(MethodSet),
}

impl From<AuthResult> for Step {
    fn from(r: AuthResult) -> Self {
        match r {
            AuthResult::Success => Step::Success,
            AuthResult::Failure {
                remaining_methods,
                partial_success: true,
            } => Step::Continue(remaining_methods),
            AuthResult::Failure {
                remaining_methods,
                partial_success: false,
            } => Step::Failed(remaining_methods),
        }
    }
}

fn method_names(m: &MethodSet) -> String {
    let names: Vec<&str> = m.iter().map(<&str>::from).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(",")
    }
}
