//! The recipes under `deploy/`, checked as far as this machine can: the Kubernetes manifests
//! parse and carry what the README promises, their container arguments parse with netsweep's
//! own parser; the Slurm scripts pass `bash -n` and, run as Slurm runs them (one task per
//! index, then the merge), sweep a simulated fleet with the real binary; the Dockerfile runs
//! as a non-root user and builds with the README's command. (Neither Docker nor a cluster runs
//! here.)

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use clap::Parser;
use netsweep_cli::args::{Cli, Command as Subcommand};
use netsweep_sim::{GenerateOptions, Platform};
use serde_json::Value;

use crate::harness::{TestFleet, bin, run_with_limit};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml_documents(path: &str) -> Vec<Value> {
    serde_saphyr::from_multiple(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn job<'a>(docs: &'a [Value], name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == "Job" && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no Job {name}"))
}

/// A container's environment, literal values only.
fn env_of(container: &Value) -> HashMap<String, String> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_string(),
                e["value"].as_str()?.to_string(),
            ))
        })
        .collect()
}

/// The container's arguments as the kubelet hands them over: `$(VAR)` replaced from the
/// container's environment.
fn args_of(container: &Value) -> Vec<String> {
    let env = env_of(container);
    container["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| {
            let mut arg = a.as_str().expect("string argument").to_string();
            for (k, v) in &env {
                arg = arg.replace(&format!("$({k})"), v);
            }
            arg
        })
        .collect()
}

fn parse(args: &[String]) -> Cli {
    Cli::try_parse_from(std::iter::once("netsweep".to_string()).chain(args.iter().cloned()))
        .unwrap_or_else(|e| panic!("{args:?} does not parse: {e}"))
}

/// The uid the Dockerfile's final stage runs as.
fn dockerfile_uid() -> u32 {
    let dockerfile = read("deploy/Dockerfile");
    let user = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .next_back()
        .expect("a USER line");
    user.split(':')
        .next()
        .unwrap()
        .trim()
        .parse()
        .expect("a numeric uid")
}

