//! After new tasks exist: copy the source's existing tags (`existingImages: SyncOnCreate`)
//! and ask HSS in each target region to refresh its image list (`securityScan.enabled`).

use std::collections::{BTreeMap, BTreeSet};

use kube::runtime::events::EventType;

use super::events::event_reason;
use super::observe::source_repo;
use super::plan::{Settings, TaskKey};
use super::report::describe;
use crate::api::spec::ExistingImages;
use crate::api::ImageSyncRuleSpec;
use crate::hss::HssClient;
use crate::swr::model::ManualSync;
use crate::swr::{SwrApi, SwrClient};

/// An event to publish: type, reason, note.
pub type Notice = (EventType, &'static str, String);

/// Runs the post-create work for `created` tasks; returns events describing it. Failures
/// here do not fail the pass: the tasks exist and replicate new tags either way.
pub async fn after_creates(
    swr: &SwrClient,
    hss: &HssClient,
    spec: &ImageSyncRuleSpec,
    created: &[(TaskKey, Settings)],
    enterprise_project_id: Option<&str>,
) -> Vec<Notice> {
    let mut notices = Vec::new();
    if created.is_empty() {
        return notices;
    }
    if spec.existing_images == ExistingImages::SyncOnCreate {
        let mut tags_of = BTreeMap::new();
        for (key, settings) in created {
            let Some(repo) = source_repo(key) else {
                continue;
            };
            if !tags_of.contains_key(&repo) {
                let tags = swr
                    .list_tags(&repo)
                    .await
                    .map(|tags| tags.into_iter().map(|t| t.tag).collect::<Vec<_>>());
                tags_of.insert(repo.clone(), tags);
            }
            let sync = match &tags_of[&repo] {
                Ok(tags) if tags.is_empty() => continue,
                Ok(tags) => swr
                    .sync_images(
                        &repo,
                        &ManualSync {
                            image_tag: tags.clone(),
                            override_existing: settings.override_existing,
                            remote_namespace: key.target_organization.clone(),
                            remote_region_id: key.target_region.clone(),
                        },
                    )
                    .await
                    .map(|()| tags.len()),
                Err(e) => Err(e.clone()),
            };
            notices.push(match sync {
                Ok(n) => (
                    EventType::Normal,
                    event_reason::IMAGES_SYNCED,
                    format!("copied {n} existing tag(s) for {}", describe(key)),
                ),
                Err(e) => (
                    EventType::Warning,
                    event_reason::IMAGES_SYNC_FAILED,
                    format!("{}: {e}", describe(key)),
                ),
            });
        }
    }
    if spec.security_scan.enabled {
        let regions: BTreeSet<&str> = created
            .iter()
            .map(|(k, _)| k.target_region.as_str())
            .collect();
        let image_type = spec.security_scan.image_type.as_str();
        for region in regions {
            notices.push(
                match hss
                    .synchronize_images(region, image_type, enterprise_project_id)
                    .await
                {
                    Ok(()) => (
                        EventType::Normal,
                        event_reason::SCAN_REQUESTED,
                        format!("asked HSS in {region} to refresh its {image_type} list"),
                    ),
                    Err(e) => (EventType::Warning, event_reason::SCAN_FAILED, e.to_string()),
                },
            );
        }
    }
    notices
}
