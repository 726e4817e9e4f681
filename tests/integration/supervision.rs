//! The process pool under attack: workers killed from outside, a coordinator killed outright,
//! and credentials looked for where they must never be.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netsweep_pool::{Cancel, PoolConfig, PoolError, PoolEvent, PoolKind, WorkerStart};
use netsweep_protocol::{Outcome, Timeouts, Transport};
use netsweep_sim::{DeviceSpec, GenerateOptions, Platform};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::harness::{
    TestFleet, descendants_named, netsweep_run, poll_until, private_worker, processes,
};

fn generated(count: usize, latency: Duration) -> Vec<DeviceSpec> {
    let spec = netsweep_sim::FleetSpec::generate(&GenerateOptions {
        count,
        platforms: vec![Platform::CiscoIos],
        latency,
        seed: 11,
        ..Default::default()
    })
    .unwrap();
    spec.devices
}

/// A process pool of `workers` running `worker_path`.
fn process_pool(
    worker_path: std::path::PathBuf,
    max_devices_per_worker: Option<usize>,
    start: WorkerStart,
    workers: usize,
) -> PoolConfig {
    PoolConfig::new(
        PoolKind::Processes {
            worker_path,
            worker_args: vec![],
            max_devices_per_worker,
            start,
        },
        workers,
    )
}

/// The pipe inodes a process holds on its stdin, stdout and stderr.
fn stdio_pipes(pid: i32) -> Vec<String> {
    (0..3)
        .filter_map(|fd| std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| p.starts_with("pipe:"))
        .collect()
}

fn own_fd_targets() -> HashSet<String> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn workers_killed_mid_sweep_cost_only_their_device() {
    let fleet = TestFleet::start(generated(500, Duration::from_millis(40)));
    let worker = private_worker(fleet.dir.path(), "chaos-worker");
    let jobs = fleet.jobs(
        &["show clock"],
        &[],
        Timeouts {
            deadline: Duration::from_secs(20),
            ..Timeouts::default()
        },
    );
    let total = jobs.len();
    let mut config = process_pool(worker, None, WorkerStart::ForkServer, 24);
    config.retries = 0;
    let mut pool = netsweep_pool::executor(config).unwrap();

    // From outside: SIGKILL a random worker every 40 ms while the sweep runs, and remember
    // every worker and pipe seen.
    let me = std::process::id() as i32;
    let done = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(HashMap::<i32, Vec<String>>::new()));
    let killer = {
        let done = Arc::clone(&done);
        let seen = Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut kills = 0;
            let mut n = 0usize;
            while !done.load(Ordering::SeqCst) {
                let workers = descendants_named(me, "chaos-worker");
                for w in &workers {
                    seen.lock()
                        .unwrap()
                        .entry(w.pid)
                        .or_insert_with(|| stdio_pipes(w.pid));
                }
                if !workers.is_empty() {
                    n = n.wrapping_mul(31).wrapping_add(7);
                    let victim = &workers[n % workers.len()];
                    if kill(Pid::from_raw(victim.pid), Signal::SIGKILL).is_ok() {
                        kills += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(40));
            }
            kills
        })
    };

    let mut finals: HashMap<u64, usize> = HashMap::new();
    let mut crashed = 0;
    let stats = pool
        .run(jobs, &Cancel::new(), &mut |event| {
            if let PoolEvent::Finished { job, record } = event {
                *finals.entry(job).or_default() += 1;
                if let Outcome::WorkerCrashed { signal, .. } = record.outcome {
                    assert_eq!(signal, Some(9), "{record:?}");
                    crashed += 1;
                } else {
                    assert_eq!(record.outcome, Outcome::Ok, "{record:?}");
                }
            }
        })
        .unwrap();
    done.store(true, Ordering::SeqCst);
    let kills = killer.join().unwrap();

    assert_eq!(finals.len(), total, "every device has a final record");
    assert!(finals.values().all(|&n| n == 1), "none has two");
    assert_eq!(stats.finished, total);
    assert!(
        kills > 0 && crashed > 0,
        "the chaos must have hit something ({kills} kills)"
    );
    assert!(
        crashed <= kills,
        "{crashed} crashed devices from {kills} kills"
    );

    // Nothing left behind: no worker (alive or zombie) and none of their pipes held by us.
    poll_until(Duration::from_secs(3), "workers to be gone", || {
        descendants_named(me, "chaos-worker").is_empty()
    });
    let ours = own_fd_targets();
    for (pid, pipes) in seen.lock().unwrap().iter() {
        for p in pipes {
            assert!(
                !ours.contains(p),
                "worker {pid}'s pipe {p} is still open in the coordinator"
            );
        }
    }
}

