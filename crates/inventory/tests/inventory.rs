//! Inventory loading end to end: real files in temp dirs, every accepted shape, every kind of
//! problem with its exact file:line:column message, secret references, names and `--limit`.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use netsweep_inventory::{
    Inventory, InventoryError, ProblemKind, SimSettings, load, load_with_env, parse,
};
use netsweep_protocol::{Timeouts, Transport};

/// Parses `yaml` as if read from `devices.yaml` in the working directory, with `env` as the
/// whole environment.
fn parse_str(yaml: &str, env: &[(&str, &str)]) -> Result<Inventory, InventoryError> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    parse(
        yaml.as_bytes(),
        Path::new("devices.yaml"),
        netsweep_platform::builtin(),
        &|k| env.get(k).cloned(),
    )
}

fn ok(yaml: &str) -> Inventory {
    parse_str(yaml, &[]).unwrap_or_else(|e| panic!("unexpected error:\n{e}"))
}

/// The error's full text, checked never to contain any of the test credentials.
fn err_text(yaml: &str, env: &[(&str, &str)]) -> String {
    let e = parse_str(yaml, env).expect_err("inventory should be refused");
    let text = e.to_string();
    assert_no_secret(&text);
    assert_no_secret(&format!("{e:?}"));
    text
}

const SECRETS: &[&str] = &["hunter2", "en4ble-s3cret", "from-env-pw", "file-pw-123"];

fn assert_no_secret(text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "credential `{s}` leaked into: {text}");
    }
}

fn names(inv: &Inventory) -> Vec<&str> {
    inv.devices.iter().map(|d| d.name()).collect()
}

