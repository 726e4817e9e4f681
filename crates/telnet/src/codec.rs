//! Decoding the bytes off the wire into data and telnet commands, and encoding data for the
//! wire: `IAC` escaping both ways and NVT line endings (RFC 854).
//!
//! The decoder keeps its state between calls (a command, a subnegotiation, or a `CR NUL` may
//! be split across reads anywhere); the encoder is stateless and works on whole writes.

use crate::Verb;
use crate::cmd::{IAC, SB, SE};

/// The most subnegotiation data kept for one `IAC SB … IAC SE`. Real ones are a few bytes
/// (a window size, a terminal name); a peer that never ends one must not grow memory.
const MAX_SUBNEGOTIATION: usize = 512;

/// A telnet command found among the data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `IAC WILL|WONT|DO|DONT option`.
    Negotiation(Verb, u8),
    /// `IAC SB option data IAC SE`, with `IAC IAC` in the data already made one `0xFF`. Data
    /// beyond a few hundred bytes is dropped.
    Subnegotiation {
        /// The option.
        option: u8,
        /// What came between the option and `IAC SE`.
        data: Vec<u8>,
    },
    /// Any other command: `NOP`, `GA`, `AYT`, `DM`, … (the byte after `IAC`).
    Command(u8),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Data,
    /// After an `IAC` among the data.
    Iac,
    /// After `IAC` and a negotiation verb: the option comes next.
    Verb(Verb),
    /// After `IAC SB`: the option comes next.
    SubOption,
    /// Inside a subnegotiation's data.
    Sub,
    /// After an `IAC` inside a subnegotiation.
    SubIac,
}

/// Turns what a telnet peer sends into plain data and [`Event`]s, across any number of reads.
#[derive(Clone, Debug, Default)]
pub struct Decoder {
    state: State,
    /// The last data byte was a `CR`: a `NUL` right after it is the NVT's way of sending a
    /// bare `CR`, not data.
    after_cr: bool,
    sub_option: u8,
    sub_data: Vec<u8>,
}

impl Decoder {
    /// A decoder at the start of a connection.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Decodes `buf` in place: the data it holds is moved to its front and its length
    /// returned; the commands among it are appended to `events`, in order. (Data never grows
    /// in decoding, so no second buffer is needed.)
    pub fn decode(&mut self, buf: &mut [u8], events: &mut Vec<Event>) -> usize {
        let mut len = 0;
        for i in 0..buf.len() {
            let b = buf[i];
            match self.state {
                State::Data => {
                    if b == IAC {
                        self.state = State::Iac;
                    } else if b == 0 && self.after_cr {
                        self.after_cr = false;
                    } else {
                        self.after_cr = b == b'\r';
                        buf[len] = b;
                        len += 1;
                    }
                }
                State::Iac => self.command(b, &mut buf[..], &mut len, events),
                State::Verb(verb) => {
                    events.push(Event::Negotiation(verb, b));
                    self.state = State::Data;
                }
                State::SubOption => {
                    self.sub_option = b;
                    self.sub_data.clear();
                    self.state = State::Sub;
                }
                State::Sub => {
                    if b == IAC {
                        self.state = State::SubIac;
                    } else {
                        self.push_sub(b);
                    }
                }
                State::SubIac => match b {
                    SE => {
                        self.end_subnegotiation(events);
                        self.state = State::Data;
                    }
                    IAC => {
                        self.push_sub(IAC);
                        self.state = State::Sub;
                    }
                    // `IAC` and anything else inside a subnegotiation breaks the rules; the
                    // common reading (BSD telnet's) is that the subnegotiation ended without
                    // its `SE` and this is a new command.
                    other => {
                        self.end_subnegotiation(events);
                        self.command(other, &mut buf[..], &mut len, events);
                    }
                },
            }
        }
        len
    }

    /// The byte after an `IAC` among the data.
    fn command(&mut self, b: u8, buf: &mut [u8], len: &mut usize, events: &mut Vec<Event>) {
        self.state = State::Data;
        if b == IAC {
            buf[*len] = IAC;
            *len += 1;
            self.after_cr = false;
        } else if let Some(verb) = Verb::from_byte(b) {
            self.state = State::Verb(verb);
        } else if b == SB {
            self.state = State::SubOption;
        } else {
            events.push(Event::Command(b));
        }
    }

