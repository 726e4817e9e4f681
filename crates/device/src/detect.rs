//! `device_type: autodetect`: finding a device's platform from what it shows anyway — its
//! SSH ident and its prompt — and, only when those leave several candidates, one
//! show-version-style command. At most one round trip more than a known device type.
//!
//! Candidates come from the platform table's `detect` hints: a platform whose ident pattern
//! matches is preferred to those without one; one whose ident pattern does not match is out.
//! The prompt keeps the candidates that recognise it; the command's output picks among them.

use std::sync::Arc;

use netsweep_platform::{Channel, Platform};
use netsweep_protocol::Stage;

use crate::cli_session::read_until_prompt;
use crate::cli_stream::CliStream;
use crate::deadline::Deadline;
use crate::error::SessionError;
use crate::text;

/// The platforms an SSH ident allows, most specific first.
pub(crate) fn candidates_for_ident(ident: &str) -> Vec<Arc<Platform>> {
    let all = netsweep_platform::builtin().platforms();
    let named: Vec<Arc<Platform>> = all
        .iter()
        .filter(|p| p.regexes().ident_matches(ident) == Some(true))
        .cloned()
        .collect();
    if !named.is_empty() {
        return named;
    }
    all.iter()
        .filter(|p| p.regexes().ident_matches(ident).is_none())
        .cloned()
        .collect()
}

/// The login-name suffix every candidate agrees on (RouterOS' terminal options), if any.
pub(crate) fn common_username_suffix(candidates: &[Arc<Platform>]) -> Option<String> {
    let first = candidates.first()?.spec().username_suffix.clone()?;
    candidates
        .iter()
        .all(|p| p.spec().username_suffix.as_deref() == Some(first.as_str()))
        .then_some(first)
}

/// Whether every candidate is driven over exec channels (a Unix host), so no shell is needed.
pub(crate) fn all_exec(candidates: &[Arc<Platform>]) -> bool {
    !candidates.is_empty() && candidates.iter().all(|p| p.spec().channel == Channel::Exec)
}

/// The platform found on a logged-in CLI `stream`, and its prompt line as read.
pub(crate) struct Found {
    pub(crate) platform: Arc<Platform>,
    pub(crate) prompt: String,
    /// Whether a detect command was sent (the round trip autodetect may cost).
    pub(crate) asked: bool,
}

/// Reads the prompt with every candidate's patterns and, if more than one recognises it,
/// sends the first one's detect command and keeps the one whose output pattern matches.
pub(crate) fn on_cli<S: CliStream>(
    stream: &mut S,
    candidates: Vec<Arc<Platform>>,
    deadline: &Deadline,
) -> Result<Found, SessionError> {
    // Exec platforms are candidates too: a Unix host shows a shell prompt.
    let cli = candidates;
    let strip_ansi = cli.iter().any(|p| p.spec().strip_ansi);
    let mut buf = vec![0u8; 64 * 1024];
    stream.write_all(b"\n", deadline, Stage::Prompt)?;
    let (prompt, matching) = read_until_prompt(stream, &mut buf, deadline, strip_ansi, |line| {
        let matching: Vec<Arc<Platform>> = cli
            .iter()
            .filter(|p| p.regexes().prompt(line).is_some())
            .cloned()
            .collect();
        (!matching.is_empty()).then_some(matching)
    })?;
    tracing::debug!(prompt = %prompt, candidates = matching.len(), "autodetect: prompt read");
    if matching.len() == 1 {
        return Ok(Found {
            platform: Arc::clone(&matching[0]),
            prompt,
            asked: false,
        });
    }
    let Some(command) = matching
        .iter()
        .find_map(|p| p.spec().detect.as_ref().and_then(|d| d.command.clone()))
    else {
        return Ok(Found {
            platform: Arc::clone(&matching[0]),
            prompt,
            asked: false,
        });
    };
    let output = run_raw(stream, &mut buf, &command, &prompt, &matching, deadline)?;
    let chosen = matching
        .iter()
        .find(|p| p.regexes().output_matches(&output) == Some(true))
        .cloned()
        .ok_or_else(|| SessionError::Undetected {
            detail: format!(
                "prompt {prompt:?} and the output of {command:?} match none of {}",
                names(&matching)
            ),
        })?;
    Ok(Found {
        platform: chosen,
        prompt,
        asked: true,
    })
}

fn names(platforms: &[Arc<Platform>]) -> String {
    let names: Vec<&str> = platforms.iter().map(|p| p.name()).collect();
    names.join(", ")
}

/// Sends `command` before paging is set up and reads its output until `prompt` shows again,
/// answering any candidate's pager. The output starts after the command's echo, so a prompt
/// still on its way from before can never end it early.
fn run_raw<S: CliStream>(
    stream: &mut S,
    buf: &mut [u8],
    command: &str,
    prompt: &str,
    candidates: &[Arc<Platform>],
    deadline: &Deadline,
) -> Result<String, SessionError> {
    let stage = Stage::Prompt;
    stream.write_all(format!("{command}\n").as_bytes(), deadline, stage)?;
    let mut seen: Vec<u8> = Vec::new();
    let mut echoed = false;
    loop {
        let n = stream.read_some(buf, deadline, stage)?;
        if n == 0 {
            return Err(SessionError::Lost {
                stage,
                source: None,
            });
        }
        seen.extend_from_slice(&buf[..n]);
        if !echoed {
            let echo = command.as_bytes();
            match seen.windows(echo.len()).position(|w| w == echo) {
                Some(at) => match seen[at..].iter().position(|&b| b == b'\n') {
                    Some(nl) => {
                        seen.drain(..at + nl + 1);
                        echoed = true;
                    }
                    None => continue,
                },
                None => continue,
            }
        }
        let (last, len) = text::last_line(&seen, true);
        if last == prompt {
            seen.truncate(seen.len() - len);
            return Ok(text::clean(&seen, true).0);
        }
        if let Some(pager) = candidates
            .iter()
            .filter(|p| p.regexes().is_pager(&last))
            .find_map(|p| p.spec().pager.as_ref())
        {
            seen.truncate(seen.len() - len);
            stream.write_all(pager.answer.as_bytes(), deadline, stage)?;
        }
        if seen.len() > 4 * 1024 * 1024 {
            return Err(SessionError::Undetected {
                detail: format!("{command:?} did not end with the prompt {prompt:?}"),
            });
        }
    }
}
