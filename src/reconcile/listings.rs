//! Task listings shared between rules. Several rules often replicate one repository (to
//! different targets); SWR lists a repository's tasks in one call, so a listing is kept
//! for a short time (`--swr-list-ttl`) and serves every rule of the same account that
//! needs it, with this process's own creates and deletes written into it. Cloud calls
//! then grow with repositories, not with rules; changes made outside the operator, and by
//! rules of other accounts, are seen at most one TTL later than without the cache (a pass
//! taking over a task its listing lacks lists afresh: `assess::assess`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::account::Account;
use super::plan::Action;
use super::task::Change;
use super::task::{ObservedTask, Settings, Target, TaskKey};
use super::ttl_cache::TtlCache;
use crate::swr::model::SyncTask;
use crate::swr::{SourceRepo, SwrApi, SwrError};

/// A repository's tasks by target; `None`: SWR has no such repository.
pub type RepoTasks = Option<BTreeMap<Target, ObservedTask>>;

/// Listings per (account, repository).
#[derive(Debug)]
pub struct TaskListings(TtlCache<(Account, SourceRepo), RepoTasks>);

impl TaskListings {
    /// Listings trusted for `ttl` (zero: every observe lists).
    pub fn new(ttl: Duration) -> Self {
        Self(TtlCache::new(ttl))
    }

    /// The listings as one account sees them, for a pass beginning now. `account` names the
    /// credentials (tenants see different tasks under the same repository path); with
    /// `refresh`, only listings fetched since the pass began serve it (a reconcile the user
    /// asked for trusts nothing cached before).
    pub fn for_account(&self, account: Account, refresh: bool) -> Listings<'_> {
        Listings {
            cache: self,
            account,
            began: Instant::now(),
            refresh,
        }
    }
}

/// One account's view of the shared listings, for one pass.
#[derive(Debug)]
pub struct Listings<'a> {
    cache: &'a TaskListings,
    account: Account,
    began: Instant,
    refresh: bool,
}

impl Listings<'_> {
    /// The same view, served only listings fetched since the pass began: ones it fetched
    /// itself, or that passes running alongside fetched (they share them).
    pub fn afresh(&self) -> Listings<'_> {
        Listings {
            refresh: true,
            account: self.account.clone(),
            ..*self
        }
    }

    fn key(&self, repo: &SourceRepo) -> (Account, SourceRepo) {
        (self.account.clone(), repo.clone())
    }

    /// The tasks of `repo`, listed by whichever pass asked first.
    pub async fn tasks(&self, swr: &impl SwrApi, repo: &SourceRepo) -> Result<RepoTasks, SwrError> {
        let fetch = || async {
            match swr.list_sync_tasks(repo).await {
                Ok(tasks) => Ok(Some(by_target(tasks))),
                Err(e) if e.api().is_service_not_found() => Ok(None),
                Err(e) => Err(e),
            }
        };
        self.cache
            .0
            .get_or_fetch(&self.key(repo), self.refresh.then_some(self.began), fetch)
            .await
    }

    /// Writes this pass's changes into the listings. A repository where an action failed
    /// is forgotten instead: the failed call may have taken effect.
    pub async fn record(&self, actions: &[Action], changes: &[(Change, TaskKey, Settings)]) {
        for action in actions {
            let key = action.key();
            let repo = key.source().clone();
            let target = key.target().clone();
            match changes.iter().find(|(_, changed, _)| changed == key) {
                Some((Change::Deleted, _, _)) => {
                    let gone = |tasks: &mut RepoTasks| {
                        if let Some(tasks) = tasks {
                            tasks.remove(&target);
                        }
                    };
                    self.cache.0.update(&self.key(&repo), gone).await;
                }
                Some((_, _, settings)) => {
                    let made = ObservedTask {
                        id: None,
                        settings: *settings,
                    };
                    let add = |tasks: &mut RepoTasks| {
                        if let Some(tasks) = tasks {
                            tasks.insert(target, made);
                        }
                    };
                    self.cache.0.update(&self.key(&repo), add).await;
                }
                None => self.cache.0.forget(&self.key(&repo)).await,
            }
        }
    }
}

/// Tasks by target. SWR keeps one task per target; should it ever list two, the oldest
/// (lowest id) stands. A target whose names no rule could give (they fail the same checks
/// as a spec's) is no task a rule wants or owns, and is left out.
fn by_target(tasks: Vec<SyncTask>) -> BTreeMap<Target, ObservedTask> {
    let mut out: BTreeMap<Target, ObservedTask> = BTreeMap::new();
    for task in tasks {
        let Ok(target) = Target::new(&task.remote_region_id, &task.remote_namespace) else {
            continue;
        };
        let found = ObservedTask {
            id: Some(task.id),
            settings: Settings {
                override_existing: task.override_existing,
                sync_auto: task.sync_auto,
            },
        };
        out.entry(target)
            .and_modify(|kept| {
                if found.id < kept.id {
                    *kept = found.clone();
                }
            })
            .or_insert(found);
    }
    out
}
