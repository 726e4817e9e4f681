//! Which platform a job is for, and the commands it sends: a built-in platform of the
//! platform table (netsweep-platform) by name, or a user-defined one the job carries, compiled
//! once per process; `@name` commands resolved to the platform's own.
//!
//! The platform table is the only list of platforms; this module holds none.

use std::collections::BTreeMap;
use std::sync::Arc;

use netsweep_platform::{AUTODETECT, CommandBook, Platform, PlatformSpec, ResolvedCommand};
use netsweep_protocol::{Job, NamedCommand};

use crate::context::SessionContext;
use crate::error::SessionError;

/// What a job's `platform` names.
pub(crate) enum JobPlatform {
    /// A platform of the table, or the job's own definition.
    Known(Arc<Platform>),
    /// `autodetect`: found from the device itself.
    Autodetect,
}

/// The platform of `job`: its definition if it carries one (a user-defined platform), else
/// the built-in table's entry.
pub(crate) fn for_job(job: &Job, ctx: &SessionContext) -> Result<JobPlatform, SessionError> {
    let name = job.target.platform.as_str();
    if let Some(definition) = &job.platform_definition {
        return ctx.user_platform(definition).map(JobPlatform::Known);
    }
    if name == AUTODETECT {
        return Ok(JobPlatform::Autodetect);
    }
    match netsweep_platform::builtin().resolve(name) {
        Some(t) => Ok(JobPlatform::Known(t.platform)),
        None => Err(SessionError::UnknownPlatform {
            platform: name.to_owned(),
            supported: netsweep_platform::builtin().device_type_names().join(", "),
        }),
    }
}

/// Compiles a user-defined platform received in a job.
pub(crate) fn compile_definition(definition: &serde_json::Value) -> Result<Platform, SessionError> {
    let bad = |detail: String| SessionError::Protocol {
        stage: netsweep_protocol::Stage::Connect,
        detail: format!("the job's platform definition is unusable: {detail}"),
        source: None,
    };
    let spec: PlatformSpec =
        serde_json::from_value(definition.clone()).map_err(|e| bad(e.to_string()))?;
    Platform::from_spec(spec).map_err(|e| bad(e.to_string()))
}

/// The user's named commands as the platform table reads them.
fn book(named: &[NamedCommand]) -> CommandBook {
    CommandBook::from_entries(named.iter().map(|n| {
        (
            n.name.clone(),
            n.default.clone(),
            n.platforms
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        )
    }))
}

/// The job's commands as `platform` runs them (`@version` → `show version`), or the
/// platform's missing mapping as the failure of the command that needs it.
pub(crate) fn commands_for(
    job: &Job,
    platform: &Platform,
) -> Result<Vec<ResolvedCommand>, SessionError> {
    book(&job.named_commands)
        .resolve_all(&job.commands, platform.spec())
        .map_err(|unmapped| SessionError::UnmappedCommand {
            written: format!("@{}", unmapped.name),
            platform: unmapped.platform,
        })
}
