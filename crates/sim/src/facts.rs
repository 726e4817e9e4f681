//! The made-up but stable facts about one device (serial number, addresses, MAC, boot time),
//! and the template variables they become (`{{serial}}`, `{{now_hms}}`, `{{uptime_words}}`…).
//!
//! Derived from (seed, name) so outputs look the same across restarts, except the clock and
//! the uptime, which move as real ones do.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::hash_label;
use crate::model::Model;
use crate::template::Vars;

/// Stable facts about one device.
#[derive(Clone, Debug)]
pub(crate) struct Facts {
    /// Chassis serial, e.g. `FTX1840A1B2` (the prefix is the platform model's).
    pub serial: String,
    /// Two octets used for the device's addresses in outputs.
    octets: (u8, u8),
    /// The device's base MAC address.
    mac: [u8; 6],
    /// When the device "booted": some days before the fleet started.
    boot: SystemTime,
    /// Size of `show running-config`.
    pub running_config_bytes: usize,
    seed: u64,
}

impl Facts {
    pub(crate) fn new(
        seed: u64,
        name: &str,
        index: usize,
        running_config_bytes: usize,
        serial_prefix: &str,
    ) -> Facts {
        let mut rng = ChaCha20Rng::seed_from_u64(hash_label(seed, name));
        const LETTERS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789";
        let tail: String = (0..4)
            .map(|_| LETTERS[rng.random_range(0..LETTERS.len())] as char)
            .collect();
        let serial = format!("{serial_prefix}{}{}", rng.random_range(1700..2300), tail);
        let up = Duration::from_secs(rng.random_range(3_600..400 * 86_400));
        let mut mac = [0u8; 6];
        rng.fill(&mut mac[..]);
        // A locally administered unicast address: never someone's real hardware.
        mac[0] = (mac[0] & 0xfc) | 0x02;
        Facts {
            serial,
            octets: ((index / 250 % 250) as u8 + 1, (index % 250) as u8 + 1),
            mac,
            boot: SystemTime::now() - up,
            running_config_bytes,
            seed,
        }
    }

    pub(crate) fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    /// Two octets used for the device's addresses in outputs.
    pub(crate) fn octets(&self) -> (u8, u8) {
        self.octets
    }

    pub(crate) fn uptime(&self) -> Duration {
        self.boot.elapsed().unwrap_or_default()
    }

    /// A module's serial number, stable for the device.
    fn part_serial(&self, part: u64) -> String {
        let h = hash_label(self.seed ^ part, &self.serial);
        format!("FOC{:08X}", h as u32)
    }

    /// `3 weeks, 2 days, 4 hours, 17 minutes`, as IOS words it.
    fn uptime_words(&self) -> String {
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

    fn mac_with(&self, group: usize, separator: &str, upper: bool) -> String {
        let hex: String = self.mac.iter().map(|b| format!("{b:02x}")).collect();
        let hex = if upper { hex.to_ascii_uppercase() } else { hex };
        let chunks: Vec<&str> = (0..hex.len())
            .step_by(group)
            .map(|i| &hex[i..i + group])
            .collect();
        chunks.join(separator)
    }
}

/// Every variable [`SessionVars`] computes, for model checks. (A model's own `facts:` and a
/// template's extras come on top.)
const FACTS: &[&str] = &[
    "hostname",
    "username",
    "privilege",
    "serial",
    "part_serial_1",
    "part_serial_2",
    "mac",
    "mac_colon",
    "mac_dash",
    "oct_a",
    "oct_b",
    "ip_uplink",
    "ip_lan",
    "ip_loopback",
    "ip_mgmt",
    "uptime_words",
    "uptime_days",
    "uptime_hours",
    "uptime_minutes",
    "uptime_seconds",
    "uptime_weeks",
    "uptime_wdays",
    "uptime_hh",
    "uptime_mm",
    "uptime_ss",
    "clock_ios",
    "boot_ios",
    "bold",
    "green",
    "red",
    "reset",
];

/// Variables with a time prefix: `now_*` and `boot_*`.
const TIME_PARTS: &[&str] = &[
    "hms",
    "ms",
    "wday",
    "weekday",
    "mon",
    "mon_lower",
    "mm",
    "dd",
    "d",
    "yyyy",
    "iso",
];

/// Whether `name` is a variable the facts provide.
pub(crate) fn is_fact(name: &str) -> bool {
    FACTS.contains(&name)
        || ["now_", "boot_"].iter().any(|p| {
            name.strip_prefix(p)
                .is_some_and(|rest| TIME_PARTS.contains(&rest))
        })
}

/// The variables of one session: the device's facts, the model's constants, the session's
/// hostname, user and privilege, and a template's own extras (`caret`, `pad`…).
pub(crate) struct SessionVars<'a> {
    pub facts: &'a Facts,
    pub model: &'a Model,
    pub hostname: &'a str,
    pub username: &'a str,
    pub privilege: u8,
    pub colours: bool,
    pub extra: &'a [(&'a str, String)],
}

