//! Reaching the device and logging in: TCP connect, SSH handshake with netsweep's algorithm
//! preferences, and authentication (key, password, keyboard-interactive, ssh-agent).
//!
//! Host keys are checked by [`crate::known_hosts`] between handshake and authentication; this
//! module never decides what a host key means.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
#[cfg(target_os = "linux")]
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use netsweep_protocol::{DeviceTarget, Stage};
use ssh2::{KeyboardInteractivePrompt, MethodType, Prompt, Session};

use crate::context::{IdleHook, SessionContext};
use crate::error::SessionError;
use crate::io::Deadline;

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

/// Re-arming `TCP_QUICKACK` before waiting for a reply (Linux). On by default; the switch
/// exists so the effect can be measured (see the device crate's tests).
static QUICKACK: AtomicBool = AtomicBool::new(true);

/// Turns the `TCP_QUICKACK` re-arming on or off for this process (measurement only).
#[doc(hidden)]
pub fn set_quickack_enabled(enabled: bool) {
    QUICKACK.store(enabled, Ordering::Relaxed);
}

/// The SSH session plus a second handle on its socket (libssh2 owns the first), used to
/// re-arm `TCP_QUICKACK`.
pub(crate) struct Connection {
    pub(crate) session: Session,
    socket: TcpStream,
    /// Called once a wait has lasted its `after` (see `SessionContext::set_idle_hook`).
    pub(crate) idle: Option<Arc<IdleHook>>,
    /// The device's overall deadline, which caps every wait.
    end: Instant,
    total: Duration,
}

impl Connection {
    /// Asks the kernel to acknowledge received data at once instead of delaying the ACK
    /// (≈ 40 ms); see [`Connection::wait_socket`]. The kernel drops back to delayed ACKs by
    /// itself, hence "re-arm" each time a reply arrives.
    pub(crate) fn rearm_quickack(&self) {
        if QUICKACK.load(Ordering::Relaxed) {
            quickack(&self.socket);
        }
    }

    /// A deadline `timeout` from now, or the device's overall deadline if sooner.
    pub(crate) fn deadline(&self, timeout: Duration) -> Deadline {
        Deadline::after(timeout).capped(self.end, self.total)
    }

    /// The socket libssh2 talks over (a second handle on it).
    pub(crate) fn socket(&self) -> &TcpStream {
        &self.socket
    }

