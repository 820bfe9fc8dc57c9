//! Following a copy of existing tags by SWR's sync job records, pure: the newest job of
//! each tag for the copy's target tells whether it succeeded, failed or is still coming;
//! past `COPY_DEADLINE` a copy still waiting is marked Failed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use kube::runtime::events::EventType;

use super::events::{event_reason, Notice};
use super::report::list_some;
use super::status::timestamp;
use super::task::TaskKey;
use crate::api::status::{CopyState, ImageCopy};
use crate::swr::model::SyncJob;

/// How long a copy may stay `Copying` before it is marked Failed. SWR records a job for each
/// tag as it takes the request, and a healthy copy finishes within minutes; a tag with no
/// finished record after an hour is not coming (a request SWR lost, or a record pushed out
/// of the newest pages read by later jobs), and following it forever costs a job listing
/// every `POLL`. An hour still leaves room for large images and a busy region's queue.
pub const COPY_DEADLINE: Duration = Duration::from_secs(60 * 60);

/// The key of a copy's task, read back once from the status line that names it (none for a
/// line no valid key prints: such a copy belongs to no task of the inventory).
pub(super) fn key_of(copy: &ImageCopy) -> Option<TaskKey> {
    TaskKey::parse(&copy.task)
}

/// A copy in progress without a valid `requested_at` (status of an older version) gets the
/// deadline counted from now, the first pass that sees it.
pub(super) fn stamp_if_unset(copy: &mut ImageCopy, now: DateTime<Utc>) {
    if copy.state == CopyState::Copying && requested_at(copy).is_none() {
        copy.requested_at = Some(timestamp(now));
    }
}

/// When the copy was requested, if its status says so readably.
fn requested_at(copy: &ImageCopy) -> Option<DateTime<Utc>> {
    let at = DateTime::parse_from_rfc3339(copy.requested_at.as_deref()?).ok()?;
    Some(at.with_timezone(&Utc))
}

/// The copy's tags by the newest job of each for its target.
#[derive(Debug, Default)]
struct Tally {
    succeeded: u32,
    failed: Vec<String>,
    /// No job record (yet).
    unrecorded: Vec<String>,
    /// Waiting or running.
    unfinished: Vec<String>,
}

impl Tally {
    fn of(copy: &ImageCopy, jobs: &[SyncJob]) -> Self {
        let mut tally = Self::default();
        for tag in &copy.tags {
            let newest = jobs.iter().find(|j| {
                &j.tag == tag
                    && j.remote_region_id == copy.target_region
                    && j.remote_namespace == copy.target_organization
            });
            match newest.map(|j| j.status.as_str()) {
                Some("success" | "existed") => tally.succeeded += 1,
                Some("failed" | "timeout" | "cancel") => tally.failed.push(tag.clone()),
                Some(_) => tally.unfinished.push(tag.clone()),
                None => tally.unrecorded.push(tag.clone()),
            }
        }
        tally
    }

    fn pending(&self) -> usize {
        self.unrecorded.len() + self.unfinished.len()
    }

    /// Why a copy past the deadline failed: the tags still pending, and any that failed.
    fn overdue_message(&self) -> String {
        let limit = human(COPY_DEADLINE);
        let mut parts = Vec::new();
        if !self.unrecorded.is_empty() {
            parts.push(format!(
                "no sync job record for {} tag(s) within {limit}: {}",
                self.unrecorded.len(),
                list_some(&self.unrecorded)
            ));
        }
        if !self.unfinished.is_empty() {
            parts.push(format!(
                "{} tag(s) still waiting or running after {limit}: {}",
                self.unfinished.len(),
                list_some(&self.unfinished)
            ));
        }
        if !self.failed.is_empty() {
            parts.push(format!("failed: {}", list_some(&self.failed)));
        }
        parts.push("push them again or recreate the task".into());
        parts.join("; ")
    }
}

