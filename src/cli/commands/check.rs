//! `vault check [--repair] STORAGE`: health check; exit 6 when problems remain (harmless
//! leftovers of interrupted writes are printed as notes and do not count).
//! Without `--repair` the vault is opened read-only and nothing is written.

use vault_engine::check::{CheckProgress, check};

use crate::cli::Ctx;
use crate::cli::args::SecretArgs;
use crate::cli::escape::c_escape;
use crate::cli::exit::{CliError, CliResult, Exit};
use crate::cli::output::progress_items;
use crate::cli::secrets::Secrets;
use crate::cli::session;

struct Bar(indicatif::ProgressBar);

impl CheckProgress for Bar {
    fn node_checked(&self, _storage_path: &str) {
        self.0.inc(1);
    }
}

/// Runs the check and prints one line per problem on stdout, a summary on stderr.
pub async fn run(ctx: Ctx, storage_arg: &str, secrets: &SecretArgs, repair: bool) -> CliResult {
    let (vault, s3) =
        session::open_full(storage_arg, &Secrets::from_args(secrets), !repair).await?;
    let bar = Bar(progress_items(ctx.quiet));
    let report = check(&vault, repair, &bar)
        .await
        .map_err(|e| CliError::vault(storage_arg, &e))?;
    bar.0.finish_and_clear();
    if repair {
        vault
            .flush_all()
            .await
            .map_err(|e| CliError::vault(storage_arg, &e))?;
    }
    let (stale_found, stale_aborted) = match s3 {
        Some(s3) => stale_uploads(&s3, storage_arg, repair).await?,
        None => (0, 0),
    };
    for p in &report.problems {
        // Cleartext paths and descriptions may hold decrypted names: escaped.
        let what = match &p.cleartext_path {
            Some(c) => format!("{} ({})", c_escape(c), p.storage_path),
            None => p.storage_path.clone(),
        };
        let state = match (p.repaired, p.harmless) {
            (true, _) => "repaired",
            (false, true) => "note",
            (false, false) => "problem",
        };
        println!("{state}: {what}: {}", c_escape(&p.description));
    }
    let remaining = report.remaining().count();
    let repaired = report.problems.iter().filter(|p| p.repaired).count() + stale_aborted;
    let notes = report.problems.len() + stale_found + stale_aborted - remaining - repaired;
    let found = report.problems.len() + stale_found + stale_aborted - notes;
    let mut summary = format!(
        "checked {} nodes: {found} problem{} found, {repaired} repaired, {remaining} remaining",
        report.nodes_checked,
        if found == 1 { "" } else { "s" },
    );
    if notes > 0 {
        summary.push_str(&format!(
            "; {notes} harmless leftover{} of interrupted writes (vault check --repair removes them)",
            if notes == 1 { "" } else { "s" }
        ));
    }
    if remaining > 0 {
        let hint = if repair {
            ""
        } else {
            " (vault check --repair fixes what can be fixed without losing data)"
        };
        return Err(CliError::new(
            Exit::CheckProblems,
            format!("{summary}{hint}"),
        ));
    }
    if !ctx.quiet {
        eprintln!("{summary}");
    }
    Ok(())
}

/// On `s3://`: multipart uploads under the prefix older than a day (a client killed mid-upload
/// left them; their parts are billed): notes, aborted by `--repair`. Returns (found, aborted).
async fn stale_uploads(
    s3: &vault_s3::S3Storage,
    storage_arg: &str,
    repair: bool,
) -> CliResult<(usize, usize)> {
    let Some(uploads) = s3
        .stale_uploads(crate::cli::s3_arg::STALE_UPLOAD_AGE, repair)
        .await
        .map_err(|e| {
            CliError::new(
                Exit::Unreachable,
                format!("{storage_arg}: listing unfinished multipart uploads: {e}"),
            )
        })?
    else {
        tracing::info!(
            "{storage_arg}: the store cannot list multipart uploads; a lifecycle rule cleans up stale ones"
        );
        return Ok((0, 0));
    };
    for u in &uploads {
        let since = u
            .initiated
            .map(|t| format!(" started {} UTC", crate::cli::output::format_time(Some(t))))
            .unwrap_or_default();
        let (state, what) = if repair {
            ("repaired", "aborted")
        } else {
            ("note", "vault check --repair aborts it")
        };
        println!(
            "{state}: {}: an unfinished multipart upload{since}: {what}",
            c_escape(&u.key)
        );
    }
    Ok(if repair {
        (0, uploads.len())
    } else {
        (uploads.len(), 0)
    })
}
