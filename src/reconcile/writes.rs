//! What a pass writes back to Kubernetes besides its finalizer: the status (only when it
//! changed, with an Event when the Ready state changes), the intent written before SWR is
//! called, and one Event naming the pass's task changes.

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::ResourceExt;
use serde_json::json;

use super::context::Context;
use super::error::Error;
use super::events::event_reason;
use super::report::{list_some, Report};
use super::status;
use super::task::{Change, Settings, TaskKey};
use crate::api::status::{ready_state, reason, status_value};
use crate::api::ImageSyncRule;

/// Server-side apply field manager of the status.
const FIELD_MANAGER: &str = "swr-sync-operator";

/// Writes the status a report describes, if it differs from the current one; publishes an
/// Event when the Ready state changes. Returns whether it wrote.
pub async fn write_status(
    rule: &ImageSyncRule,
    ctx: &Context,
    report: &Report,
) -> Result<bool, Error> {
    write(rule, ctx, report, false).await
}

/// Writes the status a report describes before SWR is called, also when it differs from the
/// current one only in newly learnt task ids (`status::differs` counts no such change): the
/// id of a task about to be deleted must be in the status before the delete. It publishes
/// no Event: the pass's own Events follow at once and say what it did.
pub async fn write_intent(
    rule: &ImageSyncRule,
    ctx: &Context,
    report: &Report,
) -> Result<bool, Error> {
    write(rule, ctx, report, true).await
}

async fn write(
    rule: &ImageSyncRule,
    ctx: &Context,
    report: &Report,
    intent: bool,
) -> Result<bool, Error> {
    let previous = rule.status.as_ref();
    let new = status::of(rule, report, &status::now());
    let ids_differ = || previous.map(|p| ids(&p.tasks)) != Some(ids(&new.tasks));
    let changed = status::differs(previous, &new) || (intent && ids_differ());
    if !changed {
        return Ok(false);
    }
    let api: Api<ImageSyncRule> =
        Api::namespaced(ctx.client.clone(), &rule.namespace().unwrap_or_default());
    let patch =
        json!({"apiVersion": "swrsync.io/v1alpha1", "kind": "ImageSyncRule", "status": new});
    let written = api
        .patch_status(
            &rule.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(Error::PatchStatus)?;
    ctx.memo.remember(&written);
    let ready = ready_state(Some(&new));
    // The Ready state is compared with the status the pass began with, so a pass through
    // Progressing back to where it was tells nothing new.
    // Verification publishes its own Events, per target: one on the Ready change would
    // repeat them.
    let about_images = |state: &Option<(String, String)>| {
        state
            .as_ref()
            .is_some_and(|(_, r)| reason::is_replication(r))
    };
    let images_only = about_images(&ready)
        || (about_images(&ready_state(previous))
            && ready.as_ref().is_some_and(|(_, r)| r == reason::IN_SYNC));
    if !intent && !images_only && ready != ready_state(previous) {
        if let Some((state, reason)) = ready {
            // Progressing is the normal way to Ready, not something to warn about.
            let type_ = if state == status_value::TRUE || reason == reason::PROGRESSING {
                EventType::Normal
            } else {
                EventType::Warning
            };
            let message = report
                .problem
                .as_ref()
                .map_or_else(|| report.summary(), |p| p.message.clone());
            ctx.events.publish(rule, type_, &reason, message).await;
        }
    }
    Ok(true)
}

/// The task ids a status lists, in order.
fn ids(tasks: &[crate::api::status::TaskStatus]) -> Vec<Option<i64>> {
    tasks.iter().map(|t| t.id).collect()
}

/// One Event for the changes made in this pass, naming the tasks: `TaskCreated`,
/// `TaskReplaced` or `TaskDeleted` when they are of one kind, `TasksChanged` when of
/// several. (One Event per task would be worse than noisy: kube's Recorder folds events with
/// the same reason on the same object into one series keeping the first note.)
pub async fn announce(
    rule: &ImageSyncRule,
    ctx: &Context,
    changes: &[(Change, TaskKey, Settings)],
) {
    let mut reasons = Vec::new();
    let mut parts = Vec::new();
    for (kind, reason, verb) in [
        (Change::Created, event_reason::TASK_CREATED, "created"),
        (
            Change::Replaced,
            event_reason::TASK_REPLACED,
            "replaced (settings drifted)",
        ),
        (Change::Deleted, event_reason::TASK_DELETED, "deleted"),
    ] {
        let tasks: Vec<String> = changes
            .iter()
            .filter(|(change, _, _)| *change == kind)
            .map(|(_, key, _)| key.to_string())
            .collect();
        if !tasks.is_empty() {
            reasons.push(reason);
            parts.push(format!(
                "{verb} {} task(s): {}",
                tasks.len(),
                list_some(&tasks)
            ));
        }
    }
    let reason = match reasons.as_slice() {
        [] => return,
        [one] => one,
        _ => event_reason::TASKS_CHANGED,
    };
    ctx.events
        .publish(rule, EventType::Normal, reason, parts.join("; "))
        .await;
}
