//! Sweeps split over many processes: `netsweep run --shard auto` as Kubernetes and Slurm start
//! it, one shard killed and carried on, `netsweep merge`, and the merged journal used as any
//! other (`report`, `--resume --rerun-failed`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use netsweep_sim::{DeviceSpec, Fault, GenerateOptions, Platform};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use crate::harness::{TestFleet, bin, netsweep_run, poll_until, run_with_limit, wait_with_limit};

const LIMIT: Duration = Duration::from_secs(120);
const COMMANDS: [&str; 4] = ["-c", "show ip interface brief", "-c", "show inventory"];

fn fleet(count: usize, latency: Duration, auth_failures: &[usize]) -> TestFleet {
    let mut devices: Vec<DeviceSpec> = netsweep_sim::FleetSpec::generate(&GenerateOptions {
        count,
        platforms: vec![Platform::CiscoIos],
        latency,
        seed: 11,
        ..Default::default()
    })
    .unwrap()
    .devices;
    for &i in auth_failures {
        devices[i].behaviour.faults = vec![Fault::Auth];
    }
    TestFleet::start(devices)
}

/// `netsweep run --shard auto` as task `index` (0-based) of `count` would run it under an
/// engine that sets `index_var`.
fn shard_task(
    fleet: &TestFleet,
    results: &Path,
    index_var: &str,
    index: u32,
    count: u32,
) -> Command {
    let mut cmd = netsweep_run(fleet, &COMMANDS);
    cmd.args([
        "--shard",
        "auto",
        "-w",
        "4",
        "--format",
        "jsonl",
        "--no-progress",
    ])
    .arg("--journal")
    .arg(format!("{}/", results.display()))
    .env_remove("JOB_COMPLETION_INDEX")
    .env_remove("SLURM_ARRAY_TASK_ID")
    .env(index_var, index.to_string())
    .env("NETSWEEP_SHARD_COUNT", count.to_string())
    .env("NETSWEEP_RUN_ID", "sweep-1");
    cmd
}

fn netsweep(args: &[&str]) -> Command {
    let mut cmd = Command::new(bin("netsweep"));
    cmd.args(args);
    cmd
}

fn merge(inputs: &[&Path], output: &Path, extra: &[&str]) -> crate::harness::Finished {
    let mut cmd = netsweep(&["merge"]);
    cmd.args(inputs).arg("-o").arg(output).args(extra);
    run_with_limit(cmd, LIMIT)
}

/// A journal's final records by device, without what differs from run to run (timings,
/// worker names, attempts' times).
fn results(journal: &Path) -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(journal).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines().skip(1) {
        let mut record: Value = serde_json::from_str(line).unwrap();
        let map = record.as_object_mut().unwrap();
        map.remove("timings");
        map.remove("worker");
        if let Some(Value::String(message)) = map.get_mut("message") {
            *message = without_times(message);
        }
        if let Some(outputs) = map.get_mut("outputs").and_then(Value::as_array_mut) {
            for o in outputs {
                let o = o.as_object_mut().unwrap();
                o.retain(|k, _| k == "command" || k == "output" || k == "complete");
            }
        }
        out.insert(map["device"].as_str().unwrap().to_string(), record);
    }
    out
}

