//! Everything the user reads during a sweep: records on stdout in the chosen format and order,
//! `-v` log lines and progress on stderr.
//!
//! It consumes pool events and never influences the sweep: a slow or closed stdout
//! (`| head`) stops the printing, not the devices.

use std::io::{self, BufWriter, Write};

use netsweep_journal::{JsonArrayWriter, MergedText, write_jsonl, write_text};
use netsweep_pool::PoolEvent;
use netsweep_pool::order::InputOrder;
use netsweep_protocol::{DeviceRecord, JobId};

use crate::args::{FormatChoice, OrderChoice};
use crate::progress::Progress;
use crate::rows::Rows;
use netsweep_protocol::ParsedRows;

/// Stdout that turns a closed pipe into silence: `netsweep run … | head` is not an error.
pub struct Stdout {
    inner: BufWriter<io::Stdout>,
    closed: bool,
}

impl Stdout {
    /// Buffered stdout.
    pub fn new() -> Self {
        Stdout {
            inner: BufWriter::new(io::stdout()),
            closed: false,
        }
    }

    fn absorb<T>(&mut self, result: io::Result<T>, ok: T) -> io::Result<T> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(ok)
            }
            other => other,
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let r = self.inner.write(buf);
        self.absorb(r, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let r = self.inner.flush();
        self.absorb(r, ())
    }
}

enum Format {
    Text,
    Merge(MergedText),
    Json(JsonArrayWriter<Stdout>),
    Jsonl,
    /// Parsed rows, kept (device, rows) until the end, printed as one table.
    Rows(Vec<(String, ParsedRows)>),
}

/// What to show, and how.
pub struct DisplayOptions {
    /// Output format.
    pub format: FormatChoice,
    /// Result order.
    pub order: OrderChoice,
    /// `--merge`.
    pub merge: bool,
    /// `-v` count.
    pub verbose: u8,
    /// Progress bar / status lines.
    pub progress: bool,
    /// `--fields` (table and csv).
    pub fields: Vec<String>,
}

/// The sweep's screen.
pub struct Display {
    format: Format,
    /// `None` once the format took ownership of stdout (JSON array).
    stdout: Option<Stdout>,
    verbose: u8,
    order: Option<InputOrder<Box<DeviceRecord>>>,
    progress: Progress,
    /// Set after the first write error other than a closed pipe: printing stops, the sweep
    /// goes on (the journal has every result).
    failed: bool,
    /// `--fields` (table and csv).
    fields: Vec<String>,
    csv: bool,
    /// Why the rows could not be printed (`--fields` naming a column no row has).
    rows_error: Option<anyhow::Error>,
}

impl Display {
    /// A display for a sweep of the jobs `ids`, in that (input) order.
    pub fn new(options: &DisplayOptions, ids: &[JobId]) -> Self {
        let (format, stdout) = match options.format {
            FormatChoice::Text if options.merge => {
                (Format::Merge(MergedText::new()), Some(Stdout::new()))
            }
            FormatChoice::Text => (Format::Text, Some(Stdout::new())),
            FormatChoice::Json => (Format::Json(JsonArrayWriter::new(Stdout::new())), None),
            FormatChoice::Jsonl => (Format::Jsonl, Some(Stdout::new())),
            FormatChoice::Table | FormatChoice::Csv => {
                (Format::Rows(Vec::new()), Some(Stdout::new()))
            }
        };
        Display {
            format,
            stdout,
            verbose: options.verbose,
            order: (options.order == OrderChoice::Input)
                .then(|| InputOrder::new(ids.iter().copied())),
            progress: Progress::new(ids.len() as u64, options.progress),
            failed: false,
            fields: options.fields.clone(),
            csv: options.format == FormatChoice::Csv,
            rows_error: None,
        }
    }

    /// A line on stderr that does not tear the progress bar.
    pub fn note(&self, line: &str) {
        self.progress.println(line);
    }

