//! Controls of a whole sweep, beyond how many devices run at once: how fast new sessions
//! start (`--connect-rate`), how many devices of one inventory group run together
//! (`--max-per-group`), and when a sweep stops starting devices (`--canary`,
//! `--max-failures`).
//!
//! Only the settings and the reasons a sweep stops live here, as plain data; the dispatcher
//! (`crate::dispatch`) applies them, and the caller words them for people.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How a sweep is paced and when it stops early. Everything is off by default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SweepControls {
    /// New sessions per second, across every worker. Each attempt is a new session, so
    /// retries are paced too. `None`: a device starts as soon as a worker is free.
    pub connect_rate: Option<ConnectRate>,
    /// At most this many devices of any one inventory group in flight at once; a device in
    /// several groups counts against each.
    pub max_per_group: Option<usize>,
    /// Devices that run first, alone; the others start only once every one of them is `ok`.
    pub canary: Option<Canary>,
    /// Stop starting devices once this many have failed.
    pub max_failures: Option<FailureLimit>,
}

/// New sessions per second, more than zero.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConnectRate(f64);

impl ConnectRate {
    /// The fastest rate accepted: one session per microsecond is far beyond any AAA server.
    pub const MAX: f64 = 1_000_000.0;

    /// `per_second` sessions a second; `None` unless it is a finite number in (0, MAX].
    pub fn new(per_second: f64) -> Option<Self> {
        (per_second.is_finite() && per_second > 0.0 && per_second <= Self::MAX)
            .then_some(ConnectRate(per_second))
    }

    /// Sessions per second.
    pub fn per_second(self) -> f64 {
        self.0
    }

    /// The time between two session starts.
    pub fn interval(self) -> Duration {
        Duration::from_secs_f64(1.0 / self.0)
    }
}

impl FromStr for ConnectRate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let value: f64 = s
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not a number of sessions per second (e.g. 50, 0.5)"))?;
        ConnectRate::new(value).ok_or_else(|| {
            format!(
                "{s:?}: the rate must be more than 0 and at most {} sessions per second",
                ConnectRate::MAX
            )
        })
    }
}

/// Which devices make the canary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Canary {
    /// The first N devices of the sweep, in its order.
    First(usize),
    /// The devices of this inventory group.
    Group(String),
}

/// How many failed devices stop a sweep: a count, or a share of the devices it sweeps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FailureLimit {
    /// This many failed devices.
    Count(usize),
    /// This percentage (more than 0, at most 100) of the devices the run sweeps, rounded up.
    Percent(f64),
}

impl FailureLimit {
    /// The number of failed devices that stops a run of `devices` devices: at least 1.
    pub fn resolve(self, devices: usize) -> usize {
        match self {
            FailureLimit::Count(n) => n.max(1),
            FailureLimit::Percent(p) => ((p / 100.0 * devices as f64).ceil() as usize).max(1),
        }
    }
}

impl FromStr for FailureLimit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some(number) = s.strip_suffix('%') {
            let p: f64 = number
                .trim()
                .parse()
                .map_err(|_| format!("{s:?} is not a percentage (e.g. 5%)"))?;
            if !(p > 0.0 && p <= 100.0) {
                return Err(format!(
                    "{s:?}: a percentage must be more than 0% and at most 100%"
                ));
            }
            return Ok(FailureLimit::Percent(p));
        }
        match s.parse::<usize>() {
            Ok(0) => Err(
                "0 would stop before any device starts; use 1 to stop at the first failure".into(),
            ),
            Ok(n) => Ok(FailureLimit::Count(n)),
            Err(_) => Err(format!(
                "{s:?} is neither a device count (e.g. 10) nor a percentage (e.g. 5%)"
            )),
        }
    }
}

impl fmt::Display for FailureLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureLimit::Count(n) => write!(f, "{n}"),
            FailureLimit::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// Why a sweep stopped starting devices before it had started them all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Not every canary device ended `ok`.
    CanaryFailed {
        /// Canary devices that did not end `ok`.
        failed: usize,
        /// Canary devices.
        canaries: usize,
    },
    /// The failure limit was reached.
    TooManyFailures {
        /// Devices failed when the sweep stopped.
        failed: usize,
        /// The limit, as a device count.
        limit: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_limits_parse_and_resolve() {
        assert_eq!("3".parse(), Ok(FailureLimit::Count(3)));
        assert_eq!("5%".parse(), Ok(FailureLimit::Percent(5.0)));
        assert_eq!(" 2.5 % ".parse(), Ok(FailureLimit::Percent(2.5)));
        for bad in ["0", "0%", "101%", "-1", "x", "%", "1.5"] {
            assert!(bad.parse::<FailureLimit>().is_err(), "{bad}");
        }
        assert_eq!(FailureLimit::Count(3).resolve(1000), 3);
        assert_eq!(FailureLimit::Percent(5.0).resolve(1000), 50);
        // Rounded up, and never 0: 1 % of 10 devices is the first failure.
        assert_eq!(FailureLimit::Percent(1.0).resolve(10), 1);
        assert_eq!(FailureLimit::Percent(10.0).resolve(15), 2);
        assert_eq!(FailureLimit::Percent(100.0).resolve(7), 7);
    }

    #[test]
    fn connect_rates_parse_within_bounds() {
        assert_eq!(
            "50".parse::<ConnectRate>().unwrap().interval(),
            Duration::from_millis(20)
        );
        assert_eq!(
            "0.5".parse::<ConnectRate>().unwrap().interval(),
            Duration::from_secs(2)
        );
        for bad in ["0", "-3", "nan", "inf", "x", "2000000"] {
            assert!(bad.parse::<ConnectRate>().is_err(), "{bad}");
        }
    }
}
