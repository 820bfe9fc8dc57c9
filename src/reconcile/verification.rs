//! The verification step (`spec.verify`): at most once per interval, the tags of each
//! replicated repository are listed in the source and in each target (shared between rules,
//! at background priority), compared, summed up per target, and, with `repair`, the gaps are
//! copied with `sync_images`; the copies are then followed through SWR's sync job records.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::future::join_all;

use super::account::Account;
use super::copies::{recent_jobs, POLL};
use super::copy_progress::COPY_DEADLINE;
use super::events::Notice;
use super::repair;
use super::replication::{settle, summaries, target_notices};
use super::report::Report;
use super::status::timestamp;
use super::tag_listings::{Listing, TagListings};
use super::task::{Settings, TaskKey};
use super::verify::{self, Pair, Tags};
use crate::api::replication::{
    RepairState, ReplicationState, ReplicationStatus, TagRepair, TargetReplication,
};
use crate::api::spec::Verify;
use crate::api::status::TaskState;
use crate::api::validate::verify_interval;
use crate::swr::model::SyncJob;
use crate::swr::{SourceRepo, SwrClient};

/// What one rule's verification needs.
pub struct Verification<'a> {
    /// The rule's `verify`.
    pub spec: &'a Verify,
    /// SWR, with the rule's credentials.
    pub swr: &'a SwrClient,
    /// The shared tag listings, and the rule's account in them.
    pub listings: (&'a TagListings, Account),
    /// The status of the last verification.
    pub previous: Option<&'a ReplicationStatus>,
    /// The tasks that exist as the rule wants them: the pairs to compare.
    pub pairs: Vec<(TaskKey, Settings)>,
    /// A reconcile the user asked for, or a changed spec, verifies now.
    pub forced: bool,
    /// Tags pushed more recently are not judged yet.
    pub grace: Duration,
}

/// What a verification pass leaves.
#[derive(Debug, Default)]
pub struct VerifyPass {
    /// The replication status to write.
    pub status: Option<ReplicationStatus>,
    /// When to come back (a repair to follow, the next verification).
    pub due: Option<Instant>,
    /// Events to publish.
    pub notices: Vec<Notice>,
    /// Whether the tags were compared this pass, and whether that failed.
    pub outcome: Option<Result<(), String>>,
    /// Tags repair asked SWR to copy.
    pub requested: usize,
    /// Repair copies that failed this pass.
    pub failed: usize,
    /// Repair copies that ended well this pass.
    pub succeeded: usize,
}

/// The pairs a rule verifies: its tasks that exist as it wants them.
pub fn verifiable(report: &Report) -> Vec<(TaskKey, Settings)> {
    report
        .tasks
        .iter()
        .filter(|(_, line)| line.state == TaskState::InSync)
        .map(|(key, line)| (key.clone(), line.settings))
        .collect()
}

