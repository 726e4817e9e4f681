//! SSH authentication: key, password, keyboard-interactive and ssh-agent, in netsweep's
//! order, each within the auth stage's deadline.
//!
//! It runs after the host key was checked and never decides what a host key means; it never
//! logs or reports a credential (messages name the user and the methods tried, nothing else).

use std::path::Path;
use std::time::Duration;

use netsweep_protocol::{DeviceTarget, JumpHost, Secret, Stage};
use ssh2::{KeyboardInteractivePrompt, Prompt, Session};

use super::{Connection, code};
use crate::context::SessionContext;
use crate::deadline::Deadline;
use crate::error::SessionError;

/// Who to log in as and with what: a device's or a jump host's credentials.
pub(crate) struct Login<'a> {
    /// The device or hop, for log lines.
    pub(crate) label: &'a str,
    pub(crate) user: &'a str,
    pub(crate) password: Option<&'a Secret>,
    pub(crate) key_file: Option<&'a Path>,
    pub(crate) key_passphrase: Option<&'a Secret>,
    pub(crate) certificate_file: Option<&'a Path>,
}

impl<'a> Login<'a> {
    pub(crate) fn device(target: &'a DeviceTarget) -> Login<'a> {
        Login {
            label: &target.name,
            user: &target.username,
            password: target.password.as_ref(),
            key_file: target.key_file.as_deref(),
            key_passphrase: target.ssh.key_passphrase.as_ref(),
            certificate_file: target.ssh.certificate_file.as_deref(),
        }
    }

    pub(crate) fn jump_host(hop: &'a JumpHost, label: &'a str) -> Login<'a> {
        Login {
            label,
            user: &hop.username,
            password: hop.password.as_ref(),
            key_file: hop.key_file.as_deref(),
            key_passphrase: hop.ssh.key_passphrase.as_ref(),
            certificate_file: hop.ssh.certificate_file.as_deref(),
        }
    }
}

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

/// Logs in as `user` (the target's username, with the platform's terminal options appended
/// where it takes them: RouterOS) with what the target has, in order: key file, password
/// (over the first of `password_methods` the server offers), and ssh-agent when neither is
/// configured.
///
/// With only a password, the first password method is tried straight away, as paramiko does,
/// instead of first asking the server for its list (an SSH "none" request): that saves one
/// round trip per device, which is a whole RTT on a distant router and a timer tick on servers
/// that pace their "none" rejections. The list is asked for only after a rejection, to tell a
/// wrong password (the method was offered: stop there, one failed login) from a method the
/// server does not offer (try the one it does).
pub(crate) fn authenticate(
    conn: &Connection,
    login: &Login<'_>,
    ctx: &SessionContext,
    password_methods: &[&str],
    timeout: Duration,
) -> Result<(), SessionError> {
    let session = &conn.session;
    let user = login.user;
    let deadline = conn.deadline(timeout);
    let mut tried: Vec<&str> = Vec::new();

    if login.key_file.is_none()
        && let (Some(password), Some(&first)) = (login.password, password_methods.first())
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

    if let Some(path) = login.key_file
        && offers("publickey")
    {
        tried.push("key");
        if key_login(conn, &deadline, login, path, ctx)? {
            return Ok(());
        }
    }

    if let Some(password) = login.password {
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

    if login.key_file.is_none() && login.password.is_none() {
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

/// Logs in with the key at `path`: with its OpenSSH certificate first when there is one (the
/// `certificate_file`, or `<key>-cert.pub` beside the key, as OpenSSH finds it), then with
/// the plain key. `Ok(false)`: rejected.
fn key_login(
    conn: &Connection,
    deadline: &Deadline,
    login: &Login<'_>,
    path: &Path,
    ctx: &SessionContext,
) -> Result<bool, SessionError> {
    let key = ctx.key(path)?;
    let passphrase = login.key_passphrase.map(Secret::expose);
    let certificate = match login.certificate_file {
        Some(file) => {
            Some(
                std::fs::read_to_string(file).map_err(|source| SessionError::KeyFile {
                    path: file.to_path_buf(),
                    source,
                })?,
            )
        }
        None => key.certificate.clone(),
    };
    let publics = certificate
        .as_deref()
        .map(Some)
        .into_iter()
        .chain([key.public.as_deref()]);
    for public in publics {
        let result = attempt(conn, deadline, |s| {
            s.userauth_pubkey_memory(login.user, public, &key.private_pem, passphrase)
        })?;
        match result {
            Ok(()) => return Ok(true),
            Err(e) if cannot_use_private_key(&e) => {
                // libssh2 could not use the private key itself: a wrong or missing passphrase
                // or a format it does not read. No other attempt will do better.
                return Err(SessionError::KeyUnusable {
                    path: path.to_path_buf(),
                    passphrase_given: passphrase.is_some(),
                    encrypted: key.looks_encrypted(),
                });
            }
            Err(e) => tracing::debug!(device = %login.label, error = %e, "key rejected"),
        }
    }
    Ok(false)
}

/// Whether libssh2 failed on the private key itself rather than the server turning the key
/// down: it could not read or decrypt it (to derive the public key, or to sign).
fn cannot_use_private_key(err: &ssh2::Error) -> bool {
    match err.code() {
        ssh2::ErrorCode::Session(code::FILE) => true,
        // Signing is a callback inside libssh2; its failure is reported only by these words.
        ssh2::ErrorCode::Session(code::PUBLICKEY_UNVERIFIED) => {
            err.message().starts_with("Callback")
        }
        _ => false,
    }
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
