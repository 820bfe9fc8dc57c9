//! Wiring: watch ImageSyncRules (and the Secrets they reference), run the pipeline for each
//! with bounded concurrency, until shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use futures::channel::mpsc;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Controller};
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{watcher, WatchStreamExt};
use kube::ResourceExt;

use super::account::Account;
use super::claimants::ClaimantIndex;
use super::context::{Context, ReconcilerConfig, RuleWatch};
use super::departures::{self, Departure};
use super::memo::StatusMemo;
use super::pipeline::{error_policy, reconcile};
use super::warmup;
use crate::api::spec::RECONCILE_REQUESTED_AT;
use crate::api::ImageSyncRule;
use crate::cloud::Transport;
use crate::metrics::Metrics;
use crate::server::Health;

/// What to watch and how hard to work.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Only this namespace (None: all).
    pub namespace: Option<String>,
    /// Only rules with these labels (Kubernetes selector syntax).
    pub label_selector: Option<String>,
    /// Rules reconciled at once.
    pub concurrency: u16,
    /// Name in Events' `reportingController`.
    pub reporter: String,
    /// Reconciler settings.
    pub reconciler: ReconcilerConfig,
    /// Where reconciles and cloud calls are counted.
    pub metrics: Arc<Metrics>,
    /// Marked ready once the rules cache has synced.
    pub health: Arc<Health>,
}

/// Rules reconciled at once unless `--concurrency` says otherwise: as many as cloud requests
/// may be in flight. A pass spends most of its time waiting for cloud calls, and has at
/// least one at a time while it calls the cloud, so this many passes keep every slot (and so
/// the rate limiter) busy; more would only queue for slots. At least 8, so that passes
/// that make no cloud call (most of a no-op resync) still overlap their Kubernetes calls.
pub fn default_concurrency(in_flight: u32) -> u16 {
    in_flight.clamp(8, 1024) as u16
}

/// A watch trigger fires only for what should cause work: a spec change (generation),
/// finalizers, deletion or a requested reconcile. The operator's own status writes change
/// none of them, so they never wake the rule they were written to.
fn meaningful_change(rule: &ImageSyncRule) -> Option<u64> {
    let mut h = DefaultHasher::new();
    rule.metadata.generation.hash(&mut h);
    rule.annotations().get(RECONCILE_REQUESTED_AT).hash(&mut h);
    rule.finalizers().hash(&mut h);
    rule.metadata
        .deletion_timestamp
        .as_ref()
        .map(|t| t.0.as_second())
        .hash(&mut h);
    Some(h.finish())
}

/// The Secrets worth waking rules for: those the watch reports changed or deleted, and
/// after a re-list those whose version moved while the watch was down. The first listing
/// wakes nobody: every rule gets its first pass from the rules watch anyway, and a second
/// pass per rule on every start would double the start-up work.
fn changed_only<S>(
    events: S,
) -> impl futures::Stream<Item = Result<PartialObjectMeta<Secret>, watcher::Error>>
where
    S: futures::Stream<Item = Result<watcher::Event<PartialObjectMeta<Secret>>, watcher::Error>>,
{
    let mut seen: HashMap<ObjectRef<PartialObjectMeta<Secret>>, Seen> = HashMap::new();
    let mut listed_once = false;
    events.filter_map(move |event| {
        let wake = match event {
            Ok(watcher::Event::InitApply(secret)) => {
                let changed = Seen::changed(&mut seen, &secret);
                (listed_once && changed).then_some(Ok(secret))
            }
            Ok(watcher::Event::InitDone) => {
                listed_once = true;
                None
            }
            Ok(watcher::Event::Init) => None,
            Ok(watcher::Event::Apply(secret)) => {
                Seen::changed(&mut seen, &secret).then_some(Ok(secret))
            }
            Ok(watcher::Event::Delete(secret)) => {
                seen.remove(&ObjectRef::from_obj(&secret));
                Some(Ok(secret))
            }
            Err(e) => Some(Err(e)),
        };
        std::future::ready(wake)
    })
}

/// What the Secret watch remembers of a Secret: its version, and its finalizers (a new
/// version that changed those, such as the operator's own protection, changes nothing the
/// rules read, and must not cost every rule using the Secret a pass).
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    version: Option<String>,
    finalizers: Vec<String>,
}

