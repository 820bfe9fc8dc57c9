//! The apply step: carry out a plan's actions against SWR, one at a time (the transport's
//! rate limit paces them), recording each outcome in the pass report.

use super::observe::source_repo;
use super::plan::{Action, Settings, TaskKey};
use super::report::{describe, Problem, Report, TaskLine};
use crate::api::status::TaskState;
use crate::swr::model::{CreateSyncTask, SyncTarget};
use crate::swr::{SourceRepo, SwrApi, SwrError};

/// What was changed, for Events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A task was created.
    Created,
    /// A drifted task was deleted and created again.
    Replaced,
    /// A task was deleted.
    Deleted,
}

/// Applies `actions`; returns the changes made, in order.
pub async fn apply(
    swr: &impl SwrApi,
    actions: &[Action],
    report: &mut Report,
) -> Vec<(Change, TaskKey, Settings)> {
    let mut changes = Vec::new();
    for action in actions {
        let key = action.key();
        let Some(repo) = source_repo(key) else {
            continue;
        };
        let target = SyncTarget {
            remote_region_id: key.target_region.clone(),
            remote_namespace: key.target_organization.clone(),
        };
        let result = match action {
            Action::Create { settings, .. } => create(swr, &repo, &target, *settings)
                .await
                .map(|id| (Change::Created, *settings, id)),
            Action::Replace { settings, .. } => match swr.delete_sync_task(&repo, &target).await {
                Ok(_) => create(swr, &repo, &target, *settings)
                    .await
                    .map(|id| (Change::Replaced, *settings, id)),
                Err(e) => Err(e),
            },
            Action::Delete { settings, .. } => swr
                .delete_sync_task(&repo, &target)
                .await
                .map(|_| (Change::Deleted, *settings, None)),
        };
        match result {
            Ok((Change::Deleted, settings, _)) => {
                report.tasks.remove(key);
                report.changes += 1;
                changes.push((Change::Deleted, key.clone(), settings));
            }
            Ok((change, settings, id)) => {
                let line = TaskLine::new(settings, TaskState::InSync, id, Some(action.ownership()));
                report.tasks.insert(key.clone(), line);
                report.changes += 1;
                changes.push((change, key.clone(), settings));
            }
            Err(e) => {
                let message = e.to_string();
                if let Some(line) = report.tasks.get_mut(key) {
                    line.state = TaskState::Failed;
                    line.message = Some(message.clone());
                }
                report.add_problem(Problem::from_api(
                    e.api(),
                    format!("{}: {message}", describe(key)),
                ));
            }
        }
    }
    changes
}

/// Creates a task. A create is never repeated blindly: after any failure the repository is
/// listed again, and a task that is now there as wanted counts as created (the first
/// attempt may have landed before a timeout, or another replica made it).
async fn create(
    swr: &impl SwrApi,
    repo: &SourceRepo,
    target: &SyncTarget,
    settings: Settings,
) -> Result<Option<i64>, SwrError> {
    let body = CreateSyncTask {
        remote_region_id: target.remote_region_id.clone(),
        remote_namespace: target.remote_namespace.clone(),
        sync_auto: settings.sync_auto,
        override_existing: settings.override_existing,
    };
    let Err(error) = swr.create_sync_task(repo, &body).await else {
        return Ok(None);
    };
    let present = swr.list_sync_tasks(repo).await.ok().and_then(|tasks| {
        tasks.into_iter().find(|t| {
            t.remote_region_id == target.remote_region_id
                && t.remote_namespace == target.remote_namespace
                && t.override_existing == settings.override_existing
                && t.sync_auto == settings.sync_auto
        })
    });
    match present {
        Some(task) => {
            tracing::info!(repo = %repo, id = task.id, error = %error, "create failed but the task exists; taking it");
            Ok(Some(task.id))
        }
        None => Err(error),
    }
}
