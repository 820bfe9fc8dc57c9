//! SWR wire types: request bodies and response objects, named and shaped as the API documents.

use serde::{Deserialize, Serialize};

/// An automatic sync task (the API's `SyncRepo`), as `GET .../sync_repo` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncTask {
    /// Task id.
    pub id: i64,
    /// Source organization.
    pub namespace: String,
    /// Source repository (with `/` for nested names).
    pub repo_name: String,
    /// Target region.
    pub remote_region_id: String,
    /// Target organization.
    pub remote_namespace: String,
    /// Overwrite differing images of the same name in the target.
    #[serde(rename = "override", default)]
    pub override_existing: bool,
    /// Synchronize automatically.
    #[serde(default)]
    pub sync_auto: bool,
    /// Tenant id.
    #[serde(rename = "domainID", default)]
    pub domain_id: String,
    /// Tenant name.
    #[serde(default)]
    pub domain_name: String,
    /// Creation time (UTC, RFC 3339).
    #[serde(default)]
    pub created_at: String,
    /// Update time (UTC, RFC 3339).
    #[serde(default)]
    pub updated_at: String,
}

/// Where a task replicates to; the key of a task within one source repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncTarget {
    /// Target region.
    pub remote_region_id: String,
    /// Target organization.
    pub remote_namespace: String,
}

/// Body of `POST .../sync_repo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSyncTask {
    /// Target region.
    pub remote_region_id: String,
    /// Target organization.
    pub remote_namespace: String,
    /// Synchronize automatically (API default false).
    #[serde(default)]
    pub sync_auto: bool,
    /// Overwrite differing images (API default false).
    #[serde(rename = "override", default)]
    pub override_existing: bool,
}

/// Body of `POST .../sync_images` (manual sync of existing tags).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManualSync {
    /// Tags to copy.
    pub image_tag: Vec<String>,
    /// Overwrite differing images.
    #[serde(rename = "override", default)]
    pub override_existing: bool,
    /// Target organization.
    pub remote_namespace: String,
    /// Target region.
    pub remote_region_id: String,
}

/// One record of sync history (`GET .../sync_job`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncJob {
    /// Job id.
    pub id: i64,
    /// Source organization.
    pub namespace: String,
    /// Source repository.
    pub repo_name: String,
    /// Target region.
    pub remote_region_id: String,
    /// Target organization.
    pub remote_namespace: String,
    /// Whether the copy overwrote.
    #[serde(rename = "override", default)]
    pub override_existing: bool,
    /// Tag copied.
    pub tag: String,
    /// waiting, running, success, failed, timeout, cancel or existed.
    pub status: String,
    /// Who triggered it.
    #[serde(default)]
    pub sync_operator_id: String,
    /// Who triggered it, by name.
    #[serde(default)]
    pub sync_operator_name: String,
    /// Tenant id.
    #[serde(rename = "domainID", default)]
    pub domain_id: String,
    /// Tenant name.
    #[serde(default)]
    pub domain_name: String,
    /// Creation time.
    #[serde(default)]
    pub created_at: String,
    /// Update time.
    #[serde(default)]
    pub updated_at: String,
}

/// A region SWR can replicate to (`GET /v2/manage/regions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionInfo {
    /// Region id.
    #[serde(rename = "regionID")]
    pub region_id: String,
}

/// An organization (`GET /v2/manage/namespaces`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// Organization id.
    pub id: i64,
    /// Organization name.
    pub name: String,
    /// Creator.
    #[serde(default)]
    pub creator_name: String,
    /// Caller's permission: 7 manage, 3 write, 1 read.
    #[serde(default)]
    pub auth: i64,
}

/// Body of `GET /v2/manage/namespaces`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationList {
    /// The organizations.
    pub namespaces: Vec<Organization>,
}

/// A repository (`GET /v2/manage/repos`, the SDKs' `ShowReposResp`), the fields the
/// operator and emulator use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    /// Repository name.
    pub name: String,
    /// Organization. Required: the listing's organization filter matches fuzzily, so
    /// this is what tells an organization's repositories from its namesakes'.
    pub namespace: String,
    /// Tag names.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Number of images.
    #[serde(default)]
    pub num_images: i64,
    /// Public repository.
    #[serde(default)]
    pub is_public: bool,
    /// Pull path.
    #[serde(default)]
    pub path: String,
    /// Creation time.
    #[serde(default)]
    pub created_at: String,
    /// Update time.
    #[serde(default)]
    pub updated_at: String,
}

/// A tag of a repository (`GET .../tags`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Tag id.
    pub id: i64,
    /// Tag name (the API spells the key `Tag`).
    #[serde(rename = "Tag")]
    pub tag: String,
    /// Manifest digest.
    pub digest: String,
    /// Image size in bytes.
    #[serde(default)]
    pub size: i64,
    /// Pull path.
    #[serde(default)]
    pub path: String,
    /// Creation time.
    #[serde(default)]
    pub created: String,
    /// Update time.
    #[serde(default)]
    pub updated: String,
}
