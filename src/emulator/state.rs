//! The emulated cloud's data: regions → organizations → repositories → tags, plus sync tasks,
//! sync jobs and HSS refresh events. Pure data logic; tasks live in `tasks.rs`, copies in
//! `replication.rs`, the API's views in `listing.rs`.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::config::JobTiming;
use super::config::{derived_digest, EmulatorConfig};
use crate::swr::model::{SyncJob, SyncTask};
use crate::swr::names::{self, NameError, NameKind};
use crate::swr::SourceRepo;

/// Why a state change or lookup failed; `errors.rs` maps each to a status and code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// A name breaks SWR's rules.
    #[error(transparent)]
    Name(#[from] NameError),
    /// No such region.
    #[error("region {0} does not exist")]
    RegionNotFound(String),
    /// No such organization.
    #[error("organization {organization} does not exist in {region}")]
    OrganizationNotFound {
        /// Region.
        region: String,
        /// Organization.
        organization: String,
    },
    /// No such repository.
    #[error("repository {0} does not exist")]
    RepositoryNotFound(SourceRepo),
    /// No such tag.
    #[error("tag {tag} does not exist in {repo}")]
    TagNotFound {
        /// Repository.
        repo: SourceRepo,
        /// Tag.
        tag: String,
    },
    /// The organization exists already.
    #[error("organization {organization} already exists in {region}")]
    OrganizationExists {
        /// Region.
        region: String,
        /// Organization.
        organization: String,
    },
    /// The target region is not configured.
    #[error("target region {0} is not a region SWR can sync to")]
    TargetRegion(String),
    /// Source and target are the same organization of the same region.
    #[error("the target is the source organization itself")]
    TargetIsSource,
    /// The target organization does not exist.
    #[error("target organization {organization} does not exist in {region}")]
    TargetOrganization {
        /// Region.
        region: String,
        /// Organization.
        organization: String,
    },
    /// A task to that target exists already.
    #[error("a sync task from {0} to {1} already exists")]
    TaskExists(SourceRepo, String),
    /// No task to that target.
    #[error("no sync task from {0} to {1}")]
    TaskNotFound(SourceRepo, String),
    /// `imageTag` is empty.
    #[error("imageTag must list at least one tag")]
    NoTags,
}

/// The whole emulated cloud (what `GET /_admin/state` shows; it holds no credentials).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct World {
    /// Regions by id.
    pub regions: BTreeMap<String, RegionState>,
    /// Sync tasks, oldest first.
    pub tasks: Vec<TaskRecord>,
    /// Sync jobs, oldest first.
    pub jobs: Vec<JobRecord>,
    /// HSS image list refreshes, oldest first.
    pub hss_events: Vec<HssEvent>,
    /// Domain name credited as creator of organizations (the first configured domain).
    #[serde(skip)]
    owner: String,
    /// How long copies take.
    #[serde(skip)]
    pub job_timing: JobTiming,
    /// Jobs whose copy has not ended, so that settling costs nothing when there are none
    /// (it runs on every request).
    #[serde(skip)]
    pub unfinished: usize,
    #[serde(skip)]
    next_id: i64,
}

/// One region.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RegionState {
    /// Organizations by name.
    pub organizations: BTreeMap<String, OrgState>,
}

/// One organization.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgState {
    /// Id.
    pub id: i64,
    /// Creator (a domain name).
    pub creator: String,
    /// Repositories by name.
    pub repositories: BTreeMap<String, RepoState>,
}

/// One repository.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepoState {
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Tags by name.
    pub tags: BTreeMap<String, Image>,
}

/// What a tag points to.
#[derive(Debug, Clone, Serialize)]
pub struct Image {
    /// Id.
    pub id: i64,
    /// Manifest digest; two tags are the same image when their digests are equal.
    pub digest: String,
    /// First pushed.
    pub created: DateTime<Utc>,
    /// Last pushed.
    pub updated: DateTime<Utc>,
}

/// A sync task and the region of its source repository.
#[derive(Debug, Clone, Serialize)]
pub struct TaskRecord {
    /// Source region.
    pub region: String,
    /// The task as SWR lists it.
    #[serde(flatten)]
    pub task: SyncTask,
}

/// A sync job and the region of its source repository.
#[derive(Debug, Clone, Serialize)]
pub struct JobRecord {
    /// Source region.
    pub region: String,
    /// The job as SWR lists it.
    #[serde(flatten)]
    pub job: SyncJob,
    /// The copy while it has not ended.
    #[serde(skip)]
    pub copying: Option<Copying>,
}

