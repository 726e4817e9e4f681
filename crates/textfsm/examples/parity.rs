//! The engine side of `bench/textfsm_parity.py`: parses ntc-templates fixtures and prints
//! the rows as JSON, and with `--speed` the CPU seconds of parsing them again.
//!
//! ```text
//! parity --templates DIR --jobs JOBS.jsonl [--speed [--hot-only]] [--repeat N]
//! ```
//!
//! Each line of JOBS is `{"id": N, "platform": P, "command": C, "raw": PATH}`; each output
//! line is `{"id": N, "rows": [...]}` or `{"id": N, "error": "..."}`, then, with `--speed`,
//! `{"figures": {"hot_cpu_s": …, "cold_cpu_s": …}}`: `hot` with every template compiled
//! once and kept (as a netsweep worker keeps them), `cold` compiling the fixture's
//! templates for every fixture (as ntc-templates' `parse_output` does).

#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use netsweep_textfsm::{CliTable, Template, parse_merged};
use nix::sys::resource::{UsageWho, getrusage};
use serde_json::{Value, json};

fn cpu_seconds() -> f64 {
    let usage = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    seconds(usage.user_time()) + seconds(usage.system_time())
}

fn main() {
    let mut templates = None;
    let mut jobs = None;
    let mut speed = false;
    let mut repeat = 1usize;
    let mut cold = true;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--templates" => templates = args.next().map(PathBuf::from),
            "--jobs" => jobs = args.next().map(PathBuf::from),
            "--speed" => speed = true,
            "--hot-only" => cold = false,
            "--repeat" => {
                repeat = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--repeat N")
            }
            other => panic!("unknown argument {other}"),
        }
    }
    let templates = templates.expect("--templates DIR");
    let jobs: Vec<Value> = std::fs::read_to_string(jobs.expect("--jobs FILE"))
        .expect("jobs file")
        .lines()
        .map(|line| serde_json::from_str(line).expect("job line"))
        .collect();
    let inputs: Vec<(String, String, String)> = jobs
        .iter()
        .map(|job| {
            let raw = std::fs::read(job["raw"].as_str().expect("raw")).expect("raw file");
            (
                job["platform"].as_str().expect("platform").to_string(),
                job["command"].as_str().expect("command").to_string(),
                String::from_utf8_lossy(&raw).into_owned(),
            )
        })
        .collect();
    let table = CliTable::open(&templates).expect("index");
    for (job, (platform, command, text)) in jobs.iter().zip(&inputs) {
        let answer = match table.parse(platform, command, text) {
            Ok(parsed) => json!({"id": job["id"], "rows": parsed.records()}),
            Err(e) => json!({"id": job["id"], "error": e.to_string()}),
        };
        println!("{answer}");
    }
    if !speed {
        return;
    }
    let start = cpu_seconds();
    for _ in 0..repeat {
        for (platform, command, text) in &inputs {
            let _ = std::hint::black_box(table.parse(platform, command, text));
        }
    }
    let hot = cpu_seconds() - start;
    if !cold {
        println!("{}", json!({"figures": {"hot_cpu_s": hot}}));
        return;
    }
    let start = cpu_seconds();
    for _ in 0..repeat {
        for (platform, command, text) in &inputs {
            let Ok(names) = table.templates_for(platform, command) else {
                continue;
            };
            let compiled: Vec<(&str, Template)> = names
                .iter()
                .filter_map(|name| {
                    Some((
                        name.as_str(),
                        Template::from_file(&templates.join(name)).ok()?,
                    ))
                })
                .collect();
            let _ = std::hint::black_box(parse_merged(&compiled, text));
        }
    }
    let cold = cpu_seconds() - start;
    println!(
        "{}",
        json!({"figures": {"hot_cpu_s": hot, "cold_cpu_s": cold}})
    );
}
