//! A configuration change inside a CLI session, driven by the platform table's
//! configuration-mode data: enter, send each line and watch its answer for the platform's
//! failure indicators, commit (or discard) where the platform commits, leave, save.
//!
//! Every command the change sends is kept in the session's outputs and named in the
//! [`ChangeReport`], so the record says exactly what was run. A refused line is not a session
//! error: the session goes on (discarding the candidate, leaving configuration mode) and the
//! report carries the line and the answer, from which the record's `config_error` comes.
//! Nothing here knows a platform by name.

use netsweep_platform::Platform;
use netsweep_protocol::{ChangeReport, CommandOutput, ConfigChange, RejectedLine};

use crate::cli_session::CliSession;
use crate::cli_stream::CliStream;
use crate::error::{CommandFailure, SessionError};

/// The platform's named command that prints the running configuration.
const RUNNING_CONFIG: &str = "running-config";

/// Applies `change` over `cli` (already privileged), keeping each command's output in
/// `outputs` and the change's account in `report`, which holds whatever was done even when
/// the session fails half way.
pub(crate) fn apply<S: CliStream>(
    cli: &mut CliSession<'_, S>,
    platform: Option<&Platform>,
    change: &ConfigChange,
    outputs: &mut Vec<CommandOutput>,
    report: &mut ChangeReport,
) -> Result<(), SessionError> {
    let Some((platform, mode)) = platform.and_then(|p| Some((p, p.spec().config.as_ref()?))) else {
        report.rejected = Some(RejectedLine {
            line: String::new(),
            answer: "the platform has no configuration mode in netsweep's platform table".into(),
        });
        return Ok(());
    };
    let running_config = platform.spec().commands.get(RUNNING_CONFIG);
    let before = match (change.diff, running_config) {
        (true, Some(command)) => Some(quiet(cli.send_command(command))?.output),
        _ => None,
    };
    if change.check && mode.commit.is_none() {
        // Without a candidate there is nothing to ask the device without changing it.
        report.check = Some(format!(
            "not checked: {} applies each line at once, so nothing was sent; the lines were rendered",
            platform.name()
        ));
        return Ok(());
    }

    let mut session = Exchange {
        cli,
        outputs,
        report,
    };
    if let Some(answer) = session.command(&mode.enter)? {
        session.report.rejected = Some(RejectedLine {
            line: mode.enter.clone(),
            answer,
        });
        return Ok(());
    }
    for line in &change.lines {
        let out = keep(session.cli.send_command(line), session.outputs)?;
        match refusal(&out) {
            Some(answer) => {
                session.report.rejected = Some(RejectedLine {
                    line: line.clone(),
                    answer,
                });
                break;
            }
            None => session.report.applied.push(line.clone()),
        }
    }

    match &mode.commit {
        Some(commit) if session.report.rejected.is_some() || change.check => {
            if change.check && session.report.rejected.is_none() {
                let check = format!("{} check", commit.command);
                let answer = session.command(&check)?;
                session.report.check = Some(match answer {
                    Some(refused) => format!("refused: {refused}"),
                    None => "the device accepts the change".into(),
                });
            }
            session.command(&commit.abort)?;
            session.report.discarded = true;
        }
        Some(commit) => {
            let first = match change.confirm_minutes {
                Some(minutes) => format!("{} confirmed {minutes}", commit.command),
                None => commit.command.clone(),
            };
            if let Some(answer) = session.command(&first)? {
                session.report.rejected = Some(RejectedLine {
                    line: first,
                    answer,
                });
                session.command(&commit.abort)?;
                session.report.discarded = true;
            } else {
                if change.confirm_minutes.is_some() {
                    // A second commit confirms the first; without it the device rolls back.
                    session.command(&commit.command)?;
                }
                session.report.committed = true;
            }
        }
        None => {}
    }
    session.command(&mode.exit)?;

    if change.save
        && mode.commit.is_none()
        && session.report.rejected.is_none()
        && let Some(save) = &mode.save
    {
        let answer = match &save.confirm {
            Some(confirm) => {
                let regexes = platform.regexes();
                let asks = |line: &str| regexes.asks_save_confirmation(line);
                session.report.ran.push(save.command.clone());
                let out = keep(
                    session
                        .cli
                        .send_answering(&save.command, &asks, &confirm.answer),
                    session.outputs,
                )?;
                refusal(&out)
            }
            None => session.command(&save.command)?,
        };
        match answer {
            Some(answer) => {
                session.report.rejected = Some(RejectedLine {
                    line: save.command.clone(),
                    answer,
                })
            }
            None => session.report.saved = true,
        }
    }

    if let (Some(before), Some(command)) = (before, running_config) {
        let after = quiet(session.cli.send_command(command))?.output;
        session.report.diff = Some(unified_diff(&before, &after));
    }
    Ok(())
}

/// The running configuration's change as a unified diff (empty when nothing changed).
pub(crate) fn unified_diff(before: &str, after: &str) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header("running-config before", "running-config after")
        .to_string()
}

/// The session, its outputs and the report, for the commands a change sends.
struct Exchange<'a, 'd, S: CliStream> {
    cli: &'a mut CliSession<'d, S>,
    outputs: &'a mut Vec<CommandOutput>,
    report: &'a mut ChangeReport,
}

impl<S: CliStream> Exchange<'_, '_, S> {
    /// Sends one of the change's own commands; returns the device's refusal, if any.
    fn command(&mut self, command: &str) -> Result<Option<String>, SessionError> {
        self.report.ran.push(command.to_owned());
        let out = keep(self.cli.send_command(command), self.outputs)?;
        Ok(refusal(&out))
    }
}

/// The device's answer to a refused line: its error line, or the whole answer.
fn refusal(out: &CommandOutput) -> Option<String> {
    out.error.as_ref().map(|e| {
        if e.trim().is_empty() {
            out.output.trim().to_owned()
        } else {
            e.clone()
        }
    })
}

/// Keeps a command's output (or partial output) and passes it, or its error, on.
fn keep(
    result: Result<CommandOutput, CommandFailure>,
    outputs: &mut Vec<CommandOutput>,
) -> Result<CommandOutput, SessionError> {
    match result {
        Ok(out) => {
            outputs.push(out.clone());
            Ok(out)
        }
        Err(failure) => {
            outputs.extend(failure.partial.map(|p| *p));
            Err(failure.error)
        }
    }
}

/// A command whose output the record does not keep (the running configuration, read for
/// the diff).
fn quiet(result: Result<CommandOutput, CommandFailure>) -> Result<CommandOutput, SessionError> {
    result.map_err(|failure| failure.error)
}
