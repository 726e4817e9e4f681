//! Bounded waiting on an SSH session: non-blocking libssh2 calls run to completion, the socket
//! wait in the direction libssh2 is blocked on, and reads and writes on channels, each failure
//! classified for its stage.
//!
//! libssh2 runs in non-blocking mode and netsweep does the waiting (through [`TcpLink`]), so
//! every wait has an explicit deadline and `TCP_QUICKACK` is re-armed the moment a reply
//! arrives.
//!
//! [`TcpLink`]: crate::tcp::TcpLink

use std::io::{Read, Write};
use std::time::Duration;

use netsweep_protocol::Stage;
use ssh2::{BlockDirections, Session};

use super::Connection;
use crate::deadline::Deadline;
use crate::error::SessionError;
use crate::tcp::Interest;

impl Connection {
    /// Runs a non-blocking libssh2 call until it completes, waiting on the socket in between.
    pub(crate) fn call<T>(
        &self,
        deadline: &Deadline,
        stage: Stage,
        mut op: impl FnMut(&Session) -> Result<T, ssh2::Error>,
    ) -> Result<T, SessionError> {
        loop {
            match op(&self.session) {
                Ok(v) => return Ok(v),
                Err(e) if super::would_block(&e) => self.wait(deadline, stage)?,
                Err(e) => return Err(super::classify(deadline, stage, e)),
            }
        }
    }

    /// Waits until the socket is ready in the direction libssh2 is blocked on, or the
    /// deadline passes.
    pub(crate) fn wait(&self, deadline: &Deadline, stage: Stage) -> Result<(), SessionError> {
        // Even when libssh2 says it waits for the socket, look again every second: should a
        // reply ever be sitting in its queue rather than on the socket, the session recovers
        // at once instead of idling to the deadline.
        let (interest, at_most) = match self.session.block_directions() {
            BlockDirections::Inbound => (Interest::Read, Duration::from_secs(1)),
            BlockDirections::Outbound => (Interest::Write, Duration::from_secs(1)),
            BlockDirections::Both => (Interest::ReadWrite, Duration::from_secs(1)),
            // Not blocked on the socket as far as libssh2 says: retry soon rather than spin.
            BlockDirections::None => (Interest::Read, Duration::from_millis(5)),
        };
        self.link.wait(interest, at_most, deadline, stage)
    }
}

/// Classifies an I/O error from an ssh2 stream, asking libssh2 for the precise code (the
/// `io::Error` conversion keeps only "timed out" versus "other").
fn classify_io(
    conn: &Connection,
    stage: Stage,
    deadline: &Deadline,
    err: std::io::Error,
) -> SessionError {
    if err.kind() == std::io::ErrorKind::TimedOut {
        return deadline.expired(stage);
    }
    match ssh2::Error::last_session_error(&conn.session) {
        Some(e) => super::classify(deadline, stage, e),
        None => SessionError::Lost {
            stage,
            source: None,
        },
    }
}

/// Reads what is already available without waiting: `Ok(None)` when nothing is, `Ok(Some(0))`
/// at the end of the stream.
pub(crate) fn try_read<R: Read + ?Sized>(
    conn: &Connection,
    reader: &mut R,
    buf: &mut [u8],
    deadline: &Deadline,
    stage: Stage,
) -> Result<Option<usize>, SessionError> {
    loop {
        match reader.read(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(classify_io(conn, stage, deadline, e)),
        }
    }
}

/// Writes all of `data`. (Never `flush`: on an ssh2 channel that discards unread input.)
pub(crate) fn write_all(
    conn: &Connection,
    writer: &mut impl Write,
    data: &[u8],
    deadline: &Deadline,
    stage: Stage,
) -> Result<(), SessionError> {
    let mut written = 0;
    while written < data.len() {
        match writer.write(&data[written..]) {
            Ok(0) => {
                return Err(SessionError::Lost {
                    stage,
                    source: None,
                });
            }
            Ok(n) => written += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => conn.wait(deadline, stage)?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(classify_io(conn, stage, deadline, e)),
        }
    }
    Ok(())
}
