//! The SWR API's views of the state: organizations, repositories and tags as wire types.

use super::state::{stamp, OrgState, StateError, World};
use crate::swr::model::{Organization, Repository, Tag};
use crate::swr::SourceRepo;

/// Permission SWR reports for an organization's owner (manage).
const MANAGE: i64 = 7;

fn image_path(region: &str, organization: &str, repository: &str) -> String {
    format!("swr.{region}.myhuaweicloud.com/{organization}/{repository}")
}

impl OrgState {
    /// The organization as SWR lists it.
    pub fn listed(&self, name: &str) -> Organization {
        Organization {
            id: self.id,
            name: name.to_string(),
            creator_name: self.creator.clone(),
            auth: MANAGE,
        }
    }
}

impl World {
    /// The organizations of a region, by name.
    pub fn organizations(&self, region: &str) -> Result<Vec<Organization>, StateError> {
        Ok(self
            .region(region)?
            .organizations
            .iter()
            .map(|(name, org)| org.listed(name))
            .collect())
    }

    /// Every repository of a region, by organization, then name; `repo_query` filters,
    /// sorts and pages them as the listing API asks.
    pub fn repositories(&self, region: &str) -> Result<Vec<Repository>, StateError> {
        Ok(self
            .region(region)?
            .organizations
            .iter()
            .flat_map(|(org_name, org)| {
                org.repositories.iter().map(move |(name, repo)| Repository {
                    name: name.clone(),
                    namespace: org_name.clone(),
                    tags: repo.tags.keys().cloned().collect(),
                    num_images: repo.tags.len() as i64,
                    is_public: false,
                    path: image_path(region, org_name, name),
                    created_at: stamp(repo.created_at),
                    updated_at: stamp(repo.updated_at),
                })
            })
            .collect())
    }

    /// The tags of a repository, by name.
    pub fn tags(&self, repo: &SourceRepo) -> Result<Vec<Tag>, StateError> {
        let path = image_path(repo.region(), repo.organization(), repo.repository());
        Ok(self
            .repository(repo)?
            .tags
            .iter()
            .map(|(name, image)| Tag {
                id: image.id,
                tag: name.clone(),
                digest: image.digest.clone(),
                size: 0,
                path: format!("{path}:{name}"),
                created: stamp(image.created),
                updated: stamp(image.updated),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use crate::emulator::fixtures::{nginx, world};

    #[test]
    fn views_of_the_demo_state() {
        let w = world();
        let repos = w.repositories("cn-north-4").unwrap();
        assert_eq!(
            repos
                .iter()
                .map(|r| (r.namespace.as_str(), r.name.as_str()))
                .collect::<Vec<_>>(),
            [
                ("platform", "nginx"),
                ("platform", "team/api"),
                ("team_a.b-c", "apps/api-server")
            ]
        );
        assert_eq!(
            repos[0].path,
            "swr.cn-north-4.myhuaweicloud.com/platform/nginx"
        );
        assert_eq!(repos[0].num_images, 2);
        assert!(w.repositories("cn-east-3").unwrap().is_empty());
        assert_eq!(w.organizations("cn-east-3").unwrap()[0].name, "platform-dr");
        let tags = w.tags(&nginx()).unwrap();
        assert_eq!(tags[0].tag, "1.25");
        assert_eq!(
            tags[0].path,
            "swr.cn-north-4.myhuaweicloud.com/platform/nginx:1.25"
        );
    }
}
