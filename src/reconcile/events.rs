//! Kubernetes Events about a rule: reason constants and a publisher that never fails a pass.

use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::Resource;

use crate::api::ImageSyncRule;

/// An event to publish: type, reason, note.
pub type Notice = (EventType, &'static str, String);

/// Event reasons besides the condition reasons (which are used for state changes).
pub mod event_reason {
    /// A task was created.
    pub const TASK_CREATED: &str = "TaskCreated";
    /// A drifted task was replaced.
    pub const TASK_REPLACED: &str = "TaskReplaced";
    /// A task was deleted.
    pub const TASK_DELETED: &str = "TaskDeleted";
    /// Tasks were changed in more than one way (created, replaced, deleted) in one pass.
    pub const TASKS_CHANGED: &str = "TasksChanged";
    /// Existing tags were copied to a new task's target.
    pub const IMAGES_SYNCED: &str = "ExistingImagesSynced";
    /// Copying existing tags failed.
    pub const IMAGES_SYNC_FAILED: &str = "ExistingImagesSyncFailed";
    /// HSS was asked to refresh its image list.
    pub const SCAN_REQUESTED: &str = "SecurityScanRequested";
    /// Asking HSS failed.
    pub const SCAN_FAILED: &str = "SecurityScanFailed";
    /// The rule went away and left its tasks in SWR.
    pub const TASKS_ORPHANED: &str = "TasksOrphaned";
    /// The rule is handing tasks over to another rule that wants them.
    pub const TASKS_RELEASED: &str = "TasksReleased";
    /// The rule took over tasks another rule released to it.
    pub const TASKS_TAKEN_OVER: &str = "TasksTakenOver";
    /// The target regions could not be checked (the regions lookup failed); SWR decides.
    pub const REGION_CHECK_SKIPPED: &str = "RegionCheckSkipped";
    /// Verification found tags missing in a target that held them all before.
    pub const REPLICATION_BEHIND: &str = "ReplicationBehind";
    /// Verification found tags with other digests in a target.
    pub const REPLICATION_DIVERGED: &str = "ReplicationDiverged";
    /// A target that was behind or diverged holds every source tag again.
    pub const REPLICATION_CAUGHT_UP: &str = "ReplicationCaughtUp";
    /// Repair requested copies of tags missing (or diverged) in targets.
    pub const REPAIR_REQUESTED: &str = "RepairRequested";
    /// A repair copy failed; it is not requested again for the same digest.
    pub const REPAIR_FAILED: &str = "RepairFailed";
}

/// Where a rule's Events go: the API server, under this controller's name.
#[derive(Clone)]
pub struct Publisher {
    client: kube::Client,
    reporter: Reporter,
}

impl Publisher {
    /// Events sent with `client`, reported by `reporter`.
    pub fn new(client: kube::Client, reporter: Reporter) -> Self {
        Self { client, reporter }
    }

    /// Publishes an event about `rule`; a failure is logged, not returned (events are
    /// advisory).
    pub async fn publish(
        &self,
        rule: &ImageSyncRule,
        type_: EventType,
        reason: &str,
        note: String,
    ) {
        let event = Event {
            type_,
            reason: reason.to_string(),
            note: Some(note),
            action: "Reconcile".to_string(),
            secondary: None,
        };
        // A fresh Recorder each time: a shared one folds events with the same reason on the
        // same rule within six minutes into one series that keeps the first note, so a second
        // TaskCreated would show the first one's tasks. Ours are published on changes only,
        // so they never pile up.
        let recorder = Recorder::new(self.client.clone(), self.reporter.clone());
        if let Err(e) = recorder.publish(&event, &rule.object_ref(&())).await {
            tracing::warn!(error = %e, reason, "publishing event failed");
        }
    }

    /// Publishes each of a step's `notices` about `rule`, in order.
    pub async fn publish_all(&self, rule: &ImageSyncRule, notices: Vec<Notice>) {
        for (type_, reason, note) in notices {
            self.publish(rule, type_, reason, note).await;
        }
    }
}
