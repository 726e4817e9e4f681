//! The end-of-sweep summary: counts per outcome class, failed devices by class, per-device
//! time percentiles, the slowest devices, elapsed time and rate.
//!
//! The accumulator keeps, per device, only its name, class and total time — never outputs —
//! so the coordinator's memory does not grow with what devices print. This module must not
//! print; [`Summary::write`] renders to a writer the caller gives.

use std::io::{self, Write};
use std::time::Duration;

use netsweep_protocol::{DeviceRecord, Outcome};

use crate::render::format_ms;

/// Collects what the summary needs, one device at a time.
#[derive(Clone, Debug, Default)]
pub struct SummaryAccumulator {
    counts: [u64; Outcome::CLASSES.len()],
    devices: Vec<Brief>,
    from_journal: u64,
}

#[derive(Clone, Debug)]
struct Brief {
    name: Box<str>,
    class: u8,
    total_ms: f64,
}

fn class_index(outcome: &Outcome) -> usize {
    Outcome::CLASSES
        .iter()
        .position(|c| *c == outcome.class())
        .expect("every outcome class is listed in Outcome::CLASSES")
}

impl SummaryAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts a device finished in this run.
    pub fn add(&mut self, record: &DeviceRecord) {
        self.add_outcome(&record.device, &record.outcome, record.timings.total_ms);
    }

    /// Counts a device finished in this run, from its parts.
    pub fn add_outcome(&mut self, device: &str, outcome: &Outcome, total_ms: f64) {
        let class = class_index(outcome);
        self.counts[class] += 1;
        self.devices.push(Brief {
            name: device.into(),
            class: class as u8,
            total_ms,
        });
    }

    /// Counts a device finished by an earlier run of a resumed journal: it is in the counts
    /// and times, not in this run's rate.
    pub fn add_from_journal(&mut self, device: &str, outcome: &Outcome, total_ms: f64) {
        self.add_outcome(device, outcome, total_ms);
        self.from_journal += 1;
    }

    /// Devices counted.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// Devices whose outcome is not `ok`.
    pub fn failed(&self) -> u64 {
        self.counts[1..].iter().sum()
    }

    /// The summary of everything counted, for a run that took `elapsed`.
    pub fn summary(&self, elapsed: Duration) -> Summary {
        let total = self.devices.len() as u64;
        let this_run = total - self.from_journal;
        let counts = Outcome::CLASSES
            .iter()
            .zip(self.counts)
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| (*c, n))
            .collect();
        let mut failed: Vec<FailedClass> = Vec::new();
        for (i, class) in Outcome::CLASSES.iter().enumerate().skip(1) {
            if self.counts[i] == 0 {
                continue;
            }
            let mut devices: Vec<String> = self
                .devices
                .iter()
                .filter(|d| usize::from(d.class) == i)
                .map(|d| d.name.to_string())
                .collect();
            devices.sort();
            failed.push(FailedClass { class, devices });
        }
        let mut times: Vec<f64> = self.devices.iter().map(|d| d.total_ms).collect();
        times.sort_by(f64::total_cmp);
        let mut slowest: Vec<(String, f64)> = self
            .devices
            .iter()
            .map(|d| (d.name.to_string(), d.total_ms))
            .collect();
        slowest.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        slowest.truncate(SLOWEST_KEPT);
        let secs = elapsed.as_secs_f64();
        Summary {
            total,
            this_run,
            from_journal: self.from_journal,
            counts,
            failed,
            p50_ms: percentile(&times, 0.50),
            p95_ms: percentile(&times, 0.95),
            max_ms: times.last().copied(),
            slowest,
            elapsed,
            devices_per_sec: if secs > 0.0 {
                this_run as f64 / secs
            } else {
                0.0
            },
        }
    }
}

/// How many slowest devices a [`Summary`] keeps.
pub const SLOWEST_KEPT: usize = 10;

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Failed devices of one class.
#[derive(Clone, Debug, PartialEq)]
pub struct FailedClass {
    /// The outcome class, e.g. `auth_failed`.
    pub class: &'static str,
    /// Device names, sorted.
    pub devices: Vec<String>,
}

