//! One rule's reconcile, read top to bottom in `pass`: validate → credentials → assess
//! (regions, claims, observe, plan, acquire) → record intent → apply → copies → HSS scans →
//! verification, then the status (`finish`); when the rule is deleted, the cleanup of its
//! tasks instead.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{finalizer, Event as Finalize};
use kube::ResourceExt;
use tracing::Instrument;

use super::account::Account;
use super::apply::{apply, fold};
use super::assess::{assess, validate};
use super::claims::desired_tasks;
use super::cleanup::cleanup;
use super::context::{jittered, Context};
use super::error::Error;
use super::events::event_reason;
use super::handover::{confirm, release_all, settle};
use super::plan::{Action as TaskAction, Plan};
use super::report::{Problem, Report};
use super::secrets::credentials;
use super::standing::name_of;
use super::status::{self, inventory, owned};
use super::task::{Change, Settings, TaskKey};
use super::writes::{announce, write_intent, write_status};
use super::{copies, scans, verification};
use crate::api::spec::{FINALIZER, RECONCILE_REQUESTED_AT};
use crate::api::status::{reason, TaskState};
use crate::api::ImageSyncRule;
use crate::hss::HssClient;
use crate::swr::SwrClient;

/// How often a rule that is handing tasks over looks whether they have been taken (the
/// taker wakes it anyway; this is for a taker that turns out unable).
pub const HANDOVER_POLL: Duration = Duration::from_secs(5);

/// Entry point for the controller: finalizer handling around [`sync`] and [`cleanup`],
/// timed and counted, in a span naming the rule (every log line of the reconcile has it).
pub async fn reconcile(rule: Arc<ImageSyncRule>, ctx: Arc<Context>) -> Result<Action, Error> {
    let rule = ctx.memo.freshest(rule);
    let rule_name = name_of(&rule);
    let span =
        tracing::info_span!("reconcile", namespace = %rule_name.namespace, rule = %rule_name.name);
    let started = Instant::now();
    let api: Api<ImageSyncRule> = Api::namespaced(ctx.client.clone(), &rule_name.namespace);
    let result = finalizer(&api, FINALIZER, rule, |event| async {
        match event {
            Finalize::Apply(rule) => sync(&rule, &ctx).await,
            Finalize::Cleanup(rule) => cleanup(&rule, &ctx).await,
        }
    })
    .instrument(span)
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    if result.is_err() {
        // What this pass acquired was never written: other rules may have it again.
        ctx.ledger.rollback(&rule_name);
    }
    let failure = result.as_ref().err().map(Error::label);
    ctx.metrics.reconciled(started.elapsed(), failure);
    result
}

/// Retry policy for failed reconciles: per-rule exponential backoff with jitter.
pub fn error_policy(rule: Arc<ImageSyncRule>, error: &Error, ctx: Arc<Context>) -> Action {
    if error.handover_pending() {
        // Not a failure: a deleted rule waits for others to take its tasks (they wake it).
        return Action::requeue(HANDOVER_POLL);
    }
    let name = name_of(&rule);
    tracing::warn!(rule = %name.name, namespace = %name.namespace, error = %error, "reconcile failed");
    Action::requeue(ctx.backoff(name, None))
}

/// Why a pass ended before its last step.
enum Halt {
    /// A problem the status reports; `resync`: when to look again (none for an invalid
    /// spec, which only an edit fixes).
    Stopped(Problem, Option<Duration>),
    /// Kubernetes failed us: the controller retries with backoff.
    Failed(Error),
}

impl From<Error> for Halt {
    fn from(error: Error) -> Self {
        Self::Failed(error)
    }
}

/// Brings SWR in line with the rule: the pass's steps, then its status.
async fn sync(rule: &ImageSyncRule, ctx: &Context) -> Result<Action, Error> {
    match pass(rule, ctx).await {
        Ok((report, resync)) => finish(rule, ctx, report, Some(resync)).await,
        Err(Halt::Stopped(problem, resync)) => stopped(rule, ctx, problem, resync).await,
        Err(Halt::Failed(error)) => Err(error),
    }
}

