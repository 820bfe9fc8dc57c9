//! A rule being deleted: its tasks go to the rules that want them (handed over, whatever
//! the deletion policy), and the rest are deleted (`deletionPolicy: Delete`) or left in SWR
//! (`Orphan`). The finalizer stays until that is done.

use std::collections::BTreeMap;

use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use super::account::Account;
use super::apply::{apply, fold};
use super::assess::observe_step;
use super::context::Context;
use super::error::Error;
use super::events::event_reason;
use super::handover::{release_all, settle};
use super::plan::{plan, remade, Action as TaskAction, PlanInput};
use super::report::{Problem, Report};
use super::secrets::{credentials, release_if_unused};
use super::standing::name_of;
use super::status::{inventory, owned};
use super::task::TaskKey;
use super::writes::{announce, write_intent, write_status};
use crate::api::spec::DeletionPolicy;
use crate::api::status::{reason, Ownership, TaskState};
use crate::api::ImageSyncRule;

/// Cleans up after `rule`; an error keeps the finalizer (and the controller retries).
pub async fn cleanup(rule: &ImageSyncRule, ctx: &Context) -> Result<Action, Error> {
    let before = inventory(rule.status.as_ref());
    let mut report = Report {
        tasks: owned(rule.status.as_ref()),
        ..Report::default()
    };
    release_all(rule, ctx, &mut report);
    let rest: BTreeMap<TaskKey, Ownership> = report
        .tasks
        .iter()
        .filter(|(_, line)| line.state != TaskState::Releasing)
        .filter_map(|(key, line)| Some((key.clone(), line.ownership?)))
        .collect();
    let orphan = rule.spec.deletion_policy == DeletionPolicy::Orphan || rule.spec.suspend;
    if !rest.is_empty() && orphan {
        report.tasks.retain(|key, _| !rest.contains_key(key));
        let note = format!("left {} task(s) in SWR", rest.len());
        ctx.events
            .publish(rule, EventType::Normal, event_reason::TASKS_ORPHANED, note)
            .await;
    } else if !rest.is_empty() {
        delete(rule, ctx, rest, &mut report).await?;
    }
    let handing = report
        .tasks
        .values()
        .filter(|l| l.state == TaskState::Releasing)
        .count();
    if handing > 0 && report.problem.is_none() {
        let message =
            format!("waiting for {handing} task(s) to be taken over by the rules that want them");
        report.add_problem(Problem {
            reason: reason::DELETING,
            retryable: true,
            ..Problem::stalled(reason::DELETING, message)
        });
    }
    if let Some(problem) = report.problem.take() {
        let message = problem.message.clone();
        report.add_problem(Problem {
            reason: reason::DELETING,
            retryable: true,
            ..problem
        });
        write_status(rule, ctx, &report).await?;
        settle(rule, ctx, &before, &report).await;
        return Err(if handing > 0 && report.tasks.len() == handing {
            Error::HandoverPending(handing)
        } else {
            Error::CleanupPending(message)
        });
    }
    settle(rule, ctx, &before, &report).await;
    release_if_unused(ctx, &Account::of(rule), Some(&name_of(rule))).await?;
    Ok(Action::await_change())
}

/// Deletes the owned tasks nobody takes over; what could not be deleted stays in the report
/// with the problem that stopped it.
async fn delete(
    rule: &ImageSyncRule,
    ctx: &Context,
    rest: BTreeMap<TaskKey, Ownership>,
    report: &mut Report,
) -> Result<(), Error> {
    let (swr, _) = match credentials(rule, ctx, false).await? {
        Ok(clients) => clients,
        Err(problem) => {
            let message = format!(
                "{}; {} task(s) cannot be deleted without it: re-create the Secret, or set \
                 deletionPolicy: Orphan to leave them in SWR",
                problem.message,
                rest.len()
            );
            report.add_problem(Problem::stalled(problem.reason, message));
            return Ok(());
        }
    };
    // A task released earlier may have been taken meanwhile: it is not ours to delete.
    let taken = ctx.ledger.acquire(&name_of(rule), rest.keys());
    report.tasks.retain(|key, _| !taken.contains_key(key));
    let rest: BTreeMap<TaskKey, Ownership> = rest
        .into_iter()
        .filter(|(k, _)| !taken.contains_key(k))
        .collect();
    // Listed afresh: a listing kept for other rules may predate a task deleted and made
    // again outside, or lack the id of a task this process made.
    let listings = ctx.listings.for_account(Account::of(rule), true);
    let keys = rest.keys().cloned().collect();
    let observation = match observe_step(&swr, &keys, &listings).await {
        Ok(observation) => observation,
        Err(problem) => {
            report.add_problem(problem);
            return Ok(());
        }
    };
    // A task listed under another id than the recorded one was made again by somebody else
    // (after a delete of ours whose answer was lost, say): not ours, never deleted.
    let ids = rest
        .keys()
        .map(|k| (k, report.tasks.get(k).and_then(|l| l.id)));
    let gone = remade(ids, &observation.tasks);
    for (key, (recorded, listed)) in &gone {
        tracing::info!(
            task = %key,
            recorded,
            listed,
            "the task was deleted and made again outside the operator: left to its maker"
        );
    }
    let rest: BTreeMap<TaskKey, Ownership> = rest
        .into_iter()
        .filter(|(k, _)| !gone.contains_key(k))
        .collect();
    let plan = plan(&PlanInput {
        observed: observation.tasks,
        owned: rest.clone(),
        prune: true,
        ..PlanInput::default()
    });
    // Tasks already gone from SWR, or made again by somebody else, are done with.
    report.tasks.retain(|key, _| {
        !(rest.contains_key(key) || gone.contains_key(key))
            || plan.actions.iter().any(|a| a.key() == key)
    });
    // The id of each task about to be deleted goes into the status first, so that after a
    // delete whose answer is lost a task made again meanwhile is told apart from ours.
    let mut learnt = false;
    for action in &plan.actions {
        let TaskAction::Delete {
            key, id: Some(id), ..
        } = action
        else {
            continue;
        };
        if let Some(line) = report.tasks.get_mut(key).filter(|l| l.id.is_none()) {
            line.id = Some(*id);
            learnt = true;
        }
    }
    if learnt {
        // Under way, not stuck (that is `Deleting`): no Warning Event for it.
        let mut intent = report.clone();
        let message = format!("deleting {} task(s)", plan.actions.len());
        intent.add_problem(Problem {
            retryable: true,
            ..Problem::stalled(reason::PROGRESSING, message)
        });
        write_intent(rule, ctx, &intent).await?;
    }
    let outcomes = apply(&swr, &plan.actions).await;
    let changes = fold(report, &plan.actions, outcomes);
    listings.record(&plan.actions, &changes).await;
    announce(rule, ctx, &changes).await;
    Ok(())
}
