//! Property test of the journal reader against damage: a journal written by the real writer,
//! then one of its record lines torn or corrupted anywhere — only that line is lost, every
//! other record comes back as written, and a resume would append after it.

use std::fs;

use netsweep_journal::{InventoryRef, JournalHeader, JournalWriter, index_journal, read_journal};
use netsweep_protocol::{CommandOutput, DeviceRecord, Outcome, Timings};
use proptest::prelude::*;

fn header() -> JournalHeader {
    JournalHeader::new(
        "2026-11-21T10:30:00Z".parse().unwrap(),
        "0.1.0",
        InventoryRef {
            path: "devices.yaml".into(),
            sha256: "00ff".into(),
        },
        vec!["show clock".into()],
        serde_json::json!({"kind": "processes", "workers": 8}),
    )
}

fn record(i: usize, output: &str) -> DeviceRecord {
    DeviceRecord {
        device: format!("r{i}"),
        host: "127.0.1.1".into(),
        port: 2222,
        platform: "cisco_ios".into(),
        platform_detected: None,
        transport: Default::default(),
        outcome: if i.is_multiple_of(3) {
            Outcome::AuthFailed
        } else {
            Outcome::Ok
        },
        message: format!("r{i} finished"),
        outputs: vec![CommandOutput {
            command: "show clock".into(),
            output: output.to_owned(),
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

/// What happens to one record line.
#[derive(Debug, Clone)]
enum Damage {
    /// Cut short, its newline kept (a write torn, then more written after it).
    Torn(prop::sample::Index),
    /// Bytes overwritten with others (never a newline: that would make two lines).
    Corrupted(Vec<(prop::sample::Index, u8)>),
    /// The last line cut short without its newline (a crash mid-write).
    TornTail(prop::sample::Index),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Damage::Torn),
        prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                any::<u8>().prop_filter("no newline", |b| *b != b'\n')
            ),
            1..8,
        )
        .prop_map(Damage::Corrupted),
        any::<prop::sample::Index>().prop_map(Damage::TornTail),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_damaged_line_loses_that_line_only(
        outputs in prop::collection::vec(".{0,60}", 1..12),
        victim in any::<prop::sample::Index>(),
        damage in damage(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let records: Vec<DeviceRecord> =
            outputs.iter().enumerate().map(|(i, o)| record(i, o)).collect();
        {
            let mut writer = JournalWriter::create(&path, &header()).unwrap();
            for r in &records {
                writer.append(r).unwrap();
            }
        }
        let written = fs::read(&path).unwrap();
        // Line 1 is the header; records are lines 2.., each ending with its newline.
        let mut lines: Vec<Vec<u8>> =
            written.split_inclusive(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
        prop_assert_eq!(lines.len(), records.len() + 1);
        let victim = match damage {
            Damage::TornTail(_) => records.len() - 1,
            _ => victim.index(records.len()),
        };
        let line = &mut lines[victim + 1];
        let body_len = line.len() - 1;
        match &damage {
            Damage::Torn(at) => {
                line.truncate(at.index(body_len));
                line.push(b'\n');
            }
            Damage::Corrupted(edits) => {
                for (at, byte) in edits {
                    line[at.index(body_len)] = *byte;
                }
            }
            Damage::TornTail(at) => line.truncate(1 + at.index(body_len)),
        }
        fs::write(&path, lines.concat()).unwrap();

        let journal = read_journal(&path).unwrap();
        let index = index_journal(&path).unwrap();
        let others: Vec<&DeviceRecord> =
            records.iter().enumerate().filter(|(i, _)| *i != victim).map(|(_, r)| r).collect();
        // Every other record is there, as written and in order; the victim's line is either
        // gone or, where the damage happened to leave valid JSON, read as whatever it now says.
        let read: Vec<&DeviceRecord> =
            journal.records.iter().filter(|r| **r != records[victim]).collect();
        let kept: Vec<&DeviceRecord> =
            read.iter().copied().filter(|r| others.contains(r)).collect();
        prop_assert_eq!(&kept, &others, "a record other than the damaged one was lost");
        prop_assert!(read.len() <= others.len() + 1, "more records than lines");
        let victim_line = victim as u64 + 2;
        match damage {
            Damage::TornTail(_) => {
                prop_assert!(journal.torn_tail);
                prop_assert!(journal.damaged_lines.is_empty());
                prop_assert_eq!(journal.records.len(), others.len());
            }
            _ => {
                prop_assert!(!journal.torn_tail);
                prop_assert!(
                    journal.damaged_lines.is_empty() || journal.damaged_lines == [victim_line],
                    "{:?}", journal.damaged_lines
                );
                // A resume appends after the whole damaged file.
                prop_assert_eq!(index.valid_len, lines.concat().len() as u64);
            }
        }
        prop_assert_eq!(index.records as usize, journal.records.len());
        prop_assert_eq!(&index.damaged_lines, &journal.damaged_lines);
    }
}
