//! Every fault, seen from a libssh2 client: what it gets, and where it stops.

use std::io::ErrorKind;
use std::net::TcpStream;
use std::time::Duration;

use netsweep_sim::{DeviceSpec, Fault, Fleet, Platform};
use ssh2::{ErrorCode, MethodType};

use crate::helpers::{
    ReadEnd, Shell, TIMEOUT, connect, connect_with, device, eventually, exec, fleet, login,
    login_with_timeout,
};

/// A hang shows as libssh2's own timeout firing after this long.
const SHORT: Duration = Duration::from_millis(700);

/// libssh2's LIBSSH2_ERROR_TIMEOUT.
const LIBSSH2_TIMEOUT: ErrorCode = ErrorCode::Session(-9);

fn faulty(name: &str, platform: Platform, faults: &[Fault]) -> DeviceSpec {
    let mut d = device(name, platform);
    d.behaviour.faults = faults.to_vec();
    d
}

fn one(fault: Fault) -> Fleet {
    fleet(vec![faulty("r1", Platform::CiscoIos, &[fault])])
}

#[test]
fn refuse_means_nothing_listens() {
    let fleet = one(Fault::Refuse);
    let addr = fleet.addr("r1").unwrap();
    assert_ne!(addr.port(), 0, "the port is reserved and known");
    let err = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    assert_eq!(fleet.counters("r1").unwrap().connections, 0);
}

#[test]
fn hang_banner_accepts_tcp_and_never_speaks() {
    let fleet = one(Fault::HangBanner);
    let err = connect_with(&fleet, "r1", SHORT, |_| {})
        .err()
        .expect("no handshake");
    assert_eq!(err.code(), LIBSSH2_TIMEOUT, "{err}");
    assert_eq!(fleet.counters("r1").unwrap().connections, 1);
}

#[test]
fn hang_after_auth_never_prompts() {
    let fleet = fleet(vec![
        faulty("r1", Platform::CiscoIos, &[Fault::HangAfterAuth]),
        faulty("srv1", Platform::Linux, &[Fault::HangAfterAuth]),
    ]);
    let session = login_with_timeout(&fleet, "r1", SHORT);
    let mut shell = Shell::open(&session);
    match shell.try_read_until(">") {
        Err(ReadEnd::TimedOut(seen)) => assert_eq!(seen, ""),
        other => panic!("{other:?}"),
    }
    // A Linux exec is accepted and then never answered.
    let session = login_with_timeout(&fleet, "srv1", SHORT);
    let mut channel = session.channel_session().unwrap();
    channel.exec("hostname").unwrap();
    let mut buf = [0u8; 64];
    let err = std::io::Read::read(&mut channel, &mut buf).unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("timed out"),
        "{err}"
    );
}

