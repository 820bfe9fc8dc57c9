//! The SWR HTTP client: each operation as the API documents it, over the shared transport.

use std::collections::HashSet;

use reqwest::Method;
use serde::de::DeserializeOwned;

use super::api::{DeleteOutcome, SwrApi};
use super::error::SwrError;
use super::model::{
    CreateSyncTask, ManualSync, Organization, OrganizationList, RegionInfo, Repository, SyncJob,
    SyncTarget, SyncTask, Tag,
};
use super::names::{self, NameKind};
use super::repo::SourceRepo;
use crate::cloud::{ApiError, CloudClient, CloudRequest, ErrorClass, Priority, Service};

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
/// Passes over an organization's repositories before an inconsistent listing is an error.
const LISTING_ATTEMPTS: usize = 2;

/// The `filter` of one repository listing page. Only the `filter` form sorts by name (the
/// `order_column` query parameter takes `updated_at` alone, which every push changes, so
/// offsets would skip and repeat); and `filter` overrides the separate parameters, so the
/// organization and the page go in it too. A validated organization name holds neither `|`
/// nor `::`, so it cannot add filter parts.
fn repositories_filter(organization: &str, offset: usize) -> String {
    format!(
        "namespace::{organization}|limit::{PAGE_SIZE}|offset::{offset}\
         |order_column::name|order_type::asc"
    )
}

/// The total of `Content-Range: offset-count/total` (or `start-end/total`), if any.
fn content_range_total(value: Option<&str>) -> Option<usize> {
    value?.rsplit_once('/')?.1.trim().parse().ok()
}

/// What one pass over the repository listing read, before the exact-organization filter.
#[derive(Debug, Default)]
struct RepositoryPages {
    /// Distinct repositories, by organization and name, in the order first read.
    repositories: Vec<Repository>,
    seen: HashSet<(String, String)>,
    /// The total the first page announced, when it did.
    announced: Option<usize>,
}

impl RepositoryPages {
    /// Adds a page; a repository a shifted page repeats is kept once.
    fn add(&mut self, batch: Vec<Repository>, total: Option<usize>) {
        self.announced = self.announced.or(total);
        for repo in batch {
            if self
                .seen
                .insert((repo.namespace.clone(), repo.name.clone()))
            {
                self.repositories.push(repo);
            }
        }
    }

    /// Whether every repository the first page counted was read. Fewer means the listing
    /// shifted under the offsets (a deletion, or ties of equal names across organizations
    /// ordered differently from page to page) and may have skipped one.
    fn is_complete(&self) -> bool {
        self.announced
            .is_none_or(|total| self.repositories.len() >= total)
    }

