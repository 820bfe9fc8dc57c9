//! Region checks: the regions SWR can replicate a source region to (`GET
//! /v2/manage/regions`, cached per source region), and a rule's targets checked against
//! them before any task call.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::report::Problem;
use super::ttl_cache::TtlCache;
use crate::api::spec::ImageSyncRuleSpec;
use crate::api::status::reason;
use crate::swr::SwrClient;

/// How long a region list is trusted; SWR adds regions rarely.
pub const REGIONS_TTL: Duration = Duration::from_secs(3600);

/// The regions a source region can replicate to.
pub type Regions = Arc<BTreeSet<String>>;

/// Sync regions per source region, fetched at most once per TTL.
#[derive(Debug)]
pub struct RegionCache(TtlCache<String, Regions>);

impl Default for RegionCache {
    fn default() -> Self {
        Self(TtlCache::new(REGIONS_TTL))
    }
}

impl RegionCache {
    /// The regions `source` can replicate to, from the cache or from `fetch`.
    pub async fn get_or_fetch<E, Fut>(
        &self,
        source: &str,
        fetch: impl FnOnce() -> Fut,
    ) -> Result<Regions, E>
    where
        Fut: Future<Output = Result<Vec<String>, E>>,
    {
        let fetch = || async { Ok(Arc::new(fetch().await?.into_iter().collect())) };
        self.0.get_or_fetch(&source.to_string(), None, fetch).await
    }
}

/// The regions check of a reconcile: every target region is one SWR can replicate the source to.
/// Costs one cached `list_regions` per source region, and nothing for same-region targets.
///
/// Fails open: the regions API is not in every region's API reference and may not be
/// served everywhere, so when the lookup itself fails the check is skipped (the returned
/// note says why, for a Warning Event) and SWR's own answer to the create decides. Only a
/// list that lacks a target makes the spec invalid.
pub async fn check(
    spec: &ImageSyncRuleSpec,
    swr: &SwrClient,
    cache: &RegionCache,
) -> Result<Option<String>, Problem> {
    let source = &spec.source.region;
    if spec.targets.iter().all(|t| &t.region == source) {
        return Ok(None);
    }
    let supported = match cache.get_or_fetch(source, || swr.list_regions(source)).await {
        Ok(supported) => supported,
        Err(e) => {
            return Ok(Some(format!(
                "target regions not checked: the regions SWR can replicate {source} to could not be read ({e})"
            )))
        }
    };
    match unsupported_targets(spec, &supported) {
        Some(message) => Err(Problem::stalled(reason::INVALID_SPEC, message)),
        None => Ok(None),
    }
}

/// Targets in regions SWR cannot replicate the source to, as a user-facing message. A
/// target in the source's own region (another organization) needs no cross-region support.
pub fn unsupported_targets(
    spec: &ImageSyncRuleSpec,
    supported: &BTreeSet<String>,
) -> Option<String> {
    let source = &spec.source.region;
    let bad: BTreeSet<&str> = spec
        .targets
        .iter()
        .map(|t| t.region.as_str())
        .filter(|r| r != source && !supported.contains(*r))
        .collect();
    if bad.is_empty() {
        return None;
    }
    let bad: Vec<&str> = bad.into_iter().collect();
    let supported: Vec<&str> = supported.iter().map(String::as_str).collect();
    Some(format!(
        "SWR cannot replicate {source} to {}; regions it can replicate {source} to: {}",
        bad.join(", "),
        if supported.is_empty() {
            "none".to_string()
        } else {
            supported.join(", ")
        }
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn spec(targets: &[&str]) -> ImageSyncRuleSpec {
        serde_json::from_value(serde_json::json!({
            "source": {"region": "cn-north-4", "organization": "platform", "repositories": ["nginx"]},
            "targets": targets.iter().map(|r| serde_json::json!({"region": r, "organization": "dr"})).collect::<Vec<_>>(),
            "credentialsSecretRef": {"name": "s"},
        }))
        .unwrap()
    }

    fn set(regions: &[&str]) -> BTreeSet<String> {
        regions.iter().map(|r| r.to_string()).collect()
    }

    #[test]
    fn targets_are_checked_against_the_list() {
        let supported = set(&["ap-southeast-1", "cn-east-3"]);
        assert_eq!(unsupported_targets(&spec(&["cn-east-3"]), &supported), None);
        // Same region, other organization: not a cross-region sync.
        assert_eq!(
            unsupported_targets(&spec(&["cn-north-4"]), &supported),
            None
        );
        assert_eq!(
            unsupported_targets(
                &spec(&["cn-east-3", "eu-west-101", "af-south-1"]),
                &supported
            )
            .as_deref(),
            Some(
                "SWR cannot replicate cn-north-4 to af-south-1, eu-west-101; regions it can \
                 replicate cn-north-4 to: ap-southeast-1, cn-east-3"
            )
        );
    }

    #[tokio::test]
    async fn a_list_is_fetched_once_per_source_region() {
        let cache = RegionCache::default();
        let fetches = AtomicU32::new(0);
        let fetch = || async {
            fetches.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(vec!["cn-east-3".to_string()])
        };
        for _ in 0..3 {
            let regions = cache.get_or_fetch("cn-north-4", fetch).await.unwrap();
            assert!(regions.contains("cn-east-3"));
        }
        cache.get_or_fetch("cn-east-3", fetch).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        // A failed fetch is not cached.
        assert!(cache.get_or_fetch("x", || async { Err(()) }).await.is_err());
        cache.get_or_fetch("x", fetch).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
    }
}
