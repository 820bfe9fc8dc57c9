//! Existing images (`existingImages: SyncOnCreate`): when a pass creates a task, the tags
//! already in the source are copied to its target (`sync_images`, in batches), and later
//! passes follow SWR's sync job records until every tag is done, or until `COPY_DEADLINE`
//! has passed. A copy is requested once per task: nothing that succeeded is ever copied again.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::future::join_all;

use super::copy_progress::{
    count, failed_message, failed_notice, key_of, progress, stamp_if_unset,
};
use super::events::Notice;
use super::status::timestamp;
use super::task::{Settings, Target, TaskKey};
use crate::api::spec::ExistingImages;
use crate::api::status::{CopyState, ImageCopy};
use crate::api::ImageSyncRuleSpec;
use crate::cloud::Priority;
use crate::swr::model::{ManualSync, SyncJob};
use crate::swr::{SourceRepo, SwrApi, SwrClient};

/// Tags per `sync_images` request.
pub const BATCH: usize = 50;
/// How often a copy in progress is looked at.
pub const POLL: Duration = Duration::from_secs(10);
/// Sync job records read per repository and pass (newest first).
const JOB_PAGES: usize = 5;

/// The copies after a pass.
#[derive(Debug, Default)]
pub struct CopyPass {
    /// Every copy still relevant (its task is in the inventory).
    pub copies: Vec<ImageCopy>,
    /// When to look again at copies in progress.
    pub due: Option<Instant>,
    /// Events to publish.
    pub notices: Vec<Notice>,
}

/// Starts copies for `created` tasks, follows the ones in progress, drops those whose task
/// left the inventory (`in_inventory` says which stay). `now` stamps new copies and ends
/// those past `COPY_DEADLINE`.
pub async fn follow(
    spec: &ImageSyncRuleSpec,
    swr: &SwrClient,
    previous: &[ImageCopy],
    created: &[(TaskKey, Settings)],
    in_inventory: impl Fn(&TaskKey) -> bool,
    now: DateTime<Utc>,
) -> CopyPass {
    let mut copies: BTreeMap<TaskKey, ImageCopy> = previous
        .iter()
        .filter_map(|c| Some((key_of(c).filter(&in_inventory)?, c.clone())))
        .collect();
    for copy in copies.values_mut() {
        stamp_if_unset(copy, now);
    }
    let mut pass = CopyPass::default();
    if spec.existing_images == ExistingImages::SyncOnCreate {
        copies.extend(start(swr, created, now, &mut pass.notices).await);
    }
    let repos: BTreeSet<SourceRepo> = copies
        .iter()
        .filter(|(_, c)| c.state == CopyState::Copying)
        .map(|(key, _)| key.source().clone())
        .collect();
    let listed = join_all(repos.iter().map(|repo| recent_jobs(swr, repo))).await;
    for (repo, jobs) in repos.into_iter().zip(listed) {
        let jobs = match jobs {
            Ok(jobs) => jobs,
            // Looked at again next time; the copy itself is not affected.
            Err(e) => {
                tracing::debug!(error = %e, "reading sync jobs failed");
                continue;
            }
        };
        for (key, copy) in copies.iter_mut() {
            if copy.state == CopyState::Copying && key.source() == &repo {
                progress(copy, &jobs, now, &mut pass.notices);
            }
        }
    }
    if copies.values().any(|c| c.state == CopyState::Copying) {
        pass.due = Some(Instant::now() + POLL);
    }
    pass.copies = copies.into_values().collect();
    pass
}

