//! Running a command over its own SSH `exec` channel (Unix hosts): stdout, stderr and exit
//! status, each bounded by the command's deadline. SSH only: no CLI, no prompt.

use std::time::{Duration, Instant};

use netsweep_protocol::{CommandOutput, Stage};
use ssh2::Session;

use super::Connection;
use super::io::try_read;
use crate::error::{CommandFailure, SessionError};
use crate::text::{self, Collector, OutputRules};
use crate::{MAX_OUTPUT_BYTES, ms_since};

/// Runs `command` on a fresh exec channel.
pub(crate) fn run(
    conn: &Connection,
    command: &str,
    timeout: Duration,
) -> Result<CommandOutput, CommandFailure> {
    let stage = Stage::Command;
    let started = Instant::now();
    let deadline = conn.deadline(timeout);
    let mut channel = conn.call(&deadline, stage, Session::channel_session)?;
    conn.call(&deadline, stage, |_| channel.exec(command))?;

    let mut buf = vec![0u8; 64 * 1024];
    let mut stdout = Collector::new(MAX_OUTPUT_BYTES);
    let partial = |collected: Collector, error: SessionError| {
        let (body, _) = collected.into_body();
        let mut out =
            text::command_output(command, &body, true, &OutputRules::EXEC, ms_since(started));
        out.truncated = true;
        CommandFailure {
            error,
            partial: Some(Box::new(out)),
        }
    };
    // Both streams at once: a command that fills libssh2's channel window on stderr while
    // stdout is being waited for would otherwise stall until the deadline.
    let mut stderr = Collector::new(MAX_OUTPUT_BYTES);
    let mut err_stream = channel.stderr();
    let (mut out_done, mut err_done) = (false, false);
    let failure = loop {
        if out_done && err_done {
            break None;
        }
        let mut progressed = false;
        let mut failed = None;
        for (done, stream, collected) in [
            (
                &mut out_done,
                &mut channel as &mut dyn std::io::Read,
                &mut stdout,
            ),
            (
                &mut err_done,
                &mut err_stream as &mut dyn std::io::Read,
                &mut stderr,
            ),
        ] {
            if *done || failed.is_some() {
                continue;
            }
            match try_read(conn, stream, &mut buf, &deadline, stage) {
                Ok(Some(0)) => *done = true,
                Ok(Some(n)) => {
                    collected.push(&buf[..n]);
                    progressed = true;
                }
                Ok(None) => {}
                Err(e) => failed = Some(e),
            }
        }
        if failed.is_some() {
            break failed;
        }
        // Reading one stream can pull the other's data (or the EOF) off the socket into
        // libssh2's queue; wait on the socket only when nothing is queued.
        let queued = channel.read_window().available > 0 || channel.eof();
        let finished = out_done && err_done;
        if !(progressed || queued || finished)
            && let Err(e) = conn.wait(&deadline, stage)
        {
            break Some(e);
        }
    };
    if let Some(error) = failure {
        return Err(partial(stdout, error));
    }
    // The exit status arrives before or with the close, normally right after EOF; a device
    // that never closes the channel is treated as having given no status.
    let closing = conn.deadline(timeout.min(Duration::from_secs(5)));
    let _ = conn.call(&closing, stage, |_| channel.wait_close());
    let exit_status = channel.exit_status().ok();
    let signal = channel
        .exit_signal()
        .ok()
        .and_then(|s| s.exit_signal)
        .filter(|s| !s.is_empty());

    let (body, out_truncated) = stdout.into_body();
    let (err_body, err_truncated) = stderr.into_body();
    let mut out = text::command_output(
        command,
        &body,
        out_truncated,
        &OutputRules::EXEC,
        ms_since(started),
    );
    let (err_text, err_non_utf8) = text::clean(&err_body, false);
    out.non_utf8 |= err_non_utf8;
    out.truncated |= err_truncated;
    out.exit_status = exit_status;
    out.error = match (&signal, exit_status) {
        (Some(sig), _) => Some(format!("killed by signal {sig}")),
        (None, Some(0)) | (None, None) => None,
        (None, Some(code)) => {
            let first = err_text.lines().next().unwrap_or("").trim();
            Some(if first.is_empty() {
                format!("exit status {code}")
            } else {
                format!("exit status {code}: {first}")
            })
        }
    };
    out.stderr = Some(err_text);
    Ok(out)
}
