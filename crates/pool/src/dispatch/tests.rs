//! The dispatcher's promises, checked on the scripted backend and its virtual clock (`fake`):
//! deadlines name the stage, replaced workers are not heard, retries keep their history,
//! crashes name their signal, cancellation leaves unstarted devices alone, sessions start at
//! the connect rate, no group runs more devices than its limit, a failed canary or the
//! failure limit stops new devices, and under any interleaving of all that, each started
//! device gets exactly one final record.
//!
//! Times asserted here are virtual: they follow from the scripts, not from the machine.

use std::time::Duration;

use netsweep_protocol::{Job, JobId, Outcome, Stage};
use proptest::prelude::*;

use super::fake::{Act, Fake, Mode, Ran, Script, exit_code, jobs, label, scripted_message, signal};
use super::{DEADLINE_SLACK, EXIT_WAIT};
use crate::backend::ExitInfo;
use crate::{
    Backoff, Canary, CancelLevel, ConnectRate, FailureLimit, PoolConfig, PoolEvent, PoolKind,
    RunStats, StopReason,
};

const MODES: [Mode; 2] = [Mode::Processes, Mode::Threads];

/// `workers` slots, no retries, a 500 ms kill grace, a 10 s cancel grace, back-off without
/// jitter (100 ms, doubling).
fn config(workers: usize) -> PoolConfig {
    let mut config = PoolConfig::new(PoolKind::Threads, workers);
    config.kill_grace = Duration::from_millis(500);
    config.cancel_grace = Duration::from_secs(10);
    config.backoff = Backoff {
        base: Duration::from_millis(100),
        max: Duration::from_secs(1),
        jitter: 0.0,
    };
    config
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// When each attempt of `job` was handed to a worker.
fn starts(ran: &Ran, job: JobId) -> Vec<(Duration, u32)> {
    ran.events
        .iter()
        .filter_map(|(t, e)| match e {
            PoolEvent::Started {
                job: j, attempt, ..
            } if *j == job => Some((*t, *attempt)),
            _ => None,
        })
        .collect()
}

/// A device that reports connect, handshake and auth, then hangs.
fn hangs_in_auth() -> Script {
    Script::new()
        .then(1, Act::Stage(Stage::Connect))
        .then(1, Act::Stage(Stage::Handshake))
        .then(5, Act::Stage(Stage::Auth))
}

#[test]
fn a_deadline_gives_timed_out_at_the_stage_last_reported() {
    for mode in MODES {
        let fake = Fake::new(mode);
        fake.script(0, 1, hangs_in_auth());
        let ran = fake.run(config(1), jobs(1, 100));

        let record = ran.record(0);
        assert_eq!(
            record.outcome,
            Outcome::TimedOut { stage: Stage::Auth },
            "{mode:?}"
        );
        assert!(
            record.message.contains("100ms device deadline")
                && record.message.contains("auth stage"),
            "{mode:?}: {}",
            record.message
        );
        // The session's own stop had DEADLINE_SLACK to come first; the worker died of SIGTERM.
        let due = ms(100) + DEADLINE_SLACK;
        assert_eq!(ran.finished(0)[0].0, due, "{mode:?}");
        assert_eq!(record.timings.total_ms, due.as_secs_f64() * 1000.0);
        assert_eq!(ran.stats().workers_lost, 1);
        if mode == Mode::Processes {
            assert_eq!(ran.workers[0].exit, Some(signal(libc::SIGTERM)));
        }
    }
}

#[test]
fn a_worker_deaf_to_sigterm_is_killed_after_the_grace_and_keeps_its_stage() {
    let fake = Fake::new(Mode::Processes);
    fake.script(0, 1, hangs_in_auth().ignoring_sigterm());
    let ran = fake.run(config(1), jobs(1, 100));

    let record = ran.record(0);
    assert_eq!(record.outcome, Outcome::TimedOut { stage: Stage::Auth });
    assert_eq!(ran.finished(0)[0].0, ms(100) + DEADLINE_SLACK + ms(500));
    assert_eq!(ran.workers[0].exit, Some(signal(libc::SIGKILL)));
    assert!(ran.workers[0].reaped);
}

#[test]
fn an_abandoned_threads_late_finished_is_ignored() {
    let fake = Fake::new(Mode::Threads);
    // Device 0 overruns its deadline (stopped at 1.1 s), then its abandoned thread reports
    // `ok` at 2 s, while device 1 still runs on the thread that replaced it (until 2.1 s).
    fake.script(
        0,
        1,
        Script::new()
            .then(1, Act::Stage(Stage::Command))
            .then(1999, Act::Finish(Outcome::Ok)),
    );
    fake.script(1, 1, Script::new().then(1000, Act::Finish(Outcome::Ok)));
    let ran = fake.run(config(1), jobs(2, 100));

    assert_eq!(
        ran.record(0).outcome,
        Outcome::TimedOut {
            stage: Stage::Command
        }
    );
    assert_eq!(ran.record(0).worker, "fake-0");
    assert_eq!(ran.record(1).outcome, Outcome::Ok);
    assert_eq!(ran.record(1).worker, "fake-1");
    // The late `ok` was delivered during the run, and ignored.
    assert!(ran.ended > ms(2000));
    assert_eq!(ran.finished(0).len(), 1);
}

#[test]
fn a_stopping_workers_late_finished_is_ignored() {
    let fake = Fake::new(Mode::Processes);
    // SIGTERM at 1.1 s is ignored; the worker's `ok` comes 100 ms later, before its SIGKILL.
    let late = (100 + DEADLINE_SLACK.as_millis() as u64) + 100;
    fake.script(
        0,
        1,
        Script::new()
            .then(1, Act::Stage(Stage::Enable))
            .then(late - 1, Act::Finish(Outcome::Ok))
            .ignoring_sigterm(),
    );
    let ran = fake.run(config(1), jobs(1, 100));

    assert_eq!(
        ran.record(0).outcome,
        Outcome::TimedOut {
            stage: Stage::Enable
        }
    );
    assert_eq!(ran.finished(0)[0].0, ms(100) + DEADLINE_SLACK + ms(500));
}

#[test]
fn retries_keep_their_previous_attempts() {
    let fake = Fake::new(Mode::Processes);
    fake.script(
        0,
        1,
        Script::new()
            .then(1, Act::Stage(Stage::Connect))
            .then(1, Act::Finish(Outcome::Unreachable)),
    )
    .script(
        0,
        2,
        Script::new()
            .then(1, Act::Stage(Stage::Auth))
            .then(1, Act::Die(signal(libc::SIGKILL))),
    )
    .script(0, 3, Script::new().then(1, Act::Finish(Outcome::Ok)))
    // Not transient: never retried.
    .script(
        1,
        1,
        Script::new().then(1, Act::Finish(Outcome::AuthFailed)),
    );
    let mut config = config(1);
    config.retries = 2;
    let ran = fake.run(config, jobs(2, 1000));

    let record = ran.record(0);
    assert_eq!(record.outcome, Outcome::Ok);
    assert_eq!(record.attempt, 3);
    let history: Vec<_> = record
        .previous_attempts
        .iter()
        .map(|a| (a.attempt, a.outcome, a.worker.as_str()))
        .collect();
    let crashed = Outcome::WorkerCrashed {
        stage: Stage::Auth,
        signal: Some(libc::SIGKILL),
        exit_code: None,
    };
    assert_eq!(
        history,
        [(1, Outcome::Unreachable, "fake-0"), (2, crashed, "fake-0"),]
    );
    assert_eq!(
        record.previous_attempts[0].message,
        scripted_message(Outcome::Unreachable, 1, "fake-0")
    );
    // Attempt 1 ends at 2 ms, waits 100 ms; device 1 runs meanwhile; attempt 2 dies at
    // 2 ms into it and waits 200 ms.
    assert_eq!(starts(&ran, 0), [(ms(0), 1), (ms(102), 2), (ms(304), 3)]);
    let retried: Vec<_> = ran
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            PoolEvent::Retrying { failed, delay, .. } => Some((failed.attempt, *delay)),
            _ => None,
        })
        .collect();
    assert_eq!(retried, [(1, ms(100)), (2, ms(200))]);

    let refused = ran.record(1);
    assert_eq!(refused.outcome, Outcome::AuthFailed);
    assert_eq!((refused.attempt, refused.previous_attempts.len()), (1, 0));
}

