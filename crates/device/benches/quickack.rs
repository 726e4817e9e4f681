//! A measurement, not a check: exec-channel round trips against OpenSSH's sshd with and
//! without re-arming `TCP_QUICKACK`. Run it with
//! `cargo bench -p netsweep-device --bench quickack`.

use std::time::Instant;

use netsweep_device::{SessionContext, run_job, set_quickack_enabled};
use netsweep_protocol::Outcome;
use netsweep_testkit::{Sshd, job, temp_dir};

#[allow(clippy::print_stderr)]
fn main() {
    let sshd = Sshd::start().unwrap_or_else(|e| panic!("{e}"));
    let dir = temp_dir();
    let target = sshd.linux_target(&sshd.client_key_path());
    let commands = ["true"; 5];
    let j = job(target, &commands, &dir.path().join("known_hosts"));
    let ctx = SessionContext::new();
    assert_eq!(run_job(&j, &ctx, &mut |_| {}).outcome, Outcome::Ok);
    // Sessions alternate on/off so machine load drifts evenly over both. The first exec of a
    // session pays the stall (if any) on its channel open; the later ones show the baseline,
    // which here is dominated by the login shell starting (bash reading root's rc files).
    let mut first = [Vec::new(), Vec::new()];
    let mut later = [Vec::new(), Vec::new()];
    let mut session_ms = [Vec::new(), Vec::new()];
    for i in 0..60 {
        let enabled = i % 2 == 1;
        set_quickack_enabled(enabled);
        let started = Instant::now();
        let record = run_job(&j, &ctx, &mut |_| {});
        session_ms[enabled as usize].push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(record.outcome, Outcome::Ok, "{}", record.message);
        first[enabled as usize].push(record.outputs[0].elapsed_ms);
        later[enabled as usize].extend(record.outputs[1..].iter().map(|o| o.elapsed_ms));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for enabled in [false, true] {
        let k = enabled as usize;
        eprintln!(
            "quickack={enabled}: session median {:.1} ms; first exec median {:.1} ms, \
             later execs median {:.1} ms",
            median(&mut session_ms[k]),
            median(&mut first[k]),
            median(&mut later[k]),
        );
    }
    set_quickack_enabled(true);
}
