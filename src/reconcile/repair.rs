//! Repair (`verify.repair`): copies of the tags verification found missing (or diverged,
//! where `override` allows) with `sync_images`, remembered in the status until their sync
//! jobs end; a failed one is not asked again for the same digest.

use chrono::{DateTime, Utc};
use futures::future::join_all;
use kube::runtime::events::EventType;

use super::copies;
use super::events::{event_reason, Notice};
use super::report::list_some;
use super::status::timestamp;
use super::verify::RepairRequest;
use crate::api::replication::{RepairState, TagRepair};
use crate::swr::SwrClient;

/// Tags one pass of one rule may ask repair to copy (in `sync_images` batches of 50).
pub const CAP: usize = 100;
/// Failed repairs remembered per rule (the oldest are forgotten first, and may be tried
/// again once).
pub const MEMORY: usize = 200;

/// What asking for repairs left.
#[derive(Debug, Default)]
pub struct Asked {
    /// The repairs to remember: requested, or refused at once (failed).
    pub repairs: Vec<TagRepair>,
    /// Tags SWR took.
    pub requested: usize,
    /// The Event naming them.
    pub notice: Option<Notice>,
}

/// Asks SWR to copy each request's tags. A request that fails is not remembered: the next
/// verification asks again.
pub async fn request(swr: &SwrClient, requests: &[RepairRequest], now: DateTime<Utc>) -> Asked {
    let answers = join_all(requests.iter().map(|r| async move {
        let tags: Vec<String> = r.tags.iter().map(|(t, _)| t.clone()).collect();
        copies::request(swr, &r.source, &r.target, r.override_existing, &tags).await
    }))
    .await;
    let at = timestamp(now);
    let mut asked = Asked::default();
    let mut described = Vec::new();
    for (r, answer) in requests.iter().zip(answers) {
        let refused = match answer {
            Ok(refused) => refused,
            Err(e) => {
                tracing::warn!(repository = %r.source, target = %r.target, error = %e, "requesting a repair failed");
                continue;
            }
        };
        for (tag, digest) in &r.tags {
            let refused = refused.contains(tag);
            asked.repairs.push(TagRepair {
                repository: r.source.repository().to_string(),
                tag: tag.clone(),
                digest: digest.clone(),
                target_region: r.target.region().to_string(),
                target_organization: r.target.organization().to_string(),
                state: if refused {
                    RepairState::Failed
                } else {
                    RepairState::Requested
                },
                requested_at: at.clone(),
                outcome: refused.then(|| "refused by SWR".to_string()),
            });
            asked.requested += usize::from(!refused);
            described.push(format!("{}:{tag} -> {}", r.source.repository(), r.target));
        }
    }
    if !described.is_empty() {
        let note = format!(
            "requested copies of {} tag(s): {}",
            described.len(),
            list_some(&described)
        );
        asked.notice = Some((EventType::Normal, event_reason::REPAIR_REQUESTED, note));
    }
    asked
}

/// An Event for repairs that failed this pass; returns how many did.
pub fn failed_notices(
    before: &[TagRepair],
    after: &[TagRepair],
    notices: &mut Vec<Notice>,
) -> usize {
    let failed: Vec<String> = after
        .iter()
        .filter(|r| r.state == RepairState::Failed)
        .filter(|r| {
            !before.iter().any(|b| {
                b.state == RepairState::Failed
                    && b.tag == r.tag
                    && b.repository == r.repository
                    && b.target_region == r.target_region
                    && b.target_organization == r.target_organization
            })
        })
        .map(|r| {
            format!(
                "{}:{} -> {}/{} ({})",
                r.repository,
                r.tag,
                r.target_region,
                r.target_organization,
                r.outcome.as_deref().unwrap_or("failed")
            )
        })
        .collect();
    if !failed.is_empty() {
        let note = format!(
            "{} repair copy(ies) failed and are not requested again for the same digest: {}",
            failed.len(),
            list_some(&failed)
        );
        notices.push((EventType::Warning, event_reason::REPAIR_FAILED, note));
    }
    failed.len()
}

/// Keeps every running repair and the newest [`MEMORY`] failed ones.
pub fn forget_oldest_failures(repairs: &mut Vec<TagRepair>) {
    let failed = repairs
        .iter()
        .filter(|r| r.state == RepairState::Failed)
        .count();
    let mut excess = failed.saturating_sub(MEMORY);
    repairs.retain(|r| {
        let forget = excess > 0 && r.state == RepairState::Failed;
        excess -= usize::from(forget);
        !forget
    });
}
