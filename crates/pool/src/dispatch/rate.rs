//! `--connect-rate`: new sessions at most N per second, across every worker.
//!
//! The dispatcher alone starts attempts, and each attempt is exactly one new session (a
//! worker never reconnects on its own: a retry is a new attempt, handed out again by the
//! dispatcher). So pacing the starts here paces the sessions every device sees, for both
//! pools and through retries, with no budget shared between workers.
//!
//! Starts are spaced one interval apart on a fixed schedule. A start that comes late (the
//! dispatcher woke a little after its time, or no worker was free) keeps the schedule when
//! it is less than one interval late, so small delays do not add up into a lower rate; a
//! later one starts a new schedule from now, so a pause is never made up by a burst.

use std::time::{Duration, Instant};

pub(super) struct RateGate {
    interval: Duration,
    /// When the next session may start; `None` before the first.
    next: Option<Instant>,
}

impl RateGate {
    pub(super) fn new(interval: Duration) -> Self {
        RateGate {
            interval,
            next: None,
        }
    }

    /// When the next session may start, if that is after `now`.
    pub(super) fn closed_until(&self, now: Instant) -> Option<Instant> {
        self.next.filter(|next| *next > now)
    }

    /// A session starts at `now` (the gate must be open).
    pub(super) fn take(&mut self, now: Instant) {
        let on_schedule = match self.next {
            Some(next) if now < next + self.interval => next,
            _ => now,
        };
        self.next = Some(on_schedule + self.interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_keep_their_schedule_but_never_burst_after_a_pause() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut gate = RateGate::new(Duration::from_millis(20));
        assert_eq!(gate.closed_until(t0), None);
        gate.take(t0);
        assert_eq!(gate.closed_until(ms(5)), Some(ms(20)));
        // 3 ms late: the next is still due at 40, not 43.
        gate.take(ms(23));
        assert_eq!(gate.closed_until(ms(23)), Some(ms(40)));
        // A pause of a second: one start now, the next a full interval later.
        gate.take(ms(1000));
        assert_eq!(gate.closed_until(ms(1000)), Some(ms(1020)));
    }
}
