//! Everything only SSH does, over `ssh2` (libssh2): the handshake with netsweep's algorithm
//! preferences, the host key check against known_hosts, authentication, PTY shell channels
//! (served to the shared CLI session as a [`CliStream`](crate::cli_stream::CliStream)) and
//! exec channels.
//!
//! The flow, as `run_job` drives it over a TCP connection from [`crate::tcp`]:
//! [`handshake`] → [`known_hosts::verify`] → [`authenticate`] → [`ShellChannel::open`] (for
//! the CLI session) or [`exec::run`] per command → [`Connection::close`].
//!
//! libssh2's errors stop here: [`classify`] turns them into transport-neutral
//! [`SessionError`]s, keeping libssh2's words as the cause. Nothing here knows a platform's
//! CLI.

pub(crate) mod algorithms;
mod auth;
mod connection;
pub(crate) mod exec;
mod io;
pub(crate) mod jump;
pub(crate) mod known_hosts;
mod shell;

use std::fmt;

use netsweep_protocol::{Algorithms, HostKeyPolicy, Job, Stage};

pub(crate) use auth::{Login, authenticate};
pub(crate) use connection::Connection;
pub(crate) use shell::ShellChannel;

use crate::context::SessionContext;
use crate::deadline::{Deadline, OverallDeadline};
use crate::error::{Cause, SessionError};
use crate::tcp::Socket;

/// Logs in to `host:port` (a device or a jump host) over `socket`: the handshake offering
/// `algorithms`, the host key against the job's known_hosts under its policy, then `login`'s
/// credentials. `enter` is told each stage as it starts.
///
/// A device that accepts none of the algorithms offered is asked, over a second connection
/// from `reopen`, what it does offer, so the failure can name it and the setting that would
/// accept it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn login(
    socket: Socket,
    job: &Job,
    ctx: &SessionContext,
    host: &str,
    port: u16,
    algorithms: &Algorithms,
    login: &Login<'_>,
    password_methods: &[&str],
    overall: OverallDeadline,
    enter: &mut dyn FnMut(Stage),
    reopen: &dyn Fn() -> Result<Socket, SessionError>,
) -> Result<Connection, SessionError> {
    let conn = open(
        socket, job, ctx, host, port, algorithms, overall, enter, reopen,
    )?;
    enter(Stage::Auth);
    auth::authenticate(&conn, login, ctx, password_methods, job.timeouts.command)?;
    Ok(conn)
}

