//! Which SSH algorithms netsweep offers, and what to say when a device accepts none of them.
//!
//! netsweep offers modern algorithms only, strongest-and-fastest first. The SHA-1-era ones old
//! devices need (`diffie-hellman-group14-sha1`, `ssh-rsa`, `hmac-sha1`, `aes128-cbc`…) are
//! offered only where the inventory allows them (`legacy_algorithms: true`) or ssh_config asks
//! for them (`KexAlgorithms +…`), and then after every modern one. Names this libssh2 was not
//! built with are never offered.
//!
//! When a handshake fails for want of a common algorithm, libssh2 does not say what the device
//! offered; [`probe_server_offers`] reads it from the device's own first packet over a second
//! connection, so the message can name the offer and the setting that would accept it.
//!
//! It decides no policy beyond the lists, and never touches credentials.

use std::io::{Read, Write};
use std::time::Duration;

use netsweep_protocol::{AlgorithmList, Algorithms, Stage};
use ssh2::{MethodType, Session};

use crate::deadline::Deadline;
use crate::error::SessionError;
use crate::tcp::{Interest, Socket, TcpLink};

/// Key exchange, modern: curve25519 first (fast, and what OpenSSL 3's warm-up fetches).
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
];
const HOST_KEY: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
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
];

/// The SHA-1 (and CBC) era: offered after the modern ones when legacy algorithms are allowed.
const LEGACY_KEX: &[&str] = &[
    "diffie-hellman-group14-sha1",
    "diffie-hellman-group-exchange-sha1",
    "diffie-hellman-group1-sha1",
];
const LEGACY_HOST_KEY: &[&str] = &["ssh-rsa", "ssh-dss"];
const LEGACY_CIPHERS: &[&str] = &["aes128-cbc", "aes192-cbc", "aes256-cbc", "3des-cbc"];
const LEGACY_MACS: &[&str] = &["hmac-sha1", "hmac-sha1-96"];

/// One kind of algorithm: its lists, its ssh_config directive and its name in messages.
#[derive(Clone, Copy)]
struct Kind {
    modern: &'static [&'static str],
    legacy: &'static [&'static str],
    directive: &'static str,
    noun: &'static str,
    /// The libssh2 method types it sets (ciphers and MACs: both directions).
    methods: &'static [MethodType],
}

const KINDS: [Kind; 4] = [
    Kind {
        modern: KEX,
        legacy: LEGACY_KEX,
        directive: "KexAlgorithms",
        noun: "key exchange",
        methods: &[MethodType::Kex],
    },
    Kind {
        modern: HOST_KEY,
        legacy: LEGACY_HOST_KEY,
        directive: "HostKeyAlgorithms",
        noun: "host key",
        methods: &[MethodType::HostKey],
    },
    Kind {
        modern: CIPHERS,
        legacy: LEGACY_CIPHERS,
        directive: "Ciphers",
        noun: "cipher",
        methods: &[MethodType::CryptCs, MethodType::CryptSc],
    },
    Kind {
        modern: MACS,
        legacy: LEGACY_MACS,
        directive: "MACs",
        noun: "MAC",
        methods: &[MethodType::MacCs, MethodType::MacSc],
    },
];

fn rule(prefs: &Algorithms, index: usize) -> Option<&AlgorithmList> {
    match index {
        0 => prefs.kex.as_ref(),
        1 => prefs.host_key.as_ref(),
        2 => prefs.ciphers.as_ref(),
        _ => prefs.macs.as_ref(),
    }
}

/// The list to offer for one kind, before filtering by what libssh2 supports.
fn wanted(kind: &Kind, prefs: &Algorithms, index: usize) -> Vec<String> {
    let mut base: Vec<&str> = kind.modern.to_vec();
    if prefs.legacy {
        base.extend_from_slice(kind.legacy);
    }
    match rule(prefs, index) {
        Some(list) => list.apply(&base),
        None => base.iter().map(|s| s.to_string()).collect(),
    }
}

/// The host key algorithms that produce keys of `key_type` (as known_hosts names it).
fn signs_with(algorithm: &str, key_type: &str) -> bool {
    algorithm == key_type || (key_type == "ssh-rsa" && algorithm.starts_with("rsa-sha2-"))
}

