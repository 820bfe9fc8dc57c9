//! Tag listings shared between rules for verification: each (account, repository) is listed
//! once while fresh, whether it is a source or a target, at background priority.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::account::Account;
use super::ttl_cache::TtlCache;
use super::verify::{self, Tags};
use crate::cloud::Priority;
use crate::swr::{SourceRepo, SwrClient, SwrError};

/// A repository's tags as listed at `at` (`tags: None`: SWR has no such repository).
#[derive(Debug, Clone)]
pub struct Listing {
    /// The tags.
    pub tags: Option<Arc<Tags>>,
    /// When they were listed: a copy that ended later may not be in them.
    pub at: DateTime<Utc>,
}

/// Tag listings per (account, repository), source and target repositories alike.
#[derive(Debug)]
pub struct TagListings(TtlCache<(Account, SourceRepo), Listing>);

impl TagListings {
    /// Listings trusted for `ttl`: rules verified together list each repository once.
    pub fn new(ttl: Duration) -> Self {
        Self(TtlCache::new(ttl))
    }

    /// The tags of `repo` as `account` sees them; with `fetched_since`, listed at or after
    /// that instant.
    pub async fn tags(
        &self,
        account: &Account,
        swr: &SwrClient,
        repo: &SourceRepo,
        fetched_since: Option<Instant>,
    ) -> Result<Listing, SwrError> {
        let key = (account.clone(), repo.clone());
        self.0
            .get_or_fetch(&key, fetched_since, || async {
                let at = Utc::now();
                match swr.list_tags(repo, Priority::Background).await {
                    Ok(tags) => Ok(Listing {
                        tags: Some(Arc::new(verify::tags_of(tags))),
                        at,
                    }),
                    Err(e) if e.api().is_service_not_found() => Ok(Listing { tags: None, at }),
                    Err(e) => Err(e),
                }
            })
            .await
    }
}