/// The numbers at the end of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Devices counted.
    pub total: u64,
    /// Of which finished in this run.
    pub this_run: u64,
    /// Of which came from the resumed journal.
    pub from_journal: u64,
    /// `(class, count)` for each class that occurred, in [`Outcome::CLASSES`] order.
    pub counts: Vec<(&'static str, u64)>,
    /// Failed devices by class, in [`Outcome::CLASSES`] order.
    pub failed: Vec<FailedClass>,
    /// Median per-device time, ms.
    pub p50_ms: Option<f64>,
    /// 95th percentile per-device time, ms.
    pub p95_ms: Option<f64>,
    /// Longest per-device time, ms.
    pub max_ms: Option<f64>,
    /// Slowest devices, slowest first (ties by name), at most [`SLOWEST_KEPT`].
    pub slowest: Vec<(String, f64)>,
    /// Wall time of this run.
    pub elapsed: Duration,
    /// Devices finished in this run per second of it.
    pub devices_per_sec: f64,
}

/// How much of the summary to spell out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SummaryStyle {
    /// Failed devices named per class before "and K more".
    pub failed_listed: usize,
    /// Slowest devices shown.
    pub slowest: usize,
}

impl Default for SummaryStyle {
    fn default() -> Self {
        SummaryStyle {
            failed_listed: 5,
            slowest: 3,
        }
    }
}

impl Summary {
    /// Whether every device is `ok`.
    pub fn all_ok(&self) -> bool {
        self.failed.is_empty()
    }

    /// Renders, e.g.:
    ///
    /// ```text
    /// summary: 12 devices in 3.2 s (3.8 devices/s): 9 ok, 2 auth_failed, 1 timed_out
    /// auth_failed: r4, r5
    /// timed_out: r7
    /// per device: p50 120 ms, p95 2.1 s, max 10 s
    /// slowest: r7 10 s, r3 2.1 s, r1 900 ms
    /// ```
    pub fn write(&self, w: &mut dyn Write, style: SummaryStyle) -> io::Result<()> {
        let from_journal = if self.from_journal > 0 {
            format!(" ({} from the journal)", self.from_journal)
        } else {
            String::new()
        };
        let counts = if self.counts.is_empty() {
            "nothing finished".to_owned()
        } else {
            self.counts
                .iter()
                .map(|(c, n)| format!("{n} {c}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            w,
            "summary: {} device{}{from_journal} in {} ({:.1} devices/s): {counts}",
            self.total,
            if self.total == 1 { "" } else { "s" },
            format_ms(self.elapsed.as_secs_f64() * 1000.0),
            self.devices_per_sec,
        )?;
        for f in &self.failed {
            let shown: Vec<&str> = f
                .devices
                .iter()
                .take(style.failed_listed)
                .map(String::as_str)
                .collect();
            let more = f.devices.len().saturating_sub(style.failed_listed);
            write!(w, "{}: {}", f.class, shown.join(", "))?;
            if more > 0 {
                write!(w, " and {more} more")?;
            }
            writeln!(w)?;
        }
        if let (Some(p50), Some(p95), Some(max)) = (self.p50_ms, self.p95_ms, self.max_ms) {
            writeln!(
                w,
                "per device: p50 {}, p95 {}, max {}",
                format_ms(p50),
                format_ms(p95),
                format_ms(max)
            )?;
        }
        if style.slowest > 0 && !self.slowest.is_empty() {
            let slowest: Vec<String> = self
                .slowest
                .iter()
                .take(style.slowest)
                .map(|(n, ms)| format!("{n} {}", format_ms(*ms)))
                .collect();
            writeln!(w, "slowest: {}", slowest.join(", "))?;
        }
        Ok(())
    }

    /// [`Summary::write`] into a string.
    pub fn render(&self, style: SummaryStyle) -> String {
        let mut out = Vec::new();
        self.write(&mut out, style)
            .expect("writing to a Vec cannot fail");
        String::from_utf8(out).expect("the summary is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.50), Some(50.0));
        assert_eq!(percentile(&v, 0.95), Some(95.0));
        assert_eq!(percentile(&[7.0], 0.95), Some(7.0));
        assert_eq!(percentile(&[1.0, 2.0], 0.50), Some(1.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