/// The steps of a pass, in order. Each hands its output to the next, or halts the pass with
/// the problem that stopped it (`?`).
async fn pass(rule: &ImageSyncRule, ctx: &Context) -> Result<(Report, Duration), Halt> {
    let resync = validate(rule).map_err(|problem| Halt::Stopped(problem, None))?;
    let stop = |problem| Halt::Stopped(problem, Some(resync));
    if rule.spec.suspend {
        // A suspended rule keeps what it owns, and hands nothing over.
        let message = "spec.suspend is set; SWR is not called";
        return Err(stop(Problem::stalled(reason::SUSPENDED, message)));
    }
    let (swr, hss) = credentials(rule, ctx, true).await?.map_err(stop)?;
    let listings = ctx
        .listings
        .for_account(Account::of(rule), reconcile_requested(rule));
    let candidates = |keys: &BTreeSet<TaskKey>| ctx.claimants_of(keys);
    let assessed = assess(rule, &swr, &ctx.regions, &listings, candidates, &ctx.ledger).await;
    let (plan, mut report) = assessed.map_err(stop)?;
    warn(rule, ctx, &report.warnings).await;
    record_intent(rule, ctx, &plan, &report).await?;
    let outcomes = apply(&swr, &plan.actions).await;
    let changes = fold(&mut report, &plan.actions, outcomes);
    listings.record(&plan.actions, &changes).await;
    announce(rule, ctx, &changes).await;
    let created: Vec<(TaskKey, Settings)> = changes
        .into_iter()
        .filter(|(change, _, _)| *change == Change::Created)
        .map(|(_, key, settings)| (key, settings))
        .collect();
    copy_step(rule, ctx, &swr, &created, &mut report).await;
    scan_step(rule, ctx, &hss, &created, &mut report).await;
    verify_step(rule, ctx, &swr, &mut report).await;
    Ok((report, resync))
}

/// Warning Events for what the assessment skipped (a regions lookup that failed).
async fn warn(rule: &ImageSyncRule, ctx: &Context, warnings: &[String]) {
    for warning in warnings {
        let reason = event_reason::REGION_CHECK_SKIPPED;
        ctx.events
            .publish(rule, EventType::Warning, reason, warning.clone())
            .await;
    }
}

/// The inventory as the status holds it, with `problem`: nothing observed or changed.
fn carried(rule: &ImageSyncRule, problem: Problem) -> Report {
    let desired = desired_tasks(&rule.spec, &rule.spec.source.repositories);
    Report::carried(inventory(rule.status.as_ref()), desired.len(), problem)
}

/// The pass stopped at `problem` before acting on SWR. A rule that cannot act (invalid
/// spec, credentials missing or refused) hands the tasks it owns to the rules that want
/// them; one that met a passing failure keeps them.
async fn stopped(
    rule: &ImageSyncRule,
    ctx: &Context,
    problem: Problem,
    resync: Option<Duration>,
) -> Result<Action, Error> {
    let unable = [
        reason::INVALID_SPEC,
        reason::CREDENTIALS_MISSING,
        reason::AUTH_FAILED,
    ];
    let cannot_act = unable.contains(&problem.reason);
    let mut report = carried(rule, problem);
    if cannot_act {
        release_all(rule, ctx, &mut report);
    }
    finish(rule, ctx, report, resync).await
}

/// Copies of new tasks' existing tags, and the progress of those under way.
async fn copy_step(
    rule: &ImageSyncRule,
    ctx: &Context,
    swr: &SwrClient,
    created: &[(TaskKey, Settings)],
    report: &mut Report,
) {
    let previous = rule.status.as_ref().map(|s| s.existing_images.as_slice());
    let pass = copies::follow(
        &rule.spec,
        swr,
        previous.unwrap_or_default(),
        created,
        |key| report.tasks.contains_key(key),
        chrono::Utc::now(),
    )
    .await;
    ctx.events.publish_all(rule, pass.notices).await;
    report.copies = Some(pass.copies);
    report.follow_up_at(pass.due);
}

/// HSS refreshes for regions that got tasks, debounced; the outcome goes to the report.
async fn scan_step(
    rule: &ImageSyncRule,
    ctx: &Context,
    hss: &HssClient,
    created: &[(TaskKey, Settings)],
    report: &mut Report,
) {
    let created_in: BTreeSet<String> = created
        .iter()
        .map(|(k, _)| k.target().region().to_string())
        .collect();
    let default_project = ctx.config.hss_enterprise_project_id.as_deref();
    let pass = scans::refresh(
        rule,
        &created_in,
        hss,
        &ctx.scans,
        default_project,
        &status::now(),
    )
    .await;
    ctx.events.publish_all(rule, pass.notices).await;
    report.scans = Some(pass.statuses);
    report.follow_up_at(pass.due);
}

