//! `linux` devices over exec channels against the simulator: password authentication (the
//! OpenSSH harness takes keys only) and the simulator's command set.

use netsweep_device::SessionContext;
use netsweep_protocol::{DeviceTarget, Outcome, Secret, Stage};
use netsweep_sim::{DeviceSpec, Fleet, FleetSpec, Platform};
use netsweep_testkit::temp_dir;

use crate::{assert_outcome, job, run};

#[test]
fn password_login_exec_exit_status_and_stderr() {
    let spec = DeviceSpec::new("srv1", Platform::Linux);
    let fleet = Fleet::start(FleetSpec {
        seed: 3,
        devices: vec![spec.clone()],
    })
    .expect("start the simulated fleet");
    let addr = fleet.addr("srv1").unwrap();
    let dir = temp_dir();
    let target = DeviceTarget {
        name: "srv1".into(),
        host: addr.ip().to_string(),
        port: addr.port(),
        platform: "linux".into(),
        username: spec.username.clone(),
        password: Some(Secret::new(spec.password.clone())),
        secret: None,
        key_file: None,
        groups: vec![],
    };
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