#[test]
fn the_seeds_grouped_form_loads_with_groups_and_ip_names() {
    // As written in the course material (netmiko keys, `ip`, no port).
    let inv = ok("routers:
- device_type: cisco_ios
  ip: 127.0.100.1
  username: cisco
  password: hunter2
  secret: en4ble-s3cret
- device_type: cisco_ios
  ip: 127.0.100.2
  username: cisco
  password: hunter2
  secret: en4ble-s3cret
switches:
- device_type: cisco_xe
  ip: 127.0.100.3
  username: cisco
  password: hunter2
");
    assert_eq!(names(&inv), ["127.0.100.1", "127.0.100.2", "127.0.100.3"]);
    assert_eq!(inv.groups, ["routers", "switches"]);
    let r1 = &inv.devices[0].target;
    assert_eq!(r1.host, "127.0.100.1");
    assert_eq!(r1.port, 22);
    assert_eq!(r1.platform, "cisco_ios");
    assert_eq!(r1.username, "cisco");
    assert_eq!(r1.password.as_ref().unwrap().expose(), "hunter2");
    assert_eq!(r1.secret.as_ref().unwrap().expose(), "en4ble-s3cret");
    assert_eq!(r1.groups, ["routers"]);
    // cisco_xe is an alias: the canonical platform is recorded.
    assert_eq!(inv.devices[2].target.platform, "cisco_ios");
    assert_eq!(inv.devices[2].target.secret, None);
    assert_eq!(inv.devices[2].target.groups, ["switches"]);
    assert_eq!(inv.devices[0].location.line, 2);
    assert_eq!(inv.devices[0].location.column, 3);
    assert_eq!(inv.devices[0].location.file, Path::new("devices.yaml"));
    // Neither Debug of the inventory nor of a device shows a credential.
    assert_no_secret(&format!("{inv:?}"));
}

#[test]
fn a_plain_list_works_without_groups() {
    let inv = ok(
        "- {device_type: linux, host: 127.0.0.1, port: 2201, username: u, name: a}
- {device_type: linux, host: 127.0.0.2, username: u}
",
    );
    assert_eq!(names(&inv), ["a", "127.0.0.2"]);
    assert!(inv.groups.is_empty());
    assert!(inv.devices[0].target.groups.is_empty());
    assert_eq!(inv.devices[0].target.port, 2201);
    assert_eq!(inv.devices[0].target.password, None);
}

#[test]
fn defaults_are_merged_and_any_spelling_of_a_field_hides_them() {
    let inv = parse_str(
        "defaults:
  device_type: cisco_ios
  username: admin
  password: hunter2
  port: 2222
  command_timeout: 45s
routers:
  - host: 127.0.1.1
  - host: 127.0.1.2
    password_env: PW
    port: 22
    username: other
  - host: 127.0.1.3
    password:
  - host: 127.0.1.4
    device_type: linux
    timeout: 100
",
        &[("PW", "from-env-pw")],
    )
    .unwrap();
    let t: Vec<_> = inv.devices.iter().map(|d| &d.target).collect();
    assert_eq!(t[0].platform, "cisco_ios");
    assert_eq!(t[0].username, "admin");
    assert_eq!(t[0].port, 2222);
    assert_eq!(t[0].password.as_ref().unwrap().expose(), "hunter2");
    assert_eq!(
        inv.devices[0].timeouts.command_timeout,
        Some(Duration::from_secs(45))
    );
    assert_eq!(t[1].port, 22);
    assert_eq!(t[1].username, "other");
    assert_eq!(t[1].password.as_ref().unwrap().expose(), "from-env-pw");
    // An explicit empty value unsets the default.
    assert_eq!(t[2].password, None);
    assert_eq!(t[3].platform, "linux");
    // netmiko's `timeout` is the same slot as `command_timeout`: the entry's wins.
    assert_eq!(
        inv.devices[3].timeouts.command_timeout,
        Some(Duration::from_secs(100))
    );
}

#[test]
fn yaml_anchors_and_merge_keys_work() {
    let inv = ok("common: &common
  - &base {device_type: cisco_ios, username: u, password: hunter2, host: 127.0.0.9}
routers:
  - <<: *base
    host: 127.0.0.1
  - <<: *base
    host: 127.0.0.2
");
    assert_eq!(names(&inv), ["127.0.0.9", "127.0.0.1", "127.0.0.2"]);
    assert_eq!(inv.groups, ["common", "routers"]);
    assert_eq!(inv.devices[2].target.username, "u");
}

#[test]
fn names_default_to_host_or_host_port_when_hosts_are_shared() {
    let inv = ok(
        "- {device_type: linux, username: u, host: 127.0.0.1, port: 20001}
- {device_type: linux, username: u, host: 127.0.0.1, port: 20002}
- {device_type: linux, username: u, host: 127.0.0.2}
- {device_type: linux, username: u, host: '::1', port: 2200}
- {device_type: linux, username: u, host: '::1', port: 2201}
- {device_type: linux, username: u, host: 127.0.0.1, port: 20003, name: named}
",
    );
    assert_eq!(
        names(&inv),
        [
            "127.0.0.1:20001",
            "127.0.0.1:20002",
            "127.0.0.2",
            "[::1]:2200",
            "[::1]:2201",
            "named"
        ]
    );
}

#[test]
fn credentials_by_reference_and_literal_spelling() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("secrets")).unwrap();
    fs::write(dir.path().join("secrets/pw"), "file-pw-123\n").unwrap();
    fs::write(dir.path().join("secrets/en"), "en4ble-s3cret\r\n").unwrap();
    let path = dir.path().join("devices.yaml");
    fs::write(
        &path,
        "defaults: {device_type: cisco_ios, username: u}
routers:
  - host: 127.0.0.1
    password: ${NS_PW}
    secret_env: NS_EN
  - host: 127.0.0.2
    password_file: secrets/pw
    secret_file: secrets/en
  - host: 127.0.0.3
    password: $${NOT_A_REF}
    secret: 0x1F
  - host: 127.0.0.4
    password: 1.10
    secret: yes
  - host: 127.0.0.5
    password: '${QUOTED}'
    secret: pre${X}post
",
    )
    .unwrap();
    let env: HashMap<&str, &str> = [
        ("NS_PW", "from-env-pw"),
        ("NS_EN", "en4ble-s3cret"),
        ("QUOTED", "from-env-pw"),
    ]
    .into();
    let inv = load_with_env(&path, netsweep_platform::builtin(), &|k| {
        env.get(k).map(|v| v.to_string())
    })
    .unwrap();
    let pw = |i: usize| {
        inv.devices[i]
            .target
            .password
            .as_ref()
            .unwrap()
            .expose()
            .to_owned()
    };
    let en = |i: usize| {
        inv.devices[i]
            .target
            .secret
            .as_ref()
            .unwrap()
            .expose()
            .to_owned()
    };
    assert_eq!(
        (pw(0), en(0)),
        ("from-env-pw".into(), "en4ble-s3cret".into())
    );
    // Relative to the inventory's directory; one trailing newline stripped.
    assert_eq!(
        (pw(1), en(1)),
        ("file-pw-123".into(), "en4ble-s3cret".into())
    );
    assert_eq!(pw(2), "${NOT_A_REF}");
    // YAML would type these as 31, 1.1 and true: a credential keeps its spelling.
    assert_eq!(en(2), "0x1F");
    assert_eq!((pw(3), en(3)), ("1.10".into(), "yes".into()));
    assert_eq!(pw(4), "from-env-pw");
    assert_eq!(en(4), "pre${X}post");
}

