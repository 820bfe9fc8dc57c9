//! The front half of a reconcile, shared with `swr-sync-operator plan`: from a rule, the
//! tasks it owns and SWR's tasks to the plan and report, without changing anything in SWR.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::claims::{claims, desired_tasks, handed_over_ids, Others};
use super::ledger::Ledger;
use super::listings::Listings;
use super::observe::{observe, Observation};
use super::plan::{plan, remade, Action, Claim, Plan, PlanInput};
use super::regions::{self, RegionCache};
use super::report::{list_some, Problem, Report, TaskLine};
use super::select;
use super::standing::name_of;
use super::status::owned;
use super::task::{Settings, TaskKey};
use crate::api::spec::ExistingTasks;
use crate::api::status::{reason, RuleName, TaskState};
use crate::api::validate::{problems, resync_interval};
use crate::api::ImageSyncRule;
use crate::swr::{SourceRepo, SwrClient};

/// The assessment, for a rule whose spec is valid and whose credentials work: regions →
/// repositories (the selector's listing) → claims (against the rules `candidates` gives for
/// the rule's tasks: at least every other rule that wants or owns one) → observe (through
/// `listings`) → plan → acquire (in `ledger`) the tasks the plan takes.
pub async fn assess<R: Borrow<ImageSyncRule>>(
    rule: &ImageSyncRule,
    swr: &SwrClient,
    region_cache: &RegionCache,
    listings: &Listings<'_>,
    candidates: impl FnOnce(&BTreeSet<TaskKey>) -> Vec<R>,
    ledger: &Ledger,
) -> Result<(Plan, Report), Problem> {
    let skipped_check = regions::check(&rule.spec, swr, region_cache).await?;
    let owns = owned(rule.status.as_ref());
    let owned_repos = owns
        .keys()
        .map(|k| k.source().repository().to_string())
        .collect();
    let selection = select::repositories(&rule.spec, swr, &owned_repos).await?;
    let desired = desired_tasks(&rule.spec, &selection);
    let desired_keys: BTreeSet<TaskKey> = desired.keys().cloned().collect();
    let keys: BTreeSet<TaskKey> = desired_keys.iter().chain(owns.keys()).cloned().collect();
    let rules = candidates(&keys);
    let others = Others {
        rules: &rules,
        ledger,
    };
    let claims = claims(rule, &desired_keys, &owns, &others);
    let givers = claims.values().filter_map(|c| match c {
        Claim::HandedOver(giver) => Some(giver.clone()),
        _ => None,
    });
    let givers: BTreeSet<RuleName> = givers.collect();
    let handed = handed_over_ids(&claims, &rules);
    // An owned task SWR lists under another id than the recorded one was deleted and made
    // again by somebody else: not the rule's any more (`plan::remade`); nor, handed over,
    // under another id than its giver recorded, is it the giver's to hand over.
    let input_for = |observation: &Observation| {
        let ids = owns.iter().map(|(k, l)| (k, l.id));
        let ids = ids.chain(handed.iter().map(|(k, id)| (k, *id)));
        let gone = remade(ids, &observation.tasks);
        let input = PlanInput {
            desired: desired.clone(),
            observed: observation.tasks.clone(),
            owned: owns
                .iter()
                .filter(|(k, _)| !gone.contains_key(*k))
                .filter_map(|(k, l)| Some((k.clone(), l.ownership?)))
                .collect(),
            claims: claims
                .iter()
                .filter(|(k, _)| !gone.contains_key(*k))
                .map(|(k, c)| (k.clone(), c.clone()))
                .collect(),
            prune: rule.spec.prune,
            adopt: rule.spec.existing_tasks == ExistingTasks::Adopt,
        };
        (input, gone)
    };
    let mut observation = observe_step(swr, &keys, listings).await?;
    let (mut input, mut gone) = input_for(&observation);
    // A task handed over is taken, and a task is deleted or replaced, on a fresh listing.
    // The shared one is this account's and up to a TTL old: a task a rule of another
    // account (tenant) made or replaced since is not in it, or with an older id (creating
    // the task again would be refused as made outside, leaving it with no owner; recording
    // the older id would later make it look made again outside); a task deleted and made
    // again outside since is in it with the id the rule recorded; and a task this process
    // made since is in it with no id, which the rule must record before deleting it.
    let taking = claims.values().any(|c| matches!(c, Claim::HandedOver(_)));
    let deleting = plan(&input)
        .actions
        .iter()
        .any(|a| !matches!(a, Action::Create { .. }));
    if taking || deleting {
        observation = observe_step(swr, &keys, &listings.afresh()).await?;
        (input, gone) = input_for(&observation);
    }
    for (key, (recorded, listed)) in &gone {
        tracing::info!(
            task = %key,
            recorded,
            listed,
            "the task was deleted and made again outside the operator: no longer this rule's"
        );
    }
    let (plan, mut report) = plan_step(rule, input, &observation, ledger);
    if let Some(problem) = unnameable(rule, &selection) {
        report.add_problem(problem);
    }
    report.warnings.extend(skipped_check);
    report.handed_over_from = givers;
    Ok((plan, report))
}