#[test]
fn a_killed_coordinator_leaves_no_worker_behind() {
    let fleet = TestFleet::start(generated(40, Duration::from_secs(3)));
    let worker = private_worker(fleet.dir.path(), "orphan-worker");
    let mut cmd = netsweep_run(
        &fleet,
        &["-c", "show clock", "-w", "8", "--pool", "processes"],
    );
    cmd.arg("--worker-path").arg(&worker);
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let coordinator = child.id() as i32;
    let mut workers = Vec::new();
    poll_until(Duration::from_secs(20), "8 workers to start", || {
        workers = descendants_named(coordinator, "orphan-worker");
        workers.len() == 8
    });
    kill(Pid::from_raw(coordinator), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    poll_until(
        Duration::from_secs(1),
        "every worker to die with its coordinator",
        || {
            let alive: HashSet<i32> = processes()
                .into_iter()
                .filter(|p| p.state != 'Z')
                .map(|p| p.pid)
                .collect();
            workers.iter().all(|w| !alive.contains(&w.pid))
        },
    );
}

#[test]
fn no_worker_argv_or_environment_holds_a_password() {
    let mut devices = generated(16, Duration::from_millis(500));
    let secret_word = "Sup3r-Secret-Pa55word";
    for d in &mut devices {
        d.password = secret_word.into();
        d.secret = secret_word.into();
    }
    let fleet = TestFleet::start(devices);
    // The inventory references the password through the environment, as a careful user would.
    let text = std::fs::read_to_string(&fleet.inventory).unwrap();
    std::fs::write(&fleet.inventory, text.replace(secret_word, "${ROUTER_PW}")).unwrap();
    let worker = private_worker(fleet.dir.path(), "argv-worker");
    let mut cmd = netsweep_run(
        &fleet,
        &["-c", "show clock", "-w", "4", "--pool", "processes"],
    );
    cmd.arg("--worker-path")
        .arg(&worker)
        .env("ROUTER_PW", secret_word);
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let coordinator = child.id() as i32;
    let mut checked = 0;
    poll_until(Duration::from_secs(20), "workers to inspect", || {
        for w in descendants_named(coordinator, "argv-worker") {
            let argv = std::fs::read(format!("/proc/{}/cmdline", w.pid)).unwrap_or_default();
            let env = std::fs::read(format!("/proc/{}/environ", w.pid)).unwrap_or_default();
            for blob in [&argv, &env] {
                assert!(
                    !String::from_utf8_lossy(blob).contains(secret_word),
                    "password visible in worker {}",
                    w.pid
                );
            }
            if !argv.is_empty() {
                checked += 1;
            }
        }
        checked >= 4
    });
    let status = crate::harness::wait_with_limit(&mut child, Duration::from_secs(60));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
}

/// A stand-in worker, written as a shell script: the misbehaviours a real worker could show.
fn fake_worker(dir: &std::path::Path, name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Runs two jobs for healthy simulated devices through `worker` and returns their records.
fn run_with_worker(
    worker: std::path::PathBuf,
    deadline: Duration,
) -> Vec<netsweep_protocol::DeviceRecord> {
    let fleet = TestFleet::start(generated(2, Duration::ZERO));
    let jobs = fleet.jobs(
        &["show clock"],
        &[],
        Timeouts {
            deadline,
            ..Timeouts::default()
        },
    );
    // Shell scripts cannot be fork servers.
    let mut config = process_pool(worker, None, WorkerStart::Exec, 2);
    config.kill_grace = Duration::from_millis(300);
    let records = Arc::new(Mutex::new(Vec::new()));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let sink = Arc::clone(&records);
    std::thread::spawn(move || {
        let mut pool = netsweep_pool::executor(config).unwrap();
        let stats = pool.run(jobs, &Cancel::new(), &mut |e| {
            if let PoolEvent::Finished { record, .. } = e {
                sink.lock().unwrap().push(*record);
            }
        });
        let _ = done_tx.send(stats.map(|s| s.finished));
    });
    // A bound on a hang, not a speed check: a pool that never stops its worker fails here.
    let finished = done_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the pool stopped the misbehaving workers")
        .unwrap();
    assert_eq!(finished, 2);
    let mut records = records.lock().unwrap();
    std::mem::take(&mut *records)
}

#[test]
fn a_worker_that_writes_garbage_is_killed_and_its_device_is_a_protocol_error() {
    let dir = tempfile::tempdir().unwrap();
    let worker = fake_worker(
        dir.path(),
        "garbage",
        "echo 'Segmentation fault (core dumped)'\nexec sleep 60",
    );
    for r in run_with_worker(worker, Duration::from_secs(20)) {
        assert_eq!(r.outcome, Outcome::ProtocolError, "{r:?}");
        assert!(r.message.contains("frame"), "{}", r.message);
    }
}

#[test]
fn a_worker_that_exits_is_a_crash_with_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let worker = fake_worker(dir.path(), "exits", "exit 3");
    for r in run_with_worker(worker, Duration::from_secs(20)) {
        assert_eq!(
            r.outcome,
            Outcome::WorkerCrashed {
                stage: netsweep_protocol::Stage::Queued,
                signal: None,
                exit_code: Some(3)
            },
            "{r:?}"
        );
    }
}

#[test]
fn a_worker_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    // Ignored signals stay ignored across exec: `sleep` shrugs off SIGTERM.
    let worker = fake_worker(dir.path(), "stubborn", "trap '' TERM\nexec sleep 60");
    for r in run_with_worker(worker, Duration::from_millis(500)) {
        assert_eq!(
            r.outcome,
            Outcome::TimedOut {
                stage: netsweep_protocol::Stage::Queued
            },
            "{r:?}"
        );
    }
}

