//! Tag changes through the SWR API: deleting one tag of a repository (`DeleteRepoTag`,
//! `DELETE /v2/manage/namespaces/{namespace}/repos/{repository}/tags/{tag}`).

use chrono::Utc;

use super::state::{StateError, World};
use crate::swr::names::{self, NameKind};
use crate::swr::SourceRepo;

impl World {
    /// Deletes `tag` of `repo`. The tag name must follow SWR's rules; a missing organization,
    /// repository or tag is reported as such. The repository stays, even with no tag left
    /// (deleting it is another API), and sync jobs that copied the tag keep their records.
    /// The deletion is not replicated: auto-sync tasks copy pushes, and no source says that
    /// a deletion reaches their targets.
    pub fn delete_tag(&mut self, repo: &SourceRepo, tag: &str) -> Result<(), StateError> {
        names::validate(NameKind::Tag, tag)?;
        self.repository(repo)?;
        let state = self
            .regions
            .get_mut(repo.region())
            .and_then(|r| r.organizations.get_mut(repo.organization()))
            .and_then(|o| o.repositories.get_mut(repo.repository()))
            .expect("checked above");
        if state.tags.remove(tag).is_none() {
            return Err(StateError::TagNotFound {
                repo: repo.clone(),
                tag: tag.to_string(),
            });
        }
        state.updated_at = Utc::now();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;
    use crate::emulator::errors::{Failure, SWR_IMAGE_NOT_FOUND, SWR_ORGANIZATION_NOT_FOUND};
    use crate::emulator::fixtures::{actor, nginx, task, world};
    use crate::emulator::router::Service;

    fn tag_names(w: &World, repo: &SourceRepo) -> Vec<String> {
        w.repository(repo).unwrap().tags.keys().cloned().collect()
    }

    fn status_and_code(err: StateError) -> (StatusCode, String) {
        let failure = Failure::from(err);
        (failure.status, failure.code(Service::Swr))
    }

    #[test]
    fn deleting_a_tag_leaves_the_others_and_the_repository() {
        let mut w = world();
        let before = w.repository(&nginx()).unwrap().updated_at;
        w.delete_tag(&nginx(), "1.25").unwrap();
        assert_eq!(tag_names(&w, &nginx()), ["latest"]);
        assert!(w.repository(&nginx()).unwrap().updated_at >= before);
        w.delete_tag(&nginx(), "latest").unwrap();
        assert!(
            tag_names(&w, &nginx()).is_empty(),
            "the repository stays without tags"
        );
        let listed = w.tags(&nginx()).unwrap();
        assert!(listed.is_empty(), "{listed:?}");
    }

    #[test]
    fn nested_repositories_lose_their_tags_alike() {
        let mut w = world();
        let team_api = SourceRepo::new("cn-north-4", "platform", "team/api").unwrap();
        w.delete_tag(&team_api, "v1").unwrap();
        assert!(tag_names(&w, &team_api).is_empty());
    }

    #[test]
    fn missing_tags_repositories_and_organizations_are_404s() {
        let mut w = world();
        w.delete_tag(&nginx(), "1.25").unwrap();
        let again = w.delete_tag(&nginx(), "1.25").unwrap_err();
        assert!(matches!(again, StateError::TagNotFound { .. }), "{again}");
        assert_eq!(
            status_and_code(again),
            (StatusCode::NOT_FOUND, SWR_IMAGE_NOT_FOUND.to_string())
        );
        let nope = SourceRepo::new("cn-north-4", "platform", "nope").unwrap();
        let missing_repo = w.delete_tag(&nope, "v1").unwrap_err();
        assert!(matches!(missing_repo, StateError::RepositoryNotFound(_)));
        assert_eq!(
            status_and_code(missing_repo),
            (StatusCode::NOT_FOUND, SWR_IMAGE_NOT_FOUND.to_string())
        );
        let no_org = SourceRepo::new("cn-north-4", "nope", "nginx").unwrap();
        assert_eq!(
            status_and_code(w.delete_tag(&no_org, "v1").unwrap_err()),
            (
                StatusCode::NOT_FOUND,
                SWR_ORGANIZATION_NOT_FOUND.to_string()
            )
        );
        assert_eq!(tag_names(&w, &nginx()), ["latest"], "nothing else changed");
    }

    #[test]
    fn invalid_tag_names_are_400s() {
        let mut w = world();
        for bad in [".hidden", "a/b", ""] {
            let err = w.delete_tag(&nginx(), bad).unwrap_err();
            assert!(matches!(err, StateError::Name(_)), "{bad:?}: {err}");
            assert_eq!(status_and_code(err).0, StatusCode::BAD_REQUEST, "{bad:?}");
        }
        assert_eq!(tag_names(&w, &nginx()), ["1.25", "latest"]);
    }

    #[test]
    fn the_deletion_is_not_replicated() {
        let mut w = world();
        let dr = SourceRepo::new("cn-east-3", "platform-dr", "nginx").unwrap();
        w.create_task(
            &nginx(),
            &task("cn-east-3", "platform-dr", true, false),
            &actor(),
        )
        .unwrap();
        w.push(&nginx(), "1.26", "sha256:cc", &mut || None).unwrap();
        assert_eq!(tag_names(&w, &dr), ["1.26"], "the push was replicated");
        w.delete_tag(&nginx(), "1.26").unwrap();
        assert_eq!(tag_names(&w, &dr), ["1.26"], "the deletion is not");
    }
}
