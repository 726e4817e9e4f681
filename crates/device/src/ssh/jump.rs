//! Jump hosts: reaching a device through one or more SSH bastions (OpenSSH's `ProxyJump`).
//!
//! libssh2 has no ProxyJump, but any file descriptor can carry an SSH session. Each hop is an
//! ordinary SSH connection (handshake, host key check, authentication: the same code as a
//! device's) handed to a *bridge* thread, which owns it from then on: for each connection
//! asked of it, the bridge opens a `direct-tcpip` channel to the next hop or the device and
//! forwards bytes both ways between that channel and one end of a Unix socket pair. The other
//! end is the device's socket ([`Socket::Bridged`]): to the device's session, and to any
//! transport above it, it is a plain byte stream, exactly like a TCP connection.
//!
//! One jump connection carries many devices: the bridges live as long as the thread that
//! opened them (a process pool worker, or one thread of the thread pool) and are reused by
//! its next devices, so a bastion sees at most one connection per worker. They are kept per
//! thread rather than per process because libssh2 opens one channel at a time per session:
//! threads sharing one would queue their devices' connections behind each other.
//!
//! The bridge is the only thread that touches its session, so libssh2's rules for a
//! non-blocking session shared by many channels are kept in one place: a channel write that
//! would block is retried with the same data before anything else is sent (libssh2 refuses to
//! start another packet while one is half sent), and channels are read until none has
//! anything left before the bridge waits on the socket (reading one channel may queue another
//! channel's data inside libssh2).
//!
//! A jump host that dies ends its bridge: the devices it carried see their connection close
//! (`connection_lost`), and the next device reconnects once, then fails `unreachable (jump
//! host …)`. Nothing here waits without a deadline.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use netsweep_protocol::{HostKeyPolicy, Job, JumpHost, Stage};
use nix::poll::{PollFd, PollFlags, poll};
use ssh2::{BlockDirections, Channel};

use super::auth::Login;
use super::{Connection, code};
use crate::context::SessionContext;
use crate::deadline::{Deadline, OverallDeadline};
use crate::error::SessionError;
use crate::tcp::{self, Socket};

/// Seconds between keepalives on an idle jump connection, so that firewalls and the
/// bastion's own idle timers keep it.
const KEEPALIVE_SECS: u32 = 30;

/// Bytes forwarded per read, each way, per channel.
const CHUNK: usize = 32 * 1024;

/// The methods a jump host's password is tried over (OpenSSH servers offer both).
const PASSWORD_METHODS: &[&str] = &["password", "keyboard-interactive"];

/// What identifies a reusable jump connection: the hops up to it, and how their host keys
/// are checked.
#[derive(Clone, PartialEq, Eq)]
struct ChainKey {
    hops: Vec<JumpHost>,
    policy: HostKeyPolicy,
    known_hosts: Option<PathBuf>,
}

thread_local! {
    /// This thread's jump connections, by chain. Dropped (and so disconnected) when the
    /// thread ends.
    static BRIDGES: RefCell<Vec<(ChainKey, Rc<Bridge>)>> = const { RefCell::new(Vec::new()) };
}

/// Opens a connection to `host:port` through the job's jump hosts, connecting (or
/// reconnecting, once) to them as needed. The result is the device's socket.
///
/// Failures of a jump host itself are [`SessionError::JumpHost`]; a jump host that cannot
/// reach the device is [`SessionError::JumpUnreachable`].
pub(crate) fn connect(
    job: &Job,
    ctx: &SessionContext,
    host: &str,
    port: u16,
    overall: OverallDeadline,
) -> Result<Socket, SessionError> {
    let hops = &job.target.ssh.jump_hosts;
    let connect_timeout = job.timeouts.connect.min(job.timeouts.deadline);
    for attempt in 0..2 {
        let bridge = ensure_chain(job, ctx, hops, overall)?;
        let deadline = overall.within(connect_timeout);
        match bridge.open(host, port, &deadline, ctx) {
            Ok(stream) => return Ok(Socket::Bridged(stream)),
            // The connection died since it was last used (an idle timeout, a restart):
            // connect again, once.
            Err(OpenFailure::Ended(_)) if attempt == 0 => forget(job, hops),
            Err(failure) => {
                if matches!(failure, OpenFailure::TimedOut) {
                    // The bridge cannot give up a channel open libssh2 has started, and it
                    // would hold up the next device's: start afresh next time.
                    forget(job, hops);
                }
                return Err(failure.into_error(&bridge.label, host, port, connect_timeout));
            }
        }
    }
    unreachable!("the second attempt returns")
}