#[test]
fn two_retries_due_at_the_same_instant_both_run() {
    let fake = Fake::new(Mode::Threads);
    // At 1.05 s device 2 fails (its message comes first), then device 1 overruns its
    // deadline: both retries are due at 1.15 s, and each must keep its place in the queue.
    fake.script(1, 1, Script::new().then(1, Act::Stage(Stage::Auth)));
    fake.script(
        2,
        1,
        Script::new().then(1050, Act::Finish(Outcome::Unreachable)),
    );
    let mut config = config(3);
    config.retries = 1;
    let ran = fake.run(config, jobs(3, 50));

    for job in 0..3 {
        assert_eq!(ran.record(job).outcome, Outcome::Ok, "job {job}");
    }
    assert_eq!(starts(&ran, 1)[1], (ms(1150), 2));
    assert_eq!(starts(&ran, 2)[1], (ms(1150), 2));
}

#[test]
fn a_worker_that_closes_while_busy_gives_worker_crashed_with_its_signal() {
    let fake = Fake::new(Mode::Processes);
    fake.script(
        0,
        1,
        Script::new()
            .then(1, Act::Stage(Stage::Connect))
            .then(1, Act::Stage(Stage::Command))
            .then(1, Act::Output("show clock"))
            .then(1, Act::Die(signal(libc::SIGSEGV))),
    )
    .script(
        1,
        1,
        Script::new()
            .then(1, Act::Stage(Stage::Prompt))
            .then(1, Act::Die(exit_code(3))),
    );
    let ran = fake.run(config(1), jobs(2, 1000));

    let record = ran.record(0);
    assert_eq!(
        record.outcome,
        Outcome::WorkerCrashed {
            stage: Stage::Command,
            signal: Some(libc::SIGSEGV),
            exit_code: None,
        }
    );
    assert_eq!(
        record.message,
        format!(
            "worker fake-0 was killed by signal {} during the command stage",
            libc::SIGSEGV
        )
    );
    // The output that arrived before the crash is kept.
    assert_eq!(record.outputs.len(), 1);
    assert_eq!(record.outputs[0].command, "show clock");

    let record = ran.record(1);
    assert_eq!(
        record.outcome,
        Outcome::WorkerCrashed {
            stage: Stage::Prompt,
            signal: None,
            exit_code: Some(3),
        }
    );
    assert_eq!(record.worker, "fake-1");
    assert!(
        record.message.contains("exited with code 3"),
        "{}",
        record.message
    );
    assert_eq!(ran.stats().workers_lost, 2);
    assert_eq!(ran.stats().workers_spawned, 2);
}

#[test]
fn a_panicking_thread_gives_worker_crashed_at_the_stage_it_recorded() {
    let fake = Fake::new(Mode::Threads);
    fake.script(
        0,
        1,
        Script::new()
            .then(1, Act::Stage(Stage::HostKey))
            .then(1, Act::Die(ExitInfo::default())),
    );
    let ran = fake.run(config(1), jobs(1, 1000));

    assert_eq!(
        ran.record(0).outcome,
        Outcome::WorkerCrashed {
            stage: Stage::HostKey,
            signal: None,
            exit_code: None,
        }
    );
    assert!(ran.record(0).message.contains("vanished"));
}

#[test]
fn a_worker_dead_before_it_takes_its_job_gives_worker_crashed() {
    let fake = Fake::new(Mode::Processes);
    let refuse = Script {
        refuse: true,
        ..Script::new()
    };
    // The first worker is dead before it takes device 0; a fresh one runs device 1.
    fake.script(0, 1, refuse);
    let ran = fake.run(config(1), jobs(2, 1000));

    assert_eq!(
        ran.record(0).outcome,
        Outcome::WorkerCrashed {
            stage: Stage::Queued,
            signal: None,
            exit_code: Some(1),
        }
    );
    assert_eq!(ran.record(1).outcome, Outcome::Ok);
    assert_eq!(ran.record(1).worker, "fake-1");
}

