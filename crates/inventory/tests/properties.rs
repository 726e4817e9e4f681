//! Property tests of the inventory reader, which reads whatever a user (or a generator script)
//! wrote: any YAML-ish text, and any bytes at all, give a valid inventory or problems each at
//! a real `file:line:column` — never a panic.

use std::path::Path;

use netsweep_inventory::{Inventory, InventoryError, parse};
use proptest::prelude::*;

/// The pieces inventories are made of, valid and not: field names, values, YAML punctuation,
/// indentation, anchors, merge keys, quotes, comments, odd characters.
const TOKENS: &[&str] = &[
    "- ",
    "  ",
    "    ",
    "\n",
    "\n",
    "\n- ",
    ": ",
    ":",
    " ",
    ", ",
    "\t",
    "device_type",
    "host",
    "ip",
    "name",
    "port",
    "username",
    "password",
    "secret",
    "password_env",
    "secret_file",
    "key_file",
    "timeout",
    "deadline",
    "groups",
    "simulate",
    "fault",
    "latency",
    "defaults",
    "routers",
    "colour",
    "allow_agent",
    "linux",
    "cisco_ios",
    "juniper",
    "127.0.0.1",
    "r1",
    "22",
    "99999",
    "-1",
    "0x1F",
    "1.5",
    "10s",
    "yes",
    "~",
    "null",
    "${PW}",
    "${UNSET}",
    "$${PW}",
    "[",
    "]",
    "{",
    "}",
    "\"",
    "'",
    "&a ",
    "*a",
    "<<: ",
    "# note",
    "|",
    ">",
    "---",
    "...",
    "?",
    "!!str ",
    "é",
    "\u{1b}",
    "\u{0}",
    "\r\n",
];

fn yamlish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            8 => prop::sample::select(TOKENS).prop_map(str::to_owned),
            1 => "[a-z0-9_.-]{1,8}",
        ],
        0..80,
    )
    .prop_map(|tokens| tokens.concat())
}

/// A valid inventory, to be damaged by the test.
const VALID: &str = "defaults:
  device_type: cisco_ios
  username: admin
  password: ${PW}
routers:
  - host: 127.0.1.1
  - name: core-2
    ip: 127.0.1.2
    port: 2222
    command_timeout: 60s
switches:
  - host: 127.0.2.1
    groups: [access]
";

fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("temp dir");
    // Relative secret and key files resolve inside this empty directory.
    let path = dir.path().join("devices.yaml");
    let env = |name: &str| (name == "PW").then(|| "s3cret".to_owned());
    match parse(bytes, &path, netsweep_platform::builtin(), &env) {
        Ok(inventory) => valid(&inventory),
        Err(InventoryError::Invalid { problems }) => {
            prop_assert!(!problems.is_empty());
            // Every character YAML may take for a line break counts, for an upper bound.
            let breaks = String::from_utf8_lossy(bytes)
                .chars()
                .filter(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
                .count();
            let lines = breaks as u64 + 1;
            for problem in &problems {
                let at = &problem.location;
                prop_assert_eq!(&at.file, &path);
                prop_assert!(
                    (1..=lines).contains(&at.line) && at.column >= 1,
                    "{problem} is not a position in a {lines}-line file"
                );
            }
            let text = InventoryError::Invalid { problems }.to_string();
            for line in text.lines().filter(|l| !l.starts_with("and ")) {
                prop_assert!(line.starts_with(&format!("{}:", path.display())), "{line}");
            }
            prop_assert!(
                !text.contains("s3cret"),
                "a credential in a message: {text}"
            );
            Ok(())
        }
        Err(other) => Err(TestCaseError::fail(format!(
            "not a validation error: {other}"
        ))),
    }
}

fn valid(inventory: &Inventory) -> Result<(), TestCaseError> {
    prop_assert!(!inventory.devices.is_empty());
    let mut names: Vec<&str> = inventory.devices.iter().map(|d| d.name()).collect();
    prop_assert!(names.iter().all(|n| !n.trim().is_empty()));
    names.sort_unstable();
    let count = names.len();
    names.dedup();
    prop_assert_eq!(names.len(), count, "duplicate names were accepted");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn yamlish_text_is_an_inventory_or_located_problems(text in yamlish()) {
        check(text.as_bytes())?;
    }

    #[test]
    fn a_valid_inventory_damaged_anywhere_is_read_or_located(
        at in any::<prop::sample::Index>(),
        cut in 0usize..8,
        insert in prop::sample::select(TOKENS),
    ) {
        let at = at.index(VALID.len() + 1);
        let mut text = VALID.as_bytes()[..at].to_vec();
        text.extend(insert.as_bytes());
        text.extend(&VALID.as_bytes()[(at + cut).min(VALID.len())..]);
        check(&text)?;
    }

    #[test]
    fn any_bytes_are_an_inventory_or_located_problems(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        check(&bytes)?;
    }
}

#[test]
fn the_undamaged_inventory_is_valid() {
    let env = |name: &str| (name == "PW").then(|| "s3cret".to_owned());
    let inventory = parse(
        VALID.as_bytes(),
        Path::new("devices.yaml"),
        netsweep_platform::builtin(),
        &env,
    )
    .unwrap();
    assert_eq!(inventory.devices.len(), 3);
}
