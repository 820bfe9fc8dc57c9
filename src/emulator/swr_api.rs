//! SWR handlers: auto-sync tasks, manual sync, sync jobs, and the region, organization,
//! repository and tag lists, with SWR's paging (`limit`/`offset`, `Content-Range`); the
//! repository list's parameters live in `repo_query`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Serialize;

use super::auth::Caller;
use super::errors::{Failure, SWR_FORBIDDEN};
use super::replication::JOB_FAILED;
use super::repo_query::RepoQuery;
use super::router::{RepoPath, SwrOp};
use super::server::{empty, json, CloudCall};
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
            let jobs = world.manual_sync(&repo, &body, &caller.actor)?;
            let failed: Vec<&str> = jobs
                .iter()
                .filter(|j| j.status == JOB_FAILED)
                .map(|j| j.tag.as_str())
                .collect();
            json(StatusCode::OK, &failed)
        }
        SwrOp::ListSyncJobs(path) => {
            let page = Page::from_filter(call.query("filter"))?;
            page.answer(world.jobs_of(&source(path)?)?)
        }
        SwrOp::ListTags(path) => Page::from_query(call)?.answer(world.tags(&source(path)?)?),
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

/// One page of a list: `offset` first, at most `limit` items (all when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Page {
    offset: usize,
    limit: Option<usize>,
}

fn number(key: &str, value: &str) -> Result<usize, Failure> {
    value
        .parse()
        .map_err(|_| Failure::bad_request(format!("{key} must be a non-negative integer")))
}

impl Page {
    /// `?limit=N&offset=M`.
    fn from_query(call: &CloudCall<'_>) -> Result<Self, Failure> {
        Ok(Self {
            offset: match call.query("offset") {
                Some(v) => number("offset", v)?,
                None => 0,
            },
            limit: call
                .query("limit")
                .map(|v| number("limit", v))
                .transpose()?,
        })
    }

    /// SWR's sync job filter `limit::N|offset::M`.
    fn from_filter(filter: Option<&str>) -> Result<Self, Failure> {
        let mut page = Self::default();
        for part in filter
            .unwrap_or_default()
            .split('|')
            .filter(|p| !p.is_empty())
        {
            match part.split_once("::") {
                Some(("limit", v)) => page.limit = Some(number("limit", v)?),
                Some(("offset", v)) => page.offset = number("offset", v)?,
                _ => {
                    return Err(Failure::bad_request(format!(
                        "filter part {part:?} is not limit::N or offset::M"
                    )))
                }
            }
        }
        Ok(page)
    }

    /// The page of `items` with `Content-Range: start-end/total` (`*/total` when empty).
    fn answer<T: Serialize>(self, items: Vec<T>) -> Response {
        let total = items.len();
        let page: Vec<T> = items
            .into_iter()
            .skip(self.offset)
            .take(self.limit.unwrap_or(usize::MAX))
            .collect();
        let range = match page.len() {
            0 => format!("*/{total}"),
            n => format!("{}-{}/{total}", self.offset, self.offset + n - 1),
        };
        let mut response = json(StatusCode::OK, &page);
        response.headers_mut().insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&range).expect("digits are a valid header value"),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_and_content_range() {
        let page = Page::from_filter(Some("limit::2|offset::1")).unwrap();
        assert_eq!(
            page,
            Page {
                offset: 1,
                limit: Some(2)
            }
        );
        assert_eq!(Page::from_filter(None).unwrap(), Page::default());
        assert!(Page::from_filter(Some("limit::x")).is_err());
        assert!(Page::from_filter(Some("size::3")).is_err());
        let range = |page: Page, n: usize| {
            let response = page.answer((0..n).collect());
            response.headers()[header::CONTENT_RANGE]
                .to_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(range(page, 5), "1-2/5");
        assert_eq!(range(Page::default(), 3), "0-2/3");
        assert_eq!(range(page, 1), "*/1");
    }
}
