//! The journal on a real file system: creation, permissions, locking, batched fsync, torn
//! tails, damaged lines, reopening for a resume, and resume planning.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use netsweep_journal::{
    ChangedTarget, InventoryRef, JournalError, JournalHeader, JournalReader, JournalWriter,
    ResumeError, ResumeOptions, SYNC_EVERY_RECORDS, index_journal, plan_resume, read_journal,
};
use netsweep_protocol::{CommandOutput, DeviceRecord, DeviceTarget, Outcome, Stage, Timings};

fn header(commands: &[&str]) -> JournalHeader {
    JournalHeader::new(
        "2026-11-21T10:30:00Z".parse().unwrap(),
        "0.1.0",
        InventoryRef {
            path: "devices.yaml".into(),
            sha256: "00ff".into(),
        },
        commands.iter().map(|c| c.to_string()).collect(),
        serde_json::json!({"kind": "processes", "workers": 8}),
    )
}

fn record(device: &str, outcome: Outcome) -> DeviceRecord {
    DeviceRecord {
        device: device.into(),
        host: "127.0.1.1".into(),
        port: 2222,
        platform: "cisco_ios".into(),
        platform_detected: None,
        transport: Default::default(),
        outcome,
        message: format!("{device} finished"),
        outputs: vec![CommandOutput {
            command: "show clock".into(),
            output: format!("*10:00:00.000 UTC Sat Nov 21 2026 on {device}\n"),
            ..Default::default()
        }],
        timings: Timings {
            total_ms: 120.0,
            ..Default::default()
        },
        worker: "w0".into(),
        attempt: 1,
        previous_attempts: vec![],
        change: None,
    }
}

fn target(name: &str) -> DeviceTarget {
    DeviceTarget {
        name: name.into(),
        host: "127.0.1.1".into(),
        port: 2222,
        platform: "cisco_ios".into(),
        transport: Default::default(),
        username: "u".into(),
        password: None,
        secret: None,
        key_file: None,
        groups: vec![],
        ssh: Default::default(),
    }
}

fn poll_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_new_journal_is_private_has_its_header_first_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs/nested/j.jsonl");
    let h = header(&["show clock"]);
    let records = [
        record("r1", Outcome::Ok),
        record(
            "r2",
            Outcome::TimedOut {
                stage: Stage::Command,
            },
        ),
    ];
    {
        let mut w = JournalWriter::create(&path, &h).unwrap();
        for r in &records {
            w.append(r).unwrap();
        }
        assert_eq!(w.records(), 2);
        assert_eq!(w.path(), path);
    }
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);

    let text = fs::read_to_string(&path).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["journal"], "netsweep");
    assert_eq!(first["format_version"], 1);
    assert_eq!(first["started_at"], "2026-11-21T10:30:00Z");
    assert_eq!(first["inventory"]["sha256"], "00ff");
    assert_eq!(first["commands"][0], "show clock");
    assert_eq!(first["pool"]["workers"], 8);
    // Records are the --format jsonl schema, one per line.
    let second: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    assert_eq!(second["device"], "r1");
    assert_eq!(second["status"], "ok");
    assert_eq!(text.lines().count(), 3);

    let j = read_journal(&path).unwrap();
    assert_eq!(j.header, h);
    assert_eq!(j.records, records);
    assert!(!j.torn_tail);
}

#[test]
fn create_never_overwrites_and_a_second_writer_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    let w = JournalWriter::create(&path, &header(&["x"])).unwrap();
    assert!(matches!(
        JournalWriter::create(&path, &header(&["x"])),
        Err(JournalError::AlreadyExists { .. })
    ));
    let e = JournalWriter::open_append(&path).unwrap_err();
    assert!(matches!(e, JournalError::Locked { .. }), "{e}");
    assert!(e.to_string().contains("in use by another netsweep process"));
    drop(w);
    JournalWriter::open_append(&path).unwrap();
}

#[test]
fn fsync_is_batched_by_count_and_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    let mut w = JournalWriter::create(&path, &header(&["x"])).unwrap();
    for i in 0..SYNC_EVERY_RECORDS - 1 {
        w.append(&record(&format!("d{i}"), Outcome::Ok)).unwrap();
    }
    // The background syncer may have run meanwhile; the count rule is what is checked next.
    let mid = w.syncs();
    w.append(&record("last", Outcome::Ok)).unwrap();
    // The 64th record wakes the sync thread; the caller does not wait for the disk.
    poll_until("the sync after the 64th record", || w.syncs() > mid);
    // One more record, then nothing: the timer syncs it without any call.
    let after_count = w.syncs();
    w.append(&record("lonely", Outcome::Ok)).unwrap();
    poll_until("the background sync", || w.syncs() > after_count);
    // On demand.
    let now = w.syncs();
    w.flush_and_sync().unwrap();
    assert!(w.syncs() > now);
}

