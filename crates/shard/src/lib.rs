//! Which shard of a sweep a device belongs to, for sweeps spread over many machines.
//!
//! A sweep split into `N` shards runs as `N` independent `netsweep run --shard K/N` processes,
//! typically the tasks of a Kubernetes Indexed Job or a Slurm job array. Each keeps the
//! devices whose name hashes to it: `xxh64(name, seed 0) % N + 1` ([`PARTITION`]). The shard
//! depends on the device's name and `N` alone, never on the rest of the inventory, so adding
//! or removing devices moves no other device, a resumed shard sweeps exactly its own devices,
//! and `netsweep merge` can check that each record came from the shard that owns its device.
//!
//! `--shard auto` ([`ShardSpec::Auto`]) reads the 0-based index from the engine
//! (`JOB_COMPLETION_INDEX` or `SLURM_ARRAY_TASK_ID`) and the count from
//! `NETSWEEP_SHARD_COUNT`: neither engine tells a task the count reliably (a Slurm array
//! resubmitted for some indexes changes its `MAX` and `COUNT`).
//!
//! This crate must not read files or the process environment itself (the caller hands it a
//! lookup function), and must not know about journals or inventories.

use std::fmt;
use std::str::FromStr;

/// The partition function, as recorded in journal headers. A journal whose header names
/// another function was split by another rule, and its records cannot be checked here.
pub const PARTITION: &str = "xxh64(name, seed 0) % N + 1";

/// The Kubernetes Indexed Job's 0-based completion index.
pub const KUBERNETES_INDEX_VAR: &str = "JOB_COMPLETION_INDEX";

/// The Slurm job array's 0-based task id.
pub const SLURM_INDEX_VAR: &str = "SLURM_ARRAY_TASK_ID";

/// The number of shards, for `--shard auto`.
pub const COUNT_VAR: &str = "NETSWEEP_SHARD_COUNT";

/// The shard (1-based) that owns `device` in a sweep of `count` shards.
pub fn shard_of(device: &str, count: u32) -> u32 {
    assert!(count > 0, "a sweep has at least one shard");
    // The remainder is below `count`, so it fits in u32.
    (hash(device) % u64::from(count)) as u32 + 1
}

/// The 64-bit hash [`PARTITION`] starts from (exposed for tests and for operators checking
/// a device's shard by hand, e.g. with Python's `xxhash.xxh64_intdigest(name)`).
pub fn hash(device: &str) -> u64 {
    xxhash_rust::xxh64::xxh64(device.as_bytes(), 0)
}

/// One shard of a sweep: `index` of `count`, 1-based (as `--shard 2/8` and nextest's
/// `--partition hash:2/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// Shard `index` of `count`; `1 <= index <= count`.
    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        if count == 0 {
            return Err(ShardError::ZeroCount);
        }
        if index == 0 || index > count {
            return Err(ShardError::IndexOutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }

    /// K, 1-based.
    pub fn index(self) -> u32 {
        self.index
    }

    /// N.
    pub fn count(self) -> u32 {
        self.count
    }

    /// Whether `device` belongs to this shard.
    pub fn contains(self, device: &str) -> bool {
        shard_of(device, self.count) == self.index
    }

    /// This shard's items, in their order; `name` gives each item's device name.
    pub fn select<T>(
        self,
        items: impl IntoIterator<Item = T>,
        name: impl Fn(&T) -> &str,
    ) -> Vec<T> {
        items
            .into_iter()
            .filter(|item| self.contains(name(item)))
            .collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    /// `K/N`, e.g. `2/8`.
    fn from_str(text: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError::BadSpec { text: text.into() };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let number = |s: &str| {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse::<u32>().map_err(|_| bad())
        };
        Shard::new(number(k.trim())?, number(n.trim())?)
    }
}

/// What `--shard` was given: a fixed shard, or `auto` (read from the batch engine).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardSpec {
    /// `--shard K/N`.
    Fixed(Shard),
    /// `--shard auto`.
    Auto,
}

