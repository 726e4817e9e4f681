//! Reading journals back: whole (`read_journal`), streamed record by record
//! ([`JournalReader`]), or as a small index of each device's final outcome
//! ([`index_journal`]) for resuming without holding every output in memory.
//!
//! A last line without its newline is a write torn by a crash: it is dropped and reported as
//! `torn_tail`, and everything before it is kept. Any other line after the header that is not
//! a record (a disk error, a stray edit) is skipped, logged with its line number and listed in
//! `damaged_lines`: that line is lost — its device has no record, so a resume sweeps it again
//! — and every other record is kept. A damaged header is an error: without it nothing can be
//! trusted.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use netsweep_protocol::{DeviceRecord, Outcome};

use crate::JournalError;
use crate::header::{FORMAT_VERSION, JOURNAL_MAGIC, JournalHeader};

/// A whole journal in memory (for `netsweep report`; a sweep itself never needs this).
#[derive(Clone, Debug)]
pub struct Journal {
    /// The first line.
    pub header: JournalHeader,
    /// Every record, in the order written (a device redone by `--rerun-failed` appears
    /// more than once; see [`Journal::final_records`]).
    pub records: Vec<DeviceRecord>,
    /// The last line was torn by a crash and was dropped.
    pub torn_tail: bool,
    /// 1-based numbers of complete lines that were not records, skipped.
    pub damaged_lines: Vec<u64>,
}

impl Journal {
    /// One record per device — its last — in the order devices first appear.
    pub fn final_records(&self) -> Vec<&DeviceRecord> {
        let mut position: HashMap<&str, usize> = HashMap::new();
        let mut out: Vec<&DeviceRecord> = Vec::new();
        for r in &self.records {
            match position.get(r.device.as_str()) {
                Some(&i) => out[i] = r,
                None => {
                    position.insert(&r.device, out.len());
                    out.push(r);
                }
            }
        }
        out
    }
}

/// Reads a whole journal.
pub fn read_journal(path: &Path) -> Result<Journal, JournalError> {
    let mut reader = JournalReader::open(path)?;
    let mut records = Vec::new();
    for record in reader.by_ref() {
        records.push(record?);
    }
    Ok(Journal {
        header: reader.header.clone(),
        records,
        torn_tail: reader.torn_tail,
        damaged_lines: reader.damaged_lines,
    })
}

/// Streams a journal's records one at a time; memory stays at one record.
#[derive(Debug)]
pub struct JournalReader {
    path: PathBuf,
    reader: BufReader<File>,
    header: JournalHeader,
    line: u64,
    valid_len: u64,
    torn_tail: bool,
    damaged_lines: Vec<u64>,
    done: bool,
    buf: Vec<u8>,
}

impl JournalReader {
    /// Opens a journal and validates its header.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let file = File::open(path).map_err(|source| JournalError::Io {
            action: "open",
            path: path.to_path_buf(),
            source,
        })?;
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        let mut buf = Vec::new();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| JournalError::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            })?;
        let bad = |reason: &str| JournalError::BadHeader {
            path: path.to_path_buf(),
            reason: reason.into(),
        };
        if n == 0 {
            return Err(bad("the file is empty"));
        }
        if buf.last() != Some(&b'\n') {
            return Err(bad(
                "the header line is incomplete (the run stopped as it started)",
            ));
        }
        let header = parse_header(path, &buf[..n - 1])?;
        Ok(JournalReader {
            path: path.to_path_buf(),
            reader,
            header,
            line: 1,
            valid_len: n as u64,
            torn_tail: false,
            damaged_lines: Vec::new(),
            done: false,
            buf,
        })
    }

    /// The journal's header.
    pub fn header(&self) -> &JournalHeader {
        &self.header
    }

    /// Whether a torn last line was found (known once iteration has ended).
    pub fn torn_tail(&self) -> bool {
        self.torn_tail
    }

    /// 1-based numbers of the damaged lines skipped so far.
    pub fn damaged_lines(&self) -> &[u64] {
        &self.damaged_lines
    }

    /// Bytes up to the end of the last complete line read so far: where appending resumes.
    pub fn valid_len(&self) -> u64 {
        self.valid_len
    }

    /// The 1-based line number of the record last returned (for messages naming file and
    /// line).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The record last returned as it is in the file, without its line ending: copying it
    /// keeps fields a newer netsweep wrote that this build does not know.
    pub fn raw_line(&self) -> &[u8] {
        trim_line(&self.buf)
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Iterator for JournalReader {
    type Item = Result<DeviceRecord, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buf.clear();
            let n = match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(n) => n,
                Err(source) => {
                    self.done = true;
                    return Some(Err(JournalError::Io {
                        action: "read",
                        path: self.path.clone(),
                        source,
                    }));
                }
            };
            if n == 0 {
                self.done = true;
                return None;
            }
            self.line += 1;
            if self.buf.last() != Some(&b'\n') {
                // Every record is written with its newline in one write: a line without it
                // is a crash mid-write, and the device gets done again on resume.
                self.torn_tail = true;
                self.done = true;
                return None;
            }
            // The line is complete: appending resumes after it whatever it holds.
            self.valid_len += n as u64;
            let body = trim_line(&self.buf);
            if body.is_empty() {
                continue;
            }
            match serde_json::from_slice::<DeviceRecord>(body) {
                Ok(record) => return Some(Ok(record)),
                Err(e) => {
                    tracing::warn!(
                        journal = %self.path.display(),
                        line = self.line,
                        error = %e,
                        "skipping a damaged line that is not a journal record; its device has \
                         no record here and a resume sweeps it again"
                    );
                    self.damaged_lines.push(self.line);
                }
            }
        }
        None
    }
}

fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.trim_ascii()
}

fn parse_header(path: &Path, line: &[u8]) -> Result<JournalHeader, JournalError> {
    let bad = |reason: String| JournalError::BadHeader {
        path: path.to_path_buf(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_slice(trim_line(line)).map_err(|e| bad(format!("not JSON ({e})")))?;
    if value.get("journal").and_then(|v| v.as_str()) != Some(JOURNAL_MAGIC) {
        return Err(bad(format!("no `\"journal\": \"{JOURNAL_MAGIC}\"` key")));
    }
    let version = value
        .get("format_version")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| bad("no `format_version`".into()))?;
    if version != u64::from(FORMAT_VERSION) {
        return Err(JournalError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: u32::try_from(version).unwrap_or(u32::MAX),
            supported: FORMAT_VERSION,
        });
    }
    serde_json::from_value(value).map_err(|e| bad(e.to_string()))
}

/// What resuming needs to know about one device: its last outcome and where it was.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexedDevice {
    /// Device name.
    pub device: String,
    /// Host of the last record.
    pub host: String,
    /// Port of the last record.
    pub port: u16,
    /// Platform of the last record.
    pub platform: String,
    /// The last outcome.
    pub outcome: Outcome,
    /// The last record's total time, ms.
    pub total_ms: f64,
}

/// A journal reduced to each device's last outcome: what `--resume` needs, without outputs.
#[derive(Clone, Debug)]
pub struct JournalIndex {
    /// The journal.
    pub path: PathBuf,
    /// Its header.
    pub header: JournalHeader,
    /// One entry per device (its last record), in order of first appearance.
    pub devices: Vec<IndexedDevice>,
    /// Records read, duplicates included.
    pub records: u64,
    /// A torn last line was dropped.
    pub torn_tail: bool,
    /// 1-based numbers of complete lines that were not records, skipped.
    pub damaged_lines: Vec<u64>,
    /// Bytes of complete lines; appending starts here.
    pub valid_len: u64,
}

impl JournalIndex {
    /// The entry for `device`, if it has a record.
    pub fn get(&self, device: &str) -> Option<&IndexedDevice> {
        self.devices.iter().find(|d| d.device == device)
    }
}

/// Streams a journal into a [`JournalIndex`].
pub fn index_journal(path: &Path) -> Result<JournalIndex, JournalError> {
    let mut reader = JournalReader::open(path)?;
    let mut position: HashMap<String, usize> = HashMap::new();
    let mut devices: Vec<IndexedDevice> = Vec::new();
    let mut records = 0;
    for record in reader.by_ref() {
        let r = record?;
        records += 1;
        let entry = IndexedDevice {
            host: r.host,
            port: r.port,
            platform: r.platform,
            outcome: r.outcome,
            total_ms: r.timings.total_ms,
            device: r.device,
        };
        match position.get(&entry.device) {
            Some(&i) => devices[i] = entry,
            None => {
                position.insert(entry.device.clone(), devices.len());
                devices.push(entry);
            }
        }
    }
    Ok(JournalIndex {
        path: path.to_path_buf(),
        header: reader.header.clone(),
        devices,
        records,
        torn_tail: reader.torn_tail,
        valid_len: reader.valid_len,
        damaged_lines: reader.damaged_lines,
    })
}