/// `ran 2 commands in 124 ms` → `ran 2 commands in _ ms`: the sentence, not the timing.
fn without_times(message: &str) -> String {
    let words: Vec<&str> = message.split(' ').collect();
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let next = words.get(i + 1).copied().unwrap_or("");
            if ["ms", "s"].contains(&next.trim_end_matches([',', ';', ')']))
                && w.parse::<f64>().is_ok()
            {
                "_"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn header(journal: &Path) -> Value {
    let text = std::fs::read_to_string(journal).unwrap();
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

fn record_lines(journal: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(journal).unwrap_or_default();
    text.split_inclusive('\n')
        .skip(1)
        .filter(|l| l.ends_with('\n'))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["device"].as_str().map(str::to_owned))
        .collect()
}

fn connections(fleet: &TestFleet) -> HashMap<String, u64> {
    fleet
        .fleet
        .devices()
        .iter()
        .map(|d| {
            (
                d.name.clone(),
                fleet.fleet.counters(&d.name).unwrap().connections,
            )
        })
        .collect()
}

fn sharded_sweep_equals_one_process(index_var: &str) {
    const SHARDS: u32 = 4;
    let fleet = fleet(40, Duration::ZERO, &[3, 17]);
    let results_dir = fleet.dir.path().join("results");

    // N tasks at once, as the engine starts them.
    let children: Vec<_> = (0..SHARDS)
        .map(|i| {
            shard_task(&fleet, &results_dir, index_var, i, SHARDS)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, mut child) in children.into_iter().enumerate() {
        let status = wait_with_limit(&mut child, LIMIT).expect("the shard finishes");
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        // Shards owning an auth-failed device exit 1, the others 0.
        assert!(
            matches!(status.code(), Some(0 | 1)),
            "shard {}: {status:?}\n{stderr}",
            i + 1
        );
        assert!(
            stderr.contains(&format!("shard {}/{SHARDS}: ", i + 1)),
            "{stderr}"
        );
    }
    // Every device contacted once, by one shard.
    assert!(
        connections(&fleet).values().all(|&c| c == 1),
        "{:?}",
        connections(&fleet)
    );
    let run_dir = results_dir.join("sweep-1");
    let mut planned = 0;
    for k in 1..=SHARDS {
        let h = header(&run_dir.join(format!("shard-{k}-of-{SHARDS}.jsonl")));
        assert_eq!(h["run_id"], "sweep-1");
        assert_eq!(h["shard"]["index"], k);
        assert_eq!(h["shard"]["count"], SHARDS);
        assert_eq!(h["shard"]["partition"], "xxh64(name, seed 0) % N + 1");
        assert_eq!(h["shard"]["selected"], 40);
        planned += h["shard"]["devices"].as_u64().unwrap();
    }
    assert_eq!(planned, 40);

    let merged = fleet.dir.path().join("merged.jsonl");
    let out = merge(&[&run_dir], &merged, &[]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "merged 4 shard journals of run sweep-1 into {}: 40 devices, 38 ok, 2 failed",
            merged.display()
        )),
        "{}",
        out.stderr
    );

    // The same sweep in one process.
    let single = fleet.dir.path().join("single.jsonl");
    let mut cmd = netsweep_run(&fleet, &COMMANDS);
    cmd.args(["-w", "4", "--no-progress"])
        .arg("--journal")
        .arg(&single);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    let (sharded, whole) = (results(&merged), results(&single));
    assert_eq!(sharded.len(), 40);
    assert_eq!(
        sharded.keys().collect::<Vec<_>>(),
        whole.keys().collect::<Vec<_>>()
    );
    for (device, record) in &sharded {
        assert_eq!(record, &whole[device], "{device}: sharded vs one process");
    }

    // The merged journal is a journal like any other: report it …
    let mut report = netsweep(&["report", "--format", "summary"]);
    report.arg(&merged);
    let out = run_with_limit(report, LIMIT);
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert!(out.stdout.contains("40 devices"), "{}", out.stdout);
    assert!(out.stdout.contains("38 ok"), "{}", out.stdout);

    // … and redo its failed devices on one machine: only those are contacted again.
    let before = connections(&fleet);
    let mut cmd = netsweep_run(&fleet, &["--no-progress", "--rerun-failed"]);
    cmd.arg("--resume").arg(&merged);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(
        out.code(),
        Some(1),
        "the auth faults persist: {}",
        out.stderr
    );
    let after = connections(&fleet);
    let redone: HashSet<&String> = after.keys().filter(|d| after[*d] != before[*d]).collect();
    let failed: HashSet<&String> = whole
        .iter()
        .filter(|(_, r)| r["status"] != "ok")
        .map(|(d, _)| d)
        .collect();
    assert_eq!(redone, failed);
}

#[test]
fn kubernetes_indexed_shards_merge_to_the_single_process_result() {
    sharded_sweep_equals_one_process("JOB_COMPLETION_INDEX");
}

#[test]
fn slurm_array_shards_merge_to_the_single_process_result() {
    sharded_sweep_equals_one_process("SLURM_ARRAY_TASK_ID");
}

#[test]
fn a_shard_killed_with_sigkill_is_carried_on_by_its_retry_before_the_merge() {
    const SHARDS: u32 = 3;
    let fleet = fleet(240, Duration::from_millis(20), &[]);
    let results_dir = fleet.dir.path().join("results");
    let run_dir = results_dir.join("sweep-1");
    for i in [0, 2] {
        let out = run_with_limit(
            shard_task(&fleet, &results_dir, "JOB_COMPLETION_INDEX", i, SHARDS),
            LIMIT,
        );
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
    }

    let journal = run_dir.join("shard-2-of-3.jsonl");
    let mut child = shard_task(&fleet, &results_dir, "JOB_COMPLETION_INDEX", 1, SHARDS)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    poll_until(Duration::from_secs(60), "10 records in shard 2", || {
        record_lines(&journal).len() >= 10
    });
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    let finished: HashSet<String> = record_lines(&journal).into_iter().collect();
    let planned = header(&journal)["shard"]["devices"].as_u64().unwrap() as usize;
    assert!(finished.len() < planned, "killed before the end");

    // Merged now, the shard's unfinished devices are reported as having no record.
    let early = fleet.dir.path().join("early.jsonl");
    let out = merge(&[&run_dir], &early, &[]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "shard 2/3: {} of its {planned} devices have no record",
            planned - finished.len()
        )),
        "{}",
        out.stderr
    );

    // The engine retries the task with the same command: it carries its own journal on.
    let before = connections(&fleet);
    let out = run_with_limit(
        shard_task(&fleet, &results_dir, "JOB_COMPLETION_INDEX", 1, SHARDS),
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "resuming {} (shard 2/3): {} devices finished",
            journal.display(),
            finished.len()
        )),
        "{}",
        out.stderr
    );
    let after = connections(&fleet);
    for d in &finished {
        assert_eq!(after[d], before[d], "{d} was finished and contacted again");
    }
    let owned: HashSet<String> = fleet
        .fleet
        .devices()
        .iter()
        .map(|d| d.name.clone())
        .filter(|d| netsweep_shard::shard_of(d, SHARDS) == 2)
        .collect();
    let contacted: HashSet<String> = after
        .keys()
        .filter(|d| after[*d] != before[*d])
        .cloned()
        .collect();
    assert_eq!(
        contacted,
        owned.difference(&finished).cloned().collect(),
        "the retry sweeps exactly its shard's unfinished devices"
    );

    let merged = fleet.dir.path().join("merged.jsonl");
    let out = merge(&[&run_dir], &merged, &[]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(!out.stderr.contains("no record"), "{}", out.stderr);
    let all = record_lines(&merged);
    assert_eq!(all.len(), 240);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 240);
}

