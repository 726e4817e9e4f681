//! Device names: a name defaults to the host (or `host:port` when entries share a host), and
//! every name, written or defaulted, must be unique.

use std::collections::{HashMap, HashSet};

use super::{Position, Reader};
use crate::InventoryDevice;
use crate::error::{Problem, ProblemKind};

/// A device as read from its entry, before names are settled (a default name depends on
/// whether other entries share the host).
pub(crate) struct Partial {
    pub explicit_name: Option<(String, Position)>,
    pub device: InventoryDevice,
}

/// Every device read, before names are settled: the devices themselves, already in the
/// vector that becomes the inventory's (a second one would double the peak for a large
/// fleet), and beside them the names their entries gave, if any.
#[derive(Default)]
pub(crate) struct Partials {
    pub(super) devices: Vec<InventoryDevice>,
    explicit_names: Vec<Option<(String, Position)>>,
}

impl Partials {
    pub(super) fn reserve_exact(&mut self, additional: usize) {
        self.devices.reserve_exact(additional);
        self.explicit_names.reserve_exact(additional);
    }

    pub(super) fn push(&mut self, partial: Partial) {
        self.devices.push(partial.device);
        self.explicit_names.push(partial.explicit_name);
    }
}

impl Reader<'_> {
    /// Gives every device its name and reports duplicates. A name defaults to the host, or to
    /// `host:port` when several entries share the host (simulated fleets on one address).
    pub fn settle_names(&mut self, partials: Partials) -> Vec<InventoryDevice> {
        let Partials {
            mut devices,
            explicit_names,
        } = partials;
        let mut per_host: HashMap<&str, usize> = HashMap::new();
        for d in &devices {
            *per_host.entry(d.target.host.as_str()).or_default() += 1;
        }
        let shared: HashSet<String> = per_host
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(h, _)| h.to_owned())
            .collect();
        // Every name first; duplicates are then found by borrowing them, without a copy of
        // each name and location in the lookup table.
        let names: Vec<(String, Position, bool)> = devices
            .iter()
            .zip(explicit_names)
            .map(|(device, explicit)| match explicit {
                Some((name, at)) => (name, at, false),
                None => {
                    let t = &device.target;
                    let name = if !shared.contains(&t.host) {
                        t.host.clone()
                    } else {
                        t.address()
                    };
                    (name, (device.location.line, device.location.column), true)
                }
            })
            .collect();
        drop(shared);
        // In file order, names of entries rejected for other problems included: the second
        // `r2` is a duplicate even when the first `r2` has a bad port.
        let rejected = std::mem::take(&mut self.rejected_names);
        let mut in_file_order: Vec<(&str, Position, bool, Option<usize>)> = names
            .iter()
            .enumerate()
            .map(|(i, (name, at, defaulted))| (name.as_str(), *at, *defaulted, Some(i)))
            .chain(
                rejected
                    .iter()
                    .map(|(name, at)| (name.as_str(), *at, false, None)),
            )
            .collect();
        if !rejected.is_empty() {
            in_file_order.sort_by_key(|(_, at, _, _)| *at);
        }
        let mut keep = vec![true; names.len()];
        let mut seen: HashMap<&str, Position> = HashMap::with_capacity(in_file_order.len());
        for (name, at, defaulted, device) in in_file_order {
            if let Some(&first) = seen.get(name) {
                let problem = Problem {
                    location: self.location_at(at),
                    kind: ProblemKind::DuplicateName {
                        name: name.to_owned(),
                        first: self.location_at(first),
                        defaulted,
                    },
                };
                self.problems.push(problem);
                if let Some(i) = device {
                    keep[i] = false;
                }
                continue;
            }
            seen.insert(name, at);
        }
        drop(seen);
        for (device, (name, _, _)) in devices.iter_mut().zip(names) {
            device.target.name = name;
        }
        let mut keep = keep.into_iter();
        devices.retain(|_| keep.next().unwrap_or(false));
        devices
    }
}