/// The bridge of the whole chain `hops`, connecting each hop that has none yet (or whose
/// connection has ended) through the one before it.
fn ensure_chain(
    job: &Job,
    ctx: &SessionContext,
    hops: &[JumpHost],
    overall: OverallDeadline,
) -> Result<Rc<Bridge>, SessionError> {
    let mut previous: Option<Rc<Bridge>> = None;
    for depth in 1..=hops.len() {
        let key = ChainKey {
            hops: hops[..depth].to_vec(),
            policy: job.host_key_policy,
            known_hosts: job.known_hosts.clone(),
        };
        let live = BRIDGES.with_borrow_mut(|bridges| {
            // An ended bridge takes every longer chain through it along (their sockets are
            // closed anyway).
            bridges.retain(|(_, b)| !b.has_ended());
            bridges
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, b)| Rc::clone(b))
        });
        let bridge = match live {
            Some(bridge) => bridge,
            None => {
                let hop = &hops[depth - 1];
                let bridge = Rc::new(establish(job, ctx, hop, previous.as_deref(), overall)?);
                BRIDGES.with_borrow_mut(|b| b.push((key, Rc::clone(&bridge))));
                bridge
            }
        };
        previous = Some(bridge);
    }
    previous.ok_or(SessionError::Settings {
        detail: "an empty jump host chain".into(),
    })
}

/// Drops (and so disconnects) this thread's connection through the whole chain `hops`, and
/// any longer chain through it; the hops before the last stay connected.
fn forget(job: &Job, hops: &[JumpHost]) {
    BRIDGES.with_borrow_mut(|bridges| {
        bridges.retain(|(k, _)| {
            !(k.policy == job.host_key_policy
                && k.known_hosts == job.known_hosts
                && k.hops.starts_with(hops))
        });
    });
}

/// Connects and logs in to `hop`, directly or through `via`, and starts its bridge.
fn establish(
    job: &Job,
    ctx: &SessionContext,
    hop: &JumpHost,
    via: Option<&Bridge>,
    overall: OverallDeadline,
) -> Result<Bridge, SessionError> {
    let label = hop.label();
    let timeout = job.timeouts.command;
    let connect_timeout = job.timeouts.connect.min(job.timeouts.deadline);
    let wrap = |error: SessionError| SessionError::JumpHost {
        hop: label.clone(),
        source: Box::new(error),
    };
    let open = || -> Result<Socket, SessionError> {
        match via {
            None => tcp::connect(&hop.host, hop.port, connect_timeout).map(Socket::from),
            Some(bridge) => {
                let deadline = overall.within(connect_timeout);
                bridge
                    .open(&hop.host, hop.port, &deadline, ctx)
                    .map(Socket::Bridged)
                    .map_err(|f| f.into_error(&bridge.label, &hop.host, hop.port, connect_timeout))
            }
        }
    };
    let socket = open().map_err(|e| match e {
        // The previous hop's own failure is already labelled with it.
        e @ (SessionError::JumpHost { .. } | SessionError::JumpUnreachable { .. }) => e,
        e => wrap(e),
    })?;
    let conn = super::login(
        socket,
        job,
        ctx,
        &hop.host,
        hop.port,
        &hop.ssh.algorithms,
        &Login::jump_host(hop, &label),
        PASSWORD_METHODS,
        overall,
        &mut |_| {},
        &open,
    )
    .map_err(wrap)?;
    Bridge::start(conn, label, timeout)
}