/// Sets the session's algorithm preferences from `prefs`, keeping only what this libssh2 was
/// built with; host key algorithms for already-recorded key types go first (so a device keeps
/// presenting the key it is recorded with).
pub(crate) fn offer(
    session: &Session,
    prefs: &Algorithms,
    known_key_types: &[String],
) -> Result<(), SessionError> {
    let setup = |detail: String, source: Option<ssh2::Error>| SessionError::Protocol {
        stage: Stage::Handshake,
        detail,
        source: source.map(super::cause),
    };
    for (index, kind) in KINDS.iter().enumerate() {
        let mut names = wanted(kind, prefs, index);
        if index == 1 {
            let known = |alg: &String| known_key_types.iter().any(|t| signs_with(alg, t));
            let (mut first, rest): (Vec<String>, Vec<String>) = names.into_iter().partition(known);
            first.extend(rest);
            names = first;
        }
        let supported = session
            .supported_algs(kind.methods[0])
            .map_err(|e| setup("could not list libssh2's algorithms".into(), Some(e)))?;
        let offered: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|name| supported.contains(name))
            .collect();
        if offered.is_empty() {
            return Err(SessionError::Settings {
                detail: format!(
                    "no {} algorithm left to offer: {} names none that this build supports ({})",
                    kind.noun,
                    kind.directive,
                    supported.join(", ")
                ),
            });
        }
        for &method in kind.methods {
            session
                .method_pref(method, &offered.join(","))
                .map_err(|e| setup("could not set algorithm preferences".into(), Some(e)))?;
        }
    }
    Ok(())
}

/// What a server offers in its first (cleartext) key exchange packet, per kind.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ServerOffers {
    pub(crate) kex: Vec<String>,
    pub(crate) host_key: Vec<String>,
    pub(crate) ciphers: Vec<String>,
    pub(crate) macs: Vec<String>,
}

impl ServerOffers {
    fn lists(&self) -> [&[String]; 4] {
        [&self.kex, &self.host_key, &self.ciphers, &self.macs]
    }
}

/// Explains why no algorithm was agreed: which kinds have nothing in common with what
/// netsweep offered under `prefs`, what the device offers instead, and the setting that would
/// accept it. `supported(kind index)` lists what libssh2 supports.
pub(crate) fn explain_mismatch(
    server: &ServerOffers,
    prefs: &Algorithms,
    supported: &dyn Fn(usize) -> Vec<String>,
) -> SessionError {
    let mut offered_parts = Vec::new();
    let mut ssh_config_lines = Vec::new();
    let mut legacy_would_do = true;
    let mut unsupported = Vec::new();
    for (index, kind) in KINDS.iter().enumerate() {
        let theirs = server.lists()[index];
        let ours = wanted(kind, prefs, index);
        if theirs.iter().any(|t| ours.contains(t)) {
            continue;
        }
        offered_parts.push(format!("{} {}", kind.noun, theirs.join(",")));
        let libssh2 = supported(index);
        let usable: Vec<&String> = theirs.iter().filter(|t| libssh2.contains(t)).collect();
        match usable.first() {
            Some(first) => {
                if !kind.legacy.contains(&first.as_str()) || prefs.legacy {
                    legacy_would_do = false;
                }
                ssh_config_lines.push(format!("{} +{first}", kind.directive));
            }
            None => {
                legacy_would_do = false;
                unsupported.push(kind.noun);
            }
        }
    }
    if offered_parts.is_empty() {
        // Every list overlaps: the failure was something else inside the key exchange.
        return SessionError::Protocol {
            stage: Stage::Handshake,
            detail: "the key exchange failed although an algorithm of each kind was agreed".into(),
            source: None,
        };
    }
    let offered = offered_parts.join("; ");
    let advice = if !unsupported.is_empty() {
        format!(
            "netsweep (libssh2) supports no {} the device offers; the device needs newer SSH settings",
            unsupported.join(" or ")
        )
    } else if legacy_would_do {
        format!(
            "allow SHA-1-era algorithms with `legacy_algorithms: true` on the entry, its group or \
             defaults (or in ssh_config: {})",
            ssh_config_lines.join(", ")
        )
    } else {
        format!("allow it in ssh_config: {}", ssh_config_lines.join(", "))
    };
    SessionError::NoCommonAlgorithm { offered, advice }
}

