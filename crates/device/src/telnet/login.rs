//! Logging in over telnet, where the device asks in plain text: wait for its login prompt
//! (stage `handshake`, a return sent whenever the line stays silent, since consoles and
//! terminal servers often say nothing until they get one), then answer the user name and
//! password prompts (stage `auth`) and wait for the CLI prompt (stage `prompt`).
//!
//! A login prompt shown again after it was answered means the device refused the login:
//! `auth_failed`, without trying again (a second guess only adds to the failed logins an
//! account lockout counts). A device showing its CLI prompt without asking for anything is
//! logged in as it is.
//!
//! The password is written to the device and nowhere else: no log line, no error, no record.

use std::time::{Duration, Instant};

use netsweep_platform::Platform;
use netsweep_protocol::{DeviceTarget, Stage};

use super::TelnetStream;
use crate::cli_session::unrecognised;
use crate::cli_stream::CliStream;
use crate::deadline::{Deadline, OverallDeadline};
use crate::error::SessionError;
use crate::text;

/// How long the line may stay silent, before a login prompt, until netsweep sends a return.
const WAKE_AFTER: Duration = Duration::from_secs(1);

/// Line endings (lower case, trailing blanks removed) that ask for the user name.
const USERNAME_PROMPTS: &[&str] = &["username:", "login:", "user name:"];

/// The line ending that asks for the password.
const PASSWORD_PROMPT: &str = "password:";

/// Words of a refused login, for a device that closes the connection after refusing one
/// rather than asking again (lower case).
const REFUSALS: &[&str] = &[
    "incorrect",
    "invalid",
    "failed",
    "failure",
    "denied",
    "bad password",
];

/// The most of a device's pre-login chatter kept to look for a prompt in.
const SEEN_LIMIT: usize = 64 * 1024;

const READ_CHUNK: usize = 16 * 1024;

/// What the device's last line asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Asked {
    /// A user name (`Username:`, `login:`, `User Name:`).
    Username,
    /// A password (`Password:`).
    Password,
    /// Nothing: it shows its CLI prompt.
    Nothing,
}

fn asked_by(line: &str, platform: &Platform) -> Option<Asked> {
    let lower = line.to_ascii_lowercase();
    if USERNAME_PROMPTS.iter().any(|p| lower.ends_with(p)) {
        Some(Asked::Username)
    } else if lower.ends_with(PASSWORD_PROMPT) {
        Some(Asked::Password)
    } else if platform.regexes().prompt(line).is_some() {
        Some(Asked::Nothing)
    } else {
        None
    }
}

/// Reads what the device says as it opens (negotiating options on the way) until it asks for
/// a login or shows its prompt, within `deadline` (stage `handshake`). A return is sent each
/// time the line stays silent for a second.
pub(crate) fn wait_for_login(
    stream: &mut TelnetStream,
    platform: &Platform,
    deadline: &Deadline,
) -> Result<Asked, SessionError> {
    let stage = Stage::Handshake;
    let mut buf = vec![0; READ_CHUNK];
    let mut seen: Vec<u8> = Vec::new();
    let mut quiet_since = Instant::now();
    loop {
        match stream.read_available(&mut buf, deadline, stage)? {
            Some(0) => {
                return Err(SessionError::Lost {
                    stage,
                    source: None,
                });
            }
            Some(n) => {
                keep(&mut seen, &buf[..n]);
                quiet_since = Instant::now();
                if let Some(banner) = ssh_banner(&seen) {
                    return Err(SessionError::Protocol {
                        stage,
                        detail: format!(
                            "the port answers with an SSH banner ({banner:?}): it speaks SSH, \
                             not telnet; drop `transport: telnet` or the `_telnet` device type, \
                             or give the telnet port"
                        ),
                        source: None,
                    });
                }
                let (line, _) = text::last_line(&seen, platform.spec().strip_ansi);
                if let Some(asked) = asked_by(&line, platform) {
                    tracing::debug!(?asked, "telnet: the device asks for a login");
                    return Ok(asked);
                }
            }
            None => {
                let quiet = quiet_since.elapsed();
                if quiet >= WAKE_AFTER {
                    tracing::debug!("telnet: the line is silent; sending a return");
                    stream.write_all(b"\n", deadline, stage)?;
                    quiet_since = Instant::now();
                } else {
                    stream
                        .wait_at_most(WAKE_AFTER - quiet, deadline, stage)
                        .map_err(|e| unrecognised(e, &seen, stage, "login prompt"))?;
                }
            }
        }
    }
}

/// The SSH identification line a server sends first (RFC 4253 4.2), if `seen` starts with
/// one: a telnet client pointed at an SSH port would otherwise wait for a login prompt until
/// its timeout and report only that none came.
fn ssh_banner(seen: &[u8]) -> Option<String> {
    let line = seen.split(|&b| b == b'\n').next()?;
    line.starts_with(b"SSH-").then(|| {
        let shown = String::from_utf8_lossy(line);
        shown.trim_end().chars().take(40).collect()
    })
}

