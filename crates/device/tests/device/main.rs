//! The device crate against real servers: OpenSSH's `sshd` for `linux`, the project's
//! simulator for `cisco_ios` and every other platform of the table (over SSH and telnet),
//! BusyBox's `telnetd` for telnet. One test binary; each module is one kind of server.

mod busybox;
mod cisco_ios;
mod config;
mod jump;
mod linux;
mod platforms;
mod sim_linux;
mod telnet;

use netsweep_device::{SessionContext, run_job};
use netsweep_protocol::{DeviceRecord, Job, Outcome, Stage};
use netsweep_testkit::job;

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