    /// The repositories of exactly `organization`, or why the listing cannot be trusted.
    fn exactly(self, organization: &str) -> Result<Vec<Repository>, ApiError> {
        if !self.is_complete() {
            return Err(ApiError::without_response(
                ops::LIST_REPOSITORIES,
                ErrorClass::UnexpectedResponse,
                format!(
                    "the listing announced {} repositories but {} distinct ones were read \
                     across its pages: it shifted while being paged and may have skipped some",
                    self.announced.unwrap_or_default(),
                    self.repositories.len()
                ),
            ));
        }
        Ok(self
            .repositories
            .into_iter()
            .filter(|r| r.namespace == organization)
            .collect())
    }
}

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

    /// One page of a repository's sync history (`filter=limit::N|offset::M|order::desc`),
    /// newest first.
    pub async fn list_sync_jobs(
        &self,
        repo: &SourceRepo,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<SyncJob>, SwrError> {
        let request = Self::repo_request(ops::LIST_SYNC_JOBS, repo, Method::GET, "sync_job")
            // Newest first, asked for: without an order the pages leave it open.
            .query(
                "filter",
                format!("limit::{limit}|offset::{offset}|order::desc"),
            );
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

    /// Every repository of exactly `organization`, in name order, each once.
    ///
    /// Rules prune the tasks of repositories missing here, so the pages must neither skip
    /// nor repeat: they are read in the stable name order (which pushes do not change) and
    /// de-duplicated, entries of organizations that merely contain the name (the
    /// `namespace` filter is fuzzy) are dropped, and a listing that read fewer distinct
    /// repositories than its first page announced is read once more, then refused.
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
        let mut pages = self
            .repository_pages(region, organization)
            .await
            .map_err(failed)?;
        for _ in 1..LISTING_ATTEMPTS {
            if pages.is_complete() {
                break;
            }
            pages = self
                .repository_pages(region, organization)
                .await
                .map_err(failed)?;
        }
        pages.exactly(organization).map_err(failed)
    }

    /// One pass over every page of `GET /v2/manage/repos` for `organization`.
    async fn repository_pages(
        &self,
        region: &str,
        organization: &str,
    ) -> Result<RepositoryPages, ApiError> {
        let mut pages = RepositoryPages::default();
        for page in 0..MAX_PAGES {
            // The API wants offsets that are multiples of the limit.
            let offset = page * PAGE_SIZE;
            let request = CloudRequest::new(
                ops::LIST_REPOSITORIES,
                Service::Swr,
                region,
                Method::GET,
                "/v2/manage/repos".into(),
            )
            .query("filter", repositories_filter(organization, offset));
            let response = self.cloud.call(&request).await?;
            let batch: Vec<Repository> = response.json()?;
            let total = content_range_total(response.header("content-range"));
            let full = batch.len() >= PAGE_SIZE;
            pages.add(batch, total);
            if !full || total.is_some_and(|t| offset + PAGE_SIZE >= t) {
                break;
            }
        }
        Ok(pages)
    }

    /// Every tag of a repository (all pages), at `priority`.
    pub async fn list_tags(
        &self,
        repo: &SourceRepo,
        priority: Priority,
    ) -> Result<Vec<Tag>, SwrError> {
        let page =
            || Self::repo_request(ops::LIST_TAGS, repo, Method::GET, "tags").priority(priority);
        self.all_pages(page)
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
        // SWR deletes by key, not by id: a repeat after an answer was lost would delete a
        // task somebody made again under that key meanwhile. The next pass lists first and
        // tells its own task from such a one by id (`docs/ownership.md`, "Task ids").
        let request = Self::repo_request(ops::DELETE_SYNC_TASK, repo, Method::DELETE, "sync_repo")
            .json(target)
            .idempotent(false);
        match self.cloud.call(&request).await {
            Ok(_) => Ok(DeleteOutcome::Deleted),
            Err(e) if e.is_service_not_found() || e.has_code(TASK_NOT_FOUND_CODE) => {
                Ok(DeleteOutcome::AlreadyAbsent)
            }
            Err(error) => Err(SwrError::DeleteSyncTask {
                repo: repo.clone(),
                target: target.clone(),
                error,
            }),
        }
    }

    /// SWR answers 200 with the tags that failed to sync (a bare array of strings:
    /// `CreateManualImageSyncRepoResponse` in the SDKs, "Image tags that fail to be
    /// synchronized" on the API page); an empty body, as some regions send, is none.
    async fn sync_images(
        &self,
        repo: &SourceRepo,
        sync: &ManualSync,
    ) -> Result<Vec<String>, SwrError> {
        let request =
            Self::repo_request(ops::SYNC_IMAGES, repo, Method::POST, "sync_images").json(sync);
        let answer = self.cloud.call(&request).await.and_then(|response| {
            if response.body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Vec::new());
            }
            response.json::<Vec<String>>()
        });
        answer.map_err(|error| SwrError::SyncImages {
            repo: repo.clone(),
            error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(namespace: &str, name: &str) -> Repository {
        serde_json::from_value(serde_json::json!({"name": name, "namespace": namespace})).unwrap()
    }

    #[test]
    fn the_filter_pages_by_name() {
        assert_eq!(
            repositories_filter("platform", 200),
            "namespace::platform|limit::100|offset::200|order_column::name|order_type::asc"
        );
    }

    #[test]
    fn content_range_totals() {
        assert_eq!(content_range_total(Some("0-100/250")), Some(250));
        assert_eq!(content_range_total(Some("200-49/250")), Some(250));
        assert_eq!(content_range_total(Some("*/0")), Some(0));
        assert_eq!(content_range_total(Some("0-9/*")), None);
        assert_eq!(content_range_total(None), None);
    }

    #[test]
    fn pages_keep_each_repository_once_and_only_the_exact_organization() {
        let mut pages = RepositoryPages::default();
        pages.add(
            vec![repo("platform", "api"), repo("platform-dr", "nginx")],
            Some(3),
        );
        // A creation shifted the next page: its first entry repeats.
        pages.add(
            vec![repo("platform-dr", "nginx"), repo("platform", "nginx")],
            Some(4),
        );
        assert!(pages.is_complete());
        let names: Vec<_> = pages
            .exactly("platform")
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["api", "nginx"]);
    }

    #[test]
    fn fewer_than_announced_is_refused() {
        let mut pages = RepositoryPages::default();
        pages.add(vec![repo("platform", "a"), repo("platform", "b")], Some(3));
        pages.add(vec![repo("platform", "b")], Some(3));
        assert!(!pages.is_complete());
        let err = pages.exactly("platform").unwrap_err();
        assert_eq!(err.class, ErrorClass::UnexpectedResponse);
        let mut unannounced = RepositoryPages::default();
        unannounced.add(vec![repo("platform", "a")], None);
        assert!(unannounced.is_complete(), "nothing to check against");
    }
}
