//! An operator under test: a real API server namespace, an in-process emulator and the
//! controller running in-process against both.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};
use swr_sync_operator::api::spec::RECONCILE_REQUESTED_AT;
use swr_sync_operator::api::ImageSyncRule;
use swr_sync_operator::cloud::endpoint::Endpoints;
use swr_sync_operator::cloud::transport::RetryPolicy;
use swr_sync_operator::cloud::{Transport, TransportConfig};
use swr_sync_operator::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use swr_sync_operator::metrics::Metrics;
use swr_sync_operator::reconcile::context::ReconcilerConfig;
use swr_sync_operator::reconcile::controller::{self, ControllerConfig};
use swr_sync_operator::server::Health;
use swr_sync_operator::swr::SwrClient;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::cluster;

/// The demo access key of the embedded emulator config.
pub const ACCESS_KEY: &str = "QTWAOYTTINDUT2QVKYUC";
/// Its secret key.
pub const SECRET_KEY: &str = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc";

/// Label every rule of a test carries (its namespace), so that an operator watching all
/// namespaces sees only that test's rules.
pub const TEST_LABEL: &str = "swrsync-test";

/// A namespace + emulator + (restartable) operator.
pub struct Env {
    pub client: Client,
    pub ns: String,
    pub emulator: EmulatorHandle,
    pub qps: f64,
    /// Cloud requests in flight at once (`None`: the transport's default).
    pub max_in_flight: Option<u32>,
    /// Reconciler settings of the next `start_operator`.
    pub reconciler: ReconcilerConfig,
    /// What the in-process controller and its transport record (kept across restarts, so
    /// counts add up over the whole test).
    pub metrics: Arc<Metrics>,
    /// The controller's readiness.
    pub health: Arc<Health>,
    /// Watch every namespace (rules of this test only: they carry its label) instead of
    /// this one alone.
    pub all_namespaces: bool,
    /// `service:region=url` endpoints of the next `start_operator`, before the emulator's
    /// template.
    pub endpoint_overrides: Vec<String>,
    operator: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl Env {
    /// Fresh namespace and emulator, credentials Secret created, operator running.
    pub async fn start(prefix: &str) -> Self {
        let mut env = Self::without_operator(prefix).await;
        env.create_secret("swr-credentials").await;
        env.start_operator();
        env
    }

    /// Fresh namespace and emulator; no Secret, no operator yet.
    pub async fn without_operator(prefix: &str) -> Self {
        Self::with_emulator_config(prefix, EmulatorConfig::embedded_default()).await
    }

    /// Like [`Env::without_operator`], with the emulator started from `config`.
    pub async fn with_emulator_config(prefix: &str, config: EmulatorConfig) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let client = cluster::client().await;
        cluster::install_crd(&client).await;
        let ns = cluster::namespace(&client, prefix).await;
        let emulator = Emulator::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("emulator starts");
        Self {
            client,
            ns,
            emulator,
            qps: 20.0,
            max_in_flight: None,
            reconciler: ReconcilerConfig::default(),
            metrics: Arc::default(),
            health: Arc::default(),
            all_namespaces: false,
            endpoint_overrides: Vec::new(),
            operator: None,
        }
    }

    /// Starts the controller for this namespace.
    pub fn start_operator(&mut self) {
        assert!(self.operator.is_none(), "operator already running");
        let mut endpoints = Endpoints::single(&self.emulator.endpoint_template()).unwrap();
        for spec in &self.endpoint_overrides {
            endpoints.add_override(spec).unwrap();
        }
        let transport = Transport::new(TransportConfig {
            endpoints,
            timeout: Duration::from_secs(2),
            qps: self.qps,
            burst: 5,
            max_in_flight: self.max_in_flight,
            retry: RetryPolicy {
                max_retries: 2,
                base: Duration::from_millis(50),
                max_backoff: Duration::from_millis(500),
            },
        })
        .unwrap()
        .with_metrics(self.metrics.clone());
        let (namespace, label_selector) = match self.all_namespaces {
            true => (None, Some(format!("{TEST_LABEL}={}", self.ns))),
            false => (Some(self.ns.clone()), None),
        };
        let config = ControllerConfig {
            namespace,
            label_selector,
            concurrency: 4,
            reporter: "swr-sync-operator-test".into(),
            reconciler: self.reconciler.clone(),
            metrics: self.metrics.clone(),
            health: self.health.clone(),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(controller::run(
            self.client.clone(),
            Arc::new(transport),
            config,
            async move {
                let _ = stopped.await;
            },
        ));
        self.operator = Some((stop, handle));
    }

    /// An SWR client with the demo credentials: "somebody else" using the API directly.
    pub fn swr_client(&self) -> SwrClient {
        crate::cloud::swr_client(&self.emulator, None, TransportConfig::default().qps)
    }

    /// Stops the controller gracefully.
    pub async fn stop_operator(&mut self) {
        if let Some((stop, handle)) = self.operator.take() {
            let _ = stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(20), handle).await;
        }
    }

