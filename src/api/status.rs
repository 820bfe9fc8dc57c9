//! What the operator reports on an `ImageSyncRule`: kstatus conditions, the task inventory,
//! a summary. Condition types and reasons are the constants here, nowhere else.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Condition types (kstatus).
pub mod condition_type {
    /// True when every desired task exists as specified.
    pub const READY: &str = "Ready";
    /// True while changes are in flight.
    pub const RECONCILING: &str = "Reconciling";
    /// True when the rule cannot progress without a user's action.
    pub const STALLED: &str = "Stalled";
}

/// Condition reasons (PascalCase, stable: alerts and GitOps health checks key on them).
pub mod reason {
    /// Everything matches.
    pub const IN_SYNC: &str = "InSync";
    /// Changes are being applied.
    pub const PROGRESSING: &str = "Progressing";
    /// The spec breaks a rule the schema could not express.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// The credentials Secret is missing or incomplete.
    pub const CREDENTIALS_MISSING: &str = "CredentialsMissing";
    /// The cloud refused the credentials.
    pub const AUTH_FAILED: &str = "AuthFailed";
    /// A source organization or repository does not exist.
    pub const SOURCE_NOT_FOUND: &str = "SourceNotFound";
    /// An older rule manages some of the same tasks.
    pub const CONFLICT: &str = "Conflict";
    /// SWR is rate limiting; the operator backs off.
    pub const THROTTLED: &str = "Throttled";
    /// SWR failed; the operator retries.
    pub const API_ERROR: &str = "ApiError";
    /// `spec.suspend` is set.
    pub const SUSPENDED: &str = "Suspended";
    /// The rule is being deleted and its tasks removed.
    pub const DELETING: &str = "Deleting";
    /// A task the rule wants exists outside the operator with other settings (and the rule
    /// does not adopt such tasks).
    pub const EXTERNAL_TASK: &str = "ExternalTask";
    /// Tasks are right, and copies requested by repair (`verify.repair`) are running.
    pub const REPAIRING: &str = "Repairing";
    /// Tasks are right, but tags are missing in a target (`verify`).
    pub const REPLICATION_BEHIND: &str = "ReplicationBehind";
    /// Tasks are right, but a target holds tags with other digests (`verify`).
    pub const REPLICATION_DIVERGED: &str = "ReplicationDiverged";

    /// Whether `reason` is about the images rather than the tasks.
    pub fn is_replication(reason: &str) -> bool {
        [REPAIRING, REPLICATION_BEHIND, REPLICATION_DIVERGED].contains(&reason)
    }
}

/// Condition status values.
pub mod status_value {
    /// Yes.
    pub const TRUE: &str = "True";
    /// No.
    pub const FALSE: &str = "False";
    /// Not known.
    pub const UNKNOWN: &str = "Unknown";
}

/// Observed state of an `ImageSyncRule`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageSyncRuleStatus {
    /// The spec generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling and Stalled.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// The inventory: every task this rule manages or wants.
    #[serde(default)]
    pub tasks: Vec<TaskStatus>,
    /// One line for `kubectl get`, e.g. `4/4 tasks in sync`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// When SWR was last found to match the rule (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<String>,
    /// The value of the `swrsync.io/reconcile-requested-at` annotation the last reconcile
    /// ran for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// HSS image list refreshes (`securityScan`), latest per target region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_scans: Vec<ScanStatus>,
    /// Copies of existing tags (`existingImages: SyncOnCreate`) of tasks created by the
    /// rule, until done.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub existing_images: Vec<ImageCopy>,
    /// What verification (`spec.verify`) found: whether the images arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<super::replication::ReplicationStatus>,
}

/// Where a copy of existing tags stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum CopyState {
    /// Requested; SWR's sync jobs are still running.
    Copying,
    /// Every tag is in the target (copied, or already there).
    Done,
    /// Some tags failed (listed in the message); they are not retried.
    Failed,
}

