//! Errors of SWR calls, one variant per operation, each naming what it was working on.

use super::model::SyncTarget;
use super::repo::SourceRepo;
use crate::cloud::{ApiError, ErrorClass};

/// A failed SWR operation.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SwrError {
    /// `GET .../sync_repo`.
    #[error("listing sync tasks of {repo}: {error}")]
    ListSyncTasks {
        /// Source repository.
        repo: SourceRepo,
        /// Cause.
        error: ApiError,
    },
    /// `POST .../sync_repo`.
    #[error("creating sync task {repo} -> {}/{}: {error}", target.remote_region_id, target.remote_namespace)]
    CreateSyncTask {
        /// Source repository.
        repo: SourceRepo,
        /// Target.
        target: SyncTarget,
        /// Cause.
        error: ApiError,
    },
    /// `DELETE .../sync_repo`.
    #[error("deleting sync task {repo} -> {}/{}: {error}", target.remote_region_id, target.remote_namespace)]
    DeleteSyncTask {
        /// Source repository.
        repo: SourceRepo,
        /// Target.
        target: SyncTarget,
        /// Cause.
        error: ApiError,
    },
    /// `POST .../sync_images`.
    #[error("syncing existing images of {repo}: {error}")]
    SyncImages {
        /// Source repository.
        repo: SourceRepo,
        /// Cause.
        error: ApiError,
    },
    /// `GET .../sync_job`.
    #[error("listing sync jobs of {repo}: {error}")]
    ListSyncJobs {
        /// Source repository.
        repo: SourceRepo,
        /// Cause.
        error: ApiError,
    },
    /// `GET .../tags`.
    #[error("listing tags of {repo}: {error}")]
    ListTags {
        /// Repository.
        repo: SourceRepo,
        /// Cause.
        error: ApiError,
    },
    /// `GET /v2/manage/regions`.
    #[error("listing sync regions of {region}: {error}")]
    ListRegions {
        /// Region asked.
        region: String,
        /// Cause.
        error: ApiError,
    },
    /// `GET /v2/manage/namespaces`.
    #[error("listing organizations of {region}: {error}")]
    ListOrganizations {
        /// Region asked.
        region: String,
        /// Cause.
        error: ApiError,
    },
    /// `GET /v2/manage/repos`.
    #[error("listing repositories of {region}/{organization}: {error}")]
    ListRepositories {
        /// Region asked.
        region: String,
        /// Organization.
        organization: String,
        /// Cause.
        error: ApiError,
    },
}

impl SwrError {
    /// The underlying API error.
    pub fn api(&self) -> &ApiError {
        match self {
            Self::ListSyncTasks { error, .. }
            | Self::CreateSyncTask { error, .. }
            | Self::DeleteSyncTask { error, .. }
            | Self::SyncImages { error, .. }
            | Self::ListSyncJobs { error, .. }
            | Self::ListTags { error, .. }
            | Self::ListRegions { error, .. }
            | Self::ListOrganizations { error, .. }
            | Self::ListRepositories { error, .. } => error,
        }
    }

    /// How to treat it.
    pub fn class(&self) -> ErrorClass {
        self.api().class
    }

    /// Metrics label: the operation that failed.
    pub fn label(&self) -> &'static str {
        self.api().operation
    }
}
