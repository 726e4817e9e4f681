//! Everything only telnet does: the connection as a [`CliStream`] (option negotiation and
//! `IAC` escaping through `netsweep-telnet`, NVT line endings), and logging in by the
//! device's own prompts ([`login`]).
//!
//! The flow, as `run_job` drives it over a TCP connection from [`crate::tcp`]:
//! [`TelnetStream::new`] → [`login::wait_for_login`] (stage `handshake`: options are
//! negotiated as the device opens, until it asks for a login) → [`login::log_in`] (stage
//! `auth`) → the shared CLI session over the same stream.
//!
//! Option policy: the device may echo (ECHO) and drop go-aheads (SUPPRESS-GO-AHEAD); netsweep
//! names its terminal (TERMINAL-TYPE) and gives a wide, tall window (NAWS) when asked, so
//! paging and wrapping do not bite; every other option, either way, is refused. netsweep
//! requests nothing itself: telnet servers open the negotiation.
//!
//! Telnet has no encryption and no host key: the password crosses the network in clear text.
//! Nothing here logs it. Nothing here knows a platform's CLI.

pub(crate) mod login;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use netsweep_protocol::Stage;
use netsweep_telnet::{Change, Decoder, Event, Negotiator, OptionSet, Side, opt};

use crate::cli_stream::CliStream;
use crate::context::IdleHook;
use crate::deadline::Deadline;
use crate::error::SessionError;
use crate::tcp::{Interest, Socket, TcpLink};

/// The terminal type netsweep names when asked (the same as its SSH PTY's).
const TERMINAL_TYPE: &str = "VT100";

/// The window netsweep reports (NAWS): about as wide as its SSH PTY (511) and far taller than
/// any page, so that a device that pages by the window never pages a command's output. No
/// byte of either is 255: the encoder doubles such a byte as RFC 855 says, but servers that
/// read NAWS as a fixed 9 bytes (BusyBox telnetd among them) then take the rest of the
/// subnegotiation for typed input, and it lands in front of the user name. 32,000 also suits
/// a server that keeps the size in a signed 16-bit field.
const WINDOW: (u16, u16) = (510, 32_000);

/// Options netsweep performs when the device asks.
const LOCAL_OPTIONS: OptionSet = OptionSet::of(&[opt::TERMINAL_TYPE, opt::NAWS]);
/// Options netsweep lets the device perform.
const REMOTE_OPTIONS: OptionSet = OptionSet::of(&[opt::ECHO, opt::SUPPRESS_GO_AHEAD]);

/// A telnet connection to a device: data in and out, negotiation handled on the way.
pub(crate) struct TelnetStream {
    link: TcpLink,
    decoder: Decoder,
    options: Negotiator,
    events: Vec<Event>,
    /// Bytes to send: encoded data, or answers to the device's negotiation.
    outgoing: Vec<u8>,
}

impl TelnetStream {
    /// Takes over a connected socket (made non-blocking here).
    pub(crate) fn new(
        socket: Socket,
        idle: Option<Arc<IdleHook>>,
    ) -> Result<TelnetStream, SessionError> {
        socket
            .set_nonblocking(true)
            .map_err(|e| lost(Stage::Handshake, e))?;
        Ok(TelnetStream {
            link: TcpLink::new(socket, idle),
            decoder: Decoder::new(),
            options: Negotiator::new(LOCAL_OPTIONS, REMOTE_OPTIONS),
            events: Vec::new(),
            outgoing: Vec::new(),
        })
    }

    /// Waits until a read may find something, `at_most`, or until the deadline passes (an
    /// error).
    pub(crate) fn wait_at_most(
        &mut self,
        at_most: Duration,
        deadline: &Deadline,
        stage: Stage,
    ) -> Result<(), SessionError> {
        self.link.wait(Interest::Read, at_most, deadline, stage)
    }

    /// Answers the negotiation and subnegotiation requests decoded so far.
    fn answer_events(&mut self) -> Vec<u8> {
        let mut answer = Vec::new();
        for event in self.events.drain(..) {
            match event {
                Event::Negotiation(verb, option) => {
                    let change = self.options.receive(verb, option, &mut answer);
                    tracing::trace!(
                        "telnet: received {} {}{}",
                        verb.as_str(),
                        opt::name(option),
                        match change {
                            Some(Change::Enabled(..)) => " (agreed)",
                            Some(Change::Disabled(..)) => " (now off)",
                            None => "",
                        }
                    );
                    if change == Some(Change::Enabled(Side::Local, opt::NAWS)) {
                        netsweep_telnet::window_size(WINDOW.0, WINDOW.1, &mut answer);
                    }
                }
                Event::Subnegotiation { option, data } => {
                    if option == opt::TERMINAL_TYPE
                        && netsweep_telnet::is_terminal_type_send(&data)
                        && self.options.local(opt::TERMINAL_TYPE)
                    {
                        netsweep_telnet::terminal_type_is(TERMINAL_TYPE, &mut answer);
                    }
                }
                // Go-ahead, no-op, data mark, are-you-there…: nothing to do for a client that
                // only ever waits for a prompt.
                Event::Command(_) => {}
            }
        }
        answer
    }

    /// Sends `bytes` as they are, waiting for the socket to take them until the deadline.
    fn send_raw(
        &mut self,
        bytes: &[u8],
        deadline: &Deadline,
        stage: Stage,
    ) -> Result<(), SessionError> {
        let mut written = 0;
        while written < bytes.len() {
            match self.link.socket().write(&bytes[written..]) {
                Ok(0) => {
                    return Err(SessionError::Lost {
                        stage,
                        source: None,
                    });
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.link
                        .wait(Interest::Write, Duration::MAX, deadline, stage)?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(lost(stage, e)),
            }
        }
        Ok(())
    }
}

impl CliStream for TelnetStream {
    fn read_available(
        &mut self,
        buf: &mut [u8],
        deadline: &Deadline,
        stage: Stage,
    ) -> Result<Option<usize>, SessionError> {
        loop {
            let n = match self.link.socket().read(buf) {
                Ok(0) => return Ok(Some(0)),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(lost(stage, e)),
            };
            let data = self.decoder.decode(&mut buf[..n], &mut self.events);
            if !self.events.is_empty() {
                let answer = self.answer_events();
                if !answer.is_empty() {
                    self.send_raw(&answer, deadline, stage)?;
                }
            }
            // Only commands arrived: look again rather than report "nothing".
            if data > 0 {
                return Ok(Some(data));
            }
        }
    }

    fn write_all(
        &mut self,
        data: &[u8],
        deadline: &Deadline,
        stage: Stage,
    ) -> Result<(), SessionError> {
        let mut wire = std::mem::take(&mut self.outgoing);
        wire.clear();
        netsweep_telnet::encode(data, &mut wire);
        let sent = self.send_raw(&wire, deadline, stage);
        self.outgoing = wire;
        sent
    }

    fn wait(&mut self, deadline: &Deadline, stage: Stage) -> Result<(), SessionError> {
        self.link
            .wait(Interest::Read, Duration::MAX, deadline, stage)
    }

    fn close(&mut self, _deadline: &Deadline) {
        // Telnet has no goodbye of its own: the exit command was sent, closing is the end.
        self.link.shutdown();
    }
}

/// A socket error: the connection is gone.
fn lost(stage: Stage, e: std::io::Error) -> SessionError {
    SessionError::Lost {
        stage,
        source: Some(Box::new(e)),
    }
}