/// An accepted HSS `image/synchronize` call.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HssEvent {
    /// Region it was routed to.
    pub region: String,
    /// Project id of the path.
    pub project_id: String,
    /// `private_image` or `shared_image`.
    pub image_type: String,
    /// `enterprise_project_id` query parameter.
    pub enterprise_project_id: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// Who made a change, for the domain and operator fields of tasks and jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Domain id.
    pub domain_id: String,
    /// Domain name.
    pub domain_name: String,
    /// User (or access key) id.
    pub operator_id: String,
    /// User (or access key) name.
    pub operator_name: String,
}

/// SWR's timestamp form: UTC, microseconds, `Z`.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A copy not ended yet: what it copies, and when it moves on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copying {
    /// Where the tag goes (same repository name in the target).
    pub destination: SourceRepo,
    /// The source's digest when the copy was asked for.
    pub digest: String,
    /// Overwrite a different image under the tag.
    pub override_existing: bool,
    /// An end a fault imposed (`timeout`, `cancel`, `failed`) instead of copying.
    pub forced: Option<&'static str>,
    /// When it turns `running`.
    pub runs_at: DateTime<Utc>,
    /// When it ends.
    pub ends_at: DateTime<Utc>,
}

impl World {
    /// The start-up state a configuration describes.
    pub fn from_config(config: &EmulatorConfig) -> Self {
        let mut world = Self {
            regions: BTreeMap::new(),
            tasks: Vec::new(),
            jobs: Vec::new(),
            hss_events: Vec::new(),
            owner: config
                .domains
                .first()
                .map(|d| d.name.clone())
                .unwrap_or_default(),
            job_timing: config.sync_jobs,
            unfinished: 0,
            next_id: 1,
        };
        let checked = "the config check validated every name";
        for region in &config.regions {
            world
                .regions
                .insert(region.id.clone(), RegionState::default());
            for org in &region.organizations {
                world
                    .create_organization(&region.id, &org.name, org.domain.as_deref())
                    .expect(checked);
                for repo in &org.repositories {
                    let source = SourceRepo::new(&region.id, &org.name, &repo.name).expect(checked);
                    world.repository_mut(&source).expect(checked);
                    for tag in &repo.tags {
                        let digest = tag
                            .digest
                            .clone()
                            .unwrap_or_else(|| derived_digest(&repo.name, &tag.name));
                        world.put_tag(&source, &tag.name, &digest).expect(checked);
                    }
                }
            }
        }
        world
    }

