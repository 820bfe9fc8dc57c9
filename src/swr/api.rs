//! The narrow SWR interface the reconciler uses, so that its steps can be tested against
//! fakes as well as the HTTP client.

use std::future::Future;

use super::error::SwrError;
use super::model::{CreateSyncTask, ManualSync, SyncTarget, SyncTask};
use super::repo::SourceRepo;

/// What a delete found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The task existed and is gone now.
    Deleted,
    /// There was no such task (404, or SWR's 400 `SVCSTG.SWR.4001158`): nothing to do.
    AlreadyAbsent,
}

/// The SWR operations the reconciler needs; the HTTP client implements it, tests may fake it.
pub trait SwrApi: Send + Sync {
    /// All auto-sync tasks of a repository.
    fn list_sync_tasks(
        &self,
        repo: &SourceRepo,
    ) -> impl Future<Output = Result<Vec<SyncTask>, SwrError>> + Send;

    /// Creates a task. Never retried by the client: after a failure the caller re-lists.
    fn create_sync_task(
        &self,
        repo: &SourceRepo,
        task: &CreateSyncTask,
    ) -> impl Future<Output = Result<(), SwrError>> + Send;

    /// Deletes a task; a task that is already gone is not an error.
    fn delete_sync_task(
        &self,
        repo: &SourceRepo,
        target: &SyncTarget,
    ) -> impl Future<Output = Result<DeleteOutcome, SwrError>> + Send;

    /// Copies existing tags to a target now; returns the tags SWR says failed to sync.
    fn sync_images(
        &self,
        repo: &SourceRepo,
        sync: &ManualSync,
    ) -> impl Future<Output = Result<Vec<String>, SwrError>> + Send;
}
