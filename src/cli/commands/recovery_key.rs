//! `vault recovery-key show|reset STORAGE`: Cryptomator's 44-word recovery key (docs/vault-format.md §12).
//!
//! The word list is the Cryptomator desktop application's `4096words_en.txt`, which is
//! GPL-3.0: this MIT/Apache-2.0 project neither ships nor embeds it. The user supplies it:
//! `--word-list FILE`, else `VAULT_RECOVERY_WORDLIST` (a path, not a secret), else
//! `$XDG_DATA_HOME/vault/4096words_en.txt` (default `~/.local/share/...`),
//! `/usr/local/share/vault/4096words_en.txt`, `/usr/share/vault/4096words_en.txt`. A list
//! whose normalised SHA-256 is not the official one is refused.
//!
//! The words are as secret as the key: printed on stdout only, never logged; every buffer
//! holding them is zeroized.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;
use vault_engine::{Vault, VaultError};
use vault_format::recovery_key::{self, OFFICIAL_WORD_LIST_FILE_NAME, WordList};
use zeroize::Zeroizing;

use crate::cli::Ctx;
use crate::cli::args::SecretArgs;
use crate::cli::exit::{CliError, CliResult, Exit};
use crate::cli::secrets::{Secrets, new_vault_prompt};
use crate::cli::session;
use crate::cli::storage_arg::io_text;

/// Where the official list is published (for error messages).
const UPSTREAM: &str = "https://github.com/cryptomator/cryptomator/blob/develop/src/main/resources/i18n/4096words_en.txt";
/// Larger files are not a word list (the official one is 29 KB).
const MAX_LIST_BYTES: u64 = 1 << 20;
/// Larger files are not a recovery key (44 words are about 300 bytes).
const MAX_KEY_BYTES: u64 = 64 * 1024;

/// The prompt for the recovery key (askpass programs match it).
pub fn recovery_prompt(storage: &str) -> String {
    format!("Recovery key for {storage}: ")
}

/// `vault recovery-key show`: the words on stdout, one line.
pub async fn show(
    ctx: Ctx,
    storage_arg: &str,
    secrets: &SecretArgs,
    word_list: Option<&Path>,
) -> CliResult {
    // The list first: no password is asked for when the words cannot be written anyway.
    let list = load_word_list(word_list)?;
    let secrets = Secrets::from_args(secrets);
    let storage = session::connect_existing(storage_arg, &secrets).await?;
    let password = secrets.vault_password(storage_arg)?;
    let key = Vault::unlock_master_key(storage, password.expose_secret())
        .await
        .map_err(|e| CliError::vault(storage_arg, &e))?;
    drop(password);
    let words = recovery_key::encode(&key, &list);
    drop(key);
    let mut line = Zeroizing::new(String::with_capacity(words.len() + 1));
    line.push_str(&words);
    line.push('\n');
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CliError::other(format!("cannot write the recovery key: {}", io_text(&e))))?;
    if !ctx.quiet && std::io::stdout().is_terminal() {
        eprintln!(
            "These 44 words are the vault's keys: whoever has them can open {storage_arg} and set its password. Keep them offline."
        );
    }
    Ok(())
}

/// `vault recovery-key reset`: a new password from the recovery key.
pub async fn reset(
    ctx: Ctx,
    storage_arg: &str,
    secret_args: &SecretArgs,
    word_list: Option<&Path>,
    recovery_key_file: Option<&Path>,
    new_password_file: Option<&Path>,
) -> CliResult {
    if secret_args.password_file.is_some() {
        return Err(CliError::usage(
            "recovery-key reset does not use the current password (--password-file); give the new one with --new-password-file FILE",
        ));
    }
    let list = load_word_list(word_list)?;
    let secrets = Secrets::from_args(secret_args);
    let storage = session::connect_existing(storage_arg, &secrets).await?;
    let text = read_recovery_key(&secrets, storage_arg, recovery_key_file)?;
    let key = recovery_key::decode(&text, &list).map_err(|e| {
        CliError::new(
            Exit::Auth,
            format!("invalid recovery key for {storage_arg}: {e}; nothing was changed"),
        )
    })?;
    drop(text);
    let not_this_vault = |e: VaultError| match e {
        VaultError::WrongPassword => CliError::new(
            Exit::Auth,
            format!(
                "the recovery key does not belong to the vault at {storage_arg} (it is well-formed, but another vault's); nothing was changed"
            ),
        ),
        other => CliError::vault(storage_arg, &other),
    };
    // Before the new password is asked for and before anything is written.
    Vault::verify_master_key(storage.clone(), &key)
        .await
        .map_err(not_this_vault)?;
    let new = secrets
        .new_password(&new_vault_prompt(storage_arg), new_password_file)
        .map_err(|e| match e.exit {
            Exit::Usage => CliError::usage(
                "the new password is needed but stdin is not a terminal: use --new-password-file FILE or --askpass CMD; nothing was changed",
            ),
            _ => e,
        })?;
    let backup = Vault::reset_password(storage, &key, new.expose_secret())
        .await
        .map_err(not_this_vault)?;
    if !ctx.quiet {
        match backup {
            Some(name) => eprintln!(
                "Password of {storage_arg} set from the recovery key; the old masterkey file is kept as {name}"
            ),
            None => eprintln!("Password of {storage_arg} set from the recovery key"),
        }
    }
    Ok(())
}

