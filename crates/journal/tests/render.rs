//! Rendering is deterministic: small fixtures of records, exact expected bytes.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use netsweep_journal::{
    JsonArrayWriter, MergedText, OutputDir, SummaryAccumulator, SummaryStyle, render, write_jsonl,
    write_text,
};
use netsweep_protocol::{CommandOutput, DeviceRecord, Outcome, Stage, Timings};

const CLOCK: &str = "*10:00:00.000 UTC Sat Nov 21 2026\n";

fn out(command: &str, output: &str) -> CommandOutput {
    CommandOutput {
        command: command.into(),
        output: output.into(),
        ..Default::default()
    }
}

fn rec(
    device: &str,
    host: &str,
    outcome: Outcome,
    ms: f64,
    outputs: Vec<CommandOutput>,
) -> DeviceRecord {
    DeviceRecord {
        device: device.into(),
        host: host.into(),
        port: 2222,
        platform: "cisco_ios".into(),
        platform_detected: None,
        transport: Default::default(),
        outcome,
        message: String::new(),
        outputs,
        timings: Timings {
            total_ms: ms,
            ..Default::default()
        },
        worker: "w1".into(),
        attempt: 1,
        previous_attempts: vec![],
        change: None,
    }
}

fn fixtures() -> Vec<DeviceRecord> {
    let r1 = rec(
        "r1",
        "127.0.1.1",
        Outcome::Ok,
        123.4,
        vec![out("show clock", CLOCK)],
    );
    let mut r2 = rec(
        "r2",
        "127.0.1.2",
        Outcome::TimedOut {
            stage: Stage::Command,
        },
        30_000.0,
        vec![
            out("show clock", CLOCK),
            CommandOutput {
                truncated: true,
                ..out("show tech", "Building configuration...")
            },
        ],
    );
    r2.message = "no output for 30 s while running `show tech`\ncheck the device".into();
    let mut r3 = rec(
        "r3",
        "::1",
        Outcome::CommandError,
        2_500.0,
        vec![CommandOutput {
            error: Some("% Invalid input detected at '^' marker.".into()),
            ..out(
                "show bogus",
                "show bogus\n     ^\n% Invalid input detected at '^' marker.\n",
            )
        }],
    );
    r3.port = 22;
    r3.attempt = 2;
    r3.message = "`show bogus` failed".into();
    let l1 = rec(
        "l1",
        "127.0.2.1",
        Outcome::CommandError,
        61_000.0,
        vec![CommandOutput {
            exit_status: Some(1),
            stderr: Some("boom".into()),
            ..out("false", "")
        }],
    );
    vec![r1, r2, r3, l1]
}

fn text_of(records: &[DeviceRecord]) -> String {
    let mut buf = Vec::new();
    for r in records {
        write_text(&mut buf, r).unwrap();
    }
    String::from_utf8(buf).unwrap()
}

#[test]
fn text_blocks() {
    assert_eq!(
        text_of(&fixtures()),
        "\
--- r1 (127.0.1.1:2222) ok 123 ms
> show clock
*10:00:00.000 UTC Sat Nov 21 2026
--- r2 (127.0.1.2:2222) timed_out (command) 30 s
! no output for 30 s while running `show tech` check the device
> show clock
*10:00:00.000 UTC Sat Nov 21 2026
> show tech [truncated]
Building configuration...
--- r3 ([::1]:22) command_error 2.5 s (attempt 2)
! `show bogus` failed
> show bogus [error: % Invalid input detected at '^' marker.]
show bogus
     ^
% Invalid input detected at '^' marker.
--- l1 (127.0.2.1:2222) command_error 1m 01s
> false [exit 1]
[stderr]
boom
"
    );
}

#[test]
fn durations_for_people() {
    use render::format_ms;
    assert_eq!(format_ms(0.4), "0 ms");
    assert_eq!(format_ms(999.4), "999 ms");
    assert_eq!(format_ms(1_000.0), "1.0 s");
    assert_eq!(format_ms(9_949.0), "9.9 s");
    assert_eq!(format_ms(10_000.0), "10 s");
    assert_eq!(format_ms(59_400.0), "59 s");
    assert_eq!(format_ms(125_000.0), "2m 05s");
    assert_eq!(format_ms(f64::NAN), "0 ms");
}

