//! The platform table itself: the built-in table loads and compiles, every name resolves,
//! each platform recognises its own prompts and error texts (and not its output), user
//! definitions extend it with strict, located validation, and named commands resolve.

use std::path::Path;

use netsweep_platform::{
    AUTODETECT, Channel, CommandBook, Mode, Platform, PlatformSpec, PlatformTable, Transport,
    builtin,
};

fn platform(name: &str) -> &'static Platform {
    builtin()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is built in"))
}

#[test]
fn the_builtin_table_has_the_ten_platforms_and_every_regex_compiles() {
    let names: Vec<&str> = builtin().platforms().iter().map(|p| p.name()).collect();
    assert_eq!(
        names,
        [
            "cisco_ios",
            "cisco_nxos",
            "cisco_xr",
            "arista_eos",
            "juniper_junos",
            "huawei",
            "hp_comware",
            "mikrotik_routeros",
            "cisco_asa",
            "linux"
        ]
    );
    for p in builtin().platforms() {
        assert!(p.is_builtin());
        netsweep_platform::Regexes::compile(p.spec())
            .unwrap_or_else(|e| panic!("{}: {e}", p.name()));
    }
}

#[test]
fn every_name_and_alias_resolves_to_its_platform_and_transport() {
    for p in builtin().platforms() {
        for name in p.spec().device_type_names() {
            let t = builtin()
                .resolve(name)
                .unwrap_or_else(|| panic!("{name} does not resolve"));
            assert_eq!(t.platform.name(), p.name(), "{name}");
            let expected = if name.ends_with("_telnet") {
                Transport::Telnet
            } else {
                Transport::Ssh
            };
            assert_eq!(t.transport, expected, "{name}");
            assert_eq!(t.port, None, "{name}: the transport's own port");
        }
    }
    // netmiko's telnet device types for the platforms netsweep drives over telnet.
    for (name, canonical) in [
        ("cisco_ios_telnet", "cisco_ios"),
        ("cisco_nxos_telnet", "cisco_nxos"),
        ("arista_eos_telnet", "arista_eos"),
        ("juniper_junos_telnet", "juniper_junos"),
        ("huawei_telnet", "huawei"),
        ("hp_comware_telnet", "hp_comware"),
        ("cisco_asa_telnet", "cisco_asa"),
        ("linux_telnet", "linux"),
    ] {
        let t = builtin().resolve(name).unwrap();
        assert_eq!(
            (t.platform.name(), t.transport),
            (canonical, Transport::Telnet)
        );
        assert_eq!(t.transport.default_port(), 23);
    }
    for (alias, canonical) in [
        ("cisco_xe", "cisco_ios"),
        ("juniper", "juniper_junos"),
        ("huawei_vrp", "huawei"),
        ("hpe_comware", "hp_comware"),
    ] {
        assert_eq!(builtin().resolve(alias).unwrap().platform.name(), canonical);
    }
    assert!(builtin().resolve("juniper_screenos").is_none());
    assert!(
        builtin().resolve(AUTODETECT).is_none(),
        "autodetect is not a platform"
    );
}

#[test]
fn every_shell_platform_has_the_named_commands_and_an_exit() {
    for p in builtin().platforms() {
        let spec = p.spec();
        for name in ["version", "interfaces", "clock"] {
            assert!(spec.commands.contains_key(name), "{}: @{name}", p.name());
        }
        if spec.channel == Channel::Shell {
            assert!(
                spec.commands.contains_key("running-config"),
                "{}: @running-config",
                p.name()
            );
            assert!(!spec.errors.is_empty(), "{}: failure indicators", p.name());
        }
        assert!(!spec.exit.is_empty());
    }
}

/// The ntc-templates names the table uses are in the checked-in list; with
/// `NTC_TEMPLATES_DIR` set (the test script sets it when ntc-templates is on the machine),
/// the list is checked against ntc-templates' own index.
#[test]
#[allow(clippy::print_stderr)] // says which half of the test ran
fn every_ntc_platform_name_is_one_ntc_templates_knows() {
    let listed: Vec<&str> = include_str!("ntc_platforms.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    for p in builtin().platforms() {
        let ntc = p.spec().ntc_platform.as_deref().expect("ntc_platform");
        assert!(
            listed.contains(&ntc),
            "{}: {ntc} is not in ntc_platforms.txt",
            p.name()
        );
    }
    let Some(dir) = std::env::var_os("NTC_TEMPLATES_DIR") else {
        eprintln!("NTC_TEMPLATES_DIR not set: the list was not checked against the index");
        return;
    };
    let index = std::fs::read_to_string(Path::new(&dir).join("index")).expect("read the index");
    // Rows: `Template, Hostname, Platform, Command`; the platform column is a regex.
    let platforms: Vec<regex::Regex> = index
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains(".textfsm"))
        .filter_map(|l| l.split(',').nth(2).map(str::trim))
        .map(|p| regex::Regex::new(&format!("^(?:{p})$")).expect("index platform regex"))
        .collect();
    assert!(platforms.len() > 100, "{} rows read", platforms.len());
    for name in listed {
        assert!(
            platforms.iter().any(|r| r.is_match(name)),
            "{name} is in no row of ntc-templates' index"
        );
    }
}

