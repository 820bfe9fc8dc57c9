//! Turning a pass report into the rule's status (kstatus conditions, inventory, summary),
//! and deciding whether it changed enough to be written.

use std::collections::{BTreeMap, HashSet};

use kube::ResourceExt;

use super::report::{Report, TaskLine};
use super::task::TaskKey;
use crate::api::replication::ReplicationState;
use crate::api::spec::RECONCILE_REQUESTED_AT;
use crate::api::status::{
    condition_type, reason, status_value, Condition, ImageSyncRuleStatus, Ownership, TaskState,
    TaskStatus,
};
use crate::api::ImageSyncRule;

/// `at` as status fields write times: RFC 3339, whole seconds, UTC.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The time now, as status fields write it.
pub fn now() -> String {
    timestamp(chrono::Utc::now())
}

/// The whole status `rule` gets from this pass's `report`: conditions, inventory and summary
/// ([`build`]), and what only the rule knows (the reconcile request handled, and the scans,
/// copies and replication this pass did not touch, kept from before). `now` is RFC 3339.
pub fn of(rule: &ImageSyncRule, report: &Report, now: &str) -> ImageSyncRuleStatus {
    let previous = rule.status.as_ref();
    let mut new = build(report, rule.metadata.generation, previous, now);
    new.last_handled_reconcile_at = rule.annotations().get(RECONCILE_REQUESTED_AT).cloned();
    new.security_scans = this_pass_or_before(&report.scans, previous, |s| &s.security_scans);
    new.existing_images = this_pass_or_before(&report.copies, previous, |s| &s.existing_images);
    new.replication = match rule.spec.verify {
        Some(_) => report
            .replication
            .clone()
            .or_else(|| previous?.replication.clone()),
        None => None,
    };
    new
}

/// What this pass found for a status list, or what the status held before.
fn this_pass_or_before<T: Clone>(
    this_pass: &Option<Vec<T>>,
    previous: Option<&ImageSyncRuleStatus>,
    field: impl Fn(&ImageSyncRuleStatus) -> &Vec<T>,
) -> Vec<T> {
    match this_pass {
        Some(found) => found.clone(),
        None => previous.map(|p| field(p).clone()).unwrap_or_default(),
    }
}

/// The status a report describes, without what only the rule knows (see [`of`]).
/// Transition times of conditions whose status did not change are kept from `previous`.
fn build(
    report: &Report,
    generation: Option<i64>,
    previous: Option<&ImageSyncRuleStatus>,
    now: &str,
) -> ImageSyncRuleStatus {
    let summary = report.summary();
    let pending = report.tasks.values().any(|t| t.state == TaskState::Pending);
    let replication = report.replication.as_ref().map(|r| r.state);
    let (ready, reconciling, stalled) = match &report.problem {
        None if pending => (
            (status_value::FALSE, reason::PROGRESSING, summary.clone()),
            (status_value::TRUE, reason::PROGRESSING, summary.clone()),
            (status_value::FALSE, reason::PROGRESSING, String::new()),
        ),
        // The tasks are right but the images are not: not Ready. Repairs running are
        // progress; a gap the operator does not repair needs the user (README, "Verifying
        // replication").
        None if replication == Some(ReplicationState::Repairing) => {
            let message = replication_message(report);
            (
                (status_value::FALSE, reason::REPAIRING, message.clone()),
                (status_value::TRUE, reason::REPAIRING, message),
                (status_value::FALSE, reason::REPAIRING, String::new()),
            )
        }
        None if matches!(
            replication,
            Some(ReplicationState::Behind | ReplicationState::Diverged)
        ) =>
        {
            let reason = if replication == Some(ReplicationState::Diverged) {
                reason::REPLICATION_DIVERGED
            } else {
                reason::REPLICATION_BEHIND
            };
            let message = replication_message(report);
            (
                (status_value::FALSE, reason, message.clone()),
                (status_value::FALSE, reason, String::new()),
                (status_value::TRUE, reason, message),
            )
        }
        None => (
            (status_value::TRUE, reason::IN_SYNC, summary.clone()),
            (status_value::FALSE, reason::IN_SYNC, String::new()),
            (status_value::FALSE, reason::IN_SYNC, String::new()),
        ),
        Some(p) if p.reason == reason::SUSPENDED => (
            (status_value::UNKNOWN, p.reason, p.message.clone()),
            (status_value::FALSE, p.reason, String::new()),
            (status_value::FALSE, p.reason, String::new()),
        ),
        Some(p) if p.retryable => (
            (status_value::FALSE, p.reason, p.message.clone()),
            (status_value::TRUE, p.reason, p.message.clone()),
            (status_value::FALSE, p.reason, String::new()),
        ),
        Some(p) => (
            (status_value::FALSE, p.reason, p.message.clone()),
            (status_value::FALSE, p.reason, String::new()),
            (status_value::TRUE, p.reason, p.message.clone()),
        ),
    };
    let previous_conditions = previous
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let condition = |type_: &str, (status, reason, message): (&str, &str, String)| {
        let kept_time = previous_conditions
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .and_then(|c| c.last_transition_time.clone());
        Condition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason: reason.to_string(),
            // Never empty: kube-apiserver 1.20 as built here reads "" back as null and then
            // refuses it as a non-string.
            message: if message.is_empty() {
                format!("{type_} is {status}: {reason}")
            } else {
                message
            },
            last_transition_time: Some(kept_time.unwrap_or_else(|| now.to_string())),
            observed_generation: generation,
        }
    };
    let in_sync = report.problem.is_none() && !pending;
    ImageSyncRuleStatus {
        observed_generation: generation,
        conditions: vec![
            condition(condition_type::READY, ready),
            condition(condition_type::RECONCILING, reconciling),
            condition(condition_type::STALLED, stalled),
        ],
        tasks: report
            .tasks
            .iter()
            .map(|(k, l)| task_status(k, l))
            .collect(),
        summary: Some(summary),
        last_sync_time: if in_sync {
            Some(now.to_string())
        } else {
            previous.and_then(|s| s.last_sync_time.clone())
        },
        // Set by `of`, which knows the rule.
        last_handled_reconcile_at: None,
        security_scans: Vec::new(),
        existing_images: Vec::new(),
        replication: None,
    }
}