#[test]
fn a_torn_last_line_is_reported_kept_out_and_cut_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    {
        let mut w = JournalWriter::create(&path, &header(&["show clock"])).unwrap();
        w.append(&record("r1", Outcome::Ok)).unwrap();
        w.append(&record("r2", Outcome::AuthFailed)).unwrap();
    }
    let complete_len = fs::metadata(&path).unwrap().len();
    // A crash in the middle of writing r3's line.
    let full = serde_json::to_string(&record("r3", Outcome::Ok)).unwrap();
    OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(&full.as_bytes()[..full.len() / 2])
        .unwrap();

    let j = read_journal(&path).unwrap();
    assert!(j.torn_tail);
    assert_eq!(
        j.records
            .iter()
            .map(|r| r.device.as_str())
            .collect::<Vec<_>>(),
        ["r1", "r2"]
    );
    let mut streamed = JournalReader::open(&path).unwrap();
    assert_eq!(streamed.by_ref().count(), 2);
    assert!(streamed.torn_tail());
    assert_eq!(streamed.valid_len(), complete_len);

    let (mut w, index) = JournalWriter::open_append(&path).unwrap();
    assert!(index.torn_tail);
    assert_eq!(index.records, 2);
    assert_eq!(fs::metadata(&path).unwrap().len(), complete_len);
    w.append(&record("r3", Outcome::Ok)).unwrap();
    drop(w);
    let j = read_journal(&path).unwrap();
    assert!(!j.torn_tail);
    assert_eq!(j.records.len(), 3);
    assert_eq!(j.records[2], record("r3", Outcome::Ok));
}

#[test]
fn a_complete_last_line_without_newline_is_still_torn() {
    // The newline is written with the record: without it the write did not finish, and
    // appending after it would glue two records together.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    drop(JournalWriter::create(&path, &header(&["x"])).unwrap());
    let line = serde_json::to_string(&record("r1", Outcome::Ok)).unwrap();
    OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(line.as_bytes())
        .unwrap();
    let j = read_journal(&path).unwrap();
    assert!(j.torn_tail);
    assert!(j.records.is_empty());
}

#[test]
fn a_damaged_line_in_the_middle_is_skipped_alone_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    {
        let mut w = JournalWriter::create(&path, &header(&["x"])).unwrap();
        w.append(&record("r1", Outcome::Ok)).unwrap();
    }
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"{\"device\": \"half\n").unwrap();
    f.write_all(
        format!(
            "{}\n",
            serde_json::to_string(&record("r2", Outcome::Ok)).unwrap()
        )
        .as_bytes(),
    )
    .unwrap();
    drop(f);
    let j = read_journal(&path).unwrap();
    let devices: Vec<&str> = j.records.iter().map(|r| r.device.as_str()).collect();
    assert_eq!(devices, ["r1", "r2"]);
    assert_eq!(j.damaged_lines, [3]);
    assert!(!j.torn_tail);
    // A resume appends after it; the damaged line's device (unknown) is simply not finished.
    let (mut w, index) = JournalWriter::open_append(&path).unwrap();
    assert_eq!(index.damaged_lines, [3]);
    assert_eq!(index.devices.len(), 2);
    w.append(&record("r3", Outcome::Ok)).unwrap();
    drop(w);
    let j = read_journal(&path).unwrap();
    assert_eq!(j.records.len(), 3);
    assert_eq!(j.damaged_lines, [3]);
}

#[test]
fn headers_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        fs::write(&p, text).unwrap();
        p
    };
    let reason = |p: &Path| match read_journal(p) {
        Err(JournalError::BadHeader { reason, .. }) => reason,
        other => panic!("expected a bad header, got {other:?}"),
    };
    assert_eq!(reason(&write("empty", "")), "the file is empty");
    assert!(reason(&write("torn", "{\"journal\":")).contains("incomplete"));
    assert!(reason(&write("text", "hello\n")).starts_with("not JSON"));
    assert!(reason(&write("other", "{\"journal\":\"other\"}\n")).contains("\"journal\""));
    assert!(reason(&write("a-record", "{\"device\":\"r1\"}\n")).contains("\"journal\""));
    let future = write(
        "future",
        "{\"journal\":\"netsweep\",\"format_version\":2}\n",
    );
    let e = read_journal(&future).unwrap_err();
    assert!(
        matches!(
            e,
            JournalError::UnsupportedVersion {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{e}"
    );
    let e = read_journal(&write("other2", "{\"journal\":\"other\"}\n")).unwrap_err();
    assert!(
        e.to_string().contains(":1: not a netsweep journal header"),
        "{e}"
    );
    assert!(matches!(
        read_journal(&dir.path().join("missing")),
        Err(JournalError::Io { action: "open", .. })
    ));
}

#[test]
fn the_last_record_of_a_device_wins() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    {
        let mut w = JournalWriter::create(&path, &header(&["x"])).unwrap();
        w.append(&record("r1", Outcome::Unreachable)).unwrap();
        w.append(&record("r2", Outcome::Ok)).unwrap();
        w.append(&record("r1", Outcome::Ok)).unwrap();
    }
    let j = read_journal(&path).unwrap();
    let finals: Vec<_> = j
        .final_records()
        .iter()
        .map(|r| (r.device.as_str(), r.outcome.class()))
        .collect();
    assert_eq!(finals, [("r1", "ok"), ("r2", "ok")]);
    let index = index_journal(&path).unwrap();
    assert_eq!(index.records, 3);
    assert_eq!(index.devices.len(), 2);
    assert_eq!(index.get("r1").unwrap().outcome, Outcome::Ok);
    assert_eq!(index.get("r1").unwrap().total_ms, 120.0);
}