    /// Kills the controller at once, as a crashed process would stop.
    pub fn kill_operator(&mut self) {
        if let Some((_, handle)) = self.operator.take() {
            handle.abort();
        }
    }

    /// The rules API of the namespace.
    pub fn rules(&self) -> Api<ImageSyncRule> {
        self.rules_in(&self.ns)
    }

    /// The rules API of another namespace.
    pub fn rules_in(&self, ns: &str) -> Api<ImageSyncRule> {
        Api::namespaced(self.client.clone(), ns)
    }

    /// Creates the credentials Secret with the emulator's demo AK/SK.
    pub async fn create_secret(&self, name: &str) {
        self.create_secret_in(&self.ns, name).await;
    }

    /// Creates the credentials Secret in another namespace.
    pub async fn create_secret_in(&self, ns: &str, name: &str) {
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": name},
            "stringData": {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY},
        }))
        .unwrap();
        Api::<Secret>::namespaced(self.client.clone(), ns)
            .create(&PostParams::default(), &secret)
            .await
            .expect("creating the Secret");
    }

    /// Applies a rule the way GitOps tools do (server-side apply of the whole object).
    pub async fn apply(&self, name: &str, spec: Value) -> Result<ImageSyncRule, kube::Error> {
        self.apply_in(&self.ns, name, spec).await
    }

    /// Applies a rule in another namespace (labelled for this test).
    pub async fn apply_in(
        &self,
        ns: &str,
        name: &str,
        spec: Value,
    ) -> Result<ImageSyncRule, kube::Error> {
        let rule = json!({
            "apiVersion": "swrsync.io/v1alpha1",
            "kind": "ImageSyncRule",
            "metadata": {"name": name, "labels": {TEST_LABEL: self.ns}},
            "spec": spec,
        });
        self.rules_in(ns)
            .patch(
                name,
                &PatchParams::apply("gitops").force(),
                &Patch::Apply(&rule),
            )
            .await
    }

    /// Asks for a pass of `name` now (the reconcile-requested-at annotation set to `value`).
    pub async fn request_reconcile(&self, name: &str, value: &str) {
        let patch = json!({"metadata": {"annotations": {RECONCILE_REQUESTED_AT: value}}});
        self.rules()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("annotating the rule");
    }

    /// Asks for a reconcile of `name` (the annotation set to `value`) and waits until a pass
    /// handled it.
    pub async fn reconcile_now(&self, name: &str, value: &str) {
        self.request_reconcile(name, value).await;
        self.wait_for(name, &format!("the pass asked as {value}"), |r| {
            r.and_then(|r| r.status.as_ref())
                .is_some_and(|s| s.last_handled_reconcile_at.as_deref() == Some(value))
        })
        .await;
    }

    /// Deletes a rule.
    pub async fn delete(&self, name: &str) {
        self.rules()
            .delete(name, &DeleteParams::default())
            .await
            .expect("deleting the rule");
    }

    /// Waits until `check` holds for the rule (or it is gone, for `None`).
    pub async fn wait_for(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(Option<&ImageSyncRule>) -> bool,
    ) -> Option<ImageSyncRule> {
        self.wait_for_in(&self.ns, name, what, check).await
    }

    /// Waits until `check` holds for a rule of another namespace.
    pub async fn wait_for_in(
        &self,
        ns: &str,
        name: &str,
        what: &str,
        check: impl Fn(Option<&ImageSyncRule>) -> bool,
    ) -> Option<ImageSyncRule> {
        let deadline = Instant::now() + Duration::from_secs(wait_secs());
        loop {
            let rule = self
                .rules_in(ns)
                .get_opt(name)
                .await
                .expect("reading the rule");
            if check(rule.as_ref()) {
                return rule;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; rule is now {}",
                serde_json::to_string_pretty(&rule.map(|r| r.status)).unwrap()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the in-process metrics count at least one of series `name` with all of
    /// `labels` (a reconcile is recorded just after its status write, which tests see first).
    pub async fn wait_counted(&self, name: &str, labels: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(wait_secs());
        loop {
            let scraped = crate::metrics::parse(&self.metrics.render());
            if crate::metrics::sum(&scraped, name, labels) >= 1.0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {name}{labels:?}; scraped {scraped:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits for Ready=True with the given summary.
    pub async fn wait_ready(&self, name: &str, summary: &str) -> ImageSyncRule {
        self.wait_for(name, &format!("{name} Ready with {summary:?}"), |r| {
            r.is_some_and(|r| {
                in_sync_now(r)
                    && r.status.as_ref().and_then(|s| s.summary.as_deref()) == Some(summary)
            })
        })
        .await
        .unwrap()
    }

    /// GET an admin endpoint of the emulator.
    pub async fn admin(&self, path: &str) -> Value {
        crate::cloud::Admin::of(&self.emulator)
            .send(reqwest::Method::GET, path, None)
            .await
    }

    /// Sends a JSON body to an admin endpoint.
    pub async fn admin_send(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        crate::cloud::Admin::of(&self.emulator)
            .send(method, path, Some(body))
            .await
    }

    /// The emulator's tasks as (region, org, repo, target region, target org, override, syncAuto).
    pub async fn tasks(&self) -> Vec<(String, String, String, String, String, bool, bool)> {
        let mut out: Vec<_> = self
            .admin("tasks")
            .await
            .as_array()
            .expect("tasks array")
            .iter()
            .map(|t| {
                let s = |k: &str| t[k].as_str().unwrap_or_default().to_string();
                (
                    s("region"),
                    s("namespace"),
                    s("repoName"),
                    s("remoteRegionId"),
                    s("remoteNamespace"),
                    t["override"].as_bool().unwrap_or_default(),
                    t["syncAuto"].as_bool().unwrap_or_default(),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// Calls by (operation, status).
    pub async fn calls(&self) -> BTreeMap<(String, u16), u64> {
        let calls = crate::cloud::Admin::of(&self.emulator).calls().await;
        calls
            .into_iter()
            .map(|((op, status), n)| ((op, status as u16), n))
            .collect()
    }

    /// Calls of one operation, any status.
    pub async fn calls_of(&self, operation: &str) -> u64 {
        self.calls()
            .await
            .iter()
            .filter(|((op, _), _)| op == operation)
            .map(|(_, n)| n)
            .sum()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.kill_operator();
    }
}

/// `Ready` as `status/reason`.
pub fn ready_reason(rule: &ImageSyncRule) -> Option<String> {
    rule.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| format!("{}/{}", c.status, c.reason))
}

/// Ready and in sync, with the status written for the rule's current generation.
pub fn in_sync_now(rule: &ImageSyncRule) -> bool {
    ready_reason(rule).as_deref() == Some("True/InSync")
        && rule.status.as_ref().and_then(|s| s.observed_generation) == rule.metadata.generation
}

/// Both disaster-recovery targets of the embedded emulator config.
pub const BOTH_DR: &[(&str, &str)] = &[
    ("cn-east-3", "platform-dr"),
    ("ap-southeast-1", "platform-dr"),
];
/// The cn-east-3 target alone.
pub const EAST_DR: &[(&str, &str)] = &[("cn-east-3", "platform-dr")];

/// A spec for the embedded emulator's `platform` organization.
pub fn spec(repos: &[&str], targets: &[(&str, &str)]) -> Value {
    json!({
        "source": {"region": "cn-north-4", "organization": "platform", "repositories": repos},
        "targets": targets.iter().map(|(r, o)| json!({"region": r, "organization": o})).collect::<Vec<_>>(),
        "credentialsSecretRef": {"name": "swr-credentials"},
        "resyncInterval": "10s",
    })
}

fn wait_secs() -> u64 {
    std::env::var("SWR_TEST_WAIT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60)
}
