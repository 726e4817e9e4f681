//! The telnet protocol's byte layer (RFC 854 and 855), shared by netsweep's telnet client
//! (`netsweep-device`) and the simulator's telnet server (`netsweep-sim`):
//!
//! - [`Decoder`]: the bytes off the wire → the data the other side typed or printed, and the
//!   telnet commands in between ([`Event`]): `IAC IAC` is one `0xFF` data byte, `CR NUL` is a
//!   bare `CR`, option negotiation and subnegotiation are taken out. It keeps its state
//!   between calls, so a sequence may arrive split anywhere.
//! - [`encode`]: data → the bytes to send: `0xFF` doubled, line endings made NVT ones (`\n`
//!   → `CR LF`, a bare `CR` → `CR NUL`).
//! - [`Negotiator`]: the option state of one connection (RFC 1143's "Q method", without its
//!   queue bits), agreeing to the options its owner accepts and refusing every other, so that
//!   negotiation can never loop.
//! - Builders and parsers for the two subnegotiations netsweep speaks: the window size (NAWS,
//!   RFC 1073) and the terminal type (RFC 1091).
//!
//! Pure functions and state machines over byte slices: this crate must not do I/O, wait, log,
//! or know what the data means (logins, prompts and CLIs are its users' business).

mod codec;
mod options;

pub use codec::{Decoder, Event, encode};
pub use options::{Change, Negotiator, OptionSet, Side};

/// Telnet commands: the byte after `IAC` (RFC 854).
pub mod cmd {
    /// Interpret As Command: starts every command; doubled, a `0xFF` data byte.
    pub const IAC: u8 = 255;
    /// Refuse, or ask the other side to stop, performing an option.
    pub const DONT: u8 = 254;
    /// Ask the other side to perform an option, or agree that it does.
    pub const DO: u8 = 253;
    /// Refuse, or stop, performing an option.
    pub const WONT: u8 = 252;
    /// Offer, or agree, to perform an option.
    pub const WILL: u8 = 251;
    /// Subnegotiation begins: `IAC SB option … IAC SE`.
    pub const SB: u8 = 250;
    /// Go ahead (half-duplex turn-taking; suppressed by SUPPRESS-GO-AHEAD).
    pub const GA: u8 = 249;
    /// Erase line.
    pub const EL: u8 = 248;
    /// Erase character.
    pub const EC: u8 = 247;
    /// Are you there.
    pub const AYT: u8 = 246;
    /// Abort output.
    pub const AO: u8 = 245;
    /// Interrupt process.
    pub const IP: u8 = 244;
    /// Break.
    pub const BRK: u8 = 243;
    /// Data mark (the end of urgent data).
    pub const DM: u8 = 242;
    /// No operation.
    pub const NOP: u8 = 241;
    /// Subnegotiation ends.
    pub const SE: u8 = 240;
}

/// Telnet options netsweep knows by name.
pub mod opt {
    /// RFC 856: 8-bit data without NVT line-ending rules.
    pub const BINARY: u8 = 0;
    /// RFC 857: the side that performs it echoes what the other types.
    pub const ECHO: u8 = 1;
    /// RFC 858: no go-ahead commands (full duplex).
    pub const SUPPRESS_GO_AHEAD: u8 = 3;
    /// RFC 859.
    pub const STATUS: u8 = 5;
    /// RFC 860.
    pub const TIMING_MARK: u8 = 6;
    /// RFC 1091: the client names its terminal when asked.
    pub const TERMINAL_TYPE: u8 = 24;
    /// RFC 1073: Negotiate About Window Size; the client sends its width and height.
    pub const NAWS: u8 = 31;
    /// RFC 1079.
    pub const TERMINAL_SPEED: u8 = 32;
    /// RFC 1372.
    pub const LINEMODE: u8 = 34;
    /// RFC 1572.
    pub const NEW_ENVIRON: u8 = 39;