#[test]
fn a_worker_breaking_the_protocol_is_killed_and_its_device_is_protocol_error() {
    let fake = Fake::new(Mode::Processes);
    fake.script(
        0,
        1,
        Script::new()
            .then(1, Act::Stage(Stage::Command))
            .then(1, Act::Garbage)
            .ignoring_sigterm(),
    );
    let ran = fake.run(config(1), jobs(1, 1000));

    assert_eq!(ran.record(0).outcome, Outcome::ProtocolError);
    assert!(ran.record(0).message.contains("scripted garbage"));
    // SIGKILL at once, not SIGTERM and a grace.
    assert_eq!(ran.finished(0)[0].0, ms(2));
    assert_eq!(ran.workers[0].exit, Some(signal(libc::SIGKILL)));
}

#[test]
fn cancellation_gives_no_record_to_unstarted_devices() {
    for mode in MODES {
        let fake = Fake::new(mode);
        for job in 0..5 {
            fake.script(job, 1, Script::new().then(100, Act::Finish(Outcome::Ok)));
        }
        fake.cancel_at(50, CancelLevel::Graceful);
        let ran = fake.run(config(2), jobs(5, 1000));

        // The two in flight finish within the cancel grace; the rest never start.
        assert_eq!(ran.started(), [0, 1], "{mode:?}");
        assert_eq!(ran.record(0).outcome, Outcome::Ok);
        assert_eq!(ran.record(1).outcome, Outcome::Ok);
        for job in 2..5 {
            assert!(ran.finished(job).is_empty(), "{mode:?}: job {job}");
        }
        assert_eq!(ran.stats().not_started, [2, 3, 4], "{mode:?}");
        assert_eq!(ran.stats().finished, 2);
    }
}

#[test]
fn a_cancel_grace_that_runs_out_stops_in_flight_devices_as_cancelled() {
    for mode in MODES {
        let fake = Fake::new(mode);
        fake.script(0, 1, hangs_in_auth());
        fake.cancel_at(50, CancelLevel::Graceful);
        let mut config = config(1);
        config.cancel_grace = ms(200);
        let ran = fake.run(config, jobs(3, 60_000));

        assert_eq!(ran.record(0).outcome, Outcome::Cancelled, "{mode:?}");
        assert_eq!(ran.finished(0)[0].0, ms(250), "{mode:?}");
        assert_eq!(ran.stats().not_started, [1, 2], "{mode:?}");
    }
}

#[test]
fn a_second_ctrl_c_kills_at_once_even_a_worker_deaf_to_sigterm() {
    let fake = Fake::new(Mode::Processes);
    fake.script(0, 1, hangs_in_auth().ignoring_sigterm());
    fake.cancel_at(50, CancelLevel::Graceful)
        .cancel_at(80, CancelLevel::Immediate);
    let ran = fake.run(config(1), jobs(2, 60_000));

    assert_eq!(ran.record(0).outcome, Outcome::Cancelled);
    assert_eq!(ran.finished(0)[0].0, ms(80));
    assert_eq!(ran.workers[0].exit, Some(signal(libc::SIGKILL)));
    assert_eq!(ran.stats().not_started, [1]);
}

#[test]
fn a_device_waiting_out_its_back_off_when_cancelled_gets_no_record() {
    let fake = Fake::new(Mode::Processes);
    fake.script(
        0,
        1,
        Script::new().then(1, Act::Finish(Outcome::Unreachable)),
    );
    fake.script(1, 1, Script::new().then(300, Act::Finish(Outcome::Ok)));
    fake.cancel_at(50, CancelLevel::Graceful);
    let mut config = config(2);
    config.retries = 1;
    let ran = fake.run(config, jobs(2, 1000));

    // Device 0 failed once and was waiting to be retried: it is unfinished, like a device
    // never started, so a resume sweeps it again.
    assert!(ran.finished(0).is_empty());
    assert_eq!(ran.stats().not_started, [0]);
    assert_eq!(ran.record(1).outcome, Outcome::Ok);
}

#[test]
fn recycled_workers_are_retired_and_reaped() {
    let fake = Fake::new(Mode::Processes);
    fake.recycle_after(1);
    let ran = fake.run(config(1), jobs(3, 1000));

    let workers: Vec<_> = (0..3).map(|job| ran.record(job).worker.clone()).collect();
    assert_eq!(workers, ["fake-0", "fake-1", "fake-2"]);
    assert_eq!(ran.workers.len(), 3);
    for w in &ran.workers {
        assert!(w.reaped && w.exit == Some(exit_code(0)), "{w:?}");
    }
    assert_eq!(ran.stats().workers_lost, 0);
}

#[test]
fn workers_that_ignore_their_end_of_input_are_killed_at_shutdown() {
    let fake = Fake::new(Mode::Processes);
    fake.script(
        0,
        1,
        Script::new()
            .then(1, Act::Finish(Outcome::Ok))
            .ignoring_eof(),
    );
    let ran = fake.run(config(1), jobs(1, 1000));

    assert_eq!(ran.record(0).outcome, Outcome::Ok);
    assert_eq!(ran.ended, ms(1) + EXIT_WAIT);
    assert!(ran.workers[0].reaped);
    assert_eq!(ran.workers[0].exit, Some(signal(libc::SIGKILL)));
}

#[test]
fn a_recycled_worker_that_ignores_its_end_of_input_is_killed_and_replaced() {
    let fake = Fake::new(Mode::Processes);
    fake.recycle_after(1);
    fake.script(
        0,
        1,
        Script::new()
            .then(1, Act::Finish(Outcome::Ok))
            .ignoring_eof(),
    );
    let ran = fake.run(config(1), jobs(2, 1000));

    assert_eq!(ran.record(0).outcome, Outcome::Ok);
    assert_eq!(ran.record(1).outcome, Outcome::Ok);
    // Device 1 waited for the slot: the lingering worker's exit wait, then its kill.
    assert_eq!(starts(&ran, 1), [(ms(1) + EXIT_WAIT, 1)]);
    assert_eq!(ran.workers[0].exit, Some(signal(libc::SIGKILL)));
    assert!(ran.workers.iter().all(|w| w.reaped));
}

// ---- sweep controls: connect rate, group limit, canary, failure limit ----

