//! Running a command over its own `exec` channel (Unix hosts): stdout, stderr and exit
//! status, each bounded by the command's deadline.

use std::time::{Duration, Instant};

use netsweep_protocol::{CommandOutput, Stage};
use ssh2::Session;

use crate::MAX_OUTPUT_BYTES;
use crate::error::SessionError;
use crate::io::{Deadline, read_some};
use crate::ms_since;
use crate::shell::CommandFailure;
use crate::text::{self, Collector};
use crate::transport::Connection;

/// Runs `command` on a fresh exec channel.
pub(crate) fn run(
    conn: &Connection,
    command: &str,
    timeout: Duration,
) -> Result<CommandOutput, CommandFailure> {
    let stage = Stage::Command;
    let started = Instant::now();
    let deadline = Deadline::after(timeout);
    let mut channel = conn.call(&deadline, stage, Session::channel_session)?;
    conn.call(&deadline, stage, |_| channel.exec(command))?;

    let mut buf = vec![0u8; 64 * 1024];
    let mut stdout = Collector::new(MAX_OUTPUT_BYTES);
    let partial = |collected: Collector, error: SessionError| {
        let (body, _) = collected.into_body();
        let mut out = text::command_output(command, &body, true, &[], ms_since(started));
        out.truncated = true;
        CommandFailure {
            error,
            partial: Some(Box::new(out)),
        }
    };
    // stdout first, then stderr: libssh2 queues stderr packets while stdout is read.
    loop {
        match read_some(conn, &mut channel, &mut buf, &deadline, stage) {
            Ok(0) => break,
            Ok(n) => stdout.push(&buf[..n]),
            Err(e) => return Err(partial(stdout, e)),
        }
    }
    let mut stderr = Collector::new(MAX_OUTPUT_BYTES);
    let mut err_stream = channel.stderr();
    loop {
        match read_some(conn, &mut err_stream, &mut buf, &deadline, stage) {
            Ok(0) => break,
            Ok(n) => stderr.push(&buf[..n]),
            Err(e) => return Err(partial(stdout, e)),
        }
    }
    // The exit status arrives before or with the close, normally right after EOF; a device
    // that never closes the channel is treated as having given no status.
    let closing = Deadline::after(timeout.min(Duration::from_secs(5)));
    let _ = conn.call(&closing, stage, |_| channel.wait_close());
    let exit_status = channel.exit_status().ok();
    let signal = channel
        .exit_signal()
        .ok()
        .and_then(|s| s.exit_signal)
        .filter(|s| !s.is_empty());

    let (body, out_truncated) = stdout.into_body();
    let (err_body, err_truncated) = stderr.into_body();
    let mut out = text::command_output(command, &body, out_truncated, &[], ms_since(started));
    let (err_text, err_non_utf8) = text::clean(&err_body);
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