/// Follows earlier repairs and, when due, verifies (and repairs) again.
pub async fn run(v: Verification<'_>, now: DateTime<Utc>) -> VerifyPass {
    let interval = verify_interval(&v.spec.interval).unwrap_or(Duration::from_secs(3600));
    let earlier = v.previous.map(|p| p.repairs.clone()).unwrap_or_default();
    let running_before = earlier.iter().any(|r| r.state == RepairState::Requested);
    let verified_at = v
        .previous
        .and_then(|p| p.verified_at.as_deref())
        .and_then(verify::parse_time);
    let targets_changed = v.previous.is_some_and(|p| {
        target_set(&v.pairs)
            != p.targets
                .iter()
                .map(|t| (t.region.clone(), t.organization.clone()))
                .collect()
    });
    let due_by_time = verified_at
        .is_none_or(|at| now >= at + chrono::Duration::from_std(interval).unwrap_or_default());
    let repos_running: BTreeSet<SourceRepo> = earlier
        .iter()
        .filter(|r| r.state == RepairState::Requested)
        .filter_map(|r| source_of(&v.pairs, &r.repository))
        .collect();
    let mut pass = VerifyPass::default();
    let jobs = match jobs_of(v.swr, &repos_running).await {
        Ok(jobs) => jobs,
        Err(e) => return carried(v.previous, &mut pass, e),
    };
    let deadline = chrono::Duration::from_std(COPY_DEADLINE).unwrap_or_default();
    let mut followed = Vec::new();
    for r in &earlier {
        // A repository no longer replicated: nothing to follow or remember.
        let Some(repo) = source_of(&v.pairs, &r.repository) else {
            continue;
        };
        match verify::follow(r, jobs.get(&repo).map_or(&[], Vec::as_slice), now, deadline) {
            Some(r) => followed.push(r),
            None => pass.succeeded += 1,
        }
    }
    pass.failed = repair::failed_notices(&earlier, &followed, &mut pass.notices);
    let running_now = followed.iter().any(|r| r.state == RepairState::Requested);
    let due = v.forced || due_by_time || targets_changed || (running_before && !running_now);
    if !due {
        let mut status = v
            .previous
            .cloned()
            .expect("not due without an earlier verification");
        status.repairs = followed;
        settle(&mut status);
        pass.due = Some(next_due(&status, verified_at, interval, now));
        pass.status = Some(status);
        return pass;
    }
    // After repairs, or when asked, the listings must be this pass's own: one shared from
    // before would not show what was just copied.
    let fresh = (v.forced || running_before).then(Instant::now);
    match verify_now(&v, followed, (jobs, fresh), now, &mut pass).await {
        Ok(status) => {
            pass.due = Some(next_due(&status, Some(now), interval, now));
            target_notices(v.previous, &status, &mut pass.notices);
            pass.status = Some(status);
            pass.outcome = Some(Ok(()));
            pass
        }
        Err(e) => carried(v.previous, &mut pass, e),
    }
}

/// The pass could not read SWR: the last status stands, and the next resync tries again.
fn carried(
    previous: Option<&ReplicationStatus>,
    pass: &mut VerifyPass,
    error: String,
) -> VerifyPass {
    tracing::warn!(%error, "verifying replication failed");
    VerifyPass {
        status: previous.cloned(),
        due: None,
        notices: std::mem::take(&mut pass.notices),
        outcome: Some(Err(error)),
        requested: 0,
        failed: pass.failed,
        succeeded: pass.succeeded,
    }
}

/// Lists and compares every pair, requests repairs, and builds the status.
async fn verify_now(
    v: &Verification<'_>,
    mut repairs: Vec<TagRepair>,
    (jobs, fresh): (BTreeMap<SourceRepo, Vec<SyncJob>>, Option<Instant>),
    now: DateTime<Utc>,
    pass: &mut VerifyPass,
) -> Result<ReplicationStatus, String> {
    let pairs = compare_all(v, (jobs, fresh), now).await?;
    // Forget failures of tags the source has moved since, or that arrived after all.
    repairs.retain(|r| {
        r.state == RepairState::Requested
            || pairs.iter().any(|p| {
                let gaps = p.finding.missing.iter().chain(&p.finding.diverged);
                gaps.clone().any(|g| {
                    verify::repairs_tag(r, p.source.repository(), &p.target, &g.tag)
                        && g.digest == r.digest
                })
            })
    });
    if v.spec.repair {
        let requests = verify::repairs(&pairs, &repairs, repair::CAP);
        let asked = repair::request(v.swr, &requests, now).await;
        pass.requested += asked.requested;
        pass.notices.extend(asked.notice);
        repairs.extend(asked.repairs);
    }
    repair::forget_oldest_failures(&mut repairs);
    let mut status = ReplicationStatus {
        verified_at: Some(timestamp(now)),
        state: ReplicationState::InSync,
        summary: String::new(),
        targets: summaries(&pairs, v.spec.repair),
        repairs,
    };
    settle(&mut status);
    Ok(status)
}

