//! The observe step: list SWR's tasks for each repository that matters to a rule.

use std::collections::{BTreeMap, BTreeSet};

use super::plan::{ObservedTask, Settings, TaskKey};
use crate::cloud::ErrorClass;
use crate::swr::{SourceRepo, SwrApi, SwrError};

/// What SWR has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observation {
    /// Tasks of the listed repositories.
    pub tasks: BTreeMap<TaskKey, ObservedTask>,
    /// Repositories SWR does not know (404).
    pub missing: BTreeSet<SourceRepo>,
}

/// Lists every repository in `repos`, one call each. A missing repository is noted, not an
/// error; any other failure ends the step.
pub async fn observe(
    swr: &impl SwrApi,
    repos: &BTreeSet<SourceRepo>,
) -> Result<Observation, SwrError> {
    let mut out = Observation::default();
    for repo in repos {
        let tasks = match swr.list_sync_tasks(repo).await {
            Ok(tasks) => tasks,
            Err(e) if e.class() == ErrorClass::NotFound => {
                out.missing.insert(repo.clone());
                continue;
            }
            Err(e) => return Err(e),
        };
        for task in tasks {
            let key = TaskKey {
                source_region: repo.region().to_string(),
                source_organization: repo.organization().to_string(),
                repository: repo.repository().to_string(),
                target_region: task.remote_region_id,
                target_organization: task.remote_namespace,
            };
            let found = ObservedTask {
                id: task.id,
                settings: Settings {
                    override_existing: task.override_existing,
                    sync_auto: task.sync_auto,
                },
            };
            // SWR keeps one task per target; should it ever list two, the oldest stands.
            out.tasks
                .entry(key)
                .and_modify(|t| {
                    if found.id < t.id {
                        *t = found.clone();
                    }
                })
                .or_insert(found);
        }
    }
    Ok(out)
}

/// The source repository of a task key, if its names are valid.
pub fn source_repo(key: &TaskKey) -> Option<SourceRepo> {
    SourceRepo::new(
        &key.source_region,
        &key.source_organization,
        &key.repository,
    )
    .ok()
}