/// When each attempt was handed to a worker, in order: (time, job, attempt).
fn all_starts(ran: &Ran) -> Vec<(Duration, JobId, u32)> {
    ran.events
        .iter()
        .filter_map(|(t, e)| match e {
            PoolEvent::Started { job, attempt, .. } => Some((*t, *job, *attempt)),
            _ => None,
        })
        .collect()
}

/// `count` jobs with these groups (job i gets `groups[i]`, none past its end).
fn grouped_jobs(count: u64, groups: &[&[&str]]) -> Vec<Job> {
    let mut all = jobs(count, 10_000);
    for (job, g) in all.iter_mut().zip(groups) {
        job.target.groups = g.iter().map(|s| s.to_string()).collect();
    }
    all
}

fn finishes_after(ms: u64, outcome: Outcome) -> Script {
    Script::new().then(ms, Act::Finish(outcome))
}

/// The `Stopped` and `CanaryPassed` events, with their times.
fn control_events(ran: &Ran) -> Vec<(Duration, String)> {
    ran.events
        .iter()
        .filter_map(|(t, e)| match e {
            PoolEvent::Stopped { reason } => Some((*t, format!("{reason:?}"))),
            PoolEvent::CanaryPassed { devices } => Some((*t, format!("canary passed: {devices}"))),
            _ => None,
        })
        .collect()
}

#[test]
fn sessions_start_at_the_connect_rate_across_workers_and_retries() {
    for mode in MODES {
        let fake = Fake::new(mode);
        // Device 1 fails once: its retry is a new session, paced like the others.
        fake.script(1, 1, finishes_after(1, Outcome::Unreachable));
        let mut config = config(4);
        config.retries = 1;
        config.controls.connect_rate = Some(ConnectRate::new(10.0).unwrap());
        let ran = fake.run(config, jobs(6, 1000));

        let expected = [
            (ms(0), 0, 1),
            (ms(100), 1, 1),
            (ms(200), 2, 1),
            // Due at 201 (failed at 101, 100 ms back-off), it waits for the next slot of the
            // rate, and goes before the devices not yet started.
            (ms(300), 1, 2),
            (ms(400), 3, 1),
            (ms(500), 4, 1),
            (ms(600), 5, 1),
        ];
        assert_eq!(all_starts(&ran), expected, "{mode:?}");
        assert_eq!(ran.record(1).outcome, Outcome::Ok);
        assert!(ran.stats().not_started.is_empty());
    }
}

#[test]
fn a_gate_that_reopens_before_the_dispatcher_sleeps_does_not_hold_a_start_back() {
    // At a million sessions a second the gate closes for a microsecond, shorter than the
    // time between starting a device and choosing how long to sleep: the free workers must
    // still start at once, not one per tick or per finished device.
    for mode in MODES {
        let fake = Fake::new(mode).with_drift(Duration::from_micros(2));
        for job in 0..4 {
            fake.script(job, 1, finishes_after(1000, Outcome::Ok));
        }
        let mut config = config(4);
        config.controls.connect_rate = Some(ConnectRate::new(1_000_000.0).unwrap());
        let ran = fake.run(config, jobs(4, 5000));
        let starts = all_starts(&ran);
        assert_eq!(starts.len(), 4, "{mode:?}");
        for (at, job, _) in starts {
            assert!(at < ms(1), "{mode:?}: job {job} started at {at:?}");
        }
    }
}

#[test]
fn a_full_group_waits_while_the_other_devices_go_on() {
    let fake = Fake::new(Mode::Processes);
    fake.script(0, 1, finishes_after(300, Outcome::Ok))
        .script(1, 1, finishes_after(300, Outcome::Ok))
        .script(2, 1, finishes_after(100, Outcome::Ok))
        .script(3, 1, finishes_after(100, Outcome::Ok))
        .script(4, 1, finishes_after(50, Outcome::Ok))
        .script(5, 1, finishes_after(10, Outcome::Ok));
    let mut config = config(3);
    config.controls.max_per_group = Some(1);
    let groups: &[&[&str]] = &[&["a"], &["a"], &["b"], &["b"], &[], &["a", "b"]];
    let ran = fake.run(config, grouped_jobs(6, groups));

    // 1 waits for a and 3 for b, without holding up 2 (b) or 4 (no group); 5, in both
    // groups, waits for both and comes after 1, which was ahead of it in line for a.
    let expected = [
        (ms(0), 0, 1),
        (ms(0), 2, 1),
        (ms(0), 4, 1),
        (ms(100), 3, 1),
        (ms(300), 1, 1),
        (ms(600), 5, 1),
    ];
    assert_eq!(all_starts(&ran), expected);
    for job in 0..6 {
        assert_eq!(ran.record(job).outcome, Outcome::Ok, "job {job}");
    }
}

#[test]
fn a_failed_canary_stops_the_sweep_and_the_rest_get_no_record() {
    for mode in MODES {
        let fake = Fake::new(mode);
        fake.script(0, 1, finishes_after(5, Outcome::Ok)).script(
            1,
            1,
            finishes_after(10, Outcome::CommandError),
        );
        let mut config = config(3);
        config.controls.canary = Some(Canary::First(2));
        let ran = fake.run(config, jobs(6, 1000));

        assert_eq!(ran.started(), [0, 1], "{mode:?}");
        assert_eq!(ran.record(1).outcome, Outcome::CommandError);
        let reason = StopReason::CanaryFailed {
            failed: 1,
            canaries: 2,
        };
        assert_eq!(ran.stats().stopped, Some(reason.clone()));
        assert_eq!(ran.stats().not_started, [2, 3, 4, 5]);
        assert_eq!(control_events(&ran), [(ms(10), format!("{reason:?}"))]);
    }
}

