//! SWR handlers: auto-sync tasks, manual sync, sync jobs, tag deletion, and the region,
//! organization, repository and tag lists, with SWR's paging (`limit`/`offset`,
//! `Content-Range`); the repository list's parameters live in `repo_query`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::app::{empty, json, CloudCall};
use super::auth::Caller;
use super::errors::{Failure, SWR_FORBIDDEN};
use super::jobs::JOB_FAILED;
use super::paging::Window;
use super::repo_query::RepoQuery;
use super::router::{RepoPath, SwrOp};
use super::state::World;
use crate::swr::model::{CreateSyncTask, ManualSync, OrganizationList, RegionInfo, SyncTarget};
use crate::swr::SourceRepo;

/// Handles an authenticated SWR operation in the routed region.
pub fn handle(call: &CloudCall<'_>, caller: &Caller, op: &SwrOp) -> Result<Response, Failure> {
    let region = call.region;
    let source = |path: &RepoPath| {
        SourceRepo::new(region, &path.organization, &path.repository)
            .map_err(|e| Failure::bad_request(e.to_string()))
    };
    if !caller.may(op.name()) {
        return Err(forbidden(format!(
            "the access key may not call {}",
            op.name()
        )));
    }
    let mut world = call.app.world();
    // Organizations belong to a domain; another domain's keys are refused.
    let own = |world: &World, region: &str, organization: &str| match world
        .organization(region, organization)
    {
        Ok(org) if org.creator != caller.actor.domain_name => Err(forbidden(format!(
            "organization {organization} in {region} belongs to another account"
        ))),
        _ => Ok(()),
    };
    if let Some(path) = op.repo_path() {
        own(&world, region, &path.organization)?;
    }
    let response = match op {
        SwrOp::ListSyncTasks(path) => json(StatusCode::OK, &world.tasks_of(&source(path)?)?),
        SwrOp::CreateSyncTask(path) => {
            let repo = source(path)?;
            let body: CreateSyncTask = call.json()?;
            own(&world, &body.remote_region_id, &body.remote_namespace)?;
            world.create_task(&repo, &body, &caller.actor)?;
            empty()
        }
        SwrOp::DeleteSyncTask(path) => {
            let repo = source(path)?;
            let body: SyncTarget = call.json()?;
            world.delete_task(&repo, &body)?;
            empty()
        }
        SwrOp::SyncImages(path) => {
            let repo = source(path)?;
            let body: ManualSync = call.json()?;
            let faults = &call.app.faults;
            let jobs =
                world.manual_sync(&repo, &body, &caller.actor, &mut || faults.job_ending())?;
            let failed: Vec<&str> = jobs
                .iter()
                .filter(|j| j.status == JOB_FAILED)
                .map(|j| j.tag.as_str())
                .collect();
            json(StatusCode::OK, &failed)
        }
        SwrOp::ListSyncJobs(path) => {
            let (page, newest_first) = job_filter(call.query("filter"))?;
            let mut jobs = world.jobs_of(&source(path)?)?;
            if !newest_first {
                jobs.reverse();
            }
            page.answer(jobs)
        }
        SwrOp::ListTags(path) => {
            let page = Window::parse(call.query("limit"), call.query("offset"))?;
            page.answer(world.tags(&source(path)?)?)
        }
        // `DeleteRepoTag`: 204 and no body (api-swr `swr_02_0036`; the SDKs' response has
        // no fields).
        SwrOp::DeleteTag(path, tag) => {
            world.delete_tag(&source(path)?, tag)?;
            StatusCode::NO_CONTENT.into_response()
        }
        SwrOp::ListRegions => {
            let regions: Vec<RegionInfo> = world
                .regions
                .keys()
                .filter(|r| r.as_str() != region)
                .map(|r| RegionInfo {
                    region_id: r.clone(),
                })
                .collect();
            json(StatusCode::OK, &regions)
        }
        SwrOp::ListOrganizations => {
            let mut namespaces = world.organizations(region)?;
            namespaces.retain(|o| own(&world, region, &o.name).is_ok());
            json(StatusCode::OK, &OrganizationList { namespaces })
        }
        SwrOp::ListRepositories => {
            let hidden = call.app.faults.get().hidden_repositories;
            let mut repositories = world.repositories(region)?;
            repositories.retain(|r| {
                !hidden.contains(&format!("{}/{}", r.namespace, r.name))
                    && own(&world, region, &r.namespace).is_ok()
            });
            RepoQuery::parse(|key| call.query(key))?.answer(repositories)
        }
    };
    Ok(response)
}

/// SWR's answer to a caller without the permission: 403 "Insufficient permissions".
fn forbidden(detail: String) -> Failure {
    Failure::new(
        StatusCode::FORBIDDEN,
        format!("Insufficient permissions: {detail}"),
    )
    .with_code(SWR_FORBIDDEN)
}

/// SWR's sync job filter `limit::N|offset::M[|order::desc|asc]` (`ShowSyncJobRequest`:
/// limit and offset "are mandatory and should always be used together"; the order is by
/// creation time). Returns the page and whether the newest job comes first. Without an order
/// the pages do not say which comes first; the emulator lists oldest first, so a client that
/// needs the newest must ask for them.
fn job_filter(filter: Option<&str>) -> Result<(Window, bool), Failure> {
    let (mut limit, mut offset, mut newest_first) = (None, None, false);
    for part in filter.unwrap_or_default().split('|') {
        match part.split_once("::") {
            Some(("limit", v)) => limit = Some(v),
            Some(("offset", v)) => offset = Some(v),
            Some(("order", "desc")) => newest_first = true,
            Some(("order", "asc")) => newest_first = false,
            _ => {
                return Err(Failure::bad_request(format!(
                    "filter part {part:?} is not limit::N, offset::M or order::desc|asc"
                )))
            }
        }
    }
    if limit.is_none() || offset.is_none() {
        return Err(Failure::bad_request(
            "filter must be limit::{limit}|offset::{offset}[|order::{order}]: limit and offset \
             are mandatory",
        ));
    }
    Ok((Window::parse(limit, offset)?, newest_first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_filter_needs_limit_and_offset_and_takes_an_order() {
        let (page, newest_first) = job_filter(Some("limit::2|offset::4")).unwrap();
        assert_eq!((page.offset, page.limit, newest_first), (4, 2, false));
        let (_, newest_first) = job_filter(Some("order::desc|offset::0|limit::5")).unwrap();
        assert!(newest_first, "any order of parts");
        let bad = [
            None,
            Some("limit::2"),
            Some("limit::x|offset::0"),
            Some("size::3"),
            Some("limit::1|offset::0|order::up"),
        ];
        for filter in bad {
            assert!(job_filter(filter).is_err(), "{filter:?}");
        }
    }
}