    /// A fresh id for an organization, tag, task or job.
    pub fn next_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id - 1
    }

    /// A region.
    pub fn region(&self, region: &str) -> Result<&RegionState, StateError> {
        self.regions
            .get(region)
            .ok_or_else(|| StateError::RegionNotFound(region.into()))
    }

    /// An organization.
    pub fn organization(&self, region: &str, organization: &str) -> Result<&OrgState, StateError> {
        self.region(region)?
            .organizations
            .get(organization)
            .ok_or_else(|| StateError::OrganizationNotFound {
                region: region.into(),
                organization: organization.into(),
            })
    }

    /// A repository; a missing organization is reported as such.
    pub fn repository(&self, repo: &SourceRepo) -> Result<&RepoState, StateError> {
        self.organization(repo.region(), repo.organization())?
            .repositories
            .get(repo.repository())
            .ok_or_else(|| StateError::RepositoryNotFound(repo.clone()))
    }

    /// A repository to change, created empty when missing; the organization must exist.
    fn repository_mut(&mut self, repo: &SourceRepo) -> Result<&mut RepoState, StateError> {
        self.organization(repo.region(), repo.organization())?;
        let now = Utc::now();
        Ok(self
            .regions
            .get_mut(repo.region())
            .and_then(|r| r.organizations.get_mut(repo.organization()))
            .expect("checked above")
            .repositories
            .entry(repo.repository().to_string())
            .or_insert_with(|| RepoState {
                created_at: now,
                updated_at: now,
                tags: BTreeMap::new(),
            }))
    }

    /// Deletes a repository, and the auto-sync tasks that replicate it. (SWR's pages do not
    /// say what becomes of a deleted repository's tasks; a task without its source is
    /// useless, so the emulator drops them, and lists of them answer 404 like any missing
    /// repository.)
    pub fn delete_repository(&mut self, repo: &SourceRepo) -> Result<(), StateError> {
        self.repository(repo)?;
        self.regions
            .get_mut(repo.region())
            .and_then(|r| r.organizations.get_mut(repo.organization()))
            .expect("checked above")
            .repositories
            .remove(repo.repository());
        self.tasks.retain(|t| !t.is_of(repo));
        Ok(())
    }

    /// Creates an organization owned by `domain` (a domain name; `None`: the first
    /// configured domain).
    pub fn create_organization(
        &mut self,
        region: &str,
        organization: &str,
        domain: Option<&str>,
    ) -> Result<&OrgState, StateError> {
        names::validate(NameKind::Organization, organization)?;
        self.region(region)?;
        if self.organization(region, organization).is_ok() {
            return Err(StateError::OrganizationExists {
                region: region.into(),
                organization: organization.into(),
            });
        }
        let org = OrgState {
            id: self.next_id(),
            creator: domain.map_or_else(|| self.owner.clone(), str::to_string),
            repositories: BTreeMap::new(),
        };
        let orgs = &mut self
            .regions
            .get_mut(region)
            .expect("checked above")
            .organizations;
        Ok(orgs.entry(organization.into()).or_insert(org))
    }

    /// Points `tag` of `repo` at `digest`, creating the repository when needed; the
    /// organization must exist.
    pub fn put_tag(
        &mut self,
        repo: &SourceRepo,
        tag: &str,
        digest: &str,
    ) -> Result<(), StateError> {
        names::validate(NameKind::Tag, tag)?;
        let id = self.next_id();
        let now = Utc::now();
        let state = self.repository_mut(repo)?;
        match state.tags.get_mut(tag) {
            Some(image) if image.digest == digest => return Ok(()),
            Some(image) => {
                image.digest = digest.to_string();
                image.updated = now;
            }
            None => {
                let image = Image {
                    id,
                    digest: digest.to_string(),
                    created: now,
                    updated: now,
                };
                state.tags.insert(tag.to_string(), image);
            }
        }
        state.updated_at = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::fixtures::world;

    fn repo(region: &str, org: &str, repo: &str) -> SourceRepo {
        SourceRepo::new(region, org, repo).unwrap()
    }

    #[test]
    fn start_up_state_follows_the_config() {
        let w = world();
        let nginx = w
            .repository(&repo("cn-north-4", "platform", "nginx"))
            .unwrap();
        assert_eq!(nginx.tags.keys().collect::<Vec<_>>(), ["1.25", "latest"]);
        assert_eq!(
            nginx.tags["latest"].digest,
            derived_digest("nginx", "latest"),
            "missing digests are derived"
        );
        assert!(w
            .organization("cn-east-3", "platform-dr")
            .unwrap()
            .repositories
            .is_empty());
    }

    #[test]
    fn lookups_name_what_is_missing() {
        let w = world();
        assert_eq!(
            w.repository(&repo("nowhere", "platform", "nginx"))
                .unwrap_err(),
            StateError::RegionNotFound("nowhere".into())
        );
        assert!(matches!(
            w.repository(&repo("cn-north-4", "nope", "nginx")),
            Err(StateError::OrganizationNotFound { .. })
        ));
        assert!(matches!(
            w.repository(&repo("cn-north-4", "platform", "nope")),
            Err(StateError::RepositoryNotFound(_))
        ));
    }

    #[test]
    fn organizations_are_created_once() {
        let mut w = world();
        let qa = w.create_organization("cn-east-3", "qa", None).unwrap();
        assert_eq!(qa.creator, "example-domain");
        assert!(matches!(
            w.create_organization("cn-east-3", "qa", None),
            Err(StateError::OrganizationExists { .. })
        ));
        assert!(matches!(
            w.create_organization("cn-east-3", "Bad", None),
            Err(StateError::Name(_))
        ));
    }

    #[test]
    fn put_tag_creates_repositories_and_moves_tags() {
        let mut w = world();
        let r = repo("cn-east-3", "platform-dr", "new/app");
        let digest = |w: &World| w.repository(&r).unwrap().tags["v1"].digest.clone();
        w.put_tag(&r, "v1", "sha256:aa").unwrap();
        assert_eq!(digest(&w), "sha256:aa");
        w.put_tag(&r, "v1", "sha256:bb").unwrap();
        assert_eq!(digest(&w), "sha256:bb");
        assert!(w.put_tag(&r, ".bad", "sha256:bb").is_err());
        let missing_org = repo("cn-east-3", "nope", "app");
        assert!(w.put_tag(&missing_org, "v1", "sha256:aa").is_err());
    }
}
