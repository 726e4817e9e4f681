//! The telnet server seen through a raw TCP socket, bytes as they are on the wire: the
//! options it opens with, its login prompts, refusals, the CLI behind them. (netsweep's own
//! telnet client is tested against it in the device crate.)

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use netsweep_sim::{Fault, Platform, Transport};

use crate::helpers::{device, fleet};

const IAC: u8 = 255;
const WILL: u8 = 251;
const DO: u8 = 253;
const SB: u8 = 250;
const SE: u8 = 240;
const NAWS: u8 = 31;

/// A raw connection and everything it has read.
struct Raw {
    socket: TcpStream,
    seen: Vec<u8>,
}

impl Raw {
    fn connect(fleet: &netsweep_sim::Fleet, name: &str) -> Raw {
        let socket = TcpStream::connect(fleet.addr(name).unwrap()).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Raw {
            socket,
            seen: Vec::new(),
        }
    }

    /// Reads until the text (commands included, as received) ends with `end` once trailing
    /// blanks are dropped; panics at EOF.
    fn until(&mut self, end: &str) -> String {
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&self.seen)
            .trim_end()
            .ends_with(end)
        {
            let n = self.socket.read(&mut buf).expect("an answer in time");
            assert!(n > 0, "closed before {end:?}: {:?}", self.text());
            self.seen.extend_from_slice(&buf[..n]);
        }
        let text = self.text();
        self.seen.clear();
        text
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    fn send(&mut self, bytes: &[u8]) {
        self.socket.write_all(bytes).unwrap();
    }

    /// Reads until the connection closes; returns what came.
    fn read_to_close(&mut self) -> String {
        let mut rest = Vec::new();
        let _ = self.socket.read_to_end(&mut rest);
        self.seen.extend_from_slice(&rest);
        self.text()
    }
}

fn telnet_device(name: &str, platform: Platform) -> netsweep_sim::DeviceSpec {
    let mut d = device(name, platform);
    d.transport = Transport::Telnet;
    d
}

#[test]
fn an_ios_device_negotiates_asks_for_a_login_and_serves_its_cli() {
    let fleet = fleet(vec![telnet_device("r1", Platform::CiscoIos)]);
    let mut raw = Raw::connect(&fleet, "r1");
    raw.until("Username:");
    // A client that tells its window size has it recorded.
    raw.send(&[IAC, WILL, NAWS, IAC, SB, NAWS, 0, 132, 0, 50, IAC, SE]);
    raw.send(b"netsweep\r\n");
    let echo = raw.until("Password:");
    assert!(
        echo.contains("netsweep"),
        "the user name is echoed: {echo:?}"
    );
    raw.send(b"netsweep-password\r\n");
    let after = raw.until("r1>");
    assert!(!after.contains("netsweep-password"), "{after:?}");
    raw.send(b"show clock\r\n");
    let out = raw.until("r1>");
    assert!(out.starts_with("show clock\r\n"), "{out:?}");
    raw.send(b"exit\r\n");
    raw.read_to_close();
    let counters = fleet.counters("r1").unwrap();
    assert_eq!((counters.auth_ok, counters.commands), (1, 2));
    assert_eq!(counters.window, Some((132, 50)));
}

#[test]
fn the_opening_negotiation_comes_first() {
    let fleet = fleet(vec![telnet_device("r1", Platform::CiscoIos)]);
    let mut raw = Raw::connect(&fleet, "r1");
    let mut first = [0u8; 12];
    raw.socket.read_exact(&mut first).unwrap();
    // Will echo, will suppress go-ahead, asks for the terminal type and the window size.
    assert_eq!(
        first,
        [IAC, WILL, 1, IAC, WILL, 3, IAC, DO, 24, IAC, DO, NAWS]
    );
    let banner = raw.until("Username:");
    assert!(banner.contains("User Access Verification"), "{banner:?}");
}

#[test]
fn a_linux_host_asks_for_login_and_is_a_shell() {
    let fleet = fleet(vec![telnet_device("srv1", Platform::Linux)]);
    let mut raw = Raw::connect(&fleet, "srv1");
    raw.until("srv1 login:");
    raw.send(b"netsweep\r\n");
    raw.until("Password:");
    raw.send(b"netsweep-password\r\n");
    raw.until("$");
    raw.send(b"hostname\r\n");
    let out = raw.until("$");
    assert!(out.starts_with("hostname\r\nsrv1\r\n"), "{out:?}");
}

#[test]
fn a_refused_login_asks_again_and_the_third_hangs_up() {
    let mut d = telnet_device("r1", Platform::CiscoIos);
    d.behaviour.faults = vec![Fault::Auth];
    let fleet = fleet(vec![d]);
    let mut raw = Raw::connect(&fleet, "r1");
    raw.until("Username:");
    for attempt in 1..=3 {
        raw.send(b"netsweep\r\n");
        raw.until("Password:");
        raw.send(b"netsweep-password\r\n");
        if attempt < 3 {
            let again = raw.until("Username:");
            assert!(again.contains("% Login invalid"), "{again:?}");
        }
    }
    let last = raw.read_to_close();
    assert!(last.contains("% Login invalid"), "{last:?}");
    let counters = fleet.counters("r1").unwrap();
    assert_eq!((counters.auth_ok, counters.auth_failed), (0, 3));
}

#[test]
fn an_empty_user_name_only_gets_the_prompt_again() {
    let fleet = fleet(vec![telnet_device("r1", Platform::CiscoIos)]);
    let mut raw = Raw::connect(&fleet, "r1");
    raw.until("Username:");
    raw.send(b"\r\n");
    raw.until("Username:");
    assert_eq!(fleet.counters("r1").unwrap().auth_failed, 0);
}
