//! Option negotiation for one connection (RFC 855), by RFC 1143's "Q method" without its
//! queue bits (and without requests to turn an option off, which netsweep never makes): each
//! option has a state on each side (performed by us, performed by the
//! peer), requests are remembered until answered, and an answer that only confirms the
//! current state is never answered again, so two implementations can never loop.
//!
//! The owner says which options it agrees to perform and which it agrees to let the peer
//! perform; everything else is refused. What an agreed option means (send a window size,
//! echo, …) is the owner's business: [`Negotiator::receive`] reports each [`Change`].

use crate::{Verb, negotiation};

/// A set of option numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OptionSet([u64; 4]);

impl OptionSet {
    /// The options in `options`.
    pub const fn of(options: &[u8]) -> OptionSet {
        let mut bits = [0u64; 4];
        let mut i = 0;
        while i < options.len() {
            let o = options[i] as usize;
            bits[o / 64] |= 1 << (o % 64);
            i += 1;
        }
        OptionSet(bits)
    }

    /// Whether `option` is in the set.
    pub fn contains(&self, option: u8) -> bool {
        let o = option as usize;
        self.0[o / 64] & (1 << (o % 64)) != 0
    }
}

/// One side's state of one option (RFC 1143).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Q {
    #[default]
    No,
    Yes,
    /// We asked to enable it and wait for the answer.
    WantYes,
}

/// Which side performs an option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// This end (`WILL` from us, `DO` from the peer).
    Local,
    /// The peer (`WILL` from the peer, `DO` from us).
    Remote,
}

/// An option that took effect or stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// `side` performs `option` from now on.
    Enabled(Side, u8),
    /// `side` no longer performs `option`.
    Disabled(Side, u8),
}

/// The option state of one connection.
#[derive(Clone, Debug)]
pub struct Negotiator {
    /// Options this end agrees to perform.
    local_ok: OptionSet,
    /// Options this end agrees to let the peer perform.
    remote_ok: OptionSet,
    us: [Q; 256],
    him: [Q; 256],
}

impl Negotiator {
    /// A connection where this end agrees to perform `local` and lets the peer perform
    /// `remote`; nothing is enabled yet.
    pub fn new(local: OptionSet, remote: OptionSet) -> Negotiator {
        Negotiator {
            local_ok: local,
            remote_ok: remote,
            us: [Q::No; 256],
            him: [Q::No; 256],
        }
    }

    /// Whether this end performs `option` (agreed by both).
    pub fn local(&self, option: u8) -> bool {
        self.us[option as usize] == Q::Yes
    }

    /// Whether the peer performs `option` (agreed by both).
    pub fn remote(&self, option: u8) -> bool {
        self.him[option as usize] == Q::Yes
    }

    /// Offers to perform `option` (`WILL`), unless it is on or already asked for. The option
    /// must be one this end agrees to.
    pub fn offer(&mut self, option: u8, out: &mut Vec<u8>) {
        let q = &mut self.us[option as usize];
        if *q == Q::No && self.local_ok.contains(option) {
            *q = Q::WantYes;
            out.extend_from_slice(&negotiation(Verb::Will, option));
        }
    }

    /// Asks the peer to perform `option` (`DO`), unless it is on or already asked for. The
    /// option must be one this end agrees to.
    pub fn ask(&mut self, option: u8, out: &mut Vec<u8>) {
        let q = &mut self.him[option as usize];
        if *q == Q::No && self.remote_ok.contains(option) {
            *q = Q::WantYes;
            out.extend_from_slice(&negotiation(Verb::Do, option));
        }
    }

