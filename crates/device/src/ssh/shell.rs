//! The SSH side of an interactive CLI: a PTY shell channel, opened and served as a
//! [`CliStream`] to the shared CLI session.
//!
//! It only moves bytes; what they mean (prompts, paging, privilege) is `cli_session`'s.

use netsweep_protocol::Stage;
use ssh2::{Channel, Session};

use super::Connection;
use super::io::{try_read, write_all};
use crate::cli_stream::CliStream;
use crate::deadline::Deadline;
use crate::error::SessionError;

/// An open PTY shell channel on an SSH connection.
pub(crate) struct ShellChannel<'c> {
    conn: &'c Connection,
    channel: Channel,
}

impl<'c> ShellChannel<'c> {
    /// Opens a session channel with a wide PTY and starts the shell in it, within `deadline`.
    ///
    /// The PTY and shell requests go out together, one round trip instead of two: SSH answers
    /// a channel's requests in the order they were sent (RFC 4254 §5.4), and libssh2 keeps
    /// each request's state apart, so the first answer is the PTY's (its wait is always
    /// resumed first) and the second the shell's.
    pub(crate) fn open(
        conn: &'c Connection,
        deadline: &Deadline,
    ) -> Result<ShellChannel<'c>, SessionError> {
        let stage = Stage::Prompt;
        let mut channel = conn.call(deadline, stage, Session::channel_session)?;
        // Anything a device sends as stderr inside a shell belongs to the output stream; left
        // apart, it would sit unread in libssh2's queue and shrink the channel window.
        conn.call(deadline, stage, |_| {
            channel.handle_extended_data(ssh2::ExtendedData::Merge)
        })?;
        let (mut pty_done, mut shell_done) = (false, false);
        loop {
            if !pty_done {
                // Wide terminal: devices that wrap at the PTY width would otherwise split
                // long lines.
                match channel.request_pty("vt100", None, Some((511, 24, 0, 0))) {
                    Ok(()) => pty_done = true,
                    Err(e) if super::would_block(&e) => {}
                    Err(e) => return Err(super::classify(deadline, stage, e)),
                }
            }
            if !shell_done {
                match channel.shell() {
                    Ok(()) => shell_done = true,
                    Err(e) if super::would_block(&e) => {}
                    Err(e) => return Err(super::classify(deadline, stage, e)),
                }
            }
            if pty_done && shell_done {
                return Ok(ShellChannel { conn, channel });
            }
            conn.wait(deadline, stage)?;
        }
    }
}

impl CliStream for ShellChannel<'_> {
    fn read_available(
        &mut self,
        buf: &mut [u8],
        deadline: &Deadline,
        stage: Stage,
    ) -> Result<Option<usize>, SessionError> {
        try_read(self.conn, &mut self.channel, buf, deadline, stage)
    }

    fn write_all(
        &mut self,
        data: &[u8],
        deadline: &Deadline,
        stage: Stage,
    ) -> Result<(), SessionError> {
        write_all(self.conn, &mut self.channel, data, deadline, stage)
    }

    fn wait(&mut self, deadline: &Deadline, stage: Stage) -> Result<(), SessionError> {
        self.conn.wait(deadline, stage)
    }

    fn close(&mut self, deadline: &Deadline) {
        let _ = self
            .conn
            .call(deadline, Stage::Close, |_| self.channel.send_eof());
    }
}