#[test]
fn merge_refusals_exit_2_naming_the_file_and_empty_shards_exit_0() {
    // Three devices in eight shards: some shards own nothing.
    let fleet = fleet(3, Duration::ZERO, &[]);
    let results_dir = fleet.dir.path().join("results");
    let run_dir = results_dir.join("sweep-1");
    let owners: HashSet<u32> = fleet
        .fleet
        .devices()
        .iter()
        .map(|d| netsweep_shard::shard_of(&d.name, 8))
        .collect();
    let empty = (1..=8).find(|k| !owners.contains(k)).unwrap();
    for i in 0..8 {
        let out = run_with_limit(
            shard_task(&fleet, &results_dir, "SLURM_ARRAY_TASK_ID", i, 8),
            LIMIT,
        );
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        if i + 1 == empty {
            assert!(out.stdout.is_empty(), "{}", out.stdout);
            assert!(out.stderr.contains("nothing to sweep"), "{}", out.stderr);
        }
    }
    let empty_journal = run_dir.join(format!("shard-{empty}-of-8.jsonl"));
    assert_eq!(header(&empty_journal)["shard"]["devices"], 0);
    assert!(record_lines(&empty_journal).is_empty());

    let merged = fleet.dir.path().join("merged.jsonl");
    let missing = run_dir.join("shard-5-of-8.jsonl");
    let kept = fleet.dir.path().join("kept.jsonl");
    std::fs::rename(&missing, &kept).unwrap();
    let out = merge(&[&run_dir], &merged, &[]);
    assert_eq!(out.code(), Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("shard 5 of 8 has no journal"),
        "{}",
        out.stderr
    );
    assert!(!merged.exists());
    let out = merge(&[&run_dir], &merged, &["--allow-missing"]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("warning: merged without shard 5 of 8"),
        "{}",
        out.stderr
    );

    // Files may be named one by one; a damaged line is named with its file and line.
    std::fs::rename(&kept, &missing).unwrap();
    let victim = run_dir.join(format!(
        "shard-{}-of-8.jsonl",
        owners.iter().next().unwrap()
    ));
    let text = std::fs::read_to_string(&victim).unwrap();
    std::fs::write(&victim, format!("{text}{{\"device\": \"cut\n{text}")).unwrap();
    let files: Vec<PathBuf> = (1..=8)
        .map(|k| run_dir.join(format!("shard-{k}-of-8.jsonl")))
        .collect();
    let mut cmd = netsweep(&["merge", "-o"]);
    cmd.arg(&merged).args(&files);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(2), "{}", out.stderr);
    let bad_line = text.lines().count() + 1;
    assert!(
        out.stderr.contains(&format!(
            "{}:{bad_line}: not a journal record",
            victim.display()
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn shard_auto_without_a_clear_index_is_a_usage_error_before_anything_runs() {
    let fleet = fleet(3, Duration::ZERO, &[]);
    let results_dir = fleet.dir.path().join("results");
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("JOB_COMPLETION_INDEX", "1"), ("SLURM_ARRAY_TASK_ID", "2")],
            "disagree",
        ),
        (&[("SLURM_ARRAY_TASK_ID", "4")], "indexes run from 0 to 3"),
        (&[], "needs JOB_COMPLETION_INDEX"),
    ];
    for (vars, expected) in cases {
        let mut cmd = netsweep_run(&fleet, &COMMANDS);
        cmd.args(["--shard", "auto", "--run-id", "x"])
            .arg("--journal")
            .arg(format!("{}/", results_dir.display()))
            .env_remove("JOB_COMPLETION_INDEX")
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env("NETSWEEP_SHARD_COUNT", "4");
        for (k, v) in *vars {
            cmd.env(k, v);
        }
        let out = run_with_limit(cmd, LIMIT);
        assert_eq!(out.code(), Some(2), "{vars:?}: {}", out.stderr);
        assert!(out.stderr.contains(expected), "{vars:?}: {}", out.stderr);
    }
    // Without a run id, shards could not find each other's journals.
    let mut cmd = netsweep_run(&fleet, &COMMANDS);
    cmd.args(["--shard", "1/4"]).env_remove("NETSWEEP_RUN_ID");
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("--run-id"), "{}", out.stderr);
    assert!(!results_dir.exists(), "nothing was written");
    assert!(
        fleet
            .fleet
            .devices()
            .iter()
            .all(|d| fleet.fleet.counters(&d.name).unwrap().connections == 0)
    );
}

