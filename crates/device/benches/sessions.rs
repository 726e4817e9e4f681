//! A measurement, not a check: full IOS sessions per second through `run_job` (connect, auth,
//! enable, paging off, `show clock`, exit) from 32 threads against the simulator. Run it with
//! `cargo bench -p netsweep-device --bench sessions`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use netsweep_device::{SessionContext, run_job};
use netsweep_protocol::{DeviceTarget, HostKeyPolicy, Outcome, Secret};
use netsweep_sim::{DeviceSpec, Fleet, FleetSpec, Platform};
use netsweep_testkit::{job, temp_dir};

#[allow(clippy::print_stderr)]
fn main() {
    let devices: Vec<DeviceSpec> = (0..64)
        .map(|i| DeviceSpec::new(format!("r{i}"), Platform::CiscoIos))
        .collect();
    let fleet = Fleet::start(FleetSpec {
        seed: 11,
        devices: devices.clone(),
    })
    .expect("start the simulated fleet");
    let dir = temp_dir();
    let known_hosts = dir.path().join("known_hosts");
    // A known_hosts file the size of a large fleet's, so its cost shows in the figure.
    let others: String = (0..5000)
        .map(|i| {
            format!(
                "[127.9.{}.{}]:22 ssh-ed25519 \
                 AAAAC3NzaC1lZDI1NTE5AAAAIMG0Y5VjresHD6x459ahJitaNCdyuRv2qVEkThGASoCy\n",
                i / 256,
                i % 256
            )
        })
        .collect();
    std::fs::write(&known_hosts, others).unwrap();
    let jobs: Vec<_> = devices
        .iter()
        .map(|d| {
            let addr = fleet.addr(&d.name).unwrap();
            let target = DeviceTarget {
                name: d.name.clone(),
                host: addr.ip().to_string(),
                port: addr.port(),
                platform: "cisco_ios".into(),
                transport: Default::default(),
                username: d.username.clone(),
                password: Some(Secret::new(d.password.clone())),
                secret: Some(Secret::new(d.secret.clone())),
                key_file: None,
                groups: vec![],
                ssh: Default::default(),
            };
            let mut j = job(target, &["show clock"], &known_hosts);
            j.host_key_policy = HostKeyPolicy::AcceptNew;
            j
        })
        .collect();
    let ctx = SessionContext::new();
    for policy in [HostKeyPolicy::Off, HostKeyPolicy::AcceptNew] {
        let sessions = 2000;
        let next = AtomicUsize::new(0);
        let failures = AtomicUsize::new(0);
        let started = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..32 {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= sessions {
                            break;
                        }
                        let mut j = jobs[i % jobs.len()].clone();
                        j.host_key_policy = policy;
                        if run_job(&j, &ctx, &mut |_| {}).outcome != Outcome::Ok {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        let elapsed = started.elapsed().as_secs_f64();
        eprintln!(
            "host keys {policy:?}: {sessions} IOS sessions in {elapsed:.2} s = {:.0} sessions/s \
             ({} failed)",
            sessions as f64 / elapsed,
            failures.load(Ordering::Relaxed)
        );
    }
}
