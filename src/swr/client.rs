//! The SWR HTTP client: each operation as the API documents it, over the shared transport.

use reqwest::Method;
use serde::de::DeserializeOwned;

use super::model::{
    CreateSyncTask, ManualSync, Organization, OrganizationList, RegionInfo, Repository, SyncJob,
    SyncTarget, SyncTask, Tag,
};
use super::names::{self, NameKind};
use super::{DeleteOutcome, SourceRepo, SwrApi, SwrError};
use crate::cloud::{ApiError, CloudClient, CloudRequest, ErrorClass, Service};

/// Operation names (errors, logs, metrics).
pub mod ops {
    /// List tasks.
    pub const LIST_SYNC_TASKS: &str = "swr.list_sync_tasks";
    /// Create a task.
    pub const CREATE_SYNC_TASK: &str = "swr.create_sync_task";
    /// Delete a task.
    pub const DELETE_SYNC_TASK: &str = "swr.delete_sync_task";
    /// Manual sync.
    pub const SYNC_IMAGES: &str = "swr.sync_images";
    /// Sync history.
    pub const LIST_SYNC_JOBS: &str = "swr.list_sync_jobs";
    /// Sync regions.
    pub const LIST_REGIONS: &str = "swr.list_regions";
    /// Organizations.
    pub const LIST_ORGANIZATIONS: &str = "swr.list_organizations";
    /// Repositories.
    pub const LIST_REPOSITORIES: &str = "swr.list_repositories";
    /// Tags.
    pub const LIST_TAGS: &str = "swr.list_tags";
}

/// SWR's answer when deleting a task that does not exist.
pub const TASK_NOT_FOUND_CODE: &str = "SVCSTG.SWR.4001158";
/// Page size for paged lists.
pub const PAGE_SIZE: usize = 100;
/// Pages read at most, so a misbehaving server cannot keep a list going forever.
const MAX_PAGES: usize = 1000;

/// SWR over HTTP.
#[derive(Debug, Clone)]
pub struct SwrClient {
    cloud: CloudClient,
}

impl SwrClient {
    /// A client on top of an authenticated cloud client.
    pub fn new(cloud: CloudClient) -> Self {
        Self { cloud }
    }

    fn repo_request(
        op: &'static str,
        repo: &SourceRepo,
        method: Method,
        leaf: &str,
    ) -> CloudRequest {
        let path = format!(
            "/v2/manage/namespaces/{}/repos/{}/{leaf}",
            repo.organization(),
            names::repository_path_segment(repo.repository())
        );
        CloudRequest::new(op, Service::Swr, repo.region(), method, path)
    }

    async fn fetch<T: DeserializeOwned>(&self, request: &CloudRequest) -> Result<T, ApiError> {
        self.cloud.call(request).await?.json()
    }

    /// Reads every page of a `limit`/`offset` list.
    async fn all_pages<T: DeserializeOwned>(
        &self,
        page: impl Fn() -> CloudRequest,
    ) -> Result<Vec<T>, ApiError> {
        let mut all = Vec::new();
        for _ in 0..MAX_PAGES {
            let request = page().query("limit", PAGE_SIZE).query("offset", all.len());
            let batch: Vec<T> = self.fetch(&request).await?;
            let last = batch.len() < PAGE_SIZE;
            all.extend(batch);
            if last {
                break;
            }
        }
        Ok(all)
    }

