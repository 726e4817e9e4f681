//! Turning the bytes a device sent into a [`CommandOutput`]: a size cap, `\r`, pager
//! erasures and (for platforms that colour their output) ANSI escape sequences removed,
//! non-UTF-8 kept lossily with a flag, the platform's failure indicators recognised.
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

/// The last line of `bytes` (after the last `\n`), without `\r`, ANSI escape sequences
/// (with `strip_ansi`) and trailing blanks, and its length in `bytes`.
pub(crate) fn last_line(bytes: &[u8], strip_ansi: bool) -> (String, usize) {
    let start = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let raw = &bytes[start..];
    let line: Vec<u8> = if strip_ansi && raw.contains(&ESC) {
        without_ansi(raw)
            .into_iter()
            .filter(|&b| b != b'\r')
            .collect()
    } else {
        raw.iter().copied().filter(|&b| b != b'\r').collect()
    };
    let text = String::from_utf8_lossy(&line);
    (
        text.trim_end_matches([' ', '\t']).to_string(),
        bytes.len() - start,
    )
}

const ESC: u8 = 0x1b;

/// The length of the ANSI escape sequence at the start of `bytes` (`ESC [ … final`, or
/// `ESC` and one character), 0 if there is none.
fn escape_len(bytes: &[u8]) -> usize {
    match bytes {
        [ESC, b'[', rest @ ..] => rest
            .iter()
            .position(|b| (0x40..=0x7e).contains(b))
            .map_or(bytes.len(), |i| i + 3),
        [ESC, _, ..] => 2,
        [ESC] => 1,
        _ => 0,
    }
}

/// `bytes` without ANSI escape sequences. A cursor-left move, blanks and the same move again
/// (how VRP and Comware erase their pager prompt) go whole: the blanks only overwrote what is
/// already gone.
fn without_ansi(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let n = escape_len(&bytes[i..]);
        if n == 0 {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let sequence = &bytes[i..i + n];
        i += n;
        if sequence.ends_with(b"D") {
            let blanks = bytes[i..].iter().take_while(|&&b| b == b' ').count();
            if blanks > 0 && bytes[i + blanks..].starts_with(sequence) {
                i += blanks + n;
            }
        }
    }
    out
}

/// Removes `\r`, terminal erasures (a pager's `\b\b\b   \b\b\b` after ` --More-- `) and, with
/// `strip_ansi`, ANSI escape sequences (EOS colours, VRP's cursor moves), then decodes: lossy
/// UTF-8 plus a flag when the device sent other bytes.
pub(crate) fn clean(bytes: &[u8], strip_ansi: bool) -> (String, bool) {
    let stripped;
    let bytes = if strip_ansi && bytes.contains(&ESC) {
        stripped = without_ansi(bytes);
        &stripped[..]
    } else {
        bytes
    };
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

/// How a platform reads its output: whether to strip ANSI escapes, and which line (if any)
/// says the command failed.
pub(crate) struct OutputRules<'r> {
    pub(crate) strip_ansi: bool,
    pub(crate) errors: Option<&'r netsweep_platform::Regexes>,
}

impl OutputRules<'_> {
    /// Exec channels: exit statuses tell failures, output is taken as it is.
    pub(crate) const EXEC: OutputRules<'static> = OutputRules {
        strip_ansi: false,
        errors: None,
    };
}

/// Builds a [`CommandOutput`] from raw output bytes.
pub(crate) fn command_output(
    command: &str,
    body: &[u8],
    truncated: bool,
    rules: &OutputRules<'_>,
    elapsed_ms: f64,
) -> CommandOutput {
    let (output, non_utf8) = clean(body, rules.strip_ansi);
    let error = rules
        .errors
        .and_then(|r| r.error_line(&output))
        .map(str::to_string);
    CommandOutput {
        command: command.to_string(),
        name: None,
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
        let (s, bad) = clean(
            b"line 1\r\n\x08\x08\x08   \x08\x08\x08 interface Gi0/1\r\n",
            false,
        );
        assert_eq!(s, "line 1\n interface Gi0/1");
        assert!(!bad);
        let (s, bad) = clean(b"caf\xe9\r\n", false);
        assert_eq!(s, "caf\u{fffd}");
        assert!(bad);
    }

    #[test]
    fn last_line_strips_cr_and_trailing_blanks() {
        assert_eq!(last_line(b"a\r\nr1# ", false).0, "r1#");
        assert_eq!(last_line(b"r1>", false).1, 3);
        assert_eq!(last_line(b"x\n\x1b[1mleaf1>\x1b[0m ", true).0, "leaf1>");
    }

    #[test]
    fn ansi_colours_and_cursor_erasures_are_removed() {
        let (s, _) = clean(b"Ethernet1   \x1b[32mup\x1b[0m   up\r\n", true);
        assert_eq!(s, "Ethernet1   up   up");
        // VRP's pager: the prompt line is dropped by the session, then the erasure arrives.
        let erased = b"a\r\n\x1b[42D                                          \x1b[42Db\r\n";
        assert_eq!(clean(erased, true).0, "a\nb");
        // Without the platform's say-so, escapes are the device's output.
        assert!(clean(b"\x1b[1mx", false).0.contains('\u{1b}'));
    }

    #[test]
    fn the_platforms_failure_indicators_make_a_command_error() {
        let ios = netsweep_platform::builtin().get("cisco_ios").unwrap();
        let rules = OutputRules {
            strip_ansi: false,
            errors: Some(ios.regexes()),
        };
        let out = command_output(
            "show foo",
            b"        ^\r\n% Invalid input detected at '^' marker.\r\n",
            false,
            &rules,
            1.0,
        );
        assert_eq!(
            out.error.as_deref(),
            Some("% Invalid input detected at '^' marker.")
        );
        let fine = command_output(
            "show x",
            b" description 50% Invalid input\r\n",
            false,
            &rules,
            1.0,
        );
        assert_eq!(fine.error, None);
    }
}
