//! Replication verification as pure functions: what a target holds against the source (by
//! tag and digest, with the sync jobs' word on the gaps), a target's summary over the rule's
//! repositories, which gaps repair may copy, and where earlier repairs stand.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::task::Target;
use crate::api::replication::{RepairState, ReplicationState, TagRepair, TargetReplication};
use crate::swr::model::{SyncJob, Tag};
use crate::swr::SourceRepo;

/// Tags named in a target's `examples`.
pub const EXAMPLES: usize = 5;

/// One tag of a repository as verification compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Manifest digest.
    pub digest: String,
    /// When the tag last moved, if SWR said readably.
    pub updated: Option<DateTime<Utc>>,
}

/// A repository's tags by name.
pub type Tags = BTreeMap<String, Image>;

/// The tags of a listing.
pub fn tags_of(listing: Vec<Tag>) -> Tags {
    listing
        .into_iter()
        .map(|t| {
            let updated = parse_time(&t.updated);
            (
                t.tag,
                Image {
                    digest: t.digest,
                    updated,
                },
            )
        })
        .collect()
}

/// SWR's times: RFC 3339, or without a zone (then UTC).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    Some(naive.and_utc())
}

/// One (repository, target) pair, the target's `override`, and what verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// Source repository.
    pub source: SourceRepo,
    /// Where it replicates to.
    pub target: Target,
    /// The target's `override`.
    pub override_existing: bool,
    /// What the target holds.
    pub finding: PairFinding,
}

/// A source tag the target does not hold as it should.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The tag.
    pub tag: String,
    /// Its digest in the source.
    pub digest: String,
    /// How its newest sync job to this target ended, when it failed (`failed`, `timeout`,
    /// `cancel`).
    pub job: Option<String>,
}

/// What one (repository, target) pair holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PairFinding {
    /// Source tags absent from the target.
    pub missing: Vec<Gap>,
    /// Tags in the target with another digest.
    pub diverged: Vec<Gap>,
    /// Tags being copied, or pushed within the grace period.
    pub in_flight: u32,
}

/// What a target repository held (`tags: None`: no such repository), listed at `listed_at`.
#[derive(Debug, Clone, Copy)]
pub struct Held<'a> {
    /// Its tags.
    pub tags: Option<&'a Tags>,
    /// When they were listed.
    pub listed_at: DateTime<Utc>,
}

/// Compares a source repository's tags with what a target held, reading the repository's
/// sync jobs (newest first) for that target. Not judged yet, as in flight: tags pushed
/// within `grace` of `now` (SWR may not have recorded their copy), tags being copied, and
/// tags copied since the target was listed (a listing shared between rules may be older).
pub fn compare(
    source: &Tags,
    listed: Held<'_>,
    jobs: &[SyncJob],
    to: &Target,
    (now, grace): (DateTime<Utc>, Duration),
) -> PairFinding {
    let target = listed.tags;
    let mut finding = PairFinding::default();
    for (tag, image) in source {
        let held = target.and_then(|t| t.get(tag));
        if held.is_some_and(|h| h.digest == image.digest) {
            continue;
        }
        let newest = jobs
            .iter()
            .find(|j| &j.tag == tag && to.is(&j.remote_region_id, &j.remote_namespace));
        let status = newest.map(|j| j.status.as_str());
        let recent = image.updated.is_some_and(|at| now - at < grace);
        let copied_since = matches!(status, Some("success" | "existed"))
            && newest
                .and_then(|j| parse_time(&j.updated_at))
                .is_some_and(|at| at >= listed.listed_at);
        if matches!(status, Some("waiting" | "running")) || recent || copied_since {
            finding.in_flight += 1;
            continue;
        }
        let gap = Gap {
            tag: tag.clone(),
            digest: image.digest.clone(),
            job: status
                .filter(|s| ["failed", "timeout", "cancel"].contains(s))
                .map(String::from),
        };
        match held {
            Some(_) => finding.diverged.push(gap),
            None => finding.missing.push(gap),
        }
    }
    finding
}