/// Lists the tags of every pair's two repositories (and, where they differ, the source's
/// job records not in `jobs` yet) and compares them.
async fn compare_all(
    v: &Verification<'_>,
    (mut jobs, fresh): (BTreeMap<SourceRepo, Vec<SyncJob>>, Option<Instant>),
    now: DateTime<Utc>,
) -> Result<Vec<Pair>, String> {
    let (listings, account) = (v.listings.0, &v.listings.1);
    let mut repos: BTreeSet<SourceRepo> = BTreeSet::new();
    for (key, _) in &v.pairs {
        repos.insert(key.source().clone());
        repos.insert(key.destination());
    }
    let listed = join_all(
        repos
            .iter()
            .map(|repo| listings.tags(account, v.swr, repo, fresh)),
    )
    .await;
    let mut tags: BTreeMap<SourceRepo, Listing> = BTreeMap::new();
    for (repo, listing) in repos.into_iter().zip(listed) {
        tags.insert(repo, listing.map_err(|e| e.to_string())?);
    }
    // Job records only where the tags differ: they tell a copy in flight from a gap.
    let unlisted: BTreeSet<SourceRepo> = v
        .pairs
        .iter()
        .filter(|(key, _)| differs(&tags, key))
        .map(|(key, _)| key.source().clone())
        .filter(|repo| !jobs.contains_key(repo))
        .collect();
    jobs.extend(jobs_of(v.swr, &unlisted).await?);
    let grace = chrono::Duration::from_std(v.grace).unwrap_or_default();
    let mut pairs = Vec::new();
    for (key, settings) in &v.pairs {
        let empty = Tags::new();
        let source_tags = tags[key.source()].tags.as_deref().unwrap_or(&empty);
        let listed = &tags[&key.destination()];
        let held = verify::Held {
            tags: listed.tags.as_deref(),
            listed_at: listed.at,
        };
        let repo_jobs = jobs.get(key.source()).map_or(&[][..], Vec::as_slice);
        let target = key.target().clone();
        let finding = verify::compare(source_tags, held, repo_jobs, &target, (now, grace));
        pairs.push(Pair {
            source: key.source().clone(),
            target,
            override_existing: settings.override_existing,
            finding,
        });
    }
    Ok(pairs)
}

/// What a verification would find now, and the repairs it would request, changing nothing
/// (`plan`).
pub async fn inspect(
    v: &Verification<'_>,
    now: DateTime<Utc>,
) -> Result<(Vec<TargetReplication>, Vec<verify::RepairRequest>), String> {
    let pairs = compare_all(v, (BTreeMap::new(), None), now).await?;
    let earlier = v.previous.map(|p| p.repairs.as_slice()).unwrap_or_default();
    let requests = if v.spec.repair {
        verify::repairs(&pairs, earlier, repair::CAP)
    } else {
        Vec::new()
    };
    Ok((summaries(&pairs, v.spec.repair), requests))
}

/// Repairs running: look again soon; else at the next verification.
fn next_due(
    status: &ReplicationStatus,
    verified_at: Option<DateTime<Utc>>,
    interval: Duration,
    now: DateTime<Utc>,
) -> Instant {
    if status.state == ReplicationState::Repairing {
        return Instant::now() + POLL;
    }
    let next = verified_at.map_or(now, |at| {
        at + chrono::Duration::from_std(interval).unwrap_or_default()
    });
    Instant::now() + (next - now).to_std().unwrap_or_default()
}

/// The newest job records of each repository.
async fn jobs_of(
    swr: &SwrClient,
    repos: &BTreeSet<SourceRepo>,
) -> Result<BTreeMap<SourceRepo, Vec<SyncJob>>, String> {
    let listed = join_all(repos.iter().map(|repo| recent_jobs(swr, repo))).await;
    repos
        .iter()
        .cloned()
        .zip(listed)
        .map(|(repo, jobs)| Ok((repo, jobs?)))
        .collect()
}

/// Whether the listings of a pair's two repositories differ in any source tag.
fn differs(tags: &BTreeMap<SourceRepo, Listing>, key: &TaskKey) -> bool {
    let (from, to) = (key.source(), key.destination());
    let empty = Tags::new();
    let source_tags = tags
        .get(from)
        .and_then(|l| l.tags.as_deref())
        .unwrap_or(&empty);
    let target_tags = tags.get(&to).and_then(|l| l.tags.as_deref());
    source_tags.iter().any(|(tag, image)| {
        target_tags
            .and_then(|t| t.get(tag))
            .is_none_or(|held| held.digest != image.digest)
    })
}

fn target_set(pairs: &[(TaskKey, Settings)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(k, _)| {
            (
                k.target().region().to_string(),
                k.target().organization().to_string(),
            )
        })
        .collect()
}

fn source_of(pairs: &[(TaskKey, Settings)], repository: &str) -> Option<SourceRepo> {
    pairs
        .iter()
        .find(|(k, _)| k.source().repository() == repository)
        .map(|(k, _)| k.source().clone())
}
