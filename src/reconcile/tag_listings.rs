//! Tag listings shared between rules for verification: each (account, repository) is listed
//! once while fresh, whether it is a source or a target, at background priority.

use std::sync::Arc;
use std::time::Duration;

use super::ttl_cache::TtlCache;
use super::verify::{self, Tags};
use crate::cloud::Priority;
use crate::swr::{SourceRepo, SwrClient, SwrError};

/// A repository's tags (`None`: SWR has no such repository), shared between rules.
pub type Listing = Option<Arc<Tags>>;

/// Tag listings per (account, repository), source and target repositories alike.
#[derive(Debug)]
pub struct TagListings(TtlCache<(String, SourceRepo), Listing>);

impl TagListings {
    /// Listings trusted for `ttl`: rules verified together list each repository once.
    pub fn new(ttl: Duration) -> Self {
        Self(TtlCache::new(ttl))
    }

    /// The tags of `repo` as `account` sees them.
    pub async fn tags(
        &self,
        account: &str,
        swr: &SwrClient,
        repo: &SourceRepo,
    ) -> Result<Listing, SwrError> {
        let key = (account.to_string(), repo.clone());
        self.0
            .get_or_fetch(&key, None, || async {
                match swr.list_tags(repo, Priority::Background).await {
                    Ok(tags) => Ok(Some(Arc::new(verify::tags_of(tags)))),
                    Err(e) if e.api().is_service_not_found() => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await
    }
}