/// A target's state over the rule's repositories: `pairs` are all of that target.
pub fn summarize(target: &Target, pairs: &[&Pair], repair: bool) -> TargetReplication {
    let count = |f: fn(&PairFinding) -> usize| -> u32 {
        let total: usize = pairs.iter().map(|p| f(&p.finding)).sum();
        u32::try_from(total).unwrap_or(u32::MAX)
    };
    let missing = count(|p| p.missing.len());
    let diverged = count(|p| p.diverged.len());
    let failed_jobs = count(|p| {
        p.missing
            .iter()
            .chain(&p.diverged)
            .filter(|g| g.job.is_some())
            .count()
    });
    let mut examples = Vec::new();
    for pair in pairs {
        let gaps = [
            (&pair.finding.missing, "missing"),
            (&pair.finding.diverged, "diverged"),
        ];
        for (gaps, what) in gaps {
            for gap in gaps.iter() {
                let job = gap.job.as_ref().map(|j| format!(" (sync job {j})"));
                examples.push(format!(
                    "{}:{} {what}{}",
                    pair.source.repository(),
                    gap.tag,
                    job.unwrap_or_default()
                ));
            }
        }
    }
    examples.truncate(EXAMPLES);
    let state = if diverged > 0 {
        ReplicationState::Diverged
    } else if missing > 0 {
        ReplicationState::Behind
    } else {
        ReplicationState::InSync
    };
    let override_existing = pairs.iter().any(|p| p.override_existing);
    let message = match (state, repair) {
        (ReplicationState::Diverged, _) if !override_existing => Some(
            "tags hold other images in the target; set override: true on this target to let \
             replication (and repair) overwrite them"
                .to_string(),
        ),
        (ReplicationState::Behind | ReplicationState::Diverged, false) => Some(
            "SWR does not copy these again by itself; push them again, or set verify.repair: true"
                .to_string(),
        ),
        _ => None,
    };
    TargetReplication {
        region: target.region().to_string(),
        organization: target.organization().to_string(),
        state,
        repositories: u32::try_from(pairs.len()).unwrap_or(u32::MAX),
        missing,
        diverged,
        failed_jobs,
        in_flight: count(|p| p.in_flight as usize),
        override_existing,
        examples,
        message,
    }
}

/// A repair to request: `tags` (with their source digests) of `repository` to one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairRequest {
    /// Source repository.
    pub source: SourceRepo,
    /// Where to copy them.
    pub target: Target,
    /// The target's `override`.
    pub override_existing: bool,
    /// Tag and source digest.
    pub tags: Vec<(String, String)>,
}

/// Whether `repair` is of `repository`'s `tag` in `target`.
pub fn repairs_tag(repair: &TagRepair, repository: &str, target: &Target, tag: &str) -> bool {
    repair.repository == repository
        && repair.tag == tag
        && target.is(&repair.target_region, &repair.target_organization)
}

/// The gaps repair may copy, at most `cap` tags: missing tags, and diverged ones where the
/// target's `override` is true; never one being repaired, nor one whose repair failed for
/// the same digest.
pub fn repairs(pairs: &[Pair], earlier: &[TagRepair], cap: usize) -> Vec<RepairRequest> {
    let blocked = |pair: &Pair, gap: &Gap| {
        earlier.iter().any(|r| {
            repairs_tag(r, pair.source.repository(), &pair.target, &gap.tag)
                && (r.state == RepairState::Requested || r.digest == gap.digest)
        })
    };
    let mut left = cap;
    let mut requests = Vec::new();
    for pair in pairs {
        let finding = &pair.finding;
        let diverged: &[Gap] = if pair.override_existing {
            &finding.diverged
        } else {
            &[]
        };
        let tags: Vec<(String, String)> = finding
            .missing
            .iter()
            .chain(diverged)
            .filter(|gap| !blocked(pair, gap))
            .take(left)
            .map(|gap| (gap.tag.clone(), gap.digest.clone()))
            .collect();
        left -= tags.len();
        if !tags.is_empty() {
            requests.push(RepairRequest {
                source: pair.source.clone(),
                target: pair.target.clone(),
                override_existing: pair.override_existing,
                tags,
            });
        }
    }
    requests
}

/// Moves a requested repair on by its repository's sync jobs (newest first): `Some` while it
/// runs or after it failed, `None` once it succeeded. A repair with no ended job after
/// `deadline` failed.
pub fn follow(
    repair: &TagRepair,
    jobs: &[SyncJob],
    now: DateTime<Utc>,
    deadline: Duration,
) -> Option<TagRepair> {
    if repair.state == RepairState::Failed {
        return Some(repair.clone());
    }
    let requested = parse_time(&repair.requested_at).unwrap_or(now);
    let newest = jobs.iter().find(|j| {
        j.tag == repair.tag
            && j.remote_region_id == repair.target_region
            && j.remote_namespace == repair.target_organization
            // A job older than the request is an earlier copy (SWR stamps to the second).
            && parse_time(&j.created_at).is_none_or(|at| at >= requested - Duration::seconds(1))
    });
    let failed = |outcome: &str| TagRepair {
        state: RepairState::Failed,
        outcome: Some(outcome.to_string()),
        ..repair.clone()
    };
    match newest.map(|j| j.status.as_str()) {
        Some("success" | "existed") => None,
        Some(status @ ("failed" | "timeout" | "cancel")) => Some(failed(status)),
        _ if now - requested > deadline => Some(failed("no finished sync job")),
        _ => Some(repair.clone()),
    }
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
