//! What every reconcile shares: Kubernetes client, cloud transport, the rules cache and its
//! index for claims, the Events reporter, cached cloud authentication and per-rule backoff.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{ObjectRef, Store};
use rand::Rng;

use super::account::Account;
use super::claimants::ClaimantIndex;
use super::events::Publisher;
use super::ledger::Ledger;
use super::listings::TaskListings;
use super::memo::StatusMemo;
use super::regions::RegionCache;
use super::scans::ScanGate;
use super::tag_listings::TagListings;
use super::task::TaskKey;
use crate::api::status::RuleName;
use crate::api::ImageSyncRule;
use crate::auth::{CloudAuth, Credentials};
use crate::cloud::{CloudClient, Transport};
use crate::hss::HssClient;
use crate::metrics::Metrics;
use crate::swr::SwrClient;

/// First retry delay after a retryable failure; doubles per consecutive failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(5);
/// Longest retry delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Settings of the reconciler.
#[derive(Debug, Clone, Default)]
pub struct ReconcilerConfig {
    /// `enterprise_project_id` for HSS refreshes (`all_granted_eps`, or one project), unless
    /// a rule sets its own.
    pub hss_enterprise_project_id: Option<String>,
    /// At most one HSS refresh per account, region and image type in this interval.
    pub hss_debounce: Duration,
    /// How long a repository's task listing serves other rules (zero: not shared).
    pub swr_list_ttl: Duration,
    /// Verification does not judge tags pushed more recently than this.
    pub verify_grace: Duration,
}

/// Shared state of all reconciles.
pub struct Context {
    /// Kubernetes API client.
    pub client: kube::Client,
    /// Cloud transport (one rate limit for the whole process).
    pub transport: Arc<Transport>,
    /// Every rule the controller sees.
    pub rules: Store<ImageSyncRule>,
    /// Whether `rules` holds only the rules a label selector picks (another deployment may
    /// watch the rest).
    pub sharded: bool,
    /// The same rules by the tasks they may want, for claims.
    pub claimants: Arc<ClaimantIndex>,
    /// Where Events go.
    pub events: Publisher,
    /// Settings.
    pub config: ReconcilerConfig,
    /// Metrics of reconciles.
    pub metrics: Arc<Metrics>,
    /// Sync regions per source region.
    pub regions: RegionCache,
    /// HSS refresh debouncing.
    pub scans: ScanGate,
    /// Task listings shared between rules.
    pub listings: TaskListings,
    /// Tag listings shared between rules' verifications.
    pub tag_listings: TagListings,
    /// Who owns which task, as this process decided (ahead of the cache).
    pub ledger: Ledger,
    /// Statuses written that the cache does not show yet.
    pub memo: Arc<StatusMemo>,
    waker: UnboundedSender<ObjectRef<ImageSyncRule>>,
    // Replaced when the Secret's content changes, so IAM tokens survive between reconciles
    // but never outlive their credentials.
    auth: Mutex<HashMap<Account, Arc<CloudAuth>>>,
    failures: Mutex<HashMap<RuleName, u32>>,
}

/// What the controller's watch of the rules gives every reconcile.
pub struct RuleWatch {
    /// Every rule the controller sees.
    pub rules: Store<ImageSyncRule>,
    /// Whether those are only the rules a label selector picks.
    pub sharded: bool,
    /// The same rules by the tasks they may want or hold.
    pub claimants: Arc<ClaimantIndex>,
    /// Where reconciles of other rules are asked for.
    pub waker: UnboundedSender<ObjectRef<ImageSyncRule>>,
    /// Statuses written that the cache does not show yet.
    pub memo: Arc<StatusMemo>,
}

impl Context {
    /// A context with empty caches.
    pub fn new(
        client: kube::Client,
        transport: Arc<Transport>,
        watch: RuleWatch,
        reporter: Reporter,
        config: ReconcilerConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (hss_debounce, list_ttl) = (config.hss_debounce, config.swr_list_ttl);
        let events = Publisher::new(client.clone(), reporter);
        let RuleWatch {
            rules,
            sharded,
            claimants,
            waker,
            memo,
        } = watch;
        Self {
            client,
            transport,
            rules,
            sharded,
            claimants,
            events,
            config,
            metrics,
            regions: RegionCache::default(),
            scans: ScanGate::new(hss_debounce),
            listings: TaskListings::new(list_ttl),
            tag_listings: TagListings::new(list_ttl),
            ledger: Ledger::default(),
            waker,
            memo,
            auth: Mutex::default(),
            failures: Mutex::default(),
        }
    }

    /// The rules in the cache that may claim one of `keys` (see `claims::claims`).
    pub fn claimants_of(&self, keys: &BTreeSet<TaskKey>) -> Vec<Arc<ImageSyncRule>> {
        let candidates = self.claimants.candidates(keys);
        candidates
            .iter()
            .filter_map(|r| self.rules.get(r))
            .collect()
    }

    /// Has `rule` reconciled soon (after any pass of it under way), whatever its resync.
    pub fn wake(&self, rule: &RuleName) {
        let target = ObjectRef::new(&rule.name).within(&rule.namespace);
        // The receiver goes only with the controller, when nothing is left to wake.
        let _ = self.waker.unbounded_send(target);
    }

    /// SWR and HSS clients for `account`, whose Secret holds `credentials`.
    pub fn clients(&self, account: Account, credentials: Credentials) -> (SwrClient, HssClient) {
        let auth = {
            let mut cache = self.auth.lock().expect("auth cache lock");
            let entry = cache
                .entry(account)
                .or_insert_with(|| Arc::new(CloudAuth::new(credentials.clone())));
            if entry.credentials() != &credentials {
                *entry = Arc::new(CloudAuth::new(credentials));
            }
            entry.clone()
        };
        let cloud = CloudClient::new(self.transport.clone(), auth);
        (SwrClient::new(cloud.clone()), HssClient::new(cloud))
    }

    /// The delay before retrying a rule after a retryable failure: exponential with jitter
    /// per rule, at least what the service asked for.
    pub fn backoff(&self, rule: RuleName, retry_after: Option<Duration>) -> Duration {
        let failures = {
            let mut map = self.failures.lock().expect("backoff lock");
            let n = map.entry(rule).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        let exp = BACKOFF_BASE
            .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(16)))
            .min(BACKOFF_MAX);
        let jittered = exp.mul_f64(rand::thread_rng().gen_range(0.8..=1.2));
        retry_after.map_or(jittered, |after| after.max(jittered))
    }

    /// Forgets a rule's failures after a clean pass.
    pub fn reset_backoff(&self, rule: &RuleName) {
        self.failures.lock().expect("backoff lock").remove(rule);
    }
}

/// `interval` stretched by up to 10 %, so rules created together do not resync together.
pub fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(rand::thread_rng().gen_range(1.0..=1.1))
}