/// Counts the copy's tags by the newest job of each for its target; ends the copy when no
/// tag is pending, or when some still are past `COPY_DEADLINE`.
pub(super) fn progress(
    copy: &mut ImageCopy,
    jobs: &[SyncJob],
    now: DateTime<Utc>,
    notices: &mut Vec<Notice>,
) {
    let tally = Tally::of(copy, jobs);
    copy.succeeded = tally.succeeded;
    copy.failed = count(copy.refused_tags.len() + tally.failed.len());
    copy.pending = count(tally.pending());
    if tally.pending() > 0 {
        if overdue(copy, now) {
            copy.state = CopyState::Failed;
            copy.message = Some(tally.overdue_message());
            notices.push(failed_notice(copy));
        }
        return;
    }
    if tally.failed.is_empty() && copy.refused_tags.is_empty() {
        copy.state = CopyState::Done;
        notices.push((
            EventType::Normal,
            event_reason::IMAGES_SYNCED,
            format!(
                "copied {} existing tag(s) for {}",
                tally.succeeded, copy.task
            ),
        ));
    } else {
        copy.state = CopyState::Failed;
        copy.message = Some(failed_message(copy, &tally.failed));
        notices.push(failed_notice(copy));
    }
}

/// What failed: the tags SWR refused when asked, and those whose jobs failed.
pub(super) fn failed_message(copy: &ImageCopy, failed_jobs: &[String]) -> String {
    let mut parts = Vec::new();
    if !copy.refused_tags.is_empty() {
        parts.push(format!(
            "SWR refused to copy {} tag(s): {} (a different image under the same tag in the \
             target, and override off?)",
            copy.refused_tags.len(),
            list_some(&copy.refused_tags)
        ));
    }
    if !failed_jobs.is_empty() {
        parts.push(format!("failed: {}", list_some(failed_jobs)));
    }
    parts.join("; ")
}

/// Whether the copy was requested more than `COPY_DEADLINE` before `now`. Without a
/// readable `requested_at` it is not: `follow` stamps such copies first.
fn overdue(copy: &ImageCopy, now: DateTime<Utc>) -> bool {
    let deadline = chrono::Duration::from_std(COPY_DEADLINE).unwrap_or(chrono::Duration::MAX);
    requested_at(copy).is_some_and(|at| now - at > deadline)
}

