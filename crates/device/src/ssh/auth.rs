//! SSH authentication: key, password, keyboard-interactive and ssh-agent, in netsweep's
//! order, each within the auth stage's deadline.
//!
//! It runs after the host key was checked and never decides what a host key means; it never
//! logs or reports a credential (messages name the user and the methods tried, nothing else).

use std::time::Duration;

use netsweep_protocol::{DeviceTarget, Stage};
use ssh2::{KeyboardInteractivePrompt, Prompt, Session};

use super::{Connection, code};
use crate::context::SessionContext;
use crate::deadline::Deadline;
use crate::error::SessionError;

/// Runs one authentication call to completion: `Ok(Err(..))` is a rejection (try something
/// else), `Err(..)` a session failure that ends the stage.
fn attempt(
    conn: &Connection,
    deadline: &Deadline,
    mut op: impl FnMut(&Session) -> Result<(), ssh2::Error>,
) -> Result<Result<(), ssh2::Error>, SessionError> {
    conn.call(deadline, Stage::Auth, |s| match op(s) {
        Err(e) if is_rejection(&e) => Ok(Err(e)),
        other => other.map(Ok),
    })
}

/// Logs in with each key ssh-agent holds, in turn.
///
/// One `Agent` lives through every retry of a non-blocking call: libssh2 keeps a pointer to
/// it in the session between retries (ssh2's `userauth_agent` makes a new one per call,
/// which is only safe in blocking mode).
fn agent_login(conn: &Connection, user: &str, deadline: &Deadline) -> Result<(), SessionError> {
    let no_credentials = |source: Option<ssh2::Error>| SessionError::NoCredentials {
        user: user.to_string(),
        source: source.map(super::cause),
    };
    let mut agent = conn.session.agent().map_err(|e| no_credentials(Some(e)))?;
    agent.connect().map_err(|e| no_credentials(Some(e)))?;
    agent
        .list_identities()
        .map_err(|e| no_credentials(Some(e)))?;
    let identities = agent.identities().map_err(|e| no_credentials(Some(e)))?;
    let mut last_rejection = None;
    for identity in &identities {
        match attempt(conn, deadline, |_| agent.userauth(user, identity))? {
            Ok(()) => {
                let _ = agent.disconnect();
                return Ok(());
            }
            Err(rejected) => last_rejection = Some(rejected),
        }
    }
    let _ = agent.disconnect();
    Err(no_credentials(last_rejection))
}

/// Answers every keyboard-interactive prompt with the password, as IOS asks for it that way,
/// and notes a device's words that its AAA server did not answer (see `crate::aaa`).
struct PasswordAnswerer<'a> {
    password: &'a str,
    aaa_notice: Option<String>,
}

impl KeyboardInteractivePrompt for PasswordAnswerer<'_> {
    fn prompt<'b>(
        &mut self,
        name: &str,
        instructions: &str,
        prompts: &[Prompt<'b>],
    ) -> Vec<String> {
        let shown = [name, instructions]
            .into_iter()
            .chain(prompts.iter().map(|p| &*p.text));
        for text in shown {
            if let Some(notice) = crate::aaa::unavailable_notice(text) {
                self.aaa_notice = Some(notice);
            }
        }
        prompts.iter().map(|_| self.password.to_string()).collect()
    }
}

/// Whether libssh2 says the server turned the credentials down (as opposed to the session
/// failing underneath).
fn is_rejection(err: &ssh2::Error) -> bool {
    use code::*;
    // FILE: the key is unusable.
    matches!(
        err.code(),
        ssh2::ErrorCode::Session(
            AUTHENTICATION_FAILED
                | PUBLICKEY_UNVERIFIED
                | KEYFILE_AUTH_FAILED
                | FILE
                | PASSWORD_EXPIRED
                | METHOD_NONE
        )
    )
}

/// Logs in with what the target has, in order: key file, password (over the first of
/// `password_methods` the server offers), and ssh-agent when neither is configured.
///
/// With only a password, the first password method is tried straight away, as paramiko does,
/// instead of first asking the server for its list (an SSH "none" request): that saves one
/// round trip per device, which is a whole RTT on a distant router and a timer tick on servers
/// that pace their "none" rejections. The list is asked for only after a rejection, to tell a
/// wrong password (the method was offered: stop there, one failed login) from a method the
/// server does not offer (try the one it does).
pub(crate) fn authenticate(
    conn: &Connection,
    target: &DeviceTarget,
    ctx: &SessionContext,
    password_methods: &[&str],
    timeout: Duration,
) -> Result<(), SessionError> {
    let session = &conn.session;
    let user = target.username.as_str();
    let deadline = conn.deadline(timeout);
    let mut tried: Vec<&str> = Vec::new();

    if target.key_file.is_none()
        && let (Some(password), Some(&first)) = (&target.password, password_methods.first())
    {
        tried.push(first);
        if password_login(conn, &deadline, user, first, password.expose())?.is_ok() {
            return Ok(());
        }
    }
    let methods = match conn.call(&deadline, Stage::Auth, |s| {
        s.auth_methods(user).map(str::to_string)
    }) {
        Ok(m) => m,
        Err(_) if session.authenticated() => return Ok(()),
        Err(e) => return Err(e),
    };
    let offers = |m: &str| methods.split(',').any(|x| x == m);
    // A method the device does not offer was not really tried (nothing was checked).
    tried.retain(|m| offers(m));

    if let Some(path) = &target.key_file {
        let key = ctx.key(path)?;
        if offers("publickey") {
            tried.push("key");
            let result = attempt(conn, &deadline, |s| {
                s.userauth_pubkey_memory(user, key.public.as_deref(), &key.private_pem, None)
            })?;
            match result {
                Ok(()) => return Ok(()),
                Err(e) => tracing::debug!(device = %target.name, error = %e, "key rejected"),
            }
        }
    }

    if let Some(password) = &target.password {
        // Only the first offered method: a second try after a real rejection would count as
        // another failed login. One already tried and offered was that real rejection.
        let method = password_methods
            .iter()
            .copied()
            .find(|m| offers(m))
            .filter(|m| !tried.contains(m));
        if let Some(method) = method {
            tried.push(method);
            if password_login(conn, &deadline, user, method, password.expose())?.is_ok() {
                return Ok(());
            }
        }
    }

    if target.key_file.is_none() && target.password.is_none() {
        return agent_login(conn, user, &deadline);
    }

    if session.authenticated() {
        return Ok(());
    }
    let tried = if tried.is_empty() {
        format!("nothing: the device offers only {methods}")
    } else {
        tried.join(", then ")
    };
    Err(SessionError::AuthRejected {
        user: user.to_string(),
        tried,
    })
}

/// One password login over `method` (`password` or `keyboard-interactive`, which gets the
/// password as the answer to every prompt).
fn password_login(
    conn: &Connection,
    deadline: &Deadline,
    user: &str,
    method: &str,
    password: &str,
) -> Result<Result<(), ssh2::Error>, SessionError> {
    if method == "keyboard-interactive" {
        let mut answerer = PasswordAnswerer {
            password,
            aaa_notice: None,
        };
        let result = attempt(conn, deadline, |s| {
            s.userauth_keyboard_interactive(user, &mut answerer)
        })?;
        // A device that said its AAA server did not answer rejected nothing.
        match (result, answerer.aaa_notice) {
            (Err(_), Some(notice)) => Err(SessionError::AuthUnavailable { notice }),
            (result, _) => Ok(result),
        }
    } else {
        attempt(conn, deadline, |s| s.userauth_password(user, password))
    }
}