/// What libssh2 supports for kind `index` (0 kex, 1 host key, 2 ciphers, 3 MACs).
pub(crate) fn libssh2_supports(session: &Session, index: usize) -> Vec<String> {
    session
        .supported_algs(KINDS[index].methods[0])
        .map(|v| v.into_iter().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Reads a server's algorithm offers over a fresh connection `socket`: sends a client banner,
/// skips the server's banner (and any lines before it), and parses its KEXINIT packet, which
/// SSH sends in the clear. The connection is closed afterwards.
pub(crate) fn probe_server_offers(
    socket: Socket,
    deadline: &Deadline,
) -> Result<ServerOffers, SessionError> {
    let stage = Stage::Handshake;
    let garbled = |what: &str| SessionError::Protocol {
        stage,
        detail: format!("the device's key exchange offer could not be read ({what})"),
        source: None,
    };
    socket
        .set_nonblocking(true)
        .map_err(|_| garbled("socket"))?;
    let link = TcpLink::new(socket, None);
    write_all(&link, b"SSH-2.0-netsweep_probe\r\n", deadline)?;
    let mut buf: Vec<u8> = Vec::new();
    // The banner line: lines before it (allowed by RFC 4253) are skipped.
    let packet_start = loop {
        let mut at = 0;
        let mut found = None;
        while let Some(nl) = buf[at..].iter().position(|&b| b == b'\n') {
            if buf[at..].starts_with(b"SSH-") {
                found = Some(at + nl + 1);
                break;
            }
            at += nl + 1;
        }
        if let Some(start) = found {
            break start;
        }
        if buf.len() > 64 * 1024 {
            return Err(garbled("no banner"));
        }
        read_more(&link, &mut buf, deadline)?;
    };
    let need = |buf: &Vec<u8>, n: usize| buf.len() >= packet_start + n;
    while !need(&buf, 5) {
        read_more(&link, &mut buf, deadline)?;
    }
    let length = u32::from_be_bytes(
        buf[packet_start..packet_start + 4]
            .try_into()
            .map_err(|_| garbled("length"))?,
    ) as usize;
    if !(16..=256 * 1024).contains(&length) {
        return Err(garbled("length"));
    }
    while !need(&buf, 4 + length) {
        read_more(&link, &mut buf, deadline)?;
    }
    link.shutdown();
    let padding = buf[packet_start + 4] as usize;
    let payload = buf
        .get(packet_start + 5..packet_start + 4 + length.saturating_sub(padding))
        .ok_or_else(|| garbled("padding"))?;
    parse_kexinit(payload).ok_or_else(|| garbled("packet"))
}

/// The first four pairs of name-lists of a KEXINIT payload (message 20, a 16-byte cookie,
/// then kex, host key, ciphers c→s, ciphers s→c, MACs c→s, MACs s→c…).
fn parse_kexinit(payload: &[u8]) -> Option<ServerOffers> {
    const SSH_MSG_KEXINIT: u8 = 20;
    if payload.first() != Some(&SSH_MSG_KEXINIT) {
        return None;
    }
    let mut rest = payload.get(17..)?;
    let mut lists: Vec<Vec<String>> = Vec::new();
    for _ in 0..6 {
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let text = std::str::from_utf8(rest.get(4..4 + len)?).ok()?;
        lists.push(
            text.split(',')
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect(),
        );
        rest = &rest[4 + len..];
    }
    let mut lists = lists.into_iter();
    let kex = lists.next()?;
    let host_key = lists.next()?;
    let ciphers = lists.next()?;
    let _ciphers_sc = lists.next()?;
    let macs = lists.next()?;
    Some(ServerOffers {
        // The markers a server adds to its list are not algorithms to agree on.
        kex: kex
            .into_iter()
            .filter(|k| !k.starts_with("ext-info-") && !k.starts_with("kex-strict-"))
            .collect(),
        host_key,
        ciphers,
        macs,
    })
}

fn read_more(link: &TcpLink, buf: &mut Vec<u8>, deadline: &Deadline) -> Result<(), SessionError> {
    let stage = Stage::Handshake;
    let mut chunk = [0u8; 4096];
    loop {
        match (&link.socket).read(&mut chunk) {
            Ok(0) => {
                return Err(SessionError::Lost {
                    stage,
                    source: None,
                });
            }
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(());
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                link.wait(Interest::Read, Duration::from_secs(1), deadline, stage)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(SessionError::Lost {
                    stage,
                    source: Some(Box::new(e)),
                });
            }
        }
    }
}

fn write_all(link: &TcpLink, mut data: &[u8], deadline: &Deadline) -> Result<(), SessionError> {
    let stage = Stage::Handshake;
    while !data.is_empty() {
        match (&link.socket).write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                link.wait(Interest::Write, Duration::from_secs(1), deadline, stage)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(SessionError::Lost {
                    stage,
                    source: Some(Box::new(e)),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_list(names: &str) -> Vec<u8> {
        let mut out = (names.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(names.as_bytes());
        out
    }

    #[test]
    fn a_kexinit_payload_is_read_without_the_markers() {
        let mut payload = vec![20u8];
        payload.extend_from_slice(&[7u8; 16]);
        for list in [
            "diffie-hellman-group14-sha1,kex-strict-s-v00@openssh.com",
            "ssh-rsa",
            "aes128-ctr",
            "aes128-ctr",
            "hmac-sha1",
            "hmac-sha1",
            "none",
            "none",
            "",
            "",
        ] {
            payload.extend(name_list(list));
        }
        payload.extend_from_slice(&[0, 0, 0, 0, 0]);
        let offers = parse_kexinit(&payload).unwrap();
        assert_eq!(offers.kex, ["diffie-hellman-group14-sha1"]);
        assert_eq!(offers.host_key, ["ssh-rsa"]);
        assert_eq!(offers.macs, ["hmac-sha1"]);
        assert!(parse_kexinit(&payload[..30]).is_none());
        assert!(parse_kexinit(&[21u8; 40]).is_none());
    }

    #[test]
    fn sha1_is_offered_only_when_allowed_and_always_after_the_modern_ones() {
        let default = Algorithms::default();
        for (i, kind) in KINDS.iter().enumerate() {
            let names = wanted(kind, &default, i);
            assert!(kind.legacy.iter().all(|l| !names.iter().any(|n| n == l)));
        }
        let legacy = Algorithms {
            legacy: true,
            ..Algorithms::default()
        };
        let kex = wanted(&KINDS[0], &legacy, 0);
        assert_eq!(kex[0], "curve25519-sha256");
        assert_eq!(kex[KEX.len()], "diffie-hellman-group14-sha1");
        let removed = Algorithms {
            macs: Some(AlgorithmList::parse("-hmac-sha2-5*").unwrap()),
            ..Algorithms::default()
        };
        assert!(
            !wanted(&KINDS[3], &removed, 3)
                .iter()
                .any(|m| m.contains("512"))
        );
    }

    #[test]
    fn a_mismatch_names_the_offer_and_the_setting() {
        let server = ServerOffers {
            kex: vec!["diffie-hellman-group14-sha1".into()],
            host_key: vec!["ssh-rsa".into()],
            ciphers: vec!["aes128-ctr".into()],
            macs: vec!["hmac-sha1".into()],
        };
        let all = |i: usize| {
            let k = &KINDS[i];
            k.modern
                .iter()
                .chain(k.legacy)
                .map(|s| s.to_string())
                .collect()
        };
        let err = explain_mismatch(&server, &Algorithms::default(), &all);
        let message = err.message(Stage::Handshake, None);
        assert!(
            message.contains(
                "key exchange diffie-hellman-group14-sha1; host key ssh-rsa; MAC hmac-sha1"
            ) && message.contains("legacy_algorithms: true")
                && message.contains("KexAlgorithms +diffie-hellman-group14-sha1"),
            "{message}"
        );
        assert!(!message.contains("cipher aes128-ctr"), "{message}");
        let nothing = |_: usize| Vec::new();
        let err = explain_mismatch(&server, &Algorithms::default(), &nothing);
        assert!(
            err.message(Stage::Handshake, None)
                .contains("supports no key exchange")
        );
    }
}
