//! Existing images (`existingImages: SyncOnCreate`): when a pass creates a task, the tags
//! already in the source are copied to its target (`sync_images`, in batches), and later
//! passes follow SWR's sync job records until every tag is done. A copy is requested once
//! per task: nothing that succeeded is ever copied again.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kube::runtime::events::EventType;

use super::events::{event_reason, Notice};
use super::observe::source_repo;
use super::plan::{Settings, TaskKey};
use super::report::{describe, list_some};
use crate::api::spec::ExistingImages;
use crate::api::status::{CopyState, ImageCopy};
use crate::api::ImageSyncRuleSpec;
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
/// left the inventory (`tasks`, as described keys).
pub async fn follow(
    spec: &ImageSyncRuleSpec,
    swr: &SwrClient,
    previous: &[ImageCopy],
    created: &[(TaskKey, Settings)],
    tasks: &BTreeSet<String>,
) -> CopyPass {
    let mut copies: BTreeMap<String, ImageCopy> = previous
        .iter()
        .filter(|c| tasks.contains(&c.task))
        .map(|c| (c.task.clone(), c.clone()))
        .collect();
    let mut pass = CopyPass::default();
    if spec.existing_images == ExistingImages::SyncOnCreate {
        for copy in start(swr, created, &mut pass.notices).await {
            copies.insert(copy.task.clone(), copy);
        }
    }
    let repos: BTreeSet<SourceRepo> = copies
        .values()
        .filter(|c| c.state == CopyState::Copying)
        .filter_map(repo_of)
        .collect();
    for repo in repos {
        let jobs = match recent_jobs(swr, &repo).await {
            Ok(jobs) => jobs,
            // Looked at again next time; the copy itself is not affected.
            Err(e) => {
                tracing::debug!(error = %e, "reading sync jobs failed");
                continue;
            }
        };
        for copy in copies.values_mut() {
            if copy.state == CopyState::Copying && repo_of(copy).as_ref() == Some(&repo) {
                progress(copy, &jobs, &mut pass.notices);
            }
        }
    }
    if copies.values().any(|c| c.state == CopyState::Copying) {
        pass.due = Some(Instant::now() + POLL);
    }
    pass.copies = copies.into_values().collect();
    pass
}

/// The source repository of a copy, read back from its task (`region:org/repo -> ...`).
fn repo_of(copy: &ImageCopy) -> Option<SourceRepo> {
    let (source, _) = copy.task.split_once(" -> ")?;
    let (region, path) = source.split_once(':')?;
    let (organization, repository) = path.split_once('/')?;
    SourceRepo::new(region, organization, repository).ok()
}

/// Requests the copies of new tasks' existing tags.
async fn start(
    swr: &SwrClient,
    created: &[(TaskKey, Settings)],
    notices: &mut Vec<Notice>,
) -> Vec<ImageCopy> {
    let mut tags_of: BTreeMap<SourceRepo, Result<Vec<String>, String>> = BTreeMap::new();
    let mut out = Vec::new();
    for (key, settings) in created {
        let Some(repo) = source_repo(key) else {
            continue;
        };
        if !tags_of.contains_key(&repo) {
            let tags = swr.list_tags(&repo).await.map_err(|e| e.to_string());
            tags_of.insert(
                repo.clone(),
                tags.map(|t| t.into_iter().map(|t| t.tag).collect()),
            );
        }
        let mut copy = ImageCopy {
            task: describe(key),
            target_region: key.target_region.clone(),
            target_organization: key.target_organization.clone(),
            state: CopyState::Copying,
            tags: Vec::new(),
            succeeded: 0,
            failed: 0,
            pending: 0,
            requested_at: None,
            message: None,
        };
        match &tags_of[&repo] {
            Ok(tags) if tags.is_empty() => continue,
            Ok(tags) => {
                copy.tags = tags.clone();
                copy.pending = count(tags.len());
                if let Err(e) = request(swr, &repo, key, *settings, tags).await {
                    copy.state = CopyState::Failed;
                    copy.message = Some(e);
                }
            }
            Err(e) => {
                copy.state = CopyState::Failed;
                copy.message = Some(format!("listing the source's tags: {e}"));
            }
        }
        if copy.state == CopyState::Failed {
            notices.push(failed_notice(&copy));
        }
        out.push(copy);
    }
    out
}

