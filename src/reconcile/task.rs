//! A task's identity and settings, and what a pass changed about it: the vocabulary the
//! planner, apply, the listings and the status share.

use crate::swr::SourceRepo;

/// Identity of an SWR auto-sync task: one source repository to one target organization.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskKey {
    /// Source region.
    pub source_region: String,
    /// Source organization.
    pub source_organization: String,
    /// Source repository.
    pub repository: String,
    /// Target region.
    pub target_region: String,
    /// Target organization.
    pub target_organization: String,
}

impl TaskKey {
    /// The source repository, if its names are valid.
    pub fn source_repo(&self) -> Option<SourceRepo> {
        SourceRepo::new(
            &self.source_region,
            &self.source_organization,
            &self.repository,
        )
        .ok()
    }

    #[cfg(test)]
    /// cn-north-4/platform/`repo` to `region`/dr: the key unit tests use.
    pub fn sample(repo: &str, region: &str) -> Self {
        Self {
            source_region: "cn-north-4".into(),
            source_organization: "platform".into(),
            repository: repo.into(),
            target_region: region.into(),
            target_organization: "dr".into(),
        }
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
