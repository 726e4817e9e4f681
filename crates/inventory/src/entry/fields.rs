//! The field tables: every spelling an entry, `defaults:` or a `simulate:` block accepts,
//! the logical setting ([`Slot`]) each spelling sets, the netmiko options refused by name, and
//! the nearest-name suggestion for a typo.
//!
//! Tables only: reading values is the reader's job.

/// One logical setting. Spellings that mean the same thing (`host`/`ip`, netmiko's
/// `conn_timeout`/our `connect_timeout`, `password`/`password_env`/`password_file`) share a
/// slot: an entry may set a slot once, and setting it hides the `defaults:` value whatever
/// spelling either uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Slot {
    Name,
    DeviceType,
    Host,
    Port,
    Username,
    Password,
    Secret,
    KeyFile,
    KeyPassphrase,
    JumpHost,
    LegacyAlgorithms,
    Connect,
    Command,
    Deadline,
    Groups,
    Simulate,
    Transport,
    /// Merged key by key, not as one slot: see `vars.rs`.
    Vars,
}

pub(super) const FIELDS: &[(&str, Slot)] = &[
    ("name", Slot::Name),
    ("device_type", Slot::DeviceType),
    ("host", Slot::Host),
    ("ip", Slot::Host),
    ("port", Slot::Port),
    ("transport", Slot::Transport),
    ("username", Slot::Username),
    ("password", Slot::Password),
    ("password_env", Slot::Password),
    ("password_file", Slot::Password),
    ("secret", Slot::Secret),
    ("secret_env", Slot::Secret),
    ("secret_file", Slot::Secret),
    ("key_file", Slot::KeyFile),
    ("key_passphrase", Slot::KeyPassphrase),
    ("key_passphrase_env", Slot::KeyPassphrase),
    ("key_passphrase_file", Slot::KeyPassphrase),
    ("jump_host", Slot::JumpHost),
    ("legacy_algorithms", Slot::LegacyAlgorithms),
    ("connect_timeout", Slot::Connect),
    ("conn_timeout", Slot::Connect),
    ("command_timeout", Slot::Command),
    ("timeout", Slot::Command),
    ("read_timeout_override", Slot::Command),
    ("deadline", Slot::Deadline),
    ("groups", Slot::Groups),
    ("simulate", Slot::Simulate),
    ("vars", Slot::Vars),
];

/// Every field a device entry accepts, for "expected one of" messages: the names of [`FIELDS`].
pub(super) const ENTRY_FIELDS: &[&str] = &{
    let mut names = [""; FIELDS.len()];
    let mut i = 0;
    while i < FIELDS.len() {
        names[i] = FIELDS[i].0;
        i += 1;
    }
    names
};

/// Whether `defaults:` may set a slot: everything that can sensibly be shared, so not a
/// device's name, address or extra groups.
const fn shared_in_defaults(slot: Slot) -> bool {
    !matches!(slot, Slot::Name | Slot::Host | Slot::Groups)
}

/// Fields `defaults:` accepts: the names of [`FIELDS`] whose slot can be shared.
pub(super) const DEFAULTS_FIELDS: &[&str] = &{
    const COUNT: usize = {
        let mut count = 0;
        let mut i = 0;
        while i < FIELDS.len() {
            if shared_in_defaults(FIELDS[i].1) {
                count += 1;
            }
            i += 1;
        }
        count
    };
    let mut names = [""; COUNT];
    let (mut i, mut n) = (0, 0);
    while i < FIELDS.len() {
        if shared_in_defaults(FIELDS[i].1) {
            names[n] = FIELDS[i].0;
            n += 1;
        }
        i += 1;
    }
    names
};

/// netmiko `ConnectHandler` options that mean nothing to netsweep. Named so the error can
/// say "netmiko option" instead of a bare "unknown field".
pub(super) const NETMIKO_OPTIONS: &[&str] = &[
    "allow_agent",
    "allow_auto_change",
    "alt_host_keys",
    "alt_key_file",
    "auth_timeout",
    "auto_connect",
    "banner_timeout",
    "blocking_timeout",
    "default_enter",
    "delay_factor_compat",
    "disable_lf_normalization",
    "disabled_algorithms",
    "encoding",
    "fast_cli",
    "global_cmd_verify",
    "global_delay_factor",
    "keepalive",
    "passphrase",
    "pkey",
    "response_return",
    "serial_settings",
    "session_log",
    "session_log_file_mode",
    "session_log_record_writes",
    "session_timeout",
    "sock",
    "ssh_config_file",
    "ssh_strict",
    "system_host_keys",
    "use_keys",
    "verbose",
];

/// The known name nearest to a misspelling, if it is near enough to be a typo.
pub(super) fn closest(written: &str, known: &[&'static str]) -> Option<&'static str> {
    known
        .iter()
        .map(|k| (edit_distance(written, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) && *d < k.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_a_suggestion_and_strangers_do_not() {
        assert_eq!(closest("pasword", ENTRY_FIELDS), Some("password"));
        assert_eq!(closest("devcie_type", ENTRY_FIELDS), Some("device_type"));
        assert_eq!(closest("hots", ENTRY_FIELDS), Some("host"));
        assert_eq!(closest("colour", ENTRY_FIELDS), None);
    }

    #[test]
    fn defaults_take_every_field_but_name_address_and_groups() {
        for (name, _) in FIELDS {
            let shared = !matches!(*name, "name" | "host" | "ip" | "groups");
            assert_eq!(DEFAULTS_FIELDS.contains(name), shared, "{name}");
        }
    }
}
