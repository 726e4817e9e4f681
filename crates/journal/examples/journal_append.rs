//! Measures journal append throughput: `cargo run --release -p netsweep-journal --example
//! journal_append [RECORDS] [OUTPUT_BYTES]` appends RECORDS (default 20,000) records, each
//! with one command output of OUTPUT_BYTES (default 1,000), to a journal in a temp dir, and
//! prints records/s and the number of fsyncs — the batched-sync cost a sweep pays.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use netsweep_journal::{InventoryRef, JournalHeader, JournalWriter, read_journal};
use netsweep_protocol::{CommandOutput, DeviceRecord, Outcome, Timings};

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map_or(20_000, |a| a.parse().expect("RECORDS"));
    let size: usize = args
        .next()
        .map_or(1_000, |a| a.parse().expect("OUTPUT_BYTES"));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.jsonl");
    let header = JournalHeader::new(
        jiff::Timestamp::now(),
        env!("CARGO_PKG_VERSION"),
        InventoryRef {
            path: "devices.yaml".into(),
            sha256: String::new(),
        },
        vec!["show clock".into()],
        serde_json::Value::Null,
    );
    let record = |i: usize| DeviceRecord {
        device: format!("d{i}"),
        host: "127.0.0.1".into(),
        port: 20_000,
        platform: "cisco_ios".into(),
        platform_detected: None,
        transport: Default::default(),
        outcome: Outcome::Ok,
        message: String::new(),
        outputs: vec![CommandOutput {
            command: "show clock".into(),
            output: "x".repeat(size),
            ..Default::default()
        }],
        timings: Timings::default(),
        worker: "w0".into(),
        attempt: 1,
        previous_attempts: vec![],
        change: None,
    };
    let started = Instant::now();
    let syncs = {
        let mut w = JournalWriter::create(&path, &header).expect("create");
        for i in 0..count {
            w.append(&record(i)).expect("append");
        }
        w.flush_and_sync().expect("sync");
        w.syncs()
    };
    let secs = started.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&path).expect("stat").len();
    let read_started = Instant::now();
    let read = read_journal(&path).expect("read").records.len();
    println!(
        "appended {count} records ({:.1} MB) in {:.3} s: {:.0} records/s, {syncs} fsyncs; \
         read back {read} in {:.3} s",
        bytes as f64 / 1e6,
        secs,
        count as f64 / secs,
        read_started.elapsed().as_secs_f64()
    );
}
