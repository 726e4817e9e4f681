//! The Linux command set: a handful of commands with the outputs, stderr and exit statuses a
//! real Debian host gives. Pure logic; the session delivers the result over an exec channel or
//! the `$ ` shell.

use std::fmt::Write as _;

use crate::facts::{Facts, time_of_day};

/// What a command produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Ran {
    pub stdout: String,
    pub stderr: String,
    pub status: u32,
    /// `exit`: the shell should end.
    pub exit: bool,
}

/// Splits a command line into words, honouring simple single and double quotes.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL=\"https://www.debian.org/\"\nSUPPORT_URL=\"https://www.debian.org/support\"\nBUG_REPORT_URL=\"https://bugs.debian.org/\"\n";

/// Runs one command line as the simulated host's shell would.
pub(crate) fn run(line: &str, hostname: &str, facts: &Facts) -> Ran {
    let words = shell_words(line);
    let ok = |stdout: String| Ran {
        stdout,
        ..Ran::default()
    };
    let Some(program) = words.first() else {
        return Ran::default();
    };
    let args = &words[1..];
    match program.as_str() {
        "hostname" => ok(format!("{hostname}\n")),
        "uname" if args.iter().any(|a| a == "-a") => ok(format!(
            "Linux {hostname} 6.1.0-13-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29) x86_64 GNU/Linux\n"
        )),
        "uname" => ok("Linux\n".into()),
        "echo" => ok(format!("{}\n", args.join(" "))),
        "true" => Ran::default(),
        "false" => Ran {
            status: 1,
            ..Ran::default()
        },
        "whoami" | "id" => ok("netsweep\n".into()),
        "date" => ok(format!("{}\n", date(facts))),
        "ip" if args
            .first()
            .is_some_and(|a| "address".starts_with(a.as_str())) =>
        {
            let (a, b) = facts.octets();
            ok(format!(
                "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n    inet 127.0.0.1/8 scope host lo\n       valid_lft forever preferred_lft forever\n2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP group default qlen 1000\n    link/ether 02:42:ac:11:{a:02x}:{b:02x} brd ff:ff:ff:ff:ff:ff\n    inet 10.{a}.{b}.10/24 brd 10.{a}.{b}.255 scope global eth0\n       valid_lft forever preferred_lft forever\n"
            ))
        }
        "uptime" => {
            let up = facts.uptime().as_secs();
            ok(format!(
                " {} up {} days, {:2}:{:02},  1 user,  load average: 0.08, 0.03, 0.01\n",
                time_of_day(facts.now()),
                up / 86_400,
                up / 3600 % 24,
                up / 60 % 60
            ))
        }
        "cat" => {
            let mut ran = Ran::default();
            for path in args {
                match path.as_str() {
                    "/etc/os-release" => ran.stdout.push_str(OS_RELEASE),
                    "/etc/hostname" => {
                        let _ = writeln!(ran.stdout, "{hostname}");
                    }
                    "/var/log/syslog" => ran.stdout.push_str(&syslog(hostname, facts)),
                    other => {
                        let _ = writeln!(ran.stderr, "cat: {other}: No such file or directory");
                        ran.status = 1;
                    }
                }
            }
            ran
        }
        "ls" => {
            let mut ran = Ran::default();
            for path in args.iter().filter(|a| !a.starts_with('-')) {
                match path.as_str() {
                    "/" => ran.stdout.push_str(
                        "bin\nboot\ndev\netc\nhome\nlib\nmedia\nmnt\nopt\nproc\nroot\nrun\nsbin\nsrv\nsys\ntmp\nusr\nvar\n",
                    ),
                    "/etc/os-release" | "/etc/hostname" | "/var/log/syslog" => {
                        let _ = writeln!(ran.stdout, "{path}");
                    }
                    other => {
                        let _ = writeln!(
                            ran.stderr,
                            "ls: cannot access '{other}': No such file or directory"
                        );
                        ran.status = 2;
                    }
                }
            }
            ran
        }
        "exit" | "logout" => Ran {
            status: args.first().and_then(|a| a.parse().ok()).unwrap_or(0),
            exit: true,
            ..Ran::default()
        },
        other => Ran {
            stderr: format!("bash: {other}: command not found\n"),
            status: 127,
            ..Ran::default()
        },
    }
}

/// `Sat Nov 21 10:50:01 UTC 2026`, as `date` prints it.
fn date(facts: &Facts) -> String {
    let clock = crate::facts::clock_string(facts.now());
    // `10:50:01.123 UTC Sat Nov 21 2026` → `Sat Nov 21 10:50:01 UTC 2026`.
    let parts: Vec<&str> = clock.split(' ').collect();
    let time = parts[0].split('.').next().unwrap_or(parts[0]);
    format!(
        "{} {} {:>2} {time} UTC {}",
        parts[2], parts[3], parts[4], parts[5]
    )
}

/// A log long enough to be the Linux counterpart of a big running-config.
fn syslog(hostname: &str, facts: &Facts) -> String {
    let mut out = String::with_capacity(facts.running_config_bytes + 128);
    let mut n = 0u64;
    while out.len() < facts.running_config_bytes {
        let _ = writeln!(
            out,
            "Nov 21 10:{:02}:{:02} {hostname} systemd[1]: Started session-{n}.scope - Session {n} of User netsweep.",
            n / 60 % 60,
            n % 60
        );
        n += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_give_output_stderr_and_status() {
        let f = Facts::new(1, "srv1", 0, 1000, "VMW");
        assert_eq!(run("hostname", "srv1", &f).stdout, "srv1\n");
        assert_eq!(run("echo 'a  b' c", "srv1", &f).stdout, "a  b c\n");
        assert_eq!(run("false", "srv1", &f).status, 1);
        let missing = run("ls /nonexistent", "srv1", &f);
        assert_eq!(missing.status, 2);
        assert!(missing.stderr.contains("No such file"));
        assert_eq!(run("frobnicate", "srv1", &f).status, 127);
        assert!(run("cat /var/log/syslog", "srv1", &f).stdout.len() >= 1000);
        assert!(run("exit 3", "srv1", &f).exit);
    }
}
