//! After new tasks exist: copy the source's existing tags (`existingImages: SyncOnCreate`).

use std::collections::BTreeMap;

use kube::runtime::events::EventType;

use super::events::event_reason;
use super::observe::source_repo;
use super::plan::{Settings, TaskKey};
use super::report::describe;
use crate::api::spec::ExistingImages;
use crate::api::ImageSyncRuleSpec;
use crate::swr::model::ManualSync;
use crate::swr::{SwrApi, SwrClient};

/// An event to publish: type, reason, note.
pub type Notice = (EventType, &'static str, String);

/// Runs the post-create work for `created` tasks; returns events describing it. Failures
/// here do not fail the pass: the tasks exist and replicate new tags either way.
pub async fn after_creates(
    swr: &SwrClient,
    spec: &ImageSyncRuleSpec,
    created: &[(TaskKey, Settings)],
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
    notices
}
