//! `merge_shards` on real files written by the real journal writer: a complete merge, and
//! every refusal, each naming the file (and line) to blame.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use netsweep_journal::{
    InventoryRef, JournalError, JournalHeader, JournalWriter, MergeError, MergeOptions,
    MergeReport, ShardHeader, index_journal, merge_shards, read_journal, shard_file_name,
    shard_journals,
};
use netsweep_protocol::DeviceRecord;
use netsweep_shard::{Shard, shard_of};

const RUN_ID: &str = "sweep-7";

fn devices(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("sw{i:03}")).collect()
}

fn header(shard: Shard, devices: &[String]) -> JournalHeader {
    let mut header = JournalHeader::new(
        format!("2026-11-21T10:3{}:00Z", shard.index() % 10)
            .parse()
            .unwrap(),
        "0.1.0",
        InventoryRef {
            path: "/etc/netsweep/devices.yaml".into(),
            sha256: "00ff".into(),
        },
        vec!["show clock".into()],
        serde_json::json!({"kind": "processes", "workers": 8, "deadline_ms": 120000, "limit": []}),
    );
    header.run_id = RUN_ID.into();
    let mine = shard.select(devices.iter(), |d| d.as_str()).len() as u64;
    header.shard = Some(ShardHeader::new(shard, mine, devices.len() as u64));
    header
}

/// A record as a journal holds it; built from JSON so that fields other branches add to
/// `DeviceRecord` (with serde defaults) do not break these tests.
fn record(device: &str, status: &str) -> DeviceRecord {
    serde_json::from_value(serde_json::json!({
        "device": device,
        "host": "127.0.1.1",
        "port": 22,
        "platform": "cisco_ios",
        "status": status,
        "message": format!("{device}: {status}"),
        "outputs": [{"command": "show clock", "output": format!("clock of {device}\n")}],
        "worker": "w1",
    }))
    .unwrap()
}

struct Sweep {
    dir: tempfile::TempDir,
    devices: Vec<String>,
    count: u32,
}

impl Sweep {
    /// The journals of a finished sweep of `n` devices in `count` shards.
    fn new(n: usize, count: u32) -> Sweep {
        let sweep = Sweep {
            dir: tempfile::tempdir().unwrap(),
            devices: devices(n),
            count,
        };
        fs::create_dir(sweep.run_dir()).unwrap();
        for k in 1..=count {
            let shard = Shard::new(k, count).unwrap();
            let mut w =
                JournalWriter::create(&sweep.path(k), &header(shard, &sweep.devices)).unwrap();
            for d in shard.select(sweep.devices.iter(), |d| d.as_str()) {
                w.append(&record(d, "ok")).unwrap();
            }
        }
        sweep
    }

    fn run_dir(&self) -> PathBuf {
        self.dir.path().join(RUN_ID)
    }

    fn path(&self, k: u32) -> PathBuf {
        self.run_dir()
            .join(shard_file_name(Shard::new(k, self.count).unwrap()))
    }

    fn output(&self) -> PathBuf {
        self.dir.path().join("merged.jsonl")
    }

    fn merge(&self, options: MergeOptions) -> Result<MergeReport, MergeError> {
        let files = shard_journals(&[self.run_dir()])?;
        merge_shards(&files, &self.output(), options)
    }

    fn append(&self, k: u32, record: &DeviceRecord) -> u64 {
        let (mut w, index) = JournalWriter::open_append(&self.path(k)).unwrap();
        w.append(record).unwrap();
        // Header, then one line per record.
        index.records + 2
    }

    /// A device name outside the sweep that shard `k` owns.
    fn stranger_of(&self, k: u32) -> String {
        (0..)
            .map(|i| format!("stranger{i}"))
            .find(|d| shard_of(d, self.count) == k)
            .unwrap()
    }

    fn first_of(&self, k: u32) -> String {
        self.devices
            .iter()
            .find(|d| shard_of(d, self.count) == k)
            .unwrap()
            .clone()
    }