/// The copy of a new task's existing tags, followed through SWR's sync job records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageCopy {
    /// The task, as `region:org/repo -> region/org`.
    pub task: String,
    /// Target region.
    pub target_region: String,
    /// Target organization.
    pub target_organization: String,
    /// Where it stands.
    pub state: CopyState,
    /// The tags being copied.
    pub tags: Vec<String>,
    /// Tags in the target (copied, or already there).
    pub succeeded: u32,
    /// Tags whose copy failed, timed out or was cancelled (the refused ones included).
    pub failed: u32,
    /// Tags SWR answered at once that it could not copy (the `sync_images` answer); they are
    /// not followed in the job records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused_tags: Vec<String>,
    /// Tags still waiting or running.
    pub pending: u32,
    /// When the copy was requested (RFC 3339); a copy still pending long after is Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<String>,
    /// Detail: failed tags, or why the copy could not be requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Where an HSS refresh of one region stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ScanState {
    /// Wanted, waiting for the debounce interval (one call per region per interval).
    Pending,
    /// HSS accepted the refresh.
    Requested,
    /// HSS refused it or could not be reached; replication is not affected.
    Failed,
}

/// The latest HSS refresh of a target region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanStatus {
    /// Target region.
    pub region: String,
    /// Where it stands.
    pub state: ScanState,
    /// When HSS was called (RFC 3339); absent while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// HSS's `error_code` (0: success), or the HTTP error's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// HSS's `error_description`, or why the call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One condition, in the shape of the Kubernetes `metav1.Condition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Ready, Reconciling or Stalled.
    #[serde(rename = "type")]
    pub type_: String,
    /// True, False or Unknown.
    pub status: String,
    /// PascalCase reason.
    pub reason: String,
    /// Human-readable detail (always written; a schema `default: ''` is refused by 1.20).
    pub message: String,
    /// When the status last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// Generation the condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// State of one task in the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum TaskState {
    /// Exists in SWR as specified.
    InSync,
    /// About to be created or replaced (recorded before the call, so a crash leaks nothing).
    Pending,
    /// The last attempt failed; retried.
    Failed,
    /// Another rule manages it (or wants it and goes first); this rule leaves it alone.
    Conflict,
    /// No longer wanted but kept, because `prune` is off.
    Retained,
    /// Made outside the operator and not adopted: left alone, never deleted by this rule.
    /// With a message when its settings differ from the rule's.
    External,
    /// Owned, no longer wanted by this rule, and wanted by another rule (`otherRule`): kept
    /// until that rule has taken it over.
    Releasing,
}

/// How a task came into a rule's hands. Only owned tasks are ever changed or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Ownership {
    /// The rule created it (recorded before the create call).
    Created,
    /// It existed outside the operator and the rule adopted it (`existingTasks: Adopt`).
    Adopted,
    /// Another rule that owned it released it to this one.
    HandedOver,
}

/// Another `ImageSyncRule`, by namespace and name.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct RuleName {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl std::fmt::Display for RuleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// One (repository, target) task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatus {
    /// Source region.
    pub source_region: String,
    /// Source organization.
    pub source_organization: String,
    /// Source repository.
    pub repository: String,
    /// Target region.
    pub target_region: String,
    /// Target organization.
    pub target_organization: String,
    /// The task's `override`.
    #[serde(rename = "override")]
    pub override_existing: bool,
    /// The task's `syncAuto`.
    pub sync_auto: bool,
    /// Where it stands.
    pub state: TaskState,
    /// SWR's task id, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Whose it is, for tasks this rule owns (absent for `Conflict` and `External` tasks;
    /// statuses written before ownership was recorded mean `Created`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ownership: Option<Ownership>,
    /// The other rule: who holds a `Conflict` task, who takes over a `Releasing` one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_rule: Option<RuleName>,
    /// Why it is not in sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The Ready condition's (status, reason), to notice state changes worth an Event.
pub fn ready_state(status: Option<&ImageSyncRuleStatus>) -> Option<(String, String)> {
    status?
        .conditions
        .iter()
        .find(|c| c.type_ == condition_type::READY)
        .map(|c| (c.status.clone(), c.reason.clone()))
}
