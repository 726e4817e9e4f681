//! One contract, both pools: the same fleet of healthy and faulty devices must come out with
//! the same outcomes whether threads or worker processes run it.

use std::collections::HashMap;
use std::time::Duration;

use netsweep_pool::{Backoff, Cancel, PoolConfig, PoolEvent, PoolKind, WorkerStart};
use netsweep_protocol::{DeviceRecord, Outcome, Stage, Timeouts};
use netsweep_sim::{DeviceSpec, Fault, Platform};

use crate::harness::{TestFleet, bin};

fn device(name: &str, platform: Platform, faults: Vec<Fault>) -> DeviceSpec {
    let mut d = DeviceSpec::new(name, platform);
    d.behaviour.faults = faults;
    d.behaviour.running_config_bytes = 300_000;
    d
}

/// Devices and the final status each must end with.
fn fleet() -> (TestFleet, HashMap<&'static str, &'static str>) {
    let specs = [
        ("ok-1", Platform::CiscoIos, vec![], "ok"),
        ("ok-2", Platform::CiscoIos, vec![], "ok"),
        ("linux-1", Platform::Linux, vec![], "ok"),
        (
            "bad-password",
            Platform::CiscoIos,
            vec![Fault::Auth],
            "auth_failed",
        ),
        (
            "bad-secret",
            Platform::CiscoIos,
            vec![Fault::EnableFail],
            "enable_failed",
        ),
        (
            "hangs",
            Platform::CiscoIos,
            vec![Fault::HangAfterAuth],
            "timed_out",
        ),
        (
            "drops",
            Platform::CiscoIos,
            vec![Fault::DropMidOutput],
            "connection_lost",
        ),
        ("flaky", Platform::CiscoIos, vec![Fault::Flaky(1)], "ok"),
        (
            "refuses",
            Platform::CiscoIos,
            vec![Fault::Refuse],
            "unreachable",
        ),
    ];
    let expected = specs.iter().map(|(n, _, _, s)| (*n, *s)).collect();
    let devices = specs
        .into_iter()
        .map(|(n, p, f, _)| device(n, p, f))
        .collect();
    (TestFleet::start(devices), expected)
}

fn run(kind: PoolKind) {
    let (fleet, expected) = fleet();
    let timeouts = Timeouts {
        connect: Duration::from_secs(5),
        command: Duration::from_secs(5),
        deadline: Duration::from_secs(3),
    };
    let jobs = fleet.jobs(
        &["show clock", "show running-config"],
        &["uname -a"],
        timeouts,
    );
    let names: HashMap<u64, String> = jobs.iter().map(|j| (j.id, j.target.name.clone())).collect();
    let mut config = PoolConfig::new(kind, 4);
    config.retries = 1;
    config.kill_grace = Duration::from_millis(500);
    config.backoff = Backoff {
        base: Duration::from_millis(50),
        max: Duration::from_millis(200),
        jitter: 0.0,
    };
    let mut pool = netsweep_pool::executor(config).unwrap();

    let mut finals: HashMap<String, Vec<DeviceRecord>> = HashMap::new();
    let mut started: HashMap<String, u32> = HashMap::new();
    let stats = pool
        .run(jobs, &Cancel::new(), &mut |event| match event {
            PoolEvent::Started { device, .. } => *started.entry(device).or_default() += 1,
            PoolEvent::Finished { job, record } => {
                assert_eq!(names[&job], record.device);
                finals
                    .entry(record.device.clone())
                    .or_default()
                    .push(*record);
            }
            _ => {}
        })
        .unwrap();

    assert_eq!(stats.finished, expected.len());
    assert!(stats.not_started.is_empty());
    for (name, status) in &expected {
        let records = &finals[*name];
        assert_eq!(
            records.len(),
            1,
            "{name}: exactly one final record, got {records:#?}"
        );
        let r = &records[0];
        assert_eq!(r.outcome.class(), *status, "{name}: {r:#?}");
        assert!(!r.worker.is_empty(), "{name}: the record names its worker");
        // Retries: transient failures get a second attempt, auth failures never do.
        let attempts = if r.outcome.is_transient() || *name == "flaky" {
            2
        } else {
            1
        };
        assert_eq!(r.attempt, attempts, "{name}: attempts {r:#?}");
        assert_eq!(r.previous_attempts.len() as u32, attempts - 1, "{name}");
        assert_eq!(started[*name], attempts, "{name}: started events");
    }

    let ok = &finals["ok-1"][0];
    assert_eq!(ok.outputs.len(), 2);
    let config = &ok.outputs[1].output;
    assert!(
        config.len() >= 280_000 && config.trim_end().ends_with("end"),
        "running-config arrives whole: {} bytes, ends {:?}",
        config.len(),
        &config[config.len().saturating_sub(80)..]
    );
    assert!(finals["linux-1"][0].outputs[0].output.contains("Linux"));
    assert_eq!(
        finals["hangs"][0].outcome,
        Outcome::TimedOut {
            stage: Stage::Prompt
        }
    );
    let dropped = &finals["drops"][0];
    assert!(
        matches!(
            dropped.outcome,
            Outcome::ConnectionLost {
                stage: Stage::Command
            }
        ),
        "{dropped:#?}"
    );
    assert!(
        dropped.outputs.iter().any(|o| !o.output.is_empty()),
        "partial output is kept: {dropped:#?}"
    );
    // The flaky device's first connection failed; the simulator saw both.
    assert_eq!(fleet.fleet.counters("flaky").unwrap().connections, 2);
}

#[test]
fn thread_pool_meets_the_contract() {
    run(PoolKind::Threads);
}

#[test]
fn process_pool_meets_the_contract() {
    run(PoolKind::Processes {
        worker_path: bin("netsweep-worker"),
        worker_args: vec![],
        max_devices_per_worker: None,
        start: WorkerStart::ForkServer,
    });
}

#[test]
fn process_pool_with_a_fresh_worker_per_device_meets_the_contract() {
    run(PoolKind::Processes {
        worker_path: bin("netsweep-worker"),
        worker_args: vec![],
        max_devices_per_worker: Some(1),
        start: WorkerStart::ForkServer,
    });
}

#[test]
fn process_pool_of_execed_workers_meets_the_contract() {
    run(PoolKind::Processes {
        worker_path: bin("netsweep-worker"),
        worker_args: vec![],
        max_devices_per_worker: Some(2),
        start: WorkerStart::Exec,
    });
}