#[test]
fn merge_groups_identical_results_like_dshbak() {
    let mut records = fixtures();
    let mut r4 = records[0].clone();
    r4.device = "r4".into();
    r4.host = "127.0.1.4".into();
    r4.timings.total_ms = 999.0;
    let mut a1 = rec("a1", "127.0.3.1", Outcome::AuthFailed, 40.0, vec![]);
    a1.message = "authentication failed for user cisco".into();
    let mut a2 = a1.clone();
    a2.device = "a2".into();
    a2.message = "authentication failed for user admin".into();
    records.insert(1, r4);
    records.push(a1);
    records.push(a2);

    let mut merged = MergedText::new();
    for r in &records {
        merged.add(r);
    }
    assert_eq!(merged.groups(), 5);
    let mut buf = Vec::new();
    merged.write(&mut buf).unwrap();
    assert_eq!(
        String::from_utf8(buf).unwrap(),
        "\
--- r1, r4 (2 devices) ok
> show clock
*10:00:00.000 UTC Sat Nov 21 2026
--- r2 timed_out (command)
! r2: no output for 30 s while running `show tech` check the device
> show clock
*10:00:00.000 UTC Sat Nov 21 2026
> show tech [truncated]
Building configuration...
--- r3 command_error
! r3: `show bogus` failed
> show bogus [error: % Invalid input detected at '^' marker.]
show bogus
     ^
% Invalid input detected at '^' marker.
--- l1 command_error
> false [exit 1]
[stderr]
boom
--- a1, a2 (2 devices) auth_failed
! a1: authentication failed for user cisco
! a2: authentication failed for user admin
"
    );
}

#[test]
fn merge_keeps_apart_what_differs_in_any_field() {
    let base = rec("a", "h", Outcome::Ok, 1.0, vec![out("c", "same")]);
    let variants = [
        rec("b", "h", Outcome::Ok, 1.0, vec![out("c", "other")]),
        rec("c", "h", Outcome::Ok, 1.0, vec![out("c2", "same")]),
        rec("d", "h", Outcome::CommandError, 1.0, vec![out("c", "same")]),
        rec(
            "e",
            "h",
            Outcome::Ok,
            1.0,
            vec![CommandOutput {
                truncated: true,
                ..out("c", "same")
            }],
        ),
        rec(
            "f",
            "h",
            Outcome::Ok,
            1.0,
            vec![CommandOutput {
                stderr: Some(String::new()),
                ..out("c", "same")
            }],
        ),
        // Output boundaries matter: ("ab", "") is not ("a", "b").
        rec(
            "g",
            "h",
            Outcome::Ok,
            1.0,
            vec![out("c", "sa"), out("me", "")],
        ),
    ];
    let mut merged = MergedText::new();
    merged.add(&base);
    for v in &variants {
        merged.add(v);
    }
    assert_eq!(merged.groups(), 1 + variants.len());
}

#[test]
fn json_array_and_jsonl_round_trip() {
    let records = fixtures();
    let mut array = JsonArrayWriter::new(Vec::new());
    for r in &records {
        array.push(r).unwrap();
    }
    let bytes = array.finish().unwrap();
    let back: Vec<DeviceRecord> = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(back, records);
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with("[\n{\"device\":\"r1\""), "{text}");
    assert!(text.ends_with("}\n]\n"), "{text}");
    assert_eq!(JsonArrayWriter::new(Vec::new()).finish().unwrap(), b"[]\n");

    let mut lines = Vec::new();
    for r in &records {
        write_jsonl(&mut lines, r).unwrap();
    }
    let text = String::from_utf8(lines).unwrap();
    assert_eq!(text.lines().count(), records.len());
    for (line, r) in text.lines().zip(&records) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for field in [
            "device", "host", "port", "platform", "status", "message", "outputs", "timings",
            "worker", "attempt",
        ] {
            assert!(v.get(field).is_some(), "{field} missing in {line}");
        }
        assert_eq!(&serde_json::from_value::<DeviceRecord>(v).unwrap(), r);
    }
}

