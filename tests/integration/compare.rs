//! `netsweep compare`, the real binary: a table of (pool, workers) figures and a chart.

use std::time::Duration;

use netsweep_sim::{DeviceSpec, Platform};

use crate::harness::{TestFleet, bin, run_with_limit};

#[test]
fn compare_measures_every_pool_and_worker_count_and_draws_a_chart() {
    let fleet = TestFleet::start(
        (0..6)
            .map(|i| DeviceSpec::new(format!("c{i}"), Platform::CiscoIos))
            .collect(),
    );
    let chart = fleet.dir.path().join("compare.svg");
    let mut cmd = std::process::Command::new(bin("netsweep"));
    cmd.arg("compare")
        .arg("-i")
        .arg(&fleet.inventory)
        .arg("--known-hosts")
        .arg(&fleet.known_hosts)
        .args([
            "-c",
            "show clock",
            "--workers",
            "1,3",
            "--repeat",
            "2",
            "--format",
            "json",
        ])
        .arg("--chart")
        .arg(&chart);
    let out = run_with_limit(cmd, Duration::from_secs(120));
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let pairs: Vec<(String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["pool"].as_str().unwrap().to_string(),
                r["workers"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("threads", 1),
            ("threads", 3),
            ("processes", 1),
            ("processes", 3)
        ]
        .map(|(p, w)| (p.to_string(), w))
    );
    for r in &rows {
        assert_eq!(r["runs"], 2);
        assert_eq!(r["failed"], 0, "{r}");
        assert!(r["devices_per_s"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["wall_s"]["min"].as_f64().unwrap() <= r["wall_s"]["max"].as_f64().unwrap());
        assert!(r["coordinator_peak_rss_kib"].as_i64().unwrap() > 0);
    }
    // Worker processes are measured for the process pool only.
    assert!(rows[2]["worker_peak_rss_kib"].as_i64().unwrap() > 0);
    assert_eq!(rows[0]["worker_peak_rss_kib"], 0);
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(svg.contains("<svg") && svg.contains("processes") && svg.contains("workers"));
    // Four (pool, workers) pairs, two runs each: every device was swept eight times.
    assert_eq!(fleet.fleet.counters("c0").unwrap().connections, 8);
}

#[test]
fn compare_refuses_a_chart_it_cannot_draw_before_sweeping() {
    let mut cmd = std::process::Command::new(bin("netsweep"));
    cmd.args(["compare", "-c", "show clock", "--chart", "out.gif"]);
    let out = run_with_limit(cmd, Duration::from_secs(30));
    assert_eq!(out.code(), Some(2));
    assert!(out.stderr.contains(".svg or .png"), "{}", out.stderr);
}