/// (platform, prompt line, mode, base)
const PROMPTS: &[(&str, &str, Mode, &str)] = &[
    ("cisco_ios", "r1>", Mode::User, "r1"),
    ("cisco_ios", "core-sw.lab#", Mode::Privileged, "core-sw.lab"),
    ("cisco_ios", "r1(config-if)#", Mode::Config, "r1"),
    ("cisco_nxos", "n9k-1#", Mode::Privileged, "n9k-1"),
    ("cisco_nxos", "n9k-1(config)#", Mode::Config, "n9k-1"),
    (
        "cisco_xr",
        "RP/0/RSP0/CPU0:xr#",
        Mode::Privileged,
        "RP/0/RSP0/CPU0:xr",
    ),
    (
        "cisco_xr",
        "RP/0/RSP0/CPU0:xr(config-if)#",
        Mode::Config,
        "RP/0/RSP0/CPU0:xr",
    ),
    ("arista_eos", "leaf1>", Mode::User, "leaf1"),
    ("arista_eos", "leaf1#", Mode::Privileged, "leaf1"),
    ("arista_eos", "leaf1(config-if-Et1)#", Mode::Config, "leaf1"),
    ("juniper_junos", "admin@mx1>", Mode::User, "admin@mx1"),
    ("juniper_junos", "admin@mx1#", Mode::Config, "admin@mx1"),
    (
        "juniper_junos",
        "root@mx1:RE:0%",
        Mode::Shell,
        "root@mx1:RE:0%",
    ),
    ("juniper_junos", "%", Mode::Shell, "%"),
    ("huawei", "<huawei>", Mode::User, "huawei"),
    ("huawei", "[~huawei]", Mode::Config, "huawei"),
    (
        "huawei",
        "[huawei-GigabitEthernet0/0/1]",
        Mode::Config,
        "huawei-GigabitEthernet0/0/1",
    ),
    ("hp_comware", "<h3c-core>", Mode::User, "h3c-core"),
    ("hp_comware", "[h3c-core]", Mode::Config, "h3c-core"),
    (
        "mikrotik_routeros",
        "[admin@MikroTik] >",
        Mode::User,
        "admin@MikroTik",
    ),
    (
        "mikrotik_routeros",
        "[admin@MikroTik] /interface>",
        Mode::User,
        "admin@MikroTik",
    ),
    (
        "mikrotik_routeros",
        "[admin@my router] >",
        Mode::User,
        "admin@my router",
    ),
    ("cisco_asa", "asa1>", Mode::User, "asa1"),
    ("cisco_asa", "asa1#", Mode::Privileged, "asa1"),
    ("cisco_asa", "asa1(config)#", Mode::Config, "asa1"),
    ("linux", "netsweep@srv1:~$", Mode::User, "netsweep@srv1"),
    ("linux", "[root@srv1 ~]#", Mode::Privileged, "root@srv1"),
];

#[test]
fn each_platform_recognises_its_prompts_in_every_mode() {
    for &(name, line, mode, base) in PROMPTS {
        let found = platform(name).regexes().prompt(line);
        let found = found.unwrap_or_else(|| panic!("{name}: {line:?} is not a prompt"));
        assert_eq!((found.mode, found.base), (mode, base), "{name}: {line:?}");
    }
}

#[test]
fn output_lines_are_not_prompts() {
    let not_prompts = [
        "Building configuration... #",
        " description uplink to core#",
        "#",
        "hostname r1",
        "interface GigabitEthernet0/1",
        "Cisco IOS Software, C2900 Software (C2900-UNIVERSALK9-M), Version 15.7(3)M8",
        "  ---- More ----",
        "",
    ];
    for p in builtin().platforms() {
        for line in not_prompts {
            assert!(
                p.regexes().prompt(line).is_none(),
                "{}: {line:?} taken for a prompt",
                p.name()
            );
        }
    }
    let long = format!("{}#", "r".repeat(netsweep_platform::MAX_PROMPT_LEN));
    assert!(platform("cisco_ios").regexes().prompt(&long).is_none());
}

