//! Back-off between attempts of a device that failed transiently.
//!
//! Exponential with jitter, so that a rack of switches that dropped off together does not get
//! hammered in lock-step when it comes back. Deciding *whether* to retry is the outcome's job
//! (`Outcome::is_transient`), not this module's.

use std::time::Duration;

use rand::Rng;

/// Exponential back-off: `base × 2^(attempt-1)`, capped at `max`, then ±`jitter` (a fraction).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// Delay before the first retry.
    pub base: Duration,
    /// Upper bound on any delay.
    pub max: Duration,
    /// Random spread, as a fraction of the delay (0.25 = ±25 %).
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
            jitter: 0.25,
        }
    }
}

impl Backoff {
    /// Delay after failed attempt number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(20);
        let nominal = self.base.saturating_mul(1u32 << exp).min(self.max);
        if self.jitter <= 0.0 {
            return nominal;
        }
        let spread = rand::rng().random_range(-self.jitter..=self.jitter);
        nominal.mul_f64((1.0 + spread).max(0.0)).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_and_caps_without_jitter() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_millis(350),
            jitter: 0.0,
        };
        assert_eq!(b.delay(1), Duration::from_millis(100));
        assert_eq!(b.delay(2), Duration::from_millis(200));
        assert_eq!(b.delay(3), Duration::from_millis(350));
        assert_eq!(b.delay(40), Duration::from_millis(350));
    }

    #[test]
    fn jitter_stays_within_its_band() {
        let b = Backoff {
            base: Duration::from_millis(1000),
            max: Duration::from_secs(60),
            jitter: 0.25,
        };
        for _ in 0..200 {
            let d = b.delay(1);
            assert!(d >= Duration::from_millis(750) && d <= Duration::from_millis(1250));
        }
    }
}
