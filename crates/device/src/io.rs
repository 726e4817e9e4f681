//! Bounded waiting on an SSH session: deadlines, the socket wait between non-blocking libssh2
//! calls, and reads and writes on channels, each failure classified for its stage.
//!
//! libssh2 runs in non-blocking mode and this module does the waiting, for two reasons: every
//! wait has an explicit deadline, and `TCP_QUICKACK` can be re-armed at the moment a reply
//! arrives (see [`Connection::wait_socket`]).

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use netsweep_protocol::Stage;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use ssh2::{BlockDirections, Session};

use crate::error::SessionError;
use crate::transport::Connection;

/// A deadline for one wait (a stage, one command's output), and how long it allowed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    at: Instant,
    allowed: Duration,
    /// Set when the device's overall deadline comes first: its length, for the message.
    overall: Option<Duration>,
}

impl Deadline {
    pub(crate) fn after(allowed: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + allowed,
            allowed,
            overall: None,
        }
    }

    /// The same deadline, or the device's overall one (`end`, `total` long) if that is sooner.
    pub(crate) fn capped(mut self, end: Instant, total: Duration) -> Deadline {
        if end < self.at {
            self.at = end;
            self.overall = Some(total);
        }
        self
    }

    fn remaining(&self, stage: Stage) -> Result<Duration, SessionError> {
        let left = self.at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(self.expired(stage))
        } else {
            Ok(left)
        }
    }

    /// Classifies a libssh2 error; its own timeout means this deadline passed.
    pub(crate) fn classify(&self, stage: Stage, err: ssh2::Error) -> SessionError {
        match SessionError::from_ssh(stage, err, self.allowed) {
            SessionError::Timeout { .. } => self.expired(stage),
            other => other,
        }
    }

    pub(crate) fn expired(&self, stage: Stage) -> SessionError {
        match self.overall {
            Some(total) => SessionError::DeviceDeadline { stage, total },
            None => SessionError::Timeout {
                stage,
                waited: self.allowed,
            },
        }
    }
}

/// libssh2's "would block".
const EAGAIN: i32 = -37;

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
                Err(e) if e.code() == ssh2::ErrorCode::Session(EAGAIN) => {
                    self.wait_socket(deadline, stage)?;
                }
                Err(e) => return Err(deadline.classify(stage, e)),
            }
        }
    }

    /// Waits until the socket is ready in the direction libssh2 is blocked on, or the
    /// deadline passes.
    ///
    /// When a reply arrives, `TCP_QUICKACK` is set before libssh2 reads it: that sends the
    /// ACK the kernel would otherwise delay by ≈ 40 ms. Servers that leave Nagle on (OpenSSH
    /// outside PTY sessions) hold their next small packet until that ACK arrives, so without
    /// it the first channel of every session stalls ≈ 40 ms (measured against sshd).
    pub(crate) fn wait_socket(
        &self,
        deadline: &Deadline,
        stage: Stage,
    ) -> Result<(), SessionError> {
        let (events, cap) = match self.session.block_directions() {
            BlockDirections::Inbound => (PollFlags::POLLIN, None),
            BlockDirections::Outbound => (PollFlags::POLLOUT, None),
            BlockDirections::Both => (PollFlags::POLLIN | PollFlags::POLLOUT, None),
            // Not blocked on the socket as far as libssh2 says: retry soon rather than spin.
            BlockDirections::None => (PollFlags::POLLIN, Some(Duration::from_millis(5))),
        };
        let left = deadline.remaining(stage)?;
        // Even when libssh2 says it waits for the socket, look again every second: should a
        // reply ever be sitting in its queue rather than on the socket, the session recovers
        // at once instead of idling to the deadline.
        let wait = cap.unwrap_or(Duration::from_secs(1)).min(left);
        let mut fds = [PollFd::new(self.socket().as_fd(), events)];
        let mut polled = match &self.idle {
            Some(idle) if wait > idle.after => match poll(&mut fds, poll_timeout(idle.after)) {
                Ok(0) => {
                    (idle.run)();
                    poll(&mut fds, poll_timeout(wait - idle.after))
                }
                other => other,
            },
            _ => poll(&mut fds, poll_timeout(wait)),
        };
        if polled == Err(nix::errno::Errno::EINTR) {
            polled = Ok(0);
        }
        match polled {
            Ok(0) => {
                // Nothing came: re-check the deadline (poll rounds down).
                deadline.remaining(stage).map(|_| ())
            }
            Ok(_) => {
                let readable = fds[0]
                    .revents()
                    .is_some_and(|r| r.contains(PollFlags::POLLIN));
                if readable {
                    self.rearm_quickack();
                }
                Ok(())
            }
            Err(errno) => Err(SessionError::Lost {
                stage,
                source: Some(ssh2::Error::new(
                    ssh2::ErrorCode::Session(-45),
                    if errno == nix::errno::Errno::EBADF {
                        "socket closed"
                    } else {
                        "poll failed on the socket"
                    },
                )),
            }),
        }
    }
}

/// `wait` as poll's timeout: at least 1 ms (poll rounds down), at most what it can hold.
fn poll_timeout(wait: Duration) -> PollTimeout {
    PollTimeout::try_from(wait.max(Duration::from_millis(1))).unwrap_or(PollTimeout::MAX)
}

/// Classifies an I/O error from an ssh2 stream, asking libssh2 for the precise code (the
/// `io::Error` conversion keeps only "timed out" versus "other").
fn classify(
    conn: &Connection,
    stage: Stage,
    deadline: &Deadline,
    err: std::io::Error,
) -> SessionError {
    if err.kind() == std::io::ErrorKind::TimedOut {
        return deadline.expired(stage);
    }
    match ssh2::Error::last_session_error(&conn.session) {
        Some(e) => deadline.classify(stage, e),
        None => SessionError::Lost {
            stage,
            source: None,
        },
    }
}

/// Reads what is available, waiting until something is or the deadline passes. `Ok(0)` is
/// the end of the stream.
pub(crate) fn read_some(
    conn: &Connection,
    reader: &mut impl Read,
    buf: &mut [u8],
    deadline: &Deadline,
    stage: Stage,
) -> Result<usize, SessionError> {
    loop {
        match reader.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                conn.wait_socket(deadline, stage)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(classify(conn, stage, deadline, e)),
        }
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
            Err(e) => return Err(classify(conn, stage, deadline, e)),
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
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                conn.wait_socket(deadline, stage)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(classify(conn, stage, deadline, e)),
        }
    }
    Ok(())
}