#[test]
fn a_worker_of_another_protocol_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let frame = br#"{"type":"ready","protocol_version":999,"pid":1}"#;
    let mut bytes = (frame.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(frame);
    let octal: String = bytes.iter().map(|b| format!("\\{b:03o}")).collect();
    let worker = fake_worker(
        dir.path(),
        "future",
        &format!("printf '{octal}'\nexec sleep 60"),
    );
    for r in run_with_worker(worker, Duration::from_secs(20)) {
        assert_eq!(r.outcome, Outcome::ProtocolError, "{r:?}");
        assert!(r.message.contains("version 999"), "{}", r.message);
    }
}

#[test]
fn a_worker_path_that_is_no_fork_server_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let worker = fake_worker(dir.path(), "plain", "exit 3");
    let fleet = TestFleet::start(generated(1, Duration::ZERO));
    let jobs = fleet.jobs(&["show clock"], &[], Timeouts::default());
    let config = process_pool(worker.clone(), None, WorkerStart::ForkServer, 1);
    let mut pool = netsweep_pool::executor(config).unwrap();
    let err = pool.run(jobs, &Cancel::new(), &mut |_| {}).unwrap_err();
    assert!(matches!(err, PoolError::ForkServer { .. }), "{err:?}");
    let message = netsweep_protocol::error_chain(&err);
    assert!(
        message.contains(&worker.display().to_string()) && message.contains("--worker-start exec"),
        "{message}"
    );
}

