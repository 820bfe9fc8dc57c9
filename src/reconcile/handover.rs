//! Handing tasks over between rules. A rule releases an owned task to another rule that wants
//! it (when it no longer wants the task, cannot act on it, or is being deleted), keeps it as
//! `Releasing` until that rule has taken it, and the two wake each other at each step, so a
//! freed task changes hands at once rather than at the next resync.

use std::collections::{BTreeMap, BTreeSet};

use kube::runtime::events::EventType;

use super::claims::{claims, Others};
use super::context::Context;
use super::events::event_reason;
use super::plan::Claim;
use super::report::{list_some, Report, TaskLine};
use super::standing::name_of;
use super::task::TaskKey;
use crate::api::status::{Ownership, RuleName, TaskState};
use crate::api::ImageSyncRule;

/// Releases the owned tasks of a rule that wants none of them (being deleted) or cannot act
/// on them (invalid spec, credentials missing or refused) to the rules that want them.
pub fn release_all(rule: &ImageSyncRule, ctx: &Context, report: &mut Report) {
    let owns: BTreeMap<TaskKey, TaskLine> = report
        .tasks
        .iter()
        .filter(|(_, line)| line.ownership.is_some())
        .map(|(k, l)| (k.clone(), l.clone()))
        .collect();
    let keys: BTreeSet<TaskKey> = owns.keys().cloned().collect();
    let rules = ctx.claimants_of(&keys);
    let others = Others {
        rules: &rules,
        ledger: &ctx.ledger,
    };
    let found = claims(rule, &BTreeSet::new(), &owns, &others);
    apply_releases(&mut report.tasks, &found);
}

/// Marks owned lines as released to the rule that wants them, drops those it has taken, and
/// takes back those nobody wants any more.
pub fn apply_releases(tasks: &mut BTreeMap<TaskKey, TaskLine>, claims: &BTreeMap<TaskKey, Claim>) {
    tasks.retain(|key, _| !matches!(claims.get(key), Some(Claim::Taken(_))));
    for (key, line) in tasks.iter_mut() {
        if line.ownership.is_none() {
            continue;
        }
        match claims.get(key) {
            Some(Claim::Wanted(successor)) => {
                line.state = TaskState::Releasing;
                line.other_rule = Some(successor.clone());
                line.message = Some(format!("handing over to ImageSyncRule {successor}"));
            }
            _ if line.state == TaskState::Releasing => {
                line.state = TaskState::Retained;
                line.other_rule = None;
                line.message = Some("kept: no other rule wants it now".into());
            }
            _ => {}
        }
    }
}

/// The ledger learns what the rule holds as the status just written says: its acquisitions
/// are confirmed.
pub fn confirm(rule: &ImageSyncRule, ctx: &Context, report: &Report) {
    let owned = report.tasks.iter().filter(|(_, l)| l.ownership.is_some());
    ctx.ledger
        .record(&name_of(rule), owned.map(|(k, l)| (k, releasing_to(l))));
}

/// After a pass's status is written: the ledger learns what the rule holds now, successors
/// of newly released tasks and the givers of tasks just taken over are woken, and both are
/// announced.
pub async fn settle(
    rule: &ImageSyncRule,
    ctx: &Context,
    before: &BTreeMap<TaskKey, TaskLine>,
    report: &Report,
) {
    confirm(rule, ctx, report);

    let mut released: BTreeMap<&RuleName, Vec<String>> = BTreeMap::new();
    for (key, line) in &report.tasks {
        if let Some(successor) = releasing_to(line) {
            // Woken at every pass while waiting: a wake may reach the successor before
            // its cache shows the release, and then the next one does.
            ctx.wake(successor);
            if before.get(key).and_then(releasing_to) != Some(successor) {
                released.entry(successor).or_default().push(key.to_string());
            }
        }
    }
    for (successor, tasks) in released {
        let note = format!(
            "handing over {} task(s) to ImageSyncRule {successor}: {}",
            tasks.len(),
            list_some(&tasks)
        );
        ctx.events
            .publish(rule, EventType::Normal, event_reason::TASKS_RELEASED, note)
            .await;
    }

    let mut taken: Vec<String> = Vec::new();
    for (key, line) in &report.tasks {
        let new = line.ownership == Some(Ownership::HandedOver)
            && before.get(key).and_then(|l| l.ownership).is_none();
        if new {
            taken.push(key.to_string());
        }
    }
    for giver in &report.handed_over_from {
        ctx.wake(giver);
    }
    // A holder that no longer wants a task, or cannot act, releases it when it next
    // looks: have it look now that somebody waits.
    for line in report.tasks.values() {
        if line.state != TaskState::Conflict {
            continue;
        }
        let Some(holder) = line.other_rule.as_ref() else {
            continue;
        };
        let new = !before
            .values()
            .any(|b| b.state == TaskState::Conflict && b.other_rule.as_ref() == Some(holder));
        if new {
            ctx.wake(holder);
        }
    }
    if !taken.is_empty() {
        let from: Vec<String> = report
            .handed_over_from
            .iter()
            .map(ToString::to_string)
            .collect();
        let note = format!(
            "took over {} task(s) from {}: {}",
            taken.len(),
            from.join(", "),
            list_some(&taken)
        );
        ctx.events
            .publish(
                rule,
                EventType::Normal,
                event_reason::TASKS_TAKEN_OVER,
                note,
            )
            .await;
    }
}

/// The rule a line is being released to.
fn releasing_to(line: &TaskLine) -> Option<&RuleName> {
    (line.state == TaskState::Releasing)
        .then_some(line.other_rule.as_ref())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::task::Settings;

    fn key(repo: &str) -> TaskKey {
        TaskKey::sample(repo, "cn-east-3")
    }

    fn line(state: TaskState, ownership: Option<Ownership>) -> TaskLine {
        let settings = Settings {
            override_existing: false,
            sync_auto: true,
        };
        TaskLine::new(settings, state, Some(1), ownership)
    }

    #[test]
    fn releases_mark_drop_and_take_back() {
        let b = RuleName {
            namespace: "ns".into(),
            name: "b".into(),
        };
        let created = Some(Ownership::Created);
        let mut tasks: BTreeMap<TaskKey, TaskLine> = [
            (key("wanted"), line(TaskState::InSync, created)),
            (key("taken"), line(TaskState::Releasing, created)),
            (key("abandoned"), line(TaskState::Releasing, created)),
            (key("kept"), line(TaskState::InSync, created)),
            (key("theirs"), line(TaskState::Conflict, None)),
        ]
        .into();
        let claims = [
            (key("wanted"), Claim::Wanted(b.clone())),
            (key("taken"), Claim::Taken(b.clone())),
            (key("theirs"), Claim::Wanted(b.clone())),
        ]
        .into();
        apply_releases(&mut tasks, &claims);
        assert_eq!(tasks[&key("wanted")].state, TaskState::Releasing);
        assert_eq!(tasks[&key("wanted")].other_rule.as_ref(), Some(&b));
        assert!(!tasks.contains_key(&key("taken")));
        assert_eq!(tasks[&key("abandoned")].state, TaskState::Retained);
        assert_eq!(tasks[&key("kept")].state, TaskState::InSync);
        assert_eq!(
            tasks[&key("theirs")].state,
            TaskState::Conflict,
            "not ours to release"
        );
    }
}
