//! The observe step: SWR's tasks for each repository that matters to a rule.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;

use super::listings::Listings;
use super::task::{ObservedTask, TaskKey};
use crate::swr::{SourceRepo, SwrApi, SwrError};

/// What SWR has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observation {
    /// Tasks of the listed repositories.
    pub tasks: BTreeMap<TaskKey, ObservedTask>,
    /// Repositories SWR does not know (404).
    pub missing: BTreeSet<SourceRepo>,
}

/// The tasks of every repository in `repos`, listed concurrently through the shared
/// listings (one call per repository unless another rule's pass has just listed it). A
/// missing repository is noted, not an error; any other failure ends the step.
pub async fn observe(
    swr: &impl SwrApi,
    repos: &BTreeSet<SourceRepo>,
    listings: &Listings<'_>,
) -> Result<Observation, SwrError> {
    let listed = join_all(repos.iter().map(|repo| listings.tasks(swr, repo))).await;
    let mut out = Observation::default();
    for (repo, listed) in repos.iter().zip(listed) {
        let Some(tasks) = listed? else {
            out.missing.insert(repo.clone());
            continue;
        };
        for (target, found) in tasks {
            out.tasks.insert(TaskKey::new(repo.clone(), target), found);
        }
    }
    Ok(out)
}
