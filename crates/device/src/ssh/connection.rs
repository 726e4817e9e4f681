//! The SSH connection: the handshake with netsweep's algorithm preferences over an open TCP
//! connection, and the session it leaves (non-blocking, every wait through [`TcpLink`]).
//!
//! Host keys are checked by [`super::known_hosts`] between handshake and authentication
//! ([`super::auth`]); this module never decides what a host key means.

use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use netsweep_protocol::Stage;
use ssh2::{MethodType, Session};

use crate::context::IdleHook;
use crate::deadline::{Deadline, OverallDeadline};
use crate::error::SessionError;
use crate::tcp::TcpLink;

/// Modern algorithms first; the SHA-1 and CTR-era ones last, for older IOS images that offer
/// nothing else. Names libssh2 was not built with are dropped before they are offered.
const KEX: &[&str] = &[
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group14-sha256",
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group14-sha1",
];
const HOST_KEY: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
];
const CIPHERS: &[&str] = &[
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes256-ctr",
    "aes192-ctr",
    "aes128-ctr",
];
const MACS: &[&str] = &[
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
    "hmac-sha1",
];

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

/// Runs the SSH handshake over `stream` within `timeout`. The session is left in
/// non-blocking mode: callers wait through [`Connection::call`] and the `io` helpers.
///
/// `known_key_types` (from known_hosts) are asked for first, so a device keeps presenting the
/// key it is recorded with.
pub(crate) fn handshake(
    stream: TcpStream,
    timeout: Duration,
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
    offer_algorithms(&session, known_key_types)
        .map_err(|e| protocol("could not set algorithm preferences".into(), Some(e)))?;
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
            Err(e) => return Err(super::classify(&deadline, stage, e)),
        }
    }
}

/// The host key algorithms that produce keys of `key_type` (as known_hosts names it).
fn signs_with(algorithm: &str, key_type: &str) -> bool {
    algorithm == key_type || (key_type == "ssh-rsa" && algorithm.starts_with("rsa-sha2-"))
}

/// Sets netsweep's algorithm order, keeping only what this libssh2 was built with; host key
/// algorithms for already-recorded key types go first.
fn offer_algorithms(session: &Session, known_key_types: &[String]) -> Result<(), ssh2::Error> {
    let known = |alg: &str| known_key_types.iter().any(|t| signs_with(alg, t));
    let (mut host_keys, others): (Vec<&str>, Vec<&str>) =
        HOST_KEY.iter().copied().partition(|alg| known(alg));
    host_keys.extend(others);
    for (kind, wanted) in [
        (MethodType::Kex, KEX),
        (MethodType::HostKey, host_keys.as_slice()),
        (MethodType::CryptCs, CIPHERS),
        (MethodType::CryptSc, CIPHERS),
        (MethodType::MacCs, MACS),
        (MethodType::MacSc, MACS),
    ] {
        let supported = session.supported_algs(kind)?;
        let offered: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|name| supported.contains(name))
            .collect();
        if !offered.is_empty() {
            session.method_pref(kind, &offered.join(","))?;
        }
    }
    Ok(())
}