#[test]
fn the_session_prompt_is_the_learned_base_in_any_mode_and_no_other_host() {
    let ios = platform("cisco_ios").regexes();
    assert_eq!(ios.session_prompt("r1#", "r1"), Some(Mode::Privileged));
    assert_eq!(ios.session_prompt("r1(config)#", "r1"), Some(Mode::Config));
    assert_eq!(ios.session_prompt("r10#", "r1"), None);
    assert_eq!(ios.session_prompt("r2>", "r1"), None);
    let huawei = platform("huawei").regexes();
    assert_eq!(
        huawei.session_prompt("[core-1-GigabitEthernet0/0/1]", "core-1"),
        Some(Mode::Config)
    );
    // `display current-configuration` on some VRP versions starts with a version line that
    // looks like a system-view prompt.
    assert_eq!(huawei.session_prompt("[V200R009C00SPC500]", "core-1"), None);
    let junos = platform("juniper_junos").regexes();
    assert!(junos.is_context("{master:0}") && junos.is_context("[edit]"));
    assert!(junos.is_context("[edit interfaces ge-0/0/0]"));
    assert!(!junos.is_context("Hostname: mx1"));
}

/// (platform, output holding an error, the line reported)
const ERRORS: &[(&str, &str, &str)] = &[
    (
        "cisco_ios",
        "show foo\n        ^\n% Invalid input detected at '^' marker.\n",
        "% Invalid input detected at '^' marker.",
    ),
    (
        "cisco_nxos",
        "\n% Invalid command at '^' marker.",
        "% Invalid command at '^' marker.",
    ),
    (
        "cisco_xr",
        "                 ^\n% Invalid input detected at '^' marker.",
        "% Invalid input detected at '^' marker.",
    ),
    ("arista_eos", "% Invalid input", "% Invalid input"),
    (
        "juniper_junos",
        "                  ^\nunknown command.",
        "unknown command.",
    ),
    (
        "juniper_junos",
        "          ^\nsyntax error, expecting <command>.",
        "syntax error, expecting <command>.",
    ),
    (
        "juniper_junos",
        "'s' is ambiguous.\nPossible completions:",
        "'s' is ambiguous.",
    ),
    (
        "juniper_junos",
        "error: configuration database locked",
        "error: configuration database locked",
    ),
    (
        "huawei",
        "              ^\nError: Unrecognized command found at '^' position.",
        "Error: Unrecognized command found at '^' position.",
    ),
    (
        "hp_comware",
        "  ^\n % Unrecognized command found at '^' position.",
        "% Unrecognized command found at '^' position.",
    ),
    (
        "hp_comware",
        "% Wrong parameter found at '^' position.",
        "% Wrong parameter found at '^' position.",
    ),
    (
        "mikrotik_routeros",
        "bad command name foo (line 1 column 1)",
        "bad command name foo (line 1 column 1)",
    ),
    (
        "mikrotik_routeros",
        "expected end of command (line 1 column 9)",
        "expected end of command (line 1 column 9)",
    ),
    (
        "cisco_asa",
        "                  ^\nERROR: % Invalid input detected at '^' marker.",
        "ERROR: % Invalid input detected at '^' marker.",
    ),
];

#[test]
fn each_platform_recognises_its_own_error_texts() {
    for &(name, output, line) in ERRORS {
        assert_eq!(
            platform(name).regexes().error_line(output),
            Some(line),
            "{name}: {output:?}"
        );
    }
}

#[test]
fn ordinary_output_is_not_an_error() {
    let outputs = [
        " description 50% Invalid input filter",
        "     0 input errors, 0 CRC, 0 frame, 0 overrun, 0 ignored",
        "Input errors: 0, Output errors: 0",
        "Last error: none",
    ];
    for p in builtin().platforms() {
        for output in outputs {
            assert_eq!(
                p.regexes().error_line(output),
                None,
                "{}: {output:?}",
                p.name()
            );
        }
    }
}

