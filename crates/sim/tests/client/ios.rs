//! The IOS platform as a libssh2 client sees it: prompts, echo, enable, paging, errors, modes.

use std::time::Duration;

use netsweep_sim::Platform;

use crate::helpers::{Shell, device, exec, fleet, login};

#[test]
fn login_lands_in_user_mode_and_commands_echo_with_crlf() {
    let fleet = fleet(vec![device("r1", Platform::CiscoIos)]);
    let session = login(&fleet, "r1");
    let mut shell = Shell::open(&session);
    let greeting = shell.read_until("r1>");
    assert!(greeting.contains("authorized access only"), "{greeting:?}");

    let clock = shell.run("show clock", "r1>");
    // The echo, then `*HH:MM:SS.mmm UTC Day Mon DD YYYY`, all with CRLF line ends.
    assert!(clock.starts_with("show clock\r\n*"), "{clock:?}");
    assert!(clock.contains(" UTC "), "{clock:?}");
    assert!(clock.ends_with("\r\nr1>"), "{clock:?}");
    assert!(!clock.replace("\r\n", "").contains('\n'), "{clock:?}");

    let counters = fleet.counters("r1").unwrap();
    assert_eq!((counters.connections, counters.auth_ok), (1, 1));
    assert_eq!(counters.commands, 1);
}

#[test]
fn enable_asks_for_the_secret_without_echoing_it() {
    let fleet = fleet(vec![device("r1", Platform::CiscoIos)]);
    let secret = fleet.devices()[0].secret.clone();
    let session = login(&fleet, "r1");
    let mut shell = Shell::open(&session);
    shell.read_until("r1>");
    let asked = shell.run("enable", "Password: ");
    assert_eq!(asked, "enable\r\nPassword: ");
    let answer = shell.run(&secret, "r1#");
    assert!(
        !answer.contains(&secret),
        "the secret is never echoed: {answer:?}"
    );
    // `disable` goes back; a wrong secret is refused the IOS way.
    shell.run("disable", "r1>");
    shell.run("enable", "Password: ");
    let refused = shell.run("wrong-secret", "r1>");
    assert!(refused.contains("% Access denied"), "{refused:?}");
}

#[test]
fn long_output_pages_until_terminal_length_zero() {
    let fleet = fleet(vec![device("r1", Platform::CiscoIos)]);
    let session = login(&fleet, "r1");
    let mut shell = Shell::open(&session);
    shell.read_until("r1>");
    shell.send("show version\r");
    let first_page = shell.read_until(" --More-- ");
    assert!(first_page.contains("Cisco IOS Software"), "{first_page:?}");
    assert_eq!(
        first_page.matches("\r\n").count(),
        24,
        "echo line + 23 lines"
    );
    // Space shows the next page, and the marker is erased before it.
    shell.send(" ");
    let rest = shell.read_until("r1>");
    assert!(
        rest.starts_with("\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08          "),
        "{rest:?}"
    );
    assert!(
        rest.contains("Configuration register is 0x2102"),
        "{rest:?}"
    );

    // `q` at the marker abandons the rest.
    shell.send("show version\r");
    shell.read_until(" --More-- ");
    shell.send("q");
    let quit = shell.read_until("r1>");
    assert!(!quit.contains("Configuration register"), "{quit:?}");

    // With paging off, the same output comes in one go.
    shell.run("terminal length 0", "r1>");
    shell.run("terminal width 511", "r1>");
    let whole = shell.run("show version", "r1>");
    assert!(!whole.contains("--More--"), "{whole:?}");
    assert!(whole.contains("Configuration register is 0x2102"));
    assert!(whole.contains("Processor board ID FTX"), "{whole:?}");
}

