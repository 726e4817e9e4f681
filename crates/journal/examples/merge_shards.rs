//! Measures `netsweep merge`: `cargo run --release -p netsweep-journal --example merge_shards
//! [SHARDS] [DEVICES] [OUTPUT_BYTES]` writes the journals of a sweep of DEVICES (default
//! 50,000) devices in SHARDS (default 8) shards, each record with one command output of
//! OUTPUT_BYTES (default 1,000), merges them, and prints the merge's records/s, MB/s and the
//! process's peak RSS before and after the merge (the merge holds names and line numbers, not
//! outputs). Also times the partition function alone.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use netsweep_journal::{
    InventoryRef, JournalHeader, JournalWriter, MergeOptions, ShardHeader, merge_shards,
    shard_file_name,
};
use netsweep_protocol::DeviceRecord;
use netsweep_shard::{Shard, shard_of};

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let shards: u32 = args.next().map_or(8, |a| a.parse().expect("SHARDS"));
    let devices: usize = args.next().map_or(50_000, |a| a.parse().expect("DEVICES"));
    let size: usize = args
        .next()
        .map_or(1_000, |a| a.parse().expect("OUTPUT_BYTES"));

    let names: Vec<String> = (0..devices).map(|i| format!("device-{i:06}")).collect();
    let started = Instant::now();
    let mut checksum = 0u64;
    for _ in 0..20 {
        for n in &names {
            checksum += u64::from(shard_of(n, shards));
        }
    }
    let per_name = started.elapsed().as_nanos() as f64 / (20 * devices) as f64;
    println!("partition: {per_name:.1} ns per device name (checksum {checksum})");

    // From JSON, so fields other versions add to records (with defaults) need no edit here.
    let mut template: DeviceRecord = serde_json::from_value(serde_json::json!({
        "device": "", "host": "127.0.0.1", "port": 22, "platform": "cisco_ios", "status": "ok",
        "message": "ran 1 command",
        "outputs": [{"command": "show running-config", "output": "x".repeat(size)}],
    }))
    .expect("a record");
    let dir = tempfile::tempdir().expect("temp dir");
    let run_dir = dir.path().join("run");
    let mut files = Vec::new();
    for k in 1..=shards {
        let shard = Shard::new(k, shards).unwrap();
        let mine = shard.select(names.iter(), |n| n.as_str());
        let mut header = JournalHeader::new(
            jiff::Timestamp::now(),
            env!("CARGO_PKG_VERSION"),
            InventoryRef {
                path: "devices.yaml".into(),
                sha256: "00".into(),
            },
            vec!["show running-config".into()],
            serde_json::json!({"workers": 32}),
        );
        header.run_id = "bench".into();
        header.shard = Some(ShardHeader::new(shard, mine.len() as u64, devices as u64));
        let path = run_dir.join(shard_file_name(shard));
        let mut writer = JournalWriter::create(&path, &header).expect("create");
        for name in mine {
            template.device.clone_from(name);
            writer.append(&template).expect("append");
        }
        files.push(path);
    }
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    let before = peak_rss_mib();
    let output = dir.path().join("merged.jsonl");
    let started = Instant::now();
    let report = merge_shards(&files, &output, MergeOptions::default()).expect("merge");
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "merge: {shards} shards, {} devices, {:.1} MB in {elapsed:.2} s: {:.0} records/s, {:.0} MB/s; \
         peak RSS {before:.1} MiB before, {:.1} MiB after",
        report.devices,
        bytes as f64 / 1e6,
        report.devices as f64 / elapsed,
        bytes as f64 / 1e6 / elapsed,
        peak_rss_mib()
    );
}
