//! The SWR API: names, wire model, errors, the narrow trait the reconciler uses, and its
//! HTTP implementation.

pub mod client;
pub mod error;
pub mod model;
pub mod names;

use std::fmt;
use std::future::Future;

pub use client::SwrClient;
pub use error::SwrError;
use model::{CreateSyncTask, ManualSync, SyncTarget, SyncTask};
use names::{NameError, NameKind};

/// A source repository: region, organization and repository, all validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceRepo {
    region: String,
    organization: String,
    repository: String,
}

impl SourceRepo {
    /// Validates the three names.
    pub fn new(region: &str, organization: &str, repository: &str) -> Result<Self, NameError> {
        names::validate(NameKind::Region, region)?;
        names::validate(NameKind::Organization, organization)?;
        names::validate(NameKind::Repository, repository)?;
        Ok(Self {
            region: region.to_string(),
            organization: organization.to_string(),
            repository: repository.to_string(),
        })
    }

    /// Region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Organization.
    pub fn organization(&self) -> &str {
        &self.organization
    }

    /// Repository (with `/` for nested names).
    pub fn repository(&self) -> &str {
        &self.repository
    }
}

impl fmt::Display for SourceRepo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}/{}",
            self.region, self.organization, self.repository
        )
    }
}

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