#[test]
fn a_canary_group_that_passes_after_a_retry_lets_the_others_start() {
    let fake = Fake::new(Mode::Processes);
    // Canary 3 fails once (a 100 ms back-off), then is ok: only its final record counts.
    fake.script(3, 1, finishes_after(1, Outcome::Unreachable));
    let mut config = config(8);
    config.retries = 1;
    config.controls.canary = Some(Canary::Group("core".into()));
    let groups: &[&[&str]] = &[&[], &["edge"], &[], &["edge", "core"], &["core"]];
    let ran = fake.run(config, grouped_jobs(6, groups));

    let starts = all_starts(&ran);
    assert_eq!(starts[..3], [(ms(0), 3, 1), (ms(0), 4, 1), (ms(101), 3, 2)]);
    // The others start, in the sweep's order, once the last canary's final record is in.
    assert_eq!(
        starts[3..],
        [
            (ms(102), 0, 1),
            (ms(102), 1, 1),
            (ms(102), 2, 1),
            (ms(102), 5, 1)
        ]
    );
    assert_eq!(
        control_events(&ran),
        [(ms(102), "canary passed: 2".to_string())]
    );
    assert_eq!(ran.stats().stopped, None);
    assert_eq!(ran.stats().finished, 6);
}

#[test]
fn the_failure_limit_stops_new_devices_while_started_ones_finish_and_retry() {
    for mode in MODES {
        let fake = Fake::new(mode);
        for job in 0..6 {
            fake.script(job, 1, finishes_after(100, Outcome::Ok));
        }
        fake.script(0, 1, finishes_after(10, Outcome::CommandError))
            .script(1, 1, finishes_after(15, Outcome::Unreachable))
            .script(2, 1, finishes_after(10, Outcome::CommandError));
        let mut config = config(2);
        config.retries = 1;
        config.controls.max_failures = Some(FailureLimit::Count(2));
        let ran = fake.run(config, jobs(6, 1000));

        // 0 fails at 10 and 2 takes its worker; 1 fails transiently at 15 (not a failure
        // yet) and 3 takes its worker; 2 fails at 20: the second failure stops the sweep.
        let reason = StopReason::TooManyFailures {
            failed: 2,
            limit: 2,
        };
        assert_eq!(control_events(&ran), [(ms(20), format!("{reason:?}"))]);
        // 3 was running and finishes; 1 was waiting out its back-off and is retried.
        assert_eq!(ran.record(3).outcome, Outcome::Ok);
        assert_eq!(ran.finished(3)[0].0, ms(115));
        assert_eq!(ran.record(1).outcome, Outcome::Ok, "{mode:?}");
        assert_eq!(starts(&ran, 1), [(ms(0), 1), (ms(115), 2)]);
        assert_eq!(ran.stats().not_started, [4, 5]);
        assert_eq!(ran.stats().stopped, Some(reason));
    }
}

#[test]
fn a_failure_limit_reached_with_nothing_left_to_start_stops_nothing() {
    let fake = Fake::new(Mode::Processes);
    fake.script(0, 1, finishes_after(10, Outcome::AuthFailed))
        .script(1, 1, finishes_after(20, Outcome::AuthFailed));
    let mut config = config(2);
    config.controls.max_failures = Some(FailureLimit::Percent(50.0));
    let ran = fake.run(config, jobs(2, 1000));

    assert!(control_events(&ran).is_empty());
    assert_eq!(ran.stats().stopped, None);
    assert_eq!(ran.stats().finished, 2);
}

#[test]
fn a_canary_cut_short_by_ctrl_c_neither_passes_nor_stops_the_sweep() {
    for mode in MODES {
        let fake = Fake::new(mode);
        // Canary 0 is ok; canary 1 hangs and is cancelled when the cancel grace runs out.
        fake.script(0, 1, finishes_after(10, Outcome::Ok))
            .script(1, 1, hangs_in_auth());
        fake.cancel_at(50, CancelLevel::Graceful);
        let mut config = config(4);
        config.cancel_grace = ms(100);
        config.controls.canary = Some(Canary::First(2));
        let ran = fake.run(config, jobs(5, 60_000));

        // A cancelled canary is no verdict: the sweep was interrupted, not stopped, and the
        // held devices are simply not started (a resume runs the canary again).
        assert_eq!(ran.record(1).outcome, Outcome::Cancelled, "{mode:?}");
        assert!(control_events(&ran).is_empty(), "{mode:?}");
        assert_eq!(ran.stats().stopped, None);
        assert_eq!(ran.stats().not_started, [2, 3, 4]);
    }
}

#[test]
fn a_percent_failure_limit_counts_the_whole_sweep_and_starts_are_still_paced() {
    let fake = Fake::new(Mode::Threads);
    for job in [1, 3] {
        fake.script(job, 1, finishes_after(1, Outcome::AuthFailed));
    }
    let mut config = config(2);
    // 10 % of 20 devices is 2 failures; one start every 50 ms.
    config.controls.max_failures = Some(FailureLimit::Percent(10.0));
    config.controls.connect_rate = Some(ConnectRate::new(20.0).unwrap());
    let ran = fake.run(config, jobs(20, 1000));

    let reason = StopReason::TooManyFailures {
        failed: 2,
        limit: 2,
    };
    // Jobs end at once (the fake's default is ok at 1 ms): 0 at 0, 1 at 50 (fails at 51),
    // 2 at 100, 3 at 150 (fails at 151: the limit), nothing after.
    let expected: Vec<(Duration, JobId, u32)> = (0..4).map(|j| (ms(50 * j), j, 1)).collect();
    assert_eq!(all_starts(&ran), expected);
    assert_eq!(control_events(&ran), [(ms(151), format!("{reason:?}"))]);
    assert_eq!(ran.stats().not_started, (4..20).collect::<Vec<_>>());
}

// ---- every interleaving: exactly one final record per started device ----

/// How one attempt ends, in the property's terms.
#[derive(Clone, Debug)]
enum End {
    Finish(u64, Outcome),
    Die(u64, ExitInfo),
    /// Never answers (the deadline, a cancellation or shutdown must end it).
    Hang,
    /// Breaks the protocol (processes only).
    Garbage(u64),
    /// Finishes, then its worker dies while idle.
    FinishThenDie(u64, Outcome, u64, ExitInfo),
}

#[derive(Clone, Debug)]
struct Plan {
    before: Vec<(u64, Act)>,
    end: End,
    on_term: Option<u64>,
    refuse: bool,
    exits_on_eof: bool,
}