    /// Sets libssh2's own timeout (never 0: that means "forever"). Every call runs
    /// non-blocking under netsweep's deadlines; this bounds any that would block anyway.
    pub(crate) fn set_timeout(&self, timeout: Duration) {
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
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn quickack(socket: &TcpStream) {
    let one: libc::c_int = 1;
    // SAFETY: the descriptor is a live TCP socket borrowed for the call; the option value is a
    // properly aligned c_int that outlives the call, and its exact size is passed.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        tracing::trace!(error = %std::io::Error::last_os_error(), "TCP_QUICKACK not set");
    }
}

#[cfg(not(target_os = "linux"))]
fn quickack(_socket: &TcpStream) {}

/// Opens the TCP connection: every resolved address in turn, each within `timeout`.
pub(crate) fn tcp_connect(
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<TcpStream, SessionError> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|source| SessionError::Resolve {
            host: host.to_string(),
            source,
        })?
        .collect();
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(stream) => {
                // Every SSH exchange is a small request waiting for a small reply.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    let Some((addr, source)) = last else {
        return Err(SessionError::Resolve {
            host: host.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
        });
    };
    let addr = addr.to_string();
    Err(match source.kind() {
        std::io::ErrorKind::ConnectionRefused => SessionError::Refused { addr },
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            SessionError::ConnectTimeout {
                addr,
                waited: timeout,
            }
        }
        _ => SessionError::Connect { addr, source },
    })
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
    (end, total): (Instant, Duration),
    idle: Option<Arc<IdleHook>>,
) -> Result<Connection, SessionError> {
    let stage = Stage::Handshake;
    let protocol = |detail: String, source: Option<ssh2::Error>| SessionError::Protocol {
        stage,
        detail,
        source,
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
        socket,
        idle,
        end,
        total,
    };
    connection.set_timeout(timeout);
    let deadline = connection.deadline(timeout);
    loop {
        match connection.session.handshake() {
            Ok(()) => return Ok(connection),
            Err(e) if e.code() == ssh2::ErrorCode::Session(-37) => {
                connection.wait_socket(&deadline, stage)?;
            }
            Err(e) => return Err(deadline.classify(stage, e)),
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

/// Runs one authentication call to completion: `Ok(Err(..))` is a rejection (try something
/// else), `Err(..)` a session failure that ends the stage.
fn attempt(
    conn: &Connection,
    deadline: &Deadline,
    mut op: impl FnMut(&Session) -> Result<(), ssh2::Error>,
) -> Result<Result<(), ssh2::Error>, SessionError> {
    conn.call(deadline, Stage::Auth, |s| match op(s) {
        Err(e) if is_rejection(&e) => Ok(Err(e)),
        other => other.map(Ok),
    })
}

/// Logs in with each key ssh-agent holds, in turn.
///
/// One `Agent` lives through every retry of a non-blocking call: libssh2 keeps a pointer to
/// it in the session between retries (ssh2's `userauth_agent` makes a new one per call,
/// which is only safe in blocking mode).
fn agent_login(conn: &Connection, user: &str, deadline: &Deadline) -> Result<(), SessionError> {
    let no_credentials = |source: Option<ssh2::Error>| SessionError::NoCredentials {
        user: user.to_string(),
        source,
    };
    let mut agent = conn.session.agent().map_err(|e| no_credentials(Some(e)))?;
    agent.connect().map_err(|e| no_credentials(Some(e)))?;
    agent
        .list_identities()
        .map_err(|e| no_credentials(Some(e)))?;
    let identities = agent.identities().map_err(|e| no_credentials(Some(e)))?;
    let mut last_rejection = None;
    for identity in &identities {
        match attempt(conn, deadline, |_| agent.userauth(user, identity))? {
            Ok(()) => {
                let _ = agent.disconnect();
                return Ok(());
            }
            Err(rejected) => last_rejection = Some(rejected),
        }
    }
    let _ = agent.disconnect();
    Err(no_credentials(last_rejection))
}

/// Answers every keyboard-interactive prompt with the password, as IOS asks for it that way.
struct PasswordAnswerer<'a>(&'a str);

impl KeyboardInteractivePrompt for PasswordAnswerer<'_> {
    fn prompt<'b>(
        &mut self,
        _user: &str,
        _instructions: &str,
        prompts: &[Prompt<'b>],
    ) -> Vec<String> {
        prompts.iter().map(|_| self.0.to_string()).collect()
    }
}

/// Whether libssh2 says the server turned the credentials down (as opposed to the session
/// failing underneath).
fn is_rejection(err: &ssh2::Error) -> bool {
    // AUTHENTICATION_FAILED, PUBLICKEY_UNVERIFIED, KEYFILE_AUTH_FAILED, FILE (key unusable),
    // PASSWORD_EXPIRED, METHOD_NONE.
    matches!(
        err.code(),
        ssh2::ErrorCode::Session(-18 | -19 | -48 | -16 | -15 | -17)
    )
}

/// Logs in with what the target has, in order: key file, password (over the first of
/// `password_methods` the server offers), and ssh-agent when neither is configured.
///
/// With only a password, the first password method is tried straight away, as paramiko does,
/// instead of first asking the server for its list (an SSH "none" request): that saves one
/// round trip per device, which is a whole RTT on a distant router and a timer tick on servers
/// that pace their "none" rejections. The list is asked for only after a rejection, to tell a
/// wrong password (the method was offered: stop there, one failed login) from a method the
/// server does not offer (try the one it does).
pub(crate) fn authenticate(
    conn: &Connection,
    target: &DeviceTarget,
    ctx: &SessionContext,
    password_methods: &[&str],
    timeout: Duration,
) -> Result<(), SessionError> {
    let session = &conn.session;
    let user = target.username.as_str();
    let deadline = conn.deadline(timeout);
    let mut tried: Vec<&str> = Vec::new();

    if target.key_file.is_none()
        && let (Some(password), Some(&first)) = (&target.password, password_methods.first())
    {
        tried.push(first);
        if password_login(conn, &deadline, user, first, password.expose())?.is_ok() {
            return Ok(());
        }
    }
    let methods = match conn.call(&deadline, Stage::Auth, |s| {
        s.auth_methods(user).map(str::to_string)
    }) {
        Ok(m) => m,
        Err(_) if session.authenticated() => return Ok(()),
        Err(e) => return Err(e),
    };
    let offers = |m: &str| methods.split(',').any(|x| x == m);
    // A method the device does not offer was not really tried (nothing was checked).
    tried.retain(|m| offers(m));

    if let Some(path) = &target.key_file {
        let key = ctx.key(path)?;
        if offers("publickey") {
            tried.push("key");
            let result = attempt(conn, &deadline, |s| {
                s.userauth_pubkey_memory(user, key.public.as_deref(), &key.private_pem, None)
            })?;
            match result {
                Ok(()) => return Ok(()),
                Err(e) => tracing::debug!(device = %target.name, error = %e, "key rejected"),
            }
        }
    }

    if let Some(password) = &target.password {
        // Only the first offered method: a second try after a real rejection would count as
        // another failed login. One already tried and offered was that real rejection.
        let method = password_methods
            .iter()
            .copied()
            .find(|m| offers(m))
            .filter(|m| !tried.contains(m));
        if let Some(method) = method {
            tried.push(method);
            if password_login(conn, &deadline, user, method, password.expose())?.is_ok() {
                return Ok(());
            }
        }
    }

    if target.key_file.is_none() && target.password.is_none() {
        return agent_login(conn, user, &deadline);
    }

    if session.authenticated() {
        return Ok(());
    }
    let tried = if tried.is_empty() {
        format!("nothing: the device offers only {methods}")
    } else {
        tried.join(", then ")
    };
    Err(SessionError::AuthRejected {
        user: user.to_string(),
        tried,
    })
}

/// One password login over `method` (`password` or `keyboard-interactive`, which gets the
/// password as the answer to every prompt).
fn password_login(
    conn: &Connection,
    deadline: &Deadline,
    user: &str,
    method: &str,
    password: &str,
) -> Result<Result<(), ssh2::Error>, SessionError> {
    if method == "keyboard-interactive" {
        attempt(conn, deadline, |s| {
            s.userauth_keyboard_interactive(user, &mut PasswordAnswerer(password))
        })
    } else {
        attempt(conn, deadline, |s| s.userauth_password(user, password))
    }
}
