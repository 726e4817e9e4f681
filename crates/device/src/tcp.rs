//! The connection to a device, whatever speaks over it: opening it over TCP, and waiting on
//! its socket within a deadline, with the context's idle hook and the `TCP_QUICKACK` re-arm.
//!
//! The socket is a TCP connection to the device, or, behind a jump host, one end of a socket
//! pair whose other end a bridge thread forwards over an SSH channel (`ssh::jump`): to
//! everything above this module the two are the same byte stream ([`Socket`]).
//!
//! Every transport (SSH, telnet) reads and writes its socket without blocking and
//! waits through [`TcpLink::wait`], so each wait has an explicit deadline and each behaves the
//! same way towards the pool (idle hook) and the kernel (quick ACKs). It knows nothing of what
//! the bytes mean.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use netsweep_protocol::Stage;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::context::IdleHook;
use crate::deadline::Deadline;
use crate::error::SessionError;

/// Re-arming `TCP_QUICKACK` before waiting for a reply (Linux). On by default; the switch
/// exists so the effect can be measured (see the device crate's tests).
static QUICKACK: AtomicBool = AtomicBool::new(true);

/// Turns the `TCP_QUICKACK` re-arming on or off for this process (measurement only).
#[doc(hidden)]
pub fn set_quickack_enabled(enabled: bool) {
    QUICKACK.store(enabled, Ordering::Relaxed);
}

/// Opens the TCP connection: every resolved address in turn, each within `timeout`.
pub(crate) fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, SessionError> {
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
                // Every CLI exchange is a small request waiting for a small reply.
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

/// A device's byte stream: a TCP connection, or one end of a socket pair bridged to an SSH
/// channel of a jump host.
#[derive(Debug)]
pub(crate) enum Socket {
    Tcp(TcpStream),
    Bridged(UnixStream),
}

impl Socket {
    pub(crate) fn try_clone(&self) -> std::io::Result<Socket> {
        Ok(match self {
            Socket::Tcp(s) => Socket::Tcp(s.try_clone()?),
            Socket::Bridged(s) => Socket::Bridged(s.try_clone()?),
        })
    }

    pub(crate) fn set_nonblocking(&self, nonblocking: bool) -> std::io::Result<()> {
        match self {
            Socket::Tcp(s) => s.set_nonblocking(nonblocking),
            Socket::Bridged(s) => s.set_nonblocking(nonblocking),
        }
    }

    fn shutdown(&self) {
        let _ = match self {
            Socket::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            Socket::Bridged(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }
}

impl From<TcpStream> for Socket {
    fn from(stream: TcpStream) -> Socket {
        Socket::Tcp(stream)
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Socket::Tcp(s) => s.as_fd(),
            Socket::Bridged(s) => s.as_fd(),
        }
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl Read for &Socket {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Socket::Tcp(s) => (&*s).read(buf),
            Socket::Bridged(s) => (&*s).read(buf),
        }
    }
}

impl Write for &Socket {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Socket::Tcp(s) => (&*s).write(buf),
            Socket::Bridged(s) => (&*s).write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a wait is for: the socket becoming readable, writable, or either.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interest {
    Read,
    Write,
    ReadWrite,
}

/// A handle on the device's socket for waiting on it (the transport may own the socket
/// itself, as libssh2 does), with the context's idle hook.
pub(crate) struct TcpLink {
    pub(crate) socket: Socket,
    /// Called once a wait has lasted its `after` (see `SessionContext::set_idle_hook`).
    idle: Option<Arc<IdleHook>>,
}

impl TcpLink {
    pub(crate) fn new(socket: Socket, idle: Option<Arc<IdleHook>>) -> TcpLink {
        TcpLink { socket, idle }
    }

    /// The socket, for a transport that reads and writes it itself (telnet).
    pub(crate) fn socket(&self) -> &Socket {
        &self.socket
    }

    /// Waits until the socket is ready for `interest`, `at_most` (the caller looks again
    /// then), or until the deadline passes (an error).
    ///
    /// When a reply arrives, `TCP_QUICKACK` is set before the transport reads it: that sends
    /// the ACK the kernel would otherwise delay by ≈ 40 ms. Servers that leave Nagle on
    /// (OpenSSH outside PTY sessions) hold their next small packet until that ACK arrives, so
    /// without it the first channel of every session stalls ≈ 40 ms (measured against sshd).
    pub(crate) fn wait(
        &self,
        interest: Interest,
        at_most: Duration,
        deadline: &Deadline,
        stage: Stage,
    ) -> Result<(), SessionError> {
        let events = match interest {
            Interest::Read => PollFlags::POLLIN,
            Interest::Write => PollFlags::POLLOUT,
            Interest::ReadWrite => PollFlags::POLLIN | PollFlags::POLLOUT,
        };
        let left = deadline.remaining(stage)?;
        let wait = at_most.min(left);
        let mut fds = [PollFd::new(self.socket.as_fd(), events)];
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
                source: Some(Box::new(std::io::Error::other(
                    if errno == nix::errno::Errno::EBADF {
                        "socket closed"
                    } else {
                        "poll failed on the socket"
                    },
                ))),
            }),
        }
    }

    /// Asks the kernel to acknowledge received data at once instead of delaying the ACK
    /// (≈ 40 ms); see [`TcpLink::wait`]. The kernel drops back to delayed ACKs by itself,
    /// hence "re-arm" each time a reply arrives.
    fn rearm_quickack(&self) {
        if let Socket::Tcp(socket) = &self.socket {
            rearm_quickack(socket);
        }
    }

    /// Shuts the socket both ways, so nothing lingers whoever else holds it.
    pub(crate) fn shutdown(&self) {
        self.socket.shutdown();
    }
}

/// Re-arms `TCP_QUICKACK` on `socket` (when enabled): see [`TcpLink::wait`].
pub(crate) fn rearm_quickack(socket: &TcpStream) {
    if QUICKACK.load(Ordering::Relaxed) {
        quickack(socket);
    }
}

/// `wait` as poll's timeout: at least 1 ms (poll rounds down), at most what it can hold.
pub(crate) fn poll_timeout(wait: Duration) -> PollTimeout {
    PollTimeout::try_from(wait.max(Duration::from_millis(1))).unwrap_or(PollTimeout::MAX)
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
