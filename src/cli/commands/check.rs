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
    let vault = session::open(storage_arg, &Secrets::from_args(secrets), !repair).await?;
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
    let repaired = report.problems.iter().filter(|p| p.repaired).count();
    let notes = report.problems.len() - remaining - repaired;
    let found = report.problems.len() - notes;
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
