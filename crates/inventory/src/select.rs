//! `--limit`: choosing devices by name, group or glob.
//!
//! This module must not reorder devices: the selection keeps inventory order, which is the
//! sweep's `--order input` order and the job ids.

use globset::{Glob, GlobMatcher};

use crate::{Inventory, InventoryDevice, InventoryError};

struct Pattern<'a> {
    text: &'a str,
    exclude: bool,
    matcher: GlobMatcher,
}

impl Pattern<'_> {
    fn matches(&self, device: &InventoryDevice) -> bool {
        self.matcher.is_match(&device.target.name)
            || device
                .target
                .groups
                .iter()
                .any(|g| self.matcher.is_match(g))
    }
}

pub(crate) fn select<'i>(
    inventory: &'i Inventory,
    limit: &[String],
) -> Result<Vec<&'i InventoryDevice>, InventoryError> {
    let mut patterns = Vec::with_capacity(limit.len());
    for raw in limit {
        let (exclude, text) = match raw.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, raw.as_str()),
        };
        let matcher = Glob::new(text)
            .map_err(|source| InventoryError::BadLimitPattern {
                pattern: raw.clone(),
                source,
            })?
            .compile_matcher();
        patterns.push(Pattern {
            text: raw,
            exclude,
            matcher,
        });
    }
    for p in &patterns {
        if !inventory.devices.iter().any(|d| p.matches(d)) {
            return Err(InventoryError::LimitMatchedNothing {
                pattern: p.text.to_owned(),
                path: inventory.path.clone(),
            });
        }
    }
    let any_include = patterns.iter().any(|p| !p.exclude);
    Ok(inventory
        .devices
        .iter()
        .filter(|d| {
            let included = !any_include || patterns.iter().any(|p| !p.exclude && p.matches(d));
            included && !patterns.iter().any(|p| p.exclude && p.matches(d))
        })
        .collect())
}