#[test]
fn a_two_megabyte_running_config_arrives_intact() {
    let mut r1 = device("r1", Platform::CiscoIos);
    r1.behaviour.running_config_bytes = 2 * 1024 * 1024;
    r1.behaviour.privilege15 = true;
    let fleet = fleet(vec![r1]);
    let session = login(&fleet, "r1");
    let mut shell = Shell::open(&session);
    shell.read_until("r1#");
    shell.run("terminal length 0", "r1#");
    let config = shell.run("show running-config", "\r\nend\r\nr1#");
    let announced: usize = config
        .split("Current configuration : ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("size line");
    let body_start = config.find("bytes\r\n").unwrap() + "bytes\r\n".len();
    let body = &config[body_start..config.len() - "r1#".len()];
    assert_eq!(body.len(), announced);
    assert!(announced >= 2 * 1024 * 1024);
    assert!(body.contains("hostname r1\r\n"));
}

#[test]
fn invalid_input_is_marked_with_a_caret() {
    let fleet = fleet(vec![device("r1", Platform::CiscoIos)]);
    let session = login(&fleet, "r1");
    let mut shell = Shell::open(&session);
    shell.read_until("r1>");
    let reply = shell.run("show ip route bogus", "r1>");
    // "r1>" + "show " puts the caret in column 8, under "ip"… which is valid here, so it
    // lands under "route" (column 11).
    assert_eq!(
        reply,
        "show ip route bogus\r\n           ^\r\n% Invalid input detected at '^' marker.\r\n\r\nr1>"
    );
    // show running-config needs privilege: user mode does not know it.
    let reply = shell.run("show running-config", "r1>");
    assert!(reply.contains("        ^\r\n% Invalid input"), "{reply:?}");
    let reply = shell.run("show", "r1>");
    assert!(reply.contains("% Incomplete command."), "{reply:?}");
}

#[test]
fn configuration_mode_changes_the_prompt_and_end_leaves_it() {
    let mut r1 = device("r1", Platform::CiscoIos);
    r1.behaviour.privilege15 = true;
    let fleet = fleet(vec![r1]);
    let session = login(&fleet, "r1");
    let mut shell = Shell::open(&session);
    shell.read_until("r1#");
    let entered = shell.run("conf t", "r1(config)#");
    assert!(entered.contains("End with CNTL/Z."), "{entered:?}");
    shell.run("interface GigabitEthernet0/1", "r1(config-if)#");
    shell.run("description uplink", "r1(config-if)#");
    shell.run("exit", "r1(config)#");
    shell.run("hostname core1", "core1(config)#");
    let done = shell.run("end", "core1#");
    assert_eq!(done, "end\r\ncore1#");
    // exit at the top level ends the session: the channel closes.
    shell.send("exit\r");
    let mut rest = String::new();
    use std::io::Read;
    shell.channel.read_to_string(&mut rest).unwrap();
    shell.channel.wait_close().unwrap();
    assert!(shell.channel.eof());
}

#[test]
fn keyboard_interactive_is_offered_and_works() {
    struct Answer(String);
    impl ssh2::KeyboardInteractivePrompt for Answer {
        fn prompt(
            &mut self,
            _username: &str,
            _instructions: &str,
            prompts: &[ssh2::Prompt],
        ) -> Vec<String> {
            assert_eq!(prompts.len(), 1);
            assert!(!prompts[0].echo);
            vec![self.0.clone()]
        }
    }
    let fleet = fleet(vec![device("r1", Platform::CiscoIos)]);
    let spec = fleet.devices()[0].clone();
    let session = crate::helpers::connect(&fleet, "r1").unwrap();
    let offered = session.auth_methods(&spec.username).unwrap();
    assert_eq!(offered, "password,keyboard-interactive");
    session
        .userauth_keyboard_interactive(&spec.username, &mut Answer(spec.password.clone()))
        .unwrap();
    assert!(session.authenticated());
}

#[test]
fn privilege15_logins_start_at_the_hash_prompt() {
    let mut r1 = device("r1", Platform::CiscoIos);
    r1.behaviour.privilege15 = true;
    let fleet = fleet(vec![r1]);
    let session = login(&fleet, "r1");
    let mut shell = Shell::open(&session);
    let greeting = shell.read_until("#");
    assert!(greeting.ends_with("r1#"), "{greeting:?}");
    // enable at `#` asks nothing.
    assert_eq!(shell.run("enable", "r1#"), "enable\r\nr1#");
}

#[test]
fn an_exec_request_runs_one_command() {
    let fleet = fleet(vec![device("r1", Platform::CiscoIos)]);
    let session = login(&fleet, "r1");
    let (stdout, _, status) = exec(&session, "show ip interface brief");
    assert!(stdout.starts_with("Interface "), "{stdout:?}");
    assert!(stdout.contains("GigabitEthernet0/0"), "{stdout:?}");
    assert_eq!(status, 0);
}

#[test]
fn latency_delays_output_but_not_prompts() {
    let mut r1 = device("r1", Platform::CiscoIos);
    r1.behaviour.latency = Duration::from_millis(300);
    let fleet = fleet(vec![r1]);
    let session = login(&fleet, "r1");
    let mut shell = Shell::open(&session);
    shell.read_until("r1>");
    let started = std::time::Instant::now();
    shell.run("show clock", "r1>");
    // A lower bound only: the device may be slower on a loaded machine, never faster.
    assert!(started.elapsed() >= Duration::from_millis(300));
}
