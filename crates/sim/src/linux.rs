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
