//! The platform table: every platform by canonical name, every `device_type` name to its
//! platform and transport, built-in ones parsed once per process and user-defined ones added
//! on top.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::def::{self, PlatformDef, Resolver};
use crate::error::{PlatformError, Problem};
use crate::regexes::Regexes;
use crate::spec::{PlatformSpec, Transport};

/// The built-in table's source, embedded.
pub const BUILTIN_YAML: &str = include_str!("../platforms.yaml");

/// The pseudo `device_type` that asks netsweep to find the platform itself.
pub const AUTODETECT: &str = "autodetect";

/// One platform: its definition and, compiled on first use, its regexes.
#[derive(Debug)]
pub struct Platform {
    spec: PlatformSpec,
    builtin: bool,
    regexes: OnceLock<Regexes>,
}

impl Platform {
    /// A platform from a resolved definition (e.g. one received by a worker), its regexes
    /// compiled and checked now.
    pub fn from_spec(spec: PlatformSpec) -> Result<Platform, PlatformError> {
        let regexes = Regexes::compile(&spec).map_err(|e| PlatformError::Invalid {
            problems: vec![Problem {
                location: None,
                message: format!("platform {}: bad regex: {e}", spec.name),
            }],
        })?;
        Ok(Platform {
            spec,
            builtin: false,
            regexes: OnceLock::from(regexes),
        })
    }

    /// The definition.
    pub fn spec(&self) -> &PlatformSpec {
        &self.spec
    }

    /// The canonical name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Whether the platform is in netsweep's own table (a job then names it; a user-defined
    /// one travels with its definition).
    pub fn is_builtin(&self) -> bool {
        self.builtin
    }

    /// The compiled regexes, compiled on first use (every definition's regexes were checked
    /// when it was loaded, and the built-in table's by its tests).
    pub fn regexes(&self) -> &Regexes {
        self.regexes.get_or_init(|| {
            Regexes::compile(&self.spec).expect("platform regexes are checked when loaded")
        })
    }
}

/// What a `device_type` name means.
#[derive(Clone, Debug)]
pub struct DeviceType {
    /// The platform.
    pub platform: Arc<Platform>,
    /// How it connects.
    pub transport: Transport,
    /// The port the name implies, if not the transport's usual one.
    pub port: Option<u16>,
}

/// Every known platform.
#[derive(Clone, Debug, Default)]
pub struct PlatformTable {
    platforms: Vec<Arc<Platform>>,
    /// `device_type` name → (index in `platforms`, transport, port).
    names: HashMap<String, (usize, Transport, Option<u16>)>,
}

/// The built-in table, parsed once per process.
pub fn builtin() -> &'static PlatformTable {
    static TABLE: OnceLock<PlatformTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        PlatformTable::default()
            .extended(BUILTIN_YAML, Path::new("platforms.yaml"), true)
            .unwrap_or_else(|e| panic!("the built-in platform table is invalid:\n{e}"))
    })
}

impl PlatformTable {
    /// Every platform, built-in ones first, each in definition order.
    pub fn platforms(&self) -> &[Arc<Platform>] {
        &self.platforms
    }

    /// The platform with this canonical name.
    pub fn get(&self, canonical: &str) -> Option<&Arc<Platform>> {
        self.platforms.iter().find(|p| p.name() == canonical)
    }

    /// What a `device_type` name (canonical or alias) means.
    pub fn resolve(&self, device_type: &str) -> Option<DeviceType> {
        let &(i, transport, port) = self.names.get(device_type)?;
        Some(DeviceType {
            platform: Arc::clone(&self.platforms[i]),
            transport,
            port,
        })
    }

    /// The built-in platform a platform is, or is based on through `base:` (the simulator
    /// serves a user-defined platform with it).
    pub fn builtin_root(&self, canonical: &str) -> Option<&Arc<Platform>> {
        let mut platform = self.get(canonical)?;
        for _ in 0..self.platforms.len() {
            if platform.is_builtin() {
                return Some(platform);
            }
            platform = self.get(platform.spec().base.as_deref()?)?;
        }
        None
    }