    /// One page of a repository's sync history (`filter=limit::N|offset::M`), newest first.
    pub async fn list_sync_jobs(
        &self,
        repo: &SourceRepo,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<SyncJob>, SwrError> {
        let request = Self::repo_request(ops::LIST_SYNC_JOBS, repo, Method::GET, "sync_job")
            .query("filter", format!("limit::{limit}|offset::{offset}"));
        self.fetch(&request)
            .await
            .map_err(|error| SwrError::ListSyncJobs {
                repo: repo.clone(),
                error,
            })
    }

    /// Regions this region can replicate to.
    pub async fn list_regions(&self, region: &str) -> Result<Vec<String>, SwrError> {
        let request = CloudRequest::new(
            ops::LIST_REGIONS,
            Service::Swr,
            region,
            Method::GET,
            "/v2/manage/regions".into(),
        );
        let regions: Vec<RegionInfo> =
            self.fetch(&request)
                .await
                .map_err(|error| SwrError::ListRegions {
                    region: region.to_string(),
                    error,
                })?;
        Ok(regions.into_iter().map(|r| r.region_id).collect())
    }

    /// Organizations in a region.
    pub async fn list_organizations(&self, region: &str) -> Result<Vec<Organization>, SwrError> {
        let request = CloudRequest::new(
            ops::LIST_ORGANIZATIONS,
            Service::Swr,
            region,
            Method::GET,
            "/v2/manage/namespaces".into(),
        );
        let list: OrganizationList =
            self.fetch(&request)
                .await
                .map_err(|error| SwrError::ListOrganizations {
                    region: region.to_string(),
                    error,
                })?;
        Ok(list.namespaces)
    }

    /// Every repository of an organization (all pages).
    pub async fn list_repositories(
        &self,
        region: &str,
        organization: &str,
    ) -> Result<Vec<Repository>, SwrError> {
        let failed = |error| SwrError::ListRepositories {
            region: region.to_string(),
            organization: organization.to_string(),
            error,
        };
        names::validate(NameKind::Organization, organization).map_err(|e| {
            failed(ApiError::without_response(
                ops::LIST_REPOSITORIES,
                ErrorClass::InvalidRequest,
                e.to_string(),
            ))
        })?;
        self.all_pages(|| {
            CloudRequest::new(
                ops::LIST_REPOSITORIES,
                Service::Swr,
                region,
                Method::GET,
                "/v2/manage/repos".into(),
            )
            .query("namespace", organization)
        })
        .await
        .map_err(failed)
    }

    /// Every tag of a repository (all pages).
    pub async fn list_tags(&self, repo: &SourceRepo) -> Result<Vec<Tag>, SwrError> {
        self.all_pages(|| Self::repo_request(ops::LIST_TAGS, repo, Method::GET, "tags"))
            .await
            .map_err(|error| SwrError::ListTags {
                repo: repo.clone(),
                error,
            })
    }
}

impl SwrApi for SwrClient {
    async fn list_sync_tasks(&self, repo: &SourceRepo) -> Result<Vec<SyncTask>, SwrError> {
        let request = Self::repo_request(ops::LIST_SYNC_TASKS, repo, Method::GET, "sync_repo");
        self.fetch(&request)
            .await
            .map_err(|error| SwrError::ListSyncTasks {
                repo: repo.clone(),
                error,
            })
    }

    async fn create_sync_task(
        &self,
        repo: &SourceRepo,
        task: &CreateSyncTask,
    ) -> Result<(), SwrError> {
        let request =
            Self::repo_request(ops::CREATE_SYNC_TASK, repo, Method::POST, "sync_repo").json(task);
        self.cloud
            .call(&request)
            .await
            .map(drop)
            .map_err(|error| SwrError::CreateSyncTask {
                repo: repo.clone(),
                target: SyncTarget {
                    remote_region_id: task.remote_region_id.clone(),
                    remote_namespace: task.remote_namespace.clone(),
                },
                error,
            })
    }

    async fn delete_sync_task(
        &self,
        repo: &SourceRepo,
        target: &SyncTarget,
    ) -> Result<DeleteOutcome, SwrError> {
        let request = Self::repo_request(ops::DELETE_SYNC_TASK, repo, Method::DELETE, "sync_repo")
            .json(target);
        match self.cloud.call(&request).await {
            Ok(_) => Ok(DeleteOutcome::Deleted),
            Err(e) if e.class == ErrorClass::NotFound || e.has_code(TASK_NOT_FOUND_CODE) => {
                Ok(DeleteOutcome::AlreadyAbsent)
            }
            Err(error) => Err(SwrError::DeleteSyncTask {
                repo: repo.clone(),
                target: target.clone(),
                error,
            }),
        }
    }

    async fn sync_images(&self, repo: &SourceRepo, sync: &ManualSync) -> Result<(), SwrError> {
        let request =
            Self::repo_request(ops::SYNC_IMAGES, repo, Method::POST, "sync_images").json(sync);
        self.cloud
            .call(&request)
            .await
            .map(drop)
            .map_err(|error| SwrError::SyncImages {
                repo: repo.clone(),
                error,
            })
    }
}