/// The tasks' summary, then what verification found and what to do about it.
fn replication_message(report: &Report) -> String {
    let Some(replication) = &report.replication else {
        return report.summary();
    };
    let advice: Vec<String> = replication
        .targets
        .iter()
        .filter_map(|t| {
            Some(format!(
                "{}/{}: {}",
                t.region,
                t.organization,
                t.message.as_ref()?
            ))
        })
        .collect();
    let mut message = format!("{}; images {}", report.summary(), replication.summary);
    if !advice.is_empty() {
        message = format!("{message} ({})", advice.join("; "));
    }
    message
}

fn task_status(key: &TaskKey, line: &TaskLine) -> TaskStatus {
    TaskStatus {
        source_region: key.source().region().to_string(),
        source_organization: key.source().organization().to_string(),
        repository: key.source().repository().to_string(),
        target_region: key.target().region().to_string(),
        target_organization: key.target().organization().to_string(),
        override_existing: line.settings.override_existing,
        sync_auto: line.settings.sync_auto,
        state: line.state,
        id: line.id,
        ownership: line.ownership,
        other_rule: line.other_rule.clone(),
        message: line.message.clone(),
    }
}

/// The inventory held in a status, as report lines.
pub fn inventory(status: Option<&ImageSyncRuleStatus>) -> BTreeMap<TaskKey, TaskLine> {
    status
        .map(|s| s.tasks.as_slice())
        .unwrap_or_default()
        .iter()
        // The operator writes lines only for valid keys; a line edited into invalid names
        // names no task SWR could hold.
        .filter_map(|t| {
            let source = (
                t.source_region.as_str(),
                t.source_organization.as_str(),
                t.repository.as_str(),
            );
            let target = (t.target_region.as_str(), t.target_organization.as_str());
            let key = TaskKey::from_names(source, target).ok()?;
            Some((
                key,
                TaskLine {
                    settings: super::task::Settings {
                        override_existing: t.override_existing,
                        sync_auto: t.sync_auto,
                    },
                    state: t.state,
                    id: t.id,
                    ownership: t.ownership.or_else(|| legacy_ownership(t.state)),
                    other_rule: t.other_rule.clone(),
                    message: t.message.clone(),
                },
            ))
        })
        .collect()
}

/// Statuses written before ownership was recorded listed the tasks the rule made (or had
/// silently taken) as in sync, pending, retained or failed (a prune or replace that failed):
/// those count as created. (A failed line for a source repository that is missing counts
/// too; its task cannot exist, so the next pass drops it.)
fn legacy_ownership(state: TaskState) -> Option<Ownership> {
    match state {
        TaskState::InSync | TaskState::Pending | TaskState::Retained | TaskState::Failed => {
            Some(Ownership::Created)
        }
        TaskState::Conflict | TaskState::External | TaskState::Releasing => None,
    }
}

/// The tasks a status says the rule owns.
pub fn owned(status: Option<&ImageSyncRuleStatus>) -> BTreeMap<TaskKey, TaskLine> {
    let mut lines = inventory(status);
    lines.retain(|_, line| line.ownership.is_some());
    lines
}

/// Whether `new` differs from `old` in anything but timestamps and newly learnt task ids:
/// only then is it written, so an unchanged rule costs no API writes and never wakes its
/// own watch. SWR returns no id when it creates a task; the id a later pass lists is
/// written with the next real change rather than costing a write of its own.
pub fn differs(old: Option<&ImageSyncRuleStatus>, new: &ImageSyncRuleStatus) -> bool {
    let Some(old) = old else {
        return true;
    };
    let strip = |s: &ImageSyncRuleStatus| {
        let mut s = s.clone();
        s.last_sync_time = None;
        for c in &mut s.conditions {
            c.last_transition_time = None;
        }
        s
    };
    let unknown_before: HashSet<_> = old
        .tasks
        .iter()
        .filter(|t| t.id.is_none())
        .map(task_key)
        .collect();
    let mut new = strip(new);
    for task in &mut new.tasks {
        if unknown_before.contains(&task_key(task)) {
            task.id = None;
        }
    }
    strip(old) != new
}

