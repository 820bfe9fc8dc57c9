//! A task's identity and settings, and what a pass changed about it: the vocabulary the
//! planner, apply, the listings and the status share.

use std::fmt;

use crate::swr::names::{self, NameError, NameKind};
use crate::swr::SourceRepo;

/// A replication target: a region and an organization in it, both valid names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    region: String,
    organization: String,
}

impl Target {
    /// Validates the two names.
    pub fn new(region: &str, organization: &str) -> Result<Self, NameError> {
        names::validate(NameKind::Region, region)?;
        names::validate(NameKind::Organization, organization)?;
        Ok(Self {
            region: region.to_string(),
            organization: organization.to_string(),
        })
    }

    /// Region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Organization.
    pub fn organization(&self) -> &str {
        &self.organization
    }

    /// Whether this is `region`/`organization`.
    pub fn is(&self, region: &str, organization: &str) -> bool {
        self.region == region && self.organization == organization
    }
}

/// `region/organization`.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.region, self.organization)
    }
}

/// Identity of an SWR auto-sync task: one source repository to one target organization.
/// Made only from valid names, so every key names a task SWR could hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskKey {
    source: SourceRepo,
    target: Target,
}

impl TaskKey {
    /// The task from `source` to `target`.
    pub fn new(source: SourceRepo, target: Target) -> Self {
        Self { source, target }
    }

    /// The task from `source_region`:`source_organization`/`repository` to
    /// `target_region`/`target_organization`, if the names are valid.
    pub fn from_names(
        (source_region, source_organization, repository): (&str, &str, &str),
        (target_region, target_organization): (&str, &str),
    ) -> Result<Self, NameError> {
        Ok(Self {
            source: SourceRepo::new(source_region, source_organization, repository)?,
            target: Target::new(target_region, target_organization)?,
        })
    }

    /// The source repository.
    pub fn source(&self) -> &SourceRepo {
        &self.source
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The repository the task copies into: the source's name in the target organization.
    pub fn destination(&self) -> SourceRepo {
        let target = &self.target;
        SourceRepo::new(
            target.region(),
            target.organization(),
            self.source.repository(),
        )
        .expect("a task key's names are valid")
    }

    /// Reads back what `Display` wrote (an organization has no `/`; a repository may), if it
    /// names a valid task.
    pub fn parse(text: &str) -> Option<Self> {
        let (source, target) = text.split_once(" -> ")?;
        let (region, path) = source.split_once(':')?;
        let (organization, repository) = path.split_once('/')?;
        let (target_region, target_organization) = target.split_once('/')?;
        let source = (region, organization, repository);
        Self::from_names(source, (target_region, target_organization)).ok()
    }

    #[cfg(test)]
    /// cn-north-4/platform/`repo` to `region`/dr: the key unit tests use.
    pub fn sample(repo: &str, region: &str) -> Self {
        Self::from_names(("cn-north-4", "platform", repo), (region, "dr")).unwrap()
    }
}

/// `region:organization/repository -> region/organization`, as statuses and Events name a
/// task.
impl fmt::Display for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.source, self.target)
    }
}

/// The mutable part of a task; SWR cannot update it, only delete and create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Settings {
    /// `override`.
    pub override_existing: bool,
    /// `syncAuto`.
    pub sync_auto: bool,
}

/// A task as SWR lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedTask {
    /// SWR task id; `None` for a task this process created since SWR last listed it
    /// (a create returns no id).
    pub id: Option<i64>,
    /// Its settings.
    pub settings: Settings,
}

/// What was changed, for Events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A task was created.
    Created,
    /// A drifted task was deleted and created again.
    Replaced,
    /// A task was deleted.
    Deleted,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_reads_back_what_it_writes_and_only_valid_names_make_one() {
        let key = TaskKey::from_names(("cn-north-4", "platform", "team/api"), ("cn-east-3", "dr"));
        let key = key.unwrap();
        assert_eq!(
            key.to_string(),
            "cn-north-4:platform/team/api -> cn-east-3/dr"
        );
        assert_eq!(TaskKey::parse(&key.to_string()), Some(key.clone()));
        assert_eq!(key.destination().to_string(), "cn-east-3:dr/team/api");
        for unreadable in ["", "cn-north-4:platform/api", "cn-north-4 -> cn-east-3/dr"] {
            assert_eq!(TaskKey::parse(unreadable), None, "{unreadable:?}");
        }
        let bad = TaskKey::from_names(("cn-north-4", "Platform!", "api"), ("cn-east-3", "dr"));
        assert!(bad.is_err());
        assert_eq!(
            TaskKey::parse("cn-north-4:platform/api -> cn-east-3/DR!"),
            None
        );
    }
}