#[test]
fn pagers_password_prompts_and_idents_are_recognised() {
    let pager = |name: &str, line: &str| platform(name).regexes().is_pager(line);
    assert!(pager("cisco_ios", " --More-- "));
    assert!(pager("huawei", "  ---- More ----"));
    assert!(pager("juniper_junos", "---(more 42%)---"));
    assert!(pager("cisco_asa", "<--- More --->"));
    assert!(pager("mikrotik_routeros", "-- [Q quit|D dump|down]"));
    assert!(!pager("cisco_ios", "r1#"));
    assert!(platform("cisco_ios").regexes().asks_password("Password: "));
    assert!(platform("huawei").regexes().asks_save_confirmation(
        "Warning: The current configuration will be written to the device. Continue? [Y/N]:"
    ));
    let ident = |name: &str, ident: &str| platform(name).regexes().ident_matches(ident);
    assert_eq!(ident("huawei", "SSH-2.0-HUAWEI-1.5"), Some(true));
    assert_eq!(ident("mikrotik_routeros", "SSH-2.0-ROSSSH"), Some(true));
    assert_eq!(ident("cisco_xr", "SSH-2.0-Cisco-1.25"), Some(false));
    assert_eq!(ident("arista_eos", "SSH-2.0-OpenSSH_8.7"), None);
}

#[test]
fn configuration_data_is_there_for_configuration_changes() {
    let config = |name: &str| platform(name).spec().config.clone().expect("config");
    assert_eq!(config("juniper_junos").commit.unwrap().abort, "rollback");
    assert_eq!(config("cisco_xr").commit.unwrap().abort, "abort");
    let save = config("huawei").save.unwrap();
    assert_eq!(save.command, "save");
    assert_eq!(save.confirm.unwrap().answer, "y");
    assert_eq!(config("hp_comware").save.unwrap().command, "save force");
    assert!(platform("mikrotik_routeros").spec().config.is_none());
}

#[test]
fn a_spec_travels_as_json_unchanged() {
    for p in builtin().platforms() {
        let json = serde_json::to_string(p.spec()).unwrap();
        let back: PlatformSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, p.spec());
        Platform::from_spec(back).unwrap();
    }
}

fn extend(text: &str) -> Result<PlatformTable, String> {
    builtin()
        .with_definitions(text, Path::new("my.yaml"))
        .map_err(|e| e.to_string())
}

#[test]
fn a_user_platform_based_on_a_builtin_one_overrides_only_what_it_says() {
    let table = extend(
        "- name: my_ios\n  base: cisco_ios\n  aliases: [my_ios_alias]\n  setup: [terminal length 0]\n  enable: null\n  prompts:\n    user: null\n  commands:\n    version: show version | include Version\n    clock: null\n",
    )
    .unwrap();
    let mine = table.resolve("my_ios_alias").unwrap().platform;
    let spec = mine.spec();
    assert!(!mine.is_builtin());
    assert_eq!(spec.name, "my_ios");
    assert_eq!(spec.setup, ["terminal length 0"]);
    assert!(spec.enable.is_none() && spec.prompts.user.is_none());
    assert_eq!(
        spec.prompts.privileged,
        platform("cisco_ios").spec().prompts.privileged
    );
    assert_eq!(spec.errors, platform("cisco_ios").spec().errors);
    assert_eq!(spec.commands["version"], "show version | include Version");
    assert!(!spec.commands.contains_key("clock"));
    assert_eq!(spec.commands["interfaces"], "show ip interface brief");
    assert_eq!(spec.base.as_deref(), Some("cisco_ios"));
    assert_eq!(table.builtin_root("my_ios").unwrap().name(), "cisco_ios");
    // The built-in table is untouched.
    assert!(builtin().resolve("my_ios").is_none());
}

#[test]
fn a_full_user_definition_is_the_builtin_shape() {
    let table = extend(
        "- name: acme_os\n  description: ACME routers\n  channel: shell\n  prompts:\n    user: '(?P<base>\\w+)\\$'\n  errors: ['^ERR ']\n  commands: {version: ver}\n- name: acme_os2\n  base: acme_os\n  line_ending: \"\\r\\n\"\n",
    )
    .unwrap();
    let acme = table.get("acme_os").unwrap();
    assert_eq!(acme.regexes().prompt("box1$").map(|m| m.base), Some("box1"));
    assert_eq!(acme.regexes().error_line("ERR bad"), Some("ERR bad"));
    assert_eq!(acme.spec().exit, "exit");
    assert_eq!(table.get("acme_os2").unwrap().spec().line_ending, "\r\n");
}

