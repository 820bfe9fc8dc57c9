//! Wiring: watch ImageSyncRules (and the Secrets they reference), run the pipeline for each
//! with bounded concurrency, until shutdown.

use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Controller};
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{watcher, WatchStreamExt};
use kube::ResourceExt;

use super::context::{Context, ReconcilerConfig};
use super::pipeline::{error_policy, reconcile};
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
    let trigger = watcher(rules, watch)
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(meaningful_change, Default::default());
    let reporter = Reporter {
        controller: config.reporter.clone(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let ctx = Arc::new(Context::new(
        client,
        transport,
        reader.clone(),
        reporter,
        config.reconciler.clone(),
        config.metrics.clone(),
    ));
    let store = reader.clone();
    // Metadata only: the rules need to know that a Secret changed, not what it holds, and
    // no Secret's data should pass through the watch (or sit in memory).
    let secret_changes = watcher(secrets, watcher::Config::default())
        .default_backoff()
        .touched_objects();
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
            let namespace = secret.namespace();
            let name = secret.name_any();
            store
                .state()
                .into_iter()
                .filter(|r| {
                    r.namespace() == namespace && r.spec.credentials_secret_ref.name == name
                })
                .map(|r| ObjectRef::from_obj(&*r))
                .collect::<Vec<_>>()
        })
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
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
    futures::join!(controller, synced);
    config.health.set_ready(false);
    config.metrics.watch_rules(None);
}