    /// The option's name for logs (`ECHO`, `NAWS`), or its number.
    pub fn name(option: u8) -> std::borrow::Cow<'static, str> {
        let known = match option {
            BINARY => "BINARY",
            ECHO => "ECHO",
            SUPPRESS_GO_AHEAD => "SUPPRESS-GO-AHEAD",
            STATUS => "STATUS",
            TIMING_MARK => "TIMING-MARK",
            TERMINAL_TYPE => "TERMINAL-TYPE",
            NAWS => "NAWS",
            TERMINAL_SPEED => "TERMINAL-SPEED",
            33 => "TOGGLE-FLOW-CONTROL",
            LINEMODE => "LINEMODE",
            35 => "X-DISPLAY-LOCATION",
            36 => "ENVIRON",
            37 => "AUTHENTICATION",
            38 => "ENCRYPT",
            NEW_ENVIRON => "NEW-ENVIRON",
            _ => return std::borrow::Cow::Owned(format!("option {option}")),
        };
        std::borrow::Cow::Borrowed(known)
    }
}

/// A negotiation verb: the command byte between `IAC` and the option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `WILL`: the sender offers or agrees to perform the option.
    Will,
    /// `WONT`: the sender refuses or stops performing it.
    Wont,
    /// `DO`: the sender asks the receiver to perform it, or agrees that it does.
    Do,
    /// `DONT`: the sender asks the receiver not to perform it.
    Dont,
}

impl Verb {
    /// The command byte.
    pub fn byte(self) -> u8 {
        match self {
            Verb::Will => cmd::WILL,
            Verb::Wont => cmd::WONT,
            Verb::Do => cmd::DO,
            Verb::Dont => cmd::DONT,
        }
    }

    fn from_byte(b: u8) -> Option<Verb> {
        match b {
            cmd::WILL => Some(Verb::Will),
            cmd::WONT => Some(Verb::Wont),
            cmd::DO => Some(Verb::Do),
            cmd::DONT => Some(Verb::Dont),
            _ => None,
        }
    }

    /// `WILL`, `WONT`, `DO` or `DONT`, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Will => "WILL",
            Verb::Wont => "WONT",
            Verb::Do => "DO",
            Verb::Dont => "DONT",
        }
    }
}

/// `IAC verb option`.
pub fn negotiation(verb: Verb, option: u8) -> [u8; 3] {
    [cmd::IAC, verb.byte(), option]
}

/// Appends `IAC SB option data IAC SE` to `out`, doubling any `0xFF` in `data`.
pub fn subnegotiation(option: u8, data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&[cmd::IAC, cmd::SB, option]);
    for &b in data {
        if b == cmd::IAC {
            out.push(cmd::IAC);
        }
        out.push(b);
    }
    out.extend_from_slice(&[cmd::IAC, cmd::SE]);
}

/// Terminal-type subnegotiation codes (RFC 1091).
const TTYPE_IS: u8 = 0;
const TTYPE_SEND: u8 = 1;

/// Appends the client's window size (NAWS): `IAC SB NAWS width height IAC SE`, each a 16-bit
/// big-endian number.
pub fn window_size(width: u16, height: u16, out: &mut Vec<u8>) {
    let [w1, w0] = width.to_be_bytes();
    let [h1, h0] = height.to_be_bytes();
    subnegotiation(opt::NAWS, &[w1, w0, h1, h0], out);
}

/// Reads a window size subnegotiation's data (after the option byte): `(width, height)`.
pub fn parse_window_size(data: &[u8]) -> Option<(u16, u16)> {
    match *data {
        [w1, w0, h1, h0] => Some((u16::from_be_bytes([w1, w0]), u16::from_be_bytes([h1, h0]))),
        _ => None,
    }
}

/// Appends the client's answer to a terminal-type request: `IAC SB TERMINAL-TYPE IS name IAC SE`.
pub fn terminal_type_is(name: &str, out: &mut Vec<u8>) {
    let mut data = Vec::with_capacity(1 + name.len());
    data.push(TTYPE_IS);
    data.extend_from_slice(name.as_bytes());
    subnegotiation(opt::TERMINAL_TYPE, &data, out);
}

/// Appends the server's terminal-type request: `IAC SB TERMINAL-TYPE SEND IAC SE`.
pub fn terminal_type_send(out: &mut Vec<u8>) {
    subnegotiation(opt::TERMINAL_TYPE, &[TTYPE_SEND], out);
}

/// Whether a terminal-type subnegotiation's data is the server's request (`SEND`).
pub fn is_terminal_type_send(data: &[u8]) -> bool {
    data == [TTYPE_SEND]
}

/// The terminal name of a terminal-type subnegotiation's data, if it is an answer (`IS`).
pub fn parse_terminal_type_is(data: &[u8]) -> Option<&[u8]> {
    match data.split_first() {
        Some((&TTYPE_IS, name)) => Some(name),
        _ => None,
    }
}