#[derive(Clone, Debug)]
struct Case {
    mode: Mode,
    workers: usize,
    retries: u32,
    recycle: Option<usize>,
    deadline_ms: u64,
    kill_grace_ms: u64,
    cancel_grace_ms: u64,
    cancels: Vec<(u64, CancelLevel)>,
    /// Per job, a plan for each possible attempt.
    plans: Vec<[Plan; 3]>,
    /// Per job, its groups as a bit set over [`GROUPS`].
    groups: Vec<u8>,
    controls: Controls,
}

/// The sweep controls of a case.
#[derive(Clone, Debug)]
struct Controls {
    rate_interval_ms: Option<u64>,
    max_per_group: Option<usize>,
    canary: Option<Canary>,
    max_failures: Option<usize>,
}

const GROUPS: [&str; 3] = ["a", "b", "c"];

fn group_names(bits: u8) -> Vec<String> {
    GROUPS
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, g)| g.to_string())
        .collect()
}

// The strategies draw small integers and map them onto variants: proptest's value trees for
// nested `prop_oneof!`s cost more than the dispatcher runs they feed. Index 0 is always the
// plainest choice, so shrinking heads there.

const OUTCOMES: [Outcome; 6] = [
    Outcome::Ok,
    Outcome::CommandError,
    Outcome::AuthFailed,
    Outcome::Unreachable,
    Outcome::ConnectionLost {
        stage: Stage::Command,
    },
    Outcome::TimedOut { stage: Stage::Auth },
];

const EXITS: [ExitInfo; 4] = [
    ExitInfo {
        signal: Some(libc::SIGKILL),
        exit_code: None,
    },
    ExitInfo {
        signal: Some(libc::SIGSEGV),
        exit_code: None,
    },
    ExitInfo {
        signal: None,
        exit_code: Some(0),
    },
    ExitInfo {
        signal: None,
        exit_code: Some(101),
    },
];

/// Delays around the interesting times: tiny, around a deadline, past the deadline's slack.
fn delay(band: u8, within: u64) -> u64 {
    match band % 3 {
        0 => within % 20,
        1 => 20 + within % 380,
        _ => 1000 + within % 700,
    }
}

fn any_end() -> impl Strategy<Value = End> {
    (
        0..9u8,
        (0..3u8, 0..700u64),
        0..OUTCOMES.len(),
        (0..3u8, 0..700u64),
        0..EXITS.len(),
    )
        .prop_map(|(kind, (band, within), outcome, (band2, within2), exit)| {
            let (d, outcome, exit) = (delay(band, within), OUTCOMES[outcome], EXITS[exit]);
            match kind {
                0..=3 => End::Finish(d, outcome),
                4 | 5 => End::Die(d, exit),
                6 => End::Hang,
                7 => End::Garbage(d),
                _ => End::FinishThenDie(d, outcome, delay(band2, within2), exit),
            }
        })
}

fn any_plan() -> impl Strategy<Value = Plan> {
    // A step is a stage (Stage::ALL's index) or, for the index past its end, an output.
    let step = (0..30u64, 0..=Stage::ALL.len()).prop_map(|(d, i)| {
        let act = match Stage::ALL.get(i) {
            Some(stage) => Act::Stage(*stage),
            None => Act::Output("show clock"),
        };
        (d, act)
    });
    (
        proptest::collection::vec(step, 0..4),
        any_end(),
        (0..10u8, 0..300u64),
        0..20u8,
        0..10u8,
    )
        .prop_map(|(before, end, (deaf, on_term), refuse, eof)| Plan {
            before,
            end,
            // 3 in 10 ignore SIGTERM; 1 in 20 is dead before its job; 1 in 10 ignores EOF.
            on_term: (deaf >= 3).then_some(on_term),
            refuse: refuse == 19,
            exits_on_eof: eof != 9,
        })
}

fn any_cancel() -> impl Strategy<Value = Vec<(u64, CancelLevel)>> {
    (0..6u8, 0..3000u64, 0..2000u64).prop_map(|(kind, at, later)| match kind {
        0..=2 => Vec::new(),
        3 => vec![(at, CancelLevel::Graceful)],
        4 => vec![(at, CancelLevel::Immediate)],
        _ => vec![
            (at, CancelLevel::Graceful),
            (at + later, CancelLevel::Immediate),
        ],
    })
}

fn any_controls() -> impl Strategy<Value = Controls> {
    // Each control is on in about a third of the runs (the group limit in half).
    (
        (0..3u8, 1..300u64),
        (0..4u8, 1..=2usize),
        (0..6u8, 1..=3usize),
        (0..3u8, 1..=3usize),
    )
        .prop_map(
            |((rate, interval), (grouped, limit), (canary, first), (fails, max))| Controls {
                rate_interval_ms: (rate == 0).then_some(interval),
                max_per_group: (grouped >= 2).then_some(limit),
                canary: match canary {
                    0 => Some(Canary::First(first)),
                    1 => Some(Canary::Group("a".into())),
                    _ => None,
                },
                max_failures: (fails == 0).then_some(max),
            },
        )
}

fn any_case() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        (1..=3usize, 0..=2u32, 0..10u8),
        (50..400u64, 0..300u64, 0..500u64),
        any_cancel(),
        proptest::collection::vec((proptest::array::uniform3(any_plan()), 0..8u8), 1..=6),
        any_controls(),
    )
        .prop_map(
            |(
                threads,
                (workers, retries, recycle),
                (deadline_ms, kill_grace_ms, cancel_grace_ms),
                cancels,
                jobs,
                controls,
            )| {
                let (plans, groups) = jobs.into_iter().unzip();
                Case {
                    mode: if threads {
                        Mode::Threads
                    } else {
                        Mode::Processes
                    },
                    workers,
                    retries,
                    // 3 in 10 runs recycle workers after 1 or 2 devices.
                    recycle: (recycle >= 7).then_some(usize::from(recycle % 2) + 1),
                    deadline_ms,
                    kill_grace_ms,
                    cancel_grace_ms,
                    cancels,
                    plans,
                    groups,
                    controls,
                }
            },
        )
}