#[test]
fn a_shard_resumed_on_another_inventory_or_as_another_shard_is_refused() {
    let fleet = fleet(6, Duration::ZERO, &[]);
    let results_dir = fleet.dir.path().join("results");
    let out = run_with_limit(
        shard_task(&fleet, &results_dir, "JOB_COMPLETION_INDEX", 0, 2),
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let journal = results_dir.join("sweep-1/shard-1-of-2.jsonl");
    let recorded = record_lines(&journal);

    // Resuming a shard's journal as another shard.
    let mut cmd = netsweep_run(&fleet, &["--shard", "2/2", "--no-progress"]);
    cmd.arg("--resume").arg(&journal);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(2), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("holds shard 1/2, but this run is shard 2/2"),
        "{}",
        out.stderr
    );

    // The retry of a shard after the inventory changed (here: a comment added).
    let mut text = std::fs::read_to_string(&fleet.inventory).unwrap();
    text.push_str("# edited\n");
    std::fs::write(&fleet.inventory, text).unwrap();
    let out = run_with_limit(
        shard_task(&fleet, &results_dir, "JOB_COMPLETION_INDEX", 0, 2),
        LIMIT,
    );
    assert_eq!(out.code(), Some(2), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("was swept from an inventory with sha256"),
        "{}",
        out.stderr
    );
    assert_eq!(record_lines(&journal), recorded, "the journal is untouched");
}
