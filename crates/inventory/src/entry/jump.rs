//! SSH settings of an entry beyond address and credentials: `jump_host:` (one hop or a chain,
//! each `user@host:port` or a mapping with its own credentials), `key_passphrase` in its three
//! spellings, and `legacy_algorithms`.
//!
//! A problem here names the field, never a credential's value.

use netsweep_protocol::{JumpHost, SshSettings, parse_hop};

use super::fields::{Slot, closest};
use super::{Field, Fields, Reader};
use crate::error::ProblemKind;
use crate::node::{Kind, Node, Typed};

/// Fields a jump host written as a mapping accepts.
const HOP_FIELDS: &[&str] = &[
    "host",
    "port",
    "username",
    "password",
    "password_env",
    "password_file",
    "key_file",
    "key_passphrase",
    "key_passphrase_env",
    "key_passphrase_file",
    "legacy_algorithms",
];

/// An entry's SSH settings, waiting for the entry's username: a hop written without a user
/// logs in as the device's user.
pub(super) struct PendingSsh {
    settings: SshSettings,
    hops_without_user: Vec<usize>,
}

impl PendingSsh {
    pub(super) fn finish(mut self, device_user: Option<&str>) -> SshSettings {
        for i in self.hops_without_user {
            self.settings.jump_hosts[i].username = device_user.unwrap_or_default().to_owned();
        }
        self.settings
    }
}

impl Reader<'_> {
    pub(super) fn ssh_settings(&mut self, fields: &Fields<'_>) -> PendingSsh {
        let mut pending = PendingSsh {
            settings: SshSettings::default(),
            hops_without_user: Vec::new(),
        };
        if let Some(f) = fields.get(&Slot::KeyPassphrase) {
            pending.settings.key_passphrase = self.credential(f, "key_passphrase");
        }
        if let Some(f) = fields.get(&Slot::LegacyAlgorithms) {
            pending.settings.algorithms.legacy = self.boolean(f).unwrap_or(false);
        }
        if let Some(f) = fields.get(&Slot::JumpHost) {
            let hops: Vec<&Node> = match &f.value.kind {
                Kind::Null => Vec::new(),
                Kind::Seq(items) => items.iter().collect(),
                _ => vec![f.value],
            };
            for node in hops {
                let hop = Field {
                    name: f.name,
                    key: f.key,
                    value: node,
                };
                if let Some((jump, has_user)) = self.hop(&hop) {
                    if !has_user {
                        pending
                            .hops_without_user
                            .push(pending.settings.jump_hosts.len());
                    }
                    pending.settings.jump_hosts.push(jump);
                }
            }
        }
        pending
    }

    fn boolean(&mut self, f: &Field<'_>) -> Option<bool> {
        match f.value.typed() {
            Some((Typed::Bool(b), _)) => Some(b),
            _ => {
                self.problem(
                    f.value,
                    ProblemKind::WrongType {
                        field: f.name.to_owned(),
                        expected: "true or false",
                        found: f.value.describe(),
                    },
                );
                None
            }
        }
    }

    /// One hop: `[user@]host[:port]`, or a mapping. Returns the hop and whether it names its
    /// user.
    fn hop(&mut self, f: &Field<'_>) -> Option<(JumpHost, bool)> {
        let Kind::Map(pairs) = &f.value.kind else {
            let text = self.plain_string(f)?;
            return match parse_hop(&text) {
                Ok((user, host, port)) => Some((
                    JumpHost {
                        host,
                        port: port.unwrap_or(22),
                        username: user.clone().unwrap_or_default(),
                        password: None,
                        key_file: None,
                        ssh: SshSettings::default(),
                    },
                    user.is_some(),
                )),
                Err(reason) => {
                    self.invalid(f, format!("{reason}; write `user@host:port`"));
                    None
                }
            };
        };
        let mut jump = JumpHost {
            host: String::new(),
            port: 22,
            username: String::new(),
            password: None,
            key_file: None,
            ssh: SshSettings::default(),
        };
        let mut has_user = false;
        let mut has_host = false;
        let problems_before = self.problems.len();
        for (key, value) in pairs.iter() {
            let Some(written) = key.text() else {
                self.structure(
                    key,
                    format!("a field name must be a string, not {}", key.describe()),
                );
                continue;
            };
            let Some(name) = HOP_FIELDS.iter().copied().find(|n| *n == written) else {
                self.problem(
                    key,
                    ProblemKind::UnknownField {
                        field: written.to_owned(),
                        context: "jump host",
                        suggestion: closest(written, HOP_FIELDS),
                        expected: HOP_FIELDS,
                    },
                );
                continue;
            };
            let field = Field { name, key, value };
            match name {
                "host" => {
                    if let Some(host) = self.host(&field) {
                        jump.host = host;
                        has_host = true;
                    }
                }
                "port" => jump.port = self.port(&field).unwrap_or(22),
                "username" => {
                    if let Some(user) = self.plain_string(&field) {
                        jump.username = user;
                        has_user = true;
                    }
                }
                "password" | "password_env" | "password_file" => {
                    jump.password = self.credential(&field, "password");
                }
                "key_file" => jump.key_file = self.key_file(&field),
                "key_passphrase" | "key_passphrase_env" | "key_passphrase_file" => {
                    jump.ssh.key_passphrase = self.credential(&field, "key_passphrase");
                }
                "legacy_algorithms" => {
                    jump.ssh.algorithms.legacy = self.boolean(&field).unwrap_or(false);
                }
                _ => unreachable!("every HOP_FIELDS name is matched"),
            }
        }
        if !has_host && self.problems.len() == problems_before {
            self.problem(
                f.value,
                ProblemKind::MissingField {
                    field: "host",
                    in_defaults_too: false,
                },
            );
        }
        (self.problems.len() == problems_before).then_some((jump, has_user))
    }
}