/// A plan as a script; threads neither break the protocol nor die before taking a job.
fn script(plan: &Plan, mode: Mode) -> Script {
    let mut script = Script {
        steps: Vec::new(),
        on_term: plan.on_term.map(ms),
        refuse: plan.refuse && mode == Mode::Processes,
        exits_on_eof: plan.exits_on_eof,
    };
    for (delay, act) in &plan.before {
        script = script.then(*delay, act.clone());
    }
    match &plan.end {
        End::Finish(d, outcome) => script.then(*d, Act::Finish(*outcome)),
        End::Die(d, exit) => script.then(*d, Act::Die(*exit)),
        End::Hang => script,
        End::Garbage(d) if mode == Mode::Processes => script.then(*d, Act::Garbage),
        End::Garbage(d) => script.then(*d, Act::Die(ExitInfo::default())),
        End::FinishThenDie(d, outcome, after, exit) => script
            .then(*d, Act::Finish(*outcome))
            .then(*after, Act::Die(*exit)),
    }
}

fn run_case(case: &Case) -> Ran {
    let fake = Fake::new(case.mode);
    for (job, plans) in case.plans.iter().enumerate() {
        for (attempt, plan) in plans.iter().enumerate() {
            fake.script(job as JobId, attempt as u32 + 1, script(plan, case.mode));
        }
    }
    for (at, level) in &case.cancels {
        fake.cancel_at(*at, *level);
    }
    if let Some(n) = case.recycle {
        fake.recycle_after(n);
    }
    let mut config = config(case.workers);
    config.retries = case.retries;
    config.kill_grace = ms(case.kill_grace_ms);
    config.cancel_grace = ms(case.cancel_grace_ms);
    let c = &case.controls;
    config.controls.connect_rate = c
        .rate_interval_ms
        .map(|i| ConnectRate::new(1000.0 / i as f64).unwrap());
    config.controls.max_per_group = c.max_per_group;
    config.controls.canary = c.canary.clone();
    config.controls.max_failures = c.max_failures.map(FailureLimit::Count);
    let mut jobs = jobs(case.plans.len() as u64, case.deadline_ms);
    for (job, bits) in jobs.iter_mut().zip(&case.groups) {
        job.target.groups = group_names(*bits);
    }
    fake.run(config, jobs)
}

/// Where one job is in its life, as the events tell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Life {
    Unstarted,
    Running(u32),
    WaitingToRetry(u32),
    Finished,
}

fn check(case: &Case, ran: &Ran) -> Result<(), TestCaseError> {
    let stats = ran
        .result
        .as_ref()
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    let cancelled = !case.cancels.is_empty();
    let mut lives = vec![Life::Unstarted; case.plans.len()];
    for (at, event) in &ran.events {
        let (job, next) = match event {
            PoolEvent::Started { job, attempt, .. } => {
                let life = lives[*job as usize];
                let expected = match life {
                    Life::Unstarted => 1,
                    Life::WaitingToRetry(a) => a + 1,
                    _ => {
                        return Err(TestCaseError::fail(format!(
                            "job {job} started again from {life:?} at {at:?}"
                        )));
                    }
                };
                prop_assert_eq!(*attempt, expected, "job {} at {:?}", job, at);
                (*job, Life::Running(*attempt))
            }
            PoolEvent::Retrying { job, failed, .. } => {
                let life = lives[*job as usize];
                prop_assert_eq!(
                    life,
                    Life::Running(failed.attempt),
                    "job {} retried at {:?}",
                    job,
                    at
                );
                prop_assert!(
                    failed.outcome.is_transient(),
                    "job {} retried after {}",
                    job,
                    failed.outcome
                );
                prop_assert!(
                    failed.attempt <= case.retries,
                    "job {}: retry beyond --retries",
                    job
                );
                (*job, Life::WaitingToRetry(failed.attempt))
            }
            PoolEvent::Finished { job, record } => {
                let life = lives[*job as usize];
                prop_assert_eq!(
                    life,
                    Life::Running(record.attempt),
                    "job {} finished at {:?}",
                    job,
                    at
                );
                check_author(case, ran, *job, record)?;
                let numbers: Vec<u32> =
                    record.previous_attempts.iter().map(|a| a.attempt).collect();
                prop_assert_eq!(
                    numbers,
                    (1..record.attempt).collect::<Vec<_>>(),
                    "job {}",
                    job
                );
                if !cancelled {
                    prop_assert!(
                        record.outcome != Outcome::Cancelled,
                        "job {} cancelled",
                        job
                    );
                    // A transient failure is retried while attempts remain.
                    prop_assert!(
                        !record.outcome.is_transient() || record.attempt == case.retries + 1,
                        "job {}: {} at attempt {} was not retried",
                        job,
                        record.outcome,
                        record.attempt
                    );
                }
                (*job, Life::Finished)
            }
            PoolEvent::CanaryPassed { .. } | PoolEvent::Stopped { .. } => continue,
        };
        lives[job as usize] = next;
    }
    let mut unfinished = Vec::new();
    for (job, life) in lives.iter().enumerate() {
        match life {
            Life::Finished => {}
            Life::Unstarted => unfinished.push(job as JobId),
            Life::WaitingToRetry(_) if cancelled => unfinished.push(job as JobId),
            other => {
                return Err(TestCaseError::fail(format!(
                    "job {job} ended the run {other:?}"
                )));
            }
        }
    }
    let mut not_started = stats.not_started.clone();
    not_started.sort_unstable();
    prop_assert_eq!(&not_started, &unfinished);
    if !cancelled && stats.stopped.is_none() {
        prop_assert!(unfinished.is_empty());
    }
    check_controls(case, ran, stats)?;
    prop_assert_eq!(stats.finished, case.plans.len() - unfinished.len());
    prop_assert_eq!(stats.workers_spawned, ran.workers.len());
    for w in &ran.workers {
        prop_assert!(
            !w.reaped_alive,
            "worker {}.{} reaped while running",
            w.slot,
            w.generation
        );
    }
    if case.mode == Mode::Processes {
        // No process left running or unreaped.
        for w in &ran.workers {
            prop_assert!(w.reaped, "worker {}.{} never reaped", w.slot, w.generation);
        }
    }
    Ok(())
}