/// The part of [`login`] before authentication: the handshake and the host key. A device's
/// session stops here to learn from the server's ident (autodetect, the platform's login
/// name) before it logs in.
#[allow(clippy::too_many_arguments)]
pub(crate) fn open(
    socket: Socket,
    job: &Job,
    ctx: &SessionContext,
    host: &str,
    port: u16,
    algorithms: &Algorithms,
    overall: OverallDeadline,
    enter: &mut dyn FnMut(Stage),
    reopen: &dyn Fn() -> Result<Socket, SessionError>,
) -> Result<Connection, SessionError> {
    let timeout = job.timeouts.command;
    enter(Stage::Handshake);
    let known_key_types = match (&job.known_hosts, job.host_key_policy) {
        (Some(file), HostKeyPolicy::Strict | HostKeyPolicy::AcceptNew) => {
            // A file that cannot be read fails the host key stage, with its own message.
            known_hosts::known_key_types(ctx, file, host, port).unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let conn = match connection::handshake(
        socket,
        timeout,
        algorithms,
        &known_key_types,
        overall,
        ctx.idle_hook(),
    ) {
        Ok(conn) => conn,
        Err(SessionError::KexFailed { source }) => {
            return Err(
                explain_kex_failure(algorithms, overall.within(timeout), reopen)
                    .unwrap_or(SessionError::KexFailed { source }),
            );
        }
        Err(e) => return Err(e),
    };

    enter(Stage::HostKey);
    known_hosts::verify(
        &conn.session,
        ctx,
        job.host_key_policy,
        job.known_hosts.as_deref(),
        host,
        port,
    )?;
    Ok(conn)
}

/// Why a handshake found no common algorithm, from what the device offers over a second
/// connection; `None` when that cannot be learnt.
fn explain_kex_failure(
    algorithms: &Algorithms,
    deadline: Deadline,
    reopen: &dyn Fn() -> Result<Socket, SessionError>,
) -> Option<SessionError> {
    let socket = reopen().ok()?;
    let offers = algorithms::probe_server_offers(socket, &deadline)
        .map_err(|e| tracing::debug!(error = %e, "could not read the device's algorithm offers"))
        .ok()?;
    let session = ssh2::Session::new().ok()?;
    let supported = |index: usize| algorithms::libssh2_supports(&session, index);
    Some(algorithms::explain_mismatch(
        &offers, algorithms, &supported,
    ))
}

/// libssh2's error codes that netsweep acts on, named (ssh2 exposes them only as numbers;
/// the names are libssh2's `LIBSSH2_ERROR_*`).
pub(crate) mod code {
    pub(crate) const BANNER_RECV: i32 = -2;
    pub(crate) const BANNER_SEND: i32 = -3;
    /// No common algorithm (or another key exchange failure).
    pub(crate) const KEX_FAILURE: i32 = -5;
    pub(crate) const SOCKET_SEND: i32 = -7;
    pub(crate) const TIMEOUT: i32 = -9;
    pub(crate) const SOCKET_DISCONNECT: i32 = -13;
    pub(crate) const PASSWORD_EXPIRED: i32 = -15;
    /// A key file libssh2 cannot use.
    pub(crate) const FILE: i32 = -16;
    pub(crate) const METHOD_NONE: i32 = -17;
    pub(crate) const AUTHENTICATION_FAILED: i32 = -18;
    pub(crate) const PUBLICKEY_UNVERIFIED: i32 = -19;
    pub(crate) const CHANNEL_CLOSED: i32 = -26;
    pub(crate) const CHANNEL_EOF_SENT: i32 = -27;
    /// "Would block": a non-blocking call to be retried once the socket is ready.
    pub(crate) const EAGAIN: i32 = -37;
    pub(crate) const SOCKET_RECV: i32 = -43;
    pub(crate) const BAD_SOCKET: i32 = -45;
    pub(crate) const KNOWN_HOSTS: i32 = -46;
    pub(crate) const KEYFILE_AUTH_FAILED: i32 = -48;
}

/// Whether a non-blocking libssh2 call only has to wait for the socket.
pub(crate) fn would_block(err: &ssh2::Error) -> bool {
    err.code() == ssh2::ErrorCode::Session(code::EAGAIN)
}

/// Classifies a libssh2 error raised in `stage`; its own timeout means `deadline` passed.
pub(crate) fn classify(deadline: &Deadline, stage: Stage, err: ssh2::Error) -> SessionError {
    use code::*;
    match err.code() {
        ssh2::ErrorCode::Session(TIMEOUT) => deadline.expired(stage),
        ssh2::ErrorCode::Session(
            SOCKET_DISCONNECT | SOCKET_RECV | SOCKET_SEND | BANNER_RECV | BANNER_SEND
            | CHANNEL_CLOSED | CHANNEL_EOF_SENT | BAD_SOCKET,
        ) => SessionError::Lost {
            stage,
            source: Some(cause(err)),
        },
        _ => SessionError::Protocol {
            stage,
            detail: err.message().to_string(),
            source: Some(cause(err)),
        },
    }
}

/// A libssh2 error as a failure's cause.
pub(crate) fn cause(err: ssh2::Error) -> Cause {
    Box::new(Libssh2Error(err))
}

/// A libssh2 error that shows libssh2's own words, without the numeric code ssh2's `Display`
/// puts first (messages are for people; the code is in `Debug`).
#[derive(Debug)]
struct Libssh2Error(ssh2::Error);

impl fmt::Display for Libssh2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.message())
    }
}

impl std::error::Error for Libssh2Error {}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use netsweep_protocol::Outcome;

    use super::*;

    fn libssh2(code: i32) -> ssh2::Error {
        ssh2::Error::from_errno(ssh2::ErrorCode::Session(code))
    }

    #[test]
    fn libssh2_errors_are_classified_by_code() {
        let deadline = Deadline::after(Duration::from_millis(250));
        let lost = classify(&deadline, Stage::Command, libssh2(code::SOCKET_DISCONNECT));
        assert_eq!(
            lost.outcome(),
            Outcome::ConnectionLost {
                stage: Stage::Command
            }
        );
        let timeout = classify(&deadline, Stage::Handshake, libssh2(code::TIMEOUT));
        assert_eq!(
            timeout.outcome(),
            Outcome::TimedOut {
                stage: Stage::Handshake
            }
        );
        assert!(timeout.message(Stage::Handshake, None).contains("250 ms"));
        // -5: LIBSSH2_ERROR_KEX_FAILURE.
        let kex = classify(&deadline, Stage::Handshake, libssh2(-5));
        assert_eq!(kex.outcome(), Outcome::ProtocolError);
    }

    #[test]
    fn a_libssh2_cause_reads_as_libssh2_words_without_its_code() {
        let err = ssh2::Error::new(
            ssh2::ErrorCode::Session(code::KNOWN_HOSTS),
            "added host is missing",
        );
        let failure = SessionError::Protocol {
            stage: Stage::HostKey,
            detail: "odd".into(),
            source: Some(cause(err)),
        };
        let message = failure.message(Stage::HostKey, None);
        assert!(
            message.starts_with(
                "host_key: the device said something netsweep could not understand: odd: \
                 added host is missing; "
            ),
            "{message}"
        );
    }
}