    /// Handles a negotiation received from the peer: appends the answer it needs (if any) to
    /// `out`, and says what changed.
    pub fn receive(&mut self, verb: Verb, option: u8, out: &mut Vec<u8>) -> Option<Change> {
        let (state, agree, side, yes, no) = match verb {
            Verb::Will | Verb::Wont => (
                &mut self.him[option as usize],
                self.remote_ok.contains(option),
                Side::Remote,
                Verb::Do,
                Verb::Dont,
            ),
            Verb::Do | Verb::Dont => (
                &mut self.us[option as usize],
                self.local_ok.contains(option),
                Side::Local,
                Verb::Will,
                Verb::Wont,
            ),
        };
        let before = *state;
        let enable = matches!(verb, Verb::Will | Verb::Do);
        let (after, reply) = match (before, enable) {
            // A request to turn it on.
            (Q::No, true) if agree => (Q::Yes, Some(yes)),
            (Q::No, true) => (Q::No, Some(no)),
            // The answer to our request, or a confirmation: never answered.
            (Q::WantYes, true) | (Q::Yes, true) => (Q::Yes, None),
            // A request to turn it off must be agreed to.
            (Q::Yes, false) => (Q::No, Some(no)),
            (Q::No | Q::WantYes, false) => (Q::No, None),
        };
        *state = after;
        if let Some(reply) = reply {
            out.extend_from_slice(&negotiation(reply, option));
        }
        match (before == Q::Yes, after == Q::Yes) {
            (false, true) => Some(Change::Enabled(side, option)),
            (true, false) => Some(Change::Disabled(side, option)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::{DO, DONT, IAC, WILL, WONT};
    use crate::opt::{ECHO, LINEMODE, NAWS, SUPPRESS_GO_AHEAD, TERMINAL_TYPE};

    fn client() -> Negotiator {
        Negotiator::new(
            OptionSet::of(&[TERMINAL_TYPE, NAWS]),
            OptionSet::of(&[ECHO, SUPPRESS_GO_AHEAD]),
        )
    }

    #[test]
    fn accepted_options_are_agreed_and_reported_once() {
        let mut n = client();
        let mut out = Vec::new();
        assert_eq!(
            n.receive(Verb::Will, ECHO, &mut out),
            Some(Change::Enabled(Side::Remote, ECHO))
        );
        assert_eq!(out, [IAC, DO, ECHO]);
        assert_eq!(
            n.receive(Verb::Do, NAWS, &mut out),
            Some(Change::Enabled(Side::Local, NAWS))
        );
        assert_eq!(out[3..], [IAC, WILL, NAWS]);
        // The same again only confirms: no answer, no change, no loop.
        out.clear();
        assert_eq!(n.receive(Verb::Will, ECHO, &mut out), None);
        assert_eq!(n.receive(Verb::Do, NAWS, &mut out), None);
        assert!(out.is_empty());
        assert!(n.remote(ECHO) && n.local(NAWS));
    }

    #[test]
    fn everything_else_is_refused_every_time_without_a_state_change() {
        let mut n = client();
        let mut out = Vec::new();
        assert_eq!(n.receive(Verb::Do, ECHO, &mut out), None);
        assert_eq!(n.receive(Verb::Will, LINEMODE, &mut out), None);
        assert_eq!(n.receive(Verb::Do, LINEMODE, &mut out), None);
        assert_eq!(
            out,
            [IAC, WONT, ECHO, IAC, DONT, LINEMODE, IAC, WONT, LINEMODE]
        );
        // Turning off what is off is not answered.
        out.clear();
        assert_eq!(n.receive(Verb::Wont, LINEMODE, &mut out), None);
        assert_eq!(n.receive(Verb::Dont, ECHO, &mut out), None);
        assert!(out.is_empty());
        assert!(!n.local(ECHO) && !n.remote(LINEMODE));
    }

    #[test]
    fn an_option_turned_off_by_the_peer_is_acknowledged() {
        let mut n = client();
        let mut out = Vec::new();
        n.receive(Verb::Will, ECHO, &mut out);
        out.clear();
        assert_eq!(
            n.receive(Verb::Wont, ECHO, &mut out),
            Some(Change::Disabled(Side::Remote, ECHO))
        );
        assert_eq!(out, [IAC, DONT, ECHO]);
        assert!(!n.remote(ECHO));
    }

    #[test]
    fn our_own_requests_are_not_answered_twice() {
        let mut n = client();
        let mut out = Vec::new();
        n.offer(NAWS, &mut out);
        n.offer(NAWS, &mut out);
        n.ask(SUPPRESS_GO_AHEAD, &mut out);
        // Options this end does not agree to are never requested.
        n.offer(ECHO, &mut out);
        assert_eq!(out, [IAC, WILL, NAWS, IAC, DO, SUPPRESS_GO_AHEAD]);
        out.clear();
        assert_eq!(
            n.receive(Verb::Do, NAWS, &mut out),
            Some(Change::Enabled(Side::Local, NAWS))
        );
        assert_eq!(
            n.receive(Verb::Will, SUPPRESS_GO_AHEAD, &mut out),
            Some(Change::Enabled(Side::Remote, SUPPRESS_GO_AHEAD))
        );
        assert!(out.is_empty(), "answers to our requests need no answer");
        // A refusal of a request leaves it off, unanswered.
        let mut n = client();
        n.offer(TERMINAL_TYPE, &mut out);
        out.clear();
        assert_eq!(n.receive(Verb::Dont, TERMINAL_TYPE, &mut out), None);
        assert!(out.is_empty() && !n.local(TERMINAL_TYPE));
    }

    #[test]
    fn two_negotiators_settle_without_looping() {
        // A server that offers echo and asks for a window size, against the client.
        let mut server = Negotiator::new(
            OptionSet::of(&[ECHO, SUPPRESS_GO_AHEAD]),
            OptionSet::of(&[NAWS, TERMINAL_TYPE]),
        );
        let mut client = client();
        let mut to_client = Vec::new();
        server.offer(ECHO, &mut to_client);
        server.offer(SUPPRESS_GO_AHEAD, &mut to_client);
        server.ask(NAWS, &mut to_client);
        server.ask(TERMINAL_TYPE, &mut to_client);
        server.ask(LINEMODE, &mut to_client); // not one it agrees to: never sent
        let mut rounds = 0;
        while !to_client.is_empty() {
            rounds += 1;
            assert!(rounds < 10, "negotiation loops");
            let mut to_server = Vec::new();
            for cmd in to_client.chunks(3) {
                let verb = crate::Verb::from_byte(cmd[1]).unwrap();
                client.receive(verb, cmd[2], &mut to_server);
            }
            to_client.clear();
            for cmd in to_server.chunks(3) {
                let verb = crate::Verb::from_byte(cmd[1]).unwrap();
                server.receive(verb, cmd[2], &mut to_client);
            }
        }
        assert!(client.remote(ECHO) && client.remote(SUPPRESS_GO_AHEAD));
        assert!(client.local(NAWS) && client.local(TERMINAL_TYPE));
        assert!(server.local(ECHO) && server.remote(NAWS));
    }
}