impl FromStr for ShardSpec {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<ShardSpec, ShardError> {
        if text.trim().eq_ignore_ascii_case("auto") {
            Ok(ShardSpec::Auto)
        } else {
            text.parse().map(ShardSpec::Fixed)
        }
    }
}

impl ShardSpec {
    /// The shard this process runs. `env` looks up an environment variable (`None` when it
    /// is unset; an empty value counts as unset, as `VAR= cmd` clears it in a shell).
    pub fn resolve(self, env: impl Fn(&str) -> Option<String>) -> Result<Shard, ShardError> {
        let shard = match self {
            ShardSpec::Fixed(shard) => return Ok(shard),
            ShardSpec::Auto => {
                let var = |name: &'static str| env(name).filter(|v| !v.trim().is_empty());
                let number = |name: &'static str, value: String, expected: &'static str| {
                    value
                        .trim()
                        .parse::<u32>()
                        .map_err(|_| ShardError::BadVariable {
                            var: name,
                            value,
                            expected,
                        })
                };
                let kubernetes = var(KUBERNETES_INDEX_VAR)
                    .map(|v| number(KUBERNETES_INDEX_VAR, v, "a 0-based index"))
                    .transpose()?;
                let slurm = var(SLURM_INDEX_VAR)
                    .map(|v| number(SLURM_INDEX_VAR, v, "a 0-based index"))
                    .transpose()?;
                let (index_var, index) = match (kubernetes, slurm) {
                    (Some(k), Some(s)) if k != s => {
                        return Err(ShardError::IndexesDisagree {
                            kubernetes: k,
                            slurm: s,
                        });
                    }
                    (Some(k), _) => (KUBERNETES_INDEX_VAR, k),
                    (None, Some(s)) => (SLURM_INDEX_VAR, s),
                    (None, None) => return Err(ShardError::NoIndex),
                };
                let count = var(COUNT_VAR)
                    .map(|v| number(COUNT_VAR, v, "a number of shards"))
                    .transpose()?
                    .ok_or(ShardError::NoCount)?;
                if count == 0 {
                    return Err(ShardError::ZeroCount);
                }
                if index >= count {
                    return Err(ShardError::IndexBeyondCount {
                        var: index_var,
                        index,
                        count,
                    });
                }
                Shard::new(index + 1, count)?
            }
        };
        Ok(shard)
    }
}