#[test]
fn hang_mid_output_stops_half_way_and_stays_connected() {
    let fleet = one(Fault::HangMidOutput);
    let session = login_with_timeout(&fleet, "r1", SHORT);
    let mut shell = Shell::open(&session);
    shell.read_until("r1>");
    shell.run("terminal length 0", "r1>");
    shell.send("show version\r");
    match shell.try_read_until("r1>") {
        Err(ReadEnd::TimedOut(partial)) => {
            assert!(partial.contains("Cisco IOS Software"), "{partial:?}");
            assert!(!partial.contains("Configuration register"), "{partial:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn drop_mid_output_closes_tcp_after_half_the_output() {
    let fleet = fleet(vec![
        faulty("r1", Platform::CiscoIos, &[Fault::DropMidOutput]),
        faulty("srv1", Platform::Linux, &[Fault::DropMidOutput]),
    ]);
    let session = login(&fleet, "r1");
    let mut shell = Shell::open(&session);
    shell.read_until("r1>");
    shell.run("terminal length 0", "r1>");
    shell.send("show version\r");
    match shell.try_read_until("r1>") {
        Err(ReadEnd::Closed(partial)) => {
            assert!(partial.contains("Cisco IOS Software"), "{partial:?}");
            assert!(!partial.contains("Configuration register"), "{partial:?}");
        }
        other => panic!("{other:?}"),
    }
    let session = login(&fleet, "srv1");
    let mut channel = session.channel_session().unwrap();
    channel.exec("cat /etc/os-release").unwrap();
    let mut partial = Vec::new();
    let result = std::io::Read::read_to_end(&mut channel, &mut partial);
    let text = String::from_utf8_lossy(&partial);
    assert!(text.starts_with("PRETTY_NAME="), "{text:?}");
    assert!(!text.contains("BUG_REPORT_URL"), "{text:?}");
    // Not a clean end of channel: the transport itself failed, with no EOF before it.
    let err = result.expect_err("the connection was cut");
    assert!(err.to_string().contains("transport read"), "{err}");
    assert!(!channel.eof());
}

#[test]
fn auth_rejects_the_right_password() {
    let fleet = one(Fault::Auth);
    let spec = fleet.devices()[0].clone();
    let session = connect(&fleet, "r1").unwrap();
    assert!(
        session
            .userauth_password(&spec.username, &spec.password)
            .is_err()
    );
    assert!(!session.authenticated());
    let counters = fleet.counters("r1").unwrap();
    assert_eq!((counters.auth_ok, counters.auth_failed), (0, 1));
}

#[test]
fn enable_fail_denies_even_the_right_secret() {
    let fleet = one(Fault::EnableFail);
    let secret = fleet.devices()[0].secret.clone();
    let session = login(&fleet, "r1");
    let mut shell = Shell::open(&session);
    shell.read_until("r1>");
    shell.run("enable", "Password: ");
    let reply = shell.run(&secret, "r1>");
    assert!(reply.contains("% Access denied"), "{reply:?}");
}

#[test]
fn flaky_drops_the_first_connections_then_works() {
    let fleet = one(Fault::Flaky(2));
    for attempt in 1..=2 {
        let err = connect(&fleet, "r1").err().expect("dropped");
        assert_ne!(
            err.code(),
            LIBSSH2_TIMEOUT,
            "attempt {attempt}: closed, not hung: {err}"
        );
    }
    let session = login(&fleet, "r1");
    assert!(session.authenticated());
    assert_eq!(fleet.counters("r1").unwrap().connections, 3);
}

#[test]
fn legacy_offers_only_old_algorithms_and_a_legacy_client_gets_in() {
    let fleet = one(Fault::Legacy);
    let legacy_only = |s: &ssh2::Session| {
        s.method_pref(MethodType::Kex, "diffie-hellman-group14-sha1")
            .unwrap();
        s.method_pref(MethodType::HostKey, "ssh-rsa").unwrap();
        s.method_pref(MethodType::CryptCs, "aes128-ctr").unwrap();
        s.method_pref(MethodType::CryptSc, "aes128-ctr").unwrap();
        s.method_pref(MethodType::MacCs, "hmac-sha1").unwrap();
        s.method_pref(MethodType::MacSc, "hmac-sha1").unwrap();
    };
    let session = connect_with(&fleet, "r1", TIMEOUT, legacy_only).expect("legacy handshake");
    assert_eq!(
        session.methods(MethodType::Kex),
        Some("diffie-hellman-group14-sha1")
    );
    assert_eq!(session.methods(MethodType::HostKey), Some("ssh-rsa"));
    assert_eq!(session.methods(MethodType::CryptCs), Some("aes128-ctr"));
    assert_eq!(session.methods(MethodType::MacSc), Some("hmac-sha1"));
    let spec = fleet.devices()[0].clone();
    session
        .userauth_password(&spec.username, &spec.password)
        .unwrap();
    let mut shell = Shell::open(&session);
    shell.read_until("r1>");
    assert!(shell.run("show clock", "r1>").contains(" UTC "));
    assert!(
        fleet
            .host_key_openssh("r1")
            .unwrap()
            .starts_with("ssh-rsa ")
    );

    // A client that offers only modern algorithms finds nothing in common.
    let modern_only = |s: &ssh2::Session| {
        s.method_pref(MethodType::Kex, "curve25519-sha256").unwrap();
    };
    assert!(connect_with(&fleet, "r1", TIMEOUT, modern_only).is_err());
}

#[test]
fn garbage_prints_noise_and_never_a_prompt() {
    let fleet = one(Fault::Garbage);
    let session = login_with_timeout(&fleet, "r1", SHORT);
    let mut shell = Shell::open(&session);
    match shell.try_read_until("r1>") {
        Err(ReadEnd::TimedOut(seen)) => {
            assert!(seen.len() > 100, "{seen:?}");
            assert!(seen.contains('\u{FFFD}'), "not UTF-8: {seen:?}");
            assert!(!seen.contains("r1"), "{seen:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn hostkey_change_is_covered_in_the_keys_module() {
    // See keys::hostkey_change_serves_a_new_key_on_every_connection; here, the client's view
    // of a changed key is that the handshake itself still succeeds (checking is its job).
    let fleet = one(Fault::HostkeyChange);
    assert!(login(&fleet, "r1").authenticated());
}

#[test]
fn counters_count_every_connection_login_and_command() {
    let fleet = fleet(vec![device("srv1", Platform::Linux)]);
    for _ in 0..3 {
        let session = login(&fleet, "srv1");
        exec(&session, "true");
    }
    let _rejected = connect(&fleet, "srv1")
        .unwrap()
        .userauth_password("netsweep", "wrong");
    let expected = netsweep_sim::Counters {
        connections: 4,
        auth_ok: 3,
        auth_failed: 1,
        commands: 3,
        method_queries: 0,
        channels_done: 3,
        aaa_unavailable: 0,
        ..Default::default()
    };
    assert!(
        eventually(TIMEOUT, || fleet.counters("srv1") == Some(expected)),
        "{:?}",
        fleet.counters("srv1")
    );
}