impl Vars for SessionVars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        if let Some((_, v)) = self.extra.iter().find(|(n, _)| *n == name) {
            return Some(v.clone());
        }
        if let Some(v) = self.model.facts.get(name) {
            return Some(v.clone());
        }
        let f = self.facts;
        let (a, b) = f.octets;
        let up = f.uptime().as_secs();
        let colour = |code: &str| {
            if self.colours {
                format!("\x1b[{code}m")
            } else {
                String::new()
            }
        };
        Some(match name {
            "hostname" => self.hostname.to_owned(),
            "username" => self.username.to_owned(),
            "privilege" => self.privilege.to_string(),
            "serial" => f.serial.clone(),
            "part_serial_1" => f.part_serial(1),
            "part_serial_2" => f.part_serial(2),
            "mac" => f.mac_with(4, ".", false),
            "mac_colon" => f.mac_with(2, ":", false),
            "mac_dash" => f.mac_with(4, "-", false),
            "oct_a" => a.to_string(),
            "oct_b" => b.to_string(),
            "ip_uplink" => format!("10.{a}.{b}.1"),
            "ip_lan" => format!("172.16.{b}.1"),
            "ip_loopback" => format!("10.255.{a}.{b}"),
            "ip_mgmt" => format!("192.168.{a}.{b}"),
            "uptime_words" => f.uptime_words(),
            "uptime_days" => (up / 86_400).to_string(),
            "uptime_hours" => (up / 3_600 % 24).to_string(),
            "uptime_minutes" => (up / 60 % 60).to_string(),
            "uptime_seconds" => (up % 60).to_string(),
            "uptime_weeks" => (up / (7 * 86_400)).to_string(),
            "uptime_wdays" => (up / 86_400 % 7).to_string(),
            "uptime_hh" => format!("{:02}", up / 3_600 % 24),
            "uptime_mm" => format!("{:02}", up / 60 % 60),
            "uptime_ss" => format!("{:02}", up % 60),
            "clock_ios" => clock_string(f.now()),
            "boot_ios" => clock_string(f.boot),
            "bold" => colour("1"),
            "green" => colour("32"),
            "red" => colour("31"),
            "reset" => colour("0"),
            _ => {
                let (t, part) = if let Some(part) = name.strip_prefix("now_") {
                    (f.now(), part)
                } else {
                    (f.boot, name.strip_prefix("boot_")?)
                };
                time_part(t, part)?
            }
        })
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

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
// 1970-01-01 was a Thursday.
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const WEEKDAYS_LONG: [&str; 7] = [
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
];

/// One part of a UTC time: `hms` `10:50:01`, `wday` `Sat`, `mon` `Nov`, `iso`
/// `2026-11-21`…
fn time_part(t: SystemTime, part: &str) -> Option<String> {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let weekday = days.rem_euclid(7) as usize;
    Some(match part {
        "hms" => format!(
            "{:02}:{:02}:{:02}",
            of_day / 3600,
            of_day / 60 % 60,
            of_day % 60
        ),
        "ms" => format!("{:03}", since.subsec_millis()),
        "wday" => WEEKDAYS[weekday].to_owned(),
        "weekday" => WEEKDAYS_LONG[weekday].to_owned(),
        "mon" => MONTHS[(month - 1) as usize].to_owned(),
        "mon_lower" => MONTHS[(month - 1) as usize].to_ascii_lowercase(),
        "mm" => format!("{month:02}"),
        "dd" => format!("{day:02}"),
        "d" => day.to_string(),
        "yyyy" => year.to_string(),
        "iso" => format!("{year}-{month:02}-{day:02}"),
        _ => return None,
    })
}

/// `10:50:01.123 UTC Sat Nov 21 2026`, the body of IOS's `show clock`.
pub(crate) fn clock_string(t: SystemTime) -> String {
    let part = |p| time_part(t, p).unwrap_or_default();
    format!(
        "{}.{} UTC {} {} {} {}",
        part("hms"),
        part("ms"),
        part("wday"),
        part("mon"),
        part("d"),
        part("yyyy")
    )
}

/// `10:50:01`, for Linux `uptime`.
pub(crate) fn time_of_day(t: SystemTime) -> String {
    time_part(t, "hms").unwrap_or_default()
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
        assert_eq!(time_part(t, "iso").unwrap(), "2026-11-21");
        assert_eq!(time_part(t, "weekday").unwrap(), "Saturday");
        assert_eq!(time_part(t, "mon_lower").unwrap(), "nov");
    }

    #[test]
    fn facts_are_stable_for_a_seed_and_name() {
        let f = |name| Facts::new(1, name, 0, 0, "FTX");
        assert_eq!(f("r1").serial, f("r1").serial);
        assert_ne!(f("r1").serial, f("r2").serial);
        assert!(f("r1").serial.starts_with("FTX"));
        assert_eq!(f("r1").mac, f("r1").mac);
        assert_eq!(f("r1").mac_with(4, ".", false).len(), 14);
        assert!(is_fact("now_hms") && is_fact("boot_iso") && !is_fact("now_nope"));
    }
}