#[test]
fn the_kubernetes_indexed_job_carries_the_promised_fields_and_its_arguments_parse() {
    let docs = yaml_documents("deploy/kubernetes/sweep-job.yaml");
    let sweep = job(&docs, "netsweep-run-1");
    let spec = &sweep["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let completions = spec["completions"].as_u64().expect("completions");
    assert!(spec["parallelism"].as_u64().is_some_and(|p| p >= 1));
    assert!(spec["backoffLimitPerIndex"].as_u64().is_some());
    assert_eq!(spec["podReplacementPolicy"], "Failed");
    let rules = spec["podFailurePolicy"]["rules"].as_array().expect("rules");
    assert!(
        rules.iter().any(|r| r["action"] == "FailIndex"
            && r["onExitCodes"]["operator"] == "In"
            && r["onExitCodes"]["values"] == serde_json::json!([2])),
        "exit code 2 fails the index: {rules:?}"
    );
    assert!(
        rules
            .iter()
            .any(|r| r["action"] == "Ignore"
                && r["onPodConditions"][0]["type"] == "DisruptionTarget"),
        "disruptions are ignored: {rules:?}"
    );
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["runAsUser"].as_u64(),
        Some(u64::from(dockerfile_uid())),
        "the pod runs as the image's user"
    );

    let container = &pod["containers"][0];
    let rule_container = rules
        .iter()
        .find(|r| r["action"] == "FailIndex")
        .map(|r| &r["onExitCodes"]["containerName"])
        .unwrap();
    assert_eq!(&container["name"], rule_container);
    let env = env_of(container);
    assert_eq!(
        env["NETSWEEP_SHARD_COUNT"],
        completions.to_string(),
        "N is the Job's completions"
    );
    let run_id_source = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "NETSWEEP_RUN_ID")
        .expect("NETSWEEP_RUN_ID");
    assert_eq!(
        run_id_source["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.labels['batch.kubernetes.io/job-name']",
        "the run id is the Job's name"
    );

    // Volumes: the inventory from a Secret, results on a ReadWriteMany claim.
    let volumes = pod["volumes"].as_array().unwrap();
    let mount_of = |volume: &str| -> String {
        container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == volume)
            .and_then(|m| m["mountPath"].as_str())
            .unwrap_or_else(|| panic!("{volume} not mounted"))
            .to_string()
    };
    let secret = volumes
        .iter()
        .find(|v| v["secret"]["secretName"].is_string())
        .expect("a Secret volume");
    let secret_dir = mount_of(secret["name"].as_str().unwrap());
    let results = volumes
        .iter()
        .find(|v| v["persistentVolumeClaim"]["claimName"].is_string())
        .expect("a claim");
    let claim = &results["persistentVolumeClaim"]["claimName"];
    let pvc = docs
        .iter()
        .find(|d| d["kind"] == "PersistentVolumeClaim" && d["metadata"]["name"] == *claim)
        .expect("the claim is in the manifest");
    assert_eq!(
        pvc["spec"]["accessModes"],
        serde_json::json!(["ReadWriteMany"])
    );
    let results_dir = mount_of(results["name"].as_str().unwrap());

    let Subcommand::Run(run) = parse(&args_of(container)).command else {
        panic!("not `netsweep run`")
    };
    assert_eq!(run.shards.shard, Some(netsweep_shard::ShardSpec::Auto));
    assert!(
        run.shards.exit_zero,
        "exit code 1 would retry finished shards"
    );
    assert!(
        run.inventory.starts_with(&secret_dir),
        "{:?}",
        run.inventory
    );
    let journal = run.journal.expect("--journal");
    assert!(
        journal.to_str().unwrap().ends_with('/') && journal.starts_with(&results_dir),
        "{journal:?}: a directory on the results volume"
    );
    assert!(!run.commands.is_empty());

    // The merge Job reads the directory the shards write, for the same run id.
    let merge_docs = yaml_documents("deploy/kubernetes/merge-job.yaml");
    let merge = merge_docs.iter().find(|d| d["kind"] == "Job").unwrap();
    let merge_pod = &merge["spec"]["template"]["spec"];
    assert_eq!(merge_pod["restartPolicy"], "Never");
    assert_eq!(merge_pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        merge_pod["volumes"][0]["persistentVolumeClaim"]["claimName"],
        *claim
    );
    let merge_container = &merge_pod["containers"][0];
    let Subcommand::Merge(args) = parse(&args_of(merge_container)).command else {
        panic!("not `netsweep merge`")
    };
    let run_dir = journal.join(sweep["metadata"]["name"].as_str().unwrap());
    assert_eq!(args.inputs, vec![run_dir.clone()]);
    assert!(args.output.starts_with(&run_dir));
}

/// A known_hosts file for the fleet, so the scripts' `--host-key-policy strict` can pass.
fn known_hosts(fleet: &TestFleet) -> PathBuf {
    let path = fleet.dir.path().join("strict_known_hosts");
    let lines: String = fleet
        .fleet
        .devices()
        .iter()
        .map(|d| {
            format!(
                "[{}]:{} {}\n",
                d.addr.ip(),
                d.addr.port(),
                fleet.fleet.host_key_openssh(&d.name).unwrap()
            )
        })
        .collect();
    std::fs::write(&path, lines).unwrap();
    path
}