/// The controls held: sessions never closer than the connect rate allows, no group over its
/// limit, nothing but canaries before the canary passed, no first attempt once the failure
/// limit was reached, and one `Stopped` exactly when the run says it stopped.
fn check_controls(case: &Case, ran: &Ran, stats: &RunStats) -> Result<(), TestCaseError> {
    let c = &case.controls;
    let n = case.plans.len();
    let groups_of = |job: JobId| case.groups[job as usize];
    // The canary as the dispatcher chooses it; it holds nothing back when it is every job.
    let in_canary = |job: JobId| match &c.canary {
        Some(Canary::First(k)) => (job as usize) < *k,
        Some(Canary::Group(g)) => group_names(groups_of(job)).contains(g),
        None => false,
    };
    let canaries = (0..n as JobId).filter(|j| in_canary(*j)).count();
    let canary_active = canaries > 0 && canaries < n;
    let interval = c
        .rate_interval_ms
        .map(|i| ConnectRate::new(1000.0 / i as f64).unwrap().interval());

    let mut starts: Vec<Duration> = Vec::new();
    let mut in_flight = [0usize; GROUPS.len()];
    let (mut canary_finals, mut canary_not_ok, mut canary_failed) = (0, 0, 0);
    let (mut failures, mut stops) = (0, 0);
    let mut interrupted = false;
    let ended = |job: JobId, in_flight: &mut [usize; GROUPS.len()]| {
        for (g, count) in in_flight.iter_mut().enumerate() {
            if groups_of(job) & (1 << g) != 0 {
                *count -= 1;
            }
        }
    };
    for (at, event) in &ran.events {
        match event {
            PoolEvent::Started { job, attempt, .. } => {
                if let Some(interval) = interval {
                    // Any k+1 starts span more than k-1 intervals (a late start may keep
                    // its schedule, so two can be closer than one interval, never equal).
                    let m = starts.len();
                    for (k, s) in starts.iter().enumerate() {
                        let between = (m - k - 1) as u32;
                        prop_assert!(
                            *at > *s + interval * between,
                            "start {} at {:?} too close to start {} at {:?} ({:?} apart)",
                            m,
                            at,
                            k,
                            s,
                            interval
                        );
                    }
                    starts.push(*at);
                }
                for (g, count) in in_flight.iter_mut().enumerate() {
                    if groups_of(*job) & (1 << g) != 0 {
                        *count += 1;
                        if let Some(limit) = c.max_per_group {
                            prop_assert!(
                                *count <= limit,
                                "group {} has {} devices at {:?}",
                                GROUPS[g],
                                count,
                                at
                            );
                        }
                    }
                }
                if *attempt == 1 {
                    if canary_active && !in_canary(*job) {
                        prop_assert!(
                            canary_finals == canaries && canary_not_ok == 0,
                            "job {} started at {:?} before the canary passed",
                            job,
                            at
                        );
                    }
                    if let Some(max) = c.max_failures {
                        prop_assert!(
                            failures < max,
                            "job {} started at {:?} after {} failures",
                            job,
                            at,
                            failures
                        );
                    }
                }
            }
            PoolEvent::Retrying { job, .. } => ended(*job, &mut in_flight),
            PoolEvent::Finished { job, record } => {
                ended(*job, &mut in_flight);
                let failed = !record.outcome.is_ok() && record.outcome != Outcome::Cancelled;
                if canary_active && in_canary(*job) {
                    canary_finals += 1;
                    canary_not_ok += usize::from(!record.outcome.is_ok());
                    canary_failed += usize::from(failed);
                }
                failures += usize::from(failed);
                // A cancelled device means the sweep is being interrupted.
                interrupted |= record.outcome == Outcome::Cancelled;
            }
            PoolEvent::CanaryPassed { devices } => {
                prop_assert!(canary_active && canary_finals == canaries && canary_not_ok == 0);
                prop_assert_eq!(*devices, canaries);
                prop_assert!(!interrupted, "canary passed while interrupted");
            }
            PoolEvent::Stopped { reason } => {
                stops += 1;
                prop_assert_eq!(stops, 1, "stopped twice");
                prop_assert_eq!(Some(reason), stats.stopped.as_ref());
                match reason {
                    StopReason::CanaryFailed {
                        failed,
                        canaries: k,
                    } => {
                        prop_assert!(canary_active && *k == canaries && canary_finals == *k);
                        // A cancelled canary is no verdict: no stop is announced for it.
                        prop_assert!(*failed == canary_failed && canary_failed == canary_not_ok);
                        prop_assert!(*failed > 0 && !interrupted);
                    }
                    StopReason::TooManyFailures { failed, limit } => {
                        prop_assert_eq!(Some(*limit), c.max_failures);
                        prop_assert!(*failed == failures && failures >= *limit);
                    }
                }
            }
        }
    }
    prop_assert_eq!(stops > 0, stats.stopped.is_some());
    prop_assert_eq!(
        in_flight,
        [0; GROUPS.len()],
        "devices still counted in flight"
    );
    Ok(())
}

/// A record says what happened to the attempt it names: one a worker wrote came from that
/// attempt's worker; one the dispatcher wrote for a crash names a worker that did crash so.
fn check_author(
    case: &Case,
    ran: &Ran,
    job: JobId,
    record: &netsweep_protocol::DeviceRecord,
) -> Result<(), TestCaseError> {
    if record.message.starts_with("scripted") {
        let expected = scripted_message(record.outcome, record.attempt, &record.worker);
        prop_assert_eq!(&record.message, &expected, "job {}", job);
    }
    if let Outcome::WorkerCrashed {
        signal, exit_code, ..
    } = record.outcome
    {
        let worker = ran
            .workers
            .iter()
            .enumerate()
            .find(|(id, _)| label(*id) == record.worker);
        let Some((_, worker)) = worker else {
            return Err(TestCaseError::fail(format!(
                "job {job}: no worker {}",
                record.worker
            )));
        };
        prop_assert!(
            worker.dead,
            "job {}: {} crashed but never died",
            job,
            record.worker
        );
        if case.mode == Mode::Processes {
            prop_assert_eq!(
                worker.exit,
                Some(ExitInfo { signal, exit_code }),
                "job {}",
                job
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 3000,
        max_shrink_iters: 10_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_started_device_gets_exactly_one_final_record(case in any_case()) {
        let ran = run_case(&case);
        check(&case, &ran)?;
    }
}
