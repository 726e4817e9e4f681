//! `linux` devices over exec channels against the simulator: password authentication (the
//! OpenSSH harness takes keys only) and the simulator's command set.

use netsweep_device::SessionContext;
use netsweep_protocol::{DeviceTarget, Outcome, Secret, Stage};
use netsweep_sim::{DeviceSpec, Fleet, FleetSpec, Platform};
use netsweep_testkit::temp_dir;

use crate::{assert_outcome, job, run};

/// One simulated Linux host, `srv1`, and a password login to it.
fn srv1() -> (Fleet, DeviceTarget) {
    let spec = DeviceSpec::new("srv1", Platform::Linux);
    let fleet = Fleet::start(FleetSpec {
        seed: 3,
        devices: vec![spec.clone()],
    })
    .expect("start the simulated fleet");
    let addr = fleet.addr("srv1").unwrap();
    let target = DeviceTarget {
        name: "srv1".into(),
        host: addr.ip().to_string(),
        port: addr.port(),
        platform: "linux".into(),
        transport: Default::default(),
        username: spec.username.clone(),
        password: Some(Secret::new(spec.password.clone())),
        secret: None,
        key_file: None,
        groups: vec![],
        ssh: Default::default(),
    };
    (fleet, target)
}

#[test]
fn password_login_exec_exit_status_and_stderr() {
    let (fleet, target) = srv1();
    let dir = temp_dir();
    let j = job(
        target,
        &["hostname", "false", "no-such-command"],
        &dir.path().join("known_hosts"),
    );
    let (record, stages) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::CommandError);
    assert_eq!(stages.last(), Some(&Stage::Close));
    let [hostname, failed, missing] = record.outputs.as_slice() else {
        panic!("{:#?}", record.outputs)
    };
    assert_eq!(hostname.output, "srv1");
    assert_eq!(hostname.exit_status, Some(0));
    assert_eq!(failed.exit_status, Some(1));
    assert_eq!(failed.error.as_deref(), Some("exit status 1"));
    assert_eq!(missing.exit_status, Some(127));
    assert!(
        missing
            .stderr
            .as_deref()
            .is_some_and(|e| e.contains("command not found")),
        "{missing:?}"
    );
    assert_eq!(fleet.counters("srv1").unwrap().commands, 3);
}

#[test]
fn a_first_password_method_the_device_does_not_offer_falls_back_to_one_it_does() {
    // The simulated Linux host offers publickey and password, not keyboard-interactive.
    let (fleet, target) = srv1();
    let dir = temp_dir();
    let mut spec = netsweep_platform::builtin()
        .get("linux")
        .unwrap()
        .spec()
        .clone();
    spec.auth_methods = vec!["keyboard-interactive".into(), "password".into()];
    let kbd_first = netsweep_platform::Platform::from_spec(spec).unwrap();
    let j = job(target, &["hostname"], &dir.path().join("known_hosts"));
    let record =
        netsweep_device::run_job_with_platform(&j, &SessionContext::new(), &kbd_first, &mut |_| {});
    assert_outcome(&record, Outcome::Ok);
    let counters = fleet.counters("srv1").unwrap();
    // keyboard-interactive, refused as not offered (no failed login), the list, then password.
    assert_eq!(
        (
            counters.auth_ok,
            counters.auth_failed,
            counters.method_queries
        ),
        (1, 0, 1)
    );
}
