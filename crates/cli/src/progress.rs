//! Progress on stderr while a sweep runs: a bar on a terminal (done/total, ok/failed, rate,
//! ETA), otherwise one status line every ten seconds — enough for a CI log or a `nohup` file,
//! never noisier.
//!
//! Also the one door through which other stderr lines pass while a bar is drawn, so log lines
//! never tear the bar.

#![allow(clippy::print_stderr)]

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often the plain status line is printed without a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// The sweep's progress display.
pub struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    last_plain: Instant,
    started: Instant,
    total: u64,
    done: u64,
    failed: u64,
}

impl Progress {
    /// A display for `total` devices; `enabled: false` shows nothing.
    pub fn new(total: u64, enabled: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        let bar = (enabled && tty).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} {msg} {per_sec} ETA {eta}",
                )
                .expect("the template is valid")
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let now = Instant::now();
        Progress {
            bar,
            plain: enabled && !tty,
            last_plain: now,
            started: now,
            total,
            done: 0,
            failed: 0,
        }
    }

    /// Counts a finished device.
    pub fn finished(&mut self, ok: bool) {
        self.done += 1;
        if !ok {
            self.failed += 1;
        }
        if let Some(bar) = &self.bar {
            bar.set_position(self.done);
            bar.set_message(format!(
                "ok {} failed {}",
                self.done - self.failed,
                self.failed
            ));
        }
        if self.plain && self.last_plain.elapsed() >= PLAIN_EVERY {
            self.last_plain = Instant::now();
            eprintln!("{}", self.status_line());
        }
    }

    /// Prints a line on stderr without disturbing the bar.
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// Removes the bar (before the summary is printed).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn status_line(&self) -> String {
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = self.done as f64 / elapsed.max(0.001);
        let eta = if rate > 0.0 {
            format!(
                ", ETA {:.0}s",
                (self.total.saturating_sub(self.done)) as f64 / rate
            )
        } else {
            String::new()
        };
        format!(
            "progress: {}/{} devices ({} ok, {} failed) in {:.0}s, {:.1} devices/s{eta}",
            self.done,
            self.total,
            self.done - self.failed,
            self.failed,
            elapsed,
            rate
        )
    }
}