#[test]
fn timeouts_accept_durations_and_netmiko_seconds() {
    let inv = ok("- device_type: linux
  host: 127.0.0.1
  username: u
  conn_timeout: 5
  command_timeout: 500ms
  deadline: 1m30s
- device_type: linux
  host: 127.0.0.2
  username: u
  connect_timeout: 2.5
  read_timeout_override: 20s
");
    let t0 = inv.devices[0].timeouts;
    assert_eq!(t0.connect_timeout, Some(Duration::from_secs(5)));
    assert_eq!(t0.command_timeout, Some(Duration::from_millis(500)));
    assert_eq!(t0.deadline, Some(Duration::from_secs(90)));
    let t1 = inv.devices[1].timeouts;
    assert_eq!(t1.connect_timeout, Some(Duration::from_millis(2500)));
    assert_eq!(t1.command_timeout, Some(Duration::from_secs(20)));
    let applied = t1.apply(Timeouts::default());
    assert_eq!(applied.connect, Duration::from_millis(2500));
    assert_eq!(applied.command, Duration::from_secs(20));
    assert_eq!(applied.deadline, Timeouts::default().deadline);
}

#[test]
fn simulate_blocks_and_extra_groups() {
    let inv = ok(
        "defaults: {device_type: cisco_ios, username: u, simulate: {latency: 20ms}}
lab:
  - host: 127.0.0.1
    groups: [core, edge]
    simulate:
      fault: auth
      latency: 200ms
      jitter: 50ms
      banner_delay: 1s
      running_config_bytes: 2000000
      privilege15: true
  - host: 127.0.0.2
    groups: edge
    simulate: {fault: [hang-banner, 'flaky:2']}
  - host: 127.0.0.3
",
    );
    assert_eq!(inv.groups, ["lab", "core", "edge"]);
    assert_eq!(inv.devices[0].target.groups, ["lab", "core", "edge"]);
    assert_eq!(inv.devices[1].target.groups, ["lab", "edge"]);
    assert_eq!(
        inv.devices[0].simulate,
        Some(SimSettings {
            fault: vec!["auth".into()],
            latency: Some("200ms".into()),
            jitter: Some("50ms".into()),
            banner_delay: Some("1s".into()),
            running_config_bytes: Some(2_000_000),
            privilege15: Some(true),
        })
    );
    assert_eq!(
        inv.devices[1].simulate.as_ref().unwrap().fault,
        ["hang-banner", "flaky:2"]
    );
    // A whole block replaces the default block; no block inherits it.
    assert_eq!(inv.devices[1].simulate.as_ref().unwrap().latency, None);
    assert_eq!(
        inv.devices[2].simulate.as_ref().unwrap().latency.as_deref(),
        Some("20ms")
    );
}

// ---- vars: for change templates ----

/// A device's vars as JSON text, keys sorted.
fn vars_of(inv: &Inventory, name: &str) -> String {
    serde_json::Value::Object(inv.get(name).unwrap().vars.clone()).to_string()
}

#[test]
fn vars_merge_key_by_key_defaults_then_groups_in_order_then_the_entry() {
    let inv = ok("defaults:
  device_type: cisco_ios
  username: u
  vars: {ntp: 10.0.0.1, vlan: 10, site: hq, snmp: {contact: noc, location: hq}}
group_vars:
  routers: {vlan: 20, role: router}
  access: {vlan: 30, snmp: {contact: desk}}
  edge: {vlan: 40}
routers:
  - name: r1
    host: 127.0.0.1
    groups: [access]
    vars: {ntp: 10.9.9.9}
  - name: r2
    host: 127.0.0.2
    groups: [edge, access]
  - name: r3
    host: 127.0.0.3
    vars: {vlan: 99}
switches:
  - name: s1
    host: 127.0.0.4
");
    // Entry > access (later) > routers > defaults; a nested mapping is replaced whole.
    assert_eq!(
        vars_of(&inv, "r1"),
        r#"{"ntp":"10.9.9.9","role":"router","site":"hq","snmp":{"contact":"desk"},"vlan":30}"#
    );
    // The later of the entry's groups wins: access after edge.
    assert_eq!(inv.get("r2").unwrap().vars["vlan"], 30);
    assert_eq!(inv.get("r3").unwrap().vars["vlan"], 99);
    // No group vars of its own: the defaults only.
    assert_eq!(
        vars_of(&inv, "s1"),
        r#"{"ntp":"10.0.0.1","site":"hq","snmp":{"contact":"noc","location":"hq"},"vlan":10}"#
    );
    assert_eq!(inv.groups, ["routers", "switches", "access", "edge"]);
}

#[test]
fn var_values_keep_their_type_only_when_written_plainly() {
    let inv = ok("- name: a
  device_type: linux
  host: 127.0.0.1
  username: u
  vars:
    mtu: 9000
    ratio: 2.5
    enabled: true
    octal: 010
    version: 15.10
    answer: yes
    servers: [10.0.0.1, 10.0.0.2]
    nested: {list: [{x: 1}], 10: ten}
    empty: ''
");
    assert_eq!(
        vars_of(&inv, "a"),
        r#"{"answer":"yes","empty":"","enabled":true,"mtu":9000,"nested":{"10":"ten","list":[{"x":1}]},"octal":"010","ratio":2.5,"servers":["10.0.0.1","10.0.0.2"],"version":"15.10"}"#
    );
    // Without vars anywhere a device has none.
    let inv = ok("- {device_type: linux, host: 127.0.0.1, username: u}\n");
    assert!(inv.devices[0].vars.is_empty());
}

#[test]
fn bad_vars_are_refused_with_file_line_and_column() {
    let text = err_text(
        "defaults:
  device_type: linux
  username: u
  vars: [a, b]
group_vars:
  routers: {my-var: 1, 2nd: x}
  rooters: {a: 1}
  switches: 7
routers:
  - host: 127.0.0.1
    vars: {host: x, none: y, vlan: , ok: [1, ~]}
  - host: 127.0.0.2
    vars: 5
switches:
  - host: 127.0.0.3
",
        &[],
    );
    assert_eq!(
        text,
        "devices.yaml:4:9: `defaults.vars` must be a mapping of names to values, not a list
devices.yaml:6:13: invalid `group_vars.routers`: `my-var` is not a name a template can use: \
letters, digits and `_`, not starting with a digit (e.g. `my_var`)
devices.yaml:6:24: invalid `group_vars.routers`: `2nd` is not a name a template can use: \
letters, digits and `_`, not starting with a digit (e.g. `_2nd`)
devices.yaml:7:3: `group_vars` names group `rooters`, which no device belongs to (a group is \
a top-level list of entries or a name in an entry's `groups:`)
devices.yaml:8:13: `group_vars.switches` must be a mapping of names to values, not a number
devices.yaml:11:12: invalid `vars`: `host` is reserved: templates already see it as the \
device's field, `vars` itself or a literal; name the var differently
devices.yaml:11:21: invalid `vars`: `none` is reserved: templates already see it as the \
device's field, `vars` itself or a literal; name the var differently
devices.yaml:11:34: invalid `vars.vlan`: an empty value is not allowed; write `''` for an \
empty string
devices.yaml:11:46: invalid `vars.ok[1]`: an empty value is not allowed; write `''` for an \
empty string
devices.yaml:13:11: `vars` must be a mapping of names to values, not a number"
    );
}

// ---- problems: exact messages, locations, and never a credential ----

#[test]
fn unknown_field_names_the_field_the_position_and_a_suggestion() {
    let text = err_text(
        "routers:
  - device_type: cisco_ios
    host: 127.0.0.1
    username: u
    pasword: hunter2
",
        &[],
    );
    assert_eq!(
        text,
        "devices.yaml:5:5: unknown field `pasword` in device entry, did you mean `password`? \
         (expected one of: name, device_type, host, ip, port, transport, username, password, password_env, \
         password_file, secret, secret_env, secret_file, key_file, key_passphrase, key_passphrase_env, key_passphrase_file, jump_host, \
         legacy_algorithms, connect_timeout, conn_timeout, \
         command_timeout, timeout, read_timeout_override, deadline, groups, simulate, vars)"
    );
}

#[test]
fn missing_host_and_username_are_reported_at_the_entry() {
    let text = err_text("- {device_type: linux, password: hunter2}\n", &[]);
    assert_eq!(
        text,
        "devices.yaml:1:3: missing `host` (or `ip`) in device entry\n\
         devices.yaml:1:3: missing `username` in device entry"
    );
    let text = err_text("defaults: {device_type: linux}\ng:\n  - host: h\n", &[]);
    assert_eq!(
        text,
        "devices.yaml:3:5: missing `username` in device entry (and in defaults)"
    );
}

#[test]
fn bad_ports_are_refused() {
    for (port, shown) in [
        ("0", "0"),
        ("70000", "70000"),
        ("abc", "abc"),
        ("-1", "-1"),
        ("[22]", "a list"),
    ] {
        let text = err_text(
            &format!("- {{device_type: linux, host: h, username: u, port: {port}}}\n"),
            &[],
        );
        assert_eq!(
            text,
            format!(
                "devices.yaml:1:52: invalid `port`: `{shown}` is not a port number (1 to 65535)"
            ),
            "port {port}"
        );
    }
    // A quoted number is fine.
    assert_eq!(
        ok("- {device_type: linux, host: h, username: u, port: '2222'}\n").devices[0]
            .target
            .port,
        2222
    );
}

#[test]
fn duplicate_names_point_at_both_entries() {
    let text = err_text(
        "- {device_type: linux, host: 127.0.0.1, username: u, name: r1}
- {device_type: linux, host: 127.0.0.2, username: u, name: r1}
- {device_type: linux, host: 127.0.0.3, username: u}
- {device_type: linux, host: 127.0.0.3, username: u, port: 22}
",
        &[],
    );
    assert_eq!(
        text,
        "devices.yaml:2:60: duplicate device name `r1` (first defined at devices.yaml:1:60)\n\
         devices.yaml:4:3: duplicate device name `127.0.0.3:22` (first defined at devices.yaml:3:3); \
         names default to the host (or host:port), give each entry a `name:`"
    );
}

#[test]
fn a_duplicate_name_is_reported_beside_other_problems() {
    // The first `r2` has a problem of its own; its name still counts.
    let text = err_text(
        "- {device_type: linux, host: 127.0.0.1, username: u, name: r2, port: 99999}
- {device_type: linux, host: 127.0.0.2, username: u, name: r2}
- {device_type: linux, host: 127.0.0.3, username: u, colour: red}
- {device_type: linux, host: 127.0.0.4, username: u, name: r2, port: x}
",
        &[],
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(
        lines[0].starts_with("devices.yaml:1:70: invalid `port`"),
        "{text}"
    );
    assert_eq!(
        lines[1],
        "devices.yaml:2:60: duplicate device name `r2` (first defined at devices.yaml:1:60)"
    );
    assert!(
        lines[2].starts_with("devices.yaml:3:54: unknown field `colour`"),
        "{text}"
    );
    assert_eq!(
        lines[3],
        "devices.yaml:4:60: duplicate device name `r2` (first defined at devices.yaml:1:60)"
    );
    assert!(
        lines[4].starts_with("devices.yaml:4:70: invalid `port`"),
        "{text}"
    );
}

#[test]
fn unknown_device_type_lists_the_supported_ones() {
    let text = err_text(
        "- {device_type: juniper_screenos, host: h, username: u}\n- {device_type: cisco_ios_serial, host: h2, username: u}\n",
        &[],
    );
    let mut names: Vec<&str> = netsweep_platform::builtin().device_type_names();
    names.push("autodetect");
    names.sort();
    let supported = names.join(", ");
    assert_eq!(
        text,
        format!(
            "devices.yaml:1:17: unknown device_type `juniper_screenos` (supported: {supported})\n\
             devices.yaml:2:17: unknown device_type `cisco_ios_serial` (supported: {supported}); \
             netsweep does not connect over serial lines"
        )
    );
}

#[test]
fn telnet_comes_from_a_telnet_device_type_or_transport_and_its_port_is_23() {
    let inv = ok("defaults:\n  username: u\n  password: hunter2\nrouters:\n\
         - {name: a, device_type: cisco_ios_telnet, host: 127.0.0.1}\n\
         - {name: b, device_type: cisco_ios, host: 127.0.0.2, transport: telnet}\n\
         - {name: c, device_type: cisco_ios_telnet, host: 127.0.0.3, port: 2323}\n\
         - {name: d, device_type: cisco_ios, host: 127.0.0.4}\n\
         - {name: e, device_type: linux_telnet, host: 127.0.0.5, transport: telnet}\n\
         - {name: f, device_type: cisco_xe, host: 127.0.0.6, transport: ssh}\n");
    let seen: Vec<(&str, &str, Transport, u16)> = inv
        .devices
        .iter()
        .map(|d| {
            let t = &d.target;
            (t.name.as_str(), t.platform.as_str(), t.transport, t.port)
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("a", "cisco_ios", Transport::Telnet, 23),
            ("b", "cisco_ios", Transport::Telnet, 23),
            ("c", "cisco_ios", Transport::Telnet, 2323),
            ("d", "cisco_ios", Transport::Ssh, 22),
            ("e", "linux", Transport::Telnet, 23),
            ("f", "cisco_ios", Transport::Ssh, 22),
        ]
    );
}

#[test]
fn a_transport_in_defaults_applies_to_every_entry_but_yields_to_an_entrys_telnet_device_type() {
    let inv = ok(
        "defaults:\n  username: u\n  device_type: cisco_ios\n  transport: telnet\nall:\n\
         - {name: a, host: 127.0.0.1}\n\
         - {name: b, host: 127.0.0.2, transport: ssh}\n",
    );
    let transports: Vec<(Transport, u16)> = inv
        .devices
        .iter()
        .map(|d| (d.target.transport, d.target.port))
        .collect();
    assert_eq!(transports, [(Transport::Telnet, 23), (Transport::Ssh, 22)]);
    let inv = ok("defaults:\n  username: u\n  transport: ssh\nall:\n\
         - {name: a, device_type: cisco_ios_telnet, host: 127.0.0.1}\n");
    assert_eq!(inv.devices[0].target.transport, Transport::Telnet);
}

#[test]
fn a_contradicting_or_unknown_transport_is_refused() {
    let text = err_text(
        "- {device_type: cisco_ios_telnet, host: h, username: u, transport: ssh}\n\
         - {device_type: cisco_ios, host: h2, username: u, transport: serial}\n",
        &[],
    );
    assert_eq!(
        text,
        "devices.yaml:1:68: invalid `transport`: `ssh` contradicts the device_type, which connects over telnet\n\
         devices.yaml:2:62: invalid `transport`: `serial` is not a transport (ssh or telnet)"
    );
}

#[test]
fn every_platform_name_and_alias_and_autodetect_are_accepted() {
    let inv = ok(
        "- {device_type: cisco_xe, host: h1, username: u}\n- {device_type: juniper, host: h2, username: u}\n- {device_type: huawei_vrp, host: h3, username: u}\n- {device_type: autodetect, host: h4, username: u}\n",
    );
    let platforms: Vec<&str> = inv
        .devices
        .iter()
        .map(|d| d.target.platform.as_str())
        .collect();
    assert_eq!(
        platforms,
        ["cisco_ios", "juniper_junos", "huawei", "autodetect"]
    );
}

#[test]
fn an_inventory_defines_its_own_platforms_beside_defaults() {
    let inv = ok(
        "defaults:\n  username: u\nplatforms:\n  - name: acme_os\n    base: cisco_ios\n    aliases: [acme]\n    setup: [terminal length 0]\nrouters:\n  - {device_type: acme, host: h1}\n  - {device_type: cisco_ios, host: h2}\n",
    );
    assert_eq!(inv.groups, ["routers"], "platforms: is not a group");
    assert_eq!(inv.devices[0].target.platform, "acme_os");
    let acme = inv
        .platforms
        .get("acme_os")
        .expect("the inventory's platform");
    assert!(!acme.is_builtin());
    assert_eq!(acme.spec().setup, ["terminal length 0"]);
    // A bad definition is reported where it is written, in the inventory's own format.
    let text = err_text(
        "platforms:\n  - name: acme_os\n    base: cisco_ios\n    errors: ['(']\nrouters:\n  - {device_type: acme_os, host: h1, username: u}\n",
        &[],
    );
    assert!(
        text.starts_with("devices.yaml:4:14: platform acme_os: errors: bad regex \"(\": "),
        "{text}"
    );
}

#[test]
fn empty_inventories_are_refused() {
    for yaml in [
        "",
        "# nothing yet\n",
        "routers: []\nswitches:\n",
        "[]\n",
        "defaults: {username: u}\n",
    ] {
        let text = err_text(yaml, &[]);
        assert_eq!(
            text, "devices.yaml:1:1: inventory defines no devices",
            "{yaml:?}"
        );
    }
}

#[test]
fn an_unreadable_file_is_a_read_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.yaml");
    let e = load(&missing, netsweep_platform::builtin()).unwrap_err();
    assert!(matches!(&e, InventoryError::Read { path, .. } if path == &missing));
    assert_eq!(
        e.to_string(),
        format!("cannot read inventory {}", missing.display())
    );
    let source = std::error::Error::source(&e).unwrap().to_string();
    assert!(source.contains("No such file"), "{source}");
    // A directory is unreadable as a file too.
    assert!(matches!(
        load(dir.path(), netsweep_platform::builtin()),
        Err(InventoryError::Read { .. })
    ));
}

#[test]
fn unset_and_empty_environment_variables_are_named_not_shown() {
    let text = err_text(
        "- {device_type: linux, host: a, username: u, password: '${NS_UNSET}'}
- {device_type: linux, host: b, username: u, password_env: NS_EMPTY}
- {device_type: linux, host: c, username: u, secret_env: 'not a name'}
",
        &[("NS_EMPTY", "")],
    );
    assert_eq!(
        text,
        "devices.yaml:1:56: environment variable `NS_UNSET` for `password` is not set\n\
         devices.yaml:2:60: environment variable `NS_EMPTY` for `password` is empty\n\
         devices.yaml:3:58: invalid `secret_env`: `not a name` is not an environment variable name"
    );
}

#[test]
fn secret_and_key_files_that_cannot_be_used_are_reported_once_each() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("empty"), "\n").unwrap();
    let path = dir.path().join("inv.yaml");
    fs::write(
        &path,
        "defaults:
  device_type: linux
  username: u
  password_file: missing-pw
routers:
  - host: a
  - host: b
  - host: c
    secret_file: empty
    key_file: no-such-key
",
    )
    .unwrap();
    let e = load_with_env(&path, netsweep_platform::builtin(), &|_| None).unwrap_err();
    let d = dir.path().display();
    let p = path.display();
    // The bad default is one problem, at the default's line, not three.
    assert_eq!(
        e.to_string(),
        format!(
            "{p}:4:18: cannot read `password_file` {d}/missing-pw: No such file or directory (os error 2)\n\
             {p}:9:18: `secret_file` {d}/empty is empty\n\
             {p}:10:15: cannot use `key_file` {d}/no-such-key: No such file or directory (os error 2)"
        )
    );
    assert!(matches!(
        e.problems()[0].kind,
        ProblemKind::SecretFileUnreadable {
            field: "password_file",
            ..
        }
    ));
}

#[test]
fn key_files_resolve_relative_to_the_inventory() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("id_ed25519"), "key").unwrap();
    let path = dir.path().join("inv.yaml");
    fs::write(
        &path,
        "- {device_type: linux, host: a, username: u, key_file: id_ed25519}\n",
    )
    .unwrap();
    let inv = load_with_env(&path, netsweep_platform::builtin(), &|_| None).unwrap();
    assert_eq!(
        inv.devices[0].target.key_file.as_deref(),
        Some(dir.path().join("id_ed25519").as_path())
    );
}