/// Why `--shard` could not be understood or resolved. Every one is a usage error: no shard
/// may guess which devices it owns.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Not `K/N` nor `auto`.
    #[error("`{text}` is not a shard: use K/N (1-based, e.g. 2/8) or auto")]
    BadSpec {
        /// What was given.
        text: String,
    },
    /// `N` is zero.
    #[error("a sweep cannot have 0 shards")]
    ZeroCount,
    /// `K` is not in `1..=N`.
    #[error("shard {index}/{count} does not exist: shards are numbered 1 to {count}")]
    IndexOutOfRange {
        /// K.
        index: u32,
        /// N.
        count: u32,
    },
    /// `auto` without an engine's index.
    #[error(
        "--shard auto needs {KUBERNETES_INDEX_VAR} (a Kubernetes Indexed Job) or \
         {SLURM_INDEX_VAR} (a Slurm job array) in the environment; outside those, use --shard K/N"
    )]
    NoIndex,
    /// `auto` without the count.
    #[error(
        "--shard auto needs {COUNT_VAR}, the number of shards (the Job's completions, or the \
         array's size): the engines do not tell a task the count reliably"
    )]
    NoCount,
    /// A variable that is not a number.
    #[error("{var}={value:?} is not {expected}")]
    BadVariable {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// Both engines' indexes are set, to different values.
    #[error(
        "{KUBERNETES_INDEX_VAR}={kubernetes} and {SLURM_INDEX_VAR}={slurm} disagree: \
         which shard is this? Unset the one that does not belong"
    )]
    IndexesDisagree {
        /// `JOB_COMPLETION_INDEX`.
        kubernetes: u32,
        /// `SLURM_ARRAY_TASK_ID`.
        slurm: u32,
    },
    /// The 0-based index is not below the count.
    #[error(
        "{var}={index} but {COUNT_VAR}={count}: indexes run from 0 to {last} \
         (completions: {count}, or sbatch --array=0-{last})",
        last = count - 1
    )]
    IndexBeyondCount {
        /// The index's variable.
        var: &'static str,
        /// Its value.
        index: u32,
        /// N.
        count: u32,
    },
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use proptest::prelude::*;

    use super::*;

    /// Pinned values: changing them re-shards every sweep in flight and makes `netsweep
    /// merge` refuse journals written before the change. Cross-checked against an independent
    /// implementation (Python's `xxhash` package: `xxhash.xxh64_intdigest(name.encode(), 0)`).
    const GOLDEN: &[(&str, u64, [u32; 5])] = &[
        // name, xxh64, shard for N = 1, 2, 3, 8, 64
        ("", 0xef46db3751d8e999, [1, 2, 1, 2, 26]),
        ("core-1", 0x7f8a205e27691268, [1, 1, 1, 1, 41]),
        ("sim0001", 0xb52e72abc6bd4734, [1, 1, 3, 5, 53]),
        ("r1.example.net", 0xbce4c86fdbb12965, [1, 2, 3, 6, 38]),
        ("ÿ-unicode-é", 0xd396ddd60ca7bfbc, [1, 1, 2, 5, 61]),
    ];

    #[test]
    fn golden_values_are_stable() {
        for &(name, h, shards) in GOLDEN {
            assert_eq!(hash(name), h, "xxh64 of {name:?}");
            for (count, want) in [1, 2, 3, 8, 64].into_iter().zip(shards) {
                assert_eq!(shard_of(name, count), want, "{name:?} in {count} shards");
            }
        }
    }

    #[test]
    fn shards_are_balanced_for_a_realistic_fleet() {
        let mut per_shard: HashMap<u32, usize> = HashMap::new();
        for i in 0..10_000 {
            *per_shard
                .entry(shard_of(&format!("sw{i:05}"), 8))
                .or_default() += 1;
        }
        assert_eq!(per_shard.len(), 8);
        for (shard, n) in per_shard {
            assert!((1_100..=1_400).contains(&n), "shard {shard}: {n} of 10000");
        }
    }

    #[test]
    fn specs_parse_and_refuse_clearly() {
        assert_eq!(
            "2/8".parse::<ShardSpec>(),
            Ok(ShardSpec::Fixed(Shard::new(2, 8).unwrap()))
        );
        assert_eq!("auto".parse::<ShardSpec>(), Ok(ShardSpec::Auto));
        assert_eq!(Shard::new(3, 4).unwrap().to_string(), "3/4");
        for bad in ["", "2", "2/", "/8", "a/b", "-1/8", "+1/8", "1/8/2", "2.0/8"] {
            assert!(
                matches!(bad.parse::<ShardSpec>(), Err(ShardError::BadSpec { .. })),
                "{bad:?}"
            );
        }
        assert_eq!(
            "0/8".parse::<Shard>(),
            Err(ShardError::IndexOutOfRange { index: 0, count: 8 })
        );
        assert_eq!(
            "9/8".parse::<Shard>(),
            Err(ShardError::IndexOutOfRange { index: 9, count: 8 })
        );
        assert_eq!("1/0".parse::<Shard>(), Err(ShardError::ZeroCount));
    }

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| vars.get(k).cloned()
    }

    #[test]
    fn auto_reads_either_engine_and_refuses_disagreement() {
        let auto = ShardSpec::Auto;
        let shard = |k, n| Shard::new(k, n).unwrap();
        let k8s = [(KUBERNETES_INDEX_VAR, "0"), (COUNT_VAR, "4")];
        assert_eq!(auto.resolve(env(&k8s)), Ok(shard(1, 4)));
        let slurm = [(SLURM_INDEX_VAR, "3"), (COUNT_VAR, "4")];
        assert_eq!(auto.resolve(env(&slurm)), Ok(shard(4, 4)));
        let both = [
            (KUBERNETES_INDEX_VAR, "2"),
            (SLURM_INDEX_VAR, "2"),
            (COUNT_VAR, "4"),
        ];
        assert_eq!(auto.resolve(env(&both)), Ok(shard(3, 4)));
        // A fixed shard ignores the environment.
        assert_eq!(
            ShardSpec::Fixed(shard(1, 2)).resolve(env(&both)),
            Ok(shard(1, 2))
        );

        let refusals: &[(&[(&str, &str)], &str)] = &[
            (&[(COUNT_VAR, "4")], "needs JOB_COMPLETION_INDEX"),
            (&[(KUBERNETES_INDEX_VAR, "1")], "needs NETSWEEP_SHARD_COUNT"),
            (
                &[
                    (KUBERNETES_INDEX_VAR, "1"),
                    (SLURM_INDEX_VAR, "2"),
                    (COUNT_VAR, "4"),
                ],
                "disagree",
            ),
            (
                &[(SLURM_INDEX_VAR, "4"), (COUNT_VAR, "4")],
                "SLURM_ARRAY_TASK_ID=4 but NETSWEEP_SHARD_COUNT=4: indexes run from 0 to 3",
            ),
            (
                &[(SLURM_INDEX_VAR, "x"), (COUNT_VAR, "4")],
                "\"x\" is not a 0-based index",
            ),
            (
                &[(SLURM_INDEX_VAR, "-1"), (COUNT_VAR, "4")],
                "is not a 0-based index",
            ),
            (
                &[(SLURM_INDEX_VAR, "0"), (COUNT_VAR, "four")],
                "is not a number of shards",
            ),
            (&[(SLURM_INDEX_VAR, "0"), (COUNT_VAR, "0")], "0 shards"),
            (
                &[(KUBERNETES_INDEX_VAR, ""), (COUNT_VAR, "2")],
                "needs JOB_COMPLETION_INDEX",
            ),
        ];
        for (vars, expected) in refusals {
            let err = auto.resolve(env(vars)).unwrap_err().to_string();
            assert!(err.contains(expected), "{vars:?}: {err}");
        }
    }

    fn names() -> impl Strategy<Value = BTreeSet<String>> {
        proptest::collection::btree_set("[a-z0-9.:_-]{0,24}", 0..200)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every device in exactly one shard, for every N from 1 to 64.
        #[test]
        fn every_device_is_in_exactly_one_shard(devices in names()) {
            let devices: Vec<String> = devices.into_iter().collect();
            for count in 1..=64 {
                let mut seen: HashMap<&str, u32> = HashMap::new();
                for index in 1..=count {
                    let shard = Shard::new(index, count).unwrap();
                    for d in shard.select(devices.iter(), |d| d.as_str()) {
                        let earlier = seen.insert(d.as_str(), index);
                        prop_assert!(earlier.is_none(), "{d} in shards {earlier:?} and {index} of {count}");
                    }
                }
                prop_assert_eq!(seen.len(), devices.len(), "some device in no shard of {}", count);
            }
        }

        /// Adding devices to the inventory (anywhere in it) moves none of the others.
        #[test]
        fn adding_devices_moves_none(devices in names(), added in names(), count in 1u32..=64, at in 0usize..200) {
            let before: Vec<&str> = devices.iter().map(String::as_str).collect();
            let mut after = before.clone();
            let at = at.min(after.len());
            for (i, d) in added.iter().enumerate() {
                if !devices.contains(d) {
                    after.insert(at + i.min(after.len() - at), d.as_str());
                }
            }
            for index in 1..=count {
                let shard = Shard::new(index, count).unwrap();
                let kept: Vec<&str> = shard
                    .select(after.iter().copied(), |d| d)
                    .into_iter()
                    .filter(|d| devices.contains(*d))
                    .collect();
                let mut was = shard.select(before.iter().copied(), |d| d);
                // Selection keeps inventory order; compare as sets of names.
                was.sort_unstable();
                let mut kept = kept;
                kept.sort_unstable();
                prop_assert_eq!(kept, was, "shard {}/{}", index, count);
            }
        }
    }
}
