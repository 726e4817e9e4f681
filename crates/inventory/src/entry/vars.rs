//! `vars:`, the variables change templates see: reading a mapping (on an entry, in
//! `defaults:`, per group under `group_vars:`) into values, checking that every name is one a
//! template can reach, and merging them key by key, most specific last.
//!
//! Values keep what was written: a number or boolean is typed only when its spelling is the
//! plain one (`9000`, `2.5`, `true`), otherwise it stays the text (`010`, `1.10`, `yes`), so
//! a rendered line says exactly what the file says. This module must not know templates
//! beyond the names they reserve ([`RESERVED_VAR_NAMES`]).

use std::collections::HashMap;

use serde_json::{Number, Value};

use super::{Position, Reader, is_identifier, position};
use crate::error::ProblemKind;
use crate::node::{Kind, Node, Typed};
use crate::{GROUP_VARS_KEY, RESERVED_VAR_NAMES, Vars};

/// The vars every entry may inherit: `defaults:`'s, and each group's from `group_vars:`.
#[derive(Default)]
pub(super) struct SharedVars {
    pub defaults: Vars,
    pub groups: HashMap<String, Vars>,
    /// Where each group of `group_vars:` is named, to refuse one no device belongs to.
    pub named_at: Vec<(String, Position)>,
}

impl SharedVars {
    /// A device's vars: `defaults:`, then each of its groups in order (a later group wins),
    /// then its own, key by key.
    pub fn merge(&self, groups: &[String], own: Option<Vars>) -> Vars {
        let mut vars = self.defaults.clone();
        for group in groups {
            if let Some(group_vars) = self.groups.get(group) {
                vars.extend(group_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        if let Some(own) = own {
            vars.extend(own);
        }
        vars
    }
}

impl Reader<'_> {
    /// A `vars:` mapping; `context` names it in messages (`vars`, `group_vars.routers`).
    /// `None` when anything in it is wrong (every problem is recorded).
    pub(super) fn vars(&mut self, node: &Node, context: &str) -> Option<Vars> {
        let pairs = match &node.kind {
            Kind::Null => return Some(Vars::new()),
            Kind::Map(pairs) => pairs,
            _ => {
                self.problem(
                    node,
                    ProblemKind::WrongType {
                        field: context.to_owned(),
                        expected: "a mapping of names to values",
                        found: node.describe(),
                    },
                );
                return None;
            }
        };
        let mut vars = Vars::new();
        let mut ok = true;
        for (key, value) in pairs {
            let Some(name) = self.var_name(key, context) else {
                ok = false;
                continue;
            };
            match self.var_value(value, &format!("{context}.{name}")) {
                Some(v) => {
                    vars.insert(name.to_owned(), v);
                }
                None => ok = false,
            }
        }
        ok.then_some(vars)
    }

    /// `group_vars:`: each group's vars, read once for every entry.
    pub(super) fn group_vars(&mut self, node: &Node, shared: &mut SharedVars) {
        let pairs = match &node.kind {
            Kind::Null => return,
            Kind::Map(pairs) => pairs,
            _ => {
                self.problem(
                    node,
                    ProblemKind::WrongType {
                        field: GROUP_VARS_KEY.to_owned(),
                        expected: "a mapping of group names to vars",
                        found: node.describe(),
                    },
                );
                return;
            }
        };
        for (key, value) in pairs {
            let Some(group) = key.text().filter(|g| !g.trim().is_empty()) else {
                self.structure(
                    key,
                    format!(
                        "a group name in `{GROUP_VARS_KEY}` must be a non-empty string, not {}",
                        key.describe()
                    ),
                );
                continue;
            };
            shared.named_at.push((group.to_owned(), position(key)));
            if let Some(vars) = self.vars(value, &format!("{GROUP_VARS_KEY}.{group}")) {
                shared.groups.insert(group.to_owned(), vars);
            }
        }
    }

    /// Refuses `group_vars:` for a group no device belongs to: a misspelt group would
    /// otherwise leave its devices with the defaults' values, silently.
    pub(super) fn check_group_vars_groups(
        &mut self,
        named_at: &[(String, Position)],
        groups: &[String],
    ) {
        for (group, at) in named_at {
            if !groups.contains(group) {
                let location = self.location_at(*at);
                self.problems.push(crate::error::Problem {
                    location,
                    kind: ProblemKind::Structure {
                        message: format!(
                            "`{GROUP_VARS_KEY}` names group `{group}`, which no device belongs \
                             to (a group is a top-level list of entries or a name in an entry's \
                             `groups:`)"
                        ),
                    },
                });
            }
        }
    }

    fn var_name<'n>(&mut self, key: &'n Node, context: &str) -> Option<&'n str> {
        let Some(name) = key.text() else {
            self.structure(
                key,
                format!(
                    "a var name in `{context}` must be a string, not {}",
                    key.describe()
                ),
            );
            return None;
        };
        let reason = if !is_identifier(name) {
            let fixed: String = name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            let fixed = if fixed.starts_with(|c: char| c.is_ascii_digit()) {
                format!("_{fixed}")
            } else {
                fixed
            };
            format!(
                "`{name}` is not a name a template can use: letters, digits and `_`, not \
                 starting with a digit (e.g. `{fixed}`)"
            )
        } else if RESERVED_VAR_NAMES.contains(&name) {
            format!(
                "`{name}` is reserved: templates already see it as the device's field, `vars` \
                 itself or a literal; name the var differently"
            )
        } else {
            return Some(name);
        };
        self.problem(
            key,
            ProblemKind::InvalidValue {
                field: context.to_owned(),
                reason,
            },
        );
        None
    }