    fn edit_header(&self, k: u32, edit: impl FnOnce(&mut serde_json::Value)) {
        let text = fs::read_to_string(self.path(k)).unwrap();
        let (first, rest) = text.split_once('\n').unwrap();
        let mut header: serde_json::Value = serde_json::from_str(first).unwrap();
        edit(&mut header);
        fs::write(self.path(k), format!("{header}\n{rest}")).unwrap();
    }
}

fn refusal(sweep: &Sweep) -> String {
    let err = sweep.merge(MergeOptions::default()).unwrap_err();
    assert!(
        !sweep.output().exists(),
        "a refused merge writes nothing: {err}"
    );
    err.to_string()
}

#[test]
fn shards_merge_into_a_normal_journal_with_one_final_record_per_device() {
    let sweep = Sweep::new(60, 4);
    // Shard 2 was resumed with --rerun-failed: its first device failed, then succeeded.
    let rerun = sweep.first_of(2);
    let text = fs::read_to_string(sweep.path(2)).unwrap();
    let failed = serde_json::to_string(&record(&rerun, "auth_failed")).unwrap();
    let ok_line = text
        .lines()
        .find(|l| l.contains(&format!("\"{rerun}\"")))
        .unwrap();
    fs::write(sweep.path(2), text.replacen(ok_line, &failed, 1)).unwrap();
    sweep.append(2, &record(&rerun, "ok"));
    // And shard 3 was killed mid-write.
    let mut torn = fs::read_to_string(sweep.path(3)).unwrap();
    torn.push_str("{\"device\":\"sw0");
    fs::write(sweep.path(3), torn).unwrap();

    let report = sweep.merge(MergeOptions::default()).unwrap();
    assert_eq!(report.devices, 60);
    assert_eq!(report.ok, 60);
    assert_eq!(report.run_id, RUN_ID);
    assert_eq!(report.shards.len(), 4);
    assert_eq!(report.shards[1].superseded, 1);
    assert!(report.shards[2].torn_tail);
    assert!(report.shards.iter().all(|s| s.unrecorded() == 0));

    let merged = read_journal(&sweep.output()).unwrap();
    assert!(!merged.torn_tail);
    assert_eq!(merged.records.len(), 60, "one record per device, no more");
    let mut names: Vec<&str> = merged.records.iter().map(|r| r.device.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 60);
    let rerun_record = merged.records.iter().find(|r| r.device == rerun).unwrap();
    assert!(rerun_record.outcome.is_ok(), "the final record wins");
    assert_eq!(merged.header.shard, None, "a merged journal is not a shard");
    let from = merged.header.merged_from.as_ref().unwrap();
    assert_eq!((from.count, from.shards.clone()), (4, vec![1, 2, 3, 4]));
    assert_eq!(merged.header.run_id, RUN_ID);
    assert_eq!(
        merged.header.started_at, "2026-11-21T10:31:00Z",
        "the earliest"
    );
    // A journal like any other: indexable for --resume, private, no temp file left over.
    assert_eq!(index_journal(&sweep.output()).unwrap().devices.len(), 60);
    let mode = fs::metadata(sweep.output()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let leftovers: Vec<_> = fs::read_dir(sweep.dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Merging again replaces the result whole.
    sweep.merge(MergeOptions::default()).unwrap();
    assert_eq!(read_journal(&sweep.output()).unwrap().records.len(), 60);
}

#[test]
fn empty_shards_merge_and_interrupted_ones_are_counted() {
    // 5 devices in 16 shards: most shards are empty, and their journals say so.
    let sweep = Sweep::new(5, 16);
    let empty = (1..=16)
        .find(|k| !sweep.devices.iter().any(|d| shard_of(d, 16) == *k))
        .unwrap();
    let journal = read_journal(&sweep.path(empty)).unwrap();
    assert_eq!(journal.header.shard.as_ref().unwrap().devices, 0);
    assert!(journal.records.is_empty());

    // A shard that lost its device's record (interrupted, never resumed).
    let k = shard_of(&sweep.devices[0], 16);
    let text = fs::read_to_string(sweep.path(k)).unwrap();
    let header_only = text.split_inclusive('\n').next().unwrap();
    let kept: String = text
        .split_inclusive('\n')
        .skip(1)
        .filter(|l| !l.contains(&format!("\"{}\"", sweep.devices[0])))
        .collect();
    fs::write(sweep.path(k), format!("{header_only}{kept}")).unwrap();

    let report = sweep.merge(MergeOptions::default()).unwrap();
    assert_eq!(report.devices, 4);
    let interrupted = report.shards.iter().find(|s| s.shard.index() == k).unwrap();
    assert_eq!(interrupted.unrecorded(), 1);
}

#[test]
fn a_missing_shard_is_refused_unless_allowed() {
    let sweep = Sweep::new(40, 4);
    fs::remove_file(sweep.path(3)).unwrap();
    let err = refusal(&sweep);
    assert!(err.starts_with("shard 3 of 4 has no journal"), "{err}");
    assert!(err.contains("--allow-missing"), "{err}");

    let report = sweep
        .merge(MergeOptions {
            allow_missing: true,
        })
        .unwrap();
    assert_eq!(report.missing, vec![3]);
    let merged = read_journal(&sweep.output()).unwrap();
    assert_eq!(merged.header.merged_from.unwrap().missing, vec![3]);
    assert!(merged.records.iter().all(|r| shard_of(&r.device, 4) != 3));
}

#[test]
fn a_shard_given_twice_is_refused() {
    let sweep = Sweep::new(40, 4);
    let copy = sweep.dir.path().join("copy-of-2.jsonl");
    fs::copy(sweep.path(2), &copy).unwrap();
    let mut files = shard_journals(&[sweep.run_dir()]).unwrap();
    files.push(copy.clone());
    let err = merge_shards(&files, &sweep.output(), MergeOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("{}:1: shard 2/4 again", copy.display()))
            || err.contains(&format!("{}:1: shard 2/4 again", sweep.path(2).display())),
        "{err}"
    );
}

#[test]
fn a_device_in_two_shards_is_refused_naming_both_places() {
    let sweep = Sweep::new(40, 4);
    let device = sweep.first_of(1);
    let line = sweep.append(2, &record(&device, "ok"));
    let err = refusal(&sweep);
    assert!(
        err.starts_with(&format!(
            "{}:{line}: device {device} is also in {}:2",
            sweep.path(2).display(),
            sweep.path(1).display()
        )),
        "{err}"
    );
}

#[test]
fn a_device_in_the_wrong_shard_is_refused_with_its_line() {
    let sweep = Sweep::new(40, 4);
    let stranger = sweep.stranger_of(3);
    let line = sweep.append(2, &record(&stranger, "ok"));
    let err = refusal(&sweep);
    assert_eq!(
        err,
        format!(
            "{}:{line}: device {stranger} belongs to shard 3/4, not to this journal's shard 2/4",
            sweep.path(2).display()
        )
    );
}

#[test]
fn headers_that_disagree_are_refused_field_by_field() {
    type Edit = fn(&mut serde_json::Value);
    let cases: &[(&str, Edit)] = &[
        ("run id", |h| h["run_id"] = "other-run".into()),
        ("inventory digest (sha256)", |h| {
            h["inventory"]["sha256"] = "abcd".into()
        }),
        ("commands", |h| {
            h["commands"] = serde_json::json!(["show version"])
        }),
        ("options", |h| h["pool"]["deadline_ms"] = 5000.into()),
        ("options", |h| {
            h["pool"]["limit"] = serde_json::json!(["core-*"])
        }),
        ("partition function", |h| {
            h["shard"]["partition"] = "xxh64(name, seed 1) % N + 1".into()
        }),
    ];
    for (field, edit) in cases {
        let sweep = Sweep::new(40, 4);
        sweep.edit_header(3, edit);
        let err = refusal(&sweep);
        let expected = if *field == "partition function" {
            format!("{}:1: the shards were split by", sweep.path(3).display())
        } else {
            format!("{}:1: {field} ", sweep.path(3).display())
        };
        assert!(err.starts_with(&expected), "{field}: {err}");
        if *field != "partition function" {
            assert!(
                err.contains(&format!("differs from {}:1", sweep.path(1).display())),
                "{err}"
            );
        }
    }

    // A shard of another split: shard 3 of 5 among shards of 4.
    let sweep = Sweep::new(40, 4);
    let other = sweep.run_dir().join("shard-3-of-5.jsonl");
    JournalWriter::create(&other, &header(Shard::new(3, 5).unwrap(), &sweep.devices)).unwrap();
    fs::remove_file(sweep.path(3)).unwrap();
    let err = refusal(&sweep);
    assert!(
        err.starts_with(&format!("{}:1: shard count 5 differs", other.display())),
        "{err}"
    );

    // The worker count and pool kind change speed, not results: they may differ.
    let sweep = Sweep::new(40, 4);
    sweep.edit_header(2, |h| {
        h["pool"]["workers"] = 64.into();
        h["pool"]["kind"] = "threads".into();
    });
    sweep.merge(MergeOptions::default()).unwrap();
}

#[test]
fn a_torn_line_before_the_end_is_refused_with_its_line() {
    let sweep = Sweep::new(40, 4);
    let text = fs::read_to_string(sweep.path(4)).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 4, "shard 4 has a few devices");
    let cut = &lines[2][..lines[2].len() / 2];
    lines[2] = cut;
    fs::write(sweep.path(4), lines.join("\n") + "\n").unwrap();
    let err = refusal(&sweep);
    assert!(
        err.starts_with(&format!(
            "{}:3: not a journal record",
            sweep.path(4).display()
        )),
        "{err}"
    );
}

