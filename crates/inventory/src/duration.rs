//! Human durations as written in inventories and on the command line: `10s`, `500ms`,
//! `1.5s`, `2m`, `1h`, `1m30s`, or a bare number of seconds (netmiko's `timeout: 100`).
//!
//! [`parse_duration`] reads any length, zero included (a simulated latency of `0` is
//! meaningful); [`parse_timeout`] is the one for time limits and refuses anything under a
//! millisecond: a zero timeout is never what anyone means, and libssh2 reads it as "wait
//! forever".

use std::time::Duration;

/// Parses a time limit: a duration of at least 1 ms. The error is a lowercase reason naming
/// the text.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    from_seconds(d.as_secs_f64(), text.trim())
}

/// Parses a duration of any length, zero included; the error is a lowercase reason naming the
/// text.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    let invalid = || {
        format!(
            "`{text}` is not a duration (write e.g. `10s`, `500ms`, `2m`, `1m30s` or a number of seconds)"
        )
    };
    let mut total_ms = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return Err(invalid());
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit_ms = match rest[..unit_len].trim() {
            // A bare number is seconds only when it is the whole text (`90`, not `1m30`).
            "" if number_len == text.len() => 1000.0,
            "ms" => 1.0,
            "s" | "sec" | "secs" => 1000.0,
            "m" | "min" | "mins" => 60_000.0,
            "h" => 3_600_000.0,
            _ => return Err(invalid()),
        };
        rest = &rest[unit_len..];
        total_ms += number * unit_ms;
    }
    to_duration(total_ms / 1000.0, text)
}

/// A number of seconds (from a YAML number) as a time limit (at least 1 ms).
pub(crate) fn from_seconds(seconds: f64, text: &str) -> Result<Duration, String> {
    let d = to_duration(seconds, text)?;
    // Below a millisecond rounds to zero on the wire (timeouts travel as whole ms).
    if d < Duration::from_millis(1) {
        return Err(format!("`{text}` must be at least 1ms"));
    }
    Ok(d)
}

fn to_duration(seconds: f64, text: &str) -> Result<Duration, String> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("`{text}` is not a duration"));
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("`{text}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_spellings() {
        let ms = |t: &str| parse_duration(t).unwrap().as_millis();
        assert_eq!(ms("10s"), 10_000);
        assert_eq!(ms("500ms"), 500);
        assert_eq!(ms("1.5s"), 1_500);
        assert_eq!(ms("2m"), 120_000);
        assert_eq!(ms("1h"), 3_600_000);
        assert_eq!(ms("1m30s"), 90_000);
        assert_eq!(ms("90"), 90_000);
        assert_eq!(ms(" 3 s "), 3_000);
    }

    #[test]
    fn refuses_nonsense_and_zero() {
        for bad in [
            "", "s", "10x", "1m30", "-1s", "0", "0s", "1..2s", "ten", "1e3s",
        ] {
            assert!(parse_timeout(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_timeout("0s").unwrap_err().contains("at least 1ms"));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0ms"), Ok(Duration::ZERO));
    }
}
