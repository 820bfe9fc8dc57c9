//! Maps a raw request line to its region (an optional `/{region}` path prefix, else the default
//! region) and its operation, whose name is what call counts and fault filters use.

use percent_encoding::percent_decode_str;

use crate::auth::iam::{OP_CREATE_TOKEN, OP_LIST_PROJECTS};
use crate::hss::OP_IMAGE_SYNCHRONIZE;
use crate::swr::client::ops;
use crate::swr::names::repository_from_path_segment;

/// The service an operation belongs to; decides the shape of error bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Software Repository for Container.
    Swr,
    /// Host Security Service.
    Hss,
    /// Identity and Access Management.
    Iam,
}

/// `{namespace}` and `{repository}` of a repository path, decoded (`$`/`%24` → `/`) but not
/// yet validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoPath {
    /// Organization.
    pub organization: String,
    /// Repository.
    pub repository: String,
}

/// An SWR operation with its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwrOp {
    /// `GET .../sync_repo`.
    ListSyncTasks(RepoPath),
    /// `POST .../sync_repo`.
    CreateSyncTask(RepoPath),
    /// `DELETE .../sync_repo`.
    DeleteSyncTask(RepoPath),
    /// `POST .../sync_images`.
    SyncImages(RepoPath),
    /// `GET .../sync_job`.
    ListSyncJobs(RepoPath),
    /// `GET .../tags`.
    ListTags(RepoPath),
    /// `DELETE .../tags/{tag}`, with the tag (decoded).
    DeleteTag(RepoPath, String),
    /// `GET /v2/manage/regions`.
    ListRegions,
    /// `GET /v2/manage/namespaces`.
    ListOrganizations,
    /// `GET /v2/manage/repos`.
    ListRepositories,
}

/// A cloud API operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// An SWR operation.
    Swr(SwrOp),
    /// `POST /v5/{project_id}/image/synchronize`.
    ImageSynchronize {
        /// Project id of the path.
        project_id: String,
    },
    /// `POST /v3/auth/tokens`.
    CreateToken,
    /// `DELETE /v3/auth/tokens`.
    RevokeToken,
    /// `GET /v3/projects`.
    ListProjects,
    /// Anything else.
    Unknown,
}

/// Name of requests that match no operation.
pub const UNKNOWN: &str = "unknown";
/// Name of `DELETE /v3/auth/tokens` (the operator never calls it; users and tests do).
pub const OP_REVOKE_TOKEN: &str = "iam.revoke_token";
/// Name of SWR's `DeleteRepoTag`, `DELETE .../tags/{tag}` (the operator never calls it;
/// users and tests do).
pub const OP_DELETE_REPO_TAG: &str = "swr.delete_repo_tag";

/// Every operation name (the client's names), for checking fault filters.
pub const OPERATION_NAMES: [&str; 15] = [
    ops::LIST_SYNC_TASKS,
    ops::CREATE_SYNC_TASK,
    ops::DELETE_SYNC_TASK,
    ops::SYNC_IMAGES,
    ops::LIST_SYNC_JOBS,
    ops::LIST_REGIONS,
    ops::LIST_ORGANIZATIONS,
    ops::LIST_REPOSITORIES,
    ops::LIST_TAGS,
    OP_DELETE_REPO_TAG,
    OP_IMAGE_SYNCHRONIZE,
    OP_CREATE_TOKEN,
    OP_LIST_PROJECTS,
    OP_REVOKE_TOKEN,
    UNKNOWN,
];

impl SwrOp {
    /// The repository of a repository-level operation.
    pub fn repo_path(&self) -> Option<&RepoPath> {
        match self {
            Self::ListSyncTasks(p)
            | Self::CreateSyncTask(p)
            | Self::DeleteSyncTask(p)
            | Self::SyncImages(p)
            | Self::ListSyncJobs(p)
            | Self::ListTags(p)
            | Self::DeleteTag(p, _) => Some(p),
            Self::ListRegions | Self::ListOrganizations | Self::ListRepositories => None,
        }
    }

    /// The operation's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ListSyncTasks(_) => ops::LIST_SYNC_TASKS,
            Self::CreateSyncTask(_) => ops::CREATE_SYNC_TASK,
            Self::DeleteSyncTask(_) => ops::DELETE_SYNC_TASK,
            Self::SyncImages(_) => ops::SYNC_IMAGES,
            Self::ListSyncJobs(_) => ops::LIST_SYNC_JOBS,
            Self::ListTags(_) => ops::LIST_TAGS,
            Self::DeleteTag(..) => OP_DELETE_REPO_TAG,
            Self::ListRegions => ops::LIST_REGIONS,
            Self::ListOrganizations => ops::LIST_ORGANIZATIONS,
            Self::ListRepositories => ops::LIST_REPOSITORIES,
        }
    }
}

