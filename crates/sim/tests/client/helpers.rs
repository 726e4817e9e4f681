//! Connecting, logging in and reading until a pattern, with every wait bounded.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use netsweep_sim::{DeviceSpec, Fleet, FleetSpec, Platform};

/// Every blocking libssh2 call in these tests gives up after this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Starts a fleet with these devices on ephemeral ports of 127.0.0.1.
pub fn fleet(devices: Vec<DeviceSpec>) -> Fleet {
    Fleet::start(FleetSpec { seed: 7, devices }).expect("fleet starts")
}

/// One healthy device of the platform, named `name`.
pub fn device(name: &str, platform: Platform) -> DeviceSpec {
    DeviceSpec::new(name, platform)
}

/// A TCP connection and SSH handshake, with the session timeout set.
pub fn connect(fleet: &Fleet, name: &str) -> Result<ssh2::Session, ssh2::Error> {
    connect_with(fleet, name, TIMEOUT, |_| {})
}

/// Like [`connect`], with a session timeout and a chance to set algorithm preferences.
pub fn connect_with(
    fleet: &Fleet,
    name: &str,
    timeout: Duration,
    prepare: impl FnOnce(&ssh2::Session),
) -> Result<ssh2::Session, ssh2::Error> {
    let addr = fleet.addr(name).expect("device exists");
    let tcp = TcpStream::connect_timeout(&addr, TIMEOUT).expect("tcp connect");
    tcp.set_nodelay(true).unwrap();
    let mut session = ssh2::Session::new().unwrap();
    session.set_timeout(timeout.as_millis() as u32);
    prepare(&session);
    session.set_tcp_stream(tcp);
    session.handshake()?;
    Ok(session)
}

/// Connects and logs in with the device's password.
pub fn login(fleet: &Fleet, name: &str) -> ssh2::Session {
    let session = connect(fleet, name).expect("handshake");
    let spec = fleet.devices().iter().find(|d| d.name == name).unwrap();
    session
        .userauth_password(&spec.username, &spec.password)
        .expect("password accepted");
    session
}

/// An interactive shell with a PTY, and what it has printed so far.
pub struct Shell {
    pub channel: ssh2::Channel,
    buffer: Vec<u8>,
}

/// How a read for a pattern ended without finding it.
#[derive(Debug)]
pub enum ReadEnd {
    /// The session timeout passed with nothing more arriving.
    TimedOut(String),
    /// The channel or connection closed.
    Closed(String),
}

impl Shell {
    pub fn open(session: &ssh2::Session) -> Shell {
        let mut channel = session.channel_session().expect("channel");
        channel.request_pty("vt100", None, None).expect("pty");
        channel.shell().expect("shell");
        Shell {
            channel,
            buffer: Vec::new(),
        }
    }

    pub fn send(&mut self, text: &str) {
        self.channel.write_all(text.as_bytes()).unwrap();
        self.channel.flush().unwrap();
    }

    /// Reads until `needle` appears; returns everything up to and including it.
    pub fn try_read_until(&mut self, needle: &str) -> Result<String, ReadEnd> {
        let deadline = Instant::now() + TIMEOUT * 3;
        loop {
            if let Some(at) = find(&self.buffer, needle.as_bytes()) {
                let rest = self.buffer.split_off(at + needle.len());
                let found = std::mem::replace(&mut self.buffer, rest);
                return Ok(String::from_utf8_lossy(&found).into_owned());
            }
            let seen = || String::from_utf8_lossy(&self.buffer).into_owned();
            if Instant::now() > deadline {
                return Err(ReadEnd::TimedOut(seen()));
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.channel.read(&mut chunk) {
                Ok(0) => return Err(ReadEnd::Closed(seen())),
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::TimedOut => return Err(ReadEnd::TimedOut(seen())),
                Err(e) if e.to_string().to_lowercase().contains("timed out") => {
                    return Err(ReadEnd::TimedOut(seen()));
                }
                Err(_) => return Err(ReadEnd::Closed(seen())),
            }
        }
    }

    pub fn read_until(&mut self, needle: &str) -> String {
        match self.try_read_until(needle) {
            Ok(text) => text,
            Err(end) => panic!("waiting for {needle:?}: {end:?}"),
        }
    }

    /// Sends a command line and returns what came back up to the next `prompt`.
    pub fn run(&mut self, command: &str, prompt: &str) -> String {
        self.send(&format!("{command}\r"));
        self.read_until(prompt)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Runs one exec command; returns (stdout, stderr, exit status).
pub fn exec(session: &ssh2::Session, command: &str) -> (String, String, i32) {
    let mut channel = session.channel_session().unwrap();
    channel.exec(command).unwrap();
    let mut stdout = String::new();
    channel.read_to_string(&mut stdout).unwrap();
    let mut stderr = String::new();
    channel.stderr().read_to_string(&mut stderr).unwrap();
    channel.wait_close().unwrap();
    (stdout, stderr, channel.exit_status().unwrap())
}

/// Polls `condition` until it holds or `limit` passes.
pub fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}

/// Connects and logs in, with a short session timeout for devices expected to hang.
pub fn login_with_timeout(fleet: &Fleet, name: &str, timeout: Duration) -> ssh2::Session {
    let session = connect_with(fleet, name, timeout, |_| {}).expect("handshake");
    let spec = fleet.devices().iter().find(|d| d.name == name).unwrap();
    session
        .userauth_password(&spec.username, &spec.password)
        .expect("password accepted");
    session
}

/// Standard base64, to compare a key blob from libssh2 with an OpenSSH key line.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The base64 blob of the host key the session's server presented.
pub fn served_key(session: &ssh2::Session) -> String {
    base64(session.host_key().expect("a host key").0)
}
