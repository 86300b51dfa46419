//! The secrets a detached `vault mount` hands its daemon: the parent encodes the answers it
//! collected onto the daemon's stdin, the daemon reads and decodes them before anything else.
//! A pipe and never argv or the environment, so no other process can read them.

use zeroize::Zeroizing;

use crate::cli::exit::{CliError, CliResult};
use crate::cli::reauth;
use crate::cli::secrets::Answer;

/// The parent → daemon secret hand-over: a line with the count, then for each answer a prompt
/// line and an answer line (neither holds a newline: prompts are ours, answers are first
/// lines). The pipe stays open afterwards for the daemon's questions (`reauth`).
pub(super) fn encode_answers(answers: &[Answer]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(format!("{}\n", answers.len()).into_bytes());
    for (prompt, answer) in answers {
        out.extend_from_slice(prompt.replace('\n', " ").as_bytes());
        out.push(b'\n');
        out.extend_from_slice(answer.as_bytes());
        out.push(b'\n');
    }
    out
}

pub(super) fn decode_answers(input: &[u8]) -> Option<Vec<Answer>> {
    let text = std::str::from_utf8(input).ok()?;
    let mut lines = text.split_terminator('\n');
    let count: usize = lines.next()?.parse().ok()?;
    let mut out = Vec::new();
    while let Some(prompt) = lines.next() {
        let answer = lines.next()?;
        out.push((prompt.to_string(), Zeroizing::new(answer.to_string())));
    }
    (out.len() == count).then_some(out)
}

/// Reads the hand-over block of [`encode_answers`] from the parent (fd 0, unbuffered).
pub(super) fn read_parent_block() -> CliResult<Zeroizing<Vec<u8>>> {
    let fail =
        |why: String| CliError::other(format!("cannot read the secrets from the parent: {why}"));
    let mut out = Zeroizing::new(Vec::new());
    let first = reauth::read_parent_line()
        .map_err(|e| fail(e.to_string()))?
        .ok_or_else(|| fail("nothing received".into()))?;
    let count: usize = first
        .parse()
        .ok()
        .filter(|n| *n <= 1000)
        .ok_or_else(|| fail("garbled".into()))?;
    out.extend_from_slice(first.as_bytes());
    out.push(b'\n');
    for _ in 0..2 * count {
        let line = reauth::read_parent_line()
            .map_err(|e| fail(e.to_string()))?
            .ok_or_else(|| fail("cut short".into()))?;
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    Ok(out)
}