/// Why a bridge could not hand out a connection.
enum OpenFailure {
    /// The jump host answered that it could not open the connection (the device refused,
    /// no route, forwarding not allowed): libssh2's words, with the server's reason.
    Refused(String),
    /// No answer within the deadline.
    TimedOut,
    /// The jump connection is gone, and why.
    Ended(String),
}

impl OpenFailure {
    fn into_error(self, hop: &str, host: &str, port: u16, waited: Duration) -> SessionError {
        let target = netsweep_protocol::host_port(host, port);
        match self {
            OpenFailure::Refused(reason) => SessionError::JumpUnreachable {
                hop: hop.to_string(),
                target,
                detail: reason,
            },
            OpenFailure::TimedOut => SessionError::JumpUnreachable {
                hop: hop.to_string(),
                target,
                detail: format!(
                    "no answer within {}",
                    crate::error::secs(waited.max(Duration::from_millis(1)))
                ),
            },
            OpenFailure::Ended(reason) => SessionError::JumpHost {
                hop: hop.to_string(),
                source: Box::new(SessionError::Lost {
                    stage: Stage::Connect,
                    source: Some(reason.into()),
                }),
            },
        }
    }
}

/// A request for a forwarded connection, answered with the device's end of a socket pair.
struct OpenRequest {
    host: String,
    port: u16,
    reply: SyncSender<Result<UnixStream, OpenFailure>>,
}

/// A jump connection's bridge thread, seen from the threads that use it.
struct Bridge {
    /// `user@host:port` of the hop, for messages.
    label: String,
    requests: Sender<OpenRequest>,
    /// Written to wake the bridge when a request is queued or it must stop.
    waker: UnixStream,
    /// Why the connection ended, once it has.
    ended: Arc<Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Bridge {
    /// Hands `conn` (logged in) to a new bridge thread.
    fn start(conn: Connection, label: String, timeout: Duration) -> Result<Bridge, SessionError> {
        let (requests, incoming) = mpsc::channel();
        let (waker, wake) = UnixStream::pair().map_err(|e| SessionError::Settings {
            detail: format!("could not create the jump host bridge's socket pair: {e}"),
        })?;
        let _ = wake.set_nonblocking(true);
        let ended = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name(format!("jump {label}"))
            .spawn({
                let ended = Arc::clone(&ended);
                let stop = Arc::clone(&stop);
                let label = label.clone();
                move || {
                    let reason = BridgeLoop::new(conn, incoming, wake, stop, timeout).run();
                    tracing::debug!(hop = %label, %reason, "jump connection ended");
                    *ended.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason);
                }
            })
            .map_err(|e| SessionError::Settings {
                detail: format!("could not start the jump host bridge thread: {e}"),
            })?;
        Ok(Bridge {
            label,
            requests,
            waker,
            ended,
            stop,
            thread: Some(thread),
        })
    }

    fn has_ended(&self) -> bool {
        self.ended
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    fn ended_reason(&self) -> String {
        self.ended
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| "the jump connection ended".into())
    }

