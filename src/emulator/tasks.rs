//! SWR's auto-sync tasks: one per (source repository, target region, target organization),
//! created, listed and deleted as the API documents, with the target checks SWR makes.

use chrono::Utc;

use super::state::{stamp, Actor, StateError, TaskRecord, World};
use crate::swr::model::{CreateSyncTask, SyncTarget, SyncTask};
use crate::swr::names::{self, NameKind};
use crate::swr::SourceRepo;

/// Whether a task or job record of `region` names `source`'s organization and repository.
pub(super) fn belongs(source: &SourceRepo, region: &str, namespace: &str, repo_name: &str) -> bool {
    region == source.region()
        && namespace == source.organization()
        && repo_name == source.repository()
}

impl TaskRecord {
    /// Whether the task replicates `source`.
    pub(super) fn is_of(&self, source: &SourceRepo) -> bool {
        belongs(
            source,
            &self.region,
            &self.task.namespace,
            &self.task.repo_name,
        )
    }

    fn targets(&self, target: &SyncTarget) -> bool {
        self.task.remote_region_id == target.remote_region_id
            && self.task.remote_namespace == target.remote_namespace
    }
}

fn describe(target: &SyncTarget) -> String {
    format!("{}:{}", target.remote_region_id, target.remote_namespace)
}

impl World {
    /// Checks a task or manual sync target: a configured region, an existing organization,
    /// and not the source organization itself.
    pub(super) fn check_target(
        &self,
        source: &SourceRepo,
        target: &SyncTarget,
    ) -> Result<(), StateError> {
        if !self.regions.contains_key(&target.remote_region_id) {
            return Err(StateError::TargetRegion(target.remote_region_id.clone()));
        }
        names::validate(NameKind::Organization, &target.remote_namespace)?;
        if target.remote_region_id == source.region()
            && target.remote_namespace == source.organization()
        {
            return Err(StateError::TargetIsSource);
        }
        self.organization(&target.remote_region_id, &target.remote_namespace)
            .map(drop)
            .map_err(|_| StateError::TargetOrganization {
                region: target.remote_region_id.clone(),
                organization: target.remote_namespace.clone(),
            })
    }

    /// The tasks of a repository, oldest first.
    pub fn tasks_of(&self, source: &SourceRepo) -> Result<Vec<SyncTask>, StateError> {
        self.repository(source)?;
        Ok(self
            .tasks
            .iter()
            .filter(|t| t.is_of(source))
            .map(|t| t.task.clone())
            .collect())
    }

    /// Creates an auto-sync task; one per (source repository, target region, organization).
    pub fn create_task(
        &mut self,
        source: &SourceRepo,
        body: &CreateSyncTask,
        actor: &Actor,
    ) -> Result<SyncTask, StateError> {
        self.repository(source)?;
        let target = SyncTarget {
            remote_region_id: body.remote_region_id.clone(),
            remote_namespace: body.remote_namespace.clone(),
        };
        self.check_target(source, &target)?;
        if self
            .tasks
            .iter()
            .any(|t| t.is_of(source) && t.targets(&target))
        {
            return Err(StateError::TaskExists(source.clone(), describe(&target)));
        }
        let now = stamp(Utc::now());
        let task = SyncTask {
            id: self.next_id(),
            namespace: source.organization().into(),
            repo_name: source.repository().into(),
            remote_region_id: target.remote_region_id,
            remote_namespace: target.remote_namespace,
            override_existing: body.override_existing,
            sync_auto: body.sync_auto,
            domain_id: actor.domain_id.clone(),
            domain_name: actor.domain_name.clone(),
            created_at: now.clone(),
            updated_at: now,
        };
        self.tasks.push(TaskRecord {
            region: source.region().into(),
            task: task.clone(),
        });
        Ok(task)
    }

    /// Deletes a task.
    pub fn delete_task(
        &mut self,
        source: &SourceRepo,
        target: &SyncTarget,
    ) -> Result<SyncTask, StateError> {
        self.repository(source)?;
        let index = self
            .tasks
            .iter()
            .position(|t| t.is_of(source) && t.targets(target))
            .ok_or_else(|| StateError::TaskNotFound(source.clone(), describe(target)))?;
        Ok(self.tasks.remove(index).task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::fixtures::{actor, nginx, task, world};

    #[test]
    fn task_targets_are_checked() {
        let mut w = world();
        let table = [
            (task("nowhere", "platform-dr", true, false), "TargetRegion"),
            (
                task("cn-north-4", "platform", true, false),
                "TargetIsSource",
            ),
            (
                task("cn-east-3", "missing", true, false),
                "TargetOrganization",
            ),
            (task("cn-east-3", "Bad!", true, false), "Name"),
        ];
        for (body, want) in table {
            let err = w.create_task(&nginx(), &body, &actor()).unwrap_err();
            assert!(format!("{err:?}").starts_with(want), "{err:?}");
        }
        w.create_task(
            &nginx(),
            &task("cn-east-3", "platform-dr", true, false),
            &actor(),
        )
        .unwrap();
        assert!(matches!(
            w.create_task(
                &nginx(),
                &task("cn-east-3", "platform-dr", false, true),
                &actor()
            ),
            Err(StateError::TaskExists(..))
        ));
        assert_eq!(w.tasks_of(&nginx()).unwrap().len(), 1);
        let target = SyncTarget {
            remote_region_id: "cn-east-3".into(),
            remote_namespace: "platform-dr".into(),
        };
        w.delete_task(&nginx(), &target).unwrap();
        assert!(matches!(
            w.delete_task(&nginx(), &target),
            Err(StateError::TaskNotFound(..))
        ));
    }
}
