//! What one reconcile pass found and did, in the terms the status is written from.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use std::time::Instant;

use super::plan::Plan;
use super::task::{Settings, TaskKey};
use crate::api::replication::ReplicationStatus;
use crate::api::status::{reason, Ownership, RuleName, TaskState};
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
            // A 404 says that something is missing, not what: the steps that know it is the
            // source (listing a repository's tasks, the organization's repositories) say so
            // themselves.
            C::NotFound | C::InvalidRequest | C::Conflict => (reason::API_ERROR, false),
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
    /// How the rule holds it; `None` for tasks it does not own (conflicts, external ones,
    /// wanted ones whose source is missing).
    pub ownership: Option<Ownership>,
    /// The other rule: the holder of a conflict, the successor of a task being released.
    pub other_rule: Option<RuleName>,
    /// Why it is not in sync.
    pub message: Option<String>,
}

impl TaskLine {
    /// A line with no other rule and no message.
    pub fn new(
        settings: Settings,
        state: TaskState,
        id: Option<i64>,
        ownership: Option<Ownership>,
    ) -> Self {
        Self {
            settings,
            state,
            id,
            ownership,
            other_rule: None,
            message: None,
        }
    }

    /// The same line, naming another rule and saying why.
    fn about(mut self, other_rule: &RuleName, message: String) -> Self {
        self.other_rule = Some(other_rule.clone());
        self.message = Some(message);
        self
    }

    /// Whether the task does what the rule wants: owned and in sync, or made outside the
    /// operator with the wanted settings.
    pub fn satisfied(&self) -> bool {
        match self.state {
            TaskState::InSync => true,
            TaskState::External => self.message.is_none(),
            _ => false,
        }
    }
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
    /// What verification says after the pass (None: verification is off, or the pass did
    /// not get that far).
    pub replication: Option<ReplicationStatus>,
    /// When follow-up work (a debounced HSS refresh, a copy in progress) is due: the rule
    /// comes back then.
    pub follow_up: Option<Instant>,
    /// Checks skipped in this pass, for Warning Events (never a secret).
    pub warnings: Vec<String>,
    /// Rules that released to this rule tasks it took over in this pass.
    pub handed_over_from: BTreeSet<RuleName>,
    /// Whether some problem of the pass is worth retrying soon (it may be hidden behind a
    /// problem that needs the user, which the conditions show).
    pub retry_soon: Option<Option<Duration>>,
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
    /// The report of a plan before anything is applied: tasks as found, actions' tasks as
    /// pending.
    pub fn from_plan(plan: &Plan, desired: usize) -> Self {
        let mut tasks = BTreeMap::new();
        for (key, held) in &plan.in_sync {
            let line = TaskLine::new(
                held.found.settings,
                TaskState::InSync,
                held.found.id,
                Some(held.ownership),
            );
            tasks.insert(key.clone(), line);
        }
        for (key, held) in &plan.retained {
            let line = TaskLine::new(
                held.found.settings,
                TaskState::Retained,
                held.found.id,
                Some(held.ownership),
            );
            tasks.insert(key.clone(), line);
        }
        for (key, (held, successor)) in &plan.releasing {
            let line = TaskLine::new(
                held.found.settings,
                TaskState::Releasing,
                held.found.id,
                Some(held.ownership),
            )
            .about(
                successor,
                format!("no longer wanted; handing over to ImageSyncRule {successor}"),
            );
            tasks.insert(key.clone(), line);
        }
        for (key, (settings, holder)) in &plan.conflicts {
            let line = TaskLine::new(*settings, TaskState::Conflict, None, None)
                .about(holder, format!("held by ImageSyncRule {holder}"));
            tasks.insert(key.clone(), line);
        }
        let mut drifted = Vec::new();
        for (key, (found, wanted)) in &plan.external {
            let mut line = TaskLine::new(found.settings, TaskState::External, found.id, None);
            if found.settings != *wanted {
                line.message = Some(format!(
                    "made outside the operator with {}; this rule wants {}",
                    settings_text(found.settings),
                    settings_text(*wanted)
                ));
                drifted.push(key.to_string());
            }
            tasks.insert(key.clone(), line);
        }
        for action in &plan.actions {
            let (settings, id) = match action {
                super::plan::Action::Create { settings, .. } => (*settings, None),
                super::plan::Action::Replace { settings, id, .. }
                | super::plan::Action::Delete { settings, id, .. } => (*settings, *id),
            };
            let line = TaskLine::new(settings, TaskState::Pending, id, Some(action.ownership()));
            tasks.insert(action.key().clone(), line);
        }
        let mut report = Self {
            tasks,
            desired,
            ..Self::default()
        };
        if !plan.conflicts.is_empty() {
            let held: Vec<String> = plan
                .conflicts
                .iter()
                .map(|(key, (_, holder))| format!("{key} (by {holder})"))
                .collect();
            report.add_problem(Problem::stalled(
                reason::CONFLICT,
                format!(
                    "{} task(s) are held by another ImageSyncRule: {}",
                    held.len(),
                    list_some(&held)
                ),
            ));
        }
        if !drifted.is_empty() {
            report.add_problem(Problem::stalled(
                reason::EXTERNAL_TASK,
                format!(
                    "{} task(s) exist outside the operator with other settings: {}; change them \
                     in SWR, or set spec.existingTasks: Adopt to let this rule replace and own them",
                    drifted.len(),
                    list_some(&drifted)
                ),
            ));
        }
        report
    }

    /// Keeps the most important problem: one that needs the user beats a retryable one.
    /// A retryable one is remembered either way, so the pass is retried with backoff.
    pub fn add_problem(&mut self, problem: Problem) {
        if problem.retryable {
            let after = self.retry_soon.flatten().max(problem.retry_after);
            self.retry_soon = Some(after);
        }
        let replace = match &self.problem {
            None => true,
            Some(current) => current.retryable && !problem.retryable,
        };
        if replace {
            self.problem = Some(problem);
        }
    }

    /// Tasks that do what the rule wants (its own in sync, and matching external ones).
    pub fn in_sync(&self) -> usize {
        self.tasks.values().filter(|t| t.satisfied()).count()
    }

    /// The one-line summary (`4/4 tasks in sync, 1 retained`).
    pub fn summary(&self) -> String {
        let mut s = format!("{}/{} tasks in sync", self.in_sync(), self.desired);
        let count = |state| self.tasks.values().filter(|t| t.state == state).count();
        for (n, what) in [
            (count(TaskState::Conflict), "in conflict"),
            (count(TaskState::Failed), "failed"),
            (count(TaskState::Retained), "retained"),
            (count(TaskState::External), "external"),
            (count(TaskState::Releasing), "handing over"),
        ] {
            if n > 0 {
                s.push_str(&format!(", {n} {what}"));
            }
        }
        s
    }

    /// A report that keeps the inventory as it was (nothing was observed or changed).
    pub fn carried(tasks: BTreeMap<TaskKey, TaskLine>, desired: usize, problem: Problem) -> Self {
        let mut report = Self {
            tasks,
            desired,
            ..Self::default()
        };
        report.add_problem(problem);
        report
    }
}

/// `override=false, syncAuto=true`.
fn settings_text(settings: Settings) -> String {
    format!(
        "override={}, syncAuto={}",
        settings.override_existing, settings.sync_auto
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
