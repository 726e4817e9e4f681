//! The SSH connection: the handshake with netsweep's algorithm preferences over an open TCP
//! connection, and the session it leaves (non-blocking, every wait through [`TcpLink`]).
//!
//! Host keys are checked by [`super::known_hosts`] between handshake and authentication
//! ([`super::auth`]); this module never decides what a host key means.

use std::sync::Arc;
use std::time::Duration;

use netsweep_protocol::{Algorithms, Stage};
use ssh2::Session;

use crate::context::IdleHook;
use crate::deadline::{Deadline, OverallDeadline};
use crate::error::SessionError;
use crate::tcp::{Socket, TcpLink};

/// The SSH session, and a second handle on its socket (libssh2 owns the first) to wait on.
pub(crate) struct Connection {
    pub(crate) session: Session,
    pub(crate) link: TcpLink,
    /// The device's overall deadline, which caps every wait.
    overall: OverallDeadline,
}

impl Connection {
    /// A deadline `timeout` from now, or the device's overall deadline if sooner.
    pub(crate) fn deadline(&self, timeout: Duration) -> Deadline {
        self.overall.within(timeout)
    }

    /// Sets libssh2's own timeout (never 0: that means "forever"). Every call runs
    /// non-blocking under netsweep's deadlines; this bounds any that would block anyway.
    fn set_timeout(&self, timeout: Duration) {
        let ms = u32::try_from(timeout.as_millis())
            .unwrap_or(u32::MAX)
            .max(1);
        self.session.set_timeout(ms);
    }

    /// Says goodbye within a short bound, then shuts the socket so nothing lingers.
    pub(crate) fn close(&self, within: Duration) {
        // Goodbyes are not bound by the device's deadline: the results are already in.
        let deadline = Deadline::after(within);
        let _ = self.call(&deadline, Stage::Close, |s| {
            s.disconnect(None, "netsweep done", None)
        });
        self.link.shutdown();
    }
}

/// Runs the SSH handshake over `stream` within `timeout`, offering the algorithms `prefs`
/// allow. The session is left in non-blocking mode: callers wait through [`Connection::call`]
/// and the `io` helpers.
///
/// `known_key_types` (from known_hosts) are asked for first, so a device keeps presenting the
/// key it is recorded with. A device that accepts none of the algorithms offered fails with
/// [`SessionError::KexFailed`]; the caller can then ask it what it offers (see
/// `algorithms::probe_server_offers`).
pub(crate) fn handshake(
    stream: Socket,
    timeout: Duration,
    prefs: &Algorithms,
    known_key_types: &[String],
    overall: OverallDeadline,
    idle: Option<Arc<IdleHook>>,
) -> Result<Connection, SessionError> {
    let stage = Stage::Handshake;
    let protocol = |detail: String, source: Option<ssh2::Error>| SessionError::Protocol {
        stage,
        detail,
        source: source.map(super::cause),
    };
    let socket = stream
        .try_clone()
        .map_err(|e| protocol(format!("could not duplicate the socket: {e}"), None))?;
    let mut session =
        Session::new().map_err(|e| protocol("could not create a session".into(), Some(e)))?;
    super::algorithms::offer(&session, prefs, known_key_types)?;
    session.set_tcp_stream(stream);
    session.set_blocking(false);
    let mut connection = Connection {
        session,
        link: TcpLink::new(socket, idle),
        overall,
    };
    connection.set_timeout(timeout);
    let deadline = connection.deadline(timeout);
    // Not `Connection::call`: the handshake needs the session mutably.
    loop {
        match connection.session.handshake() {
            Ok(()) => return Ok(connection),
            Err(e) if super::would_block(&e) => connection.wait(&deadline, stage)?,
            Err(e) if e.code() == ssh2::ErrorCode::Session(super::code::KEX_FAILURE) => {
                return Err(SessionError::KexFailed {
                    source: super::cause(e),
                });
            }
            Err(e) => return Err(super::classify(&deadline, stage, e)),
        }
    }
}