/// Answers the login prompts, starting with `first`, until the device shows its CLI prompt.
/// Each answer gets its own `timeout` (capped by `overall`). `password_sent` is called once
/// the password has gone: from then on the session waits for the prompt (stage `prompt`).
pub(crate) fn log_in(
    stream: &mut TelnetStream,
    first: Asked,
    target: &DeviceTarget,
    platform: &Platform,
    timeout: Duration,
    overall: OverallDeadline,
    password_sent: &mut dyn FnMut(),
) -> Result<(), SessionError> {
    let mut asked = first;
    let mut sent_user = false;
    let mut sent_password = false;
    loop {
        let mut stage = if sent_password {
            Stage::Prompt
        } else {
            Stage::Auth
        };
        let deadline = overall.within(timeout);
        // What the device must echo before a user name prompt can be a new one.
        let mut echo: Option<&[u8]> = None;
        match asked {
            Asked::Nothing => return Ok(()),
            Asked::Username if sent_user || sent_password => return Err(refused(target)),
            Asked::Password if sent_password => return Err(refused(target)),
            Asked::Username => {
                let mut line = target.username.clone().into_bytes();
                line.push(b'\n');
                stream.write_all(&line, &deadline, stage)?;
                tracing::debug!(user = %target.username, "telnet: sent the user name");
                sent_user = true;
                echo = Some(target.username.as_bytes());
            }
            Asked::Password => {
                let Some(password) = &target.password else {
                    return Err(SessionError::NoPassword {
                        user: target.username.clone(),
                    });
                };
                let mut line = password.expose().as_bytes().to_vec();
                line.push(b'\n');
                let written = stream.write_all(&line, &deadline, stage);
                line.fill(0);
                written?;
                tracing::debug!("telnet: sent the password");
                sent_password = true;
                stage = Stage::Prompt;
                password_sent();
            }
        }
        let refusal_closes = sent_password.then_some(target);
        asked = read_answer(stream, platform, &deadline, stage, echo, refusal_closes)?;
    }
}

/// Reads the device's answer to a login answer until its last line asks for something or is
/// the CLI prompt. A user name prompt before `echo` has come back is one the device printed
/// before it got the answer (a second return sent to wake it), not a refusal. With
/// `refusal_closes` (the password was sent), a device that says it refused the login and
/// closes the connection has refused that target's login.
fn read_answer(
    stream: &mut TelnetStream,
    platform: &Platform,
    deadline: &Deadline,
    stage: Stage,
    echo: Option<&[u8]>,
    refusal_closes: Option<&DeviceTarget>,
) -> Result<Asked, SessionError> {
    let mut buf = vec![0; READ_CHUNK];
    let mut seen: Vec<u8> = Vec::new();
    loop {
        let n = stream.read_some(&mut buf, deadline, stage).map_err(|e| {
            // A device that echoed the password must not get it into the message.
            let password = refusal_closes.and_then(|t| t.password.as_ref());
            if let Some(password) = password {
                scrub(&mut seen, password.expose().as_bytes());
            }
            unrecognised(e, &seen, stage, "prompt")
        })?;
        if n == 0 {
            let (said, _) = text::clean(&seen, platform.spec().strip_ansi);
            let said = said.to_ascii_lowercase();
            if let Some(target) = refusal_closes
                && REFUSALS.iter().any(|w| said.contains(w))
            {
                return Err(refused(target));
            }
            return Err(SessionError::Lost {
                stage,
                source: None,
            });
        }
        keep(&mut seen, &buf[..n]);
        let (line, _) = text::last_line(&seen, platform.spec().strip_ansi);
        match asked_by(&line, platform) {
            Some(Asked::Username)
                if echo.is_some_and(|e| !seen.windows(e.len()).any(|w| w == e)) => {}
            Some(asked) => return Ok(asked),
            None => {}
        }
    }
}

fn refused(target: &DeviceTarget) -> SessionError {
    tracing::debug!("telnet: the device refused the login");
    SessionError::AuthRejected {
        user: target.username.clone(),
        tried: "password, over telnet".into(),
    }
}

/// Overwrites every copy of `secret` in `text` with asterisks.
fn scrub(text: &mut [u8], secret: &[u8]) {
    if secret.is_empty() || secret.len() > text.len() {
        return;
    }
    let mut i = 0;
    while i + secret.len() <= text.len() {
        if &text[i..i + secret.len()] == secret {
            text[i..i + secret.len()].fill(b'*');
            i += secret.len();
        } else {
            i += 1;
        }
    }
}

/// Appends `data` to `seen`, keeping only its recent end.
fn keep(seen: &mut Vec<u8>, data: &[u8]) {
    seen.extend_from_slice(data);
    if seen.len() > SEEN_LIMIT {
        let excess = seen.len() - SEEN_LIMIT / 2;
        seen.drain(..excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_prompts_are_recognised_whatever_their_case() {
        let ios = netsweep_platform::builtin().get("cisco_ios").unwrap();
        for (line, asked) in [
            ("Username:", Some(Asked::Username)),
            ("User Name:", Some(Asked::Username)),
            ("r1 login:", Some(Asked::Username)),
            ("LOGIN:", Some(Asked::Username)),
            ("Password:", Some(Asked::Password)),
            ("password:", Some(Asked::Password)),
            ("r1>", Some(Asked::Nothing)),
            ("r1#", Some(Asked::Nothing)),
            ("User Access Verification", None),
            ("Last login: Mon Jan  1 10:00:00", None),
            ("% Authentication failed", None),
        ] {
            assert_eq!(asked_by(line, ios), asked, "{line:?}");
        }
    }

    #[test]
    fn an_echoed_password_is_scrubbed() {
        let mut seen = b"Password: hunter2\r\nhunter2hunter2 x".to_vec();
        scrub(&mut seen, b"hunter2");
        assert_eq!(seen, b"Password: *******\r\n************** x");
    }
}
