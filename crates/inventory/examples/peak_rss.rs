//! Measures what loading a large inventory costs: writes a 20,000-entry grouped
//! `devices.yaml` (a `defaults:` section, then groups of entries with `name`, `host` and
//! `port`, as the benchmarks write) into a temp dir, loads it, and reports the load time and
//! the process's peak resident set (VmHWM).
//!
//! Run with `cargo run --release -p netsweep-inventory --example peak_rss [ENTRIES]`.
//! Linux only (reads /proc/self/status). It must not be used as a test: it asserts nothing.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Write as _;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let entries: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 20_000,
    };
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("devices.yaml");
    std::fs::write(&path, inventory_yaml(entries))?;
    let file_bytes = std::fs::metadata(&path)?.len();

    let before = vm_hwm_kib()?;
    let started = Instant::now();
    let inventory = netsweep_inventory::load(&path, netsweep_platform::builtin())?;
    let elapsed = started.elapsed();
    let after = vm_hwm_kib()?;

    println!("entries:       {}", inventory.devices.len());
    println!("file size:     {file_bytes} bytes");
    println!("load time:     {:.1} ms", elapsed.as_secs_f64() * 1000.0);
    println!("VmHWM before:  {before} KiB");
    println!("VmHWM after:   {after} KiB");
    println!(
        "per entry:     {:.0} bytes of peak RSS growth",
        (after.saturating_sub(before) as f64 * 1024.0) / entries.max(1) as f64
    );
    Ok(())
}

/// A grouped inventory: shared settings in `defaults:`, entries split over ten groups.
fn inventory_yaml(entries: usize) -> String {
    let mut out = String::from(
        "defaults:\n  device_type: cisco_ios\n  username: admin\n  password: admin\n  secret: enable\n",
    );
    let groups = 10;
    let per_group = entries.div_ceil(groups).max(1);
    for i in 0..entries {
        if i % per_group == 0 {
            let _ = writeln!(out, "group{}:", i / per_group);
        }
        let _ = writeln!(out, "  - name: \"dev-{i:05}\"");
        let _ = writeln!(out, "    host: \"127.0.{}.{}\"", 1 + i / 250, 1 + i % 250);
        let _ = writeln!(out, "    port: {}", 20_000 + i % 40_000);
    }
    out
}

/// The peak resident set so far, in KiB.
fn vm_hwm_kib() -> Result<u64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .ok_or("no VmHWM in /proc/self/status")?;
    let kib = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kib)
}