    /// One value, whole; `path` names it in messages (`vars.ntp.servers[1]`).
    fn var_value(&mut self, node: &Node, path: &str) -> Option<Value> {
        match &node.kind {
            Kind::Null => {
                self.problem(
                    node,
                    ProblemKind::InvalidValue {
                        field: path.to_owned(),
                        reason: "an empty value is not allowed; write `''` for an empty string"
                            .into(),
                    },
                );
                None
            }
            Kind::Str(s) => Some(Value::String(s.to_string())),
            Kind::Typed(_) => {
                let (typed, written) = node.typed()?;
                Some(plain(typed, written).unwrap_or_else(|| Value::String(written.to_owned())))
            }
            Kind::Seq(items) => {
                let mut values = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match self.var_value(item, &format!("{path}[{i}]")) {
                        Some(v) => values.push(v),
                        None => ok = false,
                    }
                }
                ok.then_some(Value::Array(values))
            }
            Kind::Map(pairs) => {
                let mut map = serde_json::Map::new();
                let mut ok = true;
                for (key, value) in pairs {
                    // Nested keys are any text: templates reach them as `map["any key"]`.
                    let Some(k) = key.text() else {
                        self.structure(
                            key,
                            format!("a key in `{path}` must be a string, not {}", key.describe()),
                        );
                        ok = false;
                        continue;
                    };
                    match self.var_value(value, &format!("{path}.{k}")) {
                        Some(v) => {
                            map.insert(k.to_owned(), v);
                        }
                        None => ok = false,
                    }
                }
                ok.then_some(Value::Object(map))
            }
        }
    }
}

/// The typed value, when `written` is its plain spelling (the one a template prints back).
fn plain(typed: Typed, written: &str) -> Option<Value> {
    match typed {
        Typed::Bool(b) => (written == b.to_string()).then_some(Value::Bool(b)),
        Typed::Int(i) => (written == i.to_string())
            .then(|| i64::try_from(i).ok())
            .flatten()
            .map(Value::from),
        Typed::Float(x) => (x.is_finite() && written == x.to_string())
            .then(|| Number::from_f64(x))
            .flatten()
            .map(Value::Number),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_spellings_are_typed() {
        assert_eq!(plain(Typed::Int(9000), "9000"), Some(Value::from(9000)));
        assert_eq!(plain(Typed::Int(-1), "-1"), Some(Value::from(-1)));
        assert_eq!(plain(Typed::Int(10), "010"), None);
        assert_eq!(plain(Typed::Int(31), "0x1F"), None);
        assert_eq!(plain(Typed::Int(i128::MAX), &i128::MAX.to_string()), None);
        assert_eq!(plain(Typed::Float(2.5), "2.5"), Some(Value::from(2.5)));
        assert_eq!(plain(Typed::Float(1.1), "1.10"), None);
        assert_eq!(plain(Typed::Float(f64::NAN), ".nan"), None);
        assert_eq!(plain(Typed::Bool(true), "true"), Some(Value::Bool(true)));
        assert_eq!(plain(Typed::Bool(true), "yes"), None);
        assert_eq!(plain(Typed::Bool(false), "False"), None);
    }
}
