//! The apply step: carry out a plan's actions against SWR, all at once (the transport's cap
//! on requests in flight and its rate limit pace them); then, apart and pure, fold what they
//! came to into the pass report in plan order.

use futures::future::join_all;

use super::plan::Action;
use super::report::{Problem, Report, TaskLine};
use super::task::{Change, ObservedTask, Settings, TaskKey};
use crate::api::status::TaskState;
use crate::cloud::ErrorClass;
use crate::swr::model::{CreateSyncTask, SyncTarget};
use crate::swr::{SourceRepo, SwrApi, SwrError};

/// Carries out `actions` against SWR; returns what each came to, in plan order. The actions
/// concern distinct tasks, so they run concurrently; a replace deletes before it creates,
/// within its own action.
pub async fn apply(swr: &impl SwrApi, actions: &[Action]) -> Vec<Outcome> {
    join_all(actions.iter().map(|action| carry_out(swr, action))).await
}

/// Folds what `actions` came to into the pass report, in plan order; returns the changes
/// made. Pure: the I/O was [`apply`].
pub fn fold(
    report: &mut Report,
    actions: &[Action],
    outcomes: Vec<Outcome>,
) -> Vec<(Change, TaskKey, Settings)> {
    actions
        .iter()
        .zip(outcomes)
        .filter_map(|(action, outcome)| fold_one(action, outcome, report))
        .collect()
}

/// What one action came to.
pub enum Outcome {
    /// Done: the change made and, for a created task, its id when known.
    Done(Change, Option<i64>),
    /// A task somebody else made first is there.
    Outside(ObservedTask),
    /// The call failed; `old_gone`: a replace deleted the old task before its create failed.
    Failed { error: SwrError, old_gone: bool },
}

/// Makes the calls of one action.
async fn carry_out(swr: &impl SwrApi, action: &Action) -> Outcome {
    let key = action.key();
    let repo = key.source().clone();
    let target = SyncTarget {
        remote_region_id: key.target().region().to_string(),
        remote_namespace: key.target().organization().to_string(),
    };
    let made = |change, old_gone, result| match result {
        Ok(Made::Ours(id)) => Outcome::Done(change, id),
        Ok(Made::Outside(found)) => Outcome::Outside(found),
        Err(error) => Outcome::Failed { error, old_gone },
    };
    match action {
        Action::Create { settings, .. } => {
            let result = create(swr, &repo, &target, *settings).await;
            made(Change::Created, false, result)
        }
        Action::Replace { settings, .. } => match swr.delete_sync_task(&repo, &target).await {
            Ok(_) => {
                let result = create(swr, &repo, &target, *settings).await;
                made(Change::Replaced, true, result)
            }
            Err(error) => Outcome::Failed {
                error,
                old_gone: false,
            },
        },
        Action::Delete { .. } => match swr.delete_sync_task(&repo, &target).await {
            Ok(_) => Outcome::Done(Change::Deleted, None),
            Err(error) => Outcome::Failed {
                error,
                old_gone: false,
            },
        },
    }
}

/// Records one action's outcome in the report; returns the change it made, if any.
fn fold_one(
    action: &Action,
    outcome: Outcome,
    report: &mut Report,
) -> Option<(Change, TaskKey, Settings)> {
    let key = action.key();
    let settings = action_settings(action);
    match outcome {
        Outcome::Done(Change::Deleted, _) => {
            report.tasks.remove(key);
            report.changes += 1;
            Some((Change::Deleted, key.clone(), settings))
        }
        Outcome::Done(change, id) => {
            let line = TaskLine::new(settings, TaskState::InSync, id, Some(action.ownership()));
            report.tasks.insert(key.clone(), line);
            report.changes += 1;
            Some((change, key.clone(), settings))
        }
        Outcome::Outside(found) => {
            // Somebody else made it meanwhile: external, not ours to keep or replace.
            let mut line = TaskLine::new(found.settings, TaskState::External, found.id, None);
            if found.settings != settings {
                line.message =
                    Some("made outside the operator meanwhile, with other settings".into());
            }
            report.tasks.insert(key.clone(), line);
            None
        }
        Outcome::Failed { error, old_gone } => {
            let message = error.to_string();
            if let Some(line) = report.tasks.get_mut(key) {
                line.state = TaskState::Failed;
                line.message = Some(message.clone());
                if old_gone {
                    // The old task is gone: its id must not outlive it in the status, where
                    // it would make the rule's new task look made outside.
                    line.id = None;
                }
            }
            report.add_problem(Problem::from_api(error.api(), format!("{key}: {message}")));
            None
        }
    }
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
        let actions = [replace];
        let outcomes = apply(&LostAnswers, &actions).await;
        let changes = fold(&mut report, &actions, outcomes);
        assert!(changes.is_empty());
        let line = &report.tasks[&key];
        assert_eq!(line.state, TaskState::Failed);
        // Task 7 is gone; the task there now may be the rule's new one. Keeping 7 would
        // make it look made outside (`plan::remade`), and leave it with no owner.
        assert_eq!(line.id, None);
    }
}
