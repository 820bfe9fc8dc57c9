//! What one reconcile pass found and did, in the terms the status is written from.

use std::collections::BTreeMap;
use std::time::Duration;

use std::time::Instant;

use super::plan::{Plan, Settings, TaskKey};
use crate::api::status::{reason, TaskState};
use crate::api::status::{ImageCopy, ScanStatus};

/// Why a pass did not reach "in sync", if it did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Condition reason (a [`reason`] constant).
    pub reason: &'static str,
    /// Human-readable detail; never a secret.
    pub message: String,
    /// Whether the operator retries by itself (else it waits for a change).
    pub retryable: bool,
    /// The service asked for this pause.
    pub retry_after: Option<Duration>,
}

impl Problem {
    /// A problem a user must fix.
    pub fn stalled(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            retryable: false,
            retry_after: None,
        }
    }

    /// The problem an SWR/HSS/IAM failure amounts to.
    pub fn from_api(error: &crate::cloud::ApiError, message: String) -> Self {
        use crate::cloud::ErrorClass as C;
        let (reason, retryable) = match error.class {
            C::Unauthorized | C::Forbidden => (reason::AUTH_FAILED, false),
            C::Throttled => (reason::THROTTLED, true),
            C::Server | C::Timeout | C::Transport | C::UnexpectedResponse => {
                (reason::API_ERROR, true)
            }
            C::NotFound => (reason::SOURCE_NOT_FOUND, false),
            C::InvalidRequest | C::Conflict => (reason::API_ERROR, false),
        };
        Self {
            reason,
            message,
            retryable,
            retry_after: error.retry_after,
        }
    }
}

/// One task's line in the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskLine {
    /// Settings it has (or is to have).
    pub settings: Settings,
    /// Where it stands.
    pub state: TaskState,
    /// SWR id, once known.
    pub id: Option<i64>,
    /// Why it is not in sync.
    pub message: Option<String>,
}

/// The result of a pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The inventory after the pass.
    pub tasks: BTreeMap<TaskKey, TaskLine>,
    /// Desired tasks (for the summary's denominator).
    pub desired: usize,
    /// What stopped the pass from reaching "in sync" (the first, most important one).
    pub problem: Option<Problem>,
    /// Changes made in this pass (creates, replaces, deletes).
    pub changes: usize,
    /// HSS refreshes after the pass (None: as before).
    pub scans: Option<Vec<ScanStatus>>,
    /// Copies of existing tags after the pass (None: as before).
    pub copies: Option<Vec<ImageCopy>>,
    /// When follow-up work (a debounced HSS refresh, a copy in progress) is due: the rule
    /// comes back then.
    pub follow_up: Option<Instant>,
}

impl Report {
    /// Asks for the rule to come back at `at` (the earliest of all such requests wins).
    pub fn follow_up_at(&mut self, at: Option<Instant>) {
        self.follow_up = match (self.follow_up, at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

impl Report {
    /// The report of a plan before anything is applied: in-sync, conflicting and retained
    /// tasks as found, actions' tasks as pending.
    pub fn from_plan(plan: &Plan, desired: usize) -> Self {
        let mut tasks = BTreeMap::new();
        let line = |settings, state, id| TaskLine {
            settings,
            state,
            id,
            message: None,
        };
        for (key, found) in &plan.in_sync {
            tasks.insert(
                key.clone(),
                line(found.settings, TaskState::InSync, found.id),
            );
        }
        for (key, found) in &plan.retained {
            tasks.insert(
                key.clone(),
                line(found.settings, TaskState::Retained, found.id),
            );
        }
        for (key, settings) in &plan.conflicts {
            let mut l = line(*settings, TaskState::Conflict, None);
            l.message = Some("an older ImageSyncRule manages this task".into());
            tasks.insert(key.clone(), l);
        }
        for action in &plan.actions {
            let (settings, id) = match action {
                super::plan::Action::Create { settings, .. } => (*settings, None),
                super::plan::Action::Replace { settings, id, .. }
                | super::plan::Action::Delete { settings, id, .. } => (*settings, *id),
            };
            tasks.insert(action.key().clone(), line(settings, TaskState::Pending, id));
        }
        let problem = (!plan.conflicts.is_empty()).then(|| {
            Problem::stalled(
                reason::CONFLICT,
                format!(
                    "{} task(s) are managed by an older ImageSyncRule: {}",
                    plan.conflicts.len(),
                    plan.conflicts
                        .keys()
                        .map(describe)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        });
        Self {
            tasks,
            desired,
            problem,
            changes: 0,
            scans: None,
            copies: None,
            follow_up: None,
        }
    }

    /// Keeps the most important problem: one that needs the user beats a retryable one.
    pub fn add_problem(&mut self, problem: Problem) {
        let replace = match &self.problem {
            None => true,
            Some(current) => current.retryable && !problem.retryable,
        };
        if replace {
            self.problem = Some(problem);
        }
    }

    /// Tasks in sync.
    pub fn in_sync(&self) -> usize {
        self.tasks
            .values()
            .filter(|t| t.state == TaskState::InSync)
            .count()
    }

    /// The one-line summary (`4/4 tasks in sync, 1 retained`).
    pub fn summary(&self) -> String {
        let mut s = format!("{}/{} tasks in sync", self.in_sync(), self.desired);
        let count = |state| self.tasks.values().filter(|t| t.state == state).count();
        for (n, what) in [
            (count(TaskState::Conflict), "in conflict"),
            (count(TaskState::Failed), "failed"),
            (count(TaskState::Retained), "retained"),
        ] {
            if n > 0 {
                s.push_str(&format!(", {n} {what}"));
            }
        }
        s
    }

    /// A report that keeps the inventory as it was (nothing was observed or changed).
    pub fn carried(tasks: BTreeMap<TaskKey, TaskLine>, desired: usize, problem: Problem) -> Self {
        Self {
            tasks,
            desired,
            problem: Some(problem),
            ..Self::default()
        }
    }
}

/// `cn-north-4:platform/nginx -> cn-east-3/platform-dr`.
pub fn describe(key: &TaskKey) -> String {
    format!(
        "{}:{}/{} -> {}/{}",
        key.source_region,
        key.source_organization,
        key.repository,
        key.target_region,
        key.target_organization
    )
}

/// The first few items, and how many more: Event notes are limited to 1 kB.
pub fn list_some(items: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = items[..items.len().min(SHOWN)].join("; ");
    if items.len() > SHOWN {
        text.push_str(&format!("; and {} more", items.len() - SHOWN));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_are_cut_with_a_count() {
        let items: Vec<String> = (1..=7).map(|i| i.to_string()).collect();
        assert_eq!(list_some(&items[..2]), "1; 2");
        assert_eq!(list_some(&items), "1; 2; 3; 4; 5; and 2 more");
    }
}
