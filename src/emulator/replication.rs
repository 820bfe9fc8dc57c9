//! SWR's image copies: manual syncs, tag pushes that replicate through auto-sync tasks (one
//! hop), and the sync job each copy leaves.

use chrono::Utc;

use super::jobs::JOB_WAITING;
use super::state::Copying;
use super::state::{stamp, Actor, JobRecord, StateError, World};
use super::tasks::belongs;
use crate::swr::model::{ManualSync, SyncJob, SyncTarget, SyncTask};
use crate::swr::names::{self, NameKind};
use crate::swr::SourceRepo;

/// Operator name recorded on jobs that auto-sync tasks run.
pub const AUTO_SYNC_OPERATOR: &str = "auto-sync";

impl World {
    /// Copies the listed tags. Every tag must exist in the source, or nothing is copied.
    /// `forced` tells, per copy, an end a fault imposes.
    pub fn manual_sync(
        &mut self,
        source: &SourceRepo,
        body: &ManualSync,
        actor: &Actor,
        forced: &mut impl FnMut() -> Option<&'static str>,
    ) -> Result<Vec<SyncJob>, StateError> {
        let repo = self.repository(source)?;
        if body.image_tag.is_empty() {
            return Err(StateError::NoTags);
        }
        for tag in &body.image_tag {
            names::validate(NameKind::Tag, tag)?;
            if !repo.tags.contains_key(tag) {
                return Err(StateError::TagNotFound {
                    repo: source.clone(),
                    tag: tag.clone(),
                });
            }
        }
        let target = SyncTarget {
            remote_region_id: body.remote_region_id.clone(),
            remote_namespace: body.remote_namespace.clone(),
        };
        self.check_target(source, &target)?;
        Ok(body
            .image_tag
            .iter()
            .map(|tag| {
                let copy = (tag.as_str(), &target, body.override_existing);
                self.copy(source, copy, actor, forced())
            })
            .collect())
    }

    /// Pushes a tag to a repository (created when missing) and runs every auto-sync task of
    /// that repository once. Copies do not trigger the target's own tasks (one hop).
    pub fn push(
        &mut self,
        source: &SourceRepo,
        tag: &str,
        digest: &str,
        forced: &mut impl FnMut() -> Option<&'static str>,
    ) -> Result<Vec<SyncJob>, StateError> {
        self.put_tag(source, tag, digest)?;
        let auto: Vec<SyncTask> = self
            .tasks
            .iter()
            .filter(|t| t.is_of(source) && t.task.sync_auto)
            .map(|t| t.task.clone())
            .collect();
        Ok(auto
            .into_iter()
            .map(|task| {
                let actor = Actor {
                    domain_id: task.domain_id.clone(),
                    domain_name: task.domain_name.clone(),
                    operator_id: String::new(),
                    operator_name: AUTO_SYNC_OPERATOR.into(),
                };
                let target = SyncTarget {
                    remote_region_id: task.remote_region_id,
                    remote_namespace: task.remote_namespace,
                };
                self.copy(
                    source,
                    (tag, &target, task.override_existing),
                    &actor,
                    forced(),
                )
            })
            .collect())
    }

    /// Starts the copy of one existing tag (`tag`, target, `override`) to the same
    /// repository name in a checked target and records its job; it ends at once unless the
    /// configured timing makes it wait and run first (`jobs.rs`).
    fn copy(
        &mut self,
        source: &SourceRepo,
        (tag, target, override_existing): (&str, &SyncTarget, bool),
        actor: &Actor,
        forced: Option<&'static str>,
    ) -> SyncJob {
        let digest = self
            .repository(source)
            .ok()
            .and_then(|repo| repo.tags.get(tag))
            .map(|image| image.digest.clone())
            .expect("callers copy existing tags only");
        let destination = SourceRepo::new(
            &target.remote_region_id,
            &target.remote_namespace,
            source.repository(),
        )
        .expect("task and sync targets are checked when accepted");
        let now = Utc::now();
        let timing = self.job_timing;
        let waited = chrono::Duration::from_std(timing.waiting).unwrap_or_default();
        let ran = chrono::Duration::from_std(timing.running).unwrap_or_default();
        let job = SyncJob {
            id: self.next_id(),
            namespace: source.organization().into(),
            repo_name: source.repository().into(),
            remote_region_id: target.remote_region_id.clone(),
            remote_namespace: target.remote_namespace.clone(),
            override_existing,
            tag: tag.into(),
            status: JOB_WAITING.into(),
            sync_operator_id: actor.operator_id.clone(),
            sync_operator_name: actor.operator_name.clone(),
            domain_id: actor.domain_id.clone(),
            domain_name: actor.domain_name.clone(),
            created_at: stamp(now),
            updated_at: stamp(now),
        };
        self.jobs.push(JobRecord {
            region: source.region().into(),
            job,
            copying: Some(Copying {
                destination,
                digest,
                override_existing,
                forced,
                runs_at: now + waited,
                ends_at: now + waited + ran,
            }),
        });
        self.unfinished += 1;
        self.settle(now);
        self.jobs.last().expect("pushed above").job.clone()
    }

