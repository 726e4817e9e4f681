//! The device crate against real SSH servers: OpenSSH's `sshd` for `linux`, the project's
//! simulator for `cisco_ios`. One test binary; each module is one kind of server.

mod cisco_ios;
mod linux;
mod quickack;
mod sim_linux;
mod throughput;

use std::path::Path;
use std::time::Duration;

use netsweep_device::{SessionContext, run_job};
use netsweep_protocol::{DeviceRecord, DeviceTarget, HostKeyPolicy, Job, Outcome, Stage, Timeouts};

/// A job with short timeouts (tests never wait long for a device that is not answering).
fn job(target: DeviceTarget, commands: &[&str], known_hosts: &Path) -> Job {
    Job {
        id: 0,
        attempt: 1,
        target,
        commands: commands.iter().map(|c| c.to_string()).collect(),
        timeouts: Timeouts {
            connect: Duration::from_secs(5),
            command: Duration::from_secs(10),
            deadline: Duration::from_secs(60),
        },
        host_key_policy: HostKeyPolicy::AcceptNew,
        known_hosts: Some(known_hosts.to_path_buf()),
    }
}

/// Runs `job` and returns its record and the stages reported, in order.
fn run(job: &Job, ctx: &SessionContext) -> (DeviceRecord, Vec<Stage>) {
    let mut stages = Vec::new();
    let record = run_job(job, ctx, &mut |s| stages.push(s));
    (record, stages)
}

#[track_caller]
fn assert_outcome(record: &DeviceRecord, expected: Outcome) {
    assert_eq!(
        record.outcome, expected,
        "message: {}\noutputs: {:#?}",
        record.message, record.outputs
    );
}