#[test]
fn bad_user_definitions_name_file_line_column_and_every_problem() {
    let err = extend(
        "- name: a_os\n  base: cisco_ios\n  prompts:\n    user: '(unclosed'\n  errors: ['ok', '[z']\n- name: b_os\n  base: nowhere\n- name: cisco_xe\n  base: cisco_ios\n- name: c_os\n  channel: shell\n",
    )
    .unwrap_err();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            "my.yaml:4:11: platform a_os: prompts.user: bad regex \"(unclosed\": unclosed group",
            "my.yaml:5:18: platform a_os: errors: bad regex \"[z\": unclosed character class",
            "my.yaml:7:9: platform b_os: unknown base \"nowhere\" (known: cisco_ios, cisco_nxos, cisco_xr, arista_eos, juniper_junos, huawei, hp_comware, mikrotik_routeros, cisco_asa, linux)",
            "my.yaml:8:9: platform cisco_xe: device_type \"cisco_xe\" is already taken by platform cisco_ios (to change a built-in platform, define a new one with `base: cisco_ios`)",
            "my.yaml:10:9: platform c_os: a shell platform needs `prompts.user` or `prompts.privileged`",
        ]
    );
    let err = extend("- name: d_os\n  base: cisco_ios\n  promtps: {}\n").unwrap_err();
    assert!(
        err.starts_with("my.yaml:3:3: unknown field `promtps`"),
        "{err}"
    );
    let err = extend("- name: E_OS\n  channel: exec\n").unwrap_err();
    assert!(
        err.starts_with("my.yaml:1:9: platform name \"E_OS\" must be lowercase"),
        "{err}"
    );
    let err = extend("- name: f_os\n  channel: exec\n  aliases: [autodetect]\n").unwrap_err();
    assert!(err.contains("\"autodetect\" is reserved"), "{err}");
}

#[test]
fn an_inventory_lends_its_platforms_key_and_nothing_else() {
    let inventory = "defaults:\n  device_type: my_os\nplatforms:\n  - name: my_os\n    base: huawei\nrouters:\n  - host: 127.0.0.1\n";
    let table = builtin()
        .with_inventory_platforms(inventory, Path::new("devices.yaml"))
        .unwrap()
        .unwrap();
    assert_eq!(
        table.get("my_os").unwrap().spec().setup,
        ["screen-length 0 temporary"]
    );
    for without in [
        "- host: 127.0.0.1\n",
        "routers:\n  - host: x\n",
        "",
        "defaults: {}\n",
    ] {
        let none = builtin().with_inventory_platforms(without, Path::new("devices.yaml"));
        assert!(none.unwrap().is_none(), "{without:?}");
    }
    let bad =
        "routers: []\nplatforms:\n  - name: my_os\n    base: cisco_ios\n    pager: {prompt: '('}\n";
    let err = builtin()
        .with_inventory_platforms(bad, Path::new("devices.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("devices.yaml:5:21: platform my_os: pager.prompt: bad regex"),
        "{err}"
    );
}

#[test]
fn named_commands_resolve_per_platform_and_fail_where_unmapped() {
    let book = CommandBook::parse(
        "bgp:\n  default: show ip bgp summary\n  juniper: show bgp summary\n  huawei_vrp: display bgp peer\nlldp:\n  cisco_ios: show lldp neighbors\n",
        Path::new("commands.yaml"),
        builtin(),
    )
    .unwrap();
    let spec = |name: &str| platform(name).spec();
    let written = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let sent = |name: &str, list: &[&str]| {
        book.resolve_all(&written(list), spec(name)).map(|r| {
            r.into_iter()
                .map(|c| (c.name, c.command))
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(
        sent("huawei", &["@version", "@bgp", "display clock"]).unwrap(),
        [
            (Some("version".into()), "display version".into()),
            (Some("bgp".into()), "display bgp peer".into()),
            (None, "display clock".into())
        ]
    );
    assert_eq!(
        sent("juniper_junos", &["@bgp"]).unwrap()[0].1,
        "show bgp summary"
    );
    assert_eq!(
        sent("cisco_nxos", &["@bgp"]).unwrap()[0].1,
        "show ip bgp summary"
    );
    assert_eq!(
        sent("mikrotik_routeros", &["@version"]).unwrap()[0].1,
        "/system resource print"
    );
    assert_eq!(
        sent("cisco_ios", &["@@literal"]).unwrap()[0],
        (None, "@literal".into())
    );
    let unmapped = sent("arista_eos", &["show clock", "@lldp"]).unwrap_err();
    assert_eq!(
        unmapped.to_string(),
        "platform arista_eos has no command for @lldp"
    );
    assert!(book.knows("lldp", builtin()) && book.knows("version", builtin()));
    assert!(!book.knows("nothing", builtin()));
    let err = CommandBook::parse(
        "bgp:\n  junos_typo: show bgp\n",
        Path::new("c.yaml"),
        builtin(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("c.yaml:2:3: command @bgp: unknown platform \"junos_typo\""),
        "{err}"
    );
}