    /// Asks for a connection to `host:port` through this hop, within `deadline`.
    fn open(
        &self,
        host: &str,
        port: u16,
        deadline: &Deadline,
        ctx: &SessionContext,
    ) -> Result<UnixStream, OpenFailure> {
        let (reply, answer) = mpsc::sync_channel(1);
        let request = OpenRequest {
            host: host.to_string(),
            port,
            reply,
        };
        if self.requests.send(request).is_err() {
            return Err(OpenFailure::Ended(self.ended_reason()));
        }
        let _ = (&self.waker).write(&[1]);
        // The caller's idle hook runs once the wait has lasted its `after`, as on a socket.
        let mut hook = ctx.idle_hook();
        loop {
            let Ok(left) = deadline.remaining(Stage::Connect) else {
                return Err(OpenFailure::TimedOut);
            };
            let wait = match &hook {
                Some(h) if h.after < left => h.after,
                _ => left,
            };
            match answer.recv_timeout(wait) {
                Ok(result) => return result,
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(h) = hook.take() {
                        (h.run)();
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(OpenFailure::Ended(self.ended_reason()));
                }
            }
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = (&self.waker).write(&[0]);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One forwarded connection: an SSH channel and the bridge's end of its socket pair, with the
/// bytes read from one side and not yet written to the other.
struct Pipe {
    channel: Channel,
    local: UnixStream,
    to_local: Vec<u8>,
    to_local_at: usize,
    to_remote: Vec<u8>,
    to_remote_at: usize,
    /// The device (through the channel) sent EOF or closed.
    remote_eof: bool,
    /// The local side (the device's session) closed its end.
    local_eof: bool,
    /// The device's EOF was passed on to the device's session.
    local_shut: bool,
    done: bool,
}

/// How a pump step went wrong.
enum PumpError {
    /// The SSH session itself failed: every channel is gone.
    Session(String),
}

impl Pipe {
    fn new(channel: Channel, local: UnixStream) -> Pipe {
        Pipe {
            channel,
            local,
            to_local: Vec::with_capacity(CHUNK),
            to_local_at: 0,
            to_remote: Vec::with_capacity(CHUNK),
            to_remote_at: 0,
            remote_eof: false,
            local_eof: false,
            local_shut: false,
            done: false,
        }
    }

    fn to_local_pending(&self) -> bool {
        self.to_local_at < self.to_local.len()
    }

    fn to_remote_pending(&self) -> bool {
        self.to_remote_at < self.to_remote.len()
    }

    /// Whether this pipe would read its channel now (so the session's socket matters).
    fn wants_remote(&self) -> bool {
        !self.done
            && ((!self.to_local_pending() && !self.remote_eof)
                || self.to_remote_pending()
                || self.local_eof)
    }

    /// Moves whatever can move without waiting. Returns whether anything did.
    fn pump(&mut self, session: &ssh2::Session, scratch: &mut [u8]) -> Result<bool, PumpError> {
        let mut progressed = self.write_remote(session)?;
        // Channel → device.
        if !self.to_local_pending() && !self.remote_eof {
            self.to_local.clear();
            self.to_local_at = 0;
            match self.channel.read(scratch) {
                Ok(0) => {
                    self.remote_eof = true;
                    progressed = true;
                }
                Ok(n) => {
                    self.to_local.extend_from_slice(&scratch[..n]);
                    progressed = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => return self.channel_failed(session),
            }
        }
        if self.to_local_pending() {
            match (&self.local).write(&self.to_local[self.to_local_at..]) {
                Ok(n) => {
                    self.to_local_at += n;
                    progressed |= n > 0;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => {
                    // The device's session is gone: nothing more to deliver.
                    self.local_eof = true;
                    self.to_local.clear();
                    self.to_local_at = 0;
                    progressed = true;
                }
            }
        }
        if self.remote_eof && !self.to_local_pending() && !self.local_shut {
            let _ = self.local.shutdown(std::net::Shutdown::Write);
            self.local_shut = true;
            progressed = true;
        }
        // Device → channel.
        if !self.to_remote_pending() && !self.local_eof {
            self.to_remote.clear();
            self.to_remote_at = 0;
            match (&self.local).read(scratch) {
                Ok(0) => self.local_eof = true,
                Ok(n) => self.to_remote.extend_from_slice(&scratch[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => self.local_eof = true,
            }
            if self.local_eof || self.to_remote_pending() {
                progressed = true;
                progressed |= self.write_remote(session)?;
            }
        }
        // The device's session never half-closes its socket: its end of the stream is the
        // end of the connection. Close the channel once its last words are sent (libssh2
        // sends EOF first, and finishes once the jump host confirms).
        if self.local_eof && !self.to_remote_pending() {
            match self.channel.close() {
                Err(e) if super::would_block(&e) => {}
                _ => {
                    self.done = true;
                    progressed = true;
                }
            }
        }
        Ok(progressed)
    }

    /// Writes what the device's session sent to the channel. A write libssh2 could not
    /// finish is retried first, with the same bytes, before anything else goes out.
    fn write_remote(&mut self, session: &ssh2::Session) -> Result<bool, PumpError> {
        let mut progressed = false;
        while self.to_remote_pending() {
            match self.channel.write(&self.to_remote[self.to_remote_at..]) {
                Ok(0) => break,
                Ok(n) => {
                    self.to_remote_at += n;
                    progressed = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => return self.channel_failed(session),
            }
        }
        Ok(progressed)
    }

    /// A channel read or write failed: the channel is gone, and so may be the session.
    fn channel_failed(&mut self, session: &ssh2::Session) -> Result<bool, PumpError> {
        if let Some(e) = ssh2::Error::last_session_error(session)
            && is_session_failure(&e)
        {
            return Err(PumpError::Session(e.message().to_string()));
        }
        self.remote_eof = true;
        self.local_eof = true;
        self.to_remote.clear();
        self.to_remote_at = 0;
        Ok(true)
    }
}

/// `POLLRDHUP` (the peer closed its end), which nix does not name.
fn rdhup() -> PollFlags {
    PollFlags::from_bits_retain(libc::POLLRDHUP)
}

/// Whether a libssh2 error means the whole session is unusable (rather than one channel).
fn is_session_failure(err: &ssh2::Error) -> bool {
    use code::*;
    matches!(
        err.code(),
        ssh2::ErrorCode::Session(
            SOCKET_DISCONNECT | SOCKET_RECV | SOCKET_SEND | BAD_SOCKET | TIMEOUT
        )
    )
}

/// The bridge thread's state.
struct BridgeLoop {
    conn: Connection,
    incoming: Receiver<OpenRequest>,
    wake: UnixStream,
    stop: Arc<AtomicBool>,
    queue: VecDeque<OpenRequest>,
    /// The request whose channel libssh2 is opening (one at a time per session).
    opening: Option<OpenRequest>,
    pipes: Vec<Pipe>,
    /// Channels opened for requesters that had gone by then: closed, then dropped.
    orphans: Vec<Channel>,
    scratch: Vec<u8>,
    /// Bounds libssh2's own blocking, should any call block.
    timeout: Duration,
}

impl BridgeLoop {
    fn new(
        conn: Connection,
        incoming: Receiver<OpenRequest>,
        wake: UnixStream,
        stop: Arc<AtomicBool>,
        timeout: Duration,
    ) -> BridgeLoop {
        conn.session.set_keepalive(false, KEEPALIVE_SECS);
        BridgeLoop {
            conn,
            incoming,
            wake,
            stop,
            queue: VecDeque::new(),
            opening: None,
            pipes: Vec::new(),
            orphans: Vec::new(),
            scratch: vec![0; CHUNK],
            timeout,
        }
    }

    /// Serves requests and forwards bytes until told to stop or the session fails; returns
    /// why it ended. Every forwarded connection is closed on the way out.
    fn run(mut self) -> String {
        let reason = loop {
            if self.stop.load(Ordering::Relaxed) {
                self.conn.close(self.timeout.min(Duration::from_secs(1)));
                break "closed".to_string();
            }
            let mut sink = [0u8; 64];
            while matches!((&self.wake).read(&mut sink), Ok(n) if n > 0) {}
            self.queue.extend(self.incoming.try_iter());
            if let Err(reason) = self.step() {
                break reason;
            }
            if let Err(reason) = self.wait() {
                break reason;
            }
        };
        for request in self.queue.drain(..).chain(self.opening.take()) {
            let _ = request.reply.send(Err(OpenFailure::Ended(reason.clone())));
        }
        // Dropping the pipes closes the devices' ends: their sessions see the connection close.
        self.pipes.clear();
        self.conn.link.shutdown();
        reason
    }

    /// Moves everything that can move until nothing does.
    fn step(&mut self) -> Result<(), String> {
        loop {
            let mut progressed = false;
            for pipe in &mut self.pipes {
                match pipe.pump(&self.conn.session, &mut self.scratch) {
                    Ok(p) => progressed |= p,
                    Err(PumpError::Session(reason)) => return Err(reason),
                }
            }
            self.pipes.retain(|p| !p.done);
            progressed |= self.open_next()?;
            self.orphans
                .retain_mut(|c| matches!(c.close(), Err(ref e) if super::would_block(e)));
            if !progressed {
                return Ok(());
            }
        }
    }

    /// Advances the channel open in progress, or starts the next one queued.
    fn open_next(&mut self) -> Result<bool, String> {
        if self.opening.is_none() {
            self.opening = self.queue.pop_front();
        }
        let Some(request) = &self.opening else {
            return Ok(false);
        };
        match self
            .conn
            .session
            .channel_direct_tcpip(&request.host, request.port, None)
        {
            Ok(channel) => {
                let request = self.opening.take().expect("checked above");
                let pair = UnixStream::pair().and_then(|(ours, theirs)| {
                    ours.set_nonblocking(true)?;
                    Ok((ours, theirs))
                });
                match pair {
                    Ok((ours, theirs)) => {
                        if request.reply.send(Ok(theirs)).is_ok() {
                            self.pipes.push(Pipe::new(channel, ours));
                        } else {
                            self.orphans.push(channel);
                        }
                    }
                    Err(e) => {
                        let _ = request
                            .reply
                            .send(Err(OpenFailure::Refused(format!("no socket pair: {e}"))));
                        self.orphans.push(channel);
                    }
                }
                Ok(true)
            }
            Err(e) if super::would_block(&e) => Ok(false),
            Err(e) if is_session_failure(&e) => Err(e.message().to_string()),
            Err(e) => {
                let request = self.opening.take().expect("checked above");
                let _ = request
                    .reply
                    .send(Err(OpenFailure::Refused(e.message().to_string())));
                Ok(true)
            }
        }
    }

    /// Waits until the session's socket, a device's socket or the waker has something, or
    /// the keepalive is due.
    fn wait(&mut self) -> Result<(), String> {
        let next_keepalive = match self.conn.session.keepalive_send() {
            Ok(secs) => Duration::from_secs(u64::from(secs.max(1))),
            Err(e) if super::would_block(&e) => Duration::from_millis(100),
            Err(e) if is_session_failure(&e) => return Err(e.message().to_string()),
            Err(_) => Duration::from_secs(1),
        };
        let session_wants_read = self.opening.is_some()
            || !self.orphans.is_empty()
            || self.pipes.iter().any(Pipe::wants_remote);
        let mut session_events = rdhup();
        if session_wants_read {
            session_events |= PollFlags::POLLIN;
        }
        if matches!(
            self.conn.session.block_directions(),
            BlockDirections::Outbound | BlockDirections::Both
        ) {
            session_events |= PollFlags::POLLOUT;
        }
        let mut fds = vec![
            PollFd::new(self.conn.link.socket.as_fd(), session_events),
            PollFd::new(self.wake.as_fd(), PollFlags::POLLIN),
        ];
        for pipe in &self.pipes {
            let mut events = PollFlags::empty();
            if !pipe.local_eof && !pipe.to_remote_pending() {
                events |= PollFlags::POLLIN;
            }
            if pipe.to_local_pending() {
                events |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(pipe.local.as_fd(), events));
        }
        let polled = poll(
            &mut fds,
            tcp::poll_timeout(next_keepalive.min(Duration::from_secs(5))),
        );
        let session_revents = fds[0].revents().unwrap_or(PollFlags::empty());
        drop(fds);
        match polled {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(format!("poll failed: {e}")),
        }
        if session_revents.contains(PollFlags::POLLIN)
            && let Socket::Tcp(socket) = &self.conn.link.socket
        {
            tcp::rearm_quickack(socket);
        }
        let hung_up = session_revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | rdhup());
        if hung_up && !session_wants_read {
            // Nothing reads the session now, so libssh2 would not notice: the jump host
            // closed an idle connection.
            return Err("the jump host closed the connection".into());
        }
        Ok(())
    }
}