fn bash(script: &Path, env: &[(&str, &Path)], vars: &[(&str, String)]) -> crate::harness::Finished {
    let mut cmd = Command::new("bash");
    cmd.arg(script);
    for (k, v) in env {
        cmd.env(k, v);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    run_with_limit(cmd, Duration::from_secs(120))
}

#[test]
fn the_slurm_scripts_pass_bash_n_and_sweep_a_fleet_as_slurm_would_run_them() {
    let dir = repo().join("deploy/slurm");
    for script in ["sweep.sbatch", "merge.sbatch", "submit.sh"] {
        let out = run_with_limit(
            {
                let mut c = Command::new("bash");
                c.arg("-n").arg(dir.join(script));
                c
            },
            Duration::from_secs(10),
        );
        assert_eq!(out.code(), Some(0), "{script}: {}", out.stderr);
    }

    let sweep = read("deploy/slurm/sweep.sbatch");
    let directive = |name: &str| {
        sweep
            .lines()
            .find_map(|l| l.strip_prefix(&format!("#SBATCH --{name}=")))
            .unwrap_or_else(|| panic!("no #SBATCH --{name}"))
            .to_string()
    };
    // --array=0-(N-1)%K, and N is the script's default shard count.
    let array = directive("array");
    let (range, at_once) = array.split_once('%').expect("a %K throttle");
    let last: u32 = range.strip_prefix("0-").unwrap().parse().unwrap();
    assert!(at_once.parse::<u32>().is_ok());
    assert!(
        sweep.contains(&format!(
            "NETSWEEP_SHARD_COUNT=\"${{NETSWEEP_SHARD_COUNT:-{}}}\"",
            last + 1
        )),
        "the default count matches --array={array}"
    );
    assert!(directive("output").contains("%A_%a"));
    assert!(directive("error").contains("%A_%a"));
    let submit = read("deploy/slurm/submit.sh");
    assert!(submit.contains("--array=\"0-$((shards - 1))%${at_once}\""));
    assert!(submit.contains("--dependency=\"afterany:${sweep}\""));

    // Slurm runs the script once per index with the array's variables set; then the merge.
    let fleet = TestFleet::start(
        netsweep_sim::FleetSpec::generate(&GenerateOptions {
            count: 12,
            platforms: vec![Platform::CiscoIos],
            seed: 3,
            ..Default::default()
        })
        .unwrap()
        .devices,
    );
    let results = fleet.dir.path().join("results");
    let known_hosts = known_hosts(&fleet);
    let paths: [(&str, &Path); 5] = [
        ("NETSWEEP", &bin("netsweep")),
        ("NETSWEEP_RESULTS", &results),
        ("NETSWEEP_INVENTORY", &fleet.inventory),
        ("NETSWEEP_KNOWN_HOSTS", &known_hosts),
        ("HOME", fleet.dir.path()),
    ];
    for task in 0..=last {
        let out = bash(
            &dir.join("sweep.sbatch"),
            &paths,
            &[
                ("SLURM_ARRAY_JOB_ID", "4242".into()),
                ("SLURM_ARRAY_TASK_ID", task.to_string()),
                ("NETSWEEP_WORKERS", "2".into()),
            ],
        );
        assert_eq!(out.code(), Some(0), "task {task}: {}", out.stderr);
    }
    let out = bash(
        &dir.join("merge.sbatch"),
        &paths,
        &[("NETSWEEP_RUN_ID", "4242".into())],
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("merged {} shard journals of run 4242", last + 1)),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("12 devices"), "{}", out.stdout);
    assert!(out.stdout.contains("12 ok"), "{}", out.stdout);
    assert!(results.join("4242/merged.jsonl").is_file());
}

#[test]
fn the_dockerfile_runs_as_non_root_and_builds_with_the_readmes_command() {
    let dockerfile = read("deploy/Dockerfile");
    let readme = read("README.md");
    assert_ne!(dockerfile_uid(), 0, "the image must not run as root");
    let build_line = |text: &str| {
        text.lines()
            .map(|l| l.trim_start_matches('#').trim())
            .find(|l| l.starts_with("docker build "))
            .map(str::to_string)
    };
    let docker_build = build_line(&dockerfile).expect("the Dockerfile names its build command");
    assert_eq!(
        build_line(&readme).as_deref(),
        Some(docker_build.as_str()),
        "README.md and deploy/Dockerfile give the same docker build command"
    );
    let cargo_build = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("RUN cargo build "))
        .expect("the image builds with cargo");
    assert!(
        readme.contains(&format!("cargo build {cargo_build}")),
        "README.md shows the image's cargo build: `cargo build {cargo_build}`"
    );
    // The binaries the image copies are those it builds, and the worker is among them.
    for binary in ["netsweep", "netsweep-worker"] {
        assert!(
            cargo_build.contains(&format!("--bin {binary}")),
            "{cargo_build}"
        );
        assert!(
            dockerfile.contains(&format!("/src/target/release/{binary} ")),
            "{binary} is copied into the image"
        );
    }
    assert!(dockerfile.contains("ENTRYPOINT [\"netsweep\"]"));
}