fn task_key(t: &TaskStatus) -> (&str, &str, &str, &str, &str) {
    (
        &t.source_region,
        &t.source_organization,
        &t.repository,
        &t.target_region,
        &t.target_organization,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::report::Problem;
    use crate::reconcile::task::Settings;

    fn report(state: TaskState, problem: Option<Problem>) -> Report {
        let key = TaskKey::sample("nginx", "cn-east-3");
        let line = TaskLine::new(
            Settings {
                override_existing: false,
                sync_auto: true,
            },
            state,
            Some(1),
            Some(Ownership::Created),
        );
        Report {
            tasks: [(key, line)].into(),
            desired: 1,
            problem,
            ..Report::default()
        }
    }

    fn cond<'a>(s: &'a ImageSyncRuleStatus, t: &str) -> (&'a str, &'a str) {
        let c = s.conditions.iter().find(|c| c.type_ == t).unwrap();
        (c.status.as_str(), c.reason.as_str())
    }

    #[test]
    fn conditions_follow_kstatus() {
        let table = [
            (
                report(TaskState::InSync, None),
                ("True", "InSync"),
                ("False", "InSync"),
                ("False", "InSync"),
            ),
            (
                report(TaskState::Pending, None),
                ("False", "Progressing"),
                ("True", "Progressing"),
                ("False", "Progressing"),
            ),
            (
                report(
                    TaskState::InSync,
                    Some(Problem {
                        retryable: true,
                        ..Problem::stalled(reason::THROTTLED, "429")
                    }),
                ),
                ("False", "Throttled"),
                ("True", "Throttled"),
                ("False", "Throttled"),
            ),
            (
                report(
                    TaskState::InSync,
                    Some(Problem::stalled(reason::INVALID_SPEC, "bad")),
                ),
                ("False", "InvalidSpec"),
                ("False", "InvalidSpec"),
                ("True", "InvalidSpec"),
            ),
            (
                report(
                    TaskState::InSync,
                    Some(Problem::stalled(reason::SUSPENDED, "suspended")),
                ),
                ("Unknown", "Suspended"),
                ("False", "Suspended"),
                ("False", "Suspended"),
            ),
        ];
        for (r, ready, reconciling, stalled) in table {
            let s = build(&r, Some(2), None, "t0");
            assert_eq!(cond(&s, "Ready"), ready);
            assert_eq!(cond(&s, "Reconciling"), reconciling);
            assert_eq!(cond(&s, "Stalled"), stalled);
            assert_eq!(s.observed_generation, Some(2));
        }
    }

    #[test]
    fn only_real_changes_count_and_transition_times_are_kept() {
        let r = report(TaskState::InSync, None);
        let first = build(&r, Some(1), None, "t0");
        let second = build(&r, Some(1), Some(&first), "t1");
        assert!(
            !differs(Some(&first), &second),
            "a later timestamp alone is no change"
        );
        assert_eq!(
            second.conditions[0].last_transition_time.as_deref(),
            Some("t0")
        );
        assert_eq!(second.last_sync_time.as_deref(), Some("t1"));

        let failing = report(
            TaskState::Failed,
            Some(Problem::stalled(reason::API_ERROR, "boom")),
        );
        let third = build(&failing, Some(1), Some(&second), "t2");
        assert!(differs(Some(&second), &third));
        assert_eq!(
            third.conditions[0].last_transition_time.as_deref(),
            Some("t2")
        );
        assert_eq!(
            third.last_sync_time.as_deref(),
            Some("t1"),
            "last sync is kept while failing"
        );
        assert!(differs(None, &third));
    }

    #[test]
    fn an_id_learnt_later_is_no_change_but_a_different_id_is() {
        let with_id = |id| {
            let mut r = report(TaskState::InSync, None);
            r.tasks.values_mut().for_each(|line| line.id = id);
            build(&r, Some(1), None, "t0")
        };
        assert!(!differs(Some(&with_id(None)), &with_id(Some(5))));
        assert!(differs(Some(&with_id(Some(5))), &with_id(Some(6))));
        assert!(differs(Some(&with_id(Some(5))), &with_id(None)));
    }

    #[test]
    fn inventory_round_trips_through_status() {
        let r = report(TaskState::Retained, None);
        let s = build(&r, None, None, "t");
        assert_eq!(inventory(Some(&s)), r.tasks);
        assert_eq!(s.summary.as_deref(), Some("0/1 tasks in sync, 1 retained"));
    }
}