/// `sync_images` for every tag, `BATCH` at a time.
async fn request(
    swr: &SwrClient,
    repo: &SourceRepo,
    key: &TaskKey,
    settings: Settings,
    tags: &[String],
) -> Result<(), String> {
    for batch in tags.chunks(BATCH) {
        let sync = ManualSync {
            image_tag: batch.to_vec(),
            override_existing: settings.override_existing,
            remote_namespace: key.target_organization.clone(),
            remote_region_id: key.target_region.clone(),
        };
        swr.sync_images(repo, &sync)
            .await
            .map_err(|e| format!("requesting the copy: {e}"))?;
    }
    Ok(())
}

/// The newest sync job records of a repository.
async fn recent_jobs(swr: &SwrClient, repo: &SourceRepo) -> Result<Vec<SyncJob>, String> {
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

/// Counts the copy's tags by the newest job of each for its target.
fn progress(copy: &mut ImageCopy, jobs: &[SyncJob], notices: &mut Vec<Notice>) {
    let mut failed_tags = Vec::new();
    let (mut succeeded, mut pending) = (0, 0);
    for tag in &copy.tags {
        let newest = jobs.iter().find(|j| {
            &j.tag == tag
                && j.remote_region_id == copy.target_region
                && j.remote_namespace == copy.target_organization
        });
        match newest.map(|j| j.status.as_str()) {
            Some("success" | "existed") => succeeded += 1,
            Some("failed" | "timeout" | "cancel") => failed_tags.push(tag.clone()),
            // waiting, running, or not recorded yet.
            _ => pending += 1,
        }
    }
    copy.succeeded = succeeded;
    copy.failed = count(failed_tags.len());
    copy.pending = pending;
    if pending > 0 {
        return;
    }
    if failed_tags.is_empty() {
        copy.state = CopyState::Done;
        notices.push((
            EventType::Normal,
            event_reason::IMAGES_SYNCED,
            format!("copied {succeeded} existing tag(s) for {}", copy.task),
        ));
    } else {
        copy.state = CopyState::Failed;
        copy.message = Some(format!("failed: {}", list_some(&failed_tags)));
        notices.push(failed_notice(copy));
    }
}

fn failed_notice(copy: &ImageCopy) -> Notice {
    (
        EventType::Warning,
        event_reason::IMAGES_SYNC_FAILED,
        format!(
            "{}: {}",
            copy.task,
            copy.message.as_deref().unwrap_or_default()
        ),
    )
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(tag: &str, region: &str, status: &str) -> SyncJob {
        serde_json::from_value(serde_json::json!({
            "id": 1, "namespace": "platform", "repoName": "nginx",
            "remoteRegionId": region, "remoteNamespace": "dr",
            "tag": tag, "status": status,
        }))
        .unwrap()
    }

    fn copy(tags: &[&str]) -> ImageCopy {
        ImageCopy {
            task: "cn-north-4:platform/nginx -> cn-east-3/dr".into(),
            target_region: "cn-east-3".into(),
            target_organization: "dr".into(),
            state: CopyState::Copying,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            succeeded: 0,
            failed: 0,
            pending: 3,
            requested_at: None,
            message: None,
        }
    }

    #[test]
    fn progress_counts_the_newest_job_of_each_tag_for_the_target() {
        // Newest first, as SWR lists them.
        let jobs = [
            job("a", "cn-east-3", "running"),
            job("a", "cn-east-3", "failed"),
            job("b", "cn-east-3", "existed"),
            job("c", "ap-southeast-1", "success"),
        ];
        let mut notices = Vec::new();
        let mut c = copy(&["a", "b", "c"]);
        progress(&mut c, &jobs, &mut notices);
        assert_eq!((c.succeeded, c.failed, c.pending), (1, 0, 2));
        assert_eq!(c.state, CopyState::Copying);
        assert!(notices.is_empty());

        let jobs = [
            job("a", "cn-east-3", "timeout"),
            job("b", "cn-east-3", "success"),
        ];
        let mut c = copy(&["a", "b"]);
        progress(&mut c, &jobs, &mut notices);
        assert_eq!((c.state, c.succeeded, c.failed), (CopyState::Failed, 1, 1));
        assert_eq!(c.message.as_deref(), Some("failed: a"));
        assert_eq!(notices.len(), 1);
    }

    #[test]
    fn the_source_repository_is_read_back_from_the_task() {
        let c = copy(&["a"]);
        assert_eq!(
            repo_of(&c),
            Some(SourceRepo::new("cn-north-4", "platform", "nginx").unwrap())
        );
    }
}
