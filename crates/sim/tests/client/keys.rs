//! Host keys: derived, stable across restarts, and deliberately unstable under
//! `hostkey-change`.

use netsweep_sim::{Fault, Fleet, FleetSpec, Platform};

use crate::helpers::{connect, device, served_key};

fn blob(line: &str) -> String {
    line.split_whitespace().nth(1).expect("key blob").to_owned()
}

#[test]
fn derived_host_keys_survive_a_restart_and_depend_on_the_seed() {
    let start = |seed| {
        Fleet::start(FleetSpec {
            seed,
            devices: vec![
                device("r1", Platform::CiscoIos),
                device("r2", Platform::CiscoIos),
            ],
        })
        .unwrap()
    };
    let first = start(42);
    let r1 = served_key(&connect(&first, "r1").unwrap());
    let r2 = served_key(&connect(&first, "r2").unwrap());
    assert_eq!(r1, blob(&first.host_key_openssh("r1").unwrap()));
    assert!(
        first
            .host_key_openssh("r1")
            .unwrap()
            .starts_with("ssh-ed25519 ")
    );
    assert_ne!(r1, r2, "each device has its own key");
    first.shutdown();

    let again = start(42);
    assert_eq!(served_key(&connect(&again, "r1").unwrap()), r1);
    again.shutdown();

    let other_seed = start(43);
    assert_ne!(served_key(&connect(&other_seed, "r1").unwrap()), r1);
}

#[test]
fn hostkey_change_serves_a_new_key_on_every_connection() {
    let mut r1 = device("r1", Platform::CiscoIos);
    r1.behaviour.faults = vec![Fault::HostkeyChange];
    let fleet = crate::helpers::fleet(vec![r1]);
    let a = served_key(&connect(&fleet, "r1").unwrap());
    let b = served_key(&connect(&fleet, "r1").unwrap());
    assert_ne!(a, b);
    let derived = blob(&fleet.host_key_openssh("r1").unwrap());
    assert!(a != derived && b != derived);
}
