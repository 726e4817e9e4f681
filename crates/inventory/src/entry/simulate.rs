//! A device's `simulate:` block: its shape is checked here, its strings (faults, latencies)
//! by the simulator, which knows what they mean.

use super::fields::closest;
use super::{Field, Reader};
use crate::SimSettings;
use crate::error::ProblemKind;
use crate::node::{Kind, Typed};

/// Fields a `simulate:` block accepts.
const SIMULATE_FIELDS: &[&str] = &[
    "fault",
    "latency",
    "jitter",
    "banner_delay",
    "running_config_bytes",
    "privilege15",
];

impl Reader<'_> {
    pub(super) fn simulate(&mut self, f: &Field<'_>) -> Option<SimSettings> {
        let pairs = match &f.value.kind {
            Kind::Map(pairs) => pairs,
            Kind::Null => return None,
            _ => {
                self.problem(
                    f.value,
                    ProblemKind::WrongType {
                        field: "simulate".into(),
                        expected: "a mapping",
                        found: f.value.describe(),
                    },
                );
                return None;
            }
        };
        let mut sim = SimSettings::default();
        let mut ok = true;
        for (key, value) in pairs {
            let Some(written) = key.text() else {
                self.structure(
                    key,
                    format!("a field name must be a string, not {}", key.describe()),
                );
                ok = false;
                continue;
            };
            let Some(name) = SIMULATE_FIELDS.iter().copied().find(|n| *n == written) else {
                self.problem(
                    key,
                    ProblemKind::UnknownField {
                        field: written.to_owned(),
                        context: "simulate block",
                        suggestion: closest(written, SIMULATE_FIELDS),
                        expected: SIMULATE_FIELDS,
                    },
                );
                ok = false;
                continue;
            };
            let field = Field { name, key, value };
            match name {
                "fault" => sim.fault = self.string_list(&field),
                "latency" => sim.latency = self.plain_string(&field),
                "jitter" => sim.jitter = self.plain_string(&field),
                "banner_delay" => sim.banner_delay = self.plain_string(&field),
                "running_config_bytes" => match value.typed() {
                    Some((Typed::Int(i), _)) if u64::try_from(i).is_ok() => {
                        sim.running_config_bytes = u64::try_from(i).ok();
                    }
                    _ => {
                        let shown = value.text().unwrap_or_else(|| value.describe());
                        self.invalid(&field, format!("`{shown}` is not a number of bytes"));
                        ok = false;
                    }
                },
                "privilege15" => match value.typed() {
                    Some((Typed::Bool(b), _)) => sim.privilege15 = Some(b),
                    _ => {
                        self.problem(
                            value,
                            ProblemKind::WrongType {
                                field: name.into(),
                                expected: "true or false",
                                found: value.describe(),
                            },
                        );
                        ok = false;
                    }
                },
                _ => unreachable!("every SIMULATE_FIELDS name is matched"),
            }
        }
        ok.then_some(sim)
    }
}
