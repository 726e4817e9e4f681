//! Bad fleet definitions are refused with errors that name the problem; shutdown really stops.

use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use netsweep_sim::{
    DeviceSpec, Fault, Fleet, FleetSpec, GenerateOptions, Platform, SimError, parse_fault_shares,
};

use crate::helpers::{TIMEOUT, device, eventually};

#[test]
fn a_non_loopback_address_is_refused() {
    let mut r1 = device("r1", Platform::CiscoIos);
    r1.addr = "192.0.2.1:22".parse().unwrap();
    let err = Fleet::start(FleetSpec {
        seed: 1,
        devices: vec![r1],
    })
    .err()
    .unwrap();
    assert!(matches!(err, SimError::NotLoopback { .. }));
    assert_eq!(
        err.to_string(),
        "device r1: 192.0.2.1 is not a loopback address (the simulator serves only 127.0.0.0/8 and ::1)"
    );
}

#[test]
fn a_taken_port_names_the_device_and_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut r1 = device("r1", Platform::CiscoIos);
    r1.addr = taken.local_addr().unwrap();
    let err = Fleet::start(FleetSpec {
        seed: 1,
        devices: vec![r1],
    })
    .err()
    .unwrap();
    assert!(
        err.to_string()
            .starts_with("device r1: cannot listen on 127.0.0.1:"),
        "{err}"
    );
}

#[test]
fn unknown_names_and_bad_numbers_are_refused() {
    let unknown = "juniper_screenos"
        .parse::<Platform>()
        .unwrap_err()
        .to_string();
    assert!(
        unknown.starts_with("unknown platform \"juniper_screenos\" (supported: arista_eos, "),
        "{unknown}"
    );
    assert!(unknown.contains(", juniper, juniper_junos, "), "{unknown}");
    assert_eq!(
        "juniper".parse::<Platform>().unwrap().as_str(),
        "juniper_junos"
    );
    assert_eq!("cisco_xe".parse::<Platform>().unwrap(), Platform::CiscoIos);
    assert!(
        parse_fault_shares("hang=1%")
            .unwrap_err()
            .to_string()
            .starts_with("unknown fault \"hang\"")
    );
    assert!(
        parse_fault_shares("auth=150%")
            .unwrap_err()
            .to_string()
            .contains("150%")
    );
    let mut linux = DeviceSpec::new("srv1", Platform::Linux);
    linux.behaviour.faults = vec![Fault::EnableFail];
    let err = Fleet::start(FleetSpec {
        seed: 1,
        devices: vec![linux],
    })
    .err()
    .unwrap();
    assert!(
        err.to_string()
            .contains("enable-fail applies to platforms with enable only (cisco_ios, "),
        "{err}"
    );
    let mut keyed = DeviceSpec::new("srv1", Platform::Linux);
    keyed.authorized_keys = vec!["ssh-ed25519 not-base64".into()];
    assert!(
        Fleet::start(FleetSpec {
            seed: 1,
            devices: vec![keyed]
        })
        .is_err()
    );
    assert!(
        FleetSpec::generate(&GenerateOptions {
            count: 0,
            ..Default::default()
        })
        .is_err()
    );
}

#[test]
fn shutdown_closes_every_listener() {
    let fleet = Fleet::start(
        FleetSpec::generate(&GenerateOptions {
            count: 20,
            platforms: vec![Platform::CiscoIos, Platform::Linux],
            ..Default::default()
        })
        .unwrap(),
    )
    .unwrap();
    let addrs: Vec<_> = fleet.devices().iter().map(|d| d.addr).collect();
    assert!(addrs.iter().all(|a| a.port() != 0));
    assert!(TcpStream::connect_timeout(&addrs[0], TIMEOUT).is_ok());
    fleet.shutdown();
    assert!(eventually(Duration::from_secs(5), || {
        addrs
            .iter()
            .all(|a| TcpStream::connect_timeout(a, TIMEOUT).is_err())
    }));
}

#[test]
fn a_fleet_can_be_shared_across_threads_and_debug_hides_credentials() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Fleet>();
    let d = DeviceSpec::new("r1", Platform::CiscoIos);
    let shown = format!("{d:?}");
    assert!(
        !shown.contains(&d.password) && !shown.contains(&d.secret),
        "{shown}"
    );
}

#[test]
fn a_written_inventory_serves_the_same_fleet_again() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("devices.yaml");
    let first = Fleet::start(
        FleetSpec::generate(&GenerateOptions {
            count: 3,
            platforms: vec![Platform::CiscoIos, Platform::Linux],
            faults: parse_fault_shares("auth=1").unwrap(),
            seed: 11,
            ..Default::default()
        })
        .unwrap(),
    )
    .unwrap();
    first.spec().write_inventory(&inventory).unwrap();
    let before: Vec<_> = first
        .devices()
        .iter()
        .map(|d| (d.clone(), first.host_key_openssh(&d.name).unwrap()))
        .collect();
    first.shutdown();

    let again = Fleet::start(FleetSpec::from_inventory(&inventory, 11).unwrap()).unwrap();
    for (device, key) in before {
        let now = again
            .devices()
            .iter()
            .find(|d| d.name == device.name)
            .unwrap();
        assert_eq!((now.addr, &now.behaviour), (device.addr, &device.behaviour));
        assert_eq!(again.host_key_openssh(&device.name).unwrap(), key);
    }
    let session = crate::helpers::connect(&again, "sim0002").unwrap();
    assert_eq!(
        crate::helpers::served_key(&session),
        again
            .host_key_openssh("sim0002")
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
    );
}

#[test]
fn devices_can_share_a_port_on_consecutive_loopback_addresses() {
    // Any port free on 127.0.1.1 will do; the fleet takes it on .1 and .2.
    let port = TcpListener::bind("127.0.1.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let fleet = Fleet::start(
        FleetSpec::generate(&GenerateOptions {
            count: 2,
            base_addr: "127.0.1.1".parse().unwrap(),
            base_port: port,
            spread: netsweep_sim::Spread::Addrs,
            ..Default::default()
        })
        .unwrap(),
    )
    .unwrap();
    let addrs: Vec<String> = fleet.devices().iter().map(|d| d.addr.to_string()).collect();
    assert_eq!(
        addrs,
        [format!("127.0.1.1:{port}"), format!("127.0.1.2:{port}")]
    );
    for d in fleet.devices() {
        assert!(crate::helpers::login(&fleet, &d.name).authenticated());
    }
}