    /// Shows a pool event other than a final record.
    pub fn event(&mut self, event: &PoolEvent) {
        match event {
            PoolEvent::Started {
                device,
                address,
                worker,
                attempt,
                ..
            } if self.verbose > 0 => {
                let again = if *attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                self.note(&format!(
                    "{worker} ===> {} connecting {device}{again}",
                    clock()
                ));
            }
            PoolEvent::Retrying {
                device,
                failed,
                delay,
                ..
            } => self.note(&format!(
                "{} retrying {device} in {:.1}s after {}: {}",
                clock(),
                delay.as_secs_f64(),
                failed.outcome,
                failed.message
            )),
            _ => {}
        }
    }

    /// Shows a device's final record.
    pub fn finished(&mut self, job: JobId, record: Box<DeviceRecord>) {
        if self.verbose > 0 {
            self.note(&format!(
                "{} <=== {} received {} ({})",
                record.worker,
                clock(),
                record.device,
                record.outcome
            ));
        }
        self.progress.finished(record.outcome.is_ok());
        let due = match &mut self.order {
            Some(order) => order.push(job, record),
            None => vec![record],
        };
        for record in due {
            self.print(&record);
        }
    }

    /// Prints what was held back, closes the format and the progress bar; returns stdout for
    /// the summary (text format).
    /// The error is why parsed rows could not be printed (`--fields` naming no column).
    pub fn finish(mut self) -> (Stdout, Option<anyhow::Error>) {
        if let Some(order) = self.order.take() {
            for record in order.finish() {
                self.print(&record);
            }
        }
        self.progress.finish();
        let mut stdout = match std::mem::replace(&mut self.format, Format::Text) {
            Format::Json(array) => match array.finish() {
                Ok(stdout) => stdout,
                Err(e) => {
                    self.write_failed(&e);
                    Stdout::new()
                }
            },
            Format::Merge(merged) => {
                let mut stdout = self.stdout.take().expect("merge writes to stdout");
                if let Err(e) = merged.write(&mut stdout) {
                    self.write_failed(&e);
                }
                stdout
            }
            Format::Text | Format::Jsonl => self.stdout.take().expect("these write to stdout"),
            Format::Rows(parsed) => {
                let mut stdout = self.stdout.take().expect("rows write to stdout");
                let rows = Rows::collect(
                    parsed.iter().map(|(d, r)| (Some(d.as_str()), r)),
                    &self.fields,
                );
                match rows {
                    Ok(rows) => {
                        let written = if self.csv {
                            rows.write_csv(&mut stdout)
                        } else {
                            rows.write_table(&mut stdout)
                        };
                        if let Err(e) = written {
                            self.write_failed(&e);
                        }
                    }
                    Err(e) => self.rows_error = Some(e),
                }
                stdout
            }
        };
        if let Err(e) = stdout.flush() {
            self.write_failed(&e);
        }
        (stdout, self.rows_error.take())
    }

    fn print(&mut self, record: &DeviceRecord) {
        if self.failed {
            return;
        }
        let result = match (&mut self.format, &mut self.stdout) {
            (Format::Text, Some(out)) => write_text(out, record),
            (Format::Merge(merged), _) => {
                merged.add(record);
                Ok(())
            }
            (Format::Json(array), _) => array.push(record),
            // Line-at-a-time consumers (jq, tail -f) see each device as it finishes.
            (Format::Jsonl, Some(out)) => write_jsonl(out, record).and_then(|()| out.flush()),
            (Format::Rows(parsed), _) => {
                for output in &record.outputs {
                    if let Some(rows) = &output.parsed {
                        parsed.push((record.device.clone(), rows.clone()));
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            self.write_failed(&e);
        }
    }

    fn write_failed(&mut self, e: &io::Error) {
        if !self.failed {
            self.failed = true;
            tracing::warn!(
                "cannot write results to stdout ({e}); the sweep goes on and the journal keeps every result"
            );
        }
    }
}

/// Wall-clock time of day, as the seeds' log lines show it: `12:26:12.767`.
fn clock() -> String {
    jiff::Zoned::now().strftime("%H:%M:%S%.3f").to_string()
}