impl Seen {
    /// Whether a new version of a Secret is worth a pass of its rules; remembers it in `seen`.
    fn changed(
        seen: &mut HashMap<ObjectRef<PartialObjectMeta<Secret>>, Seen>,
        secret: &PartialObjectMeta<Secret>,
    ) -> bool {
        let now = Self {
            version: secret.resource_version(),
            finalizers: secret.finalizers().to_vec(),
        };
        let before = seen.insert(ObjectRef::from_obj(secret), now.clone());
        before.is_none_or(|b| b.version != now.version && b.finalizers == now.finalizers)
    }
}

/// Runs the controller until `shutdown` resolves; in-flight reconciles finish first.
pub async fn run(
    client: kube::Client,
    transport: Arc<Transport>,
    config: ControllerConfig,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let (rules, secrets): (Api<ImageSyncRule>, Api<PartialObjectMeta<Secret>>) =
        match &config.namespace {
            Some(ns) => (
                Api::namespaced(client.clone(), ns),
                Api::namespaced(client.clone(), ns),
            ),
            None => (Api::all(client.clone()), Api::all(client.clone())),
        };
    let mut watch = watcher::Config::default();
    if let Some(selector) = &config.label_selector {
        watch = watch.labels(selector);
    }
    let (reader, writer) = reflector::store();
    let claimants = Arc::new(ClaimantIndex::default());
    let memo = Arc::new(StatusMemo::default());
    let (departed, departures) = mpsc::unbounded();
    let (loaded, first_load) = mpsc::unbounded();
    let trigger = watcher(rules, watch)
        .default_backoff()
        .modify(slim)
        .reflect(writer)
        .inspect_ok({
            let (claimants, departed, memo) = (claimants.clone(), departed.clone(), memo.clone());
            let mut first_seen = warmup::FirstLoad::default();
            move |event| {
                claimants.apply(event);
                memo.apply(event);
                if let Some(rule) = first_seen.offer(event) {
                    // Fails once the warm-up is over: nothing to do.
                    let _ = loaded.unbounded_send(rule);
                }
                if let watcher::Event::Delete(rule) = event {
                    let _ = departed.unbounded_send(Departure::Rule(Box::new(rule.clone())));
                }
            }
        })
        .applied_objects()
        .predicate_filter(meaningful_change, Default::default());
    let (waker, wakes) = mpsc::unbounded();
    let reporter = Reporter {
        controller: config.reporter.clone(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let watch = RuleWatch {
        rules: reader.clone(),
        sharded: config.label_selector.is_some(),
        claimants,
        waker,
        memo,
    };
    let ctx = Arc::new(Context::new(
        client,
        transport,
        watch,
        reporter,
        config.reconciler.clone(),
        config.metrics.clone(),
    ));
    let store = reader.clone();
    // Metadata only: the rules need to know that a Secret changed, not what it holds, and
    // no Secret's data should pass through the watch (or sit in memory).
    // Every listing counts for protected Secrets being deleted, the first one too: one
    // may have been deleted while no operator ran.
    let seen = departed.clone();
    let secret_events = watcher(secrets, watcher::Config::default())
        .default_backoff()
        .inspect_ok(move |event| {
            if let watcher::Event::Apply(secret) | watcher::Event::InitApply(secret) = event {
                if let Some(departure) = departures::of_secret(secret) {
                    let _ = seen.unbounded_send(departure);
                }
            }
        });
    let secret_changes = changed_only(secret_events);
    let synced = {
        let (reader, metrics, health) = (
            reader.clone(),
            config.metrics.clone(),
            config.health.clone(),
        );
        async move {
            if reader.wait_until_ready().await.is_ok() {
                metrics.watch_rules(Some(reader));
                health.set_ready(true);
                tracing::info!("rules cache synced; reconciling");
            }
        }
    };
    let controller = Controller::for_stream(trigger, reader)
        .with_config(controller::Config::default().concurrency(config.concurrency))
        .watches_stream(secret_changes, move |secret: PartialObjectMeta<Secret>| {
            let account = Account::new(&secret.namespace().unwrap_or_default(), &secret.name_any());
            store
                .state()
                .into_iter()
                .filter(|r| account.is_of(r))
                .map(|r| ObjectRef::from_obj(&*r))
                .collect::<Vec<_>>()
        })
        .reconcile_on(wakes)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|result| async move {
            match result {
                Ok((rule, _)) => {
                    let namespace = rule.namespace.as_deref().unwrap_or_default();
                    tracing::debug!(namespace, rule = %rule.name, "reconciled")
                }
                // error_policy has logged it, with the rule.
                Err(controller::Error::ReconcilerFailed(..)) => {}
                Err(e) => tracing::warn!(error = %e, "controller error"),
            }
        });
    // Departures are followed while the controller runs, and dropped with it.
    let warm = warmup::warm_up(first_load, ctx.clone());
    let departures = departures::follow(departures, departed, ctx);
    let work = async { futures::join!(controller, synced, warm) };
    futures::pin_mut!(departures, work);
    futures::future::select(work, departures).await;
    config.health.set_ready(false);
    config.metrics.watch_rules(None);
}

/// Annotation `kubectl apply` keeps a whole copy of the applied object in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops what the operator never reads from a rule before it is cached: managedFields and
/// kubectl's last applied copy are most of a rule as the API server sends it, and the cache
/// holds every rule for the life of the process.
fn slim(rule: &mut ImageSyncRule) {
    rule.managed_fields_mut().clear();
    rule.annotations_mut().remove(LAST_APPLIED);
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use kube::core::PartialObjectMetaExt;

    use super::*;

    fn secret(name: &str, version: &str) -> PartialObjectMeta<Secret> {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            resource_version: Some(version.into()),
            ..ObjectMeta::default()
        }
        .into_response_partial()
    }

    fn protected(mut secret: PartialObjectMeta<Secret>) -> PartialObjectMeta<Secret> {
        secret.metadata.finalizers = Some(vec!["swrsync.io/credentials-in-use".into()]);
        secret
    }

    #[test]
    fn the_cache_keeps_what_reconciles_read_and_drops_copies() {
        let mut rule: ImageSyncRule = serde_json::from_value(serde_json::json!({
            "apiVersion": "swrsync.io/v1alpha1",
            "kind": "ImageSyncRule",
            "metadata": {
                "name": "a", "namespace": "ns", "generation": 3,
                "annotations": {LAST_APPLIED: "{...}", RECONCILE_REQUESTED_AT: "now"},
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
            },
            "spec": {
                "source": {"region": "cn-north-4", "organization": "platform", "repositories": ["nginx"]},
                "targets": [{"region": "cn-east-3", "organization": "dr"}],
                "credentialsSecretRef": {"name": "creds"},
            },
        }))
        .unwrap();
        let spec = rule.spec.clone();
        slim(&mut rule);
        assert!(rule.managed_fields().is_empty());
        assert_eq!(
            rule.annotations().keys().collect::<Vec<_>>(),
            [RECONCILE_REQUESTED_AT]
        );
        assert_eq!((rule.spec, rule.metadata.generation), (spec, Some(3)));
    }

    #[tokio::test]
    async fn the_first_listing_wakes_nobody_but_changes_do() {
        use watcher::Event::*;
        let events = vec![
            Init,
            InitApply(secret("a", "1")),
            InitApply(secret("b", "1")),
            InitDone,
            Apply(secret("a", "2")),
            // The operator protects a: only the finalizers changed.
            Apply(protected(secret("a", "3"))),
            // A re-list after the watch broke: b moved meanwhile, a did not, c is new.
            Init,
            InitApply(protected(secret("a", "3"))),
            InitApply(secret("b", "3")),
            InitApply(secret("c", "1")),
            InitDone,
            Delete(secret("c", "1")),
            // The protected a is deleted and created again (without the finalizer, which
            // the watch must not take for a mere finalizer change).
            Delete(protected(secret("a", "4"))),
            Apply(secret("a", "5")),
        ];
        let woken: Vec<String> = changed_only(futures::stream::iter(events.into_iter().map(Ok)))
            .map(|s| {
                let s = s.unwrap();
                format!("{}@{}", s.name_any(), s.resource_version().unwrap())
            })
            .collect()
            .await;
        assert_eq!(woken, ["a@2", "b@3", "c@1", "c@1", "a@4", "a@5"]);
    }
}