/// Replication verification and repair (`spec.verify`) of the tasks that exist as the rule
/// wants them.
async fn verify_step(rule: &ImageSyncRule, ctx: &Context, swr: &SwrClient, report: &mut Report) {
    let Some(spec) = &rule.spec.verify else {
        return;
    };
    let pairs = verification::verifiable(report);
    let verification = verification::Verification {
        spec,
        swr,
        listings: (&ctx.tag_listings, Account::of(rule)),
        previous: rule.status.as_ref().and_then(|s| s.replication.as_ref()),
        pairs,
        forced: reconcile_requested(rule) || spec_changed(rule),
        grace: ctx.config.verify_grace,
    };
    let pass = verification::run(verification, chrono::Utc::now()).await;
    ctx.events.publish_all(rule, pass.notices).await;
    ctx.metrics.verified(
        pass.outcome.as_ref(),
        [pass.requested, pass.succeeded, pass.failed],
    );
    report.replication = pass.status;
    report.follow_up_at(pass.due);
}

/// Before acting, writes what the rule is about to hold, so that a crash, or an answer lost,
/// between a call and the status write leaves nothing the rule would forget it owns or
/// mistake for its own (`docs/ownership.md`, "Task ids"):
/// - a task the status does not list as owned yet is listed as Pending before its create;
/// - a task about to be created or replaced records no id (the create's answer carries
///   none, and the task then there may be the rule's);
/// - a task about to be deleted records its id, when the status does not have it yet, so
///   that after a delete whose answer was lost a task made again by somebody else is told
///   apart from it.
async fn record_intent(
    rule: &ImageSyncRule,
    ctx: &Context,
    plan: &Plan,
    report: &Report,
) -> Result<(), Error> {
    let owned = owned(rule.status.as_ref());
    let mut intent = report.clone();
    let mut needed = false;
    for action in &plan.actions {
        let recorded = owned.get(action.key()).map(|line| line.id);
        needed |= match (action, recorded) {
            (_, None) => true,
            (TaskAction::Create { .. } | TaskAction::Replace { .. }, Some(id)) => id.is_some(),
            (TaskAction::Delete { id, .. }, Some(recorded)) => recorded.is_none() && id.is_some(),
        };
        let line = intent.tasks.get_mut(action.key());
        if let (TaskAction::Replace { .. }, Some(line)) = (action, line) {
            line.id = None;
        }
    }
    if !needed {
        return Ok(());
    }
    write_intent(rule, ctx, &intent).await?;
    confirm(rule, ctx, &intent);
    Ok(())
}

/// The last step: write the status (only when it changed) and decide when to come back.
pub(super) async fn finish(
    rule: &ImageSyncRule,
    ctx: &Context,
    mut report: Report,
    resync: Option<Duration>,
) -> Result<Action, Error> {
    write_status(rule, ctx, &report).await?;
    settle(rule, ctx, &inventory(rule.status.as_ref()), &report).await;
    let releasing = report
        .tasks
        .values()
        .any(|t| t.state == TaskState::Releasing);
    // Not while backing off: a throttled SWR is not called every few seconds for this.
    if releasing && report.retry_soon.is_none() {
        report.follow_up_at(Some(Instant::now() + HANDOVER_POLL));
    }
    if let Some(problem) = report
        .problem
        .as_ref()
        .filter(|p| p.reason != reason::SUSPENDED)
    {
        ctx.metrics.failed(problem.reason);
    }
    let key = name_of(rule);
    let delay = match (&report.problem, resync) {
        (None, Some(resync)) => {
            ctx.reset_backoff(&key);
            Some(jittered(resync))
        }
        (_, _) if report.retry_soon.is_some() => {
            Some(ctx.backoff(key, report.retry_soon.flatten()))
        }
        // Stalled: nothing changes until the user acts; the resync still catches fixes
        // made outside Kubernetes (a repository pushed, an organization created).
        (_, Some(resync)) => Some(jittered(resync)),
        (_, None) => None,
    };
    // Pending follow-up work (an HSS refresh, a copy) brings the rule back when it is due.
    let scan = report
        .follow_up
        .map(|due| due.saturating_duration_since(Instant::now()));
    Ok(match (delay, scan) {
        (Some(d), Some(s)) => Action::requeue(d.min(s)),
        (Some(d), None) | (None, Some(d)) => Action::requeue(d),
        (None, None) => Action::await_change(),
    })
}

/// Whether the spec changed since the status was last written (`repair` turned on, say).
fn spec_changed(rule: &ImageSyncRule) -> bool {
    rule.metadata.generation != rule.status.as_ref().and_then(|s| s.observed_generation)
}

/// Whether the user asked for this pass (the annotation differs from the last one
/// handled): such a pass lists SWR afresh rather than trusting another rule's listing.
fn reconcile_requested(rule: &ImageSyncRule) -> bool {
    let asked = rule.annotations().get(RECONCILE_REQUESTED_AT);
    asked.is_some()
        && asked
            != rule
                .status
                .as_ref()
                .and_then(|s| s.last_handled_reconcile_at.as_ref())
}