    /// Every `device_type` name, sorted (for "supported: …" messages).
    pub fn device_type_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.names.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// This table plus the platforms of a definitions file (a YAML list).
    pub fn with_file(&self, path: &Path) -> Result<PlatformTable, PlatformError> {
        let text = std::fs::read_to_string(path).map_err(|source| PlatformError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        self.with_definitions(&text, path)
    }

    /// This table plus the platforms defined in `text` (a YAML list); `file` names it in
    /// messages.
    pub fn with_definitions(
        &self,
        text: &str,
        file: &Path,
    ) -> Result<PlatformTable, PlatformError> {
        self.clone().extended(text, file, false)
    }

    /// This table plus the platforms under the `platforms:` key of the YAML mapping in
    /// `text` (an inventory); every other key is ignored. `None` when there are none.
    pub fn with_inventory_platforms(
        &self,
        text: &str,
        file: &Path,
    ) -> Result<Option<PlatformTable>, PlatformError> {
        let defs = def::parse_platforms_key(text, file)?;
        if defs.is_empty() {
            return Ok(None);
        }
        self.clone().add(defs, file, false).map(Some)
    }

    fn extended(
        self,
        text: &str,
        file: &Path,
        builtin: bool,
    ) -> Result<PlatformTable, PlatformError> {
        let defs = def::parse_list(text, file)?;
        self.add(defs, file, builtin)
    }

    /// Adds `defs` in order (a definition may use an earlier one as its base), reporting
    /// every problem of every definition at once.
    fn add(
        mut self,
        defs: Vec<PlatformDef>,
        file: &Path,
        builtin: bool,
    ) -> Result<PlatformTable, PlatformError> {
        let mut resolver = Resolver {
            file,
            problems: Vec::new(),
        };
        for def in defs {
            let base = match def.base() {
                None => None,
                Some((name, span)) => match self.resolve(name) {
                    Some(t) => Some(t.platform),
                    None => {
                        let known = self.platforms.iter().map(|p| p.name().to_owned());
                        let known: Vec<String> = known.collect();
                        let span = *span;
                        resolver.problem_at(
                            &span,
                            format!(
                                "platform {}: unknown base {name:?} (known: {})",
                                def.name(),
                                known.join(", ")
                            ),
                        );
                        continue;
                    }
                },
            };
            let before = resolver.problems.len();
            let location = resolver.name_location(&def);
            let spec = resolver.resolve(def, base.as_ref().map(|b| b.spec()));
            let clashes: Vec<String> = spec
                .device_type_names()
                .filter(|n| self.names.contains_key(*n) || *n == AUTODETECT)
                .map(str::to_owned)
                .collect();
            for name in clashes {
                let owner = self
                    .names
                    .get(&name)
                    .map(|&(i, ..)| self.platforms[i].name().to_owned());
                resolver.problems.push(Problem {
                    location: location.clone(),
                    message: match owner {
                        Some(owner) => format!(
                            "platform {}: device_type {name:?} is already taken by platform \
                             {owner} (to change a built-in platform, define a new one with \
                             `base: {owner}`)",
                            spec.name
                        ),
                        None => format!("platform {}: {name:?} is reserved", spec.name),
                    },
                });
            }
            if resolver.problems.len() > before {
                continue;
            }
            let index = self.platforms.len();
            self.names
                .insert(spec.name.clone(), (index, Transport::Ssh, None));
            for alias in &spec.aliases {
                self.names
                    .insert(alias.name.clone(), (index, alias.transport, alias.port));
            }
            let regexes = OnceLock::new();
            if !builtin {
                // Checked field by field above; compiled now so that a worker never pays
                // for it more than once.
                if let Ok(r) = Regexes::compile(&spec) {
                    let _ = regexes.set(r);
                }
            }
            self.platforms.push(Arc::new(Platform {
                spec,
                builtin,
                regexes,
            }));
        }
        if resolver.problems.is_empty() {
            Ok(self)
        } else {
            Err(PlatformError::Invalid {
                problems: resolver.problems,
            })
        }
    }
}
