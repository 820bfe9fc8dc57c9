//! What verification (`spec.verify`) reports: whether each target holds the source's images,
//! and the repairs under way or failed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where replication stands, for a target or (worst of its targets) a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ReplicationState {
    /// Every source tag is in the target with the source's digest (or on its way).
    InSync,
    /// Tags are missing in the target.
    Behind,
    /// Tags are in the target with another digest.
    Diverged,
    /// Copies requested by repair are running.
    Repairing,
}

/// The result of the last verification, and the repairs it led to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationStatus {
    /// When the tags were last compared (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<String>,
    /// The rule's state: Repairing while copies run, else the worst of its targets.
    pub state: ReplicationState,
    /// One line for `kubectl get`, e.g. `behind: 3 tag(s) in 1/2 target(s)`.
    pub summary: String,
    /// Per target (region, organization), over the rule's repositories.
    #[serde(default)]
    pub targets: Vec<TargetReplication>,
    /// Copies requested by repair: those running, and those that failed (never requested
    /// again for the same digest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repairs: Vec<TagRepair>,
}

/// One target of a rule, over all its repositories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetReplication {
    /// Target region.
    pub region: String,
    /// Target organization.
    pub organization: String,
    /// InSync, Behind or Diverged.
    pub state: ReplicationState,
    /// Repositories compared.
    pub repositories: u32,
    /// Source tags missing in the target.
    pub missing: u32,
    /// Tags in the target with another digest than in the source.
    pub diverged: u32,
    /// Tags whose newest sync job failed, timed out or was cancelled (and are still missing
    /// or diverged).
    pub failed_jobs: u32,
    /// Tags whose copy is waiting or running, or pushed too recently to judge.
    pub in_flight: u32,
    /// The target's `override`: diverged tags are only repaired when it is true.
    #[serde(rename = "override")]
    pub override_existing: bool,
    /// A few of the missing or diverged tags, as `repository:tag`, with what their job said.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
    /// What to do, when the operator cannot fix it alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Where a repair copy stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum RepairState {
    /// `sync_images` was asked; its job has not ended.
    Requested,
    /// Its job failed, timed out or was cancelled, or SWR refused it: not asked again while
    /// the source holds the same digest.
    Failed,
}

/// A tag copied by repair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TagRepair {
    /// Source repository.
    pub repository: String,
    /// The tag.
    pub tag: String,
    /// The source's digest when the copy was requested.
    pub digest: String,
    /// Target region.
    pub target_region: String,
    /// Target organization.
    pub target_organization: String,
    /// Where it stands.
    pub state: RepairState,
    /// When it was requested (RFC 3339).
    pub requested_at: String,
    /// The job's end (`failed`, `timeout`, `cancel`), or SWR's refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}