#[test]
fn conflicting_spellings_and_netmiko_options_are_refused() {
    let text = err_text(
        "- device_type: linux
  host: a
  ip: b
  username: u
  password: hunter2
  password_env: PW
  fast_cli: true
  conn_timeout: 5
  connect_timeout: 5s
",
        &[("PW", "from-env-pw")],
    );
    assert_eq!(
        text,
        "devices.yaml:3:3: `host` and `ip` are both set; keep one\n\
         devices.yaml:6:3: `password` and `password_env` are both set; keep one\n\
         devices.yaml:7:3: netmiko option `fast_cli` is not supported by netsweep; remove it\n\
         devices.yaml:9:3: `conn_timeout` and `connect_timeout` are both set; keep one"
    );
}

#[test]
fn bad_durations_types_and_shapes() {
    let text = err_text(
        "defaults:
  name: shared
  username: [u]
g:
  - device_type: linux
    host: a
    deadline: 0s
    command_timeout: soon
    simulate: {fault: auth, speed: 11, privilege15: maybe}
h: not-a-list
",
        &[],
    );
    assert_eq!(
        text,
        "devices.yaml:2:3: `name` cannot be set in defaults, only in a device entry\n\
         devices.yaml:3:13: `username` must be a string, not a list\n\
         devices.yaml:7:15: invalid `deadline`: `0s` must be at least 1ms\n\
         devices.yaml:8:22: invalid `command_timeout`: `soon` is not a duration (write e.g. `10s`, \
         `500ms`, `2m`, `1m30s` or a number of seconds)\n\
         devices.yaml:9:29: unknown field `speed` in simulate block (expected one of: fault, latency, \
         jitter, banner_delay, running_config_bytes, privilege15)\n\
         devices.yaml:9:53: `privilege15` must be true or false, not a string\n\
         devices.yaml:10:4: group `h` must be a list of device entries, not a string"
    );
}