/// The recovery key: `--recovery-key-file FILE` (`-` = stdin; all lines, any whitespace),
/// else askpass or a no-echo terminal prompt.
fn read_recovery_key(
    secrets: &Secrets,
    storage_arg: &str,
    file: Option<&Path>,
) -> CliResult<Zeroizing<String>> {
    if let Some(file) = file {
        let shown = file.display();
        // Room for the whole limit up front: the buffer never reallocates, so no
        // unzeroized copy of the key is left behind by a growing Vec.
        let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_KEY_BYTES as usize + 1));
        let read = if file == Path::new("-") {
            std::io::stdin()
                .lock()
                .take(MAX_KEY_BYTES + 1)
                .read_to_end(&mut bytes)
        } else {
            std::fs::File::open(file)
                .and_then(|f| f.take(MAX_KEY_BYTES + 1).read_to_end(&mut bytes))
        };
        read.map_err(|e| {
            CliError::other(format!(
                "cannot read recovery key file {shown}: {}",
                io_text(&e)
            ))
        })?;
        if bytes.len() as u64 > MAX_KEY_BYTES {
            return Err(CliError::new(
                Exit::Auth,
                format!(
                    "recovery key file {shown} is too large to hold a recovery key; nothing was changed"
                ),
            ));
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            CliError::new(
                Exit::Auth,
                format!("recovery key file {shown} is not UTF-8 text; nothing was changed"),
            )
        })?;
        return Ok(Zeroizing::new(text.to_owned()));
    }
    match secrets.ask(&recovery_prompt(storage_arg)) {
        Ok(s) => Ok(Zeroizing::new(s.expose_secret().to_owned())),
        Err(e) if e.exit == Exit::Usage => Err(CliError::usage(
            "the recovery key is needed but stdin is not a terminal: use --recovery-key-file FILE (or -) or --askpass CMD",
        )),
        Err(e) => Err(e),
    }
}

/// The well-known places, in order.
fn well_known_paths() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|h| h.join(".local/share"))
        });
    if let Some(d) = data_home {
        out.push(d.join("vault").join(OFFICIAL_WORD_LIST_FILE_NAME));
    }
    for prefix in ["/usr/local/share/vault", "/usr/share/vault"] {
        out.push(Path::new(prefix).join(OFFICIAL_WORD_LIST_FILE_NAME));
    }
    out
}

/// Where to get the list and where to put it (one sentence for error messages).
fn how_to_install() -> String {
    let user_path = well_known_paths().into_iter().next().unwrap_or_else(|| {
        PathBuf::from("/usr/local/share/vault").join(OFFICIAL_WORD_LIST_FILE_NAME)
    });
    format!(
        "download {OFFICIAL_WORD_LIST_FILE_NAME} from the Cryptomator desktop repository ({UPSTREAM}; GPL-3.0, which is why vault does not ship it) and save it as {} or /usr/local/share/vault/{OFFICIAL_WORD_LIST_FILE_NAME}, or pass --word-list FILE or set VAULT_RECOVERY_WORDLIST",
        user_path.display()
    )
}

/// Loads and checks the word list (`explicit` = `--word-list` or `VAULT_RECOVERY_WORDLIST`).
fn load_word_list(explicit: Option<&Path>) -> CliResult<WordList> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => well_known_paths()
            .into_iter()
            .find(|p| p.is_file())
            .ok_or_else(|| {
                CliError::other(format!(
                    "the recovery-key word list is not installed: {}",
                    how_to_install()
                ))
            })?,
    };
    let shown = path.display();
    let mut bytes = Vec::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(MAX_LIST_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| {
            CliError::other(format!(
                "cannot read the recovery-key word list {shown}: {}; {}",
                io_text(&e),
                how_to_install()
            ))
        })?;
    let bad = |why: String| {
        CliError::other(format!(
            "{shown} is not the official recovery-key word list ({why}): {}",
            how_to_install()
        ))
    };
    if bytes.len() as u64 > MAX_LIST_BYTES {
        return Err(bad("too large".into()));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| bad("not UTF-8 text".into()))?;
    let list = WordList::parse(text).map_err(|e| bad(e.to_string()))?;
    if !list.is_official() {
        return Err(bad("its words differ".into()));
    }
    Ok(list)
}