/// Validation: the checks the schema could not make. Returns the resync interval.
pub fn validate(rule: &ImageSyncRule) -> Result<Duration, Problem> {
    let found = problems(&rule.spec);
    if !found.is_empty() {
        let message = found.iter().map(ToString::to_string).collect::<Vec<_>>();
        return Err(Problem::stalled(reason::INVALID_SPEC, message.join("; ")));
    }
    resync_interval(&rule.spec.resync_interval)
        .map_err(|e| Problem::stalled(reason::INVALID_SPEC, e))
}

/// Observe: list the tasks of every repository the rule wants or owns.
pub async fn observe_step(
    swr: &SwrClient,
    keys: &BTreeSet<TaskKey>,
    listings: &Listings<'_>,
) -> Result<Observation, Problem> {
    let repos = keys.iter().map(|k| k.source().clone()).collect();
    observe(swr, &repos, listings)
        .await
        .map_err(|e| Problem::from_api(e.api(), e.to_string()))
}

/// Repositories the selection holds (SWR listed them for a selector) whose names fail the
/// checks a task key needs: no task is wanted for them, and the rule says so rather than
/// look done.
fn unnameable(rule: &ImageSyncRule, selection: &BTreeSet<String>) -> Option<Problem> {
    let source = &rule.spec.source;
    let refused: Vec<String> = selection
        .iter()
        .filter_map(|name| {
            let error = SourceRepo::new(&source.region, &source.organization, name).err()?;
            Some(error.to_string())
        })
        .collect();
    (!refused.is_empty()).then(|| {
        Problem::stalled(
            reason::SOURCE_NOT_FOUND,
            format!(
                "repositories the selector matches cannot be replicated ({}); exclude them",
                list_some(&refused)
            ),
        )
    })
}

/// Plan, then acquire what the plan takes; a task another rule acquired
/// first is left to it. A wanted repository that SWR does not have is reported (when the
/// spec lists it by name) or dropped (when only the selector or the inventory named it: it
/// is gone, and its tasks with it).
pub fn plan_step(
    rule: &ImageSyncRule,
    mut input: PlanInput,
    observation: &Observation,
    ledger: &Ledger,
) -> (Plan, Report) {
    let gone = |key: &TaskKey| observation.missing.contains(key.source());
    let named = |key: &TaskKey| {
        let repository = key.source().repository();
        rule.spec
            .source
            .repositories
            .iter()
            .any(|r| r == repository)
    };
    let unplannable: BTreeMap<TaskKey, Settings> = input
        .desired
        .iter()
        .filter(|(key, _)| gone(key) && named(key))
        .map(|(k, s)| (k.clone(), *s))
        .collect();
    input.desired.retain(|key, _| !gone(key));
    let total = input.desired.len() + unplannable.len();
    let mut plan = plan(&input);
    let keys: Vec<TaskKey> = plan.acquisitions().cloned().collect();
    let taken = ledger.acquire(&name_of(rule), &keys);
    plan.yield_to(&taken, &input.desired);
    let mut report = Report::from_plan(&plan, total);
    for (key, settings) in &unplannable {
        let mut line = TaskLine::new(*settings, TaskState::Failed, None, None);
        line.message = Some("source repository not found".into());
        report.tasks.insert(key.clone(), line);
    }
    let missing: BTreeSet<&str> = unplannable
        .keys()
        .map(|k| k.source().repository())
        .collect();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.into_iter().collect();
        report.add_problem(Problem::stalled(
            reason::SOURCE_NOT_FOUND,
            format!("SWR has no repository {}", names.join(", ")),
        ));
    }
    (plan, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selected_repositories_no_task_can_name_are_reported() {
        let rule: ImageSyncRule = serde_json::from_value(serde_json::json!({
            "apiVersion": "swrsync.io/v1alpha1",
            "kind": "ImageSyncRule",
            "metadata": {"name": "r", "namespace": "ns"},
            "spec": {
                "source": {"region": "cn-north-4", "organization": "platform",
                           "repositorySelector": {"include": ["*"]}},
                "targets": [{"region": "cn-east-3", "organization": "dr"}],
                "credentialsSecretRef": {"name": "creds"},
            },
        }))
        .unwrap();
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        assert_eq!(unnameable(&rule, &names(&["nginx", "team/api"])), None);
        let problem = unnameable(&rule, &names(&["nginx", "app--x"])).expect("a problem");
        assert_eq!(problem.reason, reason::SOURCE_NOT_FOUND);
        assert!(
            problem.message.contains("\"app--x\""),
            "{}",
            problem.message
        );
        // The rest of the selection still makes its tasks.
        let desired = desired_tasks(&rule.spec, &names(&["nginx", "app--x"]));
        assert_eq!(desired.len(), 1);
    }
}
