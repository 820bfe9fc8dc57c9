//! The apply step: carry out a plan's actions against SWR, one at a time (the transport's
//! rate limit paces them), recording each outcome in the pass report.

use super::observe::source_repo;
use super::plan::{Action, ObservedTask, Settings, TaskKey};
use super::report::{describe, Problem, Report, TaskLine};
use crate::api::status::TaskState;
use crate::cloud::ErrorClass;
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
        let made = |change| {
            move |outcome| match outcome {
                Made::Ours(id) => Ok((change, action_settings(action), id)),
                Made::Outside(found) => Err(found),
            }
        };
        let result = match action {
            Action::Create { settings, .. } => create(swr, &repo, &target, *settings)
                .await
                .map(made(Change::Created)),
            Action::Replace { settings, .. } => match swr.delete_sync_task(&repo, &target).await {
                Ok(_) => {
                    // The old task is gone: its id must not outlive it in the status, where
                    // it would make the rule's new task look made outside.
                    if let Some(line) = report.tasks.get_mut(key) {
                        line.id = None;
                    }
                    create(swr, &repo, &target, *settings)
                        .await
                        .map(made(Change::Replaced))
                }
                Err(e) => Err(e),
            },
            Action::Delete { settings, .. } => swr
                .delete_sync_task(&repo, &target)
                .await
                .map(|_| Ok((Change::Deleted, *settings, None))),
        };
        let result = match result {
            Ok(Err(found)) => {
                // Somebody else made it meanwhile: external, not ours to keep or replace.
                let mut line = TaskLine::new(found.settings, TaskState::External, found.id, None);
                if found.settings != action_settings(action) {
                    line.message =
                        Some("made outside the operator meanwhile, with other settings".into());
                }
                report.tasks.insert(key.clone(), line);
                continue;
            }
            Ok(Ok(done)) => Ok(done),
            Err(e) => Err(e),
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

/// The settings an action gives its task.
fn action_settings(action: &Action) -> Settings {
    match action {
        Action::Create { settings, .. }
        | Action::Replace { settings, .. }
        | Action::Delete { settings, .. } => *settings,
    }
}

/// What a create left in SWR.
enum Made {
    /// The task this rule asked for (its id, when known).
    Ours(Option<i64>),
    /// A task somebody else made first.
    Outside(ObservedTask),
}

/// Creates a task. A create is never repeated blindly: after any failure the repository is
/// listed again. A task now there with the wanted settings counts as created when the
/// failure may hide a create that landed (a timeout, a 5xx, no answer); after a clear
/// refusal, or with other settings, somebody else made it.
async fn create(
    swr: &impl SwrApi,
    repo: &SourceRepo,
    target: &SyncTarget,
    settings: Settings,
) -> Result<Made, SwrError> {
    let body = CreateSyncTask {
        remote_region_id: target.remote_region_id.clone(),
        remote_namespace: target.remote_namespace.clone(),
        sync_auto: settings.sync_auto,
        override_existing: settings.override_existing,
    };
    let Err(error) = swr.create_sync_task(repo, &body).await else {
        return Ok(Made::Ours(None));
    };
    let present = swr.list_sync_tasks(repo).await.ok().and_then(|tasks| {
        tasks.into_iter().find(|t| {
            t.remote_region_id == target.remote_region_id
                && t.remote_namespace == target.remote_namespace
        })
    });
    let Some(task) = present else {
        return Err(error);
    };
    let found = ObservedTask {
        id: Some(task.id),
        settings: Settings {
            override_existing: task.override_existing,
            sync_auto: task.sync_auto,
        },
    };
    let may_have_landed = matches!(
        error.class(),
        ErrorClass::Timeout
            | ErrorClass::Transport
            | ErrorClass::Server
            | ErrorClass::UnexpectedResponse
    );
    if may_have_landed && found.settings == settings {
        tracing::info!(repo = %repo, id = task.id, error = %error, "create failed but the task exists; taking it");
        Ok(Made::Ours(Some(task.id)))
    } else {
        tracing::info!(repo = %repo, id = task.id, error = %error, "create refused: somebody else made the task");
        Ok(Made::Outside(found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::status::Ownership;
    use crate::cloud::ApiError;
    use crate::swr::model::{ManualSync, SyncTask};
    use crate::swr::DeleteOutcome;

    /// SWR where deletes succeed and every create and listing times out: a create whose
    /// answer is lost, and the listing meant to find out fails too.
    struct LostAnswers;

    fn timeout(operation: &'static str) -> ApiError {
        ApiError::without_response(operation, ErrorClass::Timeout, "timed out")
    }

    impl SwrApi for LostAnswers {
        async fn list_sync_tasks(&self, repo: &SourceRepo) -> Result<Vec<SyncTask>, SwrError> {
            let (repo, error) = (repo.clone(), timeout("swr.list_sync_tasks"));
            Err(SwrError::ListSyncTasks { repo, error })
        }

        async fn create_sync_task(
            &self,
            repo: &SourceRepo,
            task: &CreateSyncTask,
        ) -> Result<(), SwrError> {
            let target = SyncTarget {
                remote_region_id: task.remote_region_id.clone(),
                remote_namespace: task.remote_namespace.clone(),
            };
            let (repo, error) = (repo.clone(), timeout("swr.create_sync_task"));
            Err(SwrError::CreateSyncTask {
                repo,
                target,
                error,
            })
        }

        async fn delete_sync_task(
            &self,
            _: &SourceRepo,
            _: &SyncTarget,
        ) -> Result<DeleteOutcome, SwrError> {
            Ok(DeleteOutcome::Deleted)
        }

        async fn sync_images(
            &self,
            _: &SourceRepo,
            _: &ManualSync,
        ) -> Result<Vec<String>, SwrError> {
            unreachable!("not part of apply")
        }
    }

    #[tokio::test]
    async fn a_replace_that_deleted_the_old_task_forgets_its_id_even_when_the_create_fails() {
        let key = TaskKey::sample("nginx", "cn-east-3");
        let (old, new) = (
            Settings {
                override_existing: false,
                sync_auto: true,
            },
            Settings {
                override_existing: true,
                sync_auto: true,
            },
        );
        let mut report = Report::default();
        let line = TaskLine::new(old, TaskState::Pending, Some(7), Some(Ownership::Created));
        report.tasks.insert(key.clone(), line);
        let replace = Action::Replace {
            key: key.clone(),
            id: Some(7),
            settings: new,
            ownership: Ownership::Created,
        };
        let changes = apply(&LostAnswers, &[replace], &mut report).await;
        assert!(changes.is_empty());
        let line = &report.tasks[&key];
        assert_eq!(line.state, TaskState::Failed);
        // Task 7 is gone; the task there now may be the rule's new one. Keeping 7 would
        // make it look made outside (`plan::remade`), and leave it with no owner.
        assert_eq!(line.id, None);
    }
}