    fn push_sub(&mut self, b: u8) {
        if self.sub_data.len() < MAX_SUBNEGOTIATION {
            self.sub_data.push(b);
        }
    }

    fn end_subnegotiation(&mut self, events: &mut Vec<Event>) {
        events.push(Event::Subnegotiation {
            option: self.sub_option,
            data: std::mem::take(&mut self.sub_data),
        });
    }
}

/// Appends `data` to `out` as NVT data: `0xFF` doubled, `\n` (alone or after `\r`) sent as
/// `CR LF`, a bare `\r` as `CR NUL`.
///
/// Stateless: a `\r\n` pair must not be split between two calls (the `\r` would go as
/// `CR NUL`). Both netsweep's client and the simulator write whole lines.
pub fn encode(data: &[u8], out: &mut Vec<u8>) {
    out.reserve(data.len() + data.len() / 16 + 2);
    let mut bytes = data.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        match b {
            b'\r' => {
                if bytes.peek() == Some(&b'\n') {
                    bytes.next();
                    out.extend_from_slice(b"\r\n");
                } else {
                    out.extend_from_slice(b"\r\0");
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            IAC => out.extend_from_slice(&[IAC, IAC]),
            b => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::cmd::{DO, DONT, GA, NOP, WILL, WONT};
    use crate::opt::{ECHO, NAWS, SUPPRESS_GO_AHEAD, TERMINAL_TYPE};

    /// Decodes `wire` in the given pieces; returns the data and the events.
    fn decode_in(pieces: &[&[u8]]) -> (Vec<u8>, Vec<Event>) {
        let mut decoder = Decoder::new();
        let mut data = Vec::new();
        let mut events = Vec::new();
        for piece in pieces {
            let mut buf = piece.to_vec();
            let n = decoder.decode(&mut buf, &mut events);
            data.extend_from_slice(&buf[..n]);
        }
        (data, events)
    }

    /// Every way of cutting `wire` into two pieces, and into single bytes, decodes exactly as
    /// the whole does, and the whole decodes as expected.
    #[track_caller]
    fn assert_split_anywhere(wire: &[u8], data: &[u8], events: &[Event]) {
        let whole = decode_in(&[wire]);
        assert_eq!(whole.0, data, "data of the whole");
        assert_eq!(whole.1, events, "events of the whole");
        for cut in 0..=wire.len() {
            let (a, b) = wire.split_at(cut);
            assert_eq!(decode_in(&[a, b]), whole, "cut at byte {cut}");
            for cut2 in cut..=wire.len() {
                let (b1, b2) = b.split_at(cut2 - cut);
                assert_eq!(decode_in(&[a, b1, b2]), whole, "cut at {cut} and {cut2}");
            }
        }
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(decode_in(&bytes), whole, "byte by byte");
    }

    #[test]
    fn plain_data_passes_through() {
        assert_split_anywhere(b"r1>show clock\r\n", b"r1>show clock\r\n", &[]);
    }

    #[test]
    fn a_doubled_iac_is_one_0xff_data_byte() {
        assert_split_anywhere(
            &[b'a', IAC, IAC, b'b', IAC, IAC],
            &[b'a', 0xFF, b'b', 0xFF],
            &[],
        );
    }

    #[test]
    fn cr_nul_is_a_bare_cr_and_cr_lf_stays() {
        assert_split_anywhere(b"one\r\0two\r\nthree\r\0\0", b"one\rtwo\r\nthree\r\0", &[]);
        // A NUL that does not follow a CR is data.
        assert_split_anywhere(b"\0a\0", b"\0a\0", &[]);
        // A doubled IAC between CR and NUL: the NUL no longer follows a CR.
        assert_split_anywhere(&[b'\r', IAC, IAC, 0], &[b'\r', 0xFF, 0], &[]);
    }

    #[test]
    fn a_server_greeting_with_every_kind_of_negotiation() {
        // What a Cisco-like server opens with, data around and between the commands.
        let mut wire = Vec::new();
        wire.extend_from_slice(&[IAC, WILL, ECHO, IAC, WILL, SUPPRESS_GO_AHEAD]);
        wire.extend_from_slice(&[IAC, DO, TERMINAL_TYPE, IAC, DO, NAWS]);
        wire.extend_from_slice(b"\r\nUser Access Verification\r\n\r\n");
        wire.extend_from_slice(&[IAC, SB, TERMINAL_TYPE, 1, IAC, SE]);
        wire.extend_from_slice(&[IAC, DONT, 0x22, IAC, WONT, 0x05, IAC, NOP, IAC, GA]);
        wire.extend_from_slice(b"Username: ");
        assert_split_anywhere(
            &wire,
            b"\r\nUser Access Verification\r\n\r\nUsername: ",
            &[
                Event::Negotiation(Verb::Will, ECHO),
                Event::Negotiation(Verb::Will, SUPPRESS_GO_AHEAD),
                Event::Negotiation(Verb::Do, TERMINAL_TYPE),
                Event::Negotiation(Verb::Do, NAWS),
                Event::Subnegotiation {
                    option: TERMINAL_TYPE,
                    data: vec![1],
                },
                Event::Negotiation(Verb::Dont, 0x22),
                Event::Negotiation(Verb::Wont, 0x05),
                Event::Command(NOP),
                Event::Command(GA),
            ],
        );
    }

    #[test]
    fn subnegotiation_data_keeps_doubled_iacs_as_one() {
        // A window of 255 x 65535: every size byte is 0xFF, doubled on the wire.
        let mut wire = vec![IAC, SB, NAWS];
        wire.extend_from_slice(&[0, IAC, IAC, IAC, IAC, IAC, IAC]);
        wire.extend_from_slice(&[IAC, SE, b'x']);
        assert_split_anywhere(
            &wire,
            b"x",
            &[Event::Subnegotiation {
                option: NAWS,
                data: vec![0, 0xFF, 0xFF, 0xFF],
            }],
        );
    }

    #[test]
    fn a_subnegotiation_cut_short_by_another_command_ends_there() {
        let wire = [IAC, SB, TERMINAL_TYPE, 1, IAC, WILL, ECHO, b'z'];
        assert_split_anywhere(
            &wire,
            b"z",
            &[
                Event::Subnegotiation {
                    option: TERMINAL_TYPE,
                    data: vec![1],
                },
                Event::Negotiation(Verb::Will, ECHO),
            ],
        );
    }

    #[test]
    fn an_endless_subnegotiation_keeps_a_bounded_amount() {
        let mut wire = vec![IAC, SB, TERMINAL_TYPE];
        wire.extend(std::iter::repeat_n(b'a', 100_000));
        wire.extend_from_slice(&[IAC, SE]);
        let (data, events) = decode_in(&[&wire]);
        assert!(data.is_empty());
        let [Event::Subnegotiation { data, .. }] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(data.len(), MAX_SUBNEGOTIATION);
    }

    #[test]
    fn encoding_doubles_iac_and_makes_nvt_line_endings() {
        let mut out = Vec::new();
        encode(b"show clock\n", &mut out);
        assert_eq!(out, b"show clock\r\n");
        out.clear();
        encode(b"a\r\nb\rc\r", &mut out);
        assert_eq!(out, b"a\r\nb\r\0c\r\0");
        out.clear();
        encode(&[b'p', 0xFF, b'w'], &mut out);
        assert_eq!(out, [b'p', IAC, IAC, b'w']);
    }

    proptest! {
        /// Whatever the data, the decoder gives back what the encoder was given (with `\n`
        /// as the `\r\n` it travels as), however the wire is cut.
        #[test]
        fn decode_inverts_encode(
            data in proptest::collection::vec(any::<u8>(), 0..200),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let mut wire = Vec::new();
            encode(&data, &mut wire);
            let mut at: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
            at.sort_unstable();
            let mut pieces = Vec::new();
            let mut from = 0;
            for to in at {
                pieces.push(&wire[from..to]);
                from = to;
            }
            pieces.push(&wire[from..]);
            let (decoded, events) = decode_in(&pieces);
            prop_assert!(events.is_empty());
            let mut expected = Vec::new();
            let mut bytes = data.iter().copied().peekable();
            while let Some(b) = bytes.next() {
                if b == b'\r' && bytes.peek() == Some(&b'\n') {
                    continue;
                }
                if b == b'\n' {
                    expected.push(b'\r');
                }
                expected.push(b);
            }
            prop_assert_eq!(decoded, expected);
        }
    }
}