/// Requests the copies of new tasks' existing tags: each source repository's tags are listed
/// once, then every task's copy is requested, all concurrently.
async fn start(
    swr: &SwrClient,
    created: &[(TaskKey, Settings)],
    now: DateTime<Utc>,
    notices: &mut Vec<Notice>,
) -> Vec<(TaskKey, ImageCopy)> {
    let repos: BTreeSet<SourceRepo> = created.iter().map(|(k, _)| k.source().clone()).collect();
    let listed = join_all(repos.iter().map(|repo| async move {
        let tags = swr
            .list_tags(repo, Priority::Foreground)
            .await
            .map_err(|e| e.to_string());
        tags.map(|t| t.into_iter().map(|t| t.tag).collect::<Vec<_>>())
    }))
    .await;
    let tags_of: BTreeMap<SourceRepo, Result<Vec<String>, String>> =
        repos.into_iter().zip(listed).collect();
    let started = created.iter().map(|(key, settings)| {
        let tags = &tags_of[key.source()];
        async move {
            let copy = start_one(swr, key, *settings, tags, now).await;
            copy.map(|copy| (key.clone(), copy))
        }
    });
    let copies: Vec<_> = join_all(started).await.into_iter().flatten().collect();
    for (_, copy) in copies.iter().filter(|(_, c)| c.state == CopyState::Failed) {
        notices.push(failed_notice(copy));
    }
    copies
}

/// Requests the copy of `tags` (the source's, or why they could not be listed) for the
/// task `key`; none when the source has no tags.
async fn start_one(
    swr: &SwrClient,
    key: &TaskKey,
    settings: Settings,
    tags: &Result<Vec<String>, String>,
    now: DateTime<Utc>,
) -> Option<ImageCopy> {
    let mut copy = ImageCopy {
        task: key.to_string(),
        target_region: key.target().region().to_string(),
        target_organization: key.target().organization().to_string(),
        state: CopyState::Copying,
        tags: Vec::new(),
        succeeded: 0,
        failed: 0,
        refused_tags: Vec::new(),
        pending: 0,
        requested_at: Some(timestamp(now)),
        message: None,
    };
    match tags {
        Ok(tags) if tags.is_empty() => return None,
        Ok(tags) => match request(
            swr,
            key.source(),
            key.target(),
            settings.override_existing,
            tags,
        )
        .await
        {
            Ok(refused) => {
                copy.tags = tags
                    .iter()
                    .filter(|t| !refused.contains(t))
                    .cloned()
                    .collect();
                copy.pending = count(copy.tags.len());
                copy.failed = count(refused.len());
                copy.refused_tags = refused;
                if copy.tags.is_empty() {
                    copy.state = CopyState::Failed;
                    copy.message = Some(failed_message(&copy, &[]));
                }
            }
            Err(e) => {
                copy.tags = tags.clone();
                copy.state = CopyState::Failed;
                copy.message = Some(e);
            }
        },
        Err(e) => {
            copy.state = CopyState::Failed;
            copy.message = Some(format!("listing the source's tags: {e}"));
        }
    }
    Some(copy)
}

/// `sync_images` of every tag to `target`, `BATCH` at a time; returns the tags SWR refused.
pub(super) async fn request(
    swr: &SwrClient,
    repo: &SourceRepo,
    target: &Target,
    override_existing: bool,
    tags: &[String],
) -> Result<Vec<String>, String> {
    let mut refused = Vec::new();
    for batch in tags.chunks(BATCH) {
        let sync = ManualSync {
            image_tag: batch.to_vec(),
            override_existing,
            remote_namespace: target.organization().to_string(),
            remote_region_id: target.region().to_string(),
        };
        let failed = swr
            .sync_images(repo, &sync)
            .await
            .map_err(|e| format!("requesting the copy: {e}"))?;
        refused.extend(failed.into_iter().filter(|t| batch.contains(t)));
    }
    Ok(refused)
}

/// The newest sync job records of a repository.
pub(super) async fn recent_jobs(
    swr: &SwrClient,
    repo: &SourceRepo,
) -> Result<Vec<SyncJob>, String> {
    let page = crate::swr::client::PAGE_SIZE;
    let mut jobs = Vec::new();
    for n in 0..JOB_PAGES {
        let batch = swr
            .list_sync_jobs(repo, page, n * page)
            .await
            .map_err(|e| e.to_string())?;
        let last = batch.len() < page;
        jobs.extend(batch);
        if last {
            break;
        }
    }
    Ok(jobs)
}
