//! The `ImageSyncRule` resource (`swrsync.io/v1alpha1`): what a user declares.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::status::ImageSyncRuleStatus;
use crate::swr::names::{
    ORGANIZATION_MAX_LEN, ORGANIZATION_PATTERN, REGION_MAX_LEN, REGION_PATTERN, REPOSITORY_MAX_LEN,
    REPOSITORY_PATTERN,
};

/// Pattern of `resyncInterval` (Go-style durations without fractions: `90s`, `10m`, `1h30m`).
pub const DURATION_PATTERN: &str = r"^([0-9]+(ms|s|m|h))+$";

/// Most repositories one rule may list (more: use a `repositorySelector`).
pub const MAX_REPOSITORIES: usize = 500;
/// Most targets of one rule.
pub const MAX_TARGETS: usize = 20;
/// Most patterns in a selector's `include` or `exclude`.
pub const MAX_PATTERNS: usize = 50;

/// Finalizer that keeps a rule until its tasks are cleaned up.
pub const FINALIZER: &str = "swrsync.io/cleanup";

/// Annotation that asks for an immediate full reconcile (drift check) of a rule: set it to a
/// new value, e.g. the current time; `status.lastHandledReconcileAt` shows it once done.
pub const RECONCILE_REQUESTED_AT: &str = "swrsync.io/reconcile-requested-at";

/// Which SWR repositories replicate to which regions, and how.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "swrsync.io",
    version = "v1alpha1",
    kind = "ImageSyncRule",
    doc = "Replicates SWR repositories of one organization to other regions and organizations.",
    namespaced,
    shortname = "isr",
    status = "ImageSyncRuleStatus",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Tasks","type":"string","jsonPath":".status.summary"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Replication","type":"string","jsonPath":".status.replication.summary"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ImageSyncRuleSpec {
    /// The SWR organization and repositories to replicate.
    pub source: Source,
    /// Where to replicate to; unique by (region, organization), none equal to the source.
    #[schemars(length(min = 1, max = MAX_TARGETS))]
    pub targets: Vec<Target>,
    /// Secret in the rule's namespace with `accessKey` + `secretKey` (optional
    /// `securityToken`, `projectId`) or `username` + `password` + `domainName`.
    pub credentials_secret_ref: SecretRef,
    /// What happens to this rule's SWR tasks when the rule is deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Delete tasks this rule created earlier and no longer wants.
    #[serde(default = "default_true")]
    pub prune: bool,
    /// Stop calling SWR; keep everything as it is.
    #[serde(default)]
    pub suspend: bool,
    /// How often to compare SWR with this rule (SWR has no watch).
    #[serde(default = "default_resync_interval")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub resync_interval: String,
    /// Whether tags already in the source are copied when a task is created.
    #[serde(default)]
    pub existing_images: ExistingImages,
    /// What to do with a wanted task that already exists but was not made by the operator.
    #[serde(default)]
    pub existing_tasks: ExistingTasks,
    /// Ask HSS in each target region to refresh its image list after new tasks.
    #[serde(default)]
    pub security_scan: SecurityScan,
    /// Check that the images arrived: compare the tags and digests of each replicated
    /// repository in the source with each target (off when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
}

/// Replication verification (and repair) of a rule's repositories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Verify {
    /// At most one verification in this interval (at least 1m).
    #[serde(default = "default_verify_interval")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub interval: String,
    /// Request copies (`sync_images`) of tags missing in a target, and of tags whose digest
    /// differs there when the target's `override` is true.
    #[serde(default)]
    pub repair: bool,
}

fn default_verify_interval() -> String {
    "1h".to_string()
}

fn default_true() -> bool {
    true
}

fn default_resync_interval() -> String {
    "10m".to_string()
}

/// The source organization and its repositories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// Region of the source organization, e.g. `cn-north-4`.
    #[schemars(length(min = 1, max = REGION_MAX_LEN), pattern(REGION_PATTERN))]
    pub region: String,
    /// SWR organization (the API's namespace).
    #[schemars(length(min = 1, max = ORGANIZATION_MAX_LEN), pattern(ORGANIZATION_PATTERN))]
    pub organization: String,
    /// Repository names; nested names use `/` (`team/api`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_REPOSITORIES))]
    #[schemars(inner(length(min = 1, max = REPOSITORY_MAX_LEN), pattern(REPOSITORY_PATTERN)))]
    pub repositories: Vec<String>,
    /// Repositories chosen by name patterns among the organization's repositories, listed
    /// again at each resync (so new ones are picked up and vanished ones pruned). Adds to
    /// `repositories`; at least one of the two is needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_selector: Option<RepositorySelector>,
}

/// Name patterns: `*` matches any run of characters (`/` included), `?` one character.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepositorySelector {
    /// A repository is selected when it matches one of these...
    #[schemars(length(min = 1, max = MAX_PATTERNS))]
    #[schemars(inner(length(min = 1, max = REPOSITORY_MAX_LEN), pattern(GLOB_PATTERN)))]
    pub include: Vec<String>,
    /// ...and none of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_PATTERNS))]
    #[schemars(inner(length(min = 1, max = REPOSITORY_MAX_LEN), pattern(GLOB_PATTERN)))]
    pub exclude: Vec<String>,
}

/// Characters a repository name pattern may hold: a name's, plus `*` and `?`.
pub const GLOB_PATTERN: &str = r"^[a-z0-9._/*?-]+$";

/// A replication target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// Target region.
    #[schemars(length(min = 1, max = REGION_MAX_LEN), pattern(REGION_PATTERN))]
    pub region: String,
    /// Target organization; must exist in the target region.
    #[schemars(length(min = 1, max = ORGANIZATION_MAX_LEN), pattern(ORGANIZATION_PATTERN))]
    pub organization: String,
    /// Overwrite differing images of the same name in the target (API field `override`).
    #[serde(rename = "override", default)]
    pub override_existing: bool,
    /// Replicate new tags automatically (API field `syncAuto`).
    #[serde(default = "default_true")]
    pub sync_auto: bool,
}

/// A Secret in the rule's own namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecretRef {
    /// Secret name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// What deleting the rule does to its tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete every task the rule manages, then let the rule go.
    #[default]
    Delete,
    /// Leave the tasks in SWR.
    Orphan,
}

/// Whether existing tags are copied when a task is created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ExistingImages {
    /// Only tags pushed after the task exists replicate.
    #[default]
    Ignore,
    /// Also copy the source's current tags (`sync_images`) when a task is created.
    SyncOnCreate,
}

/// Wanted tasks that exist in SWR but were made outside the operator (console, Terraform,
/// scripts, a deleted rule with `deletionPolicy: Orphan`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ExistingTasks {
    /// Leave them alone: reported as `External`, never replaced or deleted.
    #[default]
    Ignore,
    /// Take them into the rule's inventory: replaced when their settings differ, deleted
    /// with the rule (`deletionPolicy: Delete`) or by `prune`.
    Adopt,
}

/// HSS image list refresh after new tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityScan {
    /// Ask HSS in each target region to refresh after tasks are created there.
    #[serde(default)]
    pub enabled: bool,
    /// Which image list HSS refreshes.
    #[serde(default)]
    pub image_type: ImageType,
    /// HSS enterprise project (`all_granted_eps` for all); default: the operator's
    /// `--hss-enterprise-project-id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise_project_id: Option<String>,
}

/// HSS image list kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImageType {
    /// The account's private images.
    #[default]
    PrivateImage,
    /// Images shared with the account.
    SharedImage,
}

impl ImageType {
    /// The HSS API value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PrivateImage => "private_image",
            Self::SharedImage => "shared_image",
        }
    }
}