#[test]
fn a_killed_fork_server_costs_only_the_devices_in_flight() {
    let fleet = TestFleet::start(generated(120, Duration::from_millis(50)));
    let worker = private_worker(fleet.dir.path(), "fs-worker");
    // Other tests' pools have fork servers too: ours runs our private copy of the binary.
    let ours = {
        let worker = worker.clone();
        move |p: &crate::harness::ProcInfo| {
            std::fs::read_link(format!("/proc/{}/exe", p.pid)).is_ok_and(|exe| exe == worker)
        }
    };
    let jobs = fleet.jobs(&["show clock"], &[], Timeouts::default());
    let total = jobs.len();
    // Workers come and go all sweep long, so the pool needs a fork server after the kill.
    let config = process_pool(worker, Some(3), WorkerStart::ForkServer, 8);
    let mut pool = netsweep_pool::executor(config).unwrap();
    let me = std::process::id() as i32;
    let killed = Arc::new(AtomicBool::new(false));
    let mut finals: HashMap<u64, usize> = HashMap::new();
    let mut crashed = 0;
    let stats = pool
        .run(jobs, &Cancel::new(), &mut |event| {
            if let PoolEvent::Finished { job, record } = event {
                *finals.entry(job).or_default() += 1;
                match record.outcome {
                    Outcome::Ok => {}
                    Outcome::WorkerCrashed { .. } => crashed += 1,
                    _ => panic!("{record:?}"),
                }
                // Once the sweep is under way, kill the fork server from outside.
                if finals.len() == 30 && !killed.swap(true, Ordering::SeqCst) {
                    // The server is our child; a worker it has just forked is its child, and
                    // carries the server's name until it has run far enough to rename itself.
                    let servers: Vec<_> = descendants_named(me, "nsw-fork-server")
                        .into_iter()
                        .filter(|p| p.ppid == me && ours(p))
                        .collect();
                    assert_eq!(servers.len(), 1, "one fork server: {servers:?}");
                    kill(Pid::from_raw(servers[0].pid), Signal::SIGKILL).unwrap();
                }
            }
        })
        .unwrap();
    assert!(killed.load(Ordering::SeqCst));
    assert_eq!(finals.len(), total, "every device has a final record");
    assert!(finals.values().all(|&n| n == 1), "none has two");
    assert_eq!(stats.finished, total);
    // Its workers die with it (parent-death signal): at most the 8 devices in flight are lost.
    assert!(crashed <= 8, "{crashed} devices lost to one fork server");
    poll_until(Duration::from_secs(3), "workers to be gone", || {
        descendants_named(me, "fs-worker").is_empty()
            && !descendants_named(me, "nsw-fork-server").iter().any(&ours)
    });
}

#[test]
fn a_worker_killed_while_its_device_is_silent_is_placed_at_the_stage_it_waits_in() {
    // The worker holds stage reports back until its session has waited a while: a device that
    // went silent after login must still be reported where it hung, not where it started.
    killed_while_silent(Transport::Ssh, "quiet-worker");
}

#[test]
fn a_worker_killed_in_a_silent_telnet_session_is_placed_at_the_stage_it_waits_in() {
    killed_while_silent(Transport::Telnet, "telnet-worker");
}

/// Kills the only worker of a process pool long after its device (over `transport`) went
/// silent after login, and checks the record places the crash at the prompt stage.
fn killed_while_silent(transport: Transport, worker_name: &'static str) {
    let mut spec = netsweep_sim::DeviceSpec::new("silent", Platform::CiscoIos);
    spec.transport = transport;
    spec.behaviour.faults = vec![netsweep_sim::Fault::HangAfterAuth];
    let fleet = TestFleet::start(vec![spec]);
    let worker = private_worker(fleet.dir.path(), worker_name);
    let jobs = fleet.jobs(
        &["show clock"],
        &[],
        Timeouts {
            deadline: Duration::from_secs(30),
            ..Timeouts::default()
        },
    );
    let config = process_pool(worker, None, WorkerStart::ForkServer, 1);
    let me = std::process::id() as i32;
    let killer = std::thread::spawn(move || {
        // The fork server, which carries the same name until it renames itself, has the test
        // for its parent; the worker is its child.
        let worker = || {
            descendants_named(me, worker_name)
                .into_iter()
                .find(|p| p.ppid != me)
        };
        poll_until(Duration::from_secs(20), "the worker to start", || {
            worker().is_some()
        });
        // Long after login: the session is waiting for a prompt that never comes.
        std::thread::sleep(Duration::from_millis(1500));
        let victim = worker().expect("the worker is still there");
        kill(Pid::from_raw(victim.pid), Signal::SIGKILL).unwrap();
    });
    let mut pool = netsweep_pool::executor(config).unwrap();
    let mut records = Vec::new();
    pool.run(jobs, &Cancel::new(), &mut |event| {
        if let PoolEvent::Finished { record, .. } = event {
            records.push(*record);
        }
    })
    .unwrap();
    killer.join().unwrap();
    assert_eq!(
        records[0].outcome,
        Outcome::WorkerCrashed {
            stage: netsweep_protocol::Stage::Prompt,
            signal: Some(9),
            exit_code: None
        },
        "{transport}: {:#?}",
        records[0]
    );
    assert_eq!(records[0].transport, transport);
}
