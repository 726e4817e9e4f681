//! The seam between transports and the CLI session: [`CliStream`], a byte stream to one
//! device's CLI, read and written without blocking, every wait bounded by a deadline.
//!
//! A transport implements it once it has logged in (SSH: a PTY shell channel, `ssh::ShellChannel`;
//! telnet: the connection after option negotiation and login). Everything above it (prompt,
//! paging, privilege, error markers, output clean-up: `cli_session`) is shared. Implementations
//! carry no CLI knowledge; transport framing (SSH channels, telnet's IAC escaping and CR LF line
//! endings) stays inside them.

use netsweep_protocol::Stage;

use crate::deadline::Deadline;
use crate::error::SessionError;

/// A byte stream to one device's CLI. The CLI session ends lines with `\n`; a transport that
/// needs another line ending on the wire (telnet's CR LF) translates it in `write_all`.
///
/// Errors are already classified for `stage` (a passed deadline is `deadline.expired(stage)`,
/// a dropped connection `Lost`), so the CLI session never sees a transport's own error type.
pub(crate) trait CliStream {
    /// Reads what has already arrived, without waiting: `Ok(None)` when nothing has,
    /// `Ok(Some(0))` at the end of the stream.
    fn read_available(
        &mut self,
        buf: &mut [u8],
        deadline: &Deadline,
        stage: Stage,
    ) -> Result<Option<usize>, SessionError>;

    /// Writes all of `data`, waiting for the stream to take it until the deadline.
    fn write_all(
        &mut self,
        data: &[u8],
        deadline: &Deadline,
        stage: Stage,
    ) -> Result<(), SessionError>;

    /// Waits until a read may find something new, or the deadline passes (an error). It may
    /// return early with nothing new (the caller reads and waits again).
    fn wait(&mut self, deadline: &Deadline, stage: Stage) -> Result<(), SessionError>;

    /// Ends the stream from this side (the exit command was already written), within
    /// `deadline`, without waiting for the device's answer. Failures are ignored: the results
    /// are in.
    fn close(&mut self, deadline: &Deadline);

    /// Reads what is available, waiting until something is or the deadline passes. `Ok(0)` is
    /// the end of the stream.
    fn read_some(
        &mut self,
        buf: &mut [u8],
        deadline: &Deadline,
        stage: Stage,
    ) -> Result<usize, SessionError> {
        loop {
            match self.read_available(buf, deadline, stage)? {
                Some(n) => return Ok(n),
                None => self.wait(deadline, stage)?,
            }
        }
    }
}