impl Operation {
    /// The operation's name (one of [`OPERATION_NAMES`]).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Swr(op) => op.name(),
            Self::ImageSynchronize { .. } => OP_IMAGE_SYNCHRONIZE,
            Self::CreateToken => OP_CREATE_TOKEN,
            Self::RevokeToken => OP_REVOKE_TOKEN,
            Self::ListProjects => OP_LIST_PROJECTS,
            Self::Unknown => UNKNOWN,
        }
    }

    /// The service that answers it; unknown paths get SWR-shaped errors.
    pub fn service(&self) -> Service {
        match self {
            Self::ImageSynchronize { .. } => Service::Hss,
            Self::CreateToken | Self::RevokeToken | Self::ListProjects => Service::Iam,
            Self::Swr(_) | Self::Unknown => Service::Swr,
        }
    }
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The region: `Ok` when configured, `Err` with the unknown prefix otherwise.
    pub region: Result<String, String>,
    /// The operation.
    pub operation: Operation,
}

/// First path segments that start an API path; anything else first is a region prefix.
const API_ROOTS: [&str; 3] = ["v2", "v3", "v5"];

fn decode(segment: &str) -> String {
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

/// Routes `method` + raw `path`; `is_region` tells configured regions.
pub fn route(
    method: &str,
    path: &str,
    default_region: &str,
    is_region: impl Fn(&str) -> bool,
) -> Route {
    let mut segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if segments.len() > 1 && segments.last() == Some(&"") {
        segments.pop();
    }
    let region = if API_ROOTS.contains(&segments[0]) {
        Ok(default_region.to_string())
    } else {
        let prefix = decode(segments.remove(0));
        if is_region(&prefix) {
            Ok(prefix)
        } else {
            Err(prefix)
        }
    };
    Route {
        region,
        operation: operation(method, &segments),
    }
}

fn operation(method: &str, segments: &[&str]) -> Operation {
    match (method, segments) {
        ("POST", ["v5", project, "image", "synchronize"]) => Operation::ImageSynchronize {
            project_id: decode(project),
        },
        ("POST", ["v3", "auth", "tokens"]) => Operation::CreateToken,
        ("DELETE", ["v3", "auth", "tokens"]) => Operation::RevokeToken,
        ("GET", ["v3", "projects"]) => Operation::ListProjects,
        _ => swr_operation(method, segments).map_or(Operation::Unknown, Operation::Swr),
    }
}

fn repo_path(namespace: &str, repository: &str) -> RepoPath {
    RepoPath {
        organization: decode(namespace),
        repository: repository_from_path_segment(repository),
    }
}

fn swr_operation(method: &str, segments: &[&str]) -> Option<SwrOp> {
    let op = match (method, segments) {
        (_, ["v2", "manage", "namespaces", namespace, "repos", repository, leaf]) => {
            let repo = repo_path(namespace, repository);
            match (method, *leaf) {
                ("GET", "sync_repo") => SwrOp::ListSyncTasks(repo),
                ("POST", "sync_repo") => SwrOp::CreateSyncTask(repo),
                ("DELETE", "sync_repo") => SwrOp::DeleteSyncTask(repo),
                ("POST", "sync_images") => SwrOp::SyncImages(repo),
                ("GET", "sync_job") => SwrOp::ListSyncJobs(repo),
                ("GET", "tags") => SwrOp::ListTags(repo),
                _ => return None,
            }
        }
        ("DELETE", ["v2", "manage", "namespaces", namespace, "repos", repository, "tags", tag]) => {
            SwrOp::DeleteTag(repo_path(namespace, repository), decode(tag))
        }
        ("GET", ["v2", "manage", "regions"]) => SwrOp::ListRegions,
        ("GET", ["v2", "manage", "namespaces"]) => SwrOp::ListOrganizations,
        ("GET", ["v2", "manage", "repos"]) => SwrOp::ListRepositories,
        _ => return None,
    };
    Some(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(method: &str, path: &str) -> Route {
        route(method, path, "cn-north-4", |r| {
            ["cn-north-4", "cn-east-3"].contains(&r)
        })
    }

    #[test]
    fn region_prefix_or_default() {
        let nginx = RepoPath {
            organization: "platform".into(),
            repository: "nginx".into(),
        };
        assert_eq!(
            r(
                "GET",
                "/v2/manage/namespaces/platform/repos/nginx/sync_repo"
            ),
            Route {
                region: Ok("cn-north-4".into()),
                operation: Operation::Swr(SwrOp::ListSyncTasks(nginx))
            }
        );
        assert_eq!(
            r(
                "POST",
                "/cn-east-3/v2/manage/namespaces/platform/repos/nginx/sync_repo"
            )
            .region,
            Ok("cn-east-3".into())
        );
        let unknown = r("GET", "/mars-1/v2/manage/regions");
        assert_eq!(unknown.region, Err("mars-1".into()));
        assert_eq!(unknown.operation, Operation::Swr(SwrOp::ListRegions));
    }

    #[test]
    fn operations_and_names() {
        let table = [
            (
                "GET",
                "/v2/manage/namespaces/team_a.b-c/repos/apps%24api-server/sync_repo",
                "swr.list_sync_tasks",
            ),
            (
                "DELETE",
                "/v2/manage/namespaces/o/repos/a$b/sync_repo",
                "swr.delete_sync_task",
            ),
            (
                "POST",
                "/v2/manage/namespaces/o/repos/r/sync_images",
                "swr.sync_images",
            ),
            (
                "GET",
                "/v2/manage/namespaces/o/repos/r/sync_job",
                "swr.list_sync_jobs",
            ),
            (
                "GET",
                "/v2/manage/namespaces/o/repos/r/tags",
                "swr.list_tags",
            ),
            (
                "DELETE",
                "/v2/manage/namespaces/o/repos/r/tags/v1",
                "swr.delete_repo_tag",
            ),
            ("GET", "/v2/manage/namespaces/o/repos/r/tags/v1", "unknown"),
            ("DELETE", "/v2/manage/namespaces/o/repos/r/tags", "unknown"),
            ("DELETE", "/v2/manage/namespaces/o/repos/r/tags/", "unknown"),
            ("GET", "/v2/manage/regions/", "swr.list_regions"),
            ("GET", "/v2/manage/namespaces", "swr.list_organizations"),
            ("GET", "/v2/manage/repos", "swr.list_repositories"),
            (
                "POST",
                "/cn-east-3/v5/abc/image/synchronize",
                "hss.image_synchronize",
            ),
            ("POST", "/v3/auth/tokens", "iam.create_token"),
            ("GET", "/v3/projects", "iam.list_projects"),
            (
                "PUT",
                "/v2/manage/namespaces/o/repos/r/sync_repo",
                "unknown",
            ),
            ("GET", "/", "unknown"),
            ("GET", "/cn-east-3", "unknown"),
        ];
        for (method, path, name) in table {
            assert_eq!(r(method, path).operation.name(), name, "{method} {path}");
        }
        let nested = r("GET", "/v2/manage/namespaces/o/repos/apps%24api/tags").operation;
        assert_eq!(
            nested,
            Operation::Swr(SwrOp::ListTags(RepoPath {
                organization: "o".into(),
                repository: "apps/api".into()
            }))
        );
    }

    #[test]
    fn tag_deletion_decodes_the_repository_and_the_tag() {
        let apps_api = || RepoPath {
            organization: "o".into(),
            repository: "apps/api".into(),
        };
        for path in [
            "/v2/manage/namespaces/o/repos/apps$api/tags/v1.0",
            "/v2/manage/namespaces/o/repos/apps%24api/tags/v1.0",
            "/v2/manage/namespaces/o/repos/apps%2Fapi/tags/v1%2E0",
            "/cn-east-3/v2/manage/namespaces/o/repos/apps%2fapi/tags/v1.0",
        ] {
            assert_eq!(
                r("DELETE", path).operation,
                Operation::Swr(SwrOp::DeleteTag(apps_api(), "v1.0".into())),
                "{path}"
            );
        }
        let raw_slash = r("DELETE", "/v2/manage/namespaces/o/repos/apps/api/tags/v1");
        assert_eq!(raw_slash.operation, Operation::Unknown);
        let op = r("DELETE", "/v2/manage/namespaces/o/repos/r/tags/v1").operation;
        assert_eq!(op.service(), Service::Swr);
        assert!(OPERATION_NAMES.contains(&op.name()));
    }
}