#[test]
fn summary_counts_lists_and_times() {
    let mut acc = SummaryAccumulator::new();
    for r in fixtures() {
        acc.add(&r);
    }
    for i in 0..7 {
        acc.add_outcome(
            &format!("u{i}"),
            &Outcome::Unreachable,
            10_000.0 + f64::from(i),
        );
    }
    acc.add_from_journal("old", &Outcome::Ok, 50.0);
    assert_eq!(acc.len(), 12);
    assert_eq!(acc.failed(), 10);
    let s = acc.summary(Duration::from_secs(4));
    assert_eq!(s.total, 12);
    assert_eq!(s.this_run, 11);
    assert_eq!(s.devices_per_sec, 11.0 / 4.0);
    assert!(!s.all_ok());
    assert_eq!(
        s.render(SummaryStyle::default()),
        "\
summary: 12 devices (1 from the journal) in 4.0 s (2.8 devices/s): 2 ok, 2 command_error, 7 unreachable, 1 timed_out
command_error: l1, r3
unreachable: u0, u1, u2, u3, u4 and 2 more
timed_out: r2
per device: p50 10 s, p95 1m 01s, max 1m 01s
slowest: l1 1m 01s, r2 30 s, u6 10 s
"
    );
    assert_eq!(
        s.render(SummaryStyle {
            failed_listed: 1,
            slowest: 0
        })
        .lines()
        .nth(2),
        Some("unreachable: u0 and 6 more")
    );
}

#[test]
fn an_all_ok_and_an_empty_summary() {
    let mut acc = SummaryAccumulator::new();
    acc.add(&fixtures()[0]);
    let s = acc.summary(Duration::from_millis(500));
    assert!(s.all_ok());
    assert_eq!(
        s.render(SummaryStyle::default()),
        "summary: 1 device in 500 ms (2.0 devices/s): 1 ok\n\
         per device: p50 123 ms, p95 123 ms, max 123 ms\n\
         slowest: r1 123 ms\n"
    );
    let empty = SummaryAccumulator::new().summary(Duration::ZERO);
    assert_eq!(
        empty.render(SummaryStyle::default()),
        "summary: 0 devices in 0 ms (0.0 devices/s): nothing finished\n"
    );
}

#[test]
fn output_dir_writes_a_private_file_per_device_and_command() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("out");
    let od = OutputDir::create(&root).unwrap();
    let mut evil = rec(
        "../../etc/passwd",
        "h",
        Outcome::Ok,
        1.0,
        vec![
            out("show clock", CLOCK),
            out("show clock", "second run\n"),
            CommandOutput {
                stderr: Some("warn\n".into()),
                ..out("cat /etc/os-release", "ID=debian\n")
            },
        ],
    );
    let written = od.write_record(&evil).unwrap();
    let device_dir = od.device_dir(&evil.device);
    assert_eq!(device_dir.parent().unwrap(), root);
    let names: Vec<String> = written
        .iter()
        .map(|p| {
            assert_eq!(p.parent().unwrap(), device_dir);
            p.file_name().unwrap().to_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "01-show_clock.txt",
            "02-show_clock.txt",
            "03-cat__etc_os-release.txt",
            "03-cat__etc_os-release.stderr.txt"
        ]
    );
    assert_eq!(fs::read_to_string(&written[0]).unwrap(), CLOCK);
    assert_eq!(fs::read_to_string(&written[1]).unwrap(), "second run\n");
    assert_eq!(fs::read_to_string(&written[3]).unwrap(), "warn\n");
    for p in &written {
        assert_eq!(fs::metadata(p).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Nothing escaped the root, and no temporary files are left.
    assert!(!dir.path().join("etc").exists());
    let all: Vec<_> = fs::read_dir(&device_dir).unwrap().collect();
    assert_eq!(all.len(), 4);

    // A resumed run rewrites the same files in place.
    evil.outputs[0].output = "later\n".into();
    assert_eq!(od.write_record(&evil).unwrap(), written);
    assert_eq!(fs::read_to_string(&written[0]).unwrap(), "later\n");

    // Devices whose names differ only in unsafe characters get different directories.
    assert_ne!(od.device_dir("a/b"), od.device_dir("a_b"));
    assert_ne!(od.device_dir("a/b"), od.device_dir("a:b"));
    // A failed device without output writes nothing.
    let a = rec("a", "h", Outcome::AuthFailed, 1.0, vec![]);
    assert!(od.write_record(&a).unwrap().is_empty());
    assert!(!od.device_dir("a").exists());
}