#[test]
fn structural_mistakes_get_a_hint() {
    assert_eq!(
        err_text("device_type: linux\nhost: a\nusername: u\n", &[]),
        "devices.yaml:1:1: the top level looks like a single device entry; write devices as a list \
         (`- device_type: ...`) or under a group name (`routers:`)"
    );
    assert_eq!(
        err_text("just a string\n", &[]),
        "devices.yaml:1:1: an inventory must be a list of device entries or a mapping of group \
         names to lists of entries, not a string"
    );
    assert_eq!(
        err_text("- 127.0.0.1\n", &[]),
        "devices.yaml:1:3: a device entry must be a mapping (`device_type: ...`, `host: ...`), not a string"
    );
}

#[test]
fn syntax_errors_and_duplicate_keys_have_positions_and_no_snippet() {
    // A duplicate key on a credential line: the message must not quote the file's text.
    let text = err_text(
        "- device_type: linux\n  host: a\n  username: u\n  password: hunter2\n  password: hunter2\n",
        &[],
    );
    assert!(
        text.starts_with("devices.yaml:5:3: duplicate mapping key: password"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1, "{text}");
    let text = err_text(
        "- device_type: linux\n  password: \"hunter2\n  host: [a,\n",
        &[],
    );
    assert!(text.starts_with("devices.yaml:"), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
}

#[test]
fn non_utf8_is_located() {
    let e = parse(
        b"- device_type: linux\n  host: \xff\n",
        Path::new("devices.yaml"),
        netsweep_platform::builtin(),
        &|_| None,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "devices.yaml:2:9: inventory is not valid UTF-8 text"
    );
}

#[test]
fn every_problem_is_reported_in_one_go_in_file_order() {
    let mut yaml = String::from("routers:\n");
    for i in 0..30 {
        yaml.push_str(&format!(
            "  - {{device_type: linux, host: 127.0.0.{i}, username: u, colour: red}}\n"
        ));
    }
    let e = parse_str(&yaml, &[]).unwrap_err();
    let problems = e.problems();
    assert_eq!(problems.len(), 30);
    assert!(problems.windows(2).all(|w| w[0].location < w[1].location));
    let text = e.to_string();
    assert_eq!(text.lines().count(), 21, "{text}");
    assert!(text.ends_with("\nand 10 more problems"), "{text}");
    assert!(matches!(
        &problems[0].kind,
        ProblemKind::UnknownField { field, suggestion: None, .. } if field == "colour"
    ));
}

// ---- --limit ----

fn fleet() -> Inventory {
    ok("defaults: {device_type: linux, username: u}
routers:
  - {name: r1, host: 127.0.0.1}
  - {name: r2, host: 127.0.0.2}
  - {name: core-1, host: 127.0.0.3, groups: [core]}
switches:
  - {name: sw1, host: 127.0.0.4}
  - {name: core-2, host: 127.0.0.5, groups: [core]}
")
}

fn selected(inv: &Inventory, limit: &[&str]) -> Vec<String> {
    let limit: Vec<String> = limit.iter().map(|s| s.to_string()).collect();
    inv.select(&limit)
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|d| d.name().to_owned())
        .collect()
}

#[test]
fn limit_selects_by_name_group_and_glob_in_inventory_order() {
    let inv = fleet();
    assert_eq!(selected(&inv, &[]).len(), 5);
    assert_eq!(selected(&inv, &["sw1", "r1"]), ["r1", "sw1"]);
    assert_eq!(selected(&inv, &["switches"]), ["sw1", "core-2"]);
    assert_eq!(selected(&inv, &["core"]), ["core-1", "core-2"]);
    assert_eq!(selected(&inv, &["r*"]), ["r1", "r2", "core-1"]);
    assert_eq!(selected(&inv, &["r[12]"]), ["r1", "r2"]);
    assert_eq!(selected(&inv, &["{sw1,r2}"]), ["r2", "sw1"]);
    // Overlaps are selected once.
    assert_eq!(
        selected(&inv, &["core", "core-*", "routers"]),
        ["r1", "r2", "core-1", "core-2"]
    );
    // Exclusions, alone or after inclusions.
    assert_eq!(selected(&inv, &["!core"]), ["r1", "r2", "sw1"]);
    assert_eq!(selected(&inv, &["routers", "!core-1"]), ["r1", "r2"]);
}

#[test]
fn limit_patterns_that_match_nothing_or_do_not_parse_are_errors() {
    let inv = fleet();
    let e = inv.select(&["r9".to_string()]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--limit pattern `r9` matches no device or group in devices.yaml"
    );
    assert!(matches!(
        inv.select(&["!nope*".to_string()]),
        Err(InventoryError::LimitMatchedNothing { .. })
    ));
    let e = inv.select(&["r[1".to_string()]).unwrap_err();
    assert!(matches!(e, InventoryError::BadLimitPattern { .. }), "{e}");
}

// ---- hash and scale ----

#[test]
fn content_hash_is_the_sha256_of_the_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.yaml");
    let yaml = "- {device_type: linux, host: a, username: u}\n";
    fs::write(&path, yaml).unwrap();
    let a = load(&path, netsweep_platform::builtin())
        .unwrap()
        .content_hash();
    assert_eq!(a.len(), 64);
    assert_eq!(
        a,
        load(&path, netsweep_platform::builtin())
            .unwrap()
            .content_hash()
    );
    // A comment changes the bytes, so the hash.
    fs::write(&path, format!("# edited\n{yaml}")).unwrap();
    assert_ne!(
        a,
        load(&path, netsweep_platform::builtin())
            .unwrap()
            .content_hash()
    );
}

#[test]
fn content_hash_matches_sha256sum() {
    let inv_bytes = b"a: [{device_type: linux, host: h, username: u}]\n";
    let inv = parse(
        inv_bytes,
        Path::new("x.yaml"),
        netsweep_platform::builtin(),
        &|_| None,
    )
    .unwrap();
    let expected = {
        // Computed independently with `sha256sum` on the same bytes.
        let out = std::process::Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(inv_bytes)?;
                child.wait_with_output()
            })
            .expect("sha256sum is part of coreutils");
        String::from_utf8(out.stdout).unwrap()[..64].to_owned()
    };
    assert_eq!(inv.content_hash(), expected);
}