/// `1h`, `30m` or `45s`: the largest whole unit.
fn human(d: Duration) -> String {
    match d.as_secs() {
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

pub(super) fn failed_notice(copy: &ImageCopy) -> Notice {
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

pub(super) fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swr::SourceRepo;

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
            refused_tags: Vec::new(),
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
        progress(&mut c, &jobs, t0(), &mut notices);
        assert_eq!((c.succeeded, c.failed, c.pending), (1, 0, 2));
        assert_eq!(c.state, CopyState::Copying);
        assert!(notices.is_empty());

        let jobs = [
            job("a", "cn-east-3", "timeout"),
            job("b", "cn-east-3", "success"),
        ];
        let mut c = copy(&["a", "b"]);
        progress(&mut c, &jobs, t0(), &mut notices);
        assert_eq!((c.state, c.succeeded, c.failed), (CopyState::Failed, 1, 1));
        assert_eq!(c.message.as_deref(), Some("failed: a"));
        assert_eq!(notices.len(), 1);
    }

    #[test]
    fn tags_swr_refused_when_asked_count_as_failed_without_job_records() {
        let mut c = copy(&["a"]);
        c.refused_tags = vec!["b".into()];
        let mut notices = Vec::new();
        progress(
            &mut c,
            &[job("a", "cn-east-3", "success")],
            t0(),
            &mut notices,
        );
        assert_eq!(
            (c.state, c.succeeded, c.failed, c.pending),
            (CopyState::Failed, 1, 1, 0)
        );
        let message = c.message.unwrap();
        assert!(
            message.starts_with("SWR refused to copy 1 tag(s): b"),
            "{message}"
        );
        assert_eq!(notices.len(), 1);
    }

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn minutes_before_t0(minutes: i64) -> String {
        timestamp(t0() - chrono::Duration::minutes(minutes))
    }

    #[test]
    fn copies_pending_past_the_deadline_fail_naming_their_tags() {
        // Requested this many minutes before t0 (None: status of an older version), jobs
        // (tag, status) for the copy's target, then state, (succeeded, failed, pending) and
        // message.
        type Case<'a> = (
            Option<i64>,
            &'a [(&'a str, &'a str)],
            CopyState,
            (u32, u32, u32),
            Option<&'a str>,
        );
        let table: [Case; 7] = [
            (
                Some(59),
                &[("a", "success")],
                CopyState::Copying,
                (1, 0, 2),
                None,
            ),
            (
                Some(60),
                &[("a", "success")],
                CopyState::Copying,
                (1, 0, 2),
                None,
            ),
            (None, &[], CopyState::Copying, (0, 0, 3), None),
            (
                Some(61),
                &[("a", "success")],
                CopyState::Failed,
                (1, 0, 2),
                Some(
                    "no sync job record for 2 tag(s) within 1h: b; c; \
                     push them again or recreate the task",
                ),
            ),
            (
                Some(24 * 60),
                &[],
                CopyState::Failed,
                (0, 0, 3),
                Some(
                    "no sync job record for 3 tag(s) within 1h: a; b; c; \
                     push them again or recreate the task",
                ),
            ),
            (
                Some(61),
                &[("a", "running"), ("b", "failed"), ("c", "existed")],
                CopyState::Failed,
                (1, 1, 1),
                Some(
                    "1 tag(s) still waiting or running after 1h: a; failed: b; \
                     push them again or recreate the task",
                ),
            ),
            // Finished late: done, the deadline only ends copies still pending.
            (
                Some(120),
                &[("a", "success"), ("b", "existed"), ("c", "success")],
                CopyState::Done,
                (3, 0, 0),
                None,
            ),
        ];
        for (ago, jobs, state, counts, message) in table {
            let jobs: Vec<SyncJob> = jobs.iter().map(|(t, s)| job(t, "cn-east-3", s)).collect();
            let mut c = copy(&["a", "b", "c"]);
            c.requested_at = ago.map(minutes_before_t0);
            let mut notices = Vec::new();
            progress(&mut c, &jobs, t0(), &mut notices);
            let case = format!("{ago:?} {jobs:?}");
            assert_eq!(c.state, state, "{case}");
            assert_eq!((c.succeeded, c.failed, c.pending), counts, "{case}");
            assert_eq!(c.message.as_deref(), message, "{case}");
            let reasons: Vec<_> = notices.iter().map(|(t, r, _)| (*t, *r)).collect();
            let expected = match state {
                CopyState::Copying => vec![],
                CopyState::Done => vec![(EventType::Normal, event_reason::IMAGES_SYNCED)],
                CopyState::Failed => vec![(EventType::Warning, event_reason::IMAGES_SYNC_FAILED)],
            };
            assert_eq!(reasons, expected, "{case}");
        }
    }

    #[test]
    fn copies_in_progress_without_a_request_time_count_from_the_first_pass() {
        let stamped = |state, requested_at: Option<&str>| {
            let mut c = copy(&["a"]);
            c.state = state;
            c.requested_at = requested_at.map(str::to_string);
            stamp_if_unset(&mut c, t0());
            c.requested_at
        };
        let earlier = minutes_before_t0(5);
        let now = Some(timestamp(t0()));
        assert_eq!(stamped(CopyState::Copying, None), now);
        assert_eq!(stamped(CopyState::Copying, Some("yesterday")), now);
        assert_eq!(stamped(CopyState::Copying, Some(&earlier)), Some(earlier));
        assert_eq!(stamped(CopyState::Done, None), None, "finished: left alone");
        assert_eq!(stamped(CopyState::Failed, None), None);
    }

    #[test]
    fn the_deadline_reads_as_a_whole_unit() {
        assert_eq!(human(COPY_DEADLINE), "1h");
        assert_eq!(human(Duration::from_secs(90 * 60)), "90m");
        assert_eq!(human(Duration::from_secs(45)), "45s");
    }

    #[test]
    fn the_source_repository_is_read_back_from_the_task() {
        let c = copy(&["a"]);
        assert_eq!(
            key_of(&c).map(|key| key.source().clone()),
            Some(SourceRepo::new("cn-north-4", "platform", "nginx").unwrap())
        );
    }
}