// ---- resume planning ----

fn index_with(records: &[DeviceRecord], commands: &[&str]) -> netsweep_journal::JournalIndex {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    {
        let mut w = JournalWriter::create(&path, &header(commands)).unwrap();
        for r in records {
            w.append(r).unwrap();
        }
    }
    index_journal(&path).unwrap()
}

#[test]
fn resume_skips_finished_devices_and_reruns_failed_ones_on_request() {
    let index = index_with(
        &[
            record("r1", Outcome::Ok),
            record("r2", Outcome::AuthFailed),
            record("gone", Outcome::Ok),
        ],
        &["show clock"],
    );
    let targets = [target("r1"), target("r2"), target("r3")];
    let commands = vec!["show clock".to_string()];

    let plan = plan_resume(&index, &commands, &targets, ResumeOptions::default()).unwrap();
    assert!(!plan.should_run("r1"));
    assert!(!plan.should_run("r2"));
    assert!(plan.should_run("r3"));
    assert_eq!(plan.remaining, ["r3"]);
    assert!(plan.rerun.is_empty());
    assert_eq!(plan.not_in_run, ["gone"]);

    let plan = plan_resume(
        &index,
        &commands,
        &targets,
        ResumeOptions {
            rerun_failed: true,
            force: false,
        },
    )
    .unwrap();
    assert!(plan.should_run("r2"));
    assert!(!plan.should_run("r1"));
    assert_eq!(plan.rerun, ["r2"]);
    assert_eq!(plan.remaining, ["r3"]);
}

#[test]
fn resume_refuses_other_commands_unless_forced() {
    let index = index_with(&[record("r1", Outcome::Ok)], &["show clock"]);
    let targets = [target("r1")];
    let other = vec!["show version".to_string()];
    let e = plan_resume(&index, &other, &targets, ResumeOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the journal ran `show clock` but this run asks for `show version`; use the same \
         commands, or --force"
    );
    let plan = plan_resume(
        &index,
        &other,
        &targets,
        ResumeOptions {
            rerun_failed: false,
            force: true,
        },
    )
    .unwrap();
    assert!(!plan.should_run("r1"));
    assert!(matches!(
        plan.forced_over[..],
        [ResumeError::CommandsDiffer { .. }]
    ));
}

#[test]
fn resume_refuses_when_a_finished_device_moved_but_not_for_other_changes() {
    let index = index_with(
        &[
            record("r1", Outcome::Ok),
            record("r2", Outcome::Ok),
            record("r3", Outcome::Unreachable),
        ],
        &["x"],
    );
    let commands = vec!["x".to_string()];
    let mut moved = target("r1");
    moved.port = 22;
    let mut replatformed = target("r2");
    replatformed.platform = "linux".into();
    let mut failed_and_moved = target("r3");
    failed_and_moved.host = "127.0.9.9".into();
    // Credentials, groups and username are not results: changing them is fine.
    let mut recredentialed = target("r1");
    recredentialed.username = "other".into();
    recredentialed.groups = vec!["core".into()];
    plan_resume(
        &index,
        &commands,
        &[recredentialed],
        ResumeOptions::default(),
    )
    .unwrap();

    let targets = [moved, replatformed, failed_and_moved];
    let e = plan_resume(&index, &commands, &targets, ResumeOptions::default()).unwrap_err();
    let ResumeError::TargetsChanged { changed } = &e else {
        panic!("{e}")
    };
    // r3 failed but will be skipped too (no --rerun-failed), so its move matters.
    assert_eq!(
        changed,
        &[
            ChangedTarget {
                device: "r1".into(),
                field: "port",
                was: "2222".into(),
                now: "22".into()
            },
            ChangedTarget {
                device: "r2".into(),
                field: "platform",
                was: "cisco_ios".into(),
                now: "linux".into()
            },
            ChangedTarget {
                device: "r3".into(),
                field: "host",
                was: "127.0.1.1".into(),
                now: "127.0.9.9".into()
            },
        ]
    );
    assert!(e.to_string().starts_with(
        "3 finished device(s) changed in the inventory since the journal was written \
         (r1 port 2222 → 22, r2 platform cisco_ios → linux, r3 host 127.0.1.1 → 127.0.9.9)"
    ));
    // Redone devices may have moved: they are swept again anyway.
    let e = plan_resume(
        &index,
        &commands,
        &targets,
        ResumeOptions {
            rerun_failed: true,
            force: false,
        },
    )
    .unwrap_err();
    let ResumeError::TargetsChanged { changed } = e else {
        panic!()
    };
    assert_eq!(changed.len(), 2);
}