#[test]
fn twenty_thousand_devices_with_merge_keys_load() {
    let mut yaml =
        String::from("base: &b {device_type: cisco_ios, username: u, password: hunter2}\nfleet:\n");
    for i in 0..20_000u32 {
        yaml.push_str(&format!(
            "  - {{<<: *b, host: 127.{}.{}.{}, port: 2222}}\n",
            i >> 16,
            (i >> 8) & 255,
            i & 255
        ));
    }
    let yaml = yaml.replacen("base: &b ", "defaults: &b ", 1);
    let inv = ok(&yaml);
    assert_eq!(inv.devices.len(), 20_000);
    assert_eq!(inv.devices[19_999].name(), "127.0.78.31");
}

#[test]
fn the_path_in_messages_is_the_one_the_user_gave() {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("sub").join("fleet.yaml");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, "- {device_type: linux, host: a}\n").unwrap();
    let e = load(&path, netsweep_platform::builtin()).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("{}:1:3: missing `username`", path.display())),
        "{e}"
    );
}

#[test]
fn jump_hosts_key_passphrases_and_legacy_algorithms() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("phrase"), "file-pw-123\n").unwrap();
    fs::write(dir.path().join("jump_key"), "not read here\n").unwrap();
    let path = dir.path().join("devices.yaml");
    fs::write(
        &path,
        "defaults:
  device_type: cisco_ios
  username: admin
  jump_host: ops@bastion.example:2222
routers:
  - host: 10.0.0.1
  - host: 10.0.0.2
    legacy_algorithms: true
    key_passphrase_file: phrase
    jump_host:
      - outer.example
      - host: '::1'
        port: 2200
        username: inner
        password_env: NS_JUMP_PW
        key_file: jump_key
  - host: 10.0.0.3
    jump_host: ~
",
    )
    .unwrap();
    let env: HashMap<String, String> = [("NS_JUMP_PW".to_string(), "hunter2".to_string())].into();
    let inv = parse(
        fs::read(&path).unwrap().as_slice(),
        &path,
        netsweep_platform::builtin(),
        &|k| env.get(k).cloned(),
    )
    .unwrap_or_else(|e| panic!("unexpected error:\n{e}"));
    let ssh: Vec<_> = inv.devices.iter().map(|d| &d.target.ssh).collect();

    assert_eq!(ssh[0].jump_hosts.len(), 1);
    assert_eq!(ssh[0].jump_hosts[0].label(), "ops@bastion.example:2222");
    assert!(!ssh[0].algorithms.legacy);

    let hops: Vec<String> = ssh[1].jump_hosts.iter().map(|h| h.label()).collect();
    // A hop without a user logs in as the device's user.
    assert_eq!(hops, ["admin@outer.example:22", "inner@[::1]:2200"]);
    let inner = &ssh[1].jump_hosts[1];
    assert_eq!(inner.password.as_ref().unwrap().expose(), "hunter2");
    assert_eq!(
        inner.key_file.as_deref(),
        Some(dir.path().join("jump_key").as_path())
    );
    assert!(ssh[1].algorithms.legacy);
    assert_eq!(
        ssh[1].key_passphrase.as_ref().unwrap().expose(),
        "file-pw-123"
    );
    assert_no_secret(&format!("{:?}", inv.devices[1].target));

    // `jump_host: ~` on an entry reaches it directly despite `defaults:`.
    assert!(ssh[2].jump_hosts.is_empty());
}

#[test]
fn bad_jump_hosts_are_named_with_their_line() {
    let text = err_text(
        "- {device_type: linux, host: a, username: u, jump_host: 'ops@bastion:99999'}
- {device_type: linux, host: b, username: u, jump_host: {hots: x}}
- {device_type: linux, host: c, username: u, legacy_algorithms: maybe}
",
        &[],
    );
    assert!(text.contains("devices.yaml:1"), "{text}");
    assert!(text.contains("99999"), "{text}");
    assert!(text.contains("devices.yaml:2"), "{text}");
    assert!(text.contains("hots") && text.contains("host"), "{text}");
    assert!(text.contains("devices.yaml:3"), "{text}");
    assert!(text.contains("legacy_algorithms"), "{text}");
}
