//! The fleet's log of sessions, and `aaa-flaky` seen from a bare libssh2 client.

use std::time::Duration;

use netsweep_sim::{Fault, Platform};

use crate::helpers::{TIMEOUT, connect, device, eventually, fleet, login};

#[test]
fn every_session_is_logged_with_its_device_and_its_end() {
    let fleet = fleet(vec![
        device("r1", Platform::CiscoIos),
        device("r2", Platform::CiscoIos),
    ]);
    let first = login(&fleet, "r1");
    let second = login(&fleet, "r2");
    let open = fleet.sessions();
    let names: Vec<&str> = open.iter().map(|s| s.device.as_str()).collect();
    assert_eq!(names, ["r1", "r2"]);
    assert!(open.iter().all(|s| s.closed.is_none()), "{open:?}");
    assert!(open[0].accepted <= open[1].accepted);

    drop(first);
    drop(second);
    let third = login(&fleet, "r1");
    drop(third);
    assert!(
        eventually(TIMEOUT, || fleet
            .sessions()
            .iter()
            .all(|s| s.closed.is_some())),
        "sessions never closed: {:?}",
        fleet.sessions()
    );
    let spans = fleet.sessions();
    assert_eq!(spans.len(), 3);
    assert_eq!(spans[2].device, "r1");
    for s in &spans {
        assert!(s.closed.unwrap() >= s.accepted, "{s:?}");
    }
    // The second session of r1 began after the first ended (the client closed it first;
    // the server may notice a moment later).
    assert!(spans[2].accepted + Duration::from_millis(50) >= spans[0].closed.unwrap());
}

#[test]
fn aaa_flaky_closes_the_first_password_logins_then_lets_the_right_password_in() {
    let mut d = device("r1", Platform::CiscoIos);
    d.behaviour.faults = vec![Fault::AaaFlaky(2)];
    let fleet = fleet(vec![d.clone()]);
    for _ in 0..2 {
        let session = connect(&fleet, "r1").expect("handshake");
        let err = session
            .userauth_password(&d.username, &d.password)
            .expect_err("the AAA server times out");
        assert!(!session.authenticated(), "{err}");
    }
    // A wrong password is still refused, and does not use up the fault.
    let session = connect(&fleet, "r1").expect("handshake");
    assert!(session.userauth_password(&d.username, "wrong").is_err());
    let session = connect(&fleet, "r1").expect("handshake");
    session
        .userauth_password(&d.username, &d.password)
        .expect("the third login with the right password works");
    let counters = fleet.counters("r1").unwrap();
    assert_eq!(
        (
            counters.aaa_unavailable,
            counters.auth_failed,
            counters.auth_ok
        ),
        (2, 1, 1)
    );
}
