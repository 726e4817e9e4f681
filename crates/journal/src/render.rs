//! Rendering records for people and programs: a text block per device, `--merge` (devices
//! with identical output shown once, like `dshbak -c`), a JSON array, and JSON Lines.
//!
//! Pure functions over `DeviceRecord`s writing to any `io::Write`: the CLI chooses stdout and
//! handles a closed pipe. Output is deterministic: same records in, same bytes out. This
//! module must not print by itself nor contact devices.

use std::collections::HashMap;
use std::io::{self, Write};

use netsweep_protocol::{CommandOutput, DeviceRecord};
use sha2::{Digest, Sha256};

pub use netsweep_protocol::host_port;

/// A duration for people: `850 ms`, `2.5 s`, `42 s`, `12m 05s`.
pub fn format_ms(ms: f64) -> String {
    let ms = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
    if ms < 1000.0 {
        format!("{} ms", ms.round() as u64)
    } else if ms < 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms < 60_000.0 {
        format!("{} s", (ms / 1000.0).round() as u64)
    } else {
        let s = (ms / 1000.0).round() as u64;
        format!("{}m {:02}s", s / 60, s % 60)
    }
}

/// The first line of a device's text block:
/// `--- r1 (127.0.1.1:2222) ok 123 ms`, with `(attempt N)` after a retry.
pub fn device_heading(record: &DeviceRecord) -> String {
    let mut line = format!(
        "--- {} ({}) {} {}",
        record.device,
        host_port(&record.host, record.port),
        record.outcome,
        format_ms(record.timings.total_ms)
    );
    if record.attempt > 1 {
        line.push_str(&format!(" (attempt {})", record.attempt));
    }
    line
}

/// A device's text block: its heading, its message when it failed (`! …`), then each
/// command as `> command` (with `[error: …]`, `[exit N]`, `[truncated]`, `[not utf-8]`
/// marks) followed by its output.
pub fn write_text(w: &mut dyn Write, record: &DeviceRecord) -> io::Result<()> {
    writeln!(w, "{}", device_heading(record))?;
    if !record.outcome.is_ok() && !record.message.is_empty() {
        writeln!(w, "! {}", one_line(&record.message))?;
    }
    write_outputs(w, &record.outputs)
}

fn write_outputs(w: &mut dyn Write, outputs: &[CommandOutput]) -> io::Result<()> {
    for out in outputs {
        write!(w, "> {}", one_line(&out.command))?;
        if let Some(e) = &out.error {
            write!(w, " [error: {}]", one_line(e))?;
        }
        if let Some(code) = out.exit_status.filter(|c| *c != 0) {
            write!(w, " [exit {code}]")?;
        }
        if out.truncated {
            w.write_all(b" [truncated]")?;
        }
        if out.non_utf8 {
            w.write_all(b" [not utf-8]")?;
        }
        w.write_all(b"\n")?;
        write_block(w, &out.output)?;
        if let Some(stderr) = out.stderr.as_deref().filter(|s| !s.is_empty()) {
            w.write_all(b"[stderr]\n")?;
            write_block(w, stderr)?;
        }
    }
    Ok(())
}

fn write_block(w: &mut dyn Write, text: &str) -> io::Result<()> {
    w.write_all(text.as_bytes())?;
    if !text.is_empty() && !text.ends_with('\n') {
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// Messages and commands stay on their heading line whatever they contain.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// `--merge`: collects records and renders each distinct result once, headed by every device
/// that produced it. Two devices merge when their outcome and every command's output (and
/// error, exit status, flags) are identical; messages and timings are not compared.
///
/// Holds one record per distinct result (plus names), so a fleet of identical devices costs
/// one record of memory.
#[derive(Debug, Default)]
pub struct MergedText {
    groups: Vec<MergeGroup>,
    by_key: HashMap<[u8; 32], usize>,
}

#[derive(Debug)]
struct MergeGroup {
    representative: DeviceRecord,
    devices: Vec<String>,
    /// `device: message` for failed devices (messages name the device's own situation).
    messages: Vec<String>,
}

impl MergedText {
    /// An empty merge.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a record.
    pub fn add(&mut self, record: &DeviceRecord) {
        let key = merge_key(record);
        let index = *self.by_key.entry(key).or_insert_with(|| {
            let mut representative = record.clone();
            representative.message.clear();
            self.groups.push(MergeGroup {
                representative,
                devices: Vec::new(),
                messages: Vec::new(),
            });
            self.groups.len() - 1
        });
        let group = &mut self.groups[index];
        group.devices.push(record.device.clone());
        if !record.outcome.is_ok() && !record.message.is_empty() {
            group
                .messages
                .push(format!("{}: {}", record.device, one_line(&record.message)));
        }
    }

    /// Number of distinct results so far.
    pub fn groups(&self) -> usize {
        self.groups.len()
    }

    /// Renders every group in order of first appearance: `--- r1, r2 (2 devices) ok`, the
    /// failed devices' messages, then the shared outputs.
    pub fn write(&self, w: &mut dyn Write) -> io::Result<()> {
        for group in &self.groups {
            let names = group.devices.join(", ");
            let count = match group.devices.len() {
                1 => String::new(),
                n => format!(" ({n} devices)"),
            };
            writeln!(w, "--- {names}{count} {}", group.representative.outcome)?;
            for m in &group.messages {
                writeln!(w, "! {m}")?;
            }
            write_outputs(w, &group.representative.outputs)?;
        }
        Ok(())
    }
}

fn merge_key(record: &DeviceRecord) -> [u8; 32] {
    let mut h = Sha256::new();
    // Length-prefixed fields: no two different results can produce the same byte stream.
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(record.outcome.to_string().as_bytes());
    for out in &record.outputs {
        field(out.command.as_bytes());
        field(out.output.as_bytes());
        field(out.stderr.as_deref().unwrap_or("\u{0}none").as_bytes());
        field(out.error.as_deref().unwrap_or("\u{0}none").as_bytes());
        field(&out.exit_status.unwrap_or(i32::MIN).to_le_bytes());
        field(&[u8::from(out.truncated), u8::from(out.non_utf8)]);
    }
    h.finalize().into()
}

/// `--format jsonl`: one record per line, the journal's own schema.
pub fn write_jsonl(w: &mut dyn Write, record: &DeviceRecord) -> io::Result<()> {
    serde_json::to_writer(&mut *w, record).map_err(io::Error::other)?;
    w.write_all(b"\n")
}

/// `--format json`: a JSON array written as records arrive (one compact record per line), so
/// the array never has to be held in memory. Call [`JsonArrayWriter::finish`] at the end; an
/// unfinished array is not valid JSON.
#[derive(Debug)]
pub struct JsonArrayWriter<W: Write> {
    w: W,
    count: u64,
}

impl<W: Write> JsonArrayWriter<W> {
    /// Starts the array.
    pub fn new(w: W) -> Self {
        JsonArrayWriter { w, count: 0 }
    }

    /// Writes one element.
    pub fn push(&mut self, record: &DeviceRecord) -> io::Result<()> {
        self.w
            .write_all(if self.count == 0 { b"[\n" } else { b",\n" })?;
        serde_json::to_writer(&mut self.w, record).map_err(io::Error::other)?;
        self.count += 1;
        Ok(())
    }

    /// Closes the array and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.w
            .write_all(if self.count == 0 { b"[]\n" } else { b"\n]\n" })?;
        self.w.flush()?;
        Ok(self.w)
    }
}
