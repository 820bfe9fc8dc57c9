//! The replication status verification writes: per-target summaries, the rule's state and
//! summary line, and the Events of targets whose state changed.

use std::collections::BTreeMap;

use kube::runtime::events::EventType;

use super::events::{event_reason, Notice};
use super::task::Target;
use super::verify::{self, Pair};
use crate::api::replication::{
    RepairState, ReplicationState, ReplicationStatus, TargetReplication,
};

/// Per target, over its repositories.
pub fn summaries(pairs: &[Pair], repair: bool) -> Vec<TargetReplication> {
    let mut by_target: BTreeMap<&Target, Vec<&Pair>> = BTreeMap::new();
    for pair in pairs {
        by_target.entry(&pair.target).or_default().push(pair);
    }
    by_target
        .into_iter()
        .map(|(target, pairs)| verify::summarize(target, &pairs, repair))
        .collect()
}

/// Sets the rule's state and summary from its targets and repairs.
pub fn settle(status: &mut ReplicationStatus) {
    let running = status
        .repairs
        .iter()
        .filter(|r| r.state == RepairState::Requested)
        .count();
    let worst = |state| status.targets.iter().filter(|t| t.state == state).count();
    let total = status.targets.len();
    let tags = |f: fn(&TargetReplication) -> u32| status.targets.iter().map(f).sum::<u32>();
    (status.state, status.summary) = if running > 0 {
        (
            ReplicationState::Repairing,
            format!("repairing {running} tag(s)"),
        )
    } else if worst(ReplicationState::Diverged) > 0 {
        let n = worst(ReplicationState::Diverged);
        (
            ReplicationState::Diverged,
            format!(
                "diverged: {} tag(s) in {n}/{total} target(s)",
                tags(|t| t.diverged)
            ),
        )
    } else if worst(ReplicationState::Behind) > 0 {
        let n = worst(ReplicationState::Behind);
        (
            ReplicationState::Behind,
            format!(
                "behind: {} tag(s) missing in {n}/{total} target(s)",
                tags(|t| t.missing)
            ),
        )
    } else {
        (
            ReplicationState::InSync,
            format!("in sync ({total} target(s))"),
        )
    };
}

/// One Event per reason for the targets whose state changed.
pub fn target_notices(
    previous: Option<&ReplicationStatus>,
    status: &ReplicationStatus,
    notices: &mut Vec<Notice>,
) {
    let before: BTreeMap<(&str, &str), ReplicationState> = previous
        .map(|p| {
            p.targets
                .iter()
                .map(|t| ((t.region.as_str(), t.organization.as_str()), t.state))
                .collect()
        })
        .unwrap_or_default();
    let kinds = [
        (
            ReplicationState::Behind,
            EventType::Warning,
            event_reason::REPLICATION_BEHIND,
        ),
        (
            ReplicationState::Diverged,
            EventType::Warning,
            event_reason::REPLICATION_DIVERGED,
        ),
        (
            ReplicationState::InSync,
            EventType::Normal,
            event_reason::REPLICATION_CAUGHT_UP,
        ),
    ];
    for (state, type_, reason) in kinds {
        let changed: Vec<String> = status
            .targets
            .iter()
            .filter(|t| t.state == state)
            .filter(|t| {
                let was = before
                    .get(&(t.region.as_str(), t.organization.as_str()))
                    .copied();
                // A first verification that finds a target in sync says nothing.
                was != Some(state)
                    && !(state == ReplicationState::InSync
                        && matches!(was, None | Some(ReplicationState::Repairing)))
            })
            .map(describe_target)
            .collect();
        if !changed.is_empty() {
            notices.push((type_, reason, changed.join("; ")));
        }
    }
}

fn describe_target(t: &TargetReplication) -> String {
    let place = format!("{}/{}", t.region, t.organization);
    match t.state {
        ReplicationState::InSync => format!("{place} holds every source tag again"),
        _ => format!(
            "{place}: {} missing, {} diverged ({})",
            t.missing,
            t.diverged,
            t.examples.join(", ")
        ),
    }
}
