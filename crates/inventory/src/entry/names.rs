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
        let mut keep = Vec::with_capacity(names.len());
        let mut seen: HashMap<&str, Position> = HashMap::with_capacity(names.len());
        for (name, at, defaulted) in &names {
            if let Some(&first) = seen.get(name.as_str()) {
                let problem = Problem {
                    location: self.location_at(*at),
                    kind: ProblemKind::DuplicateName {
                        name: name.clone(),
                        first: self.location_at(first),
                        defaulted: *defaulted,
                    },
                };
                self.problems.push(problem);
                keep.push(false);
                continue;
            }
            seen.insert(name, *at);
            keep.push(true);
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