#[test]
fn journals_that_are_not_shards_or_still_running_are_refused() {
    let sweep = Sweep::new(40, 4);
    let plain = sweep.dir.path().join("plain.jsonl");
    let mut plain_header = header(Shard::new(1, 1).unwrap(), &sweep.devices);
    plain_header.shard = None;
    JournalWriter::create(&plain, &plain_header).unwrap();
    let err = merge_shards(
        std::slice::from_ref(&plain),
        &sweep.output(),
        MergeOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        format!(
            "{}:1: not a shard journal (it was written without --shard)",
            plain.display()
        )
    );

    // Shard 2 is still being written: its writer holds the lock.
    let (_running, _) = JournalWriter::open_append(&sweep.path(2)).unwrap();
    let err = sweep.merge(MergeOptions::default()).unwrap_err();
    assert!(
        matches!(&err, MergeError::Journal(JournalError::Locked { path }) if *path == sweep.path(2)),
        "{err}"
    );
}

#[test]
fn the_output_may_not_be_an_input_and_a_refusal_keeps_the_old_output() {
    let sweep = Sweep::new(40, 4);
    let files = shard_journals(&[sweep.run_dir()]).unwrap();
    let err = merge_shards(&files, &sweep.path(2), MergeOptions::default()).unwrap_err();
    assert!(matches!(err, MergeError::OutputIsInput { .. }), "{err}");

    sweep.merge(MergeOptions::default()).unwrap();
    let before = fs::read(sweep.output()).unwrap();
    fs::remove_file(sweep.path(1)).unwrap();
    assert!(sweep.merge(MergeOptions::default()).is_err());
    assert_eq!(fs::read(sweep.output()).unwrap(), before);
}

#[test]
fn directories_are_expanded_to_their_shard_journals() {
    let sweep = Sweep::new(40, 4);
    fs::write(sweep.run_dir().join("notes.txt"), "x").unwrap();
    fs::write(sweep.run_dir().join("merged.jsonl"), "x").unwrap();
    let files = shard_journals(&[sweep.run_dir()]).unwrap();
    assert_eq!(files, (1..=4).map(|k| sweep.path(k)).collect::<Vec<_>>());

    // The runs directory one level up: point at the run directories inside.
    let err = shard_journals(&[sweep.dir.path().to_path_buf()])
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with(&format!(
            "its run directories `{RUN_ID}` do: pass one of them"
        )),
        "{err}"
    );
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        shard_journals(&[empty.path().to_path_buf()]),
        Err(MergeError::NoShardJournals { .. })
    ));
    assert!(Path::new(&sweep.path(1)).is_file());
}
