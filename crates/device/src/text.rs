//! Turning the bytes a device sent into a [`CommandOutput`]: a size cap, `\r` and pager
//! erasures removed, non-UTF-8 kept lossily with a flag, error markers recognised.
//!
//! Pure functions over bytes; no I/O.

use netsweep_protocol::CommandOutput;

/// Bytes kept from the end of the stream once the cap is reached, enough to still see the
/// prompt or a pager marker that ends the output.
const TAIL_KEEP: usize = 4096;

/// Collects one command's output up to a cap; beyond the cap only a short tail is kept, so the
/// end of the output (the prompt) can still be recognised.
#[derive(Debug)]
pub(crate) struct Collector {
    body: Vec<u8>,
    overflow_tail: Vec<u8>,
    cap: usize,
    truncated: bool,
}

impl Collector {
    pub(crate) fn new(cap: usize) -> Collector {
        Collector {
            body: Vec::new(),
            overflow_tail: Vec::new(),
            cap,
            truncated: false,
        }
    }

    pub(crate) fn push(&mut self, data: &[u8]) {
        if !self.truncated {
            let room = self.cap - self.body.len();
            if data.len() <= room {
                self.body.extend_from_slice(data);
                return;
            }
            self.body.extend_from_slice(&data[..room]);
            self.truncated = true;
            self.push_tail(&data[room..]);
        } else {
            self.push_tail(data);
        }
    }

    fn push_tail(&mut self, data: &[u8]) {
        self.overflow_tail.extend_from_slice(data);
        if self.overflow_tail.len() > 2 * TAIL_KEEP {
            let excess = self.overflow_tail.len() - TAIL_KEEP;
            self.overflow_tail.drain(..excess);
        }
    }

    /// The most recent bytes received (at most a few KiB).
    pub(crate) fn tail(&self) -> &[u8] {
        if self.truncated {
            &self.overflow_tail
        } else {
            let start = self.body.len().saturating_sub(TAIL_KEEP);
            &self.body[start..]
        }
    }

    /// Drops the last `n` bytes received (a prompt or pager marker that is not output).
    pub(crate) fn drop_last(&mut self, n: usize) {
        let buf = if self.truncated {
            &mut self.overflow_tail
        } else {
            &mut self.body
        };
        buf.truncate(buf.len().saturating_sub(n));
    }

    #[cfg(test)]
    pub(crate) fn is_truncated(&self) -> bool {
        self.truncated
    }

    pub(crate) fn into_body(self) -> (Vec<u8>, bool) {
        (self.body, self.truncated)
    }
}

/// The last line of `bytes` (after the last `\n`), without `\r` and trailing blanks.
pub(crate) fn last_line(bytes: &[u8]) -> (String, usize) {
    let start = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line: Vec<u8> = bytes[start..]
        .iter()
        .copied()
        .filter(|&b| b != b'\r')
        .collect();
    let text = String::from_utf8_lossy(&line);
    (
        text.trim_end_matches([' ', '\t']).to_string(),
        bytes.len() - start,
    )
}

/// Removes `\r` and terminal erasures (a pager's `\b\b\b   \b\b\b` after ` --More-- `), then
/// decodes: lossy UTF-8 plus a flag when the device sent other bytes.
pub(crate) fn clean(bytes: &[u8]) -> (String, bool) {
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' => i += 1,
            0x08 => {
                // A backspace run, optionally blanks and another backspace run: an erasure of
                // something already removed (the pager marker), dropped whole.
                let run = |from: usize, byte: u8| {
                    bytes[from..].iter().take_while(|&&b| b == byte).count()
                };
                let back = run(i, 0x08);
                let blanks = run(i + back, b' ');
                let back_again = if blanks > 0 {
                    run(i + back + blanks, 0x08)
                } else {
                    0
                };
                if back_again > 0 {
                    i += back + blanks + back_again;
                } else {
                    for _ in 0..back {
                        if out.last().is_some_and(|&b| b != b'\n') {
                            out.pop();
                        }
                    }
                    i += back;
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    while out.last() == Some(&b'\n') {
        out.pop();
    }
    match String::from_utf8(out) {
        Ok(s) => (s, false),
        Err(e) => (String::from_utf8_lossy(e.as_bytes()).into_owned(), true),
    }
}

/// The first line of `output` that starts with one of `markers` (leading blanks ignored).
pub(crate) fn error_line(output: &str, markers: &[&str]) -> Option<String> {
    if markers.is_empty() {
        return None;
    }
    output
        .lines()
        .map(str::trim)
        .find(|line| markers.iter().any(|m| line.starts_with(m)))
        .map(str::to_string)
}

/// Builds a [`CommandOutput`] from raw output bytes.
pub(crate) fn command_output(
    command: &str,
    body: &[u8],
    truncated: bool,
    error_markers: &[&str],
    elapsed_ms: f64,
) -> CommandOutput {
    let (output, non_utf8) = clean(body);
    let error = error_line(&output, error_markers);
    CommandOutput {
        command: command.to_string(),
        output,
        stderr: None,
        exit_status: None,
        error,
        non_utf8,
        truncated,
        elapsed_ms,
        ..CommandOutput::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collector_caps_output_but_keeps_the_tail() {
        let mut c = Collector::new(10);
        c.push(b"0123456");
        c.push(b"789abcdef\r\nr1#");
        assert!(c.is_truncated());
        assert!(c.tail().ends_with(b"r1#"));
        c.drop_last(3);
        let (body, truncated) = c.into_body();
        assert_eq!(body, b"0123456789");
        assert!(truncated);
    }

    #[test]
    fn clean_removes_cr_and_pager_erasures_and_flags_bad_utf8() {
        let (s, bad) = clean(b"line 1\r\n\x08\x08\x08   \x08\x08\x08 interface Gi0/1\r\n");
        assert_eq!(s, "line 1\n interface Gi0/1");
        assert!(!bad);
        let (s, bad) = clean(b"caf\xe9\r\n");
        assert_eq!(s, "caf\u{fffd}");
        assert!(bad);
    }

    #[test]
    fn last_line_strips_cr_and_trailing_blanks() {
        assert_eq!(last_line(b"a\r\nr1# ").0, "r1#");
        assert_eq!(last_line(b"r1>").1, 3);
    }

    #[test]
    fn error_markers_are_found_at_line_start_only() {
        let out = "show foo\n        ^\n% Invalid input detected at '^' marker.";
        assert_eq!(
            error_line(out, &["% Invalid input"]).as_deref(),
            Some("% Invalid input detected at '^' marker.")
        );
        assert_eq!(
            error_line("description 50% Invalid input", &["% Invalid"]),
            None
        );
    }
}
