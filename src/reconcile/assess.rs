//! The front half of a reconcile, shared with `swr-sync-operator plan`: from a rule, its
//! inventory and SWR's tasks to the plan and report, without changing anything.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::claims::{claims, desired_tasks};
use super::listings::Listings;
use super::observe::{observe, source_repo, Observation};
use super::plan::{plan, Claim, Plan, PlanInput, Settings, TaskKey};
use super::regions::{self, RegionCache};
use super::report::{Problem, Report, TaskLine};
use super::select;
use super::status::inventory;
use crate::api::status::{reason, TaskState};
use crate::api::validate::{problems, resync_interval};
use crate::api::ImageSyncRule;
use crate::swr::SwrClient;

/// Steps 3 to 5 for a rule whose spec is valid and whose credentials work: regions →
/// repositories (the selector's listing) → claims (against the rules `claimants` gives for
/// the rule's tasks: at least every other rule that wants one) → observe (through
/// `listings`) → plan.
pub async fn assess<I>(
    rule: &ImageSyncRule,
    swr: &SwrClient,
    region_cache: &RegionCache,
    listings: &Listings<'_>,
    claimants: impl FnOnce(&BTreeSet<TaskKey>) -> I,
) -> Result<(Plan, Report), Problem>
where
    I: IntoIterator<Item: Borrow<ImageSyncRule>>,
{
    regions::check(&rule.spec, swr, region_cache).await?;
    let known = inventory(rule.status.as_ref());
    let repositories = select::repositories(&rule.spec, swr).await?;
    let desired = desired_tasks(&rule.spec, &repositories);
    let managed = managed_keys(&known);
    let keys: BTreeSet<TaskKey> = desired.keys().chain(&managed).cloned().collect();
    let claims = claims(rule, &keys, claimants(&keys));
    let observation = observe_step(swr, &keys, listings).await?;
    Ok(plan_step(rule, desired, managed, claims, observation))
}

/// Step 1: the checks the schema could not make. Returns the resync interval.
pub fn validate(rule: &ImageSyncRule) -> Result<Duration, Problem> {
    let found = problems(&rule.spec);
    if !found.is_empty() {
        let message = found.iter().map(ToString::to_string).collect::<Vec<_>>();
        return Err(Problem::stalled(reason::INVALID_SPEC, message.join("; ")));
    }
    resync_interval(&rule.spec.resync_interval)
        .map_err(|e| Problem::stalled(reason::INVALID_SPEC, e))
}

/// Inventory tasks this rule manages (a conflict entry is another rule's task).
pub fn managed_keys(known: &BTreeMap<TaskKey, TaskLine>) -> BTreeSet<TaskKey> {
    known
        .iter()
        .filter(|(_, line)| line.state != TaskState::Conflict)
        .map(|(key, _)| key.clone())
        .collect()
}

/// Step 4: list the tasks of every repository the rule wants or manages.
pub async fn observe_step(
    swr: &SwrClient,
    keys: &BTreeSet<TaskKey>,
    listings: &Listings<'_>,
) -> Result<Observation, Problem> {
    let repos = keys.iter().filter_map(source_repo).collect();
    observe(swr, &repos, listings)
        .await
        .map_err(|e| Problem::from_api(e.api(), e.to_string()))
}

/// Step 5: plan. Desired tasks of repositories SWR does not have are reported, not planned.
pub fn plan_step(
    rule: &ImageSyncRule,
    desired: BTreeMap<TaskKey, Settings>,
    managed: BTreeSet<TaskKey>,
    claims: BTreeMap<TaskKey, Claim>,
    observation: Observation,
) -> (Plan, Report) {
    let total = desired.len();
    let (unplannable, desired): (BTreeMap<_, _>, BTreeMap<_, _>) = desired
        .into_iter()
        .partition(|(key, _)| source_repo(key).is_some_and(|r| observation.missing.contains(&r)));
    let plan = plan(&PlanInput {
        desired,
        observed: observation.tasks,
        inventory: managed,
        claims,
        prune: rule.spec.prune,
    });
    let mut report = Report::from_plan(&plan, total);
    // Only wanted repositories count as missing: one that vanished while only the inventory
    // still named it just takes its tasks with it.
    let missing: BTreeSet<String> = unplannable
        .keys()
        .filter_map(source_repo)
        .map(|r| r.to_string())
        .collect();
    for (key, settings) in unplannable {
        report.tasks.insert(
            key,
            TaskLine {
                settings,
                state: TaskState::Failed,
                id: None,
                message: Some("source repository not found".into()),
            },
        );
    }
    if !missing.is_empty() {
        let names: Vec<String> = missing.into_iter().collect();
        report.add_problem(Problem::stalled(
            reason::SOURCE_NOT_FOUND,
            format!("SWR has no repository {}", names.join(", ")),
        ));
    }
    (plan, report)
}