    /// The sync jobs of a repository, newest first.
    pub fn jobs_of(&self, source: &SourceRepo) -> Result<Vec<SyncJob>, StateError> {
        self.repository(source)?;
        Ok(self
            .jobs
            .iter()
            .rev()
            .filter(|j| belongs(source, &j.region, &j.job.namespace, &j.job.repo_name))
            .map(|j| j.job.clone())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::fixtures::{actor, nginx, task, world};
    use crate::emulator::jobs::{JOB_EXISTED, JOB_FAILED, JOB_SUCCESS};

    fn dr_digest(w: &World, tag: &str) -> Option<String> {
        let dr = SourceRepo::new("cn-east-3", "platform-dr", "nginx").unwrap();
        Some(w.repository(&dr).ok()?.tags.get(tag)?.digest.clone())
    }

    #[test]
    fn push_replicates_through_auto_tasks_honouring_override() {
        let mut w = world();
        w.create_task(
            &nginx(),
            &task("cn-east-3", "platform-dr", true, false),
            &actor(),
        )
        .unwrap();
        w.create_task(
            &nginx(),
            &task("ap-southeast-1", "platform-dr", false, true),
            &actor(),
        )
        .unwrap();
        let jobs = w.push(&nginx(), "2.0", "sha256:one", &mut || None).unwrap();
        assert_eq!(jobs.len(), 1, "only the syncAuto task runs");
        assert_eq!(jobs[0].status, JOB_SUCCESS);
        assert_eq!(jobs[0].sync_operator_name, AUTO_SYNC_OPERATOR);
        assert_eq!(dr_digest(&w, "2.0").as_deref(), Some("sha256:one"));
        // Same digest again: existed; moved tag without override: failed, not overwritten.
        assert_eq!(
            w.push(&nginx(), "2.0", "sha256:one", &mut || None).unwrap()[0].status,
            JOB_EXISTED
        );
        assert_eq!(
            w.push(&nginx(), "2.0", "sha256:two", &mut || None).unwrap()[0].status,
            JOB_FAILED
        );
        assert_eq!(dr_digest(&w, "2.0").as_deref(), Some("sha256:one"));
        let statuses: Vec<String> = w
            .jobs_of(&nginx())
            .unwrap()
            .into_iter()
            .map(|j| j.status)
            .collect();
        assert_eq!(
            statuses,
            [JOB_FAILED, JOB_EXISTED, JOB_SUCCESS],
            "newest first"
        );
    }

    #[test]
    fn manual_sync_copies_all_or_nothing() {
        let mut w = world();
        let sync = |tags: &[&str], override_existing| ManualSync {
            image_tag: tags.iter().map(|t| t.to_string()).collect(),
            override_existing,
            remote_namespace: "platform-dr".into(),
            remote_region_id: "cn-east-3".into(),
        };
        assert!(matches!(
            w.manual_sync(
                &nginx(),
                &sync(&["1.25", "nope"], false),
                &actor(),
                &mut || None
            ),
            Err(StateError::TagNotFound { .. })
        ));
        assert_eq!(dr_digest(&w, "1.25"), None, "nothing copied");
        assert!(matches!(
            w.manual_sync(&nginx(), &sync(&[], false), &actor(), &mut || None),
            Err(StateError::NoTags)
        ));
        let jobs = w
            .manual_sync(
                &nginx(),
                &sync(&["1.25", "latest"], false),
                &actor(),
                &mut || None,
            )
            .unwrap();
        assert!(jobs
            .iter()
            .all(|j| j.status == JOB_SUCCESS && j.sync_operator_name == "swr-operator"));
        w.push(&nginx(), "latest", "sha256:new", &mut || None)
            .unwrap();
        let jobs = w
            .manual_sync(
                &nginx(),
                &sync(&["1.25", "latest"], false),
                &actor(),
                &mut || None,
            )
            .unwrap();
        assert_eq!(
            [jobs[0].status.as_str(), jobs[1].status.as_str()],
            [JOB_EXISTED, JOB_FAILED]
        );
        let jobs = w
            .manual_sync(&nginx(), &sync(&["latest"], true), &actor(), &mut || None)
            .unwrap();
        assert_eq!(jobs[0].status, JOB_SUCCESS);
        assert_eq!(dr_digest(&w, "latest").as_deref(), Some("sha256:new"));
    }
}
