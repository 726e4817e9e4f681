//! The made-up but stable facts about one device (serial number, addresses, boot time), and
//! the date formatting the outputs need.
//!
//! Derived from (seed, name) so outputs look the same across restarts, except the clock and the
//! uptime, which move as real ones do.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::hash_label;

/// Stable facts about one device.
#[derive(Clone, Debug)]
pub(crate) struct Facts {
    /// Chassis serial, e.g. `FTX1840A1B2`.
    pub serial: String,
    /// Two octets used for the device's addresses in outputs.
    octets: (u8, u8),
    /// When the device "booted": some days before the fleet started.
    boot: SystemTime,
    /// Size of `show running-config`.
    pub running_config_bytes: usize,
    seed: u64,
}

impl Facts {
    pub(crate) fn new(seed: u64, name: &str, index: usize, running_config_bytes: usize) -> Facts {
        let mut rng = ChaCha20Rng::seed_from_u64(hash_label(seed, name));
        const LETTERS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789";
        let tail: String = (0..4)
            .map(|_| LETTERS[rng.random_range(0..LETTERS.len())] as char)
            .collect();
        let serial = format!("FTX{}{}", rng.random_range(1700..2300), tail);
        let up = Duration::from_secs(rng.random_range(3_600..400 * 86_400));
        Facts {
            serial,
            octets: ((index / 250 % 250) as u8 + 1, (index % 250) as u8 + 1),
            boot: SystemTime::now() - up,
            running_config_bytes,
            seed,
        }
    }

    pub(crate) fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    pub(crate) fn boot_time(&self) -> SystemTime {
        self.boot
    }

    pub(crate) fn uptime(&self) -> Duration {
        self.boot.elapsed().unwrap_or_default()
    }

    pub(crate) fn octets(&self) -> (u8, u8) {
        self.octets
    }

    /// A module's serial number, stable for the device.
    pub(crate) fn part_serial(&self, part: u64) -> String {
        let h = hash_label(self.seed ^ part, &self.serial);
        format!("FOC{:08X}", h as u32)
    }

    /// `3 weeks, 2 days, 4 hours, 17 minutes`, as IOS words it.
    pub(crate) fn uptime_words(&self) -> String {
        let mut secs = self.uptime().as_secs();
        let mut parts = Vec::new();
        for (unit, size) in [
            ("year", 365 * 86_400),
            ("week", 7 * 86_400),
            ("day", 86_400),
            ("hour", 3_600),
            ("minute", 60),
        ] {
            let n = secs / size;
            secs %= size;
            if n > 0 || unit == "minute" {
                parts.push(format!("{n} {unit}{}", if n == 1 { "" } else { "s" }));
            }
        }
        parts.join(", ")
    }
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `10:50:01.123 UTC Sat Nov 21 2026`, the body of IOS's `show clock`.
pub(crate) fn clock_string(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // 1970-01-01 was a Thursday.
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    format!(
        "{:02}:{:02}:{:02}.{:03} UTC {} {} {} {}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since.subsec_millis(),
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        year
    )
}

/// `10:50:01`, for Linux `uptime`.
pub(crate) fn time_of_day(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_formats_a_known_instant() {
        // 2026-11-21 10:50:01.123 UTC
        let t = UNIX_EPOCH + Duration::from_millis(1_795_258_201_123);
        assert_eq!(clock_string(t), "10:50:01.123 UTC Sat Nov 21 2026");
        assert_eq!(time_of_day(t), "10:50:01");
    }

    #[test]
    fn facts_are_stable_for_a_seed_and_name() {
        assert_eq!(
            Facts::new(1, "r1", 0, 0).serial,
            Facts::new(1, "r1", 0, 0).serial
        );
        assert_ne!(
            Facts::new(1, "r1", 0, 0).serial,
            Facts::new(1, "r2", 0, 0).serial
        );
    }
}
